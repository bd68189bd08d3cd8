// tests/reliability_crash_test.cc — issue 8, crash matrix extension.
//
// tests/crash_matrix_test.cc (txn) kills reset, cleanup and restore at every
// crash point. This suite covers the other writing commands: snap create,
// snap delete, snap prune, migrate down/up, and recover itself (killed while it
// rolls back or forward, then run again). Each run sets MAESTRO_DB_CRASH_AT to
// one point (from `maestro-db debug crash-points`), then runs `recover` and
// asserts: the stores are exactly the before or the after state, every listed
// snapshot verifies with --read-data, and the command works when run again.
// Points the command never reaches are skipped and counted apart.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/reliability_util.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using reliability::CaseCounter;
using testing::CliResult;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

// The stores of an install (everything under root except the repository), by
// content, type and mode: a rename aside and back changes directory mtimes,
// which is not a change of the data.
std::map<std::string, std::string> StoresDigest(const std::string& root) {
  auto d = TreeDigest(root, /*include_mtime=*/false);
  for (auto it = d.begin(); it != d.end();) it = it->first.rfind("backups", 0) == 0 ? d.erase(it) : std::next(it);
  return d;
}

std::vector<std::string> CrashPoints(const std::vector<std::string>& prefixes) {
  CliResult r = RunCli({"debug", "crash-points"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    line = reliability::Trim(line);
    for (const auto& p : prefixes)
      if (line.rfind(p, 0) == 0) out.push_back(line);
  }
  return out;
}


class CrashExtensionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pristine_ = tmp_.Sub("pristine");
    reliability::MakeSmallDemo(pristine_, 4);
  }
  std::string Fresh() {
    std::string root = tmp_.Sub("case" + std::to_string(++cases_));
    fs::copy(pristine_, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    return root;
  }
  // recover, then every listed snapshot verifies with --read-data.
  ::testing::AssertionResult RecoverAndVerify(const std::string& root) {
    CliResult rc = RunCli({"--root", root, "recover"});
    if (rc.exit_code != 0) return ::testing::AssertionFailure() << "recover: exit " << rc.exit_code << " " << rc.err;
    CliResult v = RunCli({"--root", root, "snap", "verify", "--read-data"});
    if (v.exit_code != 0) return ::testing::AssertionFailure() << "verify: exit " << v.exit_code << " " << v.out << v.err;
    return ::testing::AssertionSuccess();
  }

  // Runs `args` once per crash point; `check(root, before)` asserts the
  // before-or-after invariant after recovery. `prepare(root)` sets a case up.
  void Sweep(const std::string& category, const std::vector<std::string>& points, const std::vector<std::string>& args,
             const std::function<void(const std::string&)>& prepare,
             const std::function<bool(const std::string&, const std::map<std::string, std::string>&)>& check) {
    CaseCounter counter("crash matrix (" + category + ")", "passed");
    int unreached = 0;
    for (const auto& point : points) {
      for (const char* nth : {"", ":2"}) {
        SCOPED_TRACE(category + " killed at " + point + nth);
        std::string root = Fresh();
        prepare(root);
        auto before = StoresDigest(root);
        std::vector<std::string> full = {"--root", root};
        full.insert(full.end(), args.begin(), args.end());
        CliResult k = RunCli(full, {"MAESTRO_DB_CRASH_AT=" + point + nth});
        if (k.exit_code >= 0) {  // the command never reached this point (or not twice)
          if (*nth == '\0') ++unreached;
          fs::remove_all(root);
          break;  // a point not reached once is not reached twice
        }
        auto ok = RecoverAndVerify(root);
        EXPECT_TRUE(ok);
        bool inv = check(root, before);
        EXPECT_TRUE(inv) << "neither the before nor the after state";
        CliResult again = RunCli(full);
        EXPECT_EQ(again.exit_code, 0) << "run again after recovery: " << again.out << again.err;
        counter.Add(ok && inv && again.exit_code == 0);
        fs::remove_all(root);
      }
    }
    std::printf("crash matrix (%s): %d crash points not reached by the command\n", category.c_str(), unreached);
    EXPECT_GT(counter.cases(), 0) << "no crash point was reached: the sweep tests nothing";
  }

  TempDir tmp_;
  std::string pristine_;
  int cases_ = 0;
};

TEST_F(CrashExtensionTest, SnapCreateKilledAtAnyPointLeavesStoresUntouchedAndOnlyCompleteSnapshots) {
  Sweep("snap create", CrashPoints({"snap.", "gc."}), {"snap", "create", "-q"},
        [](const std::string& root) { ASSERT_FALSE(reliability::SnapCreate(root).empty()); },
        [](const std::string& root, const std::map<std::string, std::string>& before) {
          size_t n = reliability::ListIds(root).size();
          return StoresDigest(root) == before && (n == 1 || n == 2);
        });
}

TEST_F(CrashExtensionTest, SnapDeleteKilledAtAnyPointKeepsEveryOtherSnapshotIntact) {
  std::vector<std::string> ids;
  Sweep("snap delete", CrashPoints({"snap.", "gc."}), {"snap", "delete", "latest"},
        [&](const std::string& root) {
          ids.clear();
          for (int i = 0; i < 2; ++i) {
            WriteFile(root + "/ai_researcher/data/processed/markdown/d" + std::to_string(i) + ".md",
                      std::string(3000, static_cast<char>('a' + i)));
            ids.push_back(reliability::SnapCreate(root));
            ASSERT_FALSE(ids.back().empty());
          }
        },
        [&](const std::string& root, const std::map<std::string, std::string>& before) {
          auto now = reliability::ListIds(root);
          bool first_kept = !now.empty() && now[0] == ids[0];
          return StoresDigest(root) == before && first_kept && (now.size() == 1 || now.size() == 2);
        });
}

TEST_F(CrashExtensionTest, SnapPruneKilledAtAnyPointNeverLosesAKeptSnapshot) {
  std::vector<std::string> ids;
  Sweep("snap prune", CrashPoints({"snap.", "gc."}), {"snap", "prune", "--keep-last", "1"},
        [&](const std::string& root) {
          ids.clear();
          for (int i = 0; i < 3; ++i) {
            WriteFile(root + "/ai_researcher/data/processed/markdown/p" + std::to_string(i) + ".md",
                      std::string(3000, static_cast<char>('a' + i)));
            if (i == 2) fs::remove(root + "/ai_researcher/data/processed/markdown/p0.md");
            ids.push_back(reliability::SnapCreate(root));
            ASSERT_FALSE(ids.back().empty());
          }
        },
        [&](const std::string& root, const std::map<std::string, std::string>& before) {
          auto now = reliability::ListIds(root);
          bool newest_kept = !now.empty() && now.back() == ids.back();
          return StoresDigest(root) == before && newest_kept;
        });
}

// "main=<current>,ai=<current>" from `migrate status --json` ("?" when unreadable).
std::string MigrateVersion(const std::string& root) {
  CliResult r = RunCli({"--root", root, "--json", "migrate", "status"});
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  std::string out;
  for (const char* store : {"main", "ai"}) {
    std::string v = "?";
    if (j.is_object() && j.contains("stores") && j["stores"].contains(store) &&
        j["stores"][store].contains("current") && j["stores"][store]["current"].is_number_integer())
      v = std::to_string(j["stores"][store]["current"].get<int>());
    out += std::string(store) + "=" + v + ",";
  }
  return out;
}

TEST_F(CrashExtensionTest, MigrateDownAndUpKilledAtAnyPointLeaveTheOldOrTheNewVersion) {
  auto points = CrashPoints({"migrate.", "txn.", "store.", "snap."});
  for (const auto& dir : std::vector<std::vector<std::string>>{{"migrate", "down", "--to", "1", "--store", "main"},
                                                               {"migrate", "up", "--store", "main"}}) {
    std::string status_before, status_after;
    Sweep(std::string("migrate ") + dir[1], points, dir,
          [&](const std::string& root) {
            if (dir[1] == "up") {
              CliResult d = RunCli({"--root", root, "migrate", "down", "--to", "1", "--store", "main"});
              ASSERT_EQ(d.exit_code, 0) << d.out << d.err;
            }
            if (status_before.empty()) {
              status_before = MigrateVersion(root);
              std::string probe = tmp_.Sub("probe-" + dir[1]);
              fs::copy(root, probe, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
              std::vector<std::string> full = {"--root", probe};
              full.insert(full.end(), dir.begin(), dir.end());
              CliResult r = RunCli(full);
              ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
              status_after = MigrateVersion(probe);
            }
          },
          [&](const std::string& root, const std::map<std::string, std::string>&) {
            std::string now = MigrateVersion(root);
            CliResult ic = RunCli({"--root", root, "check"});
            bool readable = ic.exit_code == 0 || ic.exit_code == 1;
            EXPECT_TRUE(readable) << ic.out << ic.err;
            return readable && (now == status_before || now == status_after);
          });
    EXPECT_NE(status_before, status_after) << "the migration changed nothing: the sweep tests nothing";
  }
}

TEST_F(CrashExtensionTest, RecoverKilledAtAnyPointIsItselfRecoverable) {
  // Reset killed before its commit (recover rolls back) and after it (recover
  // rolls forward); recover is then killed at each point and run again.
  for (const char* reset_point : {"txn.after_intent:2", "txn.after_commit"}) {
    bool forward = std::string(reset_point) == "txn.after_commit";
    std::map<std::string, std::string> pre_reset;
    Sweep(std::string("recover after reset killed at ") + reset_point, CrashPoints({"txn.", "store."}), {"recover"},
          [&](const std::string& root) {
            pre_reset = StoresDigest(root);
            CliResult k = RunCli({"--root", root, "reset", "--yes", "--force"}, {std::string("MAESTRO_DB_CRASH_AT=") + reset_point});
            ASSERT_LT(k.exit_code, 0) << "reset not killed at " << reset_point << ": " << k.out << k.err;
          },
          [&](const std::string& root, const std::map<std::string, std::string>&) {
            auto now = StoresDigest(root);
            if (!forward) return now == pre_reset;
            for (const auto& [p, d] : now) {
              (void)d;
              if (p.find("raw_pdfs/") != std::string::npos || p.find("markdown/") != std::string::npos) return false;
            }
            return true;
          });
  }
}

}  // namespace
}  // namespace maestro
