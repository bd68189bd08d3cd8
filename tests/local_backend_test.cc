// tests/local_backend_test.cc — the Backend contract on a local folder, and
// what a power cut or a failing disk leaves of an object being published.
#include <gtest/gtest.h>

#include <cerrno>

#include "snapshot/backend.h"
#include "tests/backend_conformance.h"
#include "tests/test_util.h"
#include "tests/support/fault_env.h"

namespace maestro::testing {
namespace {

class LocalBackendFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> MakeBackend() {
    EXPECT_TRUE(Env::Default()->CreateDir(tmp_.Sub("repo"), 0700).ok());
    return NewLocalBackend(Env::Default(), tmp_.Sub("repo"));
  }
  TempDir tmp_;
};
INSTANTIATE_BACKEND_CONFORMANCE(Local, LocalBackendFixture);

TEST(LocalBackendTest, ObjectsLandInTheDocumentedFolders) {
  TempDir tmp;
  std::unique_ptr<Backend> b = NewLocalBackend(Env::Default(), tmp.path());
  ASSERT_TRUE(b->Put(ObjectKind::kConfig, "", "cfg").ok());
  ASSERT_TRUE(b->Put(ObjectKind::kManifest, "20260101_000000", "m").ok());
  ASSERT_TRUE(b->Put(ObjectKind::kKey, "k", "k").ok());
  EXPECT_EQ(ReadFile(tmp.Sub("config")), "cfg");
  EXPECT_EQ(ReadFile(tmp.Sub("snapshots/20260101_000000")), "m");
  EXPECT_EQ(ReadFile(tmp.Sub("keys/k")), "k");
  EXPECT_EQ(Sh("stat -c %a " + tmp.Sub("keys/k")), "600\n");
  EXPECT_EQ(Sh("stat -c %a " + tmp.Sub("keys")), "700\n");
}

TEST(LocalBackendTest, PutIntoAMissingRepositoryFolderIsNotFoundAndCreatesNothing) {
  TempDir tmp;
  std::unique_ptr<Backend> b = NewLocalBackend(Env::Default(), tmp.Sub("gone"));
  EXPECT_TRUE(b->Put(ObjectKind::kManifest, "20260101_000000", "m").IsNotFound());
  EXPECT_FALSE(Env::Default()->DirExists(tmp.Sub("gone")));
}

TEST(LocalBackendTest, ListSkipsTemporaryNamesAndFolders) {
  TempDir tmp;
  std::unique_ptr<Backend> b = NewLocalBackend(Env::Default(), tmp.path());
  ASSERT_TRUE(b->Put(ObjectKind::kIndex, "a.idx", "x").ok());
  WriteFile(tmp.Sub("index/b.idx.tmp-12-3"), "partial");
  WriteFile(tmp.Sub("index/sub/c.idx"), "nested");
  EXPECT_EQ(Names(b.get(), ObjectKind::kIndex), (std::set<std::string>{"a.idx"}));
}

TEST(LocalBackendTest, PowerCutDuringPutLeavesNothingOrTheWholeObject) {
  for (FaultEnv::Op op : {FaultEnv::Op::kWrite, FaultEnv::Op::kSync, FaultEnv::Op::kRename, FaultEnv::Op::kSyncDir}) {
    TempDir tmp;
    FaultEnv env(Env::Default());
    std::unique_ptr<Backend> b = NewLocalBackend(&env, tmp.path());
    ASSERT_TRUE(b->Put(ObjectKind::kPack, "before.pack", "old").ok());
    env.ResetCounts();
    env.PowerCutAt(op, 1);
    b->Put(ObjectKind::kPack, "new.pack", RandomBytes(50000, 9))
        .IgnoreError("the cut may fail the Put or not; what it leaves is checked below");
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    std::unique_ptr<Backend> after = NewLocalBackend(Env::Default(), tmp.path());
    std::set<std::string> names = Names(after.get(), ObjectKind::kPack);
    EXPECT_TRUE(names.count("before.pack")) << FaultEnv::OpName(op);
    if (names.count("new.pack")) {
      std::string got;
      ASSERT_TRUE(after->Get(ObjectKind::kPack, "new.pack", &got).ok());
      EXPECT_EQ(got, RandomBytes(50000, 9)) << "a partial object under its final name after a cut at "
                                            << FaultEnv::OpName(op);
    }
  }
}

// Counts opens for reading; everything else goes to the POSIX Env.
class OpenCountingEnv : public FaultEnv {
 public:
  OpenCountingEnv() : FaultEnv(Env::Default()) {}
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override {
    ++opens;
    return FaultEnv::NewRandomAccessFile(p, out);
  }
  int opens = 0;
};

TEST(LocalBackendTest, ReadingAPackBlobByBlobOpensItOnceAndARemovedPackIsGone) {
  TempDir tmp;
  OpenCountingEnv env;
  std::unique_ptr<Backend> b = NewLocalBackend(&env, tmp.path());
  std::string data = RandomBytes(64 * 1024, 5);
  ASSERT_TRUE(b->Put(ObjectKind::kPack, "p.pack", data).ok());
  std::string got;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(b->ReadAt(ObjectKind::kPack, "p.pack", i * 1024, 1024, &got).ok());
    ASSERT_EQ(got, data.substr(i * 1024, 1024));
  }
  EXPECT_EQ(env.opens, 1);
  ASSERT_TRUE(b->Remove(ObjectKind::kPack, "p.pack").ok());
  EXPECT_TRUE(b->ReadAt(ObjectKind::kPack, "p.pack", 0, 10, &got).IsNotFound());
}

// Prune removes many packs at once: every unlink first, then one fsync of their
// folder, not one per object.
TEST(LocalBackendTest, RemoveManyUnlinksEveryObjectThenSyncsTheirFolderOnce) {
  TempDir tmp;
  FaultEnv env(Env::Default());
  std::unique_ptr<Backend> b = NewLocalBackend(&env, tmp.path());
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) {
    names.push_back("p" + std::to_string(i) + ".pack");
    ASSERT_TRUE(b->Put(ObjectKind::kPack, names.back(), "pack " + std::to_string(i)).ok());
  }
  names.push_back("missing.pack");
  env.ResetCounts();
  ASSERT_TRUE(b->RemoveMany(ObjectKind::kPack, names).ok());
  EXPECT_EQ(env.Count(FaultEnv::Op::kRemove), 20);
  EXPECT_EQ(env.Count(FaultEnv::Op::kSyncDir), 1);
  std::vector<ObjectInfo> left;
  ASSERT_TRUE(b->List(ObjectKind::kPack, &left).ok());
  EXPECT_TRUE(left.empty());
}

// A failed unlink stops the batch with its error; what was unlinked before it
// is made durable all the same, and the rest is left as it was.
TEST(LocalBackendTest, RemoveManyStopsAtAFailedUnlinkAndStillSyncsWhatItRemoved) {
  TempDir tmp;
  FaultEnv env(Env::Default());
  std::unique_ptr<Backend> b = NewLocalBackend(&env, tmp.path());
  std::vector<std::string> names = {"a.pack", "b.pack", "c.pack", "d.pack"};
  for (const auto& n : names) ASSERT_TRUE(b->Put(ObjectKind::kPack, n, n).ok());
  env.ResetCounts();
  env.FailAt(FaultEnv::Op::kRemove, 3, EIO);
  Status s = b->RemoveMany(ObjectKind::kPack, names);
  EXPECT_TRUE(s.IsIoError()) << s.ToString();
  EXPECT_EQ(env.Count(FaultEnv::Op::kSyncDir), 1);
  EXPECT_FALSE(env.FileExists(tmp.Sub("packs/a.pack")));
  EXPECT_FALSE(env.FileExists(tmp.Sub("packs/b.pack")));
  EXPECT_EQ(ReadFile(tmp.Sub("packs/c.pack")), "c.pack");
  EXPECT_EQ(ReadFile(tmp.Sub("packs/d.pack")), "d.pack");
}

TEST(LocalBackendTest, FailedCommitLeavesNoObjectAndNoTemporaryFile) {
  TempDir tmp;
  FaultEnv env(Env::Default());
  std::unique_ptr<Backend> b = NewLocalBackend(&env, tmp.path());
  std::unique_ptr<ObjectWriter> w;
  ASSERT_TRUE(b->NewWriter(ObjectKind::kPack, "p.pack", &w).ok());
  ASSERT_TRUE(w->Append("data").ok());
  env.FailAt(FaultEnv::Op::kSync, 1, ENOSPC);
  EXPECT_FALSE(w->Commit().ok());
  w.reset();
  EXPECT_TRUE(Names(b.get(), ObjectKind::kPack).empty());
  EXPECT_EQ(Sh("ls -A " + tmp.Sub("tmp")), "");
}

}  // namespace
}  // namespace maestro::testing
