// tests/streaming_create_test.cc — `snap create` in bounded memory (issue 14
// point 2, snapshot/archiver.h): the listing order and its comparator, the
// streaming tree writer against the whole-listing cut, the plan file, index
// files in pieces, and whole creates whose stores are many batches long, with
// the parent read in step.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <filesystem>
#include <random>

#include "snapshot/archive_walk.h"
#include "snapshot/archiver.h"
#include "snapshot/backend.h"
#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/chunker.h"
#include "snapshot/file_saver.h"
#include "snapshot/pack_writer.h"
#include "snapshot/pending_blobs.h"
#include "snapshot/plan_file.h"
#include "snapshot/publish.h"
#include "snapshot/read_ahead.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "snapshot/sqlite_capture.h"
#include "snapshot/tree.h"
#include "tests/support/fault_env.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

// ---------------------------------------------------------------- listing order

TEST(ListingOrder, AFoldersSubtreeComesRightAfterItBeforeNamesThatExtendIt) {
  EXPECT_LT(CompareListingPaths("", "a"), 0);
  EXPECT_LT(CompareListingPaths("a", "a/b"), 0);
  EXPECT_LT(CompareListingPaths("a/b", "a-c"), 0);  // plain string order says the opposite
  EXPECT_GT(std::string("a/b").compare("a-c"), 0);
  EXPECT_LT(CompareListingPaths("a/zzz/q", "a!"), 0);
  EXPECT_LT(CompareListingPaths("a/b", "a/b/c"), 0);
  EXPECT_LT(CompareListingPaths("a/b/c", "a/b0"), 0);
  EXPECT_LT(CompareListingPaths("a", "\xc3\xa9"), 0);  // bytes compare unsigned
  EXPECT_LT(CompareListingPaths("x/\xc3\xa9", "x0"), 0);
  EXPECT_EQ(CompareListingPaths("a/b", "a/b"), 0);
  EXPECT_GT(CompareListingPaths("a-c", "a/b"), 0);
}

// The walk emits exactly the comparator's order, on names chosen to tell it
// from plain string order.
TEST(ListingOrder, TheWalkEmitsEntriesInListingOrder) {
  TempDir t;
  const std::string root = t.Sub("store");
  for (const char* p : {"a/b", "a/c/d", "a-c", "a.b", "a0", "a!x", "ab/x", "b", "a/c-d/e", "a/c.d"})
    WriteFile(root + "/" + p, p);
  SnapshotSource src;
  src.store = "s";
  src.path = root;
  src.is_directory = true;
  ManifestStore st;
  st.name = "s";
  std::vector<std::string> warnings;
  ASSERT_TRUE(StoreWalker(Env::Default()).PlanStore(src, &st, &warnings).ok());
  std::vector<std::string> paths;
  for (const auto& f : st.files) paths.push_back(f.path);
  std::vector<std::string> sorted = paths;
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return CompareListingPaths(a, b) < 0; });
  EXPECT_EQ(paths, sorted);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "a/c/d"), paths.end());
  EXPECT_LT(std::find(paths.begin(), paths.end(), "a/c/d"), std::find(paths.begin(), paths.end(), "a-c"));
}

// ---------------------------------------------------------------- tree writer

// The whole-listing cut of docs/format-4.md, written out here as the spec:
// the stream of all entries, cut by the chunker at the first entry boundary
// at or after each cut.
std::vector<TreeBlob> WholeListingCut(const std::vector<ManifestFile>& files) {
  std::string stream;
  std::vector<size_t> ends;
  for (const auto& f : files) {
    EncodeTreeEntry(f, &stream);
    ends.push_back(stream.size());
  }
  ChunkerParams p;  // docs/repository-format.md "Tree blobs"
  p.min_size = 4 * 1024;
  p.avg_size = 16 * 1024;
  p.max_size = 64 * 1024;
  const Chunker chunker(p);
  std::vector<TreeBlob> out;
  size_t pos = 0, e = 0;
  while (pos < stream.size()) {
    size_t cut = pos + chunker.FindCut(reinterpret_cast<const uint8_t*>(stream.data() + pos), stream.size() - pos);
    while (e < ends.size() && ends[e] < cut) ++e;
    size_t end = e < ends.size() ? ends[e] : stream.size();
    TreeBlob b;
    b.plain = "T" + stream.substr(pos, end - pos);
    b.id = PlainSealer()->BlobId(b.plain);
    out.push_back(std::move(b));
    pos = end;
  }
  return out;
}

std::vector<ManifestFile> Listing(size_t n, uint32_t seed, size_t big_every = 0) {
  std::mt19937 rng(seed);
  std::vector<ManifestFile> v;
  for (size_t i = 0; i < n; ++i) {
    ManifestFile f;
    f.path = "d" + std::to_string(i / 50) + "/file-" + std::to_string(rng()) + ".md";
    f.size = rng();
    f.mtime_ns = rng();
    f.inode = rng();
    f.hash = Hash128{rng(), rng()};
    // Now and then an entry larger than the largest tree blob (a 20 GiB file's chunk list).
    size_t chunks = big_every && i % big_every == big_every - 1 ? 20000 : 1 + rng() % 3;
    for (size_t c = 0; c < chunks; ++c) f.chunks.push_back(Hash128{rng(), c});
    v.push_back(std::move(f));
  }
  return v;
}

TEST(TreeWriterTest, StreamedEntriesGiveTheBlobsOfTheWholeListingCut) {
  for (auto [n, big] : std::vector<std::pair<size_t, size_t>>{{0, 0}, {1, 0}, {40, 0}, {9000, 0}, {3000, 700}}) {
    SCOPED_TRACE(n);
    std::vector<ManifestFile> files = Listing(n, static_cast<uint32_t>(n + 1), big);
    std::vector<TreeBlob> got;
    TreeWriter w(*PlainSealer(), [&](const TreeBlob& b) {
      got.push_back(b);
      return Status::OK();
    });
    for (const auto& f : files) ASSERT_TRUE(w.Add(f).ok());
    ManifestStore st;
    ASSERT_TRUE(w.Finish(&st).ok());
    std::vector<TreeBlob> want = WholeListingCut(files);
    ASSERT_EQ(got.size(), want.size() + 1);  // the root last
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].id, want[i].id) << i;
      EXPECT_EQ(got[i].plain, want[i].plain) << i;
      EXPECT_EQ(st.tree_blobs[i], want[i].id);
    }
    EXPECT_EQ(st.root, got.back().id);
    EXPECT_TRUE(st.has_root);
    if (n >= 9000) {
      EXPECT_GT(want.size(), 3u);
    }
    // And SplitStoreTree (the whole listing at once, `snap copy`) agrees.
    ManifestStore whole;
    whole.files = files;
    std::vector<TreeBlob> split = SplitStoreTree(&whole, *PlainSealer());
    ASSERT_EQ(split.size(), got.size());
    EXPECT_EQ(whole.root, st.root);
  }
}

// ---------------------------------------------------------------- plan file

TEST(PlanFileTest, EntriesComeBackInOrderAndACutShortFileIsCorruption) {
  TempDir t;
  const std::string path = t.Sub("x.plan");
  std::vector<ManifestFile> files = Listing(5000, 3);
  files[7].type = ManifestFile::Type::kSymlink;
  files[7].chunks.clear();
  files[7].link_target = "../elsewhere";
  files[9].sqlite_backup = true;
  files[9].source_fingerprint = "v1 db=1:2:3";
  {
    PlanWriter w(Env::Default(), path);
    ASSERT_TRUE(w.Open().ok());
    for (const auto& f : files) ASSERT_TRUE(w.Add(f).ok());
    ASSERT_TRUE(w.Close().ok());
  }
  PlanReader r(Env::Default(), path);
  ASSERT_TRUE(r.Open().ok());
  ManifestFile f;
  size_t n = 0;
  while (r.Next(&f)) {
    ASSERT_LT(n, files.size());
    EXPECT_EQ(f.path, files[n].path);
    EXPECT_EQ(f.chunks, files[n].chunks);
    EXPECT_EQ(f.link_target, files[n].link_target);
    EXPECT_EQ(f.source_fingerprint, files[n].source_fingerprint);
    ++n;
  }
  EXPECT_TRUE(r.status().ok()) << r.status().ToString();
  EXPECT_EQ(n, files.size());
  std::string bytes = ReadFile(path);
  WriteFile(path, bytes.substr(0, bytes.size() - 5));
  PlanReader cut(Env::Default(), path);
  ASSERT_TRUE(cut.Open().ok());
  n = 0;
  while (cut.Next(&f)) ++n;
  EXPECT_TRUE(cut.status().IsCorruption()) << cut.status().ToString();
  EXPECT_EQ(n, files.size() - 1);
}

// ---------------------------------------------------------------- index in pieces

// A new format-4 repository and a PackWriter on it.
class PackWriterIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Repository::Open(Env::Default(), dir_, true).ok());
    ASSERT_TRUE(files_.EnsureScratch().ok());
  }
  TempDir t_;
  const std::string dir_ = t_.Sub("repo");
  std::unique_ptr<Backend> backend_ = NewLocalBackend(Env::Default(), dir_);
  RepoFiles files_{Env::Default(), backend_.get(), dir_, kRepoFormatV4, PlainSealer().get()};
  PackWriter w_{files_, ""};
};

TEST_F(PackWriterIndexTest, PublishIndexWritesAPieceAndForgetsIt) {
  PackWriter& w = w_;
  const std::string& dir = dir_;
  std::vector<Hash128> ids;
  for (int piece = 0; piece < 3; ++piece) {
    for (int i = 0; i < 10; ++i) {
      std::string d = RandomBytes(1000, piece * 100 + i);
      ids.push_back(PlainSealer()->BlobId(d));
      ASSERT_TRUE(w.Add(ids.back(), d.size(), d, BlobCodec::kRaw).ok());
    }
    ASSERT_TRUE(w.Finish().ok());
    EXPECT_EQ(w.unindexed(), 10u);
    ASSERT_TRUE(w.PublishIndex().ok());
    EXPECT_EQ(w.unindexed(), 0u);
    EXPECT_TRUE(w.entries().empty());
  }
  ASSERT_TRUE(w.PublishIndex().ok());  // nothing new: no file
  std::vector<DirEntry> index_files;
  ASSERT_TRUE(Env::Default()->ListDir(dir + "/index", &index_files).ok());
  EXPECT_EQ(index_files.size(), 3u);
  uint64_t bytes = 0;
  for (const auto& e : index_files) bytes += ReadFile(dir + "/index/" + e.name).size();
  EXPECT_EQ(w.index_bytes(), bytes);
  BlobIndex idx;
  ASSERT_TRUE(LoadIndex(files_, &idx, true, nullptr, nullptr).ok());
  for (const auto& id : ids) EXPECT_TRUE(idx.Contains(id));
}

// Tiny blobs: a pack is sealed at 8192 of them, not only at 16 MiB, so the
// entries a writer holds for its open pack stay bounded.
TEST_F(PackWriterIndexTest, APackOfTinyBlobsIsSealedAt8192Blobs) {
  PackWriter& w = w_;
  const std::string& dir = dir_;
  for (int i = 0; i < 8192; ++i) {
    std::string d = "blob " + std::to_string(i);
    ASSERT_TRUE(w.Add(PlainSealer()->BlobId(d), d.size(), d, BlobCodec::kRaw).ok());
  }
  ASSERT_TRUE(w.WaitForPublishes().ok());  // sealed by the 8192nd Add, published in the background
  EXPECT_EQ(w.unindexed(), 8192u);         // without Finish
  std::vector<DirEntry> packs;
  ASSERT_TRUE(Env::Default()->ListDir(dir + "/packs", &packs).ok());
  EXPECT_EQ(packs.size(), 1u);
}

// Review of the archiver: the set of tree blobs one snapshot stored (shared
// by its stores' ListingWriters, so equal listings store their blobs once)
// was a HashSet without a bound. It is a PendingBlobs now: under a tiny
// budget it spills to its scratch folder and still claims each tree blob
// once, so the second store of the same listing adds nothing.
TEST_F(PackWriterIndexTest, ListingWritersShareABoundedSetOfTheTreeBlobsTheyStored) {
  const std::vector<ManifestFile> listing = Listing(9000, 3);
  PendingBlobs added(Env::Default(), t_.Sub("cache"), 64);  // spills every few ids
  const BlobHeld held = [](const Hash128&) { return false; };
  ManifestStore a, b;
  for (ManifestStore* st : {&a, &b}) {
    ListingWriter lw(files_, &w_, held, &added, st);
    for (ManifestFile f : listing) ASSERT_TRUE(lw.Add(std::move(f)).ok());
    ASSERT_TRUE(lw.Finish().ok());
    ASSERT_TRUE(added.Settle().ok());
  }
  ASSERT_TRUE(w_.Finish().ok());
  EXPECT_EQ(a.root, b.root);
  ASSERT_GT(a.tree_blobs.size(), 3u);
  EXPECT_EQ(w_.entries().size(), a.tree_blobs.size() + 1);  // and the root: each once
  EXPECT_GT(added.spills(), 0u);
}

// A blob claimed in an earlier batch (settled into the sorted list) is not
// claimed again; a new one is claimed once.
// The read-ahead (snapshot/read_ahead.h) hints each file worth it (a size
// given, kMinBytes or more) once, and none further ahead than kWindowBytes
// past the one being read; the one being read and the small ones never.
TEST(ReadAheadTest, HintsEachLargeFileOnceAndNoneBeyondTheWindow) {
  struct Recording : FaultEnv {
    using FaultEnv::FaultEnv;
    void PrefetchFile(const std::string& path) override { hinted.push_back(path); }
    std::vector<std::string> hinted;
  };
  Recording env(Env::Default());
  const uint64_t q = ReadAhead::kWindowBytes / 4;
  ReadAhead ahead(&env, {q, ReadAhead::kMinBytes - 1, 0, q, q, q, q, q}, [](size_t i) { return "f" + std::to_string(i); });
  ahead.Advance(0);
  EXPECT_EQ(env.hinted, (std::vector<std::string>{"f3", "f4", "f5", "f6"})) << "f7 lies past the window";
  ahead.Advance(1);
  ahead.Advance(2);
  EXPECT_EQ(env.hinted.size(), 4u) << "nothing more came into the window";
  ahead.Advance(3);
  ahead.Advance(7);
  EXPECT_EQ(env.hinted, (std::vector<std::string>{"f3", "f4", "f5", "f6", "f7"}));
}

// PlanAhead (snapshot/read_ahead.h) reads the plan file across stores and
// hints the large regular files that are not SQLite, in plan order, never
// more than kWindowBytes past the readers' bytes done.
TEST(ReadAheadTest, PlanAheadHintsAcrossStoresWithinTheWindowOfTheBytesDone) {
  struct Recording : FaultEnv {
    using FaultEnv::FaultEnv;
    void PrefetchFile(const std::string& path) override {
      std::lock_guard<std::mutex> l(mu);
      hinted.push_back(path);
    }
    std::vector<std::string> Hinted() {
      std::lock_guard<std::mutex> l(mu);
      return hinted;
    }
    std::mutex mu;
    std::vector<std::string> hinted;
  };
  TempDir t;
  const std::string path = t.Sub("plan");
  const uint64_t q = ReadAhead::kWindowBytes / 2;
  auto file = [](const std::string& p, uint64_t size, bool sqlite = false) {
    ManifestFile f;
    f.path = p;
    f.type = ManifestFile::Type::kFile;
    f.size = size;
    f.sqlite_backup = sqlite;
    return f;
  };
  ManifestFile dir;
  dir.path = "d";
  dir.type = ManifestFile::Type::kDir;
  {
    PlanWriter w(Env::Default(), path);
    ASSERT_TRUE(w.Open().ok());
    for (const ManifestFile& f : {file("a", q), file("db", 5 * q, true), file("small", ReadAhead::kMinBytes - 1)})
      ASSERT_TRUE(w.Add(f).ok());  // store 0
    for (const ManifestFile& f : {dir, file("b", q), file("c", q), file("e", q)}) ASSERT_TRUE(w.Add(f).ok());  // store 1
    ASSERT_TRUE(w.Close().ok());
  }
  const std::vector<uint64_t> planned = {3, 4};
  Recording env(Env::Default());
  std::atomic<uint64_t> done{0};
  auto settled = [&](size_t n) {  // the hints once n have come (or 5 s passed), and 50 ms more
    for (int i = 0; i < 500 && env.Hinted().size() < n; ++i) env.SleepMicros(10000);
    env.SleepMicros(50000);
    return env.Hinted();
  };
  PlanAhead ahead(&env, path, planned, {0, 1}, [](size_t k, const ManifestFile& f) { return std::to_string(k) + "/" + f.path; },
                  &done);
  EXPECT_EQ(settled(2), (std::vector<std::string>{"0/a", "1/b"})) << "1/c lies past the window";
  done = q;
  EXPECT_EQ(settled(3), (std::vector<std::string>{"0/a", "1/b", "1/c"}));
  done = 10 * q;
  EXPECT_EQ(settled(4), (std::vector<std::string>{"0/a", "1/b", "1/c", "1/e"}));
}

TEST(PendingBlobsTest, ClaimsSurviveSettleAndEachIdIsClaimedOnce) {
  PendingBlobs p;
  std::vector<Hash128> ids;
  for (uint64_t i = 0; i < 100; ++i) ids.push_back(Hash128{i * 7919, i});
  for (size_t i = 0; i < 50; ++i) EXPECT_TRUE(p.Claim(ids[i]));
  EXPECT_FALSE(p.Claim(ids[3]));
  ASSERT_TRUE(p.Settle().ok());
  for (size_t i = 0; i < 50; ++i) EXPECT_FALSE(p.Claim(ids[i]));
  for (size_t i = 50; i < 100; ++i) EXPECT_TRUE(p.Claim(ids[i]));
  ASSERT_TRUE(p.Settle().ok());
  ASSERT_TRUE(p.Settle().ok());  // nothing new
  for (const auto& id : ids) EXPECT_FALSE(p.Claim(id));
  EXPECT_TRUE(p.Claim(Hash128{1, 1}));
}

// ---------------------------------------------------------------- whole creates

void MakeDb(const std::string& path, int rows) {
  auto db = Db::OpenReadWrite(path, true);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x TEXT)").ok());
  for (int i = 0; i < rows; ++i) ASSERT_TRUE(db->Exec("INSERT INTO t VALUES('row " + std::to_string(i) + "')").ok());
}

class StreamingCreate : public ::testing::Test {
 protected:
  void SetUp() override {
    // 3 stores; "docs" is many batches long, with folders, a symlink, a FIFO,
    // an SQLite file with a -wal companion and names that sort differently
    // component-wise and as plain strings.
    for (int i = 0; i < 120; ++i) {
      std::string d = i % 3 == 0 ? "a" : (i % 3 == 1 ? "a-c" : "a/b");
      WriteFile(docs_ + "/" + d + "/f" + std::to_string(1000 + i) + ".md", "doc " + std::to_string(i) + "\n" +
                                                                               std::string(600 + i, 'x'));
    }
    WriteFile(docs_ + "/big.bin", RandomBytes(3 << 20, 5));
    ASSERT_EQ(symlink("a/f1000.md", (docs_ + "/link").c_str()), 0);
    ASSERT_EQ(mkfifo((docs_ + "/a/pipe").c_str(), 0600), 0);
    MakeDb(docs_ + "/a/b/index.sqlite3", 40);
    WriteFile(docs_ + "/a/b/index.sqlite3-wal", "");
    MakeDb(t_.Sub("main.db"), 30);
    ASSERT_TRUE(Repository::Open(Env::Default(), dir_, true).ok());
    backend_ = NewLocalBackend(Env::Default(), dir_);
    files_ = std::make_unique<RepoFiles>(Env::Default(), backend_.get(), dir_, kRepoFormatV4, PlainSealer().get());
    co_.racy_margin_ms = 0;
  }
  std::vector<SnapshotSource> Sources() const {
    auto source = [](const std::string& store, const std::string& path, bool dir, bool present) {
      SnapshotSource s;
      s.store = store;
      s.path = path;
      s.is_directory = dir;
      s.present = present;
      return s;
    };
    return {source("main", t_.Sub("main.db"), false, true), source("docs", docs_, true, true),
            source("gone", t_.Sub("none"), true, false)};
  }
  Result<SnapshotInfo> Create(size_t batch) {
    CreateLimits l;
    l.batch_entries = batch;
    return CreateSnapshot(*files_, Sources(), co_, l);
  }
  Manifest Load(const std::string& id) {
    auto m = LoadManifest(*files_, id);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Manifest();
  }

  TempDir t_;
  std::string docs_ = t_.Sub("docs"), dir_ = t_.Sub("repo");
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<RepoFiles> files_;
  CreateOptions co_;
};

// A store of ~130 entries in batches of 7 gives the same listing (the same
// tree blobs) as in one batch, restores to the same files, and warns as before.
TEST_F(StreamingCreate, AStoreLargerThanOneBatchListsAndRestoresAsInOneBatch) {
  auto one = Create(100000);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  auto many = Create(7);
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  Manifest a = Load(one->id), b = Load(many->id);
  ASSERT_EQ(a.stores.size(), 3u);
  ASSERT_EQ(b.stores.size(), 3u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(a.stores[k].root, b.stores[k].root) << a.stores[k].name;
    ASSERT_EQ(a.stores[k].files.size(), b.stores[k].files.size());
  }
  EXPECT_FALSE(b.stores[2].present);
  EXPECT_GT(b.stores[1].files.size(), 7u * 10);
  EXPECT_EQ(many->files, one->files);
  EXPECT_EQ(many->logical_bytes, one->logical_bytes);
  EXPECT_LT(many->stored_bytes, 1024u);  // nothing changed: the manifest alone
  bool fifo = false;
  for (const auto& w : many->warnings) fifo |= w.find("docs/a/pipe: a FIFO") != std::string::npos;
  EXPECT_TRUE(fifo);
  int sqlite = 0;
  for (const auto& f : b.stores[1].files) {
    EXPECT_NE(f.path, "a/b/index.sqlite3-wal");
    if (f.sqlite_backup) {
      sqlite++;
      EXPECT_EQ(f.path, "a/b/index.sqlite3");
    }
  }
  EXPECT_EQ(sqlite, 1);
  auto repo = Repository::Open(Env::Default(), dir_, false);
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE((*repo)->RestoreStore(many->id, "docs", t_.Sub("out"), {}).ok());
  auto got = TreeDigest(t_.Sub("out"), false), want = TreeDigest(docs_, false);
  want.erase("a/pipe");
  want.erase("a/b/index.sqlite3-wal");
  want.erase("a/b/index.sqlite3");
  got.erase("a/b/index.sqlite3");  // a backup copy: its bytes differ, its rows do not
  EXPECT_EQ(got, want);
  auto db = Db::OpenReadOnly(t_.Sub("out") + "/a/b/index.sqlite3");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM t"), 40);
  auto rep = (*repo)->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
}

// The parent is read in step with the walk across batch boundaries: nothing
// unchanged is read again, and a changed file in a late batch is the only
// one read.
TEST_F(StreamingCreate, ParentIsReusedAcrossBatches) {
  auto first = Create(5);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_GT(first->read_bytes, 3u << 20);
  auto second = Create(5);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->read_bytes, 0u);
  const std::string changed = docs_ + "/a/b/f1119.md";
  WriteFile(changed, "changed, and longer than it was before the change\n" + std::string(900, 'y'));
  auto third = Create(3);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->read_bytes, ReadFile(changed).size());
  Manifest m = Load(third->id);
  bool found = false;
  for (const auto& f : m.stores[1].files)
    if (f.path == "a/b/f1119.md") {
      found = true;
      EXPECT_EQ(f.size, ReadFile(changed).size());
    }
  EXPECT_TRUE(found);
}

// A parent whose listing cannot be read reuses nothing and wrongs nothing:
// every file is read again and the snapshot is whole.
TEST_F(StreamingCreate, AnUnreadableParentListingMeansEverythingIsReadAgain) {
  auto first = Create(6);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Manifest m = Load(first->id);
  // The docs listing's first tree blob's index entry is withheld: an index
  // without it (every other entry kept) stands in for a lost tree blob.
  BlobIndex idx;
  ASSERT_TRUE(LoadIndex(*files_, &idx, true, nullptr, nullptr).ok());
  std::vector<IndexEntry> kept;
  ASSERT_TRUE(idx.ForEach([&](const IndexEntry& e) {
                   if (e.blob != m.stores[1].tree_blobs[0]) kept.push_back(e);
                   return Status::OK();
                 }).ok());
  std::vector<DirEntry> index_files;
  ASSERT_TRUE(Env::Default()->ListDir(dir_ + "/index", &index_files).ok());
  for (const auto& e : index_files) ASSERT_TRUE(Env::Default()->RemoveFile(dir_ + "/index/" + e.name).ok());
  ASSERT_TRUE(WriteIndexFile(*files_, kept).ok());
  // The pack stays named by the other entries, so no writer indexes it again.
  auto second = Create(6);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(second->read_bytes, 3u << 20);
  auto repo = Repository::Open(Env::Default(), dir_, false);
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE((*repo)->RestoreStore(second->id, "docs", t_.Sub("out"), {}).ok());
  auto got = TreeDigest(t_.Sub("out"), false), want = TreeDigest(docs_, false);
  EXPECT_EQ(got.at("big.bin"), want.at("big.bin"));
  EXPECT_EQ(got.at("a/b/f1119.md"), want.at("a/b/f1119.md"));
}

// Every index entry of the repository at files, duplicates included, and
// the distinct blobs among them.
void CountIndexEntries(const RepoFiles& files, size_t* entries, size_t* blobs) {
  std::vector<Hash128> ids;
  ASSERT_TRUE(ForEachIndexEntry(files, true, nullptr, nullptr, [&](const IndexEntry& e) { ids.push_back(e.blob); }).ok());
  *entries = ids.size();
  std::sort(ids.begin(), ids.end());
  *blobs = static_cast<size_t>(std::unique(ids.begin(), ids.end()) - ids.begin());
}

// With a memory budget so small that the create's pending blob set spills to
// cache/ many times (snapshot/pending_blobs.h), the snapshot is the one an
// unbounded create makes: the same listing, every blob stored once (files of
// the same content in far-apart batches included), and it verifies.
TEST_F(StreamingCreate, ATinyMemoryBudgetSpillsThePendingSetAndStoresTheSameSnapshot) {
  for (int i = 0; i < 120; i += 7)  // the bytes of docs/<a, a-c or a/b>/f<1000+i>.md
    WriteFile(docs_ + "/z/copy" + std::to_string(i) + ".md", "doc " + std::to_string(i) + "\n" + std::string(600 + i, 'x'));
  auto roomy = Create(5);
  ASSERT_TRUE(roomy.ok()) << roomy.status().ToString();
  const std::string tiny_dir = t_.Sub("tiny");
  ASSERT_TRUE(Repository::Open(Env::Default(), tiny_dir, true).ok());
  auto backend = NewLocalBackend(Env::Default(), tiny_dir);
  RepoFiles tiny(Env::Default(), backend.get(), tiny_dir, kRepoFormatV4, PlainSealer().get());
  tiny.set_memory_budget(1024);
  CreateLimits l;
  l.batch_entries = 5;
  auto small = CreateSnapshot(tiny, Sources(), co_, l);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  Manifest a = Load(roomy->id);
  auto b = LoadManifest(tiny, small->id);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(a.stores.size(), b->stores.size());
  for (size_t k = 0; k < a.stores.size(); ++k) EXPECT_EQ(a.stores[k].root, b->stores[k].root) << a.stores[k].name;
  size_t roomy_entries = 0, roomy_blobs = 0, tiny_entries = 0, tiny_blobs = 0;
  CountIndexEntries(*files_, &roomy_entries, &roomy_blobs);
  CountIndexEntries(tiny, &tiny_entries, &tiny_blobs);
  EXPECT_EQ(tiny_blobs, roomy_blobs);
  EXPECT_EQ(tiny_entries, tiny_blobs) << "a blob was stored twice";
  EXPECT_EQ(roomy_entries, roomy_blobs);
  EXPECT_GT(tiny_blobs, 120u);
  auto repo = Repository::Open(Env::Default(), tiny_dir, false);
  ASSERT_TRUE(repo.ok());
  auto rep = (*repo)->Verify({}, true);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->ok());
}

// ---------------------------------------------------------------- SQLite captures beside the readers

// A Create that fails early leaves its BackgroundCapture unfinished: its
// destructor used to wait for every database of the plan to be copied, only
// for the copies to be thrown away. Now no capture starts after it (the one
// running ends first), and Cancel's stop is not reported as an error.
TEST(BackgroundCaptureTest, LeftUnfinishedItStartsNoFurtherCapture) {
  TempDir t;
  const std::string root = t.Sub("dbs"), tmp = t.Sub("tmp");
  std::filesystem::create_directories(root);
  std::filesystem::create_directories(tmp);
  constexpr int kDbs = 60;
  Manifest plan;
  plan.info.id = "t";
  plan.stores.resize(1);
  plan.stores[0].name = "s";
  for (int i = 0; i < kDbs; ++i) {
    const std::string name = "db" + std::to_string(i) + ".sqlite";
    auto db = Db::OpenReadWrite(root + "/" + name, true);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(20000));").ok());
    ManifestFile f;
    f.path = name;
    f.sqlite_backup = true;
    plan.stores[0].files.push_back(f);
  }
  SnapshotSource src;
  src.store = "s";
  src.path = root;
  src.is_directory = true;
  const std::vector<SnapshotSource> sources{src};
  ParentFiles<ManifestFile> parent;
  StoredBlobs stored(std::vector<Hash128>{});
  SqliteCapture capture(Env::Default(), tmp, sources, parent, stored, 0);
  auto captured = [](const Manifest& m) {
    int n = 0;
    for (const auto& f : m.stores[0].files) n += f.size > 0;
    return n;
  };
  {
    Manifest m = plan;
    SqliteStates states;
    TempFiles temps{Env::Default(), {}};
    { BackgroundCapture left(&capture, &m, &states, &temps); }
    EXPECT_LT(captured(m), kDbs) << "every database was copied after Create had given up";
  }
  {
    Manifest m = plan;
    SqliteStates states;
    TempFiles temps{Env::Default(), {}};
    BackgroundCapture cancelled(&capture, &m, &states, &temps);
    cancelled.Cancel();
    Status s = cancelled.Finish();
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_LT(captured(m), kDbs);
  }
  {
    Manifest m = plan;  // and, never cancelled, it copies them all
    SqliteStates states;
    TempFiles temps{Env::Default(), {}};
    BackgroundCapture whole(&capture, &m, &states, &temps);
    ASSERT_TRUE(whole.Finish().ok());
    EXPECT_EQ(captured(m), kDbs);
  }
}

// The SQLite captures run beside the readers (snapshot/sqlite_capture.h
// BackgroundCapture): one that fails (a file with SQLite's magic that is no
// database) fails the snapshot with its message, while the readers were
// storing the other files; nothing is listed and no backup copy stays in tmp/.
TEST_F(StreamingCreate, ACaptureThatFailsBesideTheReadersFailsTheSnapshotAndListsNothing) {
  WriteFile(docs_ + "/a/b/zz.sqlite3", std::string("SQLite format 3\0", 16) + RandomBytes(8192, 9));
  auto r = Create(5);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().ToString().find("online backup of store docs"), std::string::npos) << r.status().ToString();
  auto repo = Repository::Open(Env::Default(), dir_, false);
  ASSERT_TRUE(repo.ok());
  auto list = (*repo)->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
  for (const auto& e : std::filesystem::directory_iterator(files_->TmpDir()))
    EXPECT_EQ(e.path().string().find(".sqlite"), std::string::npos) << e.path();
  // Put right, the same repository takes the snapshot.
  ASSERT_EQ(unlink((docs_ + "/a/b/zz.sqlite3").c_str()), 0);
  auto again = Create(5);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

// Step 5 takes the stores with no SQLite file first (the captures run beside
// them: snapshot/archiver.cc StoreOrder), reading the plan from each store's
// own start: the manifest keeps the sources' order, and every store restores
// as it was.
TEST_F(StreamingCreate, StoresWithoutSqliteGoFirstAndEveryStoreRestoresAsItWas) {
  const std::string plain = t_.Sub("plain");
  for (int i = 0; i < 20; ++i) WriteFile(plain + "/p" + std::to_string(i), RandomBytes(1000 + 97 * i, 40 + i));
  std::vector<SnapshotSource> sources = Sources();
  sources.resize(2);  // main (SQLite), docs (an SQLite file inside)
  SnapshotSource p = sources[1];
  p.store = "plain";
  p.path = plain;
  sources.insert(sources.begin() + 1, p);  // main, plain, docs: stored plain, main, docs
  CreateLimits l;
  l.batch_entries = 3;
  auto r = CreateSnapshot(*files_, sources, co_, l);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Manifest m = Load(r->id);
  ASSERT_EQ(m.stores.size(), 3u);
  EXPECT_EQ(m.stores[0].name, "main");
  EXPECT_EQ(m.stores[1].name, "plain");
  EXPECT_EQ(m.stores[2].name, "docs");
  auto repo = Repository::Open(Env::Default(), dir_, false);
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE((*repo)->RestoreStore(r->id, "plain", t_.Sub("out-plain"), {}).ok());
  EXPECT_EQ(TreeDigest(t_.Sub("out-plain"), false), TreeDigest(plain, false));
  ASSERT_TRUE((*repo)->RestoreStore(r->id, "docs", t_.Sub("out-docs"), {}).ok());
  auto db = Db::OpenReadOnly(t_.Sub("out-docs") + "/a/b/index.sqlite3");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM t"), 40);
  auto rep = (*repo)->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
}

// Format 3 keeps the whole listing in its manifest: batches still fill it
// entry by entry, and its parent (a whole-listing head) is reused the same way.
TEST_F(StreamingCreate, AFormat3RepositoryGetsItsWholeListingInTheManifestFromBatches) {
  const std::string old = t_.Sub("old");
  std::filesystem::copy(std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/data/format3_repo", old,
                        std::filesystem::copy_options::recursive);
  auto backend = NewLocalBackend(Env::Default(), old);
  RepoFiles v3(Env::Default(), backend.get(), old, kRepoFormatVersion, PlainSealer().get());
  CreateLimits l;
  l.batch_entries = 4;
  auto first = CreateSnapshot(v3, Sources(), co_, l);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto head = LoadManifestHead(v3, first->id);
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->format_version, kManifestFormatVersion);
  ASSERT_EQ(head->stores.size(), 3u);
  EXPECT_FALSE(head->stores[1].has_root);
  size_t files = 0;
  for (const auto& st : head->stores)
    for (const auto& f : st.files) files += f.type == ManifestFile::Type::kFile;
  EXPECT_EQ(files, first->files);
  EXPECT_GT(head->stores[1].files.size(), 100u);
  auto second = CreateSnapshot(v3, Sources(), co_, l);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->read_bytes, 0u);
  auto repo = Repository::Open(Env::Default(), old, false);
  ASSERT_TRUE(repo.ok());
  auto rep = (*repo)->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
}

}  // namespace
}  // namespace maestro
