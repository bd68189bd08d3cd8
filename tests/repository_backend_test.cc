// The repository meets storage only through Backend (snapshot/backend.h):
// with the objects in one folder and the local scratch in another, every
// object lands in the backend and only tmp/ is used locally.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "snapshot/backend.h"
#include "snapshot/leftovers.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "tests/memory_backend.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

// Forwards every call to a LocalBackend but PutFile, so the interface's own
// PutFile (streaming through NewWriter, as a remote backend would) is used;
// counts the objects written and removed by kind.
class CountingBackend : public Backend {
 public:
  explicit CountingBackend(std::unique_ptr<Backend> base) : base_(std::move(base)) {}
  std::string Location() const override { return base_->Location(); }
  Status Put(ObjectKind kind, const std::string& name, std::string_view data) override {
    Count("put", kind);
    return base_->Put(kind, name, data);
  }
  Status NewWriter(ObjectKind kind, const std::string& name, std::unique_ptr<ObjectWriter>* out) override {
    Count("writer", kind);
    return base_->NewWriter(kind, name, out);
  }
  Status Get(ObjectKind kind, const std::string& name, std::string* out) override { return base_->Get(kind, name, out); }
  Status ReadAt(ObjectKind kind, const std::string& name, uint64_t offset, size_t n, std::string* out) override {
    return base_->ReadAt(kind, name, offset, n, out);
  }
  Status Stat(ObjectKind kind, const std::string& name, ObjectInfo* info) override { return base_->Stat(kind, name, info); }
  Status List(ObjectKind kind, std::vector<ObjectInfo>* out) override { return base_->List(kind, out); }
  Status Remove(ObjectKind kind, const std::string& name) override {
    Count("remove", kind);
    return base_->Remove(kind, name);
  }
  int count(const std::string& op, ObjectKind kind) {
    std::lock_guard<std::mutex> l(mu_);
    return counts_[op + "/" + ObjectKindFolder(kind)];
  }

 private:
  void Count(const std::string& op, ObjectKind kind) {
    std::lock_guard<std::mutex> l(mu_);
    counts_[op + "/" + ObjectKindFolder(kind)]++;
  }
  std::unique_ptr<Backend> base_;
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

class RepositoryBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Env::Default()->CreateDirs(t_.Sub("install")).ok());
    auto db = Db::OpenReadWrite(t_.Sub("install/main.db"), true);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(db->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
    ASSERT_TRUE(db->Exec("INSERT INTO t(v) VALUES ('one'), ('two')").ok());
    WriteFile(t_.Sub("install/pdfs/7fafabb4_paper.pdf"), RandomBytes(600000, 7));
    WriteFile(t_.Sub("install/pdfs/sub/aaaaaaaa_x.md"), "# x\n");
    SnapshotSource main_db, pdfs;
    main_db.store = "main";
    main_db.path = t_.Sub("install/main.db");
    pdfs.store = "pdfs";
    pdfs.path = t_.Sub("install/pdfs");
    pdfs.is_directory = true;
    sources_ = {main_db, pdfs};
  }

  // The backend's location is its owner's to make (a remote's folder exists or
  // is made by the remote); the local folder is made by the repository.
  std::unique_ptr<Repository> Open(bool create) {
    EXPECT_TRUE(Env::Default()->CreateDirs(objects_, 0700).ok());
    auto counting = std::make_unique<CountingBackend>(NewLocalBackend(Env::Default(), objects_));
    backend_ = counting.get();
    auto r = Repository::Open(Env::Default(), std::move(counting), local_, create);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return nullptr;
    }
    return std::move(r).value();
  }

  // Names directly in dir/sub (empty when the folder is missing).
  std::vector<std::string> Names(const std::string& dir, const std::string& sub) {
    std::vector<DirEntry> entries;
    std::vector<std::string> names;
    if (Env::Default()->ListDir(JoinPath(dir, sub), &entries).ok())
      for (const auto& e : entries) names.push_back(e.name);
    return names;
  }

  CreateOptions Quick() {
    CreateOptions o;
    o.racy_margin_ms = 0;
    o.threads = 2;
    return o;
  }

  TempDir t_;
  std::string objects_ = t_.Sub("objects"), local_ = t_.Sub("local");
  std::vector<SnapshotSource> sources_;
  CountingBackend* backend_ = nullptr;
};

TEST_F(RepositoryBackendTest, EveryObjectGoesToTheBackendAndOnlyScratchStaysLocal) {
  auto repo = Open(true);
  ASSERT_TRUE(repo);
  EXPECT_EQ(repo->dir(), local_);
  auto info = repo->Create(sources_, Quick());
  ASSERT_TRUE(info.ok()) << info.status().ToString();

  EXPECT_TRUE(Env::Default()->FileExists(JoinPath(objects_, "config")));
  EXPECT_EQ(Names(objects_, "snapshots"), std::vector<std::string>{info->id});
  EXPECT_EQ(Names(objects_, "index").size(), 1u);
  EXPECT_FALSE(Names(objects_, "packs").empty());
  EXPECT_GE(backend_->count("writer", ObjectKind::kPack), 1) << "packs were not published through the backend";
  EXPECT_EQ(backend_->count("put", ObjectKind::kManifest), 1);
  // The local folder holds scratch only, and that is cleared.
  EXPECT_EQ(Names(local_, ""), std::vector<std::string>{"tmp"});
  EXPECT_TRUE(Names(local_, "tmp").empty());

  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->ok()) << rep->problems.size() << " problems, first: " << rep->problems[0].detail;
  RestoreOptions ro;
  ASSERT_TRUE(repo->RestoreStore(info->id, "pdfs", t_.Sub("back/pdfs"), ro).ok());
  EXPECT_EQ(TreeDigest(t_.Sub("back/pdfs")), TreeDigest(t_.Sub("install/pdfs")));
}

TEST_F(RepositoryBackendTest, DeleteAndGarbageCollectionRemoveObjectsThroughTheBackend) {
  auto repo = Open(true);
  ASSERT_TRUE(repo);
  auto info = repo->Create(sources_, Quick());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  size_t packs = Names(objects_, "packs").size();
  ASSERT_TRUE(repo->DeleteSnapshots({info->id}).ok());
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->packs_removed, packs);
  EXPECT_TRUE(Names(objects_, "snapshots").empty());
  EXPECT_TRUE(Names(objects_, "packs").empty());
  EXPECT_EQ(backend_->count("remove", ObjectKind::kManifest), 1);
  EXPECT_EQ(backend_->count("remove", ObjectKind::kPack), static_cast<int>(packs));
}

TEST_F(RepositoryBackendTest, OpeningABackendWithoutConfigIsNotFoundAndWritesNothing) {
  ASSERT_TRUE(Env::Default()->CreateDirs(objects_, 0700).ok());
  auto counting = std::make_unique<CountingBackend>(NewLocalBackend(Env::Default(), objects_));
  auto r = Repository::Open(Env::Default(), std::move(counting), local_, false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound()) << r.status().ToString();
  EXPECT_NE(r.status().message().find(objects_), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(Env::Default()->FileExists(JoinPath(objects_, "config")));
  EXPECT_FALSE(Env::Default()->FileExists(local_));
}

TEST_F(RepositoryBackendTest, AReopenedRepositoryFindsItsSnapshotsInTheBackend) {
  std::string id;
  {
    auto repo = Open(true);
    ASSERT_TRUE(repo);
    auto info = repo->Create(sources_, Quick());
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    id = info->id;
  }
  auto again = Open(false);
  ASSERT_TRUE(again);
  auto list = again->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, id);
  EXPECT_EQ(backend_->count("put", ObjectKind::kConfig), 0) << "an existing config was written again";
}

// Leftover packs (snapshot/leftovers.h) in a backend whose deletes fail. A
// refusal is told apart by its mark (Status::IsRefused), never by its wording.
class LeftoversTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Env::Default()->CreateDirs(t_.Sub("local/tmp"), 0700).ok());
    ASSERT_TRUE(b_.Put(ObjectKind::kPack, pack_, "an unused pack").ok());
  }
  Status Clean() { return CleanLeftovers(RepoFiles(Env::Default(), &b_, t_.Sub("local")), HashSet{}); }

  TempDir t_;
  testing::MemoryBackend b_;
  std::string pack_ = PackName(Xxh128("an unused pack"));
};

TEST_F(LeftoversTest, APackDeleteTheBackendRefusesIsKeptAndTheWriterGoesOn) {
  b_.FailRemoves(true, Status::IoError("mem: permission denied (HTTP 403)").MarkRefused());
  Status st = Clean();
  EXPECT_TRUE(st.ok()) << "an append-only target costs space, nothing else: " << st.ToString();
  EXPECT_EQ(b_.Count(ObjectKind::kPack), 1u);
}

TEST_F(LeftoversTest, AFailedPackDeleteThatIsNotARefusalIsAnErrorWhateverItsWording) {
  b_.FailRemoves(true, Status::IoError("/srv/refused to delete/packs/" + pack_ + ": Input/output error"));
  Status st = Clean();
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_FALSE(st.IsRefused()) << st.ToString();
  b_.FailRemoves(false);
  EXPECT_TRUE(Clean().ok());
  EXPECT_EQ(b_.Count(ObjectKind::kPack), 0u) << "a pack no blob uses is removed when the backend lets it";
}

}  // namespace
}  // namespace maestro
