// tests/reliability_hostile_test.cc — issue 8, hostile input on restore and the
// repository's permissions. A manifest is hand-crafted (re-encoded and resealed
// with a valid checksum, as an attacker with write access to the repository
// could) to hold `..` paths, absolute paths, and symlinks pointing out of the
// restore target with a file "inside" them: `snap restore --to` must refuse it
// and write nothing outside the target. Every repository file must be 0600 and
// every directory 0700 after create, delete, prune and a reset.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "snapshot/format.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using reliability::CaseCounter;
using testing::CliResult;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;

class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    reliability::MakeSmallDemo(root_, 4);
    id_ = reliability::SnapCreate(root_);
    ASSERT_FALSE(id_.empty());
    auto r = Repository::Open(Env::Default(), root_ + "/backups/maestro-db", false);
    ASSERT_TRUE(r.ok());
    auto m = (*r)->LoadManifest(id_);
    ASSERT_TRUE(m.ok());
    manifest_ = *m;
    original_ = testing::ReadFile(root_ + "/backups/maestro-db/snapshots/" + id_);
  }
  // A directory store holding a non-empty file (whose chunks a crafted entry can reuse).
  ManifestStore* DirStore() {
    for (auto& s : manifest_.stores)
      if (s.is_directory && s.present)
        for (const auto& f : s.files)
          if (f.type == ManifestFile::Type::kFile && !f.chunks.empty()) return &s;
    return nullptr;
  }
  void WriteManifest(const Manifest& m) {
    testing::WriteFile(root_ + "/backups/maestro-db/snapshots/" + id_, EncodeManifest(m));
  }
  // Restores the crafted snapshot under a fresh target; true when refused and
  // nothing appeared outside the target (the `outside` directory is unchanged).
  bool RestoreIsRefused(const std::string& what) {
    std::string outside = tmp_.Sub("outside");
    fs::create_directories(outside);
    auto outside_before = TreeDigest(outside);
    auto tmp_before = TreeDigest(tmp_.path());
    std::string target = tmp_.Sub("target-" + std::to_string(++n_));
    CliResult r = RunCli({"--root", root_, "snap", "restore", id_, "--to", target});
    bool refused = r.exit_code != 0;
    EXPECT_TRUE(refused) << what << ": restore accepted it\n" << r.out << r.err;
    EXPECT_EQ(TreeDigest(outside), outside_before) << what << ": restore wrote outside the target";
    // Nothing new anywhere under the test dir except inside the target.
    for (const auto& [p, d] : TreeDigest(tmp_.path())) {
      (void)d;
      if (tmp_before.count(p) || p.rfind("target-", 0) == 0 || p.rfind("root/", 0) == 0) continue;
      ADD_FAILURE() << what << ": restore created " << p << " outside its target";
      refused = false;
    }
    return refused;
  }

  TempDir tmp_;
  std::string root_, id_, original_;
  Manifest manifest_;
  int n_ = 0;
};

TEST_F(HostileTest, RestoreRefusesManifestPathsThatLeaveTheTarget) {
  CaseCounter counter("hostile input (manifest paths)", "refused");
  ManifestStore* st = DirStore();
  ASSERT_NE(st, nullptr);
  ManifestFile sample;
  for (const auto& f : st->files)
    if (f.type == ManifestFile::Type::kFile && !f.chunks.empty()) sample = f;
  ASSERT_FALSE(sample.chunks.empty());
  std::string outside = tmp_.Sub("outside");
  for (const std::string& bad : {std::string("../../../outside/escaped.txt"), std::string("a/../../escaped.txt"),
                                 outside + "/absolute.txt", std::string("/etc/maestro-escaped"), std::string(".."),
                                 std::string("ok/../../../x"), std::string("nul\0in", 6)}) {
    Manifest m = manifest_;
    ManifestFile f = sample;
    f.path = bad;
    for (auto& s : m.stores)
      if (s.name == st->name) s.files.push_back(f);
    WriteManifest(m);
    counter.Add(RestoreIsRefused("path '" + bad + "'"));
  }
  // Store paths are not trusted either: an original_path of "/etc" restores under the target, or is refused.
  testing::WriteFile(root_ + "/backups/maestro-db/snapshots/" + id_, original_);
}

TEST_F(HostileTest, RestoreNeverFollowsASymlinkOutOfTheTarget) {
  CaseCounter counter("hostile input (symlinks)", "refused or contained");
  ManifestStore* st = DirStore();
  ASSERT_NE(st, nullptr);
  ManifestFile sample;
  for (const auto& f : st->files)
    if (f.type == ManifestFile::Type::kFile && !f.chunks.empty()) sample = f;
  std::string outside = tmp_.Sub("outside");
  fs::create_directories(outside);
  for (const std::string& target : {outside, std::string("../../../outside"), std::string("/")}) {
    Manifest m = manifest_;
    ManifestFile link;
    link.path = "zz_link";
    link.type = ManifestFile::Type::kSymlink;
    link.mode = 0777;
    link.link_target = target;
    ManifestFile through = sample;
    through.path = "zz_link/pwned.txt";  // a file "inside" the link: must not land in `outside`
    for (auto& s : m.stores)
      if (s.name == st->name) {
        s.files.push_back(link);
        s.files.push_back(through);
      }
    WriteManifest(m);
    counter.Add(RestoreIsRefused("symlink to '" + target + "' with a file below it"));
    EXPECT_FALSE(fs::exists(outside + "/pwned.txt"));
    EXPECT_FALSE(fs::exists("/pwned.txt"));
  }
  testing::WriteFile(root_ + "/backups/maestro-db/snapshots/" + id_, original_);
}

TEST_F(HostileTest, RepositoryFilesAre0600AndDirectories0700AfterEveryWritingCommand) {
  CaseCounter counter("hostile input (repository permissions)", "private");
  ::umask(022);
  testing::WriteFile(root_ + "/ai_researcher/data/processed/markdown/perm.md", "x\n");
  ASSERT_FALSE(reliability::SnapCreate(root_).empty());
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"snap", "delete", id_},
                                              std::vector<std::string>{"snap", "prune", "--keep-last", "1"},
                                              std::vector<std::string>{"reset", "--yes", "--force"}}) {
    std::vector<std::string> args = {"--root", root_};
    args.insert(args.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(args);
    ASSERT_EQ(r.exit_code, 0) << cmd[0] << ": " << r.out << r.err;
  }
  std::string repo = root_ + "/backups/maestro-db";
  for (const auto& entry : fs::recursive_directory_iterator(repo)) {
    struct stat sb;
    ASSERT_EQ(::lstat(entry.path().c_str(), &sb), 0);
    unsigned perm = sb.st_mode & 07777;
    bool ok = S_ISDIR(sb.st_mode) ? perm == 0700 : (perm & 0077) == 0;
    EXPECT_TRUE(ok) << entry.path() << " has mode " << std::oct << perm;
    counter.Add(ok);
  }
  struct stat sb;
  ASSERT_EQ(::stat(repo.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 07777, 0700u);
  EXPECT_GT(counter.cases(), 6);
}

// Regression (found by tests/fuzz/pack_fuzz): Verify compared
// `offset + stored_len > pack size` in 64 bits, so a crafted index entry whose
// offset lies just below 2^64 wrapped the sum and the blob was read from 4 GiB
// before the pack buffer.
TEST_F(HostileTest, VerifyRejectsIndexEntryWhoseOffsetWrapsAround) {
  auto r = Repository::Open(Env::Default(), root_ + "/backups/maestro-db", false);
  ASSERT_TRUE(r.ok());
  ManifestStore* st = DirStore();
  ASSERT_NE(st, nullptr);
  Hash128 blob;
  for (const auto& f : st->files)
    if (f.type == ManifestFile::Type::kFile && !f.chunks.empty()) blob = f.chunks[0];
  auto packs = reliability::FilesUnder(root_ + "/backups/maestro-db", "packs");
  ASSERT_FALSE(packs.empty());
  Hash128 pack;
  ASSERT_TRUE(Hash128::FromHex(BaseName(packs[0]).substr(0, 32), &pack));
  IndexEntry e;
  e.blob = blob;
  e.pack = pack;
  e.offset = ~uint64_t{0} - 0xffffffffull + 100;  // offset + stored_len wraps to 99
  e.stored_len = 0xffffffffu;
  e.raw_len = 5;
  // Sorts before the real index files, so its entry is the one used for blob.
  testing::WriteFile(root_ + "/backups/maestro-db/index/00000000000000000000000000000000.idx", EncodeIndex({e}));
  auto rep = (*r)->Verify({}, true);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_FALSE(rep->ok()) << "an index entry pointing outside its pack went unnoticed";
  CliResult v = RunCli({"--root", root_, "snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 4) << v.out << v.err;
}

}  // namespace
}  // namespace maestro
