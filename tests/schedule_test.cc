// tests/schedule_test.cc — the scheduled service (engine/schedule/schedule.h) on a
// manual clock with fake jobs, then the real jobs on a manual clock, and the CLI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <thread>

#include "engine/stores/check.h"
#include "tools/demo/demo.h"
#include "engine/txn/recover.h"
#include "engine/schedule/schedule.h"
#include "engine/schedule/schedule_jobs.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "tests/demo_install.h"
#include "tests/support/clock_env.h"
#include "tests/test_util.h"
#include "util/time_util.h"

namespace maestro {
namespace {

using testing::TempDir;

using testing::kDay;
using testing::kHour;
using testing::kMin;
using testing::kSec;
using testing::T;

class ScheduleTest : public testing::UtcClockTest {};

// Fake jobs that record when they ran and can be told to fail.
struct FakeJobs {
  std::vector<int64_t> snapshots, prunes, monitors;
  int recovers = 0;
  int snapshot_failures_left = 0;
  int recover_failures_left = 0;
  bool snapshot_busy = false;
  std::atomic<bool>* stop_during_snapshot = nullptr;

  Jobs Make() {
    Jobs j;
    j.recover = [this](JobContext&) {
      ++recovers;
      if (recover_failures_left > 0) {
        --recover_failures_left;
        return Status::IoError("journal unreadable (planted)");
      }
      return Status::OK();
    };
    j.snapshot = [this](JobContext& ctx) {
      if (snapshot_busy) return Status::Busy("repository locked by another maestro-db (planted)");
      if (stop_during_snapshot) *stop_during_snapshot = true;  // the "signal" arrives mid-job
      if (snapshot_failures_left > 0) {
        --snapshot_failures_left;
        return Status::IoError("disk full (planted)");
      }
      snapshots.push_back(ctx.started_micros);
      ctx.details["snapshot_id"] = "fake";
      return Status::OK();
    };
    j.prune = [this](JobContext& ctx) {
      prunes.push_back(ctx.started_micros);
      return Status::OK();
    };
    j.monitor = [this](JobContext& ctx) {
      monitors.push_back(ctx.started_micros);
      ctx.details["issues_found"] = 0;
      return Status::OK();
    };
    return j;
  }
};

int CountEvents(const EventLog& log, const std::string& event, const std::string& job = "",
                const std::string& outcome = "") {
  int n = 0;
  for (const auto& l : log.lines()) {
    if (l.at("event") != event) continue;
    if (!job.empty() && (!l.contains("job") || l.at("job") != job)) continue;
    if (!outcome.empty() && (!l.contains("outcome") || l.at("outcome") != outcome)) continue;
    ++n;
  }
  return n;
}

struct Harness {
  TempDir dir;
  ManualClockEnv env;
  EventLog log;
  ScheduleConfig config;
  FakeJobs fake;
  std::unique_ptr<Scheduler> sched;
  std::atomic<bool> stop{false};

  explicit Harness(int64_t now) : env(Env::Default(), now), log(&env, nullptr) { config.monitor_enabled = false; }
  std::string state_path() const { return dir.Sub(kScheduleStateFile); }
  Scheduler& Start() {
    sched = std::make_unique<Scheduler>(&env, config, fake.Make(), &log, state_path());
    sched->set_sleep_slice_micros(config.tick_s * kSec);
    EXPECT_TRUE(sched->Start().ok());
    return *sched;
  }
  void RunUntil(int64_t t) { EXPECT_TRUE(sched->Run(stop, t).ok()); }
};

TEST_F(ScheduleTest, SlotsAreTheConfiguredLocalTimeOfEachDay) {
  EXPECT_EQ(LatestSlotAtOrBefore(T("2025-03-10T02:29:59Z"), 2, 30), T("2025-03-09T02:30:00Z"));
  EXPECT_EQ(LatestSlotAtOrBefore(T("2025-03-10T02:30:00Z"), 2, 30), T("2025-03-10T02:30:00Z"));
  EXPECT_EQ(NextSlotAfter(T("2025-03-10T02:30:00Z"), 2, 30), T("2025-03-11T02:30:00Z"));
  EXPECT_EQ(NextSlotAfter(T("2025-03-31T23:00:00Z"), 2, 30), T("2025-04-01T02:30:00Z"));
  setenv("TZ", "CET-1", 1);  // UTC+1, no DST: 02:30 local is 01:30 UTC
  tzset();
  EXPECT_EQ(NextSlotAfter(T("2025-03-10T00:00:00Z"), 2, 30), T("2025-03-10T01:30:00Z"));
}

TEST_F(ScheduleTest, ConfigDefaultsMatchTheDocumentedOnes) {
  auto c = ScheduleConfig::FromConfig(Config());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->snapshot_hour, 2);
  EXPECT_EQ(c->snapshot_minute, 30);
  EXPECT_EQ(c->keep_daily, 7);
  EXPECT_EQ(c->keep_weekly, 4);
  EXPECT_EQ(c->keep_monthly, 6);
  EXPECT_EQ(c->monitor_interval_s, 3600);
  EXPECT_TRUE(c->monitor_enabled);
  EXPECT_TRUE(c->monitor_repair);
  EXPECT_EQ(c->failed_stale_after_s, 24 * 3600);
  EXPECT_EQ(c->stuck_processing_after_s, 2 * 3600);
}

TEST_F(ScheduleTest, ConfigReadsEveryKeyAndRejectsBadValuesNamingTheKey) {
  auto cfg = Config::Parse(
      "[schedule]\nsnapshot_time = 23:05\nmonitor_interval = 15\nkeep_daily = 3\nmonitor_repair = off\n"
      "lock_wait = 0\nlog = /tmp/x.log\n",
      "test.ini");
  ASSERT_TRUE(cfg.ok());
  auto c = ScheduleConfig::FromConfig(*cfg);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->snapshot_hour, 23);
  EXPECT_EQ(c->snapshot_minute, 5);
  EXPECT_EQ(c->monitor_interval_s, 15 * 60);
  EXPECT_EQ(c->keep_daily, 3);
  EXPECT_FALSE(c->monitor_repair);
  EXPECT_EQ(c->lock_wait_s, 0);
  EXPECT_EQ(c->log_path, "/tmp/x.log");

  for (const char* bad : {"snapshot_time = 25:00", "monitor_interval = soon", "keep_daily = -1",
                          "monitor = maybe", "lock_wait = forever"}) {
    auto b = Config::Parse(std::string("[schedule]\n") + bad + "\n", "bad.ini");
    ASSERT_TRUE(b.ok());
    auto r = ScheduleConfig::FromConfig(*b);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    std::string key = std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

TEST_F(ScheduleTest, NightlySnapshotRunsAtTheSetTimeFollowedByPrune) {
  Harness h(T("2025-03-10T01:00:00Z"));
  h.Start();
  h.RunUntil(T("2025-03-10T02:29:00Z"));
  EXPECT_TRUE(h.fake.snapshots.empty());
  h.RunUntil(T("2025-03-10T02:45:00Z"));
  ASSERT_EQ(h.fake.snapshots.size(), 1u);
  EXPECT_EQ(h.fake.snapshots[0], T("2025-03-10T02:30:00Z"));
  ASSERT_EQ(h.fake.prunes.size(), 1u);
  EXPECT_GE(h.fake.prunes[0], h.fake.snapshots[0]);
  // Three more nights: one snapshot each.
  h.RunUntil(T("2025-03-13T03:00:00Z"));
  EXPECT_EQ(h.fake.snapshots.size(), 4u);
  EXPECT_EQ(h.fake.prunes.size(), 4u);
  EXPECT_EQ(h.fake.snapshots[3], T("2025-03-13T02:30:00Z"));
  EXPECT_EQ(CountEvents(h.log, "job_end", "snapshot", "ok"), 4);
}

TEST_F(ScheduleTest, MonitorRunsOnItsInterval) {
  Harness h(T("2025-03-10T10:00:00Z"));
  h.config.monitor_enabled = true;
  h.config.monitor_interval_s = 15 * 60;
  h.config.snapshot_enabled = false;
  h.Start();
  h.RunUntil(T("2025-03-10T11:00:01Z"));
  // At start (nothing ran before), then every 15 minutes.
  ASSERT_EQ(h.fake.monitors.size(), 5u);
  for (size_t i = 0; i < h.fake.monitors.size(); ++i)
    EXPECT_EQ(h.fake.monitors[i], T("2025-03-10T10:00:00Z") + static_cast<int64_t>(i) * 15 * kMin);
}

TEST_F(ScheduleTest, MissedNightsAreCaughtUpOnceAtStartNotOncePerNight) {
  Harness h(T("2025-03-01T00:00:00Z"));
  h.Start();
  h.RunUntil(T("2025-03-01T03:00:00Z"));
  ASSERT_EQ(h.fake.snapshots.size(), 1u);
  // The service is down for four nights, then starts again at noon.
  h.env.Set(T("2025-03-05T12:00:00Z"));
  h.Start();
  EXPECT_TRUE(h.sched->snapshot_due(h.env.NowMicros()));
  h.RunUntil(T("2025-03-06T02:00:00Z"));
  ASSERT_EQ(h.fake.snapshots.size(), 2u);
  EXPECT_EQ(h.fake.snapshots[1], T("2025-03-05T12:00:00Z"));
  // The next one is at the regular slot.
  h.RunUntil(T("2025-03-06T03:00:00Z"));
  ASSERT_EQ(h.fake.snapshots.size(), 3u);
  EXPECT_EQ(h.fake.snapshots[2], T("2025-03-06T02:30:00Z"));
}

TEST_F(ScheduleTest, FirstStartDoesNotCatchUpSlotsBeforeTheServiceExisted) {
  Harness h(T("2025-03-10T12:00:00Z"));
  h.Start();
  EXPECT_FALSE(h.sched->snapshot_due(h.env.NowMicros()));
  h.RunUntil(T("2025-03-11T02:00:00Z"));
  EXPECT_TRUE(h.fake.snapshots.empty());
}

TEST_F(ScheduleTest, RestartAfterTodaysSnapshotDoesNotRepeatIt) {
  Harness h(T("2025-03-10T02:00:00Z"));
  h.Start();
  h.RunUntil(T("2025-03-10T03:00:00Z"));
  ASSERT_EQ(h.fake.snapshots.size(), 1u);
  h.Start();  // a new Scheduler reads the state file
  ASSERT_TRUE(h.sched->state().snapshot.last_success.has_value());
  h.RunUntil(T("2025-03-10T23:00:00Z"));
  EXPECT_EQ(h.fake.snapshots.size(), 1u);
  EXPECT_EQ(h.fake.prunes.size(), 1u);
}

TEST_F(ScheduleTest, FailingJobIsRetriedAtTheNextTickWithoutStoppingTheService) {
  Harness h(T("2025-03-10T02:00:00Z"));
  h.config.tick_s = 60;
  h.fake.snapshot_failures_left = 2;
  h.Start();
  h.RunUntil(T("2025-03-10T02:40:00Z"));
  ASSERT_EQ(h.fake.snapshots.size(), 1u);
  EXPECT_EQ(h.fake.snapshots[0], T("2025-03-10T02:32:00Z"));  // 02:30 and 02:31 failed
  EXPECT_EQ(CountEvents(h.log, "job_end", "snapshot", "failed"), 2);
  EXPECT_EQ(h.sched->state().snapshot.consecutive_failures, 0);
  for (const auto& l : h.log.lines())
    if (l.at("event") == "job_end" && l.at("outcome") == "failed") {
      EXPECT_NE(l.at("error").get<std::string>().find("disk full"), std::string::npos);
      EXPECT_TRUE(l.contains("duration_ms"));
    }
}

TEST_F(ScheduleTest, JobThatFindsTheRepositoryLockedIsLoggedAsSkippedAndRetried) {
  Harness h(T("2025-03-10T02:29:00Z"));
  h.fake.snapshot_busy = true;
  h.Start();
  h.RunUntil(T("2025-03-10T02:33:30Z"));
  EXPECT_EQ(CountEvents(h.log, "job_end", "snapshot", "skipped"), 4);
  h.fake.snapshot_busy = false;
  h.RunUntil(T("2025-03-10T02:35:00Z"));
  EXPECT_EQ(h.fake.snapshots.size(), 1u);
  EXPECT_EQ(h.sched->state().snapshot.last_outcome, "ok");
}

TEST_F(ScheduleTest, UnfinishedTransactionIsRecoveredBeforeAnyOtherJob) {
  Harness h(T("2025-03-10T02:29:00Z"));
  h.config.monitor_enabled = true;
  h.fake.recover_failures_left = 3;
  h.Start();  // first recover attempt fails
  EXPECT_FALSE(h.sched->recovered());
  h.RunUntil(T("2025-03-10T02:31:30Z"));
  // Attempts at 02:29 (start), 02:29 (loop), 02:30, 02:31 -> the 4th succeeds.
  EXPECT_TRUE(h.sched->recovered());
  EXPECT_EQ(h.fake.recovers, 4);
  ASSERT_FALSE(h.fake.monitors.empty());
  EXPECT_EQ(h.fake.monitors[0], T("2025-03-10T02:31:00Z"));
  std::vector<std::string> order;
  for (const auto& l : h.log.lines())
    if (l.at("event") == "job_end" && l.at("outcome") == "ok") order.push_back(l.at("job"));
  ASSERT_GE(order.size(), 2u);
  EXPECT_EQ(order[0], "recover");
  EXPECT_GE(CountEvents(h.log, "jobs_held"), 1);
}

TEST_F(ScheduleTest, StopDuringAJobLetsItFinishThenExitsWithoutStartingMore) {
  Harness h(T("2025-03-10T02:29:00Z"));
  h.config.monitor_enabled = true;
  h.Start();
  h.fake.monitors.clear();
  h.fake.stop_during_snapshot = &h.stop;
  h.RunUntil(T("2025-03-12T00:00:00Z"));  // returns early: stop was set during the snapshot
  EXPECT_EQ(h.fake.snapshots.size(), 1u);
  EXPECT_TRUE(h.fake.prunes.empty());  // not started after the signal; due at the next start
  EXPECT_LT(h.env.NowMicros(), T("2025-03-10T02:31:00Z"));
  EXPECT_EQ(CountEvents(h.log, "stop"), 1);
  EXPECT_TRUE(h.sched->prune_due());
  // The state on disk has the finished snapshot.
  h.fake.stop_during_snapshot = nullptr;
  h.stop = false;
  h.Start();
  EXPECT_TRUE(h.sched->state().snapshot.last_success.has_value());
  EXPECT_TRUE(h.sched->prune_due());
}

TEST_F(ScheduleTest, DamagedStateFileIsLoggedAndReplaced) {
  Harness h(T("2025-03-10T02:00:00Z"));
  testing::WriteFile(h.state_path(), "{not json");
  h.Start();
  EXPECT_EQ(CountEvents(h.log, "state_reset"), 1);
  h.RunUntil(T("2025-03-10T03:00:00Z"));
  EXPECT_EQ(h.fake.snapshots.size(), 1u);
  std::string text = testing::ReadFile(h.state_path());
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.at("version"), 1);
  EXPECT_TRUE(j.at("snapshot").at("last_success").is_number_integer());
}

TEST_F(ScheduleTest, RunNowForcesOneJobAndRecordsIt) {
  Harness h(T("2025-03-10T12:00:00Z"));
  h.Start();
  ASSERT_TRUE(h.sched->RunNow(JobKind::kSnapshot).ok());
  EXPECT_EQ(h.fake.snapshots.size(), 1u);
  EXPECT_EQ(h.fake.prunes.size(), 1u);
  h.config.monitor_enabled = true;
  h.Start();
  ASSERT_TRUE(h.sched->RunNow(JobKind::kMonitor).ok());
  EXPECT_EQ(h.fake.monitors.size(), 1u);
  EXPECT_TRUE(h.sched->state().monitor.last_success.has_value());
}

TEST_F(ScheduleTest, EveryLogLineIsOneJsonObjectWithTimeAndEvent) {
  TempDir dir;
  ManualClockEnv env(Env::Default(), T("2025-03-10T02:30:00Z"));
  std::string path = dir.Sub("schedule.log");
  {
    auto log = EventLog::OpenFile(&env, path);
    ASSERT_TRUE(log.ok());
    (*log)->Emit("start", {{"x", 1}});
    (*log)->Emit("job_end", {{"job", "snapshot"}, {"outcome", "ok"}});
  }
  std::string text = testing::ReadFile(path);
  size_t lines = 0, pos = 0, nl;
  while ((nl = text.find('\n', pos)) != std::string::npos) {
    auto j = nlohmann::json::parse(text.substr(pos, nl - pos));
    EXPECT_EQ(j.at("ts"), "2025-03-10T02:30:00Z");
    EXPECT_TRUE(j.at("event").is_string());
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 2u);
}

// ---------------------------------------------------------------------------
// The real jobs (engine/schedule/schedule_jobs.h) on a demo install.

struct Install : testing::DemoInstall {
  Install(int64_t now, bool inconsistent) : DemoInstall(now, 12, inconsistent) {}
};

int CountKinds(const CheckReport& r, std::initializer_list<IssueKind> kinds) {
  int n = 0;
  for (const auto& i : r.issues)
    for (IssueKind k : kinds)
      if (i.kind == k) ++n;
  return n;
}

TEST_F(ScheduleTest, RealServiceTakesTheNightlySnapshotAndPrunesToTheRetention) {
  const int64_t t0 = T("2025-03-01T01:00:00Z");
  Install inst(t0, /*inconsistent=*/false);
  testing::DemoService svc(inst, t0);
  svc.cfg.monitor_enabled = false;
  svc.cfg.keep_daily = 3;
  svc.cfg.keep_weekly = 0;
  svc.cfg.keep_monthly = 0;
  Scheduler& sched = svc.Start(kHour);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(sched.Run(stop, T("2025-03-01T02:29:00Z")).ok());
  EXPECT_TRUE(inst.Snapshots().empty());
  ASSERT_TRUE(sched.Run(stop, T("2025-03-06T03:00:00Z")).ok());
  EXPECT_EQ(CountEvents(svc.log, "job_end", "snapshot", "ok"), 6);
  EXPECT_EQ(CountEvents(svc.log, "job_end", "prune", "ok"), 6);
  // keep_daily 3: the snapshots of the last three nights remain, all scheduled.
  auto snaps = inst.Snapshots();
  ASSERT_EQ(snaps.size(), 3u);
  EXPECT_EQ(snaps[0].created_micros, T("2025-03-04T02:30:00Z"));
  EXPECT_EQ(snaps[2].created_micros, T("2025-03-06T02:30:00Z"));
  for (const auto& s : snaps) {
    EXPECT_EQ(s.trigger, "scheduled");
    EXPECT_EQ(s.label, "nightly");
  }
}

TEST_F(ScheduleTest, RealMonitorRepairsPlantedOrphansOnItsInterval) {
  const int64_t t0 = T("2025-03-01T12:00:00Z");
  Install inst(t0, /*inconsistent=*/true);
  Layout layout = inst.layout();
  auto before = RunCheck(layout, CheckOptions{std::nullopt, "", t0});
  ASSERT_TRUE(before.ok());
  const std::initializer_list<IssueKind> repaired = {IssueKind::kAiOrphan, IssueKind::kVectorOrphan,
                                                     IssueKind::kFileOrphan, IssueKind::kFilesOnly,
                                                     IssueKind::kFailedStaleWithLeftovers, IssueKind::kStuckProcessing};
  ASSERT_GE(CountKinds(*before, {IssueKind::kAiOrphan, IssueKind::kVectorOrphan}), 2);

  testing::DemoService svc(inst, t0);
  svc.cfg.snapshot_enabled = false;
  svc.cfg.monitor_interval_s = 30 * 60;
  Scheduler& sched = svc.Start(kHour);
  std::atomic<bool> stop{false};
  ASSERT_TRUE(sched.Run(stop, t0 + 61 * kMin).ok());
  EXPECT_EQ(CountEvents(svc.log, "job_end", "monitor", "ok"), 3);  // t0, +30m, +60m
  EXPECT_EQ(CountEvents(svc.log, "issues_repaired"), 1);           // the later runs find nothing to repair
  // The service deletes the repair's trash itself (no CLI starts a purge for it).
  EXPECT_EQ(CountEvents(svc.log, "trash_purged"), 1);
  EXPECT_TRUE(FindTrash(Env::Default(), layout).empty());

  auto after = RunCheck(layout, CheckOptions{std::nullopt, "", t0 + 61 * kMin});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(CountKinds(*after, repaired), 0);
  auto open = FindUnfinishedTransaction(layout, Env::Default());
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());
  // The repair took its pre-cleanup snapshot first.
  auto snaps = inst.Snapshots();
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].trigger, "pre-cleanup");
}

TEST_F(ScheduleTest, MonitorWithRepairOffOnlyReports) {
  const int64_t t0 = T("2025-03-01T12:00:00Z");
  Install inst(t0, /*inconsistent=*/true);
  auto digest = testing::TreeDigest(inst.root + "/ai_researcher");
  testing::DemoService svc(inst, t0);
  svc.cfg.snapshot_enabled = false;
  svc.cfg.monitor_repair = false;
  Scheduler& sched = svc.Start();
  ASSERT_TRUE(sched.RunNow(JobKind::kMonitor).ok());
  EXPECT_EQ(CountEvents(svc.log, "issues_found"), 1);
  EXPECT_EQ(CountEvents(svc.log, "issues_repaired"), 0);
  EXPECT_EQ(testing::TreeDigest(inst.root + "/ai_researcher"), digest);
}

TEST_F(ScheduleTest, JobWaitsForAManualCommandsLockThenSkipsAndLogsWhich) {
  const int64_t t0 = T("2025-03-01T12:00:00Z");
  Install inst(t0, false);
  Layout layout = inst.layout();
  ManualClockEnv env(Env::Default(), t0);
  ASSERT_TRUE(PrepareScheduleRepository(&env, layout).ok());
  auto manual = RepoLock::Acquire(Env::Default(), layout.repo());  // e.g. `snap create` running
  ASSERT_TRUE(manual.ok());
  EventLog log(&env, nullptr);
  ScheduleConfig cfg;
  cfg.lock_wait_s = 0;
  {
    Scheduler sched(&env, cfg, MakeScheduleJobs(layout), &log, JoinPath(layout.repo(), kScheduleStateFile));
    ASSERT_TRUE(sched.Start().ok());
    Status st = sched.RunNow(JobKind::kSnapshot);
    EXPECT_TRUE(st.IsBusy()) << st.ToString();
    EXPECT_EQ(sched.state().snapshot.last_outcome, "skipped");
  }
  cfg.lock_wait_s = 120;
  {
    Scheduler sched(&env, cfg, MakeScheduleJobs(layout), &log, JoinPath(layout.repo(), kScheduleStateFile));
    ASSERT_TRUE(sched.Start().ok());
    int64_t before = env.NowMicros();
    EXPECT_TRUE(sched.RunNow(JobKind::kSnapshot).IsBusy());
    EXPECT_GE(env.NowMicros() - before, 120 * kSec);  // it did wait lock_wait
  }
  std::vector<std::string> actions;
  for (const auto& l : log.lines())
    if (l.at("event") == "lock_busy") actions.push_back(l.at("action"));
  EXPECT_EQ(actions, (std::vector<std::string>{"skip", "wait", "skip"}));
  EXPECT_EQ(CountEvents(log, "job_end", "snapshot", "skipped"), 2);
  EXPECT_TRUE(inst.Snapshots().empty());
  // Once the manual command is done, the job goes through.
  ASSERT_TRUE((*manual)->Release().ok());
  Scheduler sched(&env, cfg, MakeScheduleJobs(layout), &log, JoinPath(layout.repo(), kScheduleStateFile));
  ASSERT_TRUE(sched.Start().ok());
  EXPECT_TRUE(sched.RunNow(JobKind::kSnapshot).ok());
  EXPECT_EQ(inst.Snapshots().size(), 1u);
}

TEST_F(ScheduleTest, UnfinishedCleanupFoundAtStartIsRecoveredFirstAndLogged) {
  const int64_t t0 = T("2025-03-01T12:00:00Z");
  Install inst(t0, true);
  Layout layout = inst.layout();
  // A manual cleanup dies after its first step intent: the journal holds an unfinished transaction.
  auto crashed = testing::RunCli({"--root", inst.root, "cleanup", "--all", "--yes"},
                                 {"MAESTRO_DB_CRASH_AT=txn.after_intent"});
  ASSERT_EQ(crashed.exit_code, -SIGKILL) << crashed.err;
  auto open = FindUnfinishedTransaction(layout, Env::Default());
  ASSERT_TRUE(open.ok());
  ASSERT_TRUE(open->has_value());

  ManualClockEnv env(Env::Default(), t0);
  EventLog log(&env, nullptr);
  ScheduleConfig cfg;
  cfg.snapshot_enabled = false;
  Scheduler sched(&env, cfg, MakeScheduleJobs(layout), &log, JoinPath(layout.repo(), kScheduleStateFile));
  ASSERT_TRUE(sched.Start().ok());
  EXPECT_TRUE(sched.recovered());
  EXPECT_EQ(CountEvents(log, "unfinished_transaction"), 1);
  EXPECT_EQ(CountEvents(log, "job_end", "recover", "ok"), 1);
  open = FindUnfinishedTransaction(layout, Env::Default());
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());
  // Rolled back (no commit record): the planted issues are still there for the monitor.
  ASSERT_TRUE(sched.RunDue().ok());
  EXPECT_EQ(CountEvents(log, "issues_repaired"), 1);
}

// ---------------------------------------------------------------------------
// The CLI: `schedule run --once/--now`, a compressed clock, SIGTERM, install.

std::string WriteConfig(const TempDir& dir, const std::string& body) {
  std::string path = dir.Sub("maestro-db.ini");
  testing::WriteFile(path, "[schedule]\n" + body);
  return path;
}

std::vector<nlohmann::json> LogLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

// Not json::value(): its inlined get() trips GCC's -Wnull-dereference.
std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int CountLines(const std::vector<nlohmann::json>& lines, const std::string& event, const std::string& job = "",
               const std::string& outcome = "") {
  int n = 0;
  for (const auto& l : lines)
    if (Str(l, "event") == event && (job.empty() || Str(l, "job") == job) &&
        (outcome.empty() || Str(l, "outcome") == outcome))
      ++n;
  return n;
}

// What `schedule run --once` does (cli/schedule_cmd.cc), on a clock the test sets:
// the service's time comes from the Env it is given, not from a config key.
void RunOnceAt(const Install& inst, int64_t now, const ScheduleConfig& cfg, const std::string& log_path) {
  ManualClockEnv env(Env::Default(), now);
  Layout layout = inst.layout();
  ASSERT_TRUE(PrepareScheduleRepository(&env, layout).ok());
  auto log = EventLog::OpenFile(&env, log_path);
  ASSERT_TRUE(log.ok());
  Scheduler sched(&env, cfg, MakeScheduleJobs(layout), log->get(), JoinPath(layout.repo(), kScheduleStateFile));
  ASSERT_TRUE(sched.Start().ok());
  Status st = sched.RunDue(nullptr);
  EXPECT_TRUE(st.ok()) << st.ToString();
  (*log)->Emit("exit", {{"outcome", st.ok() ? "ok" : "failed"}});
}

TEST_F(ScheduleTest, OnceCatchesUpOneMissedNightThenNothingIsDue) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  std::string log = inst.dir.Sub("schedule.log");
  ScheduleConfig cfg;
  cfg.monitor_enabled = false;
  RunOnceAt(inst, T("2025-03-01T12:00:00Z"), cfg, log);  // first start: no slot of the past is "missed"
  EXPECT_TRUE(inst.Snapshots().empty());
  RunOnceAt(inst, T("2025-03-05T12:00:00Z"), cfg, log);  // four nights missed: one catch-up run
  ASSERT_EQ(inst.Snapshots().size(), 1u);
  EXPECT_EQ(inst.Snapshots()[0].trigger, "scheduled");
  RunOnceAt(inst, T("2025-03-05T13:00:00Z"), cfg, log);  // nothing due until 02:30 tomorrow
  EXPECT_EQ(inst.Snapshots().size(), 1u);
  RunOnceAt(inst, T("2025-03-06T02:31:00Z"), cfg, log);
  EXPECT_EQ(inst.Snapshots().size(), 2u);
  auto lines = LogLines(log);
  EXPECT_EQ(CountLines(lines, "start"), 4);
  EXPECT_EQ(CountLines(lines, "job_end", "snapshot", "ok"), 2);
  EXPECT_EQ(CountLines(lines, "job_end", "prune", "ok"), 2);
}

TEST_F(ScheduleTest, NowForcesTheMonitorAndStatusShowsIt) {
  Install inst(T("2025-03-01T12:00:00Z"), true);
  auto r = testing::RunCli({"--root", inst.root, "schedule", "run", "--now", "monitor"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int ends = 0;
  size_t pos = 0, nl;
  while ((nl = r.out.find('\n', pos)) != std::string::npos) {  // stdout: one JSON object per line
    auto j = nlohmann::json::parse(r.out.substr(pos, nl - pos));
    if (j.at("event") == "job_end" && j.at("job") == "monitor") {
      ++ends;
      EXPECT_GT(j.at("issues_found").get<int>(), 0);
      EXPECT_GT(j.at("issues_repaired").get<int>(), 0);
    }
    pos = nl + 1;
  }
  EXPECT_EQ(ends, 1);
  auto st = testing::RunCli({"--root", inst.root, "--json", "schedule", "status"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  auto j = nlohmann::json::parse(st.out);
  EXPECT_TRUE(j.at("monitor").at("last_success").is_number_integer());
  EXPECT_TRUE(j.at("snapshot").at("last_success").is_null());
}

// `schedule status --as-of` with a time it cannot read: a usage error (exit 2)
// naming the flag, the text and the forms it reads, before the state is read
// (so also where the service has not run yet).
TEST_F(ScheduleTest, StatusAsOfABadTimeIsAUsageErrorThatSaysWhatItReads) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  const std::string state = JoinPath(inst.layout().repo(), kScheduleStateFile);
  for (bool with_state : {false, true}) {
    if (with_state) testing::WriteFile(state, "{\"version\": 1, \"first_start\": " + std::to_string(T("2025-03-01T12:00:00Z")) + "}\n");
    for (const char* bad : {"yesterday", "2025-13-45", "2025-03-01T25:00:00Z"}) {
      auto r = testing::RunCli({"--root", inst.root, "schedule", "status", "--as-of", bad});
      EXPECT_EQ(r.exit_code, 2) << bad << " (state: " << with_state << "): " << r.err;
      EXPECT_NE(r.err.find("--as-of"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(std::string("cannot read time '") + bad + "'"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("2025-08-08T14:30:22Z"), std::string::npos) << "says the forms it reads: " << r.err;
      EXPECT_TRUE(r.out.empty()) << r.out;
    }
  }
  auto good = testing::RunCli({"--root", inst.root, "schedule", "status", "--as-of", "2025-03-02T00:00:00Z"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

// A manual clock that raises `stop`, as the service's SIGTERM handler does, the
// first time a file under `dir` is opened for reading once armed: the request
// lands in the middle of a job's work (a snapshot or a transaction reading the
// stores), where no test-only delay is needed to catch it.
class StopOnReadEnv : public ManualClockEnv {
 public:
  StopOnReadEnv(int64_t now, const std::string& dir, std::atomic<bool>* stop)
      : ManualClockEnv(Env::Default(), now), dir_(dir + "/"), stop_(stop) {}
  Status NewSequentialFile(const std::string& p, std::unique_ptr<SequentialFile>* out) override {
    Hit(p);
    return ManualClockEnv::NewSequentialFile(p, out);
  }
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override {
    Hit(p);
    return ManualClockEnv::NewRandomAccessFile(p, out);
  }
  std::atomic<bool> armed{true};
  std::atomic<int> hits{0};

 private:
  void Hit(const std::string& p) {
    if (p.compare(0, dir_.size(), dir_) != 0 || !armed.exchange(false)) return;
    ++hits;
    *stop_ = true;
  }
  std::string dir_;
  std::atomic<bool>* stop_;
};

TEST_F(ScheduleTest, StopDuringTheNightlySnapshotFinishesItAndEndsCleanly) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  Layout layout = inst.layout();
  // First start must not be at 02:29:50 of the first day, or the slot counts as "missed";
  // a state from the day before makes this an ordinary night.
  testing::WriteFile(JoinPath(layout.repo(), kScheduleStateFile),
                     "{\"version\": 1, \"first_start\": " + std::to_string(T("2025-03-01T12:00:00Z")) + "}\n");
  std::atomic<bool> stop{false};
  StopOnReadEnv env(T("2025-03-02T02:29:50Z"), layout.store(StoreId::kPdfs).path, &stop);
  ASSERT_TRUE(PrepareScheduleRepository(&env, layout).ok());
  EventLog log(&env, nullptr);
  ScheduleConfig cfg;
  cfg.monitor_enabled = false;
  Scheduler sched(&env, cfg, MakeScheduleJobs(layout), &log, JoinPath(layout.repo(), kScheduleStateFile));
  sched.set_sleep_slice_micros(kSec);
  ASSERT_TRUE(sched.Start().ok());
  ASSERT_TRUE(sched.Run(stop, T("2025-03-03T03:00:00Z")).ok());
  ASSERT_EQ(env.hits.load(), 1) << "the snapshot never read the pdfs store";

  EXPECT_EQ(CountEvents(log, "job_end", "snapshot", "ok"), 1);
  EXPECT_EQ(CountEvents(log, "job_start", "prune"), 0);  // nothing new starts after the stop request
  ASSERT_FALSE(log.lines().empty());
  EXPECT_EQ(log.lines().back().at("event"), "stop");
  EXPECT_EQ(log.lines().back().at("reason"), "signal");
  // The snapshot is whole: listed and verified; no transaction is left open.
  auto snaps = inst.Snapshots();
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].trigger, "scheduled");
  auto repo = Repository::Open(Env::Default(), layout.repo(), false);
  ASSERT_TRUE(repo.ok());
  auto vr = (*repo)->Verify({snaps[0].id}, true);
  ASSERT_TRUE(vr.ok());
  EXPECT_TRUE(vr->ok());
  auto open = FindUnfinishedTransaction(layout, Env::Default());
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());
}

TEST_F(ScheduleTest, StopDuringTheMonitorRepairLetsTheTransactionCommit) {
  const int64_t t0 = T("2025-03-01T12:00:00Z");
  Install inst(t0, true);
  Layout layout = inst.layout();
  std::atomic<bool> stop{false};
  // The repair's pre-cleanup snapshot is the first to read the pdfs store.
  StopOnReadEnv env(t0, layout.store(StoreId::kPdfs).path, &stop);
  ASSERT_TRUE(PrepareScheduleRepository(&env, layout).ok());
  EventLog log(&env, nullptr);
  ScheduleConfig cfg;
  cfg.snapshot_enabled = false;
  Scheduler sched(&env, cfg, MakeScheduleJobs(layout), &log, JoinPath(layout.repo(), kScheduleStateFile));
  sched.set_sleep_slice_micros(kSec);
  ASSERT_TRUE(sched.Start().ok());
  ASSERT_TRUE(sched.Run(stop, t0 + 3 * kHour).ok());
  ASSERT_EQ(env.hits.load(), 1) << "the repair never read the pdfs store";

  EXPECT_EQ(CountEvents(log, "issues_repaired"), 1);
  EXPECT_EQ(CountEvents(log, "job_end", "monitor", "ok"), 1);
  EXPECT_EQ(log.lines().back().at("reason"), "signal");
  auto open = FindUnfinishedTransaction(layout, Env::Default());
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->has_value());
  auto after = RunCheck(layout, CheckOptions{std::nullopt, "", t0});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(CountKinds(*after, {IssueKind::kAiOrphan, IssueKind::kVectorOrphan, IssueKind::kFilesOnly}), 0);
}

TEST_F(ScheduleTest, InstallPrintsSystemdUnitsWithAbsoluteRootRepoAndConfig) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  std::string cfg = WriteConfig(inst.dir, "snapshot_time = 03:15\nmonitor_interval = 20\n");
  auto r = testing::RunCli({"--root", inst.root, "--repo", inst.dir.Sub("repo"), "--config", cfg, "schedule",
                            "install", "--systemd", "--print"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("[Service]"), std::string::npos);
  EXPECT_NE(r.out.find("[Timer]"), std::string::npos);
  EXPECT_NE(r.out.find("\"--root\" \"" + inst.root + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"--repo\" \"" + inst.dir.Sub("repo") + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"--config\" \"" + cfg + "\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"schedule\" \"run\" \"--once\""), std::string::npos);
  EXPECT_NE(r.out.find("OnCalendar=*-*-* 03:15:00"), std::string::npos);
  EXPECT_NE(r.out.find("OnUnitActiveSec=20min"), std::string::npos);
  EXPECT_NE(r.out.find("Persistent=true"), std::string::npos);
  EXPECT_NE(r.out.find("ExecStart=\"/"), std::string::npos);  // absolute binary
}

TEST_F(ScheduleTest, InstallWritesUserUnitsIntoDest) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  std::string dest = inst.dir.Sub("units");
  auto r = testing::RunCli({"--root", inst.root, "schedule", "install", "--systemd", "--user", "--dest", dest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string service = testing::ReadFile(dest + "/maestro-db-schedule.service");
  std::string timer = testing::ReadFile(dest + "/maestro-db-schedule.timer");
  EXPECT_NE(service.find("\"--repo\" \"" + inst.root + "/backups/maestro-db\""), std::string::npos) << service;
  EXPECT_NE(timer.find("OnCalendar=*-*-* 02:30:00"), std::string::npos);
  EXPECT_NE(r.out.find("systemctl --user daemon-reload"), std::string::npos) << r.out;
}

TEST_F(ScheduleTest, InstallCronLineRunsOnceAtTheSlotAndOnTheMonitorInterval) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  auto r = testing::RunCli({"--root", inst.root, "schedule", "install", "--cron", "--print"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("30 2 * * * root '/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 * * * * root '/"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'--root' '" + inst.root + "'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'schedule' 'run' '--once' --log"), std::string::npos) << r.out;
  auto u = testing::RunCli({"--root", inst.root, "schedule", "install", "--cron", "--user", "--print"});
  ASSERT_EQ(u.exit_code, 0);
  EXPECT_EQ(u.out.find(" root '"), std::string::npos);  // a user crontab has no user field
  auto bad = testing::RunCli({"--root", inst.root, "schedule", "install", "--print"});
  EXPECT_EQ(bad.exit_code, 2);
}


// Names a unit or a crontab line must carry as they are: `$` and `%` in a
// root are doubled for systemd (before: "/srv/${x}" would be expanded by
// systemd, as "%h" is); a newline (which would start another line of the unit
// or crontab) is refused for both, a name that is not UTF-8 for systemd
// (which ignores such an ExecStart=); exit 2 with nothing written.
TEST_F(ScheduleTest, InstallDoublesDollarsAndRefusesNamesAUnitOrCrontabCannotHold) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  std::string odd = inst.dir.Sub("srv ${HOME}%h");
  ASSERT_EQ(std::system(("cp -a '" + inst.root + "' '" + odd + "'").c_str()), 0);
  auto r = testing::RunCli({"--root", odd, "schedule", "install", "--systemd", "--print"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"--root\" \"" + inst.dir.Sub("srv $${HOME}%%h") + "\""), std::string::npos) << r.out;
  const std::string dest = inst.dir.Sub("units");
  for (const std::string& name : {std::string("line\nExecStartPre=false"), std::string("caf\xe9")}) {
    std::string root = inst.dir.Sub(name);
    ASSERT_EQ(std::system(("cp -a '" + inst.root + "' '" + root + "'").c_str()), 0);
    bool newline = name.find('\n') != std::string::npos;
    auto sd = testing::RunCli({"--root", root, "schedule", "install", "--systemd", "--dest", dest});
    EXPECT_EQ(sd.exit_code, 2) << sd.out << sd.err;
    EXPECT_NE(sd.err.find(newline ? "control character" : "not UTF-8"), std::string::npos) << sd.err;
    auto cron = testing::RunCli({"--root", root, "schedule", "install", "--cron", "--dest", dest});
    EXPECT_EQ(cron.exit_code, newline ? 2 : 0) << cron.out << cron.err;
    if (newline) {
      EXPECT_FALSE(std::filesystem::exists(dest)) << "something was written";
    }
  }
  EXPECT_FALSE(std::filesystem::exists(dest + "/maestro-db-schedule.service"));
}


// A local copy_to inside a store (the next reset would move the off-site copy
// to trash with the store) is refused when the service is installed, exit 8
// naming both paths and nothing written, not first on the night the job runs.
TEST_F(ScheduleTest, InstallRefusesACopyToInsideAStoreBeforeWritingTheUnits) {
  Install inst(T("2025-03-01T12:00:00Z"), false);
  const std::string pdfs = inst.layout().store(StoreId::kPdfs).path;
  std::string cfg = WriteConfig(inst.dir, "copy_to = " + pdfs + "/offsite\n");
  const std::string dest = inst.dir.Sub("units");
  auto r = testing::RunCli({"--root", inst.root, "--config", cfg, "schedule", "install", "--systemd", "--dest", dest});
  EXPECT_EQ(r.exit_code, 8) << r.out << r.err;
  EXPECT_NE(r.err.find(pdfs + "/offsite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("copy_to"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dest));
  std::string ok = WriteConfig(inst.dir, "copy_to = " + inst.dir.Sub("offsite") + "\n");
  auto fine = testing::RunCli({"--root", inst.root, "--config", ok, "schedule", "install", "--systemd", "--dest", dest});
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
}

}  // namespace
}  // namespace maestro
