// tests/drill_test.cc — `snap verify --drill ID` restores a snapshot into a
// scratch folder and proves it opens: integrity_check on every database, the
// HNSW checks on the vector store; and the scheduled drill (schedule.drill).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tests/support/clock_env.h"
#include "tests/test_util.h"
#include "engine/schedule/schedule.h"
#include "util/config.h"
#include "util/env.h"

using namespace maestro::testing;
using nlohmann::json;

namespace {

class Drill : public ::testing::Test {
 protected:
  void SetUp() override {
    CliResult r = RunCli({"demo", "create", root(), "--documents", "20", "--pdf-kib", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    setenv("TMPDIR", dir_.Sub("tmp").c_str(), 1);
    ASSERT_EQ(std::system(("mkdir -p " + dir_.Sub("tmp")).c_str()), 0);
  }
  void TearDown() override { unsetenv("TMPDIR"); }
  std::string root() const { return dir_.Sub("root"); }
  std::string vector() const { return root() + "/ai_researcher/data/vector_store"; }
  void Snap() {
    CliResult r = RunCli({"--root", root(), "snap", "create"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  json DrillJson(int rc) {
    CliResult r = RunCli({"--root", root(), "--json", "snap", "verify", "--drill", "latest"},
                         {"TMPDIR=" + dir_.Sub("tmp")});
    EXPECT_EQ(r.exit_code, rc) << r.err;
    return json::parse(r.out);
  }
  // The scratch parent is empty again after every drill.
  void ExpectScratchRemoved() { EXPECT_EQ(Sh("ls -A " + dir_.Sub("tmp")), ""); }
  TempDir dir_;
};

TEST_F(Drill, CleanSnapshotRestoresAndPassesEveryCheck) {
  Snap();
  json rep = DrillJson(0);
  EXPECT_TRUE(rep["ok"]);
  EXPECT_EQ(rep["databases_checked"], 3);  // main, ai, vector/chroma.sqlite3
  EXPECT_EQ(rep["hnsw_segments_checked"], 2);
  EXPECT_EQ(rep["stores"].size(), 6u);
  EXPECT_TRUE(rep["problems"].empty());
  ExpectScratchRemoved();
  CliResult text = RunCli({"--root", root(), "snap", "verify", "--drill", "latest"}, {"TMPDIR=" + dir_.Sub("tmp")});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("drill passed"), std::string::npos) << text.out;
}

TEST_F(Drill, DatabaseThatFailsIntegrityCheckIsFound) {
  // Overwrite the end of an index page of main: the database still opens and
  // counts its rows, but PRAGMA integrity_check complains; the snapshot keeps it.
  const std::string db = root() + "/data/maestro.db";
  std::string rootpage = Sh("sqlite3 " + db + " \"SELECT rootpage FROM sqlite_master WHERE name='ix_documents_user_id'\"");
  ASSERT_FALSE(rootpage.empty()) << "sqlite3 shell missing?";
  const long page = std::stol(rootpage);
  FILE* f = std::fopen(db.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, page * 4096 - 40, SEEK_SET);
  std::fwrite(std::string(40, 'z').data(), 1, 40, f);
  std::fclose(f);
  Snap();
  json rep = DrillJson(1);
  EXPECT_FALSE(rep["ok"]);
  ASSERT_EQ(rep["problems"].size(), 1u) << rep.dump(1);
  EXPECT_EQ(rep["problems"][0]["store"], "main");
  EXPECT_EQ(rep["problems"][0]["kind"], "integrity_check");
  ExpectScratchRemoved();
}

TEST_F(Drill, DamagedHnswSegmentInTheSnapshotIsFound) {
  std::string seg = Sh("ls -d " + vector() + "/*/ | head -1");
  seg = seg.substr(0, seg.find_last_not_of("/\n") + 1);
  ASSERT_EQ(::truncate((seg + "/data_level0.bin").c_str(), 999), 0);
  Snap();
  json rep = DrillJson(1);
  ASSERT_EQ(rep["problems"].size(), 1u) << rep.dump(1);
  EXPECT_EQ(rep["problems"][0]["kind"], "hnsw_damaged");
  EXPECT_NE(rep["problems"][0]["path"].get<std::string>().find("data_level0.bin"), std::string::npos);
}

TEST_F(Drill, MissingBlobIsARestoreProblemNotACrash) {
  Snap();
  // Remove every pack: nothing of the snapshot can be restored.
  ASSERT_EQ(std::system(("find " + root() + "/backups/maestro-db -path '*pack*' -type f -delete").c_str()), 0);
  json rep = DrillJson(1);
  bool restore_failed = false;
  for (const auto& p : rep["problems"]) restore_failed |= p["kind"] == "restore_failed";
  EXPECT_TRUE(restore_failed) << rep.dump(1);
  ExpectScratchRemoved();
}

TEST_F(Drill, UnknownSnapshotIsNotFound) {
  CliResult r = RunCli({"--root", root(), "snap", "verify", "--drill", "nope"});
  Snap();
  r = RunCli({"--root", root(), "snap", "verify", "--drill", "nope"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("snap list"), std::string::npos) << r.err;
}

TEST_F(Drill, ScheduledDrillRunsWhenEnabledAndRecordsItsOutcome) {
  WriteFile(dir_.Sub("m.conf"), "[schedule]\ndrill = on\ndrill_interval = 7d\n");
  Snap();
  CliResult r = RunCli({"--root", root(), "--config", dir_.Sub("m.conf"), "schedule", "run", "--now", "drill"},
                       {"TMPDIR=" + dir_.Sub("tmp")});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("\"hnsw_segments_checked\":2"), std::string::npos) << r.out;
  CliResult st = RunCli({"--root", root(), "--json", "schedule", "status"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  json state = json::parse(st.out);
  EXPECT_EQ(state["drill"]["last_outcome"], "ok") << state.dump(1);
  ExpectScratchRemoved();
}

}  // namespace

namespace {

using maestro::Env;
using maestro::EventLog;
using maestro::JobContext;
using maestro::JobKind;
using maestro::Jobs;
using maestro::ManualClockEnv;
using maestro::ScheduleConfig;
using maestro::Scheduler;
using maestro::Status;

constexpr int64_t kDay = 86400LL * 1000000;

TEST(ScheduledDrill, RunsWeeklyAfterASnapshotAndAFailureWaitsForTheNextInterval) {
  TempDir dir;
  ManualClockEnv env(Env::Default(), 1'700'000'000LL * 1000000);
  EventLog log(&env, nullptr);
  ScheduleConfig cfg;
  cfg.drill_enabled = true;
  cfg.monitor_enabled = false;
  cfg.prune_enabled = false;
  int drills = 0;
  bool fail = false;
  Jobs jobs;
  jobs.snapshot = [](JobContext&) { return Status::OK(); };
  jobs.drill = [&](JobContext&) {
    ++drills;
    return fail ? Status::Corruption("planted drill problem") : Status::OK();
  };
  Scheduler s(&env, cfg, jobs, &log, dir.Sub("state.json"));
  ASSERT_TRUE(s.Start().ok());
  EXPECT_FALSE(s.drill_due(env.NowMicros())) << "no scheduled snapshot yet: nothing to drill";
  ASSERT_TRUE(s.RunNow(JobKind::kSnapshot).ok());
  ASSERT_TRUE(s.drill_due(env.NowMicros()));
  ASSERT_TRUE(s.RunDue().ok());
  EXPECT_EQ(drills, 1);
  env.Advance(6 * kDay);
  EXPECT_FALSE(s.drill_due(env.NowMicros()));
  env.Advance(1 * kDay);
  fail = true;
  EXPECT_FALSE(s.RunDue().ok());
  EXPECT_EQ(drills, 2);
  env.Advance(kDay / 24);  // the next tick: a failed drill is not retried at once
  EXPECT_FALSE(s.drill_due(env.NowMicros()));
  EXPECT_EQ(s.state().drill.last_outcome, "failed");
  EXPECT_LE(s.NextDueMicros(env.NowMicros()), env.NowMicros() + 7 * kDay);
}

TEST(ScheduledDrill, ConfigKeysParseAndRejectNonsense) {
  TempDir dir;
  WriteFile(dir.Sub("c.conf"), "[schedule]\ndrill = on\ndrill_interval = 14d\ndrill_scratch = /var/tmp\n");
  auto loaded = maestro::Config::Load(dir.Sub("c.conf"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  auto sc = ScheduleConfig::FromConfig(*loaded);
  ASSERT_TRUE(sc.ok()) << sc.status().ToString();
  EXPECT_TRUE(sc->drill_enabled);
  EXPECT_EQ(sc->drill_interval_s, 14 * 86400);
  EXPECT_EQ(sc->drill_scratch, "/var/tmp");
  WriteFile(dir.Sub("d.conf"), "[schedule]\ndrill_interval = weekly-ish\n");
  auto bad = ScheduleConfig::FromConfig(*maestro::Config::Load(dir.Sub("d.conf")));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("drill_interval"), std::string::npos) << bad.status().ToString();
}

}  // namespace
