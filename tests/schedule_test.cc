// tests/schedule_test.cc — the scheduled service (engine/schedule.h) on a
// manual clock with fake jobs, then the real jobs and the CLI on a compressed clock.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "engine/schedule.h"
#include "tests/test_util.h"
#include "util/time_util.h"

namespace maestro {
namespace {

using testing::TempDir;

constexpr int64_t kSec = 1000000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

int64_t T(const std::string& iso) {
  auto t = ParseTime(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return t.ok() ? *t : 0;
}

// Slot arithmetic uses local time; pin it so the expectations are exact.
class ScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

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

}  // namespace
}  // namespace maestro
