// Tests of the bounded-memory forms of the blob index and of blob id sets
// (snapshot/blob_index.h, snapshot/blob_id_set.h, issue 14 point 2): with a
// tiny budget a few hundred blobs spill to the scratch folder, and every
// answer is the in-memory one; a full disk is an error, never "no such blob";
// a damaged scratch table is refused; prune under a tiny budget frees what it
// frees in memory and, killed at any crash point, loses no needed blob.
#include <gtest/gtest.h>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <random>
#include <atomic>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "snapshot/blob_id_set.h"
#include "snapshot/blob_index.h"
#include "snapshot/pending_blobs.h"
#include "snapshot/repo_access.h"
#include "snapshot/repository.h"
#include "snapshot/scratch_area.h"
#include "snapshot/sorted_table.h"
#include "tests/support/fault_env.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::RunChildUntilCrash;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

Hash128 Id(uint64_t n) {
  Hash128 h;
  h.hi = n * 0x9e3779b97f4a7c15ULL;
  h.lo = n;
  return h;
}

// n entries over `blobs` distinct blob ids (so some repeat), in a fixed
// pseudo-random order; the pack says which occurrence an entry is.
std::vector<IndexEntry> Entries(size_t n, uint64_t blobs, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<IndexEntry> v;
  for (size_t i = 0; i < n; ++i) {
    IndexEntry e;
    e.blob = Id(rng() % blobs);
    e.pack = Hash128{0, 1000000 + i};  // ascending with i
    e.offset = i * 7;
    e.stored_len = static_cast<uint32_t>(i);
    e.raw_len = static_cast<uint32_t>(i * 3);
    e.stored_check = rng();
    e.type = i % 2 ? BlobType::kTree : BlobType::kData;
    e.codec = i % 3 ? BlobCodec::kZstd : BlobCodec::kRaw;
    e.pack_version = i % 2 ? 4 : 1;
    v.push_back(e);
  }
  return v;
}

bool Same(const IndexEntry& a, const IndexEntry& b) {
  return a.blob == b.blob && a.pack == b.pack && a.offset == b.offset && a.stored_len == b.stored_len &&
         a.raw_len == b.raw_len && a.stored_check == b.stored_check && a.type == b.type && a.codec == b.codec &&
         a.pack_version == b.pack_version;
}

std::vector<IndexEntry> All(const BlobIndex& idx) {
  std::vector<IndexEntry> out;
  EXPECT_TRUE(idx.ForEach([&](const IndexEntry& e) {
                   out.push_back(e);
                   return Status::OK();
                 }).ok());
  return out;
}

void ExpectSameIndex(const BlobIndex& mem, const BlobIndex& disk, uint64_t blobs) {
  ASSERT_EQ(mem.size(), disk.size());
  for (uint64_t b = 0; b < blobs + 50; ++b) {
    IndexEntry x, y;
    bool fx = mem.Find(Id(b), &x), fy = disk.Find(Id(b), &y);
    ASSERT_EQ(fx, fy) << b;
    if (fx) {
      EXPECT_TRUE(Same(x, y)) << b;
    }
  }
  std::vector<IndexEntry> a = All(mem), d = All(disk);
  ASSERT_EQ(a.size(), d.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(Same(a[i], d[i])) << i;
    if (i > 0) {
      EXPECT_TRUE(a[i - 1].blob < a[i].blob) << "ForEach is in blob-id order";
    }
  }
  EXPECT_TRUE(disk.status().ok()) << disk.status().ToString();
}

TEST(BoundedBlobIndexTest, SpilledIndexKeepsTheFirstEntryOfEachBlobAsTheInMemoryOneDoes) {
  TempDir t;
  std::vector<IndexEntry> v = Entries(3000, 1200, 1);
  BlobIndex mem;
  BlobIndex disk(Env::Default(), t.Sub("cache"), 4096);
  for (const auto& e : v) {
    mem.Insert(e);
    disk.Insert(e);
  }
  EXPECT_TRUE(disk.on_disk());
  EXPECT_FALSE(mem.on_disk());
  ExpectSameIndex(mem, disk, 1200);
  // The first entry in insertion order (index-file name order in LoadIndex) wins.
  for (const auto& e : v) {
    IndexEntry got;
    ASSERT_TRUE(disk.Find(e.blob, &got));
    if (got.pack == e.pack) continue;
    EXPECT_TRUE(got.pack < e.pack) << "a later entry replaced the first one";
  }
}

TEST(BoundedBlobIndexTest, EntriesInsertedAfterLookupsJoinTheTableWithoutReplacingOldOnes) {
  TempDir t;
  BlobIndex mem;
  BlobIndex disk(Env::Default(), t.Sub("cache"), 4096);
  std::vector<IndexEntry> v = Entries(6000, 4000, 2);
  for (size_t i = 0; i < v.size(); ++i) {
    mem.Insert(v[i]);
    disk.Insert(v[i]);
    if (i % 500 == 0) {  // lookups in between
      ASSERT_EQ(mem.Contains(v[i / 2].blob), disk.Contains(v[i / 2].blob));
    }
  }
  ExpectSameIndex(mem, disk, 4000);
}

TEST(BoundedBlobIndexTest, ScratchFolderIsRemovedWithTheIndex) {
  TempDir t;
  {
    BlobIndex disk(Env::Default(), t.Sub("cache"), 4096);
    for (const auto& e : Entries(2000, 2000, 3)) disk.Insert(e);
    ASSERT_TRUE(disk.Contains(Entries(1, 2000, 3)[0].blob));
    EXPECT_FALSE(TreeDigest(t.Sub("cache")).empty());
  }
  EXPECT_TRUE(TreeDigest(t.Sub("cache")).empty());
}

TEST(BoundedBlobIndexTest, FullScratchDiskIsAnErrorNotAMissingBlob) {
  TempDir t;
  for (int nth = 1; nth <= 3; ++nth) {
    SCOPED_TRACE(nth);
    FaultEnv env(Env::Default());
    env.FailAt(FaultEnv::Op::kWrite, nth, ENOSPC, /*sticky=*/true);
    BlobIndex disk(&env, t.Sub("cache"), 4096);
    std::vector<IndexEntry> v = Entries(3000, 3000, 4);
    for (const auto& e : v) disk.Insert(e);
    EXPECT_FALSE(disk.Contains(v[0].blob));
    EXPECT_FALSE(disk.status().ok());
    EXPECT_NE(disk.status().ToString().find("cache"), std::string::npos) << disk.status().ToString();
    EXPECT_FALSE(disk.ForEach([](const IndexEntry&) { return Status::OK(); }).ok());
  }
}

TEST(BoundedBlobIndexTest, DamagedScratchTableIsRefusedNotBelieved) {
  TempDir t;
  std::string path = t.Sub("table");
  TableWriter w;
  ASSERT_TRUE(w.Open(Env::Default(), path, 16).ok());
  char key[16];
  for (uint64_t i = 0; i < 1000; ++i) {
    EncodeKey(Hash128{i, 0}, key);
    ASSERT_TRUE(w.Add(key).ok());
  }
  ASSERT_TRUE(w.Finish(Hash128()).ok());
  {
    TableReader r;
    ASSERT_TRUE(r.Open(Env::Default(), path, 16).ok());
    EXPECT_EQ(r.count(), 1000u);
  }
  std::string bytes = testing::ReadFile(path);
  bytes[5000] ^= 1;  // inside the second block
  WriteFile(path, bytes);
  TableReader r;
  Status s = r.Open(Env::Default(), path, 16);
  EXPECT_TRUE(s.IsIoError()) << s.ToString();
  EXPECT_NE(s.ToString().find("damaged"), std::string::npos) << s.ToString();
  WriteFile(path, bytes.substr(0, bytes.size() - 3));
  EXPECT_FALSE(r.Open(Env::Default(), path, 16).ok());
}

TEST(BoundedBlobIdSetTest, SpilledSetAnswersAsTheInMemoryOne) {
  TempDir t;
  BlobIdSet mem(Env::Default(), t.Sub("cache"));
  BlobIdSet disk(Env::Default(), t.Sub("cache"), 1024);
  std::mt19937_64 rng(5);
  for (int i = 0; i < 5000; ++i) {
    Hash128 h = Id(rng() % 3000);
    ASSERT_TRUE(mem.Add(h).ok());
    ASSERT_TRUE(disk.Add(h).ok());
  }
  ASSERT_TRUE(mem.Seal().ok());
  ASSERT_TRUE(disk.Seal().ok());
  EXPECT_FALSE(TreeDigest(t.Sub("cache")).empty()) << "the tiny budget spilled";
  ASSERT_EQ(mem.size(), disk.size());
  for (uint64_t b = 0; b < 3100; ++b) ASSERT_EQ(mem.Contains(Id(b)), disk.Contains(Id(b))) << b;
  std::vector<Hash128> a, d;
  ASSERT_TRUE(mem.ForEach([&](const Hash128& h) { a.push_back(h); return Status::OK(); }).ok());
  ASSERT_TRUE(disk.ForEach([&](const Hash128& h) { d.push_back(h); return Status::OK(); }).ok());
  EXPECT_EQ(a, d);
  EXPECT_TRUE(std::is_sorted(d.begin(), d.end()));
  EXPECT_TRUE(disk.status().ok());
}

// A set that spilled once but whose sorter never wrote a run still puts its
// sealed table inside its scratch folder: never a file "ids-0" in the
// process's working directory (found after a memory benchmark run).
TEST(BoundedBlobIdSetTest, SealedTableGoesIntoTheScratchFolderNotTheWorkingDirectory) {
  TempDir t;
  ASSERT_EQ(mkdir(t.Sub("cwd").c_str(), 0700), 0);
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof old), nullptr);
  ASSERT_EQ(chdir(t.Sub("cwd").c_str()), 0);
  {
    BlobIdSet set(Env::Default(), t.Sub("cache"), 1024);
    for (uint64_t i = 0; i < 64; ++i) ASSERT_TRUE(set.Add(Id(i % 40)).ok());  // spills 40 ids: fewer than the sorter holds
    ASSERT_TRUE(set.Seal().ok());
    EXPECT_EQ(set.size(), 40u);
    EXPECT_TRUE(set.Contains(Id(39)));
    EXPECT_FALSE(set.Contains(Id(40)));
    EXPECT_TRUE(std::filesystem::is_empty(t.Sub("cwd"))) << "a scratch file was left in the working directory";
  }
  ASSERT_EQ(chdir(old), 0);
  EXPECT_TRUE(std::filesystem::is_empty(t.Sub("cwd")));
}

TEST(BoundedBlobIdSetTest, FullScratchDiskIsAnError) {
  TempDir t;
  FaultEnv env(Env::Default());
  env.FailAt(FaultEnv::Op::kWrite, 1, ENOSPC, /*sticky=*/true);
  BlobIdSet disk(&env, t.Sub("cache"), 1024);
  Status s;
  for (uint64_t i = 0; i < 5000 && s.ok(); ++i) s = disk.Add(Id(i));
  if (s.ok()) s = disk.Seal();
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(disk.Seal().ok()) << "the error sticks";
}

// Past its budget the pending set of a Create (snapshot/pending_blobs.h)
// folds its claims into a sorted list and spills that to a scratch table,
// more than once; every id is still claimed exactly once, repeated claims
// (another reader meeting the same blob, in this batch or an earlier one)
// are refused, and the scratch folder goes with the set.
TEST(BoundedPendingBlobsTest, PastItsBudgetTheSetSpillsAndStillClaimsEachIdOnce) {
  TempDir t;
  const std::string cache = t.Sub("cache");
  {
    PendingBlobs p(Env::Default(), cache, 2048);
    std::mt19937_64 rng(3);
    std::vector<uint64_t> claimed;
    for (uint64_t i = 0; i < 6000; ++i) {
      EXPECT_TRUE(p.Claim(Id(i))) << i;
      claimed.push_back(i);
      // An id met again: just now, or long ago (now in the table).
      EXPECT_FALSE(p.Claim(Id(claimed[rng() % claimed.size()])));
      if (i % 700 == 699) {
        ASSERT_TRUE(p.Settle().ok());
      }
    }
    ASSERT_TRUE(p.Settle().ok());
    EXPECT_GT(p.spills(), 3u);
    EXPECT_GT(p.on_disk(), 5000u);
    for (uint64_t i = 0; i < 6000; ++i) EXPECT_FALSE(p.Claim(Id(i))) << i;
    EXPECT_TRUE(p.Claim(Id(6000)));
    EXPECT_TRUE(p.Settle().ok());
    EXPECT_FALSE(std::filesystem::is_empty(cache));
  }
  EXPECT_TRUE(!std::filesystem::exists(cache) || std::filesystem::is_empty(cache)) << "scratch left behind";
}

// Regression (review of pending_blobs.cc): each spill rewrote every id
// spilled before it, so the bytes written grew with the square of the
// spills (~180 spills here: ~2,400 block writes). Runs now merge kFanIn at a
// time: an id is written 1 + log_8(spills) times at most, and the runs on
// disk stay few.
TEST(BoundedPendingBlobsTest, ManySpillsWriteEachIdAFewTimesNotOncePerLaterSpill) {
  TempDir t;
  FaultEnv env(Env::Default());
  PendingBlobs p(&env, t.Sub("cache"), 1024);
  const uint64_t n = 6000;
  for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(p.Claim(Id(i))) << i;
  ASSERT_TRUE(p.Settle().ok());
  const uint64_t spills = p.spills();
  ASSERT_GT(spills, 100u);
  EXPECT_LE(p.on_disk(), n);
  EXPECT_GT(p.on_disk(), n - 100);  // the last few stay in memory
  // A run of m ids is ceil(m / 256) blocks of 4 KiB and a footer: one write each.
  int levels = 1;
  for (uint64_t s = spills; s >= PendingBlobs::kFanIn; s /= PendingBlobs::kFanIn) levels++;
  const uint64_t runs_written = 2 * spills;  // every spill's run, and at most as many merged runs
  const uint64_t bound = static_cast<uint64_t>(levels) * (n / 256 + 1) + 2 * runs_written;
  EXPECT_LE(static_cast<uint64_t>(env.Count(FaultEnv::Op::kWrite)), bound) << spills << " spills, " << levels << " levels";
  EXPECT_LT(p.runs(), static_cast<size_t>(levels) * PendingBlobs::kFanIn);
  for (uint64_t i = 0; i < n; ++i) EXPECT_FALSE(p.Claim(Id(i))) << i;
  EXPECT_TRUE(p.Claim(Id(n)));
}

// Claims from several threads while the set folds, spills and merges (the
// runs are read with the lock let go): every id is claimed exactly once.
TEST(BoundedPendingBlobsTest, ClaimsFromManyThreadsWhileItSpillsClaimEachIdOnce) {
  TempDir t;
  PendingBlobs p(Env::Default(), t.Sub("cache"), 1024);
  const uint64_t n = 4000;
  std::atomic<uint64_t> won{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      std::mt19937_64 rng(k);
      for (uint64_t i = 0; i < n; ++i) {
        if (p.Claim(Id(i))) won++;
        if (p.Claim(Id(rng() % (i + 1)))) won++;  // met again, or first here
      }
    });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(p.Settle().ok());
  EXPECT_EQ(won.load(), n);
  EXPECT_GT(p.spills(), 10u);
  for (uint64_t i = 0; i < n; ++i) EXPECT_FALSE(p.Claim(Id(i))) << i;
}

// A spill that cannot be written (a full disk) keeps every id in memory, so
// no blob is claimed twice, and Settle reports the error (Create stops).
TEST(BoundedPendingBlobsTest, FullScratchDiskIsAnErrorAtSettleAndLosesNoClaim) {
  TempDir t;
  FaultEnv env(Env::Default());
  env.FailAt(FaultEnv::Op::kWrite, 1, ENOSPC, /*sticky=*/true);
  PendingBlobs p(&env, t.Sub("cache"), 1024);
  for (uint64_t i = 0; i < 3000; ++i) ASSERT_TRUE(p.Claim(Id(i)));
  for (uint64_t i = 0; i < 3000; ++i) EXPECT_FALSE(p.Claim(Id(i)));
  Status s = p.Settle();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("free space"), std::string::npos) << s.ToString();
  EXPECT_EQ(p.on_disk(), 0u);
}

// The scratch table files of a pending set under dir (cache/work-*/pending-N).
std::vector<std::string> PendingTables(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("pending-", 0) == 0) out.push_back(e.path().string());
  return out;
}

// A spilled table damaged on disk after it was written (a flipped byte in
// every block): a claim whose lookup reads it is answered "not claimed" (the
// blob stored twice at worst, never lost), and Settle returns the error,
// naming the table file, so Create stops.
TEST(BoundedPendingBlobsTest, DamagedSpilledTableIsAnErrorAtSettleNamingTheFile) {
  TempDir t;
  // A budget whose filter is not saturated: the first claims read (and cache)
  // few of the runs' blocks, so the second ones read the damaged bytes.
  PendingBlobs p(Env::Default(), t.Sub("cache"), 64 << 10);
  for (uint64_t i = 0; i < 6000; ++i) ASSERT_TRUE(p.Claim(Id(i)));
  ASSERT_TRUE(p.Settle().ok());
  ASSERT_GT(p.on_disk(), 0u);
  // The spill writes sorted runs (merged 8 at a time): damage every one.
  std::vector<std::string> tables = PendingTables(t.Sub("cache"));
  ASSERT_FALSE(tables.empty());
  for (const std::string& table : tables) {
    std::string bytes = testing::ReadFile(table);
    for (size_t at = 5; at + 64 < bytes.size(); at += 4096) bytes[at] ^= 0x40;
    WriteFile(table, bytes);
  }
  for (uint64_t i = 0; i < 6000; ++i) p.Claim(Id(i));
  Status s = p.Settle();
  ASSERT_FALSE(s.ok());
  bool named = false;
  for (const std::string& table : tables) named = named || s.ToString().find(table) != std::string::npos;
  EXPECT_TRUE(named) << s.ToString();
  EXPECT_NE(s.ToString().find("pending blob set"), std::string::npos) << s.ToString();
}

// Every read of a pending set's scratch table returns a flipped byte.
class DamagingPendingTablesEnv : public FaultEnv {
 public:
  explicit DamagingPendingTablesEnv(Env* base) : FaultEnv(base) {}
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override {
    MAESTRO_RETURN_IF_ERROR(FaultEnv::NewRandomAccessFile(p, out));
    if (BaseName(p).rfind("pending-", 0) == 0) *out = std::make_unique<Flipping>(std::move(*out));
    return Status::OK();
  }

 private:
  class Flipping : public RandomAccessFile {
   public:
    explicit Flipping(std::unique_ptr<RandomAccessFile> f) : f_(std::move(f)) {}
    Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) const override {
      MAESTRO_RETURN_IF_ERROR(f_->ReadAt(offset, n, scratch, got));
      if (*got > 0) scratch[0] ^= 0x40;
      return Status::OK();
    }

   private:
    std::unique_ptr<RandomAccessFile> f_;
  };
};

// A Create whose pending set's spilled table reads back damaged fails with
// an error that says so, publishes nothing (the listing as it was), and the
// next Create, on a sound disk, succeeds.
TEST(BoundedPendingBlobsTest, CreateOverADamagedSpilledTableFailsAndPublishesNothing) {
  TempDir t;
  // 300 distinct files, then 300 more with the same contents: their claims
  // come after the first ones were spilled, and look them up in the table.
  for (int i = 0; i < 300; ++i) {
    const std::string data = RandomBytes(200, 1000 + i);
    WriteFile(t.Sub("data/a" + std::to_string(1000 + i)), data);
    WriteFile(t.Sub("data/b" + std::to_string(1000 + i)), data);
  }
  SnapshotSource src;
  src.store = "pdfs";
  src.path = t.Sub("data");
  src.is_directory = true;
  CreateOptions co;
  co.racy_margin_ms = 0;
  {
    DamagingPendingTablesEnv env(Env::Default());
    auto repo = Repository::Open(&env, t.Sub("repo"), true);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    SetMemoryBudget(repo->get(), 2048);
    auto made = (*repo)->Create({src}, co);
    ASSERT_FALSE(made.ok()) << "created " << made->id << " over a damaged scratch table";
    EXPECT_NE(made.status().ToString().find("pending blob set"), std::string::npos) << made.status().ToString();
    auto listed = (*repo)->List();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    EXPECT_TRUE(listed->empty()) << "a snapshot was published";
  }
  auto repo = Repository::Open(Env::Default(), t.Sub("repo"), false);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  SetMemoryBudget(repo->get(), 2048);
  auto made = (*repo)->Create({src}, co);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE((*repo)->Verify({made->id}, /*read_data=*/true).ok());
}

TEST(ScratchAreaTest, FoldersOfGoneOwnersAreRemovedLiveOnesKept) {
  TempDir t;
  std::string parent = t.Sub("cache");
  WriteFile(parent + "/work-1-0-0/run-0", "left by a killed process");
  WriteFile(parent + "/work-1-0-0.lock", "");
  WriteFile(parent + "/work-2-0-0/run-0", "its lock file is gone");
  ScratchArea live(Env::Default(), parent);
  ASSERT_TRUE(live.Open().ok());
  WriteFile(live.NewPath("run"), "x");
  EXPECT_FALSE(Env::Default()->DirExists(parent + "/work-1-0-0"));
  EXPECT_FALSE(Env::Default()->FileExists(parent + "/work-1-0-0.lock"));
  EXPECT_FALSE(Env::Default()->DirExists(parent + "/work-2-0-0"));
  size_t before = TreeDigest(parent).size();
  {
    ScratchArea other(Env::Default(), parent);
    ASSERT_TRUE(other.Open().ok());  // must not take the live one's folder
  }
  EXPECT_EQ(TreeDigest(parent).size(), before);
}

// A repository is left without an empty cache/ between runs: that 4 KiB of
// directory made every unchanged snapshot past the index's memory budget grow
// the repository by 4.7 KiB instead of its 0.7 KiB manifest (issue 14 point 1).
// The last area to end removes the folder; while another one lives it stays.
TEST(ScratchAreaTest, LastAreaToEndRemovesTheCacheFolderItMade) {
  TempDir t;
  const std::string parent = t.Sub("repo") + "/cache";
  {
    ScratchArea first(Env::Default(), parent);
    ASSERT_TRUE(first.Open().ok());
    {
      ScratchArea second(Env::Default(), parent);
      ASSERT_TRUE(second.Open().ok());
      WriteFile(second.NewPath("run"), "x");
    }
    EXPECT_TRUE(Env::Default()->DirExists(parent)) << "removed under a live area";
    WriteFile(first.NewPath("run"), "y");
  }
  EXPECT_FALSE(Env::Default()->DirExists(parent)) << "an empty cache/ left in the repository";
  EXPECT_TRUE(Env::Default()->DirExists(t.Sub("repo")));
  // A folder that holds something else (not an area's) is not removed.
  WriteFile(parent + "/kept-by-someone", "z");
  { ScratchArea a(Env::Default(), parent); ASSERT_TRUE(a.Open().ok()); }
  EXPECT_TRUE(Env::Default()->FileExists(parent + "/kept-by-someone"));
}

// Another process's last area may remove cache/ between this one's making it
// and its lock file appearing there: the NotFound that gives means make it again.
TEST(ScratchAreaTest, OpenMakesTheFolderAgainWhenAnotherProcessRemovedIt) {
  TempDir t;
  const std::string parent = t.Sub("cache");
  FaultEnv env(Env::Default());
  env.FailAt(FaultEnv::Op::kLock, 1, ENOENT);
  ScratchArea a(&env, parent);
  Status s = a.Open();
  ASSERT_TRUE(s.ok()) << s.ToString();
  WriteFile(a.NewPath("run"), "x");
  // Any other error is reported as it was, once, naming the folder.
  FaultEnv full(Env::Default());
  full.FailAt(FaultEnv::Op::kLock, 1, ENOSPC);
  ScratchArea b(&full, t.Sub("cache2"));
  s = b.Open();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("cache2"), std::string::npos) << s.ToString();
}

// ---- prune of a repository whose index and needed set spill.

class BoundedPruneTest : public ::testing::Test {
 protected:
  // Snapshot k holds files shared by all and files of its own: 400 small blobs
  // in all, so a 2 KiB budget spills the index and the needed set.
  void MakeRepository(const std::string& dir, const std::string& src, int snapshots) {
    auto repo = Open(dir);
    for (int i = 0; i < 200; ++i) WriteFile(src + "/shared/" + std::to_string(i), RandomBytes(300, 10 + i));
    for (int k = 0; k < snapshots; ++k) {
      std::filesystem::remove_all(src + "/own");
      for (int i = 0; i < 40; ++i)
        WriteFile(src + "/own/" + std::to_string(i), RandomBytes(300, 1000 * (k + 1) + i));
      CreateOptions co;
      co.racy_margin_ms = 0;
      co.created_micros = 1700000000000000 + k * 1000000LL;
      auto info = repo->Create(Sources(src), co);
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      ids_.push_back(info->id);
    }
  }
  static std::vector<SnapshotSource> Sources(const std::string& src) {
    SnapshotSource s;
    s.store = "pdfs";
    s.path = src;
    s.is_directory = true;
    return {s};
  }
  std::unique_ptr<Repository> Open(const std::string& dir, size_t budget = 0, Env* env = Env::Default()) {
    auto r = Repository::Open(env, dir, true);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    if (budget) SetMemoryBudget(r->get(), budget);
    return std::move(r).value();
  }
  static std::map<std::string, std::string> Objects(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const char* sub : {"snapshots", "index", "packs", "config"})
      for (const auto& [p, d] : TreeDigest(dir + "/" + sub)) out[std::string(sub) + "/" + p] = d;
    return out;
  }
  void ExpectWhole(Repository* repo, const std::string& id, const std::string& want_dir) {
    auto rep = repo->Verify({}, true);
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    EXPECT_TRUE(rep->ok());
    std::string out = tmp_.Sub("out-" + std::to_string(outs_++));
    ASSERT_TRUE(repo->RestoreStore(id, "pdfs", out, {}).ok());
    EXPECT_EQ(TreeDigest(out), TreeDigest(want_dir));
  }

  TempDir tmp_;
  std::vector<std::string> ids_;
  int outs_ = 0;
};

TEST_F(BoundedPruneTest, TinyBudgetFreesWhatTheInMemoryPruneFrees) {
  std::string src = tmp_.Sub("src");
  MakeRepository(tmp_.Sub("a"), src, 4);
  std::filesystem::copy(tmp_.Sub("a"), tmp_.Sub("b"), std::filesystem::copy_options::recursive);
  GcStats stats[2];
  int k = 0;
  for (size_t budget : {size_t(0), size_t(2048)}) {
    auto repo = Open(tmp_.Sub(k ? "b" : "a"), budget);
    ASSERT_TRUE(repo->DeleteSnapshots({ids_[0], ids_[1]}).ok());
    auto gc = repo->RemoveUnreferencedData(false);
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    EXPECT_TRUE(gc->skipped.empty()) << gc->skipped;
    stats[k++] = *gc;
    ExpectWhole(repo.get(), ids_[3], src);
  }
  EXPECT_GT(stats[0].blobs_removed, 0u);
  EXPECT_EQ(stats[0].blobs_removed, stats[1].blobs_removed);
  EXPECT_EQ(stats[0].bytes_freed, stats[1].bytes_freed);
  EXPECT_EQ(stats[0].packs_removed, stats[1].packs_removed);
  EXPECT_EQ(stats[0].packs_rewritten, stats[1].packs_rewritten);
  // The same packs remain; the kept index is in pieces under the tiny budget.
  auto packs = [](const std::string& dir) {
    std::vector<std::string> v;
    for (const auto& [p, d] : TreeDigest(dir + "/packs")) v.push_back(p);
    return v;
  };
  EXPECT_EQ(packs(tmp_.Sub("a")), packs(tmp_.Sub("b")));
  EXPECT_EQ(TreeDigest(tmp_.Sub("a") + "/index").size(), 1u);
  EXPECT_GT(TreeDigest(tmp_.Sub("b") + "/index").size(), 1u);
  // Only the scratch folder's parent is left behind, empty.
  for (const auto& [p, d] : TreeDigest(tmp_.Sub("b") + "/cache")) ADD_FAILURE() << "left in cache/: " << p;
  auto again = Open(tmp_.Sub("b"), 2048)->RemoveUnreferencedData(false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->blobs_removed, 0u);
}

TEST_F(BoundedPruneTest, FullScratchDiskFailsThePruneAndChangesNothing) {
  std::string src = tmp_.Sub("src");
  std::string dir = tmp_.Sub("repo");
  MakeRepository(dir, src, 3);
  ASSERT_TRUE(Open(dir)->DeleteSnapshots({ids_[0]}).ok());
  auto before = Objects(dir);
  // Sticky ENOSPC from the nth write on; writes before any repository change
  // are the scratch files': failing there must change nothing.
  int failed_in_scratch = 0;
  for (int nth = 1; nth < 400; ++nth) {
    FaultEnv env(Env::Default());
    auto repo = Open(dir, 2048, &env);
    env.FailAt(FaultEnv::Op::kWrite, nth, ENOSPC, /*sticky=*/true);
    auto gc = repo->RemoveUnreferencedData(false);
    if (gc.ok()) break;
    std::string msg = gc.status().ToString();
    if (msg.find("/cache") == std::string::npos) break;  // past the scratch: a repository write failed
    ++failed_in_scratch;
    EXPECT_EQ(Objects(dir), before) << msg;
  }
  EXPECT_GT(failed_in_scratch, 3);
  auto repo = Open(dir, 2048);
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_GT(gc->blobs_removed, 0u);
  ExpectWhole(repo.get(), ids_[2], src);
}

TEST_F(BoundedPruneTest, CreateUnderATinyBudgetFindsEveryStoredBlob) {
  std::string src = tmp_.Sub("src");
  std::string dir = tmp_.Sub("repo");
  MakeRepository(dir, src, 1);
  auto packs = TreeDigest(dir + "/packs");
  auto repo = Open(dir, 2048);
  CreateOptions co;
  co.racy_margin_ms = 0;
  co.created_micros = 1800000000000000;
  auto info = repo->Create(Sources(src), co);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(TreeDigest(dir + "/packs"), packs) << "an unchanged snapshot stores no blob again";
  ExpectWhole(repo.get(), info->id, src);
  for (const auto& [p, d] : TreeDigest(dir + "/cache")) ADD_FAILURE() << "left in cache/: " << p;
}

TEST_F(BoundedPruneTest, KillAtAnyGcCrashPointUnderATinyBudgetLosesNoNeededBlob) {
  std::string src = tmp_.Sub("src");
  std::string seed = tmp_.Sub("seed");
  MakeRepository(seed, src, 3);
  for (const char* point : {"gc.after_new_pack", "gc.after_new_packs", "gc.after_index", "gc.before_delete_packs",
                            "gc.after_delete_packs"}) {
    SCOPED_TRACE(point);
    TempDir t;
    std::string dir = t.Sub("repo");
    std::filesystem::copy(seed, dir, std::filesystem::copy_options::recursive);
    ASSERT_TRUE(Open(dir)->DeleteSnapshots({ids_[0], ids_[1]}).ok());
    RunChildUntilCrash(point, [&] {
      auto r = Repository::Open(Env::Default(), dir, false);
      if (!r.ok()) return;
      SetMemoryBudget(r->get(), 2048);
      (*r)->RemoveUnreferencedData(false).IgnoreError("the child is killed at the crash point");
    });
    auto repo = Open(dir, 2048);
    ExpectWhole(repo.get(), ids_[2], src);
    auto gc = repo->RemoveUnreferencedData(false);
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    ExpectWhole(repo.get(), ids_[2], src);
    // The dead child's scratch folder went with the next run.
    for (const auto& [p, d] : TreeDigest(dir + "/cache")) ADD_FAILURE() << "left in cache/: " << p;
  }
}

}  // namespace
}  // namespace maestro
