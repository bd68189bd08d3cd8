// tests/format4_test.cc — repository format 4 (docs/format-4.md, issue 14
// point 1): metadata as deduplicated tree blobs, v4 packs/index/manifests
// through the Sealer, format 3 still read (a real format-3 repository made by
// the previous build: tests/data/format3_repo), `Upgrade` crash-safe.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/crypto.h"
#include "snapshot/listing_reader.h"
#include "snapshot/blob_reader.h"
#include "snapshot/format.h"
#include "snapshot/pack_writer.h"
#include "snapshot/repo_access.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "tests/format3_fixture.h"
#include "tests/test_util.h"
#include "util/coding.h"
#include "util/crash_point.h"
#include "tests/support/fault_env.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using testing::RandomBytes;
using testing::RunChildUntilCrash;
using testing::CopyFormat3Fixture;
using testing::ExpectFormat3SnapshotsWhole;
using testing::Format3BigCsv;
using testing::Names;
using testing::ReadFile;
using testing::Rows;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

std::unique_ptr<Repository> Open(const std::string& dir, bool create = false, Env* env = Env::Default()) {
  auto r = Repository::Open(env, dir, create);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
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

std::string Head(const std::string& path, size_t n) { return ReadFile(path).substr(0, n); }

std::set<std::string> NewNames(const std::vector<std::string>& before, const std::string& dir) {
  std::set<std::string> out;
  for (const auto& n : Names(dir))
    if (std::find(before.begin(), before.end(), n) == before.end()) out.insert(n);
  return out;
}

TEST(Format3Fixture, IsListedShownRestoredAndVerifiedByTheFormat4Reader) {
  TempDir t;
  auto repo = Open(CopyFormat3Fixture(t));
  ASSERT_TRUE(repo);
  EXPECT_EQ(repo->format_version(), 1u);
  auto list = repo->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].label, "first");
  EXPECT_EQ((*list)[1].label, "second");
  auto m = repo->LoadManifest((*list)[1].id);  // `snap show`
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->format_version, 3u);
  std::set<std::string> paths;
  for (const auto& st : m->stores)
    if (st.name == "markdown")
      for (const auto& f : st.files) paths.insert(f.path + (f.type == ManifestFile::Type::kSymlink ? "@" : ""));
  EXPECT_EQ(paths, (std::set<std::string>{"", "a.txt", "link@", "sub", "sub/b.md", "sub/big.csv"}));
  ExpectFormat3SnapshotsWhole(repo.get(), t);
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
  EXPECT_EQ(rep->snapshots_checked, 2u);
}

// A format-3 repository keeps being written as format 3 (no v4 object in it)
// until Upgrade; after it, only v4 objects are written, and old ones stay read.
TEST(Format3Fixture, IsWrittenAsFormat3UntilUpgradedThenAsFormat4) {
  TempDir t;
  std::string dir = CopyFormat3Fixture(t);
  WriteFile(t.Sub("src/x.md"), "x\n");
  std::vector<SnapshotSource> src = {{"markdown", t.Sub("src"), true, true}};
  auto before = Names(dir);
  {
    auto repo = Open(dir);
    ASSERT_TRUE(repo->Create(src, {}).ok());
  }
  for (const auto& n : NewNames(before, dir)) {
    if (n.rfind("snapshots/", 0) == 0) {
      EXPECT_EQ(Head(dir + "/" + n, 12), std::string("MDBSNAP\0\3\0\0\0", 12)) << n;
    } else if (n.rfind("packs/", 0) == 0) {
      EXPECT_EQ(Head(dir + "/" + n, 12), std::string("MDBPACK\0\1\0\0\0", 12)) << n;
    } else if (n.rfind("index/", 0) == 0) {
      EXPECT_EQ(Head(dir + "/" + n, 12), std::string("MDBINDX\0\1\0\0\0", 12)) << n;
    }
  }
  EXPECT_NE(ReadFile(dir + "/config").find("format_version=1\n"), std::string::npos);
  {
    auto repo = Open(dir);
    ASSERT_TRUE(repo->Upgrade().ok());
    EXPECT_EQ(repo->format_version(), 4u);
    ASSERT_TRUE(repo->Upgrade().ok());  // a no-op the second time
  }
  std::string cfg = ReadFile(dir + "/config");
  EXPECT_NE(cfg.find("format_version=4\nrepository_id="), std::string::npos) << cfg;
  EXPECT_NE(cfg.find("encryption=none\n"), std::string::npos) << cfg;
  before = Names(dir);
  WriteFile(t.Sub("src/y.md"), "y\n");
  auto repo = Open(dir);
  EXPECT_EQ(repo->format_version(), 4u);
  ASSERT_TRUE(repo->Create(src, {}).ok());
  std::set<std::string> fresh = NewNames(before, dir);
  ASSERT_EQ(fresh.size(), 3u);  // a pack, an index file, a manifest
  for (const auto& n : fresh) {
    std::string bytes = ReadFile(dir + "/" + n);
    EXPECT_NE(bytes.substr(0, 7), "MDBSNAP") << n;
    EXPECT_NE(bytes.substr(0, 7), "MDBPACK") << n;
    if (n.rfind("packs/", 0) == 0) EXPECT_EQ(bytes.substr(bytes.size() - 8), "MDBPACK4");
    if (n.rfind("index/", 0) == 0) EXPECT_EQ(bytes.substr(0, 12), std::string("MDBINDX\0\4\0\0\0", 12));
  }
  ExpectFormat3SnapshotsWhole(repo.get(), t);
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
  // GC of a mixed repository: delete the fixture's first snapshot; its only
  // blob (a.txt's old content) goes, everything else stays readable. (max_unused
  // 0: its format-3 pack is rewritten however little of it is unused.)
  auto list = repo->List();
  ASSERT_TRUE(repo->DeleteSnapshots({(*list)[0].id}).ok());
  auto gc = repo->RemoveUnreferencedData(false, 0);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_TRUE(gc->skipped.empty()) << gc->skipped;
  EXPECT_GT(gc->blobs_removed, 0u);
  rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
  list = repo->List();
  ASSERT_EQ(list->size(), 3u);
  for (const auto& s : *list) {
    std::string out = t.Sub("after-gc-" + s.id);
    ASSERT_TRUE(repo->RestoreStore(s.id, "markdown", out, {}).ok()) << s.id;
  }
}

TEST(Format3Fixture, UpgradeRefusesADamagedManifestAndChangesNothing) {
  TempDir t;
  std::string dir = CopyFormat3Fixture(t);
  auto ids = Names(dir + "/snapshots");
  std::string path = dir + "/snapshots/" + ids[0];
  std::string bytes = ReadFile(path);
  bytes[40] ^= 1;
  WriteFile(path, bytes);
  std::string cfg = ReadFile(dir + "/config");
  auto repo = Open(dir);
  Status s = repo->Upgrade();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("snap repair"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadFile(dir + "/config"), cfg);
  EXPECT_EQ(repo->format_version(), 1u);
}

// `snap upgrade` through the binary: --help, --dry-run changes nothing, --json, idempotent.
TEST(Format3Fixture, SnapUpgradeCommandUpgradesOnceAndSaysSo) {
  TempDir t;
  std::string dir = CopyFormat3Fixture(t);
  auto help = testing::RunCli({"--repo", dir, "snap", "upgrade", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--dry-run"), std::string::npos) << help.out;
  std::string cfg = ReadFile(dir + "/config");
  auto dry = testing::RunCli({"--repo", dir, "--json", "snap", "upgrade", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("\"upgraded\": false"), std::string::npos) << dry.out;
  EXPECT_EQ(ReadFile(dir + "/config"), cfg);
  auto run = testing::RunCli({"--repo", dir, "--json", "snap", "upgrade"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("\"upgraded\": true"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\"from_format\": 3"), std::string::npos) << run.out;
  auto again = testing::RunCli({"--repo", dir, "snap", "upgrade"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("already format 4"), std::string::npos) << again.out;
  auto verify = testing::RunCli({"--repo", dir, "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Killed before or after the config is rewritten: a whole format-3 or a whole
// format-4 repository, never anything between; the next writer goes on.
TEST(Format3Fixture, UpgradeKilledAtEitherSideOfTheConfigLeavesAWholeRepository) {
  for (const char* point : {"upgrade.before_config", "upgrade.after_config"}) {
    SCOPED_TRACE(point);
    TempDir t;
    std::string dir = CopyFormat3Fixture(t);
    RunChildUntilCrash(point, [&] {
      auto r = Repository::Open(Env::Default(), dir, false);
      if (r.ok()) (*r)->Upgrade().IgnoreError("the child is killed at the crash point");
    });
    auto repo = Open(dir);
    ASSERT_TRUE(repo);
    EXPECT_EQ(repo->format_version(), std::string(point) == "upgrade.before_config" ? 1u : 4u);
    ExpectFormat3SnapshotsWhole(repo.get(), t);
    ASSERT_TRUE(repo->Upgrade().ok());
    WriteFile(t.Sub("src/z.md"), "z\n");
    ASSERT_TRUE(repo->Create({{"markdown", t.Sub("src"), true, true}}, {}).ok());
    auto rep = repo->Verify({}, true);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
  }
}

// A power cut at any sync of the upgrade: what survives is format 3 or 4, whole.
TEST(Format3Fixture, PowerCutDuringUpgradeLeavesFormat3OrFormat4) {
  std::set<uint32_t> seen;
  for (int n = 1; n <= 4; ++n) {
    SCOPED_TRACE(n);
    TempDir t;
    std::string dir = CopyFormat3Fixture(t);
    FaultEnv env(Env::Default());
    env.PowerCutAt(FaultEnv::Op::kSync, n);
    {
      auto r = Repository::Open(&env, dir, false);
      ASSERT_TRUE(r.ok());
      (*r)->Upgrade().IgnoreError("the power cut may make it fail; what survives is checked");
    }
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    auto repo = Open(dir);
    ASSERT_TRUE(repo);
    seen.insert(repo->format_version());
    ExpectFormat3SnapshotsWhole(repo.get(), t);
  }
  EXPECT_EQ(seen, (std::set<uint32_t>{1u, 4u}));
}

// ---------------------------------------------------------------- format 4 at scale

// files small files in folders of 100: d000/f00000 ...
void MakeManyFiles(const std::string& root, int files) {
  for (int i = 0; i < files; ++i) {
    char rel[64];
    std::snprintf(rel, sizeof rel, "/d%03d/f%05d.md", i / 100, i);
    WriteFile(root + rel, "document " + std::to_string(i) + "\n");
  }
}

// Bytes of tree blobs (stored), index files and manifests: the metadata.
uint64_t MetadataBytes(const std::string& repo) {
  uint64_t n = DirBytes(repo + "/index") + DirBytes(repo + "/snapshots");
  for (const auto& name : Names(repo + "/index")) {
    auto entries = DecodeIndex(ReadFile(repo + "/index/" + name), name);
    EXPECT_TRUE(entries.ok());
    if (entries.ok())
      for (const auto& e : *entries)
        if (e.type == BlobType::kTree) n += e.stored_len;
  }
  return n;
}

class Format4Scale : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeManyFiles(src_, kFiles);
    repo_ = Open(dir_, true);
    ASSERT_TRUE(repo_);
    co_.racy_margin_ms = 0;
    auto a = repo_->Create(Sources(), co_);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    first_ = *a;
    first_meta_ = MetadataBytes(dir_);
  }
  std::vector<SnapshotSource> Sources() const { return {{"markdown", src_, true, true}}; }
  void Touch(int i) {
    char rel[64];
    std::snprintf(rel, sizeof rel, "/d%03d/f%05d.md", i / 100, i);
    struct timespec ts[2] = {{1600000000, 0}, {1600000000 + i, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, (src_ + rel).c_str(), ts, 0), 0);
  }

  static constexpr int kFiles = 20000;
  TempDir t_;
  std::string src_ = t_.Sub("src"), dir_ = t_.Sub("repo");
  std::unique_ptr<Repository> repo_;
  CreateOptions co_;
  SnapshotInfo first_;
  uint64_t first_meta_ = 0;
};

TEST_F(Format4Scale, UnchangedSnapshotOf20000FilesAddsUnder1KiB) {
  EXPECT_EQ(first_.files, static_cast<uint64_t>(kFiles));
  // The first snapshot's NEW counts everything it wrote, metadata included.
  EXPECT_EQ(first_.stored_bytes, DirBytes(dir_ + "/packs") + DirBytes(dir_ + "/index") + DirBytes(dir_ + "/snapshots"));
  uint64_t before = DirBytes(dir_);
  auto b = repo_->Create(Sources(), co_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  uint64_t growth = DirBytes(dir_) - before;
  EXPECT_LT(b->stored_bytes, 1024u);
  EXPECT_LT(growth, 1024u);
  EXPECT_EQ(b->stored_bytes, growth);  // the manifest, and nothing else
  std::printf("[ measured ] %d files: first snapshot metadata %llu bytes; unchanged snapshot adds %llu bytes\n", kFiles,
              static_cast<unsigned long long>(first_meta_), static_cast<unsigned long long>(growth));
  auto m = repo_->LoadManifest(b->id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->stores[0].files.size(), static_cast<size_t>(kFiles + 201));  // files, 200 folders, the root
  EXPECT_GT(m->stores[0].tree_blobs.size(), 1u);
}

// Every path under dir (folders too) with its lstat size: what `du -sb`, and
// so the peer harness's "repository growth", adds up.
std::map<std::string, uint64_t> PathSizes(const std::string& dir) {
  std::map<std::string, uint64_t> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st;
    EXPECT_EQ(::lstat(e.path().c_str(), &st), 0) << e.path();
    out[e.path().string().substr(dir.size() + 1)] = static_cast<uint64_t>(st.st_size);
  }
  return out;
}
uint64_t SumSizes(const std::map<std::string, uint64_t>& m) {
  uint64_t n = 0;
  for (const auto& [p, size] : m) n += size;
  return n;
}

// Past the index's memory budget (78,201 files in the peer harness's many-files
// profile) a create spills to cache/; an empty cache/ left behind was 4 KiB of
// folder that the unchanged snapshot added beside its 668-byte manifest (4.7 KiB
// measured). Now it adds its manifest and not one other path, folders included.
TEST_F(Format4Scale, UnchangedSnapshotPastTheMemoryBudgetAddsOnlyItsManifest) {
  SetMemoryBudget(repo_.get(), 16u << 10);  // the index and the new-blob set spill
  const auto before = PathSizes(dir_);
  auto b = repo_->Create(Sources(), co_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const auto after = PathSizes(dir_);
  std::set<std::string> added;
  for (const auto& [p, size] : after)
    if (!before.count(p)) added.insert(p);
  EXPECT_EQ(added, std::set<std::string>{"snapshots/" + b->id}) << "the snapshot left more than its manifest";
  const uint64_t growth = SumSizes(after) - SumSizes(before);
  EXPECT_LT(growth, 1024u);
  EXPECT_EQ(b->stored_bytes, growth);  // snap list's NEW: the manifest, all there is
  // Readers past the budget (verify --read-data) leave nothing either.
  auto rep = repo_->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok());
  EXPECT_EQ(PathSizes(dir_), after);
}

// The streaming reader hands out exactly the listing LoadManifest expands,
// in the same order, one tree blob at a time; a missing tree blob is an error.
TEST_F(Format4Scale, ListingReaderStreamsTheSameEntriesAsLoadManifest) {
  auto full = repo_->LoadManifest(first_.id);
  ASSERT_TRUE(full.ok());
  auto backend = NewLocalBackend(Env::Default(), dir_);
  RepoFiles files(Env::Default(), backend.get(), dir_, kRepoFormatV4, PlainSealer().get());
  BlobIndex idx;
  ASSERT_TRUE(LoadIndex(files, &idx, true, nullptr, nullptr).ok());
  auto head = LoadManifestHead(files, first_.id);
  ASSERT_TRUE(head.ok());
  ListingReader r(files, &idx, head->stores[0], "listing");
  ManifestFile f;
  size_t n = 0;
  const auto& want = full->stores[0].files;
  while (r.Next(&f)) {
    ASSERT_LT(n, want.size());
    EXPECT_EQ(f.path, want[n].path);
    EXPECT_EQ(f.chunks, want[n].chunks);
    ++n;
  }
  EXPECT_TRUE(r.status().ok()) << r.status().ToString();
  EXPECT_EQ(n, want.size());
  EXPECT_EQ(r.tree_blobs(), full->stores[0].tree_blobs);
  // Without the index entry of its second tree blob, the reader stops with Corruption.
  BlobIndex partial;
  ASSERT_TRUE(idx.ForEach([&](const IndexEntry& e) {
                   if (e.blob != full->stores[0].tree_blobs[1]) partial.Insert(e);
                   return Status::OK();
                 }).ok());
  ListingReader cut(files, &partial, head->stores[0], "listing");
  n = 0;
  while (cut.Next(&f)) ++n;
  EXPECT_TRUE(cut.status().IsCorruption()) << cut.status().ToString();
  EXPECT_GT(n, 0u);
  EXPECT_LT(n, want.size());
}

// 1% of the files changed, as a day of maestro changes them (the new and
// re-processed documents of a batch sit together in the listing).
TEST_F(Format4Scale, OnePercentChangedAddsMetadataInProportion) {
  for (int i = 5000; i < 5000 + kFiles / 100; ++i) Touch(i);
  uint64_t before = MetadataBytes(dir_);
  auto c = repo_->Create(Sources(), co_);
  ASSERT_TRUE(c.ok());
  uint64_t added = MetadataBytes(dir_) - before;
  EXPECT_LT(added, first_meta_ / 20) << "1% of the files changed; metadata added " << added << " of " << first_meta_;
  EXPECT_EQ(c->stored_bytes, DirBytes(dir_ + "/packs") + DirBytes(dir_ + "/index") + DirBytes(dir_ + "/snapshots") -
                                 first_.stored_bytes);
  std::printf("[ measured ] 1%% of %d files changed together: metadata added %llu bytes (%.1f%% of the first's %llu)\n",
              kFiles, static_cast<unsigned long long>(added), 100.0 * added / first_meta_,
              static_cast<unsigned long long>(first_meta_));
  // Scattered (every 100th file): every listing chunk holds a change. Measured, not bounded.
  for (int i = 0; i < kFiles; i += 100) Touch(i + 1);
  before = MetadataBytes(dir_);
  ASSERT_TRUE(repo_->Create(Sources(), co_).ok());
  std::printf("[ measured ] 1%% of %d files changed, scattered: metadata added %llu bytes\n", kFiles,
              static_cast<unsigned long long>(MetadataBytes(dir_) - before));
  auto rep = repo_->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
}

// The peer harness's "1% day" (5 new documents: 15 new files whose random
// names land all over the flat pdfs/markdown/metadata folders, plus the
// databases) touches the listing in a few dozen places, each costing a whole
// tree blob: with ~64 KiB tree blobs that day added 654 KB of metadata at 78,201
// files (19% of the first snapshot's 3.5 MB); with ~16 KiB ones 170 KB (4.8%).
TEST_F(Format4Scale, TenNewFilesScatteredThroughTheListingAddUnderAnEighthOfItsMetadata) {
  for (int k = 0; k < 10; ++k) {
    char rel[32];
    std::snprintf(rel, sizeof rel, "/d%03d/new.md", 10 + k * 20);  // one in every 20 folders
    WriteFile(src_ + rel, "new " + std::to_string(k));
  }
  const uint64_t before = MetadataBytes(dir_);
  auto c = repo_->Create(Sources(), co_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const uint64_t added = MetadataBytes(dir_) - before;
  std::printf("[ measured ] 10 new files scattered through %d: metadata added %llu bytes (%.1f%% of the first's %llu)\n",
              kFiles, static_cast<unsigned long long>(added), 100.0 * added / first_meta_,
              static_cast<unsigned long long>(first_meta_));
  EXPECT_LT(added, first_meta_ / 8) << "10 new files added " << added << " of " << first_meta_ << " bytes of metadata";
}

// ---------------------------------------------------------------- gc keeps tree blobs

std::set<Hash128> TreeBlobsIn(const std::string& repo) {
  std::set<Hash128> out;
  for (const auto& name : Names(repo + "/index")) {
    auto entries = DecodeIndex(ReadFile(repo + "/index/" + name), name);
    EXPECT_TRUE(entries.ok());
    if (entries.ok())
      for (const auto& e : *entries)
        if (e.type == BlobType::kTree) out.insert(e.blob);
  }
  return out;
}

TEST(Format4Gc, PruneKeepsTheTreeBlobsOfKeptSnapshotsAndRemovesThoseOfDeletedOnes) {
  TempDir t;
  std::string src = t.Sub("src"), dir = t.Sub("repo");
  WriteFile(src + "/a.md", "a\n");
  WriteFile(src + "/big.bin", RandomBytes(300000, 7));
  auto repo = Open(dir, true);
  std::vector<SnapshotSource> sources = {{"markdown", src, true, true}};
  auto a = repo->Create(sources, {});
  ASSERT_TRUE(a.ok());
  WriteFile(src + "/b.md", "b\n");
  auto b = repo->Create(sources, {});
  ASSERT_TRUE(b.ok());
  auto ma = repo->LoadManifest(a->id), mb = repo->LoadManifest(b->id);
  ASSERT_TRUE(ma.ok() && mb.ok());
  std::set<Hash128> of_a = {ma->stores[0].root}, of_b = {mb->stores[0].root};
  for (const auto& h : ma->stores[0].tree_blobs) of_a.insert(h);
  for (const auto& h : mb->stores[0].tree_blobs) of_b.insert(h);
  ASSERT_NE(of_a, of_b);
  std::set<Hash128> all = TreeBlobsIn(dir);
  for (const auto& h : of_a) EXPECT_TRUE(all.count(h));
  for (const auto& h : of_b) EXPECT_TRUE(all.count(h));
  // GC with both snapshots kept: every tree blob stays.
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok());
  EXPECT_EQ(gc->blobs_removed, 0u);
  ASSERT_TRUE(repo->DeleteSnapshots({a->id}).ok());
  // max_unused 0: every partly used pack is rewritten (by default a pack this
  // little of is unused stays, its unused blobs still indexed).
  gc = repo->RemoveUnreferencedData(false, 0);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_TRUE(gc->skipped.empty()) << gc->skipped;
  all = TreeBlobsIn(dir);
  for (const auto& h : of_b) EXPECT_TRUE(all.count(h)) << "a tree blob of the kept snapshot was removed";
  for (const auto& h : of_a)
    if (!of_b.count(h)) EXPECT_FALSE(all.count(h)) << "a tree blob of the deleted snapshot was kept";
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
  ASSERT_TRUE(repo->RestoreStore(b->id, "markdown", t.Sub("out"), {}).ok());
  EXPECT_EQ(TreeDigest(t.Sub("out")), TreeDigest(src));
}

// ---------------------------------------------------------------- incomplete uploads

TEST(Format4Manifest, AnUploadCutShortIsNeverListedAndIsNamedAsAWarning) {
  TempDir t;
  std::string src = t.Sub("src"), dir = t.Sub("repo");
  WriteFile(src + "/a.md", "a\n");
  auto repo = Open(dir, true);
  auto a = repo->Create({{"markdown", src, true, true}}, {});
  ASSERT_TRUE(a.ok());
  std::string bytes = ReadFile(dir + "/snapshots/" + a->id);
  WriteFile(dir + "/snapshots/20991231_235959", bytes.substr(0, bytes.size() / 2));
  auto scan = repo->Scan();
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->snapshots.size(), 1u);
  EXPECT_TRUE(scan->damaged.empty());
  ASSERT_EQ(scan->incomplete.size(), 1u);
  EXPECT_EQ(scan->incomplete[0].id, "20991231_235959");
  EXPECT_NE(scan->incomplete[0].reason.find("incomplete upload"), std::string::npos);
  EXPECT_EQ(*repo->ResolveId("latest"), a->id);
  // verify names it (a write that did not finish), as it names any damage.
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->problems.size(), 1u);
  EXPECT_NE(rep->problems[0].path.find("20991231_235959"), std::string::npos);
  auto gc = repo->RemoveUnreferencedData(false);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_TRUE(gc->skipped.empty()) << gc->skipped;
  EXPECT_FALSE(Env::Default()->FileExists(dir + "/snapshots/20991231_235959")) << "the next writer removes it";
  EXPECT_TRUE(repo->Verify({}, true)->ok());
  // Whole length, one flipped byte: damaged (not incomplete), as in format 3.
  bytes[bytes.size() - 3] ^= 1;
  WriteFile(dir + "/snapshots/20991231_235959", bytes);
  scan = repo->Scan();
  EXPECT_EQ(scan->damaged.size(), 1u);
  EXPECT_TRUE(scan->incomplete.empty());
}

// ---------------------------------------------------------------- codecs

TEST(Format4Pack, RawBlobsAndZstdFramesOfRawBlocksAreBothRead) {
  TempDir t;
  std::string dir = t.Sub("repo");
  ASSERT_TRUE(Open(dir, true));
  auto backend = NewLocalBackend(Env::Default(), dir);
  RepoFiles files(Env::Default(), backend.get(), dir, kRepoFormatV4, PlainSealer().get());
  ASSERT_TRUE(files.EnsureScratch().ok());
  std::string raw = RandomBytes(100000, 9), text = std::string(50000, 'q') + "end";
  Hash128 raw_id = Xxh128(raw), text_id = Xxh128(text);
  // Two zstd frames back to back, the first of raw (uncompressed) blocks.
  std::string frames(ZSTD_compressBound(text.size()) * 2, '\0');
  size_t n1 = ZSTD_compress(frames.data(), frames.size(), text.data(), 20000, 0);
  ASSERT_FALSE(ZSTD_isError(n1));
  size_t n2 = ZSTD_compress(frames.data() + n1, frames.size() - n1, text.data() + 20000, text.size() - 20000, 3);
  ASSERT_FALSE(ZSTD_isError(n2));
  frames.resize(n1 + n2);
  {
    PackWriter w(files, "");
    ASSERT_TRUE(w.Add(raw_id, raw.size(), raw, BlobCodec::kRaw).ok());
    ASSERT_TRUE(w.Add(text_id, text.size(), frames, BlobCodec::kZstd).ok());
    ASSERT_TRUE(w.Finish().ok());
    ASSERT_TRUE(WriteIndexFile(files, w.TakeEntries()).ok());
  }
  BlobIndex idx;
  ASSERT_TRUE(LoadIndex(files, &idx, true, nullptr, nullptr).ok());
  IndexEntry raw_entry;
  ASSERT_TRUE(idx.Find(raw_id, &raw_entry));
  EXPECT_EQ(raw_entry.codec, BlobCodec::kRaw);
  BlobReader reader(files, &idx);
  std::string out;
  ASSERT_TRUE(reader.Read(raw_id, &out).ok());
  EXPECT_EQ(out, raw);
  ASSERT_TRUE(reader.Read(text_id, &out).ok());
  EXPECT_EQ(out, text);
  // A pack is self-describing: repair's decoder finds both, codecs included.
  auto names = Names(dir + "/packs");
  ASSERT_EQ(names.size(), 1u);
  auto entries = DecodePack(ReadFile(dir + "/packs/" + names[0]), Hash128(), names[0]);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].codec, BlobCodec::kRaw);
  EXPECT_EQ((*entries)[1].codec, BlobCodec::kZstd);
}

// Blobs of falling and rising lengths from two threads at once into an
// encrypted repository: each Add seals into a buffer that an earlier Add (of
// either thread) kept, yet every blob is stored at its own length and reads
// back whole; one longer than the kept limit is sealed all the same.
TEST(Format4Pack, EncryptedBlobsSealedIntoKeptBuffersFromTwoThreadsReadBack) {
  TempDir t;
  std::string dir = t.Sub("repo");
  ASSERT_TRUE(Open(dir, true));
  auto key = MasterKey::Generate();
  ASSERT_TRUE(key.ok());
  auto sealer = EncryptingSealer(*key, kDefaultEncryption, dir);
  ASSERT_TRUE(sealer.ok()) << sealer.status().ToString();
  auto backend = NewLocalBackend(Env::Default(), dir);
  RepoFiles files(Env::Default(), backend.get(), dir, kRepoFormatV4, sealer->get());
  ASSERT_TRUE(files.EnsureScratch().ok());
  const size_t lengths[] = {1u << 20, 10, 300000, 4u << 20, 1, 6u << 20, 70000, 2};
  std::map<Hash128, std::string> blobs;
  std::vector<std::vector<std::pair<Hash128, std::string>>> per_thread(2);
  for (size_t th = 0; th < 2; ++th)
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; ++i) {
      std::string b = RandomBytes(lengths[(i + th * 3) % 8], static_cast<uint32_t>(th * 100 + i));
      Hash128 id = (*sealer)->BlobId(b);
      blobs[id] = b;
      per_thread[th].emplace_back(id, std::move(b));
    }
  {
    PackWriter w(files, "");
    std::vector<Status> st(2);
    std::vector<std::thread> threads;
    for (size_t th = 0; th < 2; ++th)
      threads.emplace_back([&, th] {
        for (const auto& [id, b] : per_thread[th]) {
          st[th] = w.Add(id, static_cast<uint32_t>(b.size()), b, BlobCodec::kRaw);
          if (!st[th].ok()) return;
        }
      });
    for (auto& th : threads) th.join();
    ASSERT_TRUE(st[0].ok() && st[1].ok()) << st[0].ToString() << " " << st[1].ToString();
    ASSERT_TRUE(w.Finish().ok());
    ASSERT_TRUE(WriteIndexFile(files, w.TakeEntries()).ok());
  }
  BlobIndex idx;
  ASSERT_TRUE(LoadIndex(files, &idx, true, nullptr, nullptr).ok());
  BlobReader reader(files, &idx);
  for (const auto& [id, b] : blobs) {
    IndexEntry e;
    ASSERT_TRUE(idx.Find(id, &e));
    EXPECT_EQ(e.stored_len, b.size() + kSealOverhead);
    std::string out;
    Status s = reader.Read(id, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, b) << b.size() << " bytes";
  }
}

// ---------------------------------------------------------------- the sealer seam

// A stand-in for the encrypting sealer: keyed ids and every byte changed, so
// a test can see that nothing of a snapshot is stored unsealed.
class XorSealer final : public Sealer {
 public:
  std::string_view Scheme() const override { return "xchacha20poly1305"; }
  Hash128 BlobId(std::string_view p) const override {
    Hash128 h = Xxh128(p);
    h.hi ^= 0x5555;
    return h;
  }
  size_t Overhead() const override { return 1; }
  Result<std::string> SealBlob(const Hash128& id, std::string_view p) const override { return Xor(id.Hex(), p); }
  Status OpenBlob(const Hash128& id, std::string_view s, std::string* p) const override { return Unxor(id.Hex(), s, p); }
  Result<std::string> Seal(ObjectKind k, std::string_view name, std::string_view p) const override {
    return Xor(std::to_string(static_cast<int>(k)) + std::string(name), p);
  }
  Status Open(ObjectKind k, std::string_view name, std::string_view s, std::string* p) const override {
    return Unxor(std::to_string(static_cast<int>(k)) + std::string(name), s, p);
  }

 private:
  static std::string Xor(const std::string& ad, std::string_view p) {
    std::string out(1, static_cast<char>(Xxh64(ad)));  // the "tag": binds kind and name
    for (char c : p) out.push_back(static_cast<char>(c ^ 0xA7));
    return out;
  }
  static Status Unxor(const std::string& ad, std::string_view s, std::string* p) {
    if (s.empty() || s[0] != static_cast<char>(Xxh64(ad))) return Status::Corruption("sealed object does not open");
    p->clear();
    for (char c : s.substr(1)) p->push_back(static_cast<char>(c ^ 0xA7));
    return Status::OK();
  }
};

TEST(Format4Sealer, EveryObjectGoesThroughTheSealer) {
  TempDir t;
  std::string src = t.Sub("src"), dir = t.Sub("repo");
  const std::string secret = "a very recognisable secret line\n";
  WriteFile(src + "/secret-name.md", secret);
  auto sealer = std::make_shared<XorSealer>();
  auto r = Repository::Open(Env::Default(), dir, true, sealer);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto& repo = *r;
  auto a = repo->Create({{"markdown", src, true, true}}, {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_NE(ReadFile(dir + "/config").find("encryption=xchacha20poly1305\n"), std::string::npos);
  for (const auto& n : Names(dir)) {
    if (n == "config") continue;
    std::string bytes = ReadFile(dir + "/" + n);
    EXPECT_EQ(bytes.find("secret"), std::string::npos) << n;
    // Only a pack's fixed trailer (length + "MDBPACK4") is in clear.
    for (const char* magic : {"MDBSNAP", "MDBINDX", "MDBPHDR"})
      EXPECT_EQ(bytes.find(magic), std::string::npos) << n << ": " << magic << " in clear";
  }
  ASSERT_TRUE(repo->RestoreStore(a->id, "markdown", t.Sub("out"), {}).ok());
  EXPECT_EQ(ReadFile(t.Sub("out/secret-name.md")), secret);
  auto rep = repo->Verify({}, true);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok()) << rep->problems[0].path << ": " << rep->problems[0].detail;
  EXPECT_EQ(*Repository::EncryptionOf(NewLocalBackend(Env::Default(), dir).get()), "xchacha20poly1305");
  // Without its sealer the repository is refused, saying why.
  auto plain = Repository::Open(Env::Default(), dir, false);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("encryption=xchacha20poly1305"), std::string::npos);
}

}  // namespace
}  // namespace maestro
