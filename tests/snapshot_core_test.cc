// Tests of the snapshot repository core (snapshot/repository.h): round trips
// of every store kind, dedup, consistency under a live writer, crash safety,
// damage detection, path-traversal refusal and garbage collection.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <set>
#include <random>
#include <thread>

#include "snapshot/format.h"
#include "snapshot/repository.h"
#include "tests/test_util.h"
#include "util/coding.h"
#include "util/crash_point.h"
#include "tests/support/fault_env.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using testing::ReadFile;
using testing::RandomBytes;
using testing::RunChildUntilCrash;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;


void MakeDb(const std::string& path, int rows, bool wal) {
  ASSERT_TRUE(Env::Default()->CreateDirs(DirName(path)).ok());
  auto db = Db::OpenReadWrite(path, true);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  if (wal) {
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL").ok());
  }
  ASSERT_TRUE(db->Exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)").ok());
  ASSERT_TRUE(db->Exec("BEGIN").ok());
  for (int i = 0; i < rows; ++i)
    ASSERT_TRUE(db->Exec("INSERT INTO t(v) VALUES (hex(randomblob(40)))").ok());
  ASSERT_TRUE(db->Exec("COMMIT").ok());
}

// A small install with every store kind: two SQLite stores (main in WAL mode
// with a live -wal beside it), a Chroma-like directory with chroma.sqlite3,
// a segment dir, chroma.lock and a symlink, two plain directory stores and one
// absent store.
struct Install {
  explicit Install(const std::string& dir, int main_rows = 200) : root(dir) {
    MakeDb(root + "/main.db", main_rows, true);
    MakeDb(root + "/ai.db", 50, false);
    MakeDb(root + "/vector/chroma.sqlite3", 30, false);
    WriteFile(root + "/vector/seg-1/header.bin", RandomBytes(100, 1));
    WriteFile(root + "/vector/seg-1/data_level0.bin", RandomBytes(300000, 2));
    WriteFile(root + "/vector/chroma.lock", "");
    symlink("seg-1/header.bin", (root + "/vector/link").c_str());
    WriteFile(root + "/pdfs/7fafabb4_paper.pdf", RandomBytes(5000, 3));
    WriteFile(root + "/pdfs/word_documents/aaaaaaaa_x.docx", RandomBytes(700, 4));
    WriteFile(root + "/markdown/7fafabb4.md", "# Paper\n\nSome text.\n");
    ::chmod((root + "/markdown/7fafabb4.md").c_str(), 0640);
  }
  std::vector<SnapshotSource> Sources() const {
    return {{"main", root + "/main.db", false, true},
            {"ai", root + "/ai.db", false, true},
            {"vector", root + "/vector", true, true},
            {"pdfs", root + "/pdfs", true, true},
            {"markdown", root + "/markdown", true, true},
            {"metadata", root + "/metadata", true, false}};
  }
  std::string root;
};

std::unique_ptr<Repository> OpenRepo(const std::string& dir, Env* env = Env::Default()) {
  auto r = Repository::Open(env, dir, true);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

int64_t CountRows(const std::string& path) {
  auto db = Db::OpenReadOnly(path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  auto n = db->QueryInt("SELECT count(*) FROM t");
  EXPECT_TRUE(n.ok());
  return n.ok() ? *n : -1;
}

std::string IntegrityCheck(const std::string& path) {
  auto db = Db::OpenReadOnly(path);
  if (!db.ok()) return db.status().ToString();
  auto st = db->Prepare("PRAGMA integrity_check");
  if (!st.ok()) return st.status().ToString();
  auto row = st->Step();
  if (!row.ok() || !*row) return "no row";
  return st->Text(0);
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& [p, d] : TreeDigest(dir, false)) {
    (void)d;
    FileInfo fi;
    EXPECT_TRUE(Env::Default()->Stat(dir + "/" + p, &fi).ok());
    if (fi.is_regular) n += fi.size;
  }
  return n;
}

class SnapshotCoreTest : public ::testing::Test {
 protected:
  // A snapshot of one Markdown file, ok.md: its manifest in *good and that
  // file's entry in *file, the material of the hand-made listings below.
  void SnapshotOneFile(Repository* repo, Manifest* good, ManifestFile* file) {
    std::string src = tmp_.Sub("src");
    WriteFile(src + "/ok.md", "fine\n");
    auto info = repo->Create({{"markdown", src, true, true}}, {});
    ASSERT_TRUE(info.ok());
    auto m = repo->LoadManifest(info->id);
    ASSERT_TRUE(m.ok());
    *good = *m;
    for (const auto& f : good->stores[0].files)
      if (f.path == "ok.md") *file = f;
  }
  // Writes good's manifest as snapshot id with the listing files (format 3:
  // the listing in the manifest itself; EncodeManifest writes formats 1-3)
  // and restores its store into target.
  Status RestoreHandMadeListing(Repository* repo, const Manifest& good, const std::string& id,
                                std::vector<ManifestFile> files, const std::string& target) {
    Manifest m = good;
    m.info.id = id;
    m.format_version = 3;
    m.stores[0].has_root = false;
    m.stores[0].files = std::move(files);
    WriteFile(repo_dir_ + "/snapshots/" + id, EncodeManifest(m));
    return repo->RestoreStore(id, "markdown", target, {});
  }

  TempDir tmp_;
  std::string repo_dir_ = tmp_.Sub("repo");
};

TEST_F(SnapshotCoreTest, RoundTripRestoresEveryStoreKind) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  std::vector<Progress> seen;
  CreateOptions co;
  co.label = "first";
  co.progress = [&](const Progress& p) { seen.push_back(p); };
  auto info = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id.size(), 15u);
  EXPECT_EQ(info->stores, (std::vector<std::string>{"main", "ai", "vector", "pdfs", "markdown"}));
  EXPECT_TRUE(info->warnings.empty());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().bytes_done, seen.back().bytes_total);

  auto list = repo->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].label, "first");
  EXPECT_EQ((*list)[0].files, info->files);

  std::string out = tmp_.Sub("out");
  for (const char* s : {"main", "ai"}) {
    ASSERT_TRUE(repo->RestoreStore(info->id, s, out + "/" + s + ".db", {}).ok()) << s;
    EXPECT_EQ(IntegrityCheck(out + "/" + s + ".db"), "ok");
  }
  EXPECT_EQ(CountRows(out + "/main.db"), 200);
  EXPECT_FALSE(Env::Default()->FileExists(out + "/main.db-wal"));
  EXPECT_FALSE(Env::Default()->FileExists(out + "/main.db-shm"));

  for (const char* s : {"pdfs", "markdown"}) {
    ASSERT_TRUE(repo->RestoreStore(info->id, s, out + "/" + s, {}).ok()) << s;
    EXPECT_EQ(TreeDigest(out + "/" + s), TreeDigest(inst.root + "/" + s)) << s;
  }
  ASSERT_TRUE(repo->RestoreStore(info->id, "vector", out + "/vector", {}).ok());
  auto want = TreeDigest(inst.root + "/vector");
  auto got = TreeDigest(out + "/vector");
  EXPECT_EQ(got.count("chroma.lock"), 0u);
  EXPECT_EQ(got["seg-1/data_level0.bin"], want["seg-1/data_level0.bin"]);
  EXPECT_EQ(got["link"], want["link"]);
  std::string link;
  ASSERT_TRUE(Env::Default()->ReadLink(out + "/vector/link", &link).ok());
  EXPECT_EQ(link, "seg-1/header.bin");
  EXPECT_EQ(IntegrityCheck(out + "/vector/chroma.sqlite3"), "ok");

  Status absent = repo->RestoreStore(info->id, "metadata", out + "/metadata", {});
  EXPECT_TRUE(absent.IsNotFound()) << absent.ToString();
  EXPECT_FALSE(Env::Default()->FileExists(out + "/metadata"));

  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  EXPECT_GT(rep->blobs_checked, 0u);
}

// Counts the opens of the repository's index files (every other call passes through).
class IndexReadCountingEnv : public FaultEnv {
 public:
  IndexReadCountingEnv() : FaultEnv(Env::Default()) {}
  Status NewSequentialFile(const std::string& p, std::unique_ptr<SequentialFile>* out) override {
    Note(p);
    return FaultEnv::NewSequentialFile(p, out);
  }
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override {
    Note(p);
    return FaultEnv::NewRandomAccessFile(p, out);
  }
  int index_opens() const { return index_opens_; }

 private:
  void Note(const std::string& p) {
    if (p.find("/index/") != std::string::npos) ++index_opens_;
  }
  std::atomic<int> index_opens_{0};
};

// Restoring every store of a snapshot loaded the whole blob index once per
// store (~0.3 s a store at 300,000 files); through OpenRestore it is read
// once, and each store comes back as RestoreStore brings it back.
TEST_F(SnapshotCoreTest, OpenRestoreReadsTheIndexOnceForEveryStoreOfTheSnapshot) {
  Install inst(tmp_.Sub("install"));
  std::string id;
  {
    auto repo = OpenRepo(repo_dir_);
    auto info = repo->Create(inst.Sources(), {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    id = info->id;
  }
  IndexReadCountingEnv env;
  auto repo = OpenRepo(repo_dir_, &env);
  auto restore = repo->OpenRestore(id);
  ASSERT_TRUE(restore.ok()) << restore.status().ToString();
  const int after_open = env.index_opens();
  ASSERT_GT(after_open, 0) << "the index was not read through the Env: the count proves nothing";
  std::string out = tmp_.Sub("out"), one_by_one = tmp_.Sub("one-by-one");
  for (const char* s : {"main", "ai", "vector", "pdfs", "markdown"}) {
    ASSERT_TRUE((*restore)->RestoreStore(s, out + "/" + s, {}).ok()) << s;
    ASSERT_TRUE(repo->RestoreStore(id, s, one_by_one + "/" + s, {}).ok()) << s;
    EXPECT_EQ(TreeDigest(out + "/" + s), TreeDigest(one_by_one + "/" + s)) << s;
  }
  EXPECT_EQ(TreeDigest(out + "/pdfs"), TreeDigest(inst.root + "/pdfs"));
  // Five RestoreStore calls read the index five times; OpenRestore's five stores none more.
  EXPECT_EQ(env.index_opens(), after_open * 6);
  Status absent = (*restore)->RestoreStore("metadata", out + "/metadata", {});
  EXPECT_TRUE(absent.IsNotFound()) << absent.ToString();
  Status wrong = (*repo->OpenRestore(id))->RestoreStore("nosuch", out + "/nosuch", {});
  EXPECT_TRUE(wrong.IsNotFound()) << wrong.ToString();
}

TEST_F(SnapshotCoreTest, RepositoryFilesArePrivate) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  ASSERT_TRUE(repo->Create(inst.Sources(), {}).ok());
  FileInfo fi;
  EXPECT_TRUE(Env::Default()->Stat(repo_dir_, &fi).ok());
  EXPECT_EQ(fi.mode, 0700u);
  for (const auto& [p, d] : TreeDigest(repo_dir_, false)) {
    (void)d;
    EXPECT_TRUE(Env::Default()->Stat(repo_dir_ + "/" + p, &fi).ok());
    EXPECT_EQ(fi.mode, fi.is_dir ? 0700u : 0600u) << p;
  }
}

TEST_F(SnapshotCoreTest, RestoreRefusesExistingTarget) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  auto info = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(info.ok());
  WriteFile(tmp_.Sub("out/pdfs/keep"), "mine");
  Status s = repo->RestoreStore(info->id, "pdfs", tmp_.Sub("out/pdfs"), {});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ReadFile(tmp_.Sub("out/pdfs/keep")), "mine");
}

TEST_F(SnapshotCoreTest, SecondSnapshotOfUnchangedDataStoresAlmostNothing) {
  Install inst(tmp_.Sub("install"));
  WriteFile(inst.root + "/pdfs/big.pdf", RandomBytes(6 << 20, 9));
  auto repo = OpenRepo(repo_dir_);
  auto a = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok());
  uint64_t before = DirBytes(repo_dir_);
  auto b = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->id, b->id);
  EXPECT_GT(a->stored_bytes, 6u << 20);
  // Only the manifest (and at most SQLite header pages) may be new.
  EXPECT_LT(b->stored_bytes, 16u * 1024) << b->stored_bytes;
  EXPECT_LT(DirBytes(repo_dir_) - before, 64u * 1024);
  EXPECT_EQ(a->logical_bytes, b->logical_bytes);
}

// The parent's files are looked up by (store, path) for every file of the next
// snapshot. Walk order is not byte order ("a" and its children come before
// "a-b" and "a.c", though '-' and '.' sort before '/'): every unchanged file,
// in any directory and of any size, must still be found and reused unread, and
// a changed one read again.
TEST_F(SnapshotCoreTest, ReuseFindsEveryUnchangedFileWhateverThePathOrder) {
  Install inst(tmp_.Sub("install"));
  const std::string pdfs = inst.root + "/pdfs";
  const std::vector<std::string> names = {"a/x", "a/y/z", "a-b", "a.c", "a-b.d/q", "a0", "B", "b", "\xc3\xa4/k", "a/y-1/m"};
  uint32_t seed = 100;
  for (const auto& n : names) {
    WriteFile(pdfs + "/" + n, RandomBytes(seed % 2 ? 300 : 3000, seed));
    ++seed;
  }
  auto repo = OpenRepo(repo_dir_);
  CreateOptions co;
  co.racy_margin_ms = 0;
  auto a = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->read_bytes, 0u) << "nothing changed: nothing should be read";
  auto am = repo->LoadManifest(a->id);
  auto bm = repo->LoadManifest(b->id);
  ASSERT_TRUE(am.ok() && bm.ok());
  ASSERT_EQ(am->stores.size(), bm->stores.size());
  for (size_t k = 0; k < am->stores.size(); ++k) {
    ASSERT_EQ(am->stores[k].files.size(), bm->stores[k].files.size()) << am->stores[k].name;
    for (size_t j = 0; j < am->stores[k].files.size(); ++j) {
      const ManifestFile& x = am->stores[k].files[j];
      const ManifestFile& y = bm->stores[k].files[j];
      EXPECT_EQ(x.path, y.path);
      EXPECT_EQ(x.size, y.size) << x.path;
      EXPECT_EQ(x.hash, y.hash) << x.path;
      EXPECT_EQ(x.chunks, y.chunks) << x.path;
      EXPECT_EQ(x.inode, y.inode) << x.path;
      EXPECT_EQ(x.mode, y.mode) << x.path;
      EXPECT_EQ(x.source_fingerprint, y.source_fingerprint) << x.path;
    }
  }

  // One changed file deep in the tree is read again (and only it).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string changed = RandomBytes(4000, 7);
  WriteFile(pdfs + "/a/y/z", changed);
  auto c = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->read_bytes, changed.size());
  ASSERT_TRUE(repo->RestoreStore(c->id, "pdfs", tmp_.Sub("c/pdfs"), {}).ok());
  EXPECT_EQ(TreeDigest(tmp_.Sub("c/pdfs"), false), TreeDigest(pdfs, false));
  EXPECT_EQ(ReadFile(tmp_.Sub("c/pdfs/a/y/z")), changed);
}

// An unchanged SQLite database (same fingerprint inside the read transaction)
// is not backed up again; any commit changes the fingerprint and is captured.
TEST_F(SnapshotCoreTest, UnchangedSqliteIsReusedUnreadAndEveryCommitIsCaptured) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  CreateOptions co;
  co.racy_margin_ms = 0;
  auto a = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_GT(a->read_bytes, 0u);
  auto am = repo->LoadManifest(a->id);
  ASSERT_TRUE(am.ok());
  EXPECT_EQ(am->format_version, kManifestFormatV4);  // a new repository is format 4
  EXPECT_FALSE(am->stores[0].files[0].source_fingerprint.empty());

  auto b = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->read_bytes, 0u) << "nothing changed: nothing should be read";
  ASSERT_TRUE(repo->RestoreStore(b->id, "main", tmp_.Sub("b/main.db"), {}).ok());
  EXPECT_EQ(CountRows(tmp_.Sub("b/main.db")), 200);
  EXPECT_EQ(IntegrityCheck(tmp_.Sub("b/main.db")), "ok");

  // A commit in WAL mode (the writer stays open: the row lives in the -wal)
  // and one in rollback mode; 20 ms apart so even a coarse clock ticks.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto w = Db::OpenReadWrite(inst.root + "/main.db", false);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Exec("INSERT INTO t(v) VALUES ('new')").ok());
  auto r = Db::OpenReadWrite(inst.root + "/ai.db", false);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->Exec("UPDATE t SET v = 'changed' WHERE id = 1").ok());
  ASSERT_TRUE(r->Close().ok());
  auto c = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GT(c->read_bytes, 0u);
  ASSERT_TRUE(repo->RestoreStore(c->id, "main", tmp_.Sub("c/main.db"), {}).ok());
  EXPECT_EQ(CountRows(tmp_.Sub("c/main.db")), 201);
  ASSERT_TRUE(repo->RestoreStore(c->id, "ai", tmp_.Sub("c/ai.db"), {}).ok());
  auto ai = Db::OpenReadOnly(tmp_.Sub("c/ai.db"));
  ASSERT_TRUE(ai.ok());
  EXPECT_EQ(*ai->QueryInt("SELECT count(*) FROM t WHERE v = 'changed'"), 1);
  auto report = repo->Verify({}, true);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
}

// A database changed just before it was examined gets no fingerprint (its
// timestamps could still hide a later write), so the next snapshot reads it.
TEST_F(SnapshotCoreTest, RacilyCleanSqliteIsReadAgainNextTime) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  CreateOptions co;
  co.racy_margin_ms = 3600 * 1000;  // everything counts as "just changed"
  auto a = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(a.ok());
  auto am = repo->LoadManifest(a->id);
  ASSERT_TRUE(am.ok());
  EXPECT_TRUE(am->stores[0].files[0].source_fingerprint.empty());
  auto b = repo->Create(inst.Sources(), co);
  ASSERT_TRUE(b.ok());
  FileInfo main_fi;
  ASSERT_TRUE(Env::Default()->Stat(inst.root + "/main.db", &main_fi).ok());
  EXPECT_GE(b->read_bytes, main_fi.size);
}

TEST_F(SnapshotCoreTest, SmallChangeInBigFileAddsOnlyChangedChunks) {
  Install inst(tmp_.Sub("install"));
  std::string big = RandomBytes(24 << 20, 11);
  WriteFile(inst.root + "/vector/seg-1/data_level0.bin", big);
  auto repo = OpenRepo(repo_dir_);
  ASSERT_TRUE(repo->Create(inst.Sources(), {}).ok());
  // Insert 100 bytes in the middle: everything after shifts, yet content-defined
  // boundaries resynchronise within a chunk or two.
  big.insert(big.size() / 2, RandomBytes(100, 12));
  WriteFile(inst.root + "/vector/seg-1/data_level0.bin", big);
  auto b = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(b.ok());
  EXPECT_LT(b->stored_bytes, 9u << 20) << b->stored_bytes;
  ASSERT_TRUE(repo->RestoreStore(b->id, "vector", tmp_.Sub("out"), {}).ok());
  EXPECT_EQ(ReadFile(tmp_.Sub("out/seg-1/data_level0.bin")), big);
}

class FixedClockEnv : public FaultEnv {
 public:
  FixedClockEnv() : FaultEnv(Env::Default()) {}
  int64_t NowMicros() override { return now; }
  int64_t now = 1754663422000000;  // 2025-08-08T14:30:22Z
};

TEST_F(SnapshotCoreTest, IdsSharingASecondGetSuffixesAndResolve) {
  Install inst(tmp_.Sub("install"));
  FixedClockEnv env;
  auto repo = OpenRepo(repo_dir_, &env);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    env.now += 1000;
    auto info = repo->Create(inst.Sources(), {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    ids.push_back(info->id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"20250808_143022", "20250808_143022_2", "20250808_143022_3"}));
  env.now += 3600LL * 1000000;
  auto later = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->id, "20250808_153022");

  EXPECT_EQ(*repo->ResolveId("latest"), "20250808_153022");
  EXPECT_EQ(*repo->ResolveId("20250808_143022"), "20250808_143022");
  EXPECT_EQ(*repo->ResolveId("20250808_143022_2"), "20250808_143022_2");
  EXPECT_EQ(*repo->ResolveId("20250808_15"), "20250808_153022");
  EXPECT_EQ(*repo->ResolveId("2025-08-08T15:00:00Z"), "20250808_143022_3");
  EXPECT_EQ(*repo->ResolveId("2025-08-09"), "20250808_153022");
  auto amb = repo->ResolveId("20250808_");
  EXPECT_EQ(amb.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(amb.status().message().find("ambiguous"), std::string::npos);
  EXPECT_TRUE(repo->ResolveId("2024-01-01").status().IsNotFound());
  EXPECT_TRUE(repo->ResolveId("nonsense").status().IsNotFound());
}

TEST_F(SnapshotCoreTest, SnapshotDuringFullSpeedWalWritesRestoresIntactDatabase) {
  Install inst(tmp_.Sub("install"), 2000);
  std::atomic<bool> stop{false};
  std::atomic<int> commits{0};
  std::thread writer([&] {
    auto db = Db::OpenReadWrite(inst.root + "/main.db", false);
    ASSERT_TRUE(db.ok());
    while (!stop) {
      db->Exec("BEGIN; INSERT INTO t(v) VALUES (hex(randomblob(200))); UPDATE t SET v = hex(randomblob(30)) WHERE id = abs(random()) % 2000; COMMIT")
          .IgnoreError("load beside a snapshot: a busy commit is retried by the next loop");
      commits++;
    }
  });
  while (commits < 50) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto repo = OpenRepo(repo_dir_);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto info = repo->Create(inst.Sources(), {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    ids.push_back(info->id);
  }
  stop = true;
  writer.join();
  for (const auto& id : ids) {
    std::string out = tmp_.Sub("out-" + id + ".db");
    ASSERT_TRUE(repo->RestoreStore(id, "main", out, {}).ok());
    EXPECT_EQ(IntegrityCheck(out), "ok") << id;
    EXPECT_GE(CountRows(out), 2000);
  }
}

// An Env under which a file grows every time it is opened for reading: it
// never holds still between the before- and after-read stat.
class GrowingFileEnv : public FaultEnv {
 public:
  explicit GrowingFileEnv(std::string path) : FaultEnv(Env::Default()), path_(std::move(path)) {}
  Status NewSequentialFile(const std::string& p, std::unique_ptr<SequentialFile>* out) override {
    Status s = FaultEnv::NewSequentialFile(p, out);
    if (p == path_) {
      opens++;
      testing::WriteFile(p, ReadFile(p) + "more");
    }
    return s;
  }
  int opens = 0;

 private:
  std::string path_;
};

// Index files that cannot be opened (EIO, ENOENT from a fault injector).
class IndexUnreadableEnv : public FaultEnv {
 public:
  IndexUnreadableEnv() : FaultEnv(Env::Default()) {}
  Status NewSequentialFile(const std::string& p, std::unique_ptr<SequentialFile>* out) override {
    if (fail && p.find("/index/") != std::string::npos) return Status::NotFound("open " + p + ": injected ENOENT");
    return FaultEnv::NewSequentialFile(p, out);
  }
  bool fail = false;
};

// An index file that cannot be read is an I/O problem to retry, not damage:
// the message must not send the user to look for corruption.
TEST_F(SnapshotCoreTest, UnreadableIndexIsReportedAsIoErrorNotAsDamage) {
  Install inst(tmp_.Sub("install"));
  IndexUnreadableEnv env;
  auto repo = OpenRepo(repo_dir_, &env);
  ASSERT_TRUE(repo->Create(inst.Sources(), {}).ok());
  env.fail = true;
  auto b = repo->Create(inst.Sources(), {});
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.status().IsIoError()) << b.status().ToString();
  EXPECT_EQ(b.status().ToString().find("damaged"), std::string::npos) << b.status().ToString();
  EXPECT_NE(b.status().ToString().find("reading index file"), std::string::npos) << b.status().ToString();
  env.fail = false;
  auto list = repo->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);
}

TEST_F(SnapshotCoreTest, FileChangingWhileReadIsReadAgainThenRecordedAsWarning) {
  Install inst(tmp_.Sub("install"));
  std::string path = inst.root + "/pdfs/growing.log";
  WriteFile(path, RandomBytes(100000, 5));
  GrowingFileEnv env(path);
  auto repo = OpenRepo(repo_dir_, &env);
  auto info = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(env.opens, 3);
  ASSERT_EQ(info->warnings.size(), 1u);
  EXPECT_NE(info->warnings[0].find("pdfs/growing.log"), std::string::npos);
  auto m = repo->LoadManifest(info->id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->info.warnings, info->warnings);
  auto rep = repo->Verify({info->id}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  // Still: what was recorded restores exactly as it was read.
  ASSERT_TRUE(repo->RestoreStore(info->id, "pdfs", tmp_.Sub("out"), {}).ok());
}

// A file written to WHILE it is read (after the first read of an attempt,
// through the same inode, as a log writer does). Each open of the file takes
// the next step of `plan`: 'a' appends `grow` bytes (the saver reads past the
// size its stat gave, growing its buffer), 't' rewrites one byte in place and
// moves the mtime (same size: the attempt is read again, the buffer not grown),
// '-' does nothing.
class WriteDuringReadEnv : public FaultEnv {
 public:
  WriteDuringReadEnv(std::string path, size_t grow, std::string plan)
      : FaultEnv(Env::Default()), path_(std::move(path)), grow_(grow), plan_(std::move(plan)) {}
  Status NewSequentialFile(const std::string& p, std::unique_ptr<SequentialFile>* out) override {
    MAESTRO_RETURN_IF_ERROR(FaultEnv::NewSequentialFile(p, out));
    if (p == path_ && opens_ < plan_.size()) *out = std::make_unique<Writing>(std::move(*out), this, plan_[opens_]);
    if (p == path_) ++opens_;
    return Status::OK();
  }
  void Write(char step) {
    // Not O_APPEND for 't': Linux's pwrite appends on such a descriptor.
    int fd = ::open(path_.c_str(), step == 'a' ? O_WRONLY | O_APPEND : O_WRONLY);
    ASSERT_GE(fd, 0);
    if (step == 'a') {
      std::string more = RandomBytes(grow_, static_cast<uint32_t>(100 + appended_++));
      ASSERT_EQ(::write(fd, more.data(), more.size()), static_cast<ssize_t>(more.size()));
    } else if (step == 't') {
      ASSERT_EQ(::pwrite(fd, "x", 1, 0), 1);
      struct timespec times[2] = {{0, UTIME_OMIT}, {1700000000 + ++touched_, 0}};
      ASSERT_EQ(::futimens(fd, times), 0);
    }
    ::close(fd);
  }
  int appended_ = 0, touched_ = 0;

 private:
  class Writing : public SequentialFile {
   public:
    Writing(std::unique_ptr<SequentialFile> in, WriteDuringReadEnv* env, char step)
        : in_(std::move(in)), env_(env), step_(step) {}
    Status Read(size_t n, char* scratch, size_t* got) override {
      Status s = in_->Read(n, scratch, got);
      if (!done_) env_->Write(step_);
      done_ = true;
      return s;
    }

   private:
    std::unique_ptr<SequentialFile> in_;
    WriteDuringReadEnv* env_;
    char step_;
    bool done_ = false;
  };
  std::string path_;
  size_t grow_;
  std::string plan_;
  size_t opens_ = 0;
};

// What a snapshot keeps of a file that grew past its stat while it was read is
// the file as that read saw it, every byte. "tta": the kept (third) read is the
// one whose buffer, sized from the stat, had to grow mid-read, and the bytes it
// held then must survive. "a": the growth is seen, the re-read is whole.
// "aaa": every try saw it grow; the last read is kept, with a warning.
TEST_F(SnapshotCoreTest, FileGrowingPastItsStatDuringTheReadIsSavedByteForByte) {
  for (const std::string plan : {"tta", "a", "aaa"}) {
    SCOPED_TRACE("what each read of the file sees written: " + plan);
    Install inst(tmp_.Sub("install-" + plan));
    std::string path = inst.root + "/pdfs/growing.log";
    WriteFile(path, RandomBytes(100000, 5));
    // 9 MiB: past the first buffer (the stat's 100 kB) and past several chunks.
    WriteDuringReadEnv env(path, 9u << 20, plan);
    auto repo = OpenRepo(tmp_.Sub("repo-" + plan), &env);
    auto info = repo->Create(inst.Sources(), {});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->warnings.size(), plan.size() == 3 ? 1u : 0u);
    std::string now = ReadFile(path);
    ASSERT_EQ(now.size(), 100000u + static_cast<size_t>(env.appended_) * (9u << 20));
    std::string out = tmp_.Sub("out-" + plan);
    ASSERT_TRUE(repo->RestoreStore(info->id, "pdfs", out, {}).ok());
    std::string restored = ReadFile(out + "/growing.log");
    EXPECT_EQ(restored.size(), now.size());
    EXPECT_TRUE(restored == now) << "the restored bytes differ from the file the last read saw";
    auto rep = repo->Verify({info->id}, true);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok());
  }
}

// Every byte of every file of a small repository, flipped in turn, is caught:
// either the repository (config) no longer opens with a Corruption error, or
// Verify(read_data) reports a problem. The lock files are not repository data.
TEST_F(SnapshotCoreTest, VerifyDetectsEveryFlippedByte) {
  std::string src = tmp_.Sub("small");
  WriteFile(src + "/a.md", "alpha alpha alpha alpha\n");
  WriteFile(src + "/b/c.json", "{\"doc_id\": \"7fafabb4\"}\n");
  symlink("a.md", (src + "/l").c_str());
  auto repo = OpenRepo(repo_dir_);
  std::vector<SnapshotSource> sources = {{"markdown", src, true, true}};
  auto info = repo->Create(sources, {});
  ASSERT_TRUE(info.ok());
  WriteFile(src + "/d.md", "delta\n");
  ASSERT_TRUE(repo->Create(sources, {}).ok());
  repo.reset();

  std::vector<std::string> files;
  for (const auto& [p, d] : TreeDigest(repo_dir_, false)) {
    (void)d;
    FileInfo fi;
    EXPECT_TRUE(Env::Default()->Stat(repo_dir_ + "/" + p, &fi).ok());
    if (fi.is_regular && p.rfind("lock", 0) != 0) files.push_back(repo_dir_ + "/" + p);
  }
  ASSERT_GE(files.size(), 6u);  // config, 2 manifests, 2 indexes, 2 packs
  size_t flips = 0;
  for (const auto& f : files) {
    std::string orig = ReadFile(f);
    for (size_t i = 0; i < orig.size(); ++i) {
      std::string bad = orig;
      bad[i] ^= 0x20;
      WriteFile(f, bad);
      auto r = Repository::Open(Env::Default(), repo_dir_, false);
      bool detected;
      if (!r.ok()) {
        detected = r.status().IsCorruption();
      } else {
        auto rep = (*r)->Verify({}, true);
        detected = !rep.ok() || !rep->ok();
      }
      EXPECT_TRUE(detected) << "flip of byte " << i << " of " << f << " went unnoticed";
      ++flips;
    }
    WriteFile(f, orig);
  }
  EXPECT_GT(flips, 500u);
  auto r = Repository::Open(Env::Default(), repo_dir_, false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->Verify({}, true)->ok());
}

TEST_F(SnapshotCoreTest, VerifyNamesSnapshotsAndPathsADamagedPackAffects) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  auto a = repo->Create(inst.Sources(), {});
  auto b = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok() && b.ok());
  // Damage the middle of the pack holding the data_level0.bin chunk.
  auto m = repo->LoadManifest(a->id);
  Hash128 chunk;
  for (const auto& st : m->stores)
    for (const auto& f : st.files)
      if (f.path == "seg-1/data_level0.bin") chunk = f.chunks[0];
  std::string pack;
  for (const auto& [p, d] : TreeDigest(repo_dir_ + "/packs", false)) {
    (void)d;
    std::string bytes = ReadFile(repo_dir_ + "/packs/" + p);
    // Format 4: blob ids are in the pack's trailing header, not beside the blob.
    auto entries = DecodePack(bytes, Hash128(), p);
    ASSERT_TRUE(entries.ok()) << entries.status().ToString();
    for (const auto& e : *entries)
      if (e.blob == chunk) {
        pack = repo_dir_ + "/packs/" + p;
        bytes[e.offset + 100] ^= 1;
        WriteFile(pack, bytes);
      }
  }
  ASSERT_FALSE(pack.empty());
  auto quick = repo->Verify({}, false);
  ASSERT_TRUE(quick.ok());
  EXPECT_TRUE(quick->ok());  // sizes still right: only --read-data reads content
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  std::set<std::string> hit;
  for (const auto& p : rep->problems)
    if (!p.snapshot_id.empty()) hit.insert(p.snapshot_id + ":" + p.store + "/" + p.path);
  EXPECT_EQ(hit, (std::set<std::string>{a->id + ":vector/seg-1/data_level0.bin", b->id + ":vector/seg-1/data_level0.bin"}));

  Status s = repo->RestoreStore(a->id, "vector", tmp_.Sub("out"), {});
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("seg-1/data_level0.bin"), std::string::npos) << s.ToString();
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("out")));
  EXPECT_EQ(TreeDigest(tmp_.path()).count("out.restore-tmp-" + std::to_string(getpid())), 0u);
}

TEST_F(SnapshotCoreTest, VerifyWithoutReadDataFindsMissingPack) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  auto a = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok());
  for (const auto& [p, d] : TreeDigest(repo_dir_ + "/packs", false)) {
    (void)d;
    ::truncate((repo_dir_ + "/packs/" + p).c_str(), 100);
  }
  auto rep = repo->Verify({}, false);
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok());
}

// A lost index file must not make the next writer delete the packs it named: their
// blobs are indexed again from the packs' own headers, and every snapshot verifies
// and restores. (Before, CleanLeftovers deleted every pack no index named.)
TEST_F(SnapshotCoreTest, LostIndexIsRebuiltFromThePacksNotDeleted) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  auto a = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok());
  auto digest_a = TreeDigest(inst.root + "/pdfs");
  WriteFile(inst.root + "/pdfs/7fafabb4_paper.pdf", RandomBytes(9000, 77));  // only in b
  auto b = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(b.ok());
  auto digest_b = TreeDigest(inst.root + "/pdfs");
  const auto packs_before = TreeDigest(repo_dir_ + "/packs");
  ASSERT_TRUE(Env::Default()->RemoveTree(repo_dir_ + "/index").ok());
  ASSERT_TRUE(Env::Default()->CreateDir(repo_dir_ + "/index").ok());
  ASSERT_FALSE(repo->Verify({}, false)->ok()) << "without an index the snapshots cannot be read";

  // The next writer: content changed again, so nothing of a or b is written anew.
  WriteFile(inst.root + "/pdfs/7fafabb4_paper.pdf", RandomBytes(9000, 78));
  auto c = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const auto& [p, d] : packs_before) EXPECT_TRUE(Env::Default()->FileExists(repo_dir_ + "/packs/" + p)) << p;
  auto v = repo->Verify({}, true);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << (v->problems.empty() ? "" : v->problems[0].detail);
  ASSERT_TRUE(repo->RestoreStore(a->id, "pdfs", tmp_.Sub("out-a"), {}).ok());
  ASSERT_TRUE(repo->RestoreStore(b->id, "pdfs", tmp_.Sub("out-b"), {}).ok());
  EXPECT_EQ(TreeDigest(tmp_.Sub("out-a")), digest_a);
  EXPECT_EQ(TreeDigest(tmp_.Sub("out-b")), digest_b);
  // GC afterwards keeps what a, b and c need and nothing is left unindexed.
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_TRUE(repo->Verify({}, true)->ok());
}

// An unindexed pack whose bytes do not match its name is left for verify to
// report, not deleted and not indexed; GC also leaves it.
TEST_F(SnapshotCoreTest, DamagedUnindexedPackIsKeptNotDeletedOrIndexed) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  auto a = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok());
  auto packs = TreeDigest(repo_dir_ + "/packs");
  ASSERT_EQ(packs.size(), 1u);
  std::string pack = repo_dir_ + "/packs/" + packs.begin()->first;
  std::string bytes = ReadFile(pack);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteFile(pack, bytes);
  ASSERT_TRUE(Env::Default()->RemoveTree(repo_dir_ + "/index").ok());
  ASSERT_TRUE(Env::Default()->CreateDir(repo_dir_ + "/index").ok());
  WriteFile(inst.root + "/pdfs/new.pdf", RandomBytes(3000, 5));
  ASSERT_TRUE(repo->Create(inst.Sources(), {}).ok());
  ASSERT_TRUE(repo->RemoveUnreferencedData(false).ok());
  EXPECT_TRUE(Env::Default()->FileExists(pack)) << "the damaged pack may hold the only copy of something";
  EXPECT_EQ(ReadFile(pack), bytes);
}

// A hand-made manifest must not make restore write outside the target.
TEST_F(SnapshotCoreTest, RestoreRefusesPathTraversalInManifest) {
  auto repo = OpenRepo(repo_dir_);
  Manifest good;
  ManifestFile file;
  ASSERT_NO_FATAL_FAILURE(SnapshotOneFile(repo.get(), &good, &file));

  auto try_manifest = [&](std::vector<ManifestFile> files, const std::string& name) {
    std::string target = tmp_.Sub("t-" + name);
    Status s = RestoreHandMadeListing(repo.get(), good, "20300101_000000", std::move(files), target);
    EXPECT_TRUE(s.IsCorruption()) << name << ": " << s.ToString();
    EXPECT_NE(s.message().find("refusing"), std::string::npos) << name << ": " << s.ToString();
    EXPECT_FALSE(Env::Default()->FileExists(target)) << name;
  };
  ManifestFile up = file;
  up.path = "../escaped.md";
  try_manifest({up}, "dotdot");
  ManifestFile abs = file;
  abs.path = tmp_.Sub("escaped-abs.md");
  try_manifest({abs}, "absolute");
  ManifestFile link;
  link.type = ManifestFile::Type::kSymlink;
  link.path = "out";
  link.link_target = tmp_.path();
  ManifestFile through = file;
  through.path = "out/escaped-link.md";
  try_manifest({link, through}, "symlink-parent");
  ManifestFile over = file;
  over.path = "out";
  try_manifest({link, over}, "symlink-overwrite");
  ManifestFile mid = file;
  mid.path = "a/../../escaped-mid.md";
  try_manifest({mid}, "mid-dotdot");

  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("escaped.md")));
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("escaped-abs.md")));
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("escaped-link.md")));
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("escaped-mid.md")));
}

// A file is created exclusively (O_EXCL, Env::NewExclusiveFile): one listed
// twice, or over a symlink that leads nowhere yet (a create through it would
// plant a file wherever it points), is Corruption and nothing is left.
TEST_F(SnapshotCoreTest, RestoreRefusesAFileListedTwiceOrOverADanglingSymlink) {
  auto repo = OpenRepo(repo_dir_);
  Manifest good;
  ManifestFile file;
  ASSERT_NO_FATAL_FAILURE(SnapshotOneFile(repo.get(), &good, &file));
  ManifestFile root = good.stores[0].files[0];
  ASSERT_TRUE(root.path.empty());
  ManifestFile dangling;
  dangling.type = ManifestFile::Type::kSymlink;
  dangling.path = "ok.md";
  dangling.link_target = tmp_.Sub("planted.md");
  int n = 0;
  for (const auto& files : {std::vector<ManifestFile>{root, file, file}, std::vector<ManifestFile>{root, dangling, file}}) {
    ++n;
    std::string target = tmp_.Sub("t" + std::to_string(n));
    Status s = RestoreHandMadeListing(repo.get(), good, "2030010" + std::to_string(n) + "_000000", files, target);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find("twice"), std::string::npos) << s.ToString();
    EXPECT_FALSE(Env::Default()->FileExists(target));
  }
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("planted.md")));
}

TEST_F(SnapshotCoreTest, DamagedManifestIsNotRestoredAndIsReported) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  auto a = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok());
  std::string path = repo_dir_ + "/snapshots/" + a->id;
  std::string bytes = ReadFile(path);
  bytes[bytes.size() / 2] ^= 4;
  WriteFile(path, bytes);
  Status s = repo->RestoreStore(a->id, "main", tmp_.Sub("out.db"), {});
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  auto rep = repo->Verify({}, false);
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->problems.size(), 1u);
  EXPECT_EQ(rep->problems[0].snapshot_id, a->id);
  // GC refuses to guess what a damaged manifest needs: it removes nothing, saying why.
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_NE(gc->skipped.find("snap repair"), std::string::npos) << gc->skipped;
  EXPECT_EQ(gc->blobs_removed, 0u);
}

TEST_F(SnapshotCoreTest, KillDuringCreateLeavesNoListedSnapshotAndCleanVerify) {
  Install inst(tmp_.Sub("install"));
  WriteFile(inst.root + "/pdfs/big.pdf", RandomBytes(20 << 20, 21));  // > one pack
  for (const char* point : {"snap.after_pack", "snap.after_pack:2", "snap.after_index", "snap.before_manifest"}) {
    SCOPED_TRACE(point);
    TempDir t;
    std::string dir = t.Sub("repo");
    ASSERT_TRUE(Repository::Open(Env::Default(), dir, true).ok());
    // No racy margin: with one, an SQLite fingerprint left out by the dead
    // run (its database changed under 2 s before) but kept by the next one
    // made their listings differ, and the test depended on the clock.
    CreateOptions co;
    co.racy_margin_ms = 0;
    RunChildUntilCrash(point, [&] {
      auto r = Repository::Open(Env::Default(), dir, false);
      if (r.ok()) (*r)->Create(inst.Sources(), co).IgnoreError("the child is killed at the crash point");
    });
    auto repo = OpenRepo(dir);
    EXPECT_TRUE(repo->List()->empty());
    EXPECT_TRUE(repo->Verify({}, true)->ok());
    // The next run cleans or reuses what the dead one left.
    auto info = repo->Create(inst.Sources(), co);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_TRUE(repo->Verify({}, true)->ok());
    std::vector<DirEntry> tmp_entries;
    ASSERT_TRUE(Env::Default()->ListDir(dir + "/tmp", &tmp_entries).ok());
    EXPECT_TRUE(tmp_entries.empty());
    ASSERT_TRUE(repo->RestoreStore(info->id, "pdfs", t.Sub("out"), {}).ok());
    EXPECT_EQ(TreeDigest(t.Sub("out")), TreeDigest(inst.root + "/pdfs"));
    // No pack is left that no index names (a GC would have nothing to do).
    auto gc = repo->RemoveUnreferencedData(true);
    ASSERT_TRUE(gc.ok());
    EXPECT_EQ(gc->packs_removed, 0u);
  }
  // Killed right after the commit point: the snapshot is complete and listed.
  TempDir t;
  RunChildUntilCrash("snap.after_manifest", [&] {
    auto r = Repository::Open(Env::Default(), t.Sub("repo"), true);
    if (r.ok()) (*r)->Create(inst.Sources(), {}).IgnoreError("the child is killed at the crash point");
  });
  auto repo = OpenRepo(t.Sub("repo"));
  EXPECT_EQ(repo->List()->size(), 1u);
  EXPECT_TRUE(repo->Verify({}, true)->ok());
}

TEST_F(SnapshotCoreTest, DiskFullAtAnyWriteLeavesNoListedSnapshot) {
  Install inst(tmp_.Sub("install"));
  ASSERT_TRUE(Repository::Open(Env::Default(), repo_dir_, true).ok());
  FaultEnv probe(Env::Default());
  {
    TempDir t;
    auto r = Repository::Open(&probe, t.Sub("repo"), true);
    probe.ResetCounts();
    ASSERT_TRUE((*r)->Create(inst.Sources(), {}).ok());
  }
  int writes = probe.Count(FaultEnv::Op::kWrite);
  ASSERT_GT(writes, 2);
  // A fresh repository each time, so write n is the same write in every run (a
  // failed run's complete packs are indexed again by the next one and not
  // rewritten, which would shift the count). The last run goes into repo_dir_
  // after all of them have failed there too, in order.
  bool shared_done = false;
  for (int n = 1; n <= writes; ++n) {
    TempDir t;
    for (const std::string& dir : {t.Sub("repo"), repo_dir_}) {
      if (dir == repo_dir_ && shared_done) continue;
      FaultEnv env(Env::Default());
      env.FailAt(FaultEnv::Op::kWrite, n, ENOSPC, true);
      ASSERT_TRUE(Repository::Open(Env::Default(), dir, true).ok());
      auto r = Repository::Open(&env, dir, false);
      ASSERT_TRUE(r.ok());
      auto info = (*r)->Create(inst.Sources(), {});
      if (dir == repo_dir_ && info.ok()) {  // earlier runs' packs made this one need fewer writes
        shared_done = true;
        continue;
      }
      ASSERT_FALSE(info.ok()) << "write " << n;
      EXPECT_EQ(info.status().err_no(), ENOSPC) << info.status().ToString();
      auto repo = OpenRepo(dir);
      EXPECT_TRUE(repo->List()->empty()) << "write " << n;
    }
  }
  auto repo = OpenRepo(repo_dir_);
  if (!shared_done) {
    ASSERT_TRUE(repo->Create(inst.Sources(), {}).ok());
  }
  EXPECT_EQ(repo->List()->size(), 1u);
  EXPECT_TRUE(repo->Verify({}, true)->ok());
}

TEST_F(SnapshotCoreTest, PowerCutDuringCreateNeverListsAPartialSnapshot) {
  Install inst(tmp_.Sub("install"));
  for (int n = 1; n <= 12; ++n) {
    SCOPED_TRACE(n);
    TempDir t;
    std::string dir = t.Sub("repo");
    ASSERT_TRUE(Repository::Open(Env::Default(), dir, true).ok());
    FaultEnv env(Env::Default());
    env.PowerCutAt(FaultEnv::Op::kSync, n);
    {
      auto r = Repository::Open(&env, dir, false);
      ASSERT_TRUE(r.ok());
      (*r)->Create(inst.Sources(), {}).IgnoreError("the power cut makes it fail; the check is what survives");
    }
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    auto repo = OpenRepo(dir);
    auto list = repo->List();
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    auto rep = repo->Verify({}, true);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
    for (const auto& s : *list) ASSERT_TRUE(repo->RestoreStore(s.id, "pdfs", t.Sub("out-" + s.id), {}).ok());
  }
}

TEST_F(SnapshotCoreTest, DeleteThenGcRemovesOnlyUnreferencedData) {
  Install inst(tmp_.Sub("install"));
  auto repo = OpenRepo(repo_dir_);
  WriteFile(inst.root + "/pdfs/old.pdf", RandomBytes(3 << 20, 31));
  auto a = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(Env::Default()->RemoveFile(inst.root + "/pdfs/old.pdf").ok());
  WriteFile(inst.root + "/pdfs/new.pdf", RandomBytes(2 << 20, 32));
  auto b = repo->Create(inst.Sources(), {});
  ASSERT_TRUE(b.ok());
  uint64_t before = DirBytes(repo_dir_ + "/packs");

  ASSERT_TRUE(repo->DeleteSnapshots({a->id}).ok());
  EXPECT_EQ(repo->List()->size(), 1u);
  auto dry = repo->RemoveUnreferencedData(true);
  ASSERT_TRUE(dry.ok());
  EXPECT_GT(dry->blobs_removed, 0u);
  EXPECT_EQ(DirBytes(repo_dir_ + "/packs"), before);
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->blobs_removed, dry->blobs_removed);
  EXPECT_GE(gc->packs_rewritten, 1u);
  EXPECT_LT(DirBytes(repo_dir_ + "/packs"), before - (3u << 20) + (64u << 10));
  EXPECT_TRUE(repo->Verify({}, true)->ok());
  ASSERT_TRUE(repo->RestoreStore(b->id, "pdfs", tmp_.Sub("out"), {}).ok());
  EXPECT_EQ(TreeDigest(tmp_.Sub("out")), TreeDigest(inst.root + "/pdfs"));
  auto again = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->blobs_removed, 0u);
  EXPECT_TRUE(repo->DeleteSnapshots({"20000101_000000"}).IsNotFound());
}

TEST_F(SnapshotCoreTest, KillDuringGcNeverLosesDataOfListedSnapshot) {
  Install inst(tmp_.Sub("install"));
  for (const char* point : {"gc.after_new_pack", "gc.after_new_packs", "gc.after_index", "gc.before_delete_packs",
                            "gc.after_delete_packs"}) {
    SCOPED_TRACE(point);
    TempDir t;
    std::string dir = t.Sub("repo");
    std::string src = t.Sub("src");
    WriteFile(src + "/keep.pdf", RandomBytes(1 << 20, 41));
    WriteFile(src + "/gone.pdf", RandomBytes(1 << 20, 42));
    std::vector<SnapshotSource> sources = {{"pdfs", src, true, true}};
    std::string keep_id;
    {
      auto repo = OpenRepo(dir);
      auto a = repo->Create(sources, {});
      ASSERT_TRUE(Env::Default()->RemoveFile(src + "/gone.pdf").ok());
      auto b = repo->Create(sources, {});
      ASSERT_TRUE(a.ok() && b.ok());
      keep_id = b->id;
      ASSERT_TRUE(repo->DeleteSnapshots({a->id}).ok());
    }
    RunChildUntilCrash(point, [&] {
      auto r = Repository::Open(Env::Default(), dir, false);
      if (r.ok()) (*r)->RemoveUnreferencedData(false).IgnoreError("the child is killed at the crash point");
    });
    auto repo = OpenRepo(dir);
    auto rep = repo->Verify({}, true);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok());
    ASSERT_TRUE(repo->RestoreStore(keep_id, "pdfs", t.Sub("out"), {}).ok());
    EXPECT_EQ(TreeDigest(t.Sub("out")), TreeDigest(src));
    ASSERT_TRUE(repo->RemoveUnreferencedData(false).ok());
    EXPECT_TRUE(repo->Verify({}, true)->ok());
    EXPECT_LT(DirBytes(dir + "/packs"), (1u << 20) + (256u << 10));
  }
}

TEST_F(SnapshotCoreTest, OpenMissingRepositoryIsNotFoundAndDamagedConfigIsCorruption) {
  auto r = Repository::Open(Env::Default(), repo_dir_, false);
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_FALSE(Env::Default()->FileExists(repo_dir_));
  ASSERT_TRUE(Repository::Open(Env::Default(), repo_dir_, true).ok());
  std::string cfg = ReadFile(repo_dir_ + "/config");
  cfg[30] ^= 1;
  WriteFile(repo_dir_ + "/config", cfg);
  EXPECT_TRUE(Repository::Open(Env::Default(), repo_dir_, false).status().IsCorruption());
}

TEST(ManifestCodecTest, RoundTripsAndRejectsTruncation) {
  Manifest m;
  m.info.id = "20250808_143022";
  m.info.created_micros = 42;
  m.info.label = "l";
  m.info.trigger = "pre-reset";
  m.info.warnings = {"pdfs/x: changed"};
  ManifestStore st;
  st.name = "pdfs";
  st.is_directory = true;
  ManifestFile f;
  f.path = "a";
  f.chunks = {Hash128{1, 2}, Hash128{3, 4}};
  f.hash = Hash128{5, 6};
  f.size = 7;
  f.inode = 8;
  st.files.push_back(f);
  ManifestFile l;
  l.type = ManifestFile::Type::kSymlink;
  l.path = "l";
  l.link_target = "a";
  st.files.push_back(l);
  m.stores.push_back(st);
  std::string enc = EncodeManifest(m);
  auto d = DecodeManifest(enc, "t");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(EncodeManifest(*d), enc);
  EXPECT_EQ(d->info.stores, std::vector<std::string>{"pdfs"});
  for (size_t n = 0; n < enc.size(); ++n) EXPECT_FALSE(DecodeManifest(enc.substr(0, n), "t").ok());
}

// Format 2 adds the SQLite source fingerprint; format 1 manifests still read.
TEST(ManifestCodecTest, Version2CarriesSqliteFingerprintAndVersion1StillDecodes) {
  Manifest m;
  m.info.id = "20250808_143022";
  ManifestStore st;
  st.name = "main";
  ManifestFile f;
  f.sqlite_backup = true;
  f.source_fingerprint = "v1 db=1:2:3:4:5 wal=- journal=-";
  f.chunks = {Hash128{1, 2}};
  st.files.push_back(f);
  m.stores.push_back(st);
  m.format_version = kManifestFormatVersion;
  auto d2 = DecodeManifest(EncodeManifest(m), "t");
  ASSERT_TRUE(d2.ok()) << d2.status().ToString();
  EXPECT_EQ(d2->stores[0].files[0].source_fingerprint, f.source_fingerprint);
  m.format_version = 1;
  auto d1 = DecodeManifest(EncodeManifest(m), "t");
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  EXPECT_EQ(d1->format_version, 1u);
  EXPECT_TRUE(d1->stores[0].files[0].source_fingerprint.empty());
  EXPECT_EQ(d1->stores[0].files[0].chunks, f.chunks);
  m.format_version = kManifestFormatVersion + 1;
  auto d3 = DecodeManifest(EncodeManifest(m), "t");
  ASSERT_FALSE(d3.ok());
  EXPECT_NE(d3.status().ToString().find("not supported"), std::string::npos) << d3.status().ToString();
}

}  // namespace
}  // namespace maestro
