// tests/reliability_powercut_test.cc — issue 8, power cuts.
//
// FaultEnv::PowerCutAt(op, n) freezes the "machine" at the nth sync, directory
// sync or rename of Repository::Create and of garbage collection
// (DeleteSnapshots + RemoveUnreferencedData); DropUnsyncedData() then throws
// away every byte and directory entry that was not durable, as a real power cut
// would. After reopening: every listed snapshot verifies with read_data and
// restores (so nothing a listed snapshot needs was deleted), and a new create works.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>

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
    // max_unused 0: every partly used pack is rewritten, so every durable step of GC is run.
    if (s.ok()) repo->RemoveUnreferencedData(false, 0).IgnoreError("the power cut makes it fail; the check is what survives");
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

// Every entry's permission bits and mtime under path (path itself as ""), by lstat.
std::map<std::string, std::pair<uint32_t, int64_t>> ModesAndMtimes(const std::string& path) {
  std::map<std::string, std::pair<uint32_t, int64_t>> out;
  auto note = [&](const std::string& rel, const std::string& p) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) return;
    out[rel] = {st.st_mode & 07777, st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  };
  note("", path);
  if (fs::is_directory(path))
    for (const auto& e : fs::recursive_directory_iterator(path))
      note(fs::relative(e.path(), path).string(), e.path().string());
  return out;
}

// Gives every file 0640, every folder 0750 and an old mtime, deepest first
// (a folder's mtime moves when something inside it changes).
void GiveOldModesAndMtimes(const std::string& path) {
  std::vector<fs::path> all{path};
  if (fs::is_directory(path))
    for (const auto& e : fs::recursive_directory_iterator(path)) all.push_back(e.path());
  int64_t t = 1000000000;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (fs::is_symlink(*it)) continue;
    ::chmod(it->c_str(), fs::is_directory(*it) ? 0750 : 0640);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {t++, 0}};
    ::utimensat(AT_FDCWD, it->c_str(), ts, 0);
  }
}

TEST_F(PowerCutTest, PowerCutRightAfterARestoreKeepsEveryEntrysModeAndMtime) {
  // A restore that returned OK made its files durable; a power cut then must
  // not take back their modes and mtimes (they were set after an fdatasync,
  // which does not flush them, and folders' after their fsync).
  for (const auto& src : sources_) GiveOldModesAndMtimes(src.path);
  std::string repo = tmp_.Sub("repo");
  std::string id;
  {
    auto r = Repository::Open(Env::Default(), repo, true);
    ASSERT_TRUE(r.ok());
    auto info = (*r)->Create(sources_, {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    id = info->id;
  }
  int checked = 0;
  for (const auto& src : sources_) {
    SCOPED_TRACE("store " + src.store);
    std::string uncut = tmp_.Sub("uncut") + "/" + src.store, cut = tmp_.Sub("cut") + "/" + src.store;
    {
      auto r = Repository::Open(Env::Default(), repo, false);
      ASSERT_TRUE((*r)->RestoreStore(id, src.store, uncut, RestoreOptions{nullptr, 1, true}).ok());
    }
    FaultEnv env(Env::Default());
    {
      auto r = Repository::Open(&env, repo, false);
      Status s = (*r)->RestoreStore(id, src.store, cut, RestoreOptions{nullptr, 2, true});
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    auto want = ModesAndMtimes(uncut), got = ModesAndMtimes(cut);
    ASSERT_EQ(want.size(), got.size());
    for (const auto& [rel, meta] : want) {
      ASSERT_TRUE(got.count(rel)) << rel << " is gone after the cut";
      fs::path p = rel.empty() ? fs::path(uncut) : fs::path(uncut) / rel;
      if (!fs::is_symlink(p)) {
        EXPECT_EQ(meta.first & 0777, fs::is_directory(p) ? 0750u : 0640u) << rel;
      }
      EXPECT_EQ(got[rel].first, meta.first) << rel << ": mode lost in the power cut";
      EXPECT_EQ(got[rel].second, meta.second) << rel << ": mtime lost in the power cut";
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace maestro
