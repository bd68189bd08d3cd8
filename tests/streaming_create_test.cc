// tests/streaming_create_test.cc — `snap create` in bounded memory (issue 14
// point 2, snapshot/archiver.h): the listing order and its comparator, the
// streaming tree writer against the whole-listing cut, the plan file, index
// files in pieces, and whole creates whose stores are many batches long, with
// the parent read in step.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "snapshot/archive_walk.h"
#include "snapshot/archiver.h"
#include "snapshot/backend.h"
#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/chunker.h"
#include "snapshot/pack_writer.h"
#include "snapshot/plan_file.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "snapshot/tree.h"
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
  ChunkerParams p;
  p.min_size = 16 * 1024;
  p.avg_size = 64 * 1024;
  p.max_size = 256 * 1024;
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

TEST(PackWriterIndexTest, PublishIndexWritesAPieceAndForgetsIt) {
  TempDir t;
  const std::string dir = t.Sub("repo");
  ASSERT_TRUE(Repository::Open(Env::Default(), dir, true).ok());
  auto backend = NewLocalBackend(Env::Default(), dir);
  RepoFiles files(Env::Default(), backend.get(), dir, kRepoFormatV4, PlainSealer().get());
  ASSERT_TRUE(files.EnsureScratch().ok());
  PackWriter w(files, "");
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
  ASSERT_TRUE(LoadIndex(files, &idx, true, nullptr, nullptr).ok());
  for (const auto& id : ids) EXPECT_TRUE(idx.Contains(id));
}

}  // namespace
}  // namespace maestro
