// tests/app_control_test.cc — issue 16 point 3: the app is stopped before a
// destructive command, waited for, and started again afterwards (after a commit,
// a failure, a rollback, or a crash finished by `recover`), as journaled steps.
// No Docker daemon runs on these machines: `docker compose stop/start` is a
// stand-in script on PATH that records its calls (tests/compose_util.h).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/compose_util.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::ComposeInstallFixture;
using testing::MaestroComposeYaml;
using testing::RunCli;
using testing::TreeDigest;
using testing::WriteFile;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Lines of the docker log that are compose calls, as "stop" / "start".
std::vector<std::string> ComposeCalls(const std::string& log) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    std::string line = log.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? log.size() : nl + 1;
    if (line.rfind("compose ", 0) != 0) continue;
    if (Has(line, " stop ")) out.push_back("stop");
    if (Has(line, " start ")) out.push_back("start");
  }
  return out;
}

// A process that holds the main database open, as the app's backend does.
class Holder {
 public:
  explicit Holder(const std::string& file) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sh", "sh", "-c", ("exec 3<'" + file + "'; exec sleep 60").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Until it has the file open.
    for (int i = 0; i < 100; ++i) {
      std::error_code ec;
      for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec))
        if (fs::read_symlink(e.path(), ec) == file) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Holder() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

class AppControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    f_.WriteCompose(MaestroComposeYaml());
    f_.PopulateVolume("maestrocheckout_2");
  }
  CliResult Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {"--compose", f_.checkout()});
    return RunCli(args, f_.Env(env));
  }
  std::string Main() const { return f_.checkout() + "/maestro_backend/data/maestro.db"; }
  // Everything the install holds: the checkout (without its repository) and the volume.
  std::map<std::string, std::string> Data() const {
    auto d = TreeDigest(f_.checkout() + "/maestro_backend");
    for (auto& [k, v] : TreeDigest(f_.VolumeData("maestrocheckout_2"))) d["volume/" + k] = v;
    return d;
  }
  ComposeInstallFixture f_;
};

TEST_F(AppControlTest, ResetStopsTheAppFirstAndStartsItAfterTheCommit) {
  CliResult r = Run({"--yes", "reset", "--stop-app"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
  std::string file = f_.checkout() + "/docker-compose.yml";
  EXPECT_TRUE(Has(f_.DockerLog(), "compose -f " + file + " stop backend doc-processor")) << f_.DockerLog();
  EXPECT_TRUE(Has(f_.DockerLog(), "compose -f " + file + " start backend doc-processor")) << f_.DockerLog();
  EXPECT_TRUE(Has(r.out, "the app was started again")) << r.out;
  // Journaled like every other step.
  CliResult log = Run({"journal", "log"});
  EXPECT_TRUE(Has(log.out, "app.stop")) << log.out;
  EXPECT_TRUE(Has(log.out, "app.start")) << log.out;
  CliResult st = Run({"--json", "stats"});
  EXPECT_EQ(nlohmann::json::parse(st.out)["main"]["documents"], 0);
}

TEST_F(AppControlTest, StopWaitsUntilTheAppLetsGoOfTheStores) {
  Holder app(Main());
  // Without --stop-app the live-app guard refuses.
  CliResult refused = Run({"--yes", "reset"});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_TRUE(Has(refused.err, "--stop-app")) << refused.err;
  // The stand-in's `compose stop` ends the holder, as stopping the containers would.
  WriteFile(f_.fake() + "/kill-on-stop", std::to_string(app.pid()));
  CliResult r = Run({"--yes", "reset", "--stop-app"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
}

TEST_F(AppControlTest, StopThatLeavesAHolderTimesOutRollsBackAndStartsTheApp) {
  WriteFile(f_.tmp().Sub("app.ini"), "[app]\nstop_timeout = 1\n");
  Holder app(Main());
  auto before = Data();
  CliResult r = Run({"--config", f_.tmp().Sub("app.ini"), "--yes", "reset", "--stop-app"});
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "after 1 s a process still holds a store file")) << r.err;
  EXPECT_TRUE(Has(r.err, "pid " + std::to_string(app.pid()))) << r.err;
  EXPECT_TRUE(Has(r.err, "stop_timeout")) << r.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
  EXPECT_EQ(Data(), before) << "a rolled-back reset leaves the stores as they were";
  CliResult js = Run({"--json", "journal", "status"});
  EXPECT_TRUE(Has(js.out, "rolled_back")) << js.out;
}

TEST_F(AppControlTest, FailingStopCommandStartsTheAppAgainAndChangesNothing) {
  WriteFile(f_.fake() + "/fail-stop", "");
  auto before = Data();
  CliResult r = Run({"--yes", "cleanup", "--all", "--stop-app"});
  // The demo is consistent: cleanup has nothing to do and never stops the app.
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ComposeCalls(f_.DockerLog()).empty()) << f_.DockerLog();
  CliResult reset = Run({"--yes", "reset", "--stop-app"});
  EXPECT_EQ(reset.exit_code, 7) << reset.err;
  EXPECT_TRUE(Has(reset.err, "compose stop failed")) << reset.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
  EXPECT_EQ(Data(), before);
}

// A crash between stop and start: `recover` rolls the transaction back and starts the app.
TEST_F(AppControlTest, CrashBetweenStopAndStartIsFinishedByRecover) {
  auto before = Data();
  CliResult crash = Run({"--yes", "reset", "--stop-app"}, {"MAESTRO_DB_CRASH_AT=app.after_stop"});
  EXPECT_EQ(crash.exit_code, -SIGKILL) << crash.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop"})) << f_.DockerLog();
  CliResult blocked = Run({"--yes", "reset"});
  EXPECT_EQ(blocked.exit_code, 6) << blocked.err;
  CliResult rec = Run({"recover"});
  EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
  EXPECT_TRUE(Has(rec.out, "rolled_back")) << rec.out;
  EXPECT_EQ(Data(), before);
}

// A crash after the commit: `recover` rolls forward, and its last step starts the app.
TEST_F(AppControlTest, CrashAfterCommitIsFinishedByRecoverWhichStartsTheApp) {
  CliResult crash = Run({"--yes", "reset", "--stop-app"}, {"MAESTRO_DB_CRASH_AT=txn.after_commit"});
  EXPECT_EQ(crash.exit_code, -SIGKILL) << crash.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop"})) << f_.DockerLog();
  CliResult rec = Run({"recover"});
  EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  EXPECT_TRUE(Has(rec.out, "committed")) << rec.out;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
}

// A crash while starting again: recover runs the start once more.
TEST_F(AppControlTest, FailingStartLeavesTheTransactionForRecover) {
  WriteFile(f_.fake() + "/fail-start", "");
  CliResult r = Run({"--yes", "reset", "--stop-app"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_TRUE(Has(r.err, "app.start")) << r.err;
  fs::remove(f_.fake() + "/fail-start");
  CliResult rec = Run({"recover"});
  EXPECT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start", "start"})) << f_.DockerLog();
}

// Killed at every crash point of a transaction, `recover` always leaves the app started.
TEST_F(AppControlTest, ResetWithStopAppKilledAnywhereEndsWithTheAppStartedByRecover) {
  CliResult list = RunCli({"debug", "crash-points"});
  std::vector<std::string> points;
  std::istringstream in(list.out);
  for (std::string p; std::getline(in, p);)
    if (p.rfind("txn.", 0) == 0 || p.rfind("app.", 0) == 0 || p.rfind("store.", 0) == 0) points.push_back(p);
  ASSERT_FALSE(points.empty());
  int reached = 0;
  for (const auto& point : points) {
    SCOPED_TRACE("killed at " + point);
    // A fresh install each time.
    ComposeInstallFixture f;
    f.WriteCompose(MaestroComposeYaml());
    f.PopulateVolume("maestrocheckout_2");
    auto run = [&](std::vector<std::string> a, std::vector<std::string> env = {}) {
      a.insert(a.begin(), {"--compose", f.checkout()});
      return RunCli(a, f.Env(env));
    };
    CliResult k = run({"--yes", "reset", "--stop-app"}, {"MAESTRO_DB_CRASH_AT=" + point});
    if (k.exit_code >= 0) continue;  // not reached by a reset
    ++reached;
    CliResult rec = run({"recover"});
    EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
    // Killed before app.stop's intent, the app was never stopped and nothing runs; otherwise
    // the last command is a start (the undo of app.stop, or app.start).
    std::vector<std::string> calls = ComposeCalls(f.DockerLog());
    if (point == "txn.after_begin") {
      EXPECT_TRUE(calls.empty()) << "killed before app.stop: the app was never touched: " << f.DockerLog();
    } else {
      ASSERT_FALSE(calls.empty()) << f.DockerLog();
      EXPECT_EQ(calls.back(), "start") << "the app must be running after recover: " << f.DockerLog();
    }
    CliResult again = run({"--yes", "reset", "--stop-app"});
    EXPECT_EQ(again.exit_code, 0) << again.err;
  }
  EXPECT_GE(reached, 5) << "the sweep reached too few crash points to mean anything";
}

// The detached purge after a transaction is started with the same --compose, so it
// finds the trash beside stores that lie outside --root.
TEST_F(AppControlTest, BackgroundPurgeFindsTheComposeStoresTrash) {
  CliResult r = Run({"--yes", "reset"}, {"MAESTRO_DB_PURGE=background"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto trash = [&]() {
    int n = 0;
    for (const std::string& dir : {f_.checkout() + "/maestro_backend/data", f_.VolumeData("maestrocheckout_2"),
                                  f_.VolumeData("maestrocheckout_2") + "/processed"})
      for (const auto& e : fs::directory_iterator(dir))
        if (Has(e.path().filename().string(), ".maestro-trash-")) ++n;
    return n;
  };
  for (int i = 0; i < 200 && trash() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(trash(), 0) << "the background purge did not find the trash";
}

TEST_F(AppControlTest, ConfigCommandsAndStopAppTrueWithoutCompose) {
  std::string log = f_.tmp().Sub("app.log");
  WriteFile(f_.tmp().Sub("app.ini"), "[app]\nstop = echo stopped >> '" + log + "'\nstart = echo started >> '" + log +
                                         "'\nstop_app = true\n");
  std::string root = f_.tmp().Sub("plain");
  reliability::MakeSmallDemo(root, 2);
  CliResult r = RunCli({"--root", root, "--config", f_.tmp().Sub("app.ini"), "--yes", "reset"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(log), "stopped\nstarted\n");
  CliResult off = RunCli({"--root", root, "--config", f_.tmp().Sub("app.ini"), "--yes", "reset", "--no-stop-app"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(testing::ReadFile(log), "stopped\nstarted\n") << "--no-stop-app runs neither command";
}

TEST_F(AppControlTest, StopAppWithoutCommandsIsRefusedBeforeAnything) {
  std::string root = f_.tmp().Sub("plain");
  reliability::MakeSmallDemo(root, 2);
  auto before = TreeDigest(root);
  CliResult r = RunCli({"--root", root, "--yes", "reset", "--stop-app"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(Has(r.err, "[app] stop")) << r.err;
  EXPECT_EQ(TreeDigest(root), before);
}

TEST_F(AppControlTest, InPlaceRestoreAndMigrateStopAndStartTheApp) {
  CliResult snap = Run({"snap", "create", "-q"});
  ASSERT_EQ(snap.exit_code, 0) << snap.err;
  CliResult r = Run({"--yes", "snap", "restore", "latest", "--store", "main", "--stop-app"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start"})) << f_.DockerLog();
  CliResult down = Run({"--yes", "migrate", "down", "--store", "main", "--to", "1", "--stop-app"});
  ASSERT_EQ(down.exit_code, 0) << down.out << down.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()), (std::vector<std::string>{"stop", "start", "stop", "start"}))
      << f_.DockerLog();
  CliResult up = Run({"--yes", "migrate", "up", "--stop-app"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  EXPECT_EQ(ComposeCalls(f_.DockerLog()).size(), 6u) << f_.DockerLog();
}

}  // namespace
}  // namespace maestro
