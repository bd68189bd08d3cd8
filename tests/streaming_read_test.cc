// tests/streaming_read_test.cc — restore, verify and copy of a format-4
// snapshot stream its listing (issue 14 point 2): a store whose listing spans
// many tree blobs comes back exactly, a damaged tree blob in the middle of a
// listing is Corruption that writes nothing, and the peak memory of a restore,
// a verify or a copy is below what holding the listing alone costs.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/copier.h"
#include "snapshot/repo_access.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::ReadFile;
using testing::RunCli;
using testing::Sh;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

std::unique_ptr<Repository> Open(const std::string& dir, bool create = false) {
  auto r = Repository::Open(Env::Default(), dir, create);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Runs fn in a forked child (so the test process's heap stays as it was) and
// returns what it wrote to its pipe; "" when it did not exit 0.
std::string InChild(const std::function<std::string()>& fn) {
  int fds[2];
  if (pipe(fds) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string out = fn();
    ssize_t n = write(fds[1], out.data(), out.size());
    _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "";
}

int64_t StatusKiB(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::string(key).size()));
  return -1;
}

// The growth of the peak RSS (KiB) while fn runs in a forked child: the peak
// is reset to the current RSS first (/proc/self/clear_refs, "5"). -1 on failure.
int64_t PeakGrowthKiB(const std::function<bool()>& fn) {
  malloc_trim(0);
  std::string out = InChild([&] {
    { std::ofstream("/proc/self/clear_refs") << "5"; }
    int64_t before = StatusKiB("VmHWM:");
    if (!fn()) return std::string("fail");
    return std::to_string(StatusKiB("VmHWM:") - before);
  });
  return out.empty() || out == "fail" ? -1 : std::stoll(out);
}

// A store of 15 folders of 20 folders of per_leaf files each, with long names
// (an entry is ~200 bytes of listing): at 27 files a folder (8,100 files) the
// listing spans ~28 tree blobs (~64 KiB each), enough for every listing case;
// the memory cases take 100 a folder (30,000 files), a listing that costs
// megabytes more than the fixed cost of a restore or a verify.
constexpr int kTop = 15, kSub = 20;

std::string TopFolder(int a) {
  char d[64];
  std::snprintf(d, sizeof d, "a%02d-a-folder-with-a-long-name", a);
  return d;
}
std::string SubFolder(int a, int b) {
  char e[64];
  std::snprintf(e, sizeof e, "/b%02d-another-folder-with-a-long-name", b);
  return TopFolder(a) + e;
}
// File i's path relative to the store.
std::string FilePath(int i, int per_leaf) {
  char f[96];
  std::snprintf(f, sizeof f, "/f%06d-a-document-whose-name-is-long-enough-to-fill-the-listing.md", i);
  return SubFolder(i / (per_leaf * kSub), (i / per_leaf) % kSub) + f;
}

void SetMtime(const std::string& path, int64_t secs) {
  struct timespec ts[2] = {{secs, 0}, {secs, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// One snapshot of a store of kFiles small files in three levels of folders,
// shared by the tests of a suite (made once, in a child: the test process's
// heap never held the listing). Folders get their own modes and mtimes, set
// after their content, so a restore that writes a child after its folder's
// mtime shows.
template <int kPerLeaf>
class ListingFixture : public ::testing::Test {
 protected:
  static constexpr int kFiles = kTop * kSub * kPerLeaf;
  static std::string FilePath(int i) { return maestro::FilePath(i, kPerLeaf); }
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string src = Src();
    for (int i = 0; i < kFiles; ++i) WriteFile(src + "/" + FilePath(i), "document " + std::to_string(i) + " of the streaming test\n");
    ASSERT_EQ(symlink(FilePath(0).c_str(), (src + "/link.md").c_str()), 0);
    ASSERT_EQ(chmod((src + "/" + TopFolder(1)).c_str(), 0750), 0);
    for (int a = 0; a < kTop; ++a) {
      for (int b = 0; b < kSub; ++b) SetMtime(src + "/" + SubFolder(a, b), 1500000000 + a * 100 + b);
      SetMtime(src + "/" + TopFolder(a), 1400000000 + a);
    }
    SetMtime(src, 1300000000);
    std::string id = InChild([&] {
      auto repo = Open(Repo(), true);
      CreateOptions co;
      co.racy_margin_ms = 0;
      auto info = repo ? repo->Create({{"markdown", src, true, true}}, co) : Result<SnapshotInfo>(Status::Internal("open"));
      return info.ok() ? info->id : std::string();
    });
    ASSERT_FALSE(id.empty());
    id_ = new std::string(id);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete id_;
  }

  static std::string Src() { return dir_->Sub("src"); }
  static std::string Repo() { return dir_->Sub("repo"); }

  // A copy of the shared repository to damage, opened, with the snapshot's
  // listing and the repository's index.
  struct RepoCopy {
    std::string dir;
    std::unique_ptr<Repository> repo;
    Manifest manifest;
    BlobIndex idx;
  };
  void CopyRepo(const TempDir& t, RepoCopy* c) {
    c->dir = t.Sub("damaged");
    ASSERT_EQ(Sh("cp -a '" + Repo() + "' '" + c->dir + "' && echo ok"), "ok\n");
    c->repo = Open(c->dir);
    auto m = c->repo->LoadManifest(*id_);
    ASSERT_TRUE(m.ok());
    c->manifest = std::move(m).value();
    ASSERT_TRUE(LoadIndex(*RepoFilesOf(c->repo.get()), &c->idx, true, nullptr, nullptr).ok());
  }

  // A copy of the shared repository whose tree blob `which` of the store's
  // listing has one stored byte flipped (its checksum fails).
  std::string DamagedCopy(const TempDir& t, size_t which) {
    RepoCopy c;
    CopyRepo(t, &c);
    EXPECT_GT(c.manifest.stores[0].tree_blobs.size(), which + 1);
    DamageBlob(c.repo.get(), c.idx, c.manifest.stores[0].tree_blobs[which]);
    return c.dir;
  }

  // The files of m's first store whose first blob is stored in the same
  // bytes (pack, offset) as the first blob of one of files.
  static std::set<std::string> FilesSharingStoredBytes(const Manifest& m, const BlobIndex& idx,
                                                       const std::set<std::string>& files) {
    std::set<std::pair<Hash128, uint64_t>> ranges;
    std::map<std::string, std::pair<Hash128, uint64_t>> where;
    for (const auto& f : m.stores[0].files) {
      IndexEntry e;
      if (f.chunks.empty() || !idx.Find(f.chunks[0], &e)) continue;
      where[f.path] = {e.pack, e.offset};
      if (files.count(f.path)) ranges.insert({e.pack, e.offset});
    }
    std::set<std::string> out;
    for (const auto& [path, at] : where)
      if (ranges.count(at)) out.insert(path);
    return out;
  }

  // Flips one stored byte of blob in its pack in repo: its checksum fails.
  static void DamageBlob(Repository* repo, const BlobIndex& idx, const Hash128& blob) {
    IndexEntry e;
    ASSERT_TRUE(idx.Find(blob, &e));
    const std::string pack = RepoFilesOf(repo)->PackPath(e.pack);
    std::string bytes = ReadFile(pack);
    bytes[e.offset + e.stored_len / 2] ^= 0x20;
    WriteFile(pack, bytes);
  }

  static TempDir* dir_;
  static std::string* id_;
};
template <int kPerLeaf>
TempDir* ListingFixture<kPerLeaf>::dir_ = nullptr;
template <int kPerLeaf>
std::string* ListingFixture<kPerLeaf>::id_ = nullptr;

using StreamingRead = ListingFixture<27>;
// Peak-RSS bounds: a sanitizer's allocator keeps freed memory in quarantine
// (ASan: 256 MiB by default) and shadows every byte, so these measure it, not us.
class StreamingReadMemory : public ListingFixture<100> {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "peak-RSS bounds are not measurable under a sanitizer's allocator; run in a plain build";
#endif
  }
};

TEST_F(StreamingRead, AStoreOfManyTreeBlobsRestoresExactlyFolderMetadataIncluded) {
  auto repo = Open(Repo());
  auto m = repo->LoadManifest(*id_);
  ASSERT_TRUE(m.ok());
  EXPECT_GT(m->stores[0].tree_blobs.size(), 10u);
  TempDir t;
  RestoreOptions ro;
  ro.sync = false;
  Status s = repo->RestoreStore(*id_, "markdown", t.Sub("out"), ro);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(TreeDigest(t.Sub("out")), TreeDigest(Src()));  // modes and mtimes of every folder too
}

TEST_F(StreamingRead, AStoreOfManyTreeBlobsVerifiesEveryBlobItReferences) {
  auto repo = Open(Repo());
  BlobIndex idx;
  ASSERT_TRUE(LoadIndex(*RepoFilesOf(repo.get()), &idx, true, nullptr, nullptr).ok());
  for (bool read_data : {false, true}) {
    auto rep = repo->Verify({}, read_data);
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
    EXPECT_EQ(rep->blobs_checked, idx.size());  // one snapshot: every blob stored is referenced once
  }
}

TEST_F(StreamingRead, AStoreOfManyTreeBlobsCopiesExactlyVerbatimAndRehashed) {
  for (bool rehash : {false, true}) {
    SCOPED_TRACE(rehash ? "rehashed" : "verbatim");
    TempDir t;
    auto from = Open(Repo());
    auto to = Open(t.Sub("copy"), true);
    CopyOptions co;
    co.rehash = rehash;
    auto r = CopySnapshots(from.get(), to.get(), {*id_}, co);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto src = from->LoadManifest(*id_);
    auto dst = to->LoadManifest(*id_);
    ASSERT_TRUE(src.ok() && dst.ok());
    ASSERT_EQ(dst->stores[0].files.size(), src->stores[0].files.size());
    for (size_t i = 0; i < src->stores[0].files.size(); ++i)
      ASSERT_EQ(dst->stores[0].files[i].path, src->stores[0].files[i].path) << i;
    EXPECT_EQ(dst->info.files, src->info.files);
    RestoreOptions ro;
    ro.sync = false;
    ASSERT_TRUE(to->RestoreStore(*id_, "markdown", t.Sub("out"), ro).ok());
    EXPECT_EQ(TreeDigest(t.Sub("out")), TreeDigest(Src()));
  }
}

TEST_F(StreamingRead, ADamagedTreeBlobMidListingIsCorruptionAndRestoreWritesNothing) {
  TempDir t;
  std::string dir = DamagedCopy(t, 3);
  auto repo = Open(dir);
  const std::string parent = t.Sub("restore-here");
  Status s = repo->RestoreStore(*id_, "markdown", parent + "/out", {});
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("listing of store markdown"), std::string::npos) << s.ToString();
  std::vector<DirEntry> left;
  ASSERT_TRUE(Env::Default()->ListDir(parent, &left).ok());
  EXPECT_TRUE(left.empty()) << left[0].name;  // neither the target nor its staging folder
}

// The writer threads (snapshot/restore_writers.h): one or several bring the
// store back the same, and the progress counts every file and byte.
TEST_F(StreamingRead, RestoreOnOneOrFourWriterThreadsComesBackExactlyAndCountsEveryFile) {
  auto repo = Open(Repo());
  for (int threads : {1, 4}) {
    SCOPED_TRACE(threads);
    TempDir t;
    RestoreOptions ro;
    ro.sync = threads == 1;  // the in-place restore's fsyncs, on a writer thread
    ro.threads = threads;
    Progress last;
    ro.progress = [&](const Progress& p) { last = p; };
    Status s = repo->RestoreStore(*id_, "markdown", t.Sub("out"), ro);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(TreeDigest(t.Sub("out")), TreeDigest(Src()));
    EXPECT_EQ(last.files_total, static_cast<uint64_t>(kFiles));
    EXPECT_EQ(last.files_done, static_cast<uint64_t>(kFiles));
    EXPECT_GT(last.bytes_total, 0u);
    EXPECT_EQ(last.bytes_done, last.bytes_total);
  }
}

// A file blob that fails its check, while other writers are busy with the
// files around it: Corruption naming the file, and nothing is left behind.
TEST_F(StreamingRead, ADamagedFileBlobMidListingStopsEveryWriterAndRestoreWritesNothing) {
  TempDir t;
  RepoCopy c;
  CopyRepo(t, &c);
  auto& repo = c.repo;
  const Manifest* m = &c.manifest;
  const BlobIndex& idx = c.idx;
  const std::string victim = FilePath(kFiles / 2);  // a file mid-listing
  bool found = false;
  for (const auto& f : m->stores[0].files) {
    if (f.path != victim) continue;
    ASSERT_EQ(f.chunks.size(), 1u);
    DamageBlob(repo.get(), idx, f.chunks[0]);
    found = true;
  }
  ASSERT_TRUE(found);
  // The victim's small blob shares its stored bytes with its blob group's
  // (snapshot/blob_group.h): any file of the group may be the one met first.
  const std::set<std::string> hit = FilesSharingStoredBytes(*m, idx, {victim});
  const std::string parent = t.Sub("restore-here");
  RestoreOptions ro;
  ro.sync = false;
  ro.threads = 4;
  Status s = repo->RestoreStore(*id_, "markdown", parent + "/out", ro);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(std::any_of(hit.begin(), hit.end(),
                          [&](const std::string& f) { return s.message().find("file " + f) != std::string::npos; }))
      << s.ToString();
  std::vector<DirEntry> left;
  ASSERT_TRUE(Env::Default()->ListDir(parent, &left).ok());
  EXPECT_TRUE(left.empty()) << left[0].name;  // neither the target nor its staging folder
}

TEST_F(StreamingRead, ADamagedTreeBlobMidListingIsNamedByVerify) {
  TempDir t;
  auto repo = Open(DamagedCopy(t, 3));
  auto rep = repo->Verify({}, false);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  ASSERT_FALSE(rep->ok());
  EXPECT_EQ(rep->problems[0].snapshot_id, *id_);
  EXPECT_NE(rep->problems[0].detail.find("listing of store markdown"), std::string::npos) << rep->problems[0].detail;
  // With the data read, the damaged tree blob itself is named as the listing's.
  rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  bool listing_named = false;
  for (const auto& p : rep->problems) listing_named |= p.snapshot_id == *id_ && p.path == "(listing)";
  EXPECT_TRUE(listing_named);
}

TEST_F(StreamingRead, ADamagedTreeBlobMidListingFailsTheCopyAndTheTargetListsNothing) {
  TempDir t;
  auto from = Open(DamagedCopy(t, 3));
  auto to = Open(t.Sub("copy"), true);
  auto r = CopySnapshots(from.get(), to.get(), {*id_}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("nothing of it is listed"), std::string::npos) << r.status().ToString();
  auto listed = to->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

// Damaged file blobs are still named file by file (the second pass), and
// only the files that use them.
TEST_F(StreamingRead, VerifyNamesEachFileWhoseBlobIsDamagedAndNoOther) {
  TempDir t;
  RepoCopy c;
  CopyRepo(t, &c);
  auto& repo = c.repo;
  const Manifest* m = &c.manifest;
  const BlobIndex& idx = c.idx;
  std::set<std::string> victims, chosen;
  std::set<std::pair<Hash128, uint64_t>> flipped;  // a blob group's members share one range: flipped once
  for (const auto& f : m->stores[0].files) {
    if (f.chunks.empty() || (f.path.rfind(SubFolder(7, 3) + "/", 0) != 0 && f.path.rfind(TopFolder(12) + "/", 0) != 0))
      continue;
    if (victims.size() % 2 == 0) {  // every other file of a folder, and of a folder of folders
      IndexEntry e;
      ASSERT_TRUE(idx.Find(f.chunks[0], &e));
      if (flipped.insert({e.pack, e.offset}).second) DamageBlob(repo.get(), idx, f.chunks[0]);
      chosen.insert(f.path);
    }
    victims.insert(f.path);
  }
  // Damaged: every file whose blob's stored bytes were flipped (with blob
  // groups, the other members of a chosen file's group too).
  const std::set<std::string> damaged = FilesSharingStoredBytes(*m, idx, chosen);
  ASSERT_GT(damaged.size(), 50u);
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  std::set<std::string> named;
  for (const auto& p : rep->problems) {
    if (p.snapshot_id.empty()) continue;  // the pack itself: its hash no longer matches
    EXPECT_EQ(p.store, "markdown");
    EXPECT_NE(p.detail.find("checksum mismatch"), std::string::npos) << p.path << ": " << p.detail;
    named.insert(p.path);
  }
  EXPECT_EQ(named, damaged);
}

// Peak memory: below what the listing alone costs in memory (LoadManifest of
// the snapshot, its index loaded beforehand), which the old restore and
// verify held and more (a set of folders; a map of every blob to its files).
// The restore and verify measured run with a 64 KiB memory budget: their
// index and blob id sets spill to the cache as they would past 8 MiB at
// production size, so what is left to measure at this size is the listing
// (streamed, or not) over a fixed cost.
// Below half the listing: a restore or verify that held the listing as
// LoadManifest does (measured so once) comes out at about the listing's cost.
constexpr size_t kSmallBudget = 64 << 10;
constexpr int64_t kListingFloorKiB = 8192;
int64_t ListingCostKiB(const std::string& repo_dir, const std::string& id) {
  return PeakGrowthKiB([&] {
    auto repo = Open(repo_dir);
    const RepoFiles* files = RepoFilesOf(repo.get());
    BlobIndex idx;
    if (!LoadIndex(*files, &idx, true, nullptr, nullptr).ok()) return false;
    std::ofstream("/proc/self/clear_refs") << "5";  // the listing alone from here
    return LoadManifest(*files, id, &idx).ok();
  });
}

TEST_F(StreamingReadMemory, RestorePeakMemoryIsBelowHalfTheCostOfHoldingTheListing) {
  const int64_t listing = ListingCostKiB(Repo(), *id_);
  ASSERT_GT(listing, kListingFloorKiB) << "the listing of " << kFiles << " files should cost megabytes";
  TempDir t;
  const int64_t restore = PeakGrowthKiB([&] {
    auto repo = Open(Repo());
    SetMemoryBudget(repo.get(), kSmallBudget);
    RestoreOptions ro;
    ro.sync = false;
    return repo->RestoreStore(*id_, "markdown", t.Sub("out"), ro).ok();
  });
  ASSERT_GE(restore, 0);
  std::printf("[ measured ] %d files: holding the listing %lld KiB; restore's peak growth %lld KiB\n", kFiles,
              static_cast<long long>(listing), static_cast<long long>(restore));
  EXPECT_LT(restore, listing / 2);
}

TEST_F(StreamingReadMemory, VerifyPeakMemoryIsBelowHalfTheCostOfHoldingTheListing) {
  const int64_t listing = ListingCostKiB(Repo(), *id_);
  ASSERT_GT(listing, kListingFloorKiB);
  for (bool read_data : {false, true}) {
    const int64_t verify = PeakGrowthKiB([&] {
      auto repo = Open(Repo());
      SetMemoryBudget(repo.get(), kSmallBudget);
      auto rep = repo->Verify({}, read_data);
      return rep.ok() && rep->ok();
    });
    ASSERT_GE(verify, 0);
    std::printf("[ measured ] %d files: holding the listing %lld KiB; verify%s peak growth %lld KiB\n", kFiles,
                static_cast<long long>(listing), read_data ? " --read-data" : "", static_cast<long long>(verify));
    EXPECT_LT(verify, listing / 2);
  }
}

// The peak RSS (KiB) of one maestro-db run with args (in a forked child, so
// RUSAGE_CHILDREN is that run's alone); its stdout into *out. -1 on failure.
int64_t CliPeakKiB(const std::vector<std::string>& args, std::string* out) {
  std::string got = InChild([&] {
    auto r = RunCli(args);
    if (r.exit_code != 0) return std::string("fail");
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return std::to_string(ru.ru_maxrss) + "\n" + r.out;
  });
  if (got.empty() || got == "fail") return -1;
  *out = got.substr(got.find('\n') + 1);
  return std::stoll(got.substr(0, got.find('\n')));
}

// `snap restore --dry-run` prints each store's file count and bytes: it
// counts them from the listing as it streams by, so its peak is a `snap
// verify`'s (the index, one tree blob at a time), never that plus the listing
// (it loaded the whole manifest: a peak of verify's plus the listing's).
TEST_F(StreamingReadMemory, DryRunCountsTheListingWithoutHoldingIt) {
  const int64_t listing = ListingCostKiB(Repo(), *id_);
  ASSERT_GT(listing, kListingFloorKiB);
  TempDir t;
  std::string dry_out, verify_out;
  const int64_t dry = CliPeakKiB({"--repo", Repo(), "--json", "snap", "restore", *id_, "--to", t.Sub("dry"), "--dry-run"}, &dry_out);
  const int64_t verify = CliPeakKiB({"--repo", Repo(), "--json", "snap", "verify", *id_}, &verify_out);
  ASSERT_GE(dry, 0) << dry_out;
  ASSERT_GE(verify, 0) << verify_out;
  std::printf("[ measured ] %d files: holding the listing %lld KiB; peak RSS of the dry run %lld KiB, of verify %lld KiB\n",
              kFiles, static_cast<long long>(listing), static_cast<long long>(dry), static_cast<long long>(verify));
  EXPECT_LT(dry, verify + listing / 4);  // holding it: ~verify + 0.5 x listing (RSS, not heap)
  EXPECT_NE(dry_out.find("\"files\": " + std::to_string(kFiles) + ","), std::string::npos) << dry_out;
  EXPECT_FALSE(Env::Default()->FileExists(t.Sub("dry")));
}

// The copy streams the source's listing and writes the target's as its
// entries come (tree blobs cut on the way, index pieces of bounded size), so
// it never holds the listing either. Its blob sets (the source's index, the
// target's, the blobs sent) are bounded by the repositories' memory budget:
// 1 MiB here, as the 8 MiB default is at 300,000 files, so that what grows
// with the listing shows at 30,000.
TEST_F(StreamingReadMemory, CopyPeakMemoryIsBelowTheCostOfHoldingTheListing) {
  const int64_t listing = ListingCostKiB(Repo(), *id_);
  ASSERT_GT(listing, kListingFloorKiB);
  TempDir t;
  const int64_t copy = PeakGrowthKiB([&] {
    auto from = Open(Repo());
    auto to = Open(t.Sub("copy"), true);
    SetMemoryBudget(from.get(), 1u << 20);
    SetMemoryBudget(to.get(), 1u << 20);
    return CopySnapshots(from.get(), to.get(), {*id_}, {}).ok();
  });
  ASSERT_GE(copy, 0);
  std::printf("[ measured ] %d files: holding the listing %lld KiB; copy's peak growth %lld KiB\n", kFiles,
              static_cast<long long>(listing), static_cast<long long>(copy));
  EXPECT_LT(copy, listing);
}

}  // namespace
}  // namespace maestro
