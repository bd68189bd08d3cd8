// tests/reliability_powercut_test.cc — issue 8, power cuts.
//
// FaultEnv::PowerCutAt(op, n) freezes the "machine" at the nth sync, directory
// sync or rename of Repository::Create and of garbage collection
// (DeleteSnapshots + RemoveUnreferencedData); DropUnsyncedData() then throws
// away every byte and directory entry that was not durable, as a real power cut
// would. After reopening: every listed snapshot verifies with read_data and
// restores (so nothing a listed snapshot needs was deleted), and a new create works.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/stores/layout.h"
#include "engine/stores/snapshot_sources.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/test_util.h"
#include "tests/support/fault_env.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using reliability::CaseCounter;
using testing::TempDir;
using testing::WriteFile;
using Op = FaultEnv::Op;

class PowerCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    reliability::MakeSmallDemo(root_, 4);
    auto l = Layout::Discover(Env::Default(), root_, nullptr);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    sources_ = SourcesFor(*l);
  }

  // After the cut: every listed snapshot verifies (read_data) and restores every
  // store it holds; expected_ids must all still be listed.
  bool RepositoryIsIntact(const std::string& dir, const std::vector<std::string>& must_list, std::string* why) {
    auto r = Repository::Open(Env::Default(), dir, false);
    if (!r.ok()) return *why = r.status().ToString(), false;
    auto list = (*r)->List();
    if (!list.ok()) return *why = list.status().ToString(), false;
    for (const auto& id : must_list) {
      bool found = false;
      for (const auto& s : *list) found |= s.id == id;
      if (!found) return *why = "snapshot " + id + " that was not deleted is no longer listed", false;
    }
    auto rep = (*r)->Verify({}, true);
    if (!rep.ok()) return *why = rep.status().ToString(), false;
    if (!rep->ok())
      return *why = rep->problems[0].snapshot_id + " " + rep->problems[0].path + ": " + rep->problems[0].detail, false;
    for (const auto& s : *list) {
      for (const auto& store : s.stores) {
        std::string out = dir + "-restore/" + s.id + "/" + store;
        fs::create_directories(dir + "-restore/" + s.id);
        Status st = (*r)->RestoreStore(s.id, store, out, RestoreOptions{nullptr, 1, false});
        if (!st.ok()) return *why = "restore of " + s.id + "/" + store + ": " + st.ToString(), false;
      }
    }
    fs::remove_all(dir + "-restore");
    // And the repository takes a new snapshot.
    auto c = (*r)->Create(sources_, {});
    if (!c.ok()) return *why = "create after the cut: " + c.status().ToString(), false;
    return true;
  }

  TempDir tmp_;
  std::string root_;
  std::vector<SnapshotSource> sources_;
};

TEST_F(PowerCutTest, PowerCutAtEveryDurableStepOfCreateNeverListsAPartialSnapshot) {
  std::string base = tmp_.Sub("base");
  {
    auto r = Repository::Open(Env::Default(), base, true);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE((*r)->Create(sources_, {}).ok());  // one snapshot already there
  }
  std::string first_id = (*(*Repository::Open(Env::Default(), base, false))->List())[0].id;
  WriteFile(root_ + "/ai_researcher/data/processed/markdown/new.md", std::string(5000, 'n'));
  std::map<Op, int> counts;
  {
    std::string probe_dir = tmp_.Sub("probe");
    fs::copy(base, probe_dir, fs::copy_options::recursive);
    FaultEnv probe(Env::Default());
    auto r = Repository::Open(&probe, probe_dir, false);
    probe.ResetCounts();
    ASSERT_TRUE((*r)->Create(sources_, {}).ok());
    for (Op op : {Op::kSync, Op::kSyncDir, Op::kRename}) counts[op] = probe.Count(op);
  }
  CaseCounter counter("power-cut (snap create)", "passed");
  for (auto [op, count] : counts) {
    for (int n = 1; n <= count; ++n) {
      SCOPED_TRACE(std::string(FaultEnv::OpName(op)) + " #" + std::to_string(n));
      std::string dir = tmp_.Sub("create-" + std::string(FaultEnv::OpName(op)) + std::to_string(n));
      fs::copy(base, dir, fs::copy_options::recursive);
      FaultEnv env(Env::Default());
      {
        auto r = Repository::Open(&env, dir, false);
        ASSERT_TRUE(r.ok());
        env.PowerCutAt(op, n);
        (*r)->Create(sources_, {}).IgnoreError("the power cut makes it fail; the check is what survives");
      }
      ASSERT_TRUE(env.DropUnsyncedData().ok());
      std::string why;
      bool ok = RepositoryIsIntact(dir, {first_id}, &why);
      EXPECT_TRUE(ok) << why;
      counter.Add(ok);
      fs::remove_all(dir);
    }
  }
  EXPECT_GT(counter.cases(), 5);
}

TEST_F(PowerCutTest, PowerCutAtEveryDurableStepOfGcNeverLosesDataOfAListedSnapshot) {
  // Three snapshots with changes between them, so deleting the first leaves
  // packs that are partly needed (rewritten by GC) and packs not needed at all.
  std::string base = tmp_.Sub("base");
  std::vector<std::string> ids;
  {
    auto r = Repository::Open(Env::Default(), base, true);
    ASSERT_TRUE(r.ok());
    for (int i = 0; i < 3; ++i) {
      WriteFile(root_ + "/ai_researcher/data/processed/markdown/gc" + std::to_string(i) + ".md",
                std::string(4000 + i, static_cast<char>('a' + i)));
      if (i == 1) fs::remove(root_ + "/ai_researcher/data/processed/markdown/gc0.md");
      auto info = (*r)->Create(sources_, {});
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      ids.push_back(info->id);
    }
  }
  auto gc = [&](Repository* repo) {
    Status s = repo->DeleteSnapshots({ids[0]});
    if (s.ok()) repo->RemoveUnreferencedData(false).IgnoreError("the power cut makes it fail; the check is what survives");
  };
  std::map<Op, int> counts;
  {
    std::string probe_dir = tmp_.Sub("probe");
    fs::copy(base, probe_dir, fs::copy_options::recursive);
    FaultEnv probe(Env::Default());
    auto r = Repository::Open(&probe, probe_dir, false);
    probe.ResetCounts();
    gc(r->get());
    for (Op op : {Op::kSync, Op::kSyncDir, Op::kRename, Op::kRemove}) counts[op] = probe.Count(op);
    auto after = (*Repository::Open(Env::Default(), probe_dir, false))->List();
    ASSERT_EQ(after->size(), 2u);
  }
  ASSERT_GT(counts[Op::kRemove], 1) << "GC removed nothing: the scenario does not exercise it";
  CaseCounter counter("power-cut (snap delete + gc)", "passed");
  for (auto [op, count] : counts) {
    for (int n = 1; n <= count; ++n) {
      SCOPED_TRACE(std::string(FaultEnv::OpName(op)) + " #" + std::to_string(n));
      std::string dir = tmp_.Sub("gc-" + std::string(FaultEnv::OpName(op)) + std::to_string(n));
      fs::copy(base, dir, fs::copy_options::recursive);
      FaultEnv env(Env::Default());
      {
        auto r = Repository::Open(&env, dir, false);
        ASSERT_TRUE(r.ok());
        env.PowerCutAt(op, n);
        gc(r->get());
      }
      ASSERT_TRUE(env.DropUnsyncedData().ok());
      std::string why;
      bool ok = RepositoryIsIntact(dir, {ids[1], ids[2]}, &why);
      EXPECT_TRUE(ok) << why;
      counter.Add(ok);
      fs::remove_all(dir);
    }
  }
  EXPECT_GT(counter.cases(), 5);
}

}  // namespace
}  // namespace maestro
