// tests/offsite_test.cc — scheduled off-site copies (issue 15 point 7): the copy
// job of the scheduled service (engine/schedule/schedule_copy.h), its bounded retry
// backoff against a real unreachable remote (rclone's sftp backend aimed at a
// closed port on 127.0.0.1), the staleness error (copy_max_age) with the test
// clock the schedule tests use, `schedule status`, and the [notify] command
// (engine/schedule/schedule_notify.h): a real script that writes its stdin to a file.
// The successful copy of new snapshots needs the copier (snapshot/copier.h):
// that case skips, saying so, until it is in the build.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "tools/demo/demo.h"
#include "engine/stores/layout.h"
#include "engine/schedule/schedule.h"
#include "engine/schedule/schedule_copy.h"
#include "engine/schedule/schedule_jobs.h"
#include "engine/schedule/schedule_notify.h"
#include "snapshot/reader_lock.h"
#include "snapshot/repository.h"
#include "tests/sftp_server.h"
#include "tests/demo_install.h"
#include "tests/support/clock_env.h"
#include "tests/test_util.h"
#include "util/time_util.h"

namespace maestro {
namespace {

using testing::TempDir;

using testing::kHour;
using testing::kMin;
using testing::kSec;
using testing::T;

class OffsiteTest : public testing::UtcClockTest {};

struct Install : testing::DemoInstall {
  explicit Install(int64_t now) : DemoInstall(now, 6, false) {}
};

// A notify command: a script that appends its stdin (one JSON line) to `file`.
std::string NotifyScript(const TempDir& dir, const std::string& file) {
  std::string path = dir.Sub("notify.sh");
  testing::WriteFile(path, "#!/bin/sh\ncat >> '" + file + "'\n");
  ::chmod(path.c_str(), 0755);
  return path;
}

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::string text = testing::ReadFile(path);
  size_t pos = 0, nl;
  while ((nl = text.find('\n', pos)) != std::string::npos) {
    if (nl > pos) out.push_back(nlohmann::json::parse(text.substr(pos, nl - pos), nullptr, false));
    pos = nl + 1;
  }
  return out;
}

std::vector<nlohmann::json> Events(const EventLog& log, const std::string& event, const std::string& job = "") {
  std::vector<nlohmann::json> out;
  for (const auto& l : log.lines())
    if (l.at("event") == event && (job.empty() || (l.contains("job") && l.at("job") == job))) out.push_back(l);
  return out;
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ------------------------------------------------------------------ notify

TEST_F(OffsiteTest, NotifyCommandGetsTheEventAsOneJsonObjectOnStdin) {
  TempDir dir;
  std::string out = dir.Sub("events.jsonl");
  nlohmann::json ev = {{"job", "copy"}, {"outcome", "failed"}, {"message", "remote 'b2' unreachable"},
                       {"time", "2025-03-01T02:30:00Z"}};
  NotifyResult r = RunNotifyCommand(NotifyScript(dir, out), ev, 10000);
  EXPECT_TRUE(r.ok) << r.outcome << r.output;
  auto lines = JsonLines(out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], ev);
}

TEST_F(OffsiteTest, NotifyCommandThatHangsIsKilledAtItsTimeoutAndOneThatFailsIsReported) {
  auto t0 = std::chrono::steady_clock::now();
  NotifyResult hung = RunNotifyCommand("sleep 30; echo never", {{"job", "x"}}, 1000);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(hung.ok);
  EXPECT_NE(hung.outcome.find("timed out"), std::string::npos) << hung.outcome;
  EXPECT_LT(s, 5.0) << "bounded by the timeout";
  // A background child holding the output open does not extend the wait either.
  t0 = std::chrono::steady_clock::now();
  NotifyResult bg = RunNotifyCommand("(sleep 30 &) ; exit 0", {{"job", "x"}}, 1000);
  s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0);
  (void)bg;
  NotifyResult failed = RunNotifyCommand("echo 'smtp: connection refused' >&2; exit 3", {{"job", "x"}}, 5000);
  EXPECT_FALSE(failed.ok);
  EXPECT_EQ(failed.outcome, "exited with status 3");
  EXPECT_NE(failed.output.find("smtp: connection refused"), std::string::npos) << failed.output;
  NotifyResult ignores_stdin = RunNotifyCommand("exit 0", {{"job", "x"}, {"big", std::string(1 << 20, 'x')}}, 5000);
  EXPECT_TRUE(ignores_stdin.ok) << "a command that never reads its stdin cannot block us: " << ignores_stdin.outcome;
}

TEST_F(OffsiteTest, FailingNotifyCommandIsLoggedAndNeverChangesTheJobsOutcome) {
  TempDir dir;
  ManualClockEnv env(Env::Default(), T("2025-03-01T02:00:00Z"));
  EventLog log(&env, nullptr);
  ScheduleConfig cfg;
  cfg.monitor_enabled = false;
  cfg.notify_command = "exit 7";
  Jobs jobs;
  jobs.snapshot = [](JobContext&) { return Status::IoError("disk full (planted)"); };
  Scheduler sched(&env, cfg, jobs, &log, dir.Sub(kScheduleStateFile));
  sched.set_notify(MakeCommandNotifier(cfg, &log));
  ASSERT_TRUE(sched.Start().ok());
  Status st = sched.RunNow(JobKind::kSnapshot);
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  ASSERT_EQ(Events(log, "notify_failed").size(), 1u);
  EXPECT_EQ(Events(log, "notify_failed")[0]["outcome"], "exited with status 7");
  EXPECT_EQ(Events(log, "job_end", "snapshot")[0]["outcome"], "failed");
  EXPECT_EQ(sched.state().snapshot.last_outcome, "failed");
}

// ------------------------------------------------------------------ config

TEST_F(OffsiteTest, CopyRetentionIsTheLocalOneUnlessACopyKeepIsGiven) {
  auto c = Config::Parse("[schedule]\ncopy_to = rclone:b2:bucket/m\nkeep_daily = 5\nkeep_weekly = 2\n", "a.ini");
  ASSERT_TRUE(c.ok());
  auto s = ScheduleConfig::FromConfig(*c);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->copy_keep_daily, 5);
  EXPECT_EQ(s->copy_keep_weekly, 2);
  EXPECT_EQ(s->copy_max_age_s, 48 * 3600);
  c = Config::Parse("[schedule]\ncopy_to = /srv/offsite\ncopy_keep_monthly = 24\ncopy_max_age = 30h\n"
                    "copy_retry_min = 2m\ncopy_retry_max = 20m\n[notify]\ncommand = mail -s x root\ntimeout = 10s\n",
                    "b.ini");
  ASSERT_TRUE(c.ok());
  s = ScheduleConfig::FromConfig(*c);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->copy_keep_daily, 0) << "one copy_keep_* given: the others are 0, not inherited";
  EXPECT_EQ(s->copy_keep_monthly, 24);
  EXPECT_EQ(s->copy_max_age_s, 30 * 3600);
  EXPECT_EQ(s->notify_command, "mail -s x root");
  EXPECT_EQ(s->notify_timeout_s, 10);
  EXPECT_EQ(s->CopyRetryDelaySeconds(1), 120);
  EXPECT_EQ(s->CopyRetryDelaySeconds(2), 240);
  EXPECT_EQ(s->CopyRetryDelaySeconds(50), 1200) << "bounded by copy_retry_max";
  for (const char* bad : {"copy_to = x\ncopy_keep_daily = 0", "copy_retry_min = 10m\ncopy_retry_max = 1m",
                          "copy_max_age = soon"}) {
    auto b = Config::Parse(std::string("[schedule]\n") + bad + "\n", "bad.ini");
    ASSERT_TRUE(b.ok());
    auto r = ScheduleConfig::FromConfig(*b);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("bad.ini"), std::string::npos) << r.status().ToString();
  }
}

TEST_F(OffsiteTest, OnlySnapshotsNewerThanTheTargetsNewestAreCopied) {
  auto info = [](const std::string& id, int64_t t) {
    SnapshotInfo s;
    s.id = id;
    s.created_micros = t;
    return s;
  };
  std::vector<SnapshotInfo> local = {info("c", 30), info("a", 10), info("b", 20)};
  EXPECT_EQ(SnapshotsToCopy(local, {}), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(SnapshotsToCopy(local, {info("b", 20)}), (std::vector<std::string>{"c"}))
      << "a, pruned on the target, is not sent back";
  EXPECT_TRUE(SnapshotsToCopy(local, {info("z", 40)}).empty());
}

// ------------------------------------------------------------------ the job

// The remote is a real rclone sftp remote aimed at a closed port: every
// attempt fails fast with rclone's own words; the retries follow the
// bounded backoff (1, 2, 4, 4 minutes), each failure is logged and notified.
TEST_F(OffsiteTest, UnreachableRemoteCopyIsRetriedWithABoundedBackoffAndEveryFailureNotified) {
  std::string why;
  if (!testing::HaveRclone(&why)) GTEST_SKIP() << why;
  const int64_t t0 = T("2025-03-01T02:29:00Z");
  Install inst(t0);
  int port = ClosedPort();
  setenv("RCLONE_CONFIG_DEAD_TYPE", "sftp", 1);
  setenv("RCLONE_CONFIG_DEAD_HOST", "127.0.0.1", 1);
  setenv("RCLONE_CONFIG_DEAD_PORT", std::to_string(port).c_str(), 1);
  setenv("RCLONE_CONFIG_DEAD_USER", "nobody", 1);
  setenv("MAESTRO_DB_RCLONE_ARGS", "--contimeout 2s --timeout 5s --low-level-retries 1 --retries 1", 1);
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.prune_enabled = false;
  svc.cfg.copy_to = "rclone:dead:offsite/maestro";
  svc.cfg.copy_retry_min_s = 60;
  svc.cfg.copy_retry_max_s = 240;
  const std::string events = inst.dir.Sub("notified.jsonl");
  svc.cfg.notify_command = NotifyScript(inst.dir, events);
  Scheduler& sched = svc.Start(kMin, /*notify=*/true);
  std::atomic<bool> stop{false};
  auto real0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(sched.Run(stop, T("2025-03-01T02:45:30Z")).ok());
  double real_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - real0).count();

  ASSERT_EQ(Events(svc.log, "job_end", "snapshot").size(), 1u);
  auto copies = Events(svc.log, "job_end", "copy");
  ASSERT_EQ(copies.size(), 6u) << "02:30, 02:31, 02:33, 02:37, 02:41, 02:45";
  std::vector<std::string> at;
  for (const auto& c : copies) {
    EXPECT_EQ(c["outcome"], "failed");
    EXPECT_NE(c["error"].get<std::string>().find("rclone:dead:offsite/maestro"), std::string::npos) << c.dump();
    at.push_back(c["ts"].get<std::string>().substr(11, 5));
  }
  EXPECT_EQ(at, (std::vector<std::string>{"02:30", "02:31", "02:33", "02:37", "02:41", "02:45"}));
  EXPECT_EQ(copies.back()["retry"], "in 240s");
  EXPECT_EQ(sched.state().copy.consecutive_failures, 6);
  EXPECT_EQ(sched.state().snapshot.last_outcome, "ok") << "the local snapshot is not affected";

  auto notified = JsonLines(events);
  ASSERT_EQ(notified.size(), 6u);
  for (const auto& n : notified) {
    EXPECT_EQ(n["job"], "copy");
    EXPECT_EQ(n["outcome"], "failed");
    EXPECT_TRUE(n["time"].is_string());
    EXPECT_NE(n["message"].get<std::string>().find("cannot be reached"), std::string::npos) << n.dump();
  }
  EXPECT_EQ(Events(svc.log, "notify").size(), 6u);
  std::cout << "six unreachable-remote attempts took " << real_s << " s of real time\n";
  unsetenv("MAESTRO_DB_RCLONE_ARGS");
}

// copy_max_age with the test clock: the copy never succeeds (its target is
// under a regular file, so it fails at once); once 48 h have passed since the
// service started, the staleness is an "error" line, in every monitor line,
// notified once, and again after another copy_max_age; `schedule status` exits 1.
TEST_F(OffsiteTest, StaleCopyIsAnErrorInTheLogAndTheMonitorAndIsNotifiedOncePerMaxAge) {
  const int64_t t0 = T("2025-03-01T12:00:00Z");
  Install inst(t0);
  testing::WriteFile(inst.dir.Sub("a-file"), "not a folder");
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_interval_s = 6 * 3600;
  svc.cfg.monitor_repair = false;
  svc.cfg.copy_to = inst.dir.Sub("a-file/offsite");
  svc.cfg.copy_retry_min_s = 3600;
  svc.cfg.copy_retry_max_s = 12 * 3600;
  const std::string events = inst.dir.Sub("notified.jsonl");
  svc.cfg.notify_command = NotifyScript(inst.dir, events);
  Scheduler& sched = svc.Start(kHour, /*notify=*/true);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(sched.Run(stop, T("2025-03-03T11:00:00Z")).ok());  // 47 h: not stale yet
  EXPECT_TRUE(Events(svc.log, "error").empty());
  for (const auto& m : Events(svc.log, "job_end", "monitor")) EXPECT_EQ(m["offsite"]["stale"], false) << m.dump();
  ASSERT_TRUE(sched.Run(stop, T("2025-03-04T12:30:00Z")).ok());  // 72.5 h
  auto errors = Events(svc.log, "error");
  ASSERT_EQ(errors.size(), 1u) << "once when it turns stale, not per tick";
  EXPECT_EQ(errors[0]["what"], "copy_stale");
  EXPECT_EQ(errors[0]["ts"].get<std::string>().substr(0, 13), "2025-03-03T12");
  EXPECT_NE(errors[0]["message"].get<std::string>().find("copy_max_age"), std::string::npos);
  auto monitors = Events(svc.log, "job_end", "monitor");
  ASSERT_FALSE(monitors.empty());
  EXPECT_EQ(monitors.back()["offsite"]["stale"], true);
  EXPECT_NE(monitors.back()["offsite_error"].get<std::string>().find("no successful off-site copy"), std::string::npos);
  ASSERT_TRUE(sched.Run(stop, T("2025-03-05T13:00:00Z")).ok());  // another 48 h later: the reminder
  EXPECT_EQ(Events(svc.log, "error").size(), 2u);

  int stale = 0, failed = 0;
  for (const auto& n : JsonLines(events)) {
    if (n["outcome"] == "stale") ++stale;
    if (n["outcome"] == "failed") ++failed;
    EXPECT_EQ(n["job"], "copy") << n.dump();
  }
  EXPECT_EQ(stale, 2);
  EXPECT_EQ(failed, static_cast<int>(Events(svc.log, "job_end", "copy").size()));
  EXPECT_GE(failed, 4) << "one night's backoff: 1h, 2h, 4h, 8h, then every 12h";

  // The status command, on the same clock: stale, exit 1, the error on stderr.
  testing::WriteFile(inst.dir.Sub("s.ini"), "[schedule]\ncopy_to = " + svc.cfg.copy_to + "\n");
  auto st = testing::RunCli({"--root", inst.root, "--config", inst.dir.Sub("s.ini"), "--json", "schedule", "status",
                             "--as-of", "2025-03-05T13:00:00Z"});
  EXPECT_EQ(st.exit_code, 1) << st.err;
  auto j = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << st.out;
  EXPECT_EQ(j["offsite"]["stale"], true);
  EXPECT_GT(j["copy"]["consecutive_failures"].get<int>(), 0);
}

// A reachable remote (the real sshd) whose repository already holds a
// snapshot newer than every local one: the copy has nothing to send, succeeds,
// and records the newest off-site snapshot; `schedule status` shows its age.
TEST_F(OffsiteTest, SuccessfulCopyRecordsTheNewestOffsiteSnapshotAndStatusShowsItsAge) {
  TempDir ssh;
  std::string skip;
  auto server = testing::SftpServer::Start(ssh.path(), false, &skip);
  if (!server) GTEST_SKIP() << "no SFTP server: " << skip;
  const int64_t t0 = Env::Default()->NowMicros() - 60 * kSec;
  Install inst(t0);
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.copy_prune = false;
  const std::string served = inst.dir.Sub("served/repo");
  svc.cfg.copy_to = "rclone:t:" + served;
  for (const auto& kv : server->RcloneEnv("t")) {
    auto eq = kv.find('=');
    setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  Scheduler& sched = svc.Start();
  ASSERT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  auto made = testing::RunCli({"--root", inst.root, "--repo", served, "--json", "snap", "create"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto made_j = nlohmann::json::parse(made.out, nullptr, false);
  const int64_t newest = made_j["created_micros"].get<int64_t>();

  Status st = sched.RunNow(JobKind::kCopy);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto end = Events(svc.log, "job_end", "copy");
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0]["to_copy"], 0);
  EXPECT_EQ(end[0]["target_snapshots"], 1);
  ASSERT_TRUE(sched.state().offsite_newest.has_value());
  EXPECT_EQ(*sched.state().offsite_newest, newest);

  testing::WriteFile(inst.dir.Sub("s.ini"), "[schedule]\ncopy_to = " + svc.cfg.copy_to + "\n");
  const std::string as_of = FormatIso8601(newest + 2 * kHour);
  auto status = testing::RunCli({"--root", inst.root, "--config", inst.dir.Sub("s.ini"), "--json", "schedule", "status",
                                 "--as-of", as_of});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  auto j = nlohmann::json::parse(status.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << status.out;
  EXPECT_EQ(j["offsite"]["stale"], false);
  EXPECT_NEAR(j["offsite"]["newest_age_s"].get<double>(), 7200, 1);
  auto text = testing::RunCli({"--root", inst.root, "--config", inst.dir.Sub("s.ini"), "schedule", "status"});
  EXPECT_NE(text.out.find("off-site: rclone:t:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("newest snapshot there " + FormatIso8601(newest)), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" old)"), std::string::npos) << text.out;
}

// The copy itself: new local snapshots arrive on a local target with their
// ids, and the target is pruned with its own retention. Needs the copier.
TEST_F(OffsiteTest, CopyJobSendsTheNewSnapshotsToTheTargetWithTheirIds) {
  const int64_t t0 = T("2025-03-01T02:00:00Z");
  Install inst(t0);
  Layout layout = inst.layout();
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.prune_enabled = false;  // both local snapshots stay; the target keeps one
  svc.cfg.copy_to = inst.dir.Sub("offsite");
  svc.cfg.copy_keep_last = 1;
  Scheduler& sched = svc.Start();
  ASSERT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  svc.env.Advance(kHour);
  ASSERT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  Status st = sched.RunNow(JobKind::kCopy);
  if (!st.ok() && st.message().find("no snapshot copier yet") != std::string::npos)
    GTEST_SKIP() << "snapshot/copier.h is not implemented in this build: " << st.ToString();
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto target = Repository::Open(Env::Default(), svc.cfg.copy_to, false);
  ASSERT_TRUE(target.ok());
  auto listed = (*target)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u) << "copy_keep_last 1 on the target";
  auto local = Repository::Open(Env::Default(), layout.repo(), false);
  auto mine = (*local)->List();
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*listed)[0].id, mine->back().id) << "the same id as here";
  EXPECT_EQ(*sched.state().offsite_newest, mine->back().created_micros);
  ASSERT_TRUE(sched.RunNow(JobKind::kCopy).ok());
  EXPECT_EQ(Events(svc.log, "job_end", "copy").back()["to_copy"], 0) << "nothing new: nothing sent";
}

// copy_to inside a store (as snap copy --to there): the job fails naming
// both paths and makes nothing there; a reset would trash such a copy.
TEST_F(OffsiteTest, CopyJobToAFolderInsideAStoreFailsAndMakesNothingThere) {
  const int64_t t0 = T("2025-03-01T02:00:00Z");
  Install inst(t0);
  Layout layout = inst.layout();
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.prune_enabled = false;
  svc.cfg.copy_to = layout.store(StoreId::kPdfs).path + "/offsite";
  Scheduler& sched = svc.Start();
  ASSERT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  Status st = sched.RunNow(JobKind::kCopy);
  EXPECT_EQ(st.code(), Status::Code::kBadStore) << st.ToString();
  EXPECT_NE(st.message().find(svc.cfg.copy_to), std::string::npos) << st.ToString();
  EXPECT_FALSE(Env::Default()->FileExists(svc.cfg.copy_to)) << "a repository was made inside the PDFs store";
}

TEST_F(OffsiteTest, CopyJobDoesNotReadTheLocalRepositoryWhileAGarbageCollectionRunsThere) {
  const int64_t t0 = T("2025-03-01T02:00:00Z");
  Install inst(t0);
  Layout layout = inst.layout();
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.prune_enabled = false;
  svc.cfg.lock_wait_s = 0;
  svc.cfg.copy_to = inst.dir.Sub("offsite");
  svc.cfg.copy_keep_last = 1;
  Scheduler& sched = svc.Start();
  ASSERT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  {
    // What a `snap prune` from the command line holds while it collects.
    auto gc = ReaderLock::Exclusive(Env::Default(), layout.repo());
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    Status busy = sched.RunNow(JobKind::kCopy);
    EXPECT_TRUE(busy.IsBusy()) << busy.ToString();
    auto target = Repository::Open(Env::Default(), svc.cfg.copy_to, false);
    if (target.ok()) {
      auto listed = (*target)->List();
      ASSERT_TRUE(listed.ok());
      EXPECT_TRUE(listed->empty()) << "copied while the source was being collected";
    }
  }
  Status st = sched.RunNow(JobKind::kCopy);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto target = Repository::Open(Env::Default(), svc.cfg.copy_to, false);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ((*target)->List()->size(), 1u);
}

// The scheduled drill restores the latest snapshot into scratch: a pack a
// prune's collection removed under it would be reported, and notified, as a
// damaged snapshot. It takes the readers' lock: skipped (Busy, retried) while
// a collection runs, and the collection skips while it reads.
TEST_F(OffsiteTest, DrillJobDoesNotReadTheRepositoryWhileAGarbageCollectionRunsThere) {
  const int64_t t0 = T("2025-03-01T02:00:00Z");
  Install inst(t0);
  Layout layout = inst.layout();
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.prune_enabled = false;
  svc.cfg.drill_enabled = true;
  svc.cfg.drill_scratch = inst.dir.Sub("drill-scratch");
  ASSERT_TRUE(Env::Default()->CreateDirs(svc.cfg.drill_scratch).ok());
  svc.cfg.lock_wait_s = 0;
  Scheduler& sched = svc.Start();
  ASSERT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  {
    auto gc = ReaderLock::Exclusive(Env::Default(), layout.repo());  // a `snap prune` collecting
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    Status busy = sched.RunNow(JobKind::kDrill);
    EXPECT_TRUE(busy.IsBusy()) << busy.ToString();
  }
  Status st = sched.RunNow(JobKind::kDrill);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

}  // namespace
}  // namespace maestro
