// Issue 14 point 3: blobs that do not compress are stored raw, decided by a
// cheap trial, without running the real compressor, and read back by zstd.
#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "snapshot/archive_walk.h"
#include "snapshot/blob_codec.h"
#include "snapshot/blob_index.h"
#include "snapshot/blob_buffers.h"
#include "snapshot/compress_pool.h"
#include "snapshot/file_saver.h"
#include "snapshot/pack_writer.h"
#include "snapshot/read_pool.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

std::string Text(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += "row " + std::to_string(i % 977) + ": the quick brown fox, chunk " + std::to_string(i) + "\n";
  s.resize(n);
  return s;
}

std::string ZstdDecode(std::string_view frame, size_t raw_len) {
  std::string out(raw_len, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  EXPECT_FALSE(ZSTD_isError(n)) << (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "");
  EXPECT_EQ(n, raw_len);
  return out;
}

TEST(RawZstdFrameTest, EveryZstdDecoderReadsItBackWhateverTheLength) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{131071}, size_t{131072}, size_t{131073}, size_t{4u << 20}}) {
    std::string data = RandomBytes(n, static_cast<uint32_t>(n + 1));
    std::string frame;
    EncodeRawZstdFrame(data, &frame);
    EXPECT_EQ(frame.size(), n + RawZstdFrameOverhead(n)) << n;
    EXPECT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), n) << n;
    EXPECT_EQ(ZSTD_findFrameCompressedSize(frame.data(), frame.size()), frame.size()) << n;
    EXPECT_EQ(ZstdDecode(frame, n), data) << n;
  }
}

class CompressPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = NewLocalBackend(Env::Default(), tmp_.Sub("repo"));
    files_ = std::make_unique<RepoFiles>(Env::Default(), backend_.get(), tmp_.Sub("repo"));
    ASSERT_TRUE(files_->EnsureScratch().ok());
  }
  // The stored bytes of entry e, read back from its published pack.
  std::string Stored(const IndexEntry& e) {
    return ReadFile(files_->PackPath(e.pack)).substr(e.offset, e.stored_len);
  }
  TempDir tmp_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<RepoFiles> files_;
};

TEST_F(CompressPoolTest, RandomBlobIsStoredRawWithoutRunningTheCompressorAndTextStillCompresses) {
  const std::string random = RandomBytes(1 << 20, 7), text = Text(1 << 20);
  PackWriter sink(*files_, "none");
  CompressStats st;
  {
    CompressPool pool(&sink, 2);
    ASSERT_TRUE(pool.Submit(Xxh128(random), random));
    ASSERT_TRUE(pool.Submit(Xxh128(text), text));
    ASSERT_TRUE(pool.Finish().ok());
    st = pool.stats();
  }
  ASSERT_TRUE(sink.Finish().ok());
  EXPECT_EQ(st.trials, 2u);
  EXPECT_EQ(st.compressed, 1u);  // the text only
  EXPECT_EQ(st.raw, 1u);
  auto entries = sink.entries();
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& e : entries) {
    const std::string& want = e.blob == Xxh128(random) ? random : text;
    if (&want == &random) {
      EXPECT_EQ(e.stored_len, random.size() + RawZstdFrameOverhead(random.size()));
      EXPECT_LT(e.stored_len, random.size() + 64);
    } else {
      EXPECT_LT(e.stored_len, text.size() / 4);
    }
    EXPECT_EQ(ZstdDecode(Stored(e), e.raw_len), want);
  }
}

// Blob bytes in flight are bounded by the pool's budget, not by a count:
// producers on several threads wait for room before copying, a buffer given
// back is reused (or freed to make room for a larger one), a blob larger than
// the whole budget still goes through (alone), and every blob is stored.
TEST_F(CompressPoolTest, BytesInFlightStayWithinTheBudgetAndALargerBlobStillPasses) {
  const std::string big(600 * 1024, 'b'), bigger(900 * 1024, 'c'), huge(3 << 20, 'h');
  BlobBuffers buffers(2 << 20);
  std::string a, b;
  ASSERT_TRUE(buffers.Take(big, &a));
  ASSERT_TRUE(buffers.Take(bigger, &b));
  EXPECT_EQ(a, big);
  std::atomic<bool> third{false};
  std::string c;
  std::thread waiter([&] { third = buffers.Take(bigger, &c); });  // 2.4 MiB > 2 MiB: waits
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(third.load()) << "took bytes past the cap";
  EXPECT_LE(buffers.held(), buffers.cap());
  const char* reused = b.data();
  buffers.Give(std::move(b));  // kept: the waiter takes it, no new allocation
  waiter.join();
  ASSERT_TRUE(third.load());
  EXPECT_EQ(c, bigger);
  EXPECT_EQ(c.data(), reused);
  EXPECT_LE(buffers.held(), buffers.cap());
  buffers.Give(std::move(a));
  buffers.Give(std::move(c));
  std::string d;
  ASSERT_TRUE(buffers.Take(huge, &d)) << "a request over the cap passes when nothing is in flight";
  EXPECT_EQ(d, huge);
  EXPECT_EQ(buffers.held(), d.capacity()) << "the kept buffers were freed to make room";
  buffers.Close();
  std::string e;
  EXPECT_FALSE(buffers.Take("x", &e)) << "a closed pool refuses";

  PackWriter sink(*files_, "none");
  std::vector<std::string> blobs;
  for (int i = 0; i < 12; ++i) blobs.push_back(i % 2 ? RandomBytes(300000 + i, 20 + i) : Text(200000 + i));
  {
    CompressPool pool(&sink, 2, /*in_flight_bytes=*/256 * 1024);  // under one blob: one at a time
    std::vector<std::thread> producers;
    for (int p = 0; p < 2; ++p)
      producers.emplace_back([&, p] {
        for (size_t i = p; i < blobs.size(); i += 2) EXPECT_TRUE(pool.Submit(Xxh128(blobs[i]), std::string_view(blobs[i])));
      });
    for (auto& t : producers) t.join();
    ASSERT_TRUE(pool.Finish().ok());
  }
  ASSERT_TRUE(sink.Finish().ok());
  auto entries = sink.entries();
  ASSERT_EQ(entries.size(), blobs.size());
  for (const auto& entry : entries) {
    auto it = std::find_if(blobs.begin(), blobs.end(), [&](const std::string& blob) { return Xxh128(blob) == entry.blob; });
    ASSERT_NE(it, blobs.end());
    EXPECT_EQ(ZstdDecode(Stored(entry), entry.raw_len), *it);
  }
}

TEST_F(CompressPoolTest, BlobKnownIncompressibleSkipsTheTrialAndShortBlobsAreJudgedByTheirOwnResult) {
  const std::string random = RandomBytes(1 << 20, 8), small_random = RandomBytes(4000, 9), small_text = Text(4000);
  PackWriter sink(*files_, "none");
  bool verdict_small_random = false, verdict_small_text = true;
  CompressStats st;
  {
    CompressPool pool(&sink, 1);
    BlobHint known;
    known.incompressible = true;
    ASSERT_TRUE(pool.Submit(Xxh128(random), random, known));
    BlobHint a, b;
    a.verdict = &verdict_small_random;
    b.verdict = &verdict_small_text;
    ASSERT_TRUE(pool.Submit(Xxh128(small_random), small_random, a));
    ASSERT_TRUE(pool.Submit(Xxh128(small_text), small_text, b));
    ASSERT_TRUE(pool.Finish().ok());
    st = pool.stats();
  }
  ASSERT_TRUE(sink.Finish().ok());
  EXPECT_EQ(st.trials, 0u);      // the known one needs none, the short ones are compressed outright
  EXPECT_EQ(st.compressed, 2u);  // the two short ones
  EXPECT_EQ(st.raw, 2u);         // the known one and the short random one
  EXPECT_TRUE(verdict_small_random);
  EXPECT_FALSE(verdict_small_text);
  for (const auto& e : sink.entries()) {
    const std::string& want = e.blob == Xxh128(random) ? random : e.blob == Xxh128(small_random) ? small_random : small_text;
    if (&want != &small_text) {
      EXPECT_EQ(e.stored_len, want.size() + RawZstdFrameOverhead(want.size()));
    }
    EXPECT_EQ(ZstdDecode(Stored(e), e.raw_len), want);
  }
}

// The saver records the verdict on the file, and a file so marked (as the
// next snapshot of a changed version of it is, from its parent) gets no trial.
TEST_F(CompressPoolTest, FileFoundIncompressibleIsMarkedAndItsNextVersionGetsNoTrial) {
  WriteFile(tmp_.Sub("in/random.pdf"), RandomBytes(3 << 20, 10));
  WriteFile(tmp_.Sub("in/text.md"), Text(3 << 20));
  StoredBlobs none{std::vector<Hash128>()};
  std::atomic<uint64_t> bytes_done{0};
  auto save = [&](const std::string& name, ManifestFile* f, CompressStats* st) {
    PackWriter sink(*files_, "none");
    CompressPool pool(&sink, 2);
    PendingBlobs pending;
    FileSaver saver(Env::Default(), none, &pending, &pool, &bytes_done);
    uint64_t read = 0;
    bool consistent = false;
    ASSERT_TRUE(saver.Save("s/" + name, tmp_.Sub("in/" + name), tmp_.Sub("in/" + name), f, &read, &consistent).ok());
    ASSERT_TRUE(pool.Finish().ok());
    ASSERT_TRUE(sink.Finish().ok());
    *st = pool.stats();
  };
  ManifestFile pdf, md;
  CompressStats st;
  save("random.pdf", &pdf, &st);
  EXPECT_TRUE(pdf.incompressible);
  EXPECT_EQ(st.compressed, 0u);
  EXPECT_GE(st.raw, 1u);
  save("text.md", &md, &st);
  EXPECT_FALSE(md.incompressible);
  EXPECT_EQ(st.raw, 0u);

  WriteFile(tmp_.Sub("in/random.pdf"), RandomBytes(3 << 20, 11));  // changed
  ManifestFile next;
  next.incompressible = true;
  save("random.pdf", &next, &st);
  EXPECT_EQ(st.trials, 0u);
  EXPECT_EQ(st.compressed, 0u);
  EXPECT_GE(st.raw, 1u);
  EXPECT_TRUE(next.incompressible);
}

// One saver reads files of growing sizes, as a reader thread of Create does.
// Its buffer must stay at 1.5 x the largest chunk (issue 14's memory bound:
// with a std::string, 5 MiB grown to 6 MiB held 10 MiB), and the cuts it
// makes through refills must be the cuts of the whole file read at once.
TEST_F(CompressPoolTest, ReadBufferStaysAtOneAndAHalfLargestChunksAndCutsAsAWholeRead) {
  StoredBlobs none{std::vector<Hash128>()};
  std::atomic<uint64_t> bytes_done{0};
  PackWriter sink(*files_, "none");
  CompressPool pool(&sink, 2);
  PendingBlobs pending;
  FileSaver saver(Env::Default(), none, &pending, &pool, &bytes_done);
  const size_t max_chunk = ChunkerParams().max_size;
  const size_t sizes[] = {5u << 20, (11u << 20) / 2, 6u << 20, 21u << 20};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    SCOPED_TRACE("file of " + std::to_string(sizes[i]) + " bytes");
    // Random data cuts near the average chunk; text runs to the largest.
    std::string data = RandomBytes(sizes[i] / 2, 20 + i) + Text(sizes[i] / 4);
    data += RandomBytes(sizes[i] - data.size(), 40 + i);
    const std::string path = tmp_.Sub("in/f" + std::to_string(i));
    WriteFile(path, data);
    ManifestFile f;
    uint64_t read = 0;
    bool consistent = false;
    ASSERT_TRUE(saver.Save("s/f", path, path, &f, &read, &consistent).ok());
    EXPECT_TRUE(consistent);
    EXPECT_LE(saver.buffer_bytes(), max_chunk + max_chunk / 2);

    Chunker whole;
    std::vector<Hash128> want;
    for (size_t pos = 0; pos < data.size();) {
      size_t cut = whole.FindCut(reinterpret_cast<const uint8_t*>(data.data() + pos), data.size() - pos);
      want.push_back(PlainSealer()->BlobId(std::string_view(data).substr(pos, cut)));
      pos += cut;
    }
    EXPECT_GT(want.size(), sizes[i] / max_chunk + 1);  // cuts inside the data, not only at max
    EXPECT_EQ(f.chunks, want);
    EXPECT_EQ(f.size, data.size());
  }
  ASSERT_TRUE(pool.Finish().ok());
  ASSERT_TRUE(sink.Finish().ok());
}

std::unique_ptr<Repository> NewRepository(const std::string& dir) {
  auto opened = Repository::Open(Env::Default(), dir, true);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  return opened.ok() ? std::move(opened).value() : nullptr;
}

// One snapshot of the folder at path as the store `store` (no racy margin).
Result<SnapshotInfo> SnapshotFolder(Repository* repo, const std::string& store, const std::string& path) {
  SnapshotSource src;
  src.store = store;
  src.path = path;
  src.is_directory = true;
  CreateOptions co;
  co.racy_margin_ms = 0;
  return repo->Create({src}, co);
}

TEST(IncompressibleSnapshotTest, RandomFileIsStoredAtRawSizeAndRestoresByteIdentical) {
  TempDir tmp;
  const size_t n = 8 << 20;
  WriteFile(tmp.Sub("store/random.pdf"), RandomBytes(n, 12));
  auto repo = NewRepository(tmp.Sub("repo"));
  ASSERT_NE(repo, nullptr);
  auto info = SnapshotFolder(repo.get(), "pdfs", tmp.Sub("store"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  // Raw bytes, frame and blob headers, the pack header and the index: well under 1%.
  EXPECT_GE(info->stored_bytes, n);
  EXPECT_LT(info->stored_bytes, n + n / 200);
  ASSERT_TRUE(repo->RestoreStore(info->id, "pdfs", tmp.Sub("back"), RestoreOptions()).ok());
  EXPECT_EQ(ReadFile(tmp.Sub("back/random.pdf")), ReadFile(tmp.Sub("store/random.pdf")));
  auto report = repo->Verify({info->id}, /*read_data=*/true);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
}

TEST(IncompressibleSnapshotTest, CompressibleFileStillCompresses) {
  TempDir tmp;
  const size_t n = 8 << 20;
  WriteFile(tmp.Sub("store/notes.md"), Text(n));
  auto repo = NewRepository(tmp.Sub("repo"));
  ASSERT_NE(repo, nullptr);
  auto info = SnapshotFolder(repo.get(), "markdown", tmp.Sub("store"));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_LT(info->stored_bytes, n / 4);
  ASSERT_TRUE(repo->RestoreStore(info->id, "markdown", tmp.Sub("back"), RestoreOptions()).ok());
  EXPECT_EQ(ReadFile(tmp.Sub("back/notes.md")), ReadFile(tmp.Sub("store/notes.md")));
}

// The walk stats and reads headers of a large folder on several threads: the
// plan must be what one thread makes (name order, SQLite files found, their
// companions left out).
TEST(ArchiveWalkTest, LargeFolderIsPlannedInNameOrderWithItsSqliteFileFound) {
  TempDir tmp;
  const int n = 300;
  for (int i = 0; i < n; ++i) WriteFile(tmp.Sub("store/f" + std::to_string(1000 + i) + ".md"), Text(600 + i));
  std::string db = std::string("SQLite format 3", 15) + std::string(1, '\0') + std::string(1024, 'x');
  WriteFile(tmp.Sub("store/f1150.bin"), db);
  WriteFile(tmp.Sub("store/f1150.bin-wal"), "wal frames");
  SnapshotSource src;
  src.store = "markdown";
  src.path = tmp.Sub("store");
  src.is_directory = true;
  ManifestStore st;
  st.name = src.store;
  std::vector<std::string> warnings;
  StoreWalker walker(Env::Default());
  ASSERT_TRUE(walker.PlanStore(src, &st, &warnings).ok());
  ASSERT_EQ(st.files.size(), static_cast<size_t>(n + 2));  // root, n files, the database (no -wal)
  EXPECT_EQ(st.files[0].path, "");
  for (size_t i = 2; i < st.files.size(); ++i) EXPECT_LT(st.files[i - 1].path, st.files[i].path);
  int sqlite = 0;
  for (const auto& f : st.files) {
    EXPECT_NE(f.path, "f1150.bin-wal");
    if (f.sqlite_backup) {
      sqlite++;
      EXPECT_EQ(f.path, "f1150.bin");
    }
    if (f.path == "f1299.md") {
      EXPECT_EQ(f.size, 600u + 299u);
    }
  }
  EXPECT_EQ(sqlite, 1);
}

// Create's reading step: two files are read at once (one reader left a core
// idle while it waited on the disk), every file once, progress on the caller.
TEST(ReadPoolTest, TwoReadersWorkAtOnceAndEveryItemRunsOnce) {
  std::atomic<int> inside{0}, max_inside{0};
  std::mutex mu;
  std::multiset<size_t> seen;
  const auto caller = std::this_thread::get_id();
  bool tick_on_caller = true;
  ReadPool pool(DefaultReaders(1));
  Status s = pool.Run(
      40,
      [&](size_t i, unsigned slot) {
        EXPECT_LT(slot, DefaultReaders(1));
        int now = ++inside;
        int m = max_inside.load();
        while (now > m && !max_inside.compare_exchange_weak(m, now)) {
        }
        // Wait (bounded) for a second reader to be inside too.
        for (int k = 0; k < 200 && max_inside.load() < 2; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        --inside;
        std::lock_guard<std::mutex> l(mu);
        seen.insert(i);
        return Status::OK();
      },
      [&] { tick_on_caller = tick_on_caller && std::this_thread::get_id() == caller; });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(max_inside.load(), 2);
  EXPECT_TRUE(tick_on_caller);
  ASSERT_EQ(seen.size(), 40u);
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
}

TEST(ReadPoolTest, FirstErrorStopsTheRunAndIsReturned) {
  std::atomic<size_t> ran{0};
  ReadPool pool(2);
  Status s = pool.Run(
      100000,
      [&](size_t i, unsigned) {
        ran++;
        return i == 5 ? Status::IoError("read failed at item 5") : Status::OK();
      },
      [] {});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("item 5"), std::string::npos);
  EXPECT_LT(ran.load(), 100000u);
}

}  // namespace
}  // namespace maestro
