// Tests of the prune sequence (snapshot/prune.h) shared by `snap prune` and the
// scheduled prune job: decide by retention policy, delete manifests, GC.
#include "snapshot/prune.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include "tests/test_util.h"
#include "tests/support/fault_env.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;


class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Repository::Open(Env::Default(), repo_dir_, true);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(r).value();
  }

  // n snapshots of two directory stores; each holds a file of its own (so
  // removing the snapshot frees data) next to a file every snapshot shares.
  void MakeSnapshots(int n, const std::vector<std::string>& triggers = {}) {
    WriteFile(tmp_.Sub("install/pdfs/shared.pdf"), RandomBytes(200000, 7));
    WriteFile(tmp_.Sub("install/markdown/a.md"), "# a\n");
    for (int i = 0; i < n; ++i) {
      if (i > 0) {
        ASSERT_TRUE(Env::Default()->RemoveFile(tmp_.Sub("install/pdfs/doc" + std::to_string(i - 1) + ".pdf")).ok());
      }
      WriteFile(tmp_.Sub("install/pdfs/doc" + std::to_string(i) + ".pdf"), RandomBytes(150000, 100 + i));
      CreateOptions co;
      co.racy_margin_ms = 0;
      if (i < static_cast<int>(triggers.size())) co.trigger = triggers[i];
      auto info = repo_->Create(Sources(), co);
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      ids_.push_back(info->id);
      pdfs_at_[info->id] = TreeDigest(tmp_.Sub("install/pdfs"));
    }
  }

  std::vector<SnapshotSource> Sources() const {
    return {{"pdfs", tmp_.Sub("install/pdfs"), true, true}, {"markdown", tmp_.Sub("install/markdown"), true, true}};
  }

  std::vector<std::string> ListedIds() {
    auto l = repo_->List();
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    std::vector<std::string> ids;
    if (l.ok())
      for (const auto& s : *l) ids.push_back(s.id);
    return ids;
  }

  TempDir tmp_;
  std::string repo_dir_ = tmp_.Sub("repo");
  std::unique_ptr<Repository> repo_;
  std::vector<std::string> ids_;  // oldest first
  std::map<std::string, std::map<std::string, std::string>> pdfs_at_;
};

TEST_F(PruneTest, DryRunDecidesButDeletesNothing) {
  MakeSnapshots(5);
  auto before = TreeDigest(repo_dir_);
  RetentionPolicy policy;
  policy.keep_last = 2;
  PruneOptions po;
  po.dry_run = true;
  PruneResult r;
  Status st = Prune(*repo_, policy, po, &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(r.decided);
  EXPECT_FALSE(r.gc_failed);
  ASSERT_EQ(r.decision.keep.size(), 2u);
  EXPECT_EQ(r.decision.keep[0].info.id, ids_[4]);
  EXPECT_EQ(r.decision.keep[1].info.id, ids_[3]);
  EXPECT_EQ(r.remove_ids, (std::vector<std::string>{ids_[2], ids_[1], ids_[0]}));
  // Nothing is unreferenced yet, and the dry run does not count what the real run frees.
  EXPECT_EQ(r.gc.blobs_removed, 0u);
  EXPECT_EQ(ListedIds(), ids_);
  EXPECT_EQ(TreeDigest(repo_dir_), before);
}

TEST_F(PruneTest, RealRunKeepsExactlyThePolicysSnapshotsAndTheyStillVerify) {
  MakeSnapshots(5);
  uint64_t packs_before = TreeDigest(repo_dir_ + "/packs").size();
  RetentionPolicy policy;
  policy.keep_last = 2;
  PruneResult r;
  Status st = Prune(*repo_, policy, PruneOptions(), &r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(r.remove_ids, (std::vector<std::string>{ids_[2], ids_[1], ids_[0]}));
  EXPECT_EQ(ListedIds(), (std::vector<std::string>{ids_[3], ids_[4]}));
  EXPECT_GT(r.gc.blobs_removed, 0u);
  EXPECT_GT(r.gc.bytes_freed, 0u);
  EXPECT_GT(packs_before, 0u);

  auto vr = repo_->Verify({ids_[3], ids_[4]}, /*read_data=*/true);
  ASSERT_TRUE(vr.ok()) << vr.status().ToString();
  EXPECT_TRUE(vr->ok()) << vr->problems.front().detail;
  EXPECT_EQ(vr->snapshots_checked, 2u);
  auto all = repo_->Verify({}, true);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->ok());
  for (const auto& id : {ids_[3], ids_[4]}) {
    std::string out = tmp_.Sub("out-" + id);
    ASSERT_TRUE(repo_->RestoreStore(id, "pdfs", out, {}).ok());
    EXPECT_EQ(TreeDigest(out), pdfs_at_[id]) << id;
  }

  // A second run finds nothing more to remove.
  PruneResult again;
  ASSERT_TRUE(Prune(*repo_, policy, PruneOptions(), &again).ok());
  EXPECT_TRUE(again.remove_ids.empty());
  EXPECT_EQ(again.gc.blobs_removed, 0u);
  EXPECT_EQ(ListedIds(), (std::vector<std::string>{ids_[3], ids_[4]}));
}

TEST_F(PruneTest, FilterLeavesOtherSnapshotsAlone) {
  MakeSnapshots(5, {"scheduled", "manual", "scheduled", "pre-reset", "scheduled"});
  RetentionPolicy policy;
  policy.keep_last = 1;
  PruneOptions po;
  po.filter = [](const SnapshotInfo& s) { return s.trigger == "scheduled"; };
  PruneResult r;
  ASSERT_TRUE(Prune(*repo_, policy, po, &r).ok());
  ASSERT_EQ(r.decision.keep.size(), 1u);
  EXPECT_EQ(r.decision.keep[0].info.id, ids_[4]);
  EXPECT_EQ(r.remove_ids, (std::vector<std::string>{ids_[2], ids_[0]}));
  EXPECT_EQ(ListedIds(), (std::vector<std::string>{ids_[1], ids_[3], ids_[4]}));
  auto vr = repo_->Verify({}, true);
  ASSERT_TRUE(vr.ok());
  EXPECT_TRUE(vr->ok());
}

TEST_F(PruneTest, EmptyPolicyIsRefusedBeforeAnythingChanges) {
  MakeSnapshots(2);
  auto before = TreeDigest(repo_dir_);
  PruneResult r;
  Status st = Prune(*repo_, RetentionPolicy(), PruneOptions(), &r);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_FALSE(r.decided);
  EXPECT_FALSE(r.gc_failed);
  EXPECT_EQ(ListedIds(), ids_);
  EXPECT_EQ(TreeDigest(repo_dir_), before);
}

// The callers word their own retry hint for a GC that failed after the
// manifests were deleted; gc_failed tells that case from an earlier failure.
TEST_F(PruneTest, FailuresSayWhichStepFailedAndARerunFinishes) {
  MakeSnapshots(5);
  FaultEnv fenv(Env::Default());
  auto opened = Repository::Open(&fenv, repo_dir_, false);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto& frepo = **opened;
  RetentionPolicy policy;
  policy.keep_last = 2;

  fenv.FailAt(FaultEnv::Op::kRemove, 1, EIO, /*sticky=*/true);  // the first manifest removal
  PruneResult r1;
  Status st = Prune(frepo, policy, PruneOptions(), &r1);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(r1.decided);
  EXPECT_FALSE(r1.gc_failed);
  EXPECT_EQ(ListedIds(), ids_);
  fenv.ClearFaults();

  // Removing the oldest snapshot leaves its pack partly used (the shared file):
  // GC must write a new pack, and that fails.
  fenv.FailAt(FaultEnv::Op::kCreate, 1, ENOSPC, /*sticky=*/true);
  PruneResult r2;
  st = Prune(frepo, policy, PruneOptions(), &r2);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(r2.gc_failed) << st.ToString();
  EXPECT_EQ(r2.remove_ids.size(), 3u);
  EXPECT_EQ(ListedIds(), (std::vector<std::string>{ids_[3], ids_[4]}));
  fenv.ClearFaults();

  PruneResult r3;
  st = Prune(frepo, policy, PruneOptions(), &r3);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(r3.remove_ids.empty());
  EXPECT_GT(r3.gc.blobs_removed, 0u);
  auto vr = repo_->Verify({}, true);
  ASSERT_TRUE(vr.ok());
  EXPECT_TRUE(vr->ok());
}

// Records the order of unlinks and directory fsyncs.
class OpLogEnv : public FaultEnv {
 public:
  using FaultEnv::FaultEnv;
  Status RemoveFile(const std::string& p) override {
    log.push_back("rm " + p);
    return FaultEnv::RemoveFile(p);
  }
  Status SyncDir(const std::string& d) override {
    log.push_back("sync " + d);
    return FaultEnv::SyncDir(d);
  }
  std::vector<std::string> log;
};

// GC removes the old index files and the unused packs each in one batch: one
// fsync of packs/ after the last pack is unlinked (not one per pack), and the
// index files' removal made durable before the first pack goes, so a power
// cut never leaves an index naming a removed pack.
TEST_F(PruneTest, GcRemovesEachKindInOneBatchWithTheIndexDurablyGoneBeforeAnyPack) {
  MakeSnapshots(12);
  OpLogEnv env(Env::Default());
  auto opened = Repository::Open(&env, repo_dir_, false);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  RetentionPolicy policy;
  policy.keep_last = 1;
  PruneResult r;
  ASSERT_TRUE(Prune(**opened, policy, PruneOptions(), &r).ok());
  ASSERT_GE(r.gc.packs_removed, 10u);
  const std::string packs = "rm " + repo_dir_ + "/packs/", index = "rm " + repo_dir_ + "/index/";
  const std::string sync_packs = "sync " + repo_dir_ + "/packs", sync_index = "sync " + repo_dir_ + "/index";
  size_t first_pack = env.log.size(), last_pack = 0, last_index = 0, pack_syncs_after = 0, manifests = 0;
  for (size_t i = 0; i < env.log.size(); ++i) {
    const std::string& op = env.log[i];
    if (op.rfind(packs, 0) == 0) {
      first_pack = std::min(first_pack, i);
      last_pack = i;
    }
    if (op.rfind(index, 0) == 0) last_index = i;
    if (op.rfind("rm " + repo_dir_ + "/snapshots/", 0) == 0) ++manifests;
  }
  ASSERT_LT(first_pack, env.log.size());
  ASSERT_GT(last_index, 0u);
  EXPECT_EQ(manifests, 11u);
  for (size_t i = first_pack; i < env.log.size(); ++i) pack_syncs_after += env.log[i] == sync_packs;
  EXPECT_EQ(pack_syncs_after, 1u) << "one fsync of packs/ for " << r.gc.packs_removed << " packs removed";
  bool index_synced = false;
  for (size_t i = last_index; i < first_pack; ++i) index_synced |= env.log[i] == sync_index;
  EXPECT_TRUE(index_synced) << "the old index files' removal is durable before any pack goes";
  bool packs_synced = false;
  for (size_t i = last_pack; i < env.log.size(); ++i) packs_synced |= env.log[i] == sync_packs;
  EXPECT_TRUE(packs_synced);
  size_t manifest_syncs = 0;
  for (const auto& op : env.log) manifest_syncs += op == "sync " + repo_dir_ + "/snapshots";
  EXPECT_EQ(manifest_syncs, 1u) << "one fsync of snapshots/ for the 11 manifests deleted";
  auto vr = repo_->Verify({}, true);
  ASSERT_TRUE(vr.ok());
  EXPECT_TRUE(vr->ok());
}

// restic's --max-unused: a pack with a few dead blobs is not rewritten while
// what stays unused is under 5% of the repository; its dead blobs stay indexed,
// so a later snapshot may use them again and a later collection still counts
// them; max_unused 0 rewrites every partly used pack.
TEST(PruneMaxUnusedTest, PacksWithLittleUnusedStayIndexedAndMaxUnusedZeroRewritesThem) {
  TempDir tmp;
  const std::string src = tmp.Sub("src"), dir = tmp.Sub("repo");
  for (int i = 0; i < 200; ++i) WriteFile(src + "/f" + std::to_string(i) + ".bin", RandomBytes(20000, 500 + i));
  auto r = Repository::Open(Env::Default(), dir, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Repository> repo = std::move(r).value();
  std::vector<SnapshotSource> sources = {{"pdfs", src, true, true}};
  CreateOptions co;
  co.racy_margin_ms = 0;
  auto a = repo->Create(sources, co);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const std::string gone = testing::ReadFile(src + "/f7.bin");
  ASSERT_TRUE(Env::Default()->RemoveFile(src + "/f7.bin").ok());
  ASSERT_TRUE(Env::Default()->RemoveFile(src + "/f8.bin").ok());
  auto b = repo->Create(sources, co);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(repo->DeleteSnapshots({a->id}).ok());
  const auto packs = TreeDigest(dir + "/packs");
  // 40 kB of 4 MB unused: 1%, under the default 5%.
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->packs_rewritten, 0u);
  EXPECT_EQ(gc->bytes_freed, 0u);
  EXPECT_EQ(TreeDigest(dir + "/packs"), packs) << "a pack was rewritten for 1% of unused bytes";
  // A file coming back takes its still-indexed blob: no data blob is stored again.
  WriteFile(src + "/f7.bin", gone);
  auto c = repo->Create(sources, co);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_LT(c->stored_bytes, 20000u) << "f7.bin's blob was stored again although it was kept";
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  // f8.bin's blob is still unused, still counted: max_unused 0 rewrites its pack.
  gc = repo->RemoveUnreferencedData(false, 0);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_GE(gc->packs_rewritten, 1u);
  EXPECT_GE(gc->bytes_freed, 20000u);
  EXPECT_NE(TreeDigest(dir + "/packs"), packs);
  rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  for (const auto& id : {b->id, c->id}) {
    std::string out = tmp.Sub("out-" + id);
    ASSERT_TRUE(repo->RestoreStore(id, "pdfs", out, {}).ok()) << id;
  }
  EXPECT_EQ(TreeDigest(tmp.Sub("out-" + c->id)), TreeDigest(src));
}

}  // namespace
}  // namespace maestro
