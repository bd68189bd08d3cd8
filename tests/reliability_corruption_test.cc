// tests/reliability_corruption_test.cc — issue 8, corruption sweep: a repository
// holding two snapshots of a small demo install is damaged in every way a disk,
// a careless user or a bad copy can damage it (flipped bytes, truncation, a
// deleted pack, two packs swapped, a damaged journal). Each damage must be
// detected by `snap verify --read-data` (exit 4, naming snapshot and path),
// refused by restore (nothing half-written left), and a damaged journal must be
// explained and never replayed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>

#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using reliability::CaseCounter;
using reliability::RepoDataFiles;
using testing::CliResult;
using testing::ReadFile;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

constexpr int kExitCorruption = 4;

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    repo_ = root_ + "/backups/maestro-db";
    reliability::MakeSmallDemo(root_);
    id1_ = reliability::SnapCreate(root_);
    ASSERT_FALSE(id1_.empty());
    // A change between the two so the second snapshot adds a pack of its own.
    WriteFile(root_ + "/ai_researcher/data/processed/markdown/zz_added.md", std::string(3000, 'x') + "\nnew\n");
    id2_ = reliability::SnapCreate(root_);
    ASSERT_FALSE(id2_.empty());
    ASSERT_NE(id1_, id2_);
  }

  // Runs Repository::Verify(read_data) in-process on a fresh open.
  // detected: the damage was noticed; named: a problem names a snapshot and a path.
  void VerifyInProcess(bool* detected, bool* named, std::string* first = nullptr) {
    *detected = *named = false;
    auto r = Repository::Open(Env::Default(), repo_, false);
    if (!r.ok()) {
      *detected = r.status().IsCorruption();
      *named = r.status().message().find(repo_) != std::string::npos;  // names the config path
      if (first) *first = r.status().ToString();
      return;
    }
    auto rep = (*r)->Verify({}, true);
    if (!rep.ok()) {
      *detected = true;
      *named = rep.status().message().find(repo_) != std::string::npos;
      if (first) *first = rep.status().ToString();
      return;
    }
    *detected = !rep->ok();
    for (const auto& p : rep->problems) {
      if (!p.path.empty() && (!p.snapshot_id.empty() || p.path.find("/packs/") != std::string::npos)) *named = true;
      if (first && first->empty()) *first = p.snapshot_id + " " + p.store + " " + p.path + ": " + p.detail;
    }
  }

  // `snap verify --read-data` exits 4 and its output names the damaged file or
  // an affected snapshot; `snap restore --to` refuses and leaves no file behind.
  bool ExpectCliDetectsAndRefuses(const std::string& what, const std::string& must_name) {
    return ExpectCliDetectsAndRefuses(what, std::vector<std::string>{must_name});
  }
  // The same, where naming any one of several damaged files is enough (which
  // one verify meets first depends on which holds the snapshots' listings).
  bool ExpectCliDetectsAndRefuses(const std::string& what, const std::vector<std::string>& one_of) {
    bool good = true;
    CliResult v = RunCli({"--root", root_, "snap", "verify", "--read-data"});
    bool names = false;
    for (const auto& n : one_of) names |= (v.out + v.err).find(n) != std::string::npos;
    good &= v.exit_code == kExitCorruption && names;
    EXPECT_EQ(v.exit_code, kExitCorruption) << what << "\n" << v.out << v.err;
    EXPECT_TRUE(names) << what << ": output names none of " << one_of.front() << (one_of.size() > 1 ? "..." : "")
                       << "\n" << v.out << v.err;
    std::string out = tmp_.Sub("restored-" + std::to_string(++restores_));
    CliResult r = RunCli({"--root", root_, "snap", "restore", id1_, "--to", out});
    CliResult r2 = RunCli({"--root", root_, "snap", "restore", id2_, "--to", out + "b"});
    good &= r.exit_code != 0 || r2.exit_code != 0;
    EXPECT_TRUE(r.exit_code != 0 || r2.exit_code != 0) << what << ": both snapshots restored from damaged data";
    for (const auto& [dir, res] : {std::pair{out, &r}, std::pair{out + "b", &r2}}) {
      if (res->exit_code == 0) continue;
      size_t regular = 0;
      if (Env::Default()->DirExists(dir))
        for (const auto& [p, d] : TreeDigest(dir, false)) {
          FileInfo fi;
          EXPECT_TRUE(Env::Default()->Stat(dir + "/" + p, &fi).ok());
          if (fi.is_regular) ++regular;
        }
      good &= regular == 0;
      EXPECT_EQ(regular, 0u) << what << ": a refused restore left files under " << dir;
    }
    return good;
  }

  TempDir tmp_;
  std::string root_, repo_, id1_, id2_;
  int restores_ = 0;
};

TEST_F(CorruptionTest, VerifyDetectsSampledFlippedBytesAndNamesSnapshotAndPath) {
  std::vector<std::string> files = RepoDataFiles(repo_);
  ASSERT_GE(files.size(), 7u);  // config, 2 manifests, 2 indexes, >= 2 packs
  std::vector<std::pair<std::string, size_t>> positions;
  for (const auto& f : files) {
    size_t n = ReadFile(f).size();
    for (size_t i = 0; i < n; ++i) positions.emplace_back(f, i);
  }
  // Every byte when the repository is small enough, else a seeded sample of
  // 2000 (MAESTRO_DB_LONG_TESTS=1: every byte whatever the size).
  std::mt19937_64 rng(20250808);
  if (positions.size() > 2000 && !getenv("MAESTRO_DB_LONG_TESTS")) {
    std::shuffle(positions.begin(), positions.end(), rng);
    positions.resize(2000);
  }
  std::sort(positions.begin(), positions.end());
  CaseCounter counter("corruption (flipped byte)", "detected");
  int named = 0;
  std::string cur_file, orig;
  for (const auto& [f, i] : positions) {
    if (f != cur_file) {
      if (!cur_file.empty()) WriteFile(cur_file, orig);
      cur_file = f;
      orig = ReadFile(f);
    }
    std::string bad = orig;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    WriteFile(f, bad);
    bool detected, was_named;
    std::string first;
    VerifyInProcess(&detected, &was_named, &first);
    counter.Add(detected);
    if (was_named) ++named;
    EXPECT_TRUE(detected) << "flip of byte " << i << " of " << f << " went unnoticed";
    EXPECT_TRUE(!detected || was_named) << "flip of byte " << i << " of " << f << " reported without naming: " << first;
  }
  WriteFile(cur_file, orig);
  std::printf("corruption (flipped byte): %d of %d reports name the snapshot or file\n", named, counter.cases());
  EXPECT_GE(counter.cases(), 2000);
  bool detected, was_named;
  VerifyInProcess(&detected, &was_named);
  EXPECT_FALSE(detected) << "the repository is clean again once every byte is put back";
}

TEST_F(CorruptionTest, CliVerifyExitsFourAndRestoreRefusesForAFlippedByteInEachFileKind) {
  CaseCounter counter("corruption (cli, flipped byte per file kind)", "detected and refused");
  for (const char* sub : {"snapshots", "index", "packs"}) {
    for (const auto& f : reliability::FilesUnder(repo_, sub)) {
      std::string orig = ReadFile(f);
      std::string bad = orig;
      bad[bad.size() / 2] ^= 0x40;
      WriteFile(f, bad);
      counter.Add(ExpectCliDetectsAndRefuses("flipped middle byte of " + f, BaseName(f).substr(0, 12)));
      WriteFile(f, orig);
    }
  }
  EXPECT_GE(counter.cases(), 6);
  CliResult v = RunCli({"--root", root_, "snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(CorruptionTest, TruncatedRepositoryFilesAreDetected) {
  CaseCounter counter("corruption (truncated file)", "detected");
  for (const auto& f : RepoDataFiles(repo_)) {
    std::string orig = ReadFile(f);
    for (size_t keep : {size_t{0}, orig.size() / 2, orig.size() - 1}) {
      WriteFile(f, orig.substr(0, keep));
      bool detected, named;
      std::string first;
      VerifyInProcess(&detected, &named, &first);
      counter.Add(detected && named);
      EXPECT_TRUE(detected) << f << " truncated to " << keep << " bytes went unnoticed";
      EXPECT_TRUE(named) << f << " truncated: " << first;
    }
    WriteFile(f, orig);
  }
  // And once through the binary: a truncated pack is exit 4 naming the pack.
  auto packs = reliability::FilesUnder(repo_, "packs");
  ASSERT_FALSE(packs.empty());
  std::string orig = ReadFile(packs.back());
  WriteFile(packs.back(), orig.substr(0, orig.size() / 2));
  counter.Add(ExpectCliDetectsAndRefuses("truncated pack", BaseName(packs.back()).substr(0, 12)));
  WriteFile(packs.back(), orig);
}

TEST_F(CorruptionTest, DeletedPackIsReportedWithEverySnapshotItAffects) {
  CaseCounter counter("corruption (deleted pack)", "detected");
  for (const auto& f : reliability::FilesUnder(repo_, "packs")) {
    std::string orig = ReadFile(f);
    ASSERT_EQ(::unlink(f.c_str()), 0);
    auto r = Repository::Open(Env::Default(), repo_, false);
    ASSERT_TRUE(r.ok());
    auto rep = (*r)->Verify({}, false);  // even without --read-data
    ASSERT_TRUE(rep.ok());
    std::set<std::string> snaps;
    for (const auto& p : rep->problems) snaps.insert(p.snapshot_id);
    snaps.erase("");
    bool cli = ExpectCliDetectsAndRefuses("deleted " + f, BaseName(f).substr(0, 12));
    counter.Add(!rep->ok() && !snaps.empty() && cli);
    EXPECT_FALSE(rep->ok()) << "missing " << f << " went unnoticed";
    EXPECT_FALSE(snaps.empty()) << "missing " << f << " names no snapshot";
    WriteFile(f, orig);
  }
}

TEST_F(CorruptionTest, TwoSwappedPacksAreDetectedAndNotRestored) {
  auto packs = reliability::FilesUnder(repo_, "packs");
  ASSERT_GE(packs.size(), 2u);
  CaseCounter counter("corruption (swapped packs)", "detected");
  std::string a = ReadFile(packs[0]), b = ReadFile(packs[1]);
  WriteFile(packs[0], b);
  WriteFile(packs[1], a);
  bool detected, named;
  VerifyInProcess(&detected, &named);
  // Format 4 keeps the listings in tree blobs: verify names the swapped pack
  // holding them (the snapshots cannot be read past it), whichever that is.
  bool cli = ExpectCliDetectsAndRefuses(
      "swapped packs", std::vector<std::string>{BaseName(packs[0]).substr(0, 12), BaseName(packs[1]).substr(0, 12)});
  counter.Add(detected && named && cli);
  EXPECT_TRUE(detected && named);
}

// How the journal's LMDB file is damaged. LMDB is copy-on-write: older copies
// of a record stay in free pages, so a flip must hit every copy to be sure to
// hit the live one.
enum class JournalDamage { kFlipRecordPayload, kTruncateDataFile, kZeroMetaPages };

void DamageJournal(const std::string& mdb, JournalDamage how) {
  std::string bytes = ReadFile(mdb);
  switch (how) {
    case JournalDamage::kFlipRecordPayload: {
      int hits = 0;
      for (size_t pos = bytes.find("\"txn\""); pos != std::string::npos; pos = bytes.find("\"txn\"", pos + 1), ++hits)
        bytes[pos + 1] ^= 0x01;  // "txn" -> "uxn": the record no longer matches its checksum
      ASSERT_GT(hits, 0) << "no journal record payload found in " << mdb;
      break;
    }
    case JournalDamage::kTruncateDataFile:
      bytes.resize(bytes.size() / 2);
      break;
    case JournalDamage::kZeroMetaPages:
      std::fill(bytes.begin(), bytes.begin() + std::min<size_t>(bytes.size(), 8192), '\0');
      break;
  }
  WriteFile(mdb, bytes);
}

TEST_F(CorruptionTest, DamagedJournalIsExplainedAndNeverReplayed) {
  CaseCounter counter("corruption (damaged journal)", "explained, not replayed");
  std::string pristine = tmp_.Sub("pristine-root");
  ASSERT_EQ(std::system(("cp -a " + root_ + " " + pristine).c_str()), 0);
  for (JournalDamage how : {JournalDamage::kFlipRecordPayload, JournalDamage::kTruncateDataFile,
                            JournalDamage::kZeroMetaPages}) {
    SCOPED_TRACE(static_cast<int>(how));
    ASSERT_EQ(std::system(("rm -rf " + root_ + " && cp -a " + pristine + " " + root_).c_str()), 0);
    // A reset killed after its first step's intent leaves an unfinished transaction.
    CliResult k = RunCli({"--root", root_, "reset", "--yes", "--force"}, {"MAESTRO_DB_CRASH_AT=txn.after_intent"});
    ASSERT_LT(k.exit_code, 0) << "reset was expected to be killed at its first step: " << k.out << k.err;
    CliResult st = RunCli({"--root", root_, "journal", "status"});
    ASSERT_NE((st.out + st.err).find("UNFINISHED"), std::string::npos) << st.out << st.err;
    auto before = TreeDigest(root_ + "/ai_researcher");
    DamageJournal(repo_ + "/journal/data.mdb", how);
    for (const std::vector<std::string>& cmd : {std::vector<std::string>{"journal", "status"},
                                                std::vector<std::string>{"recover"},
                                                std::vector<std::string>{"recover", "--resume"},
                                                std::vector<std::string>{"recover", "--rollback"},
                                                std::vector<std::string>{"reset", "--yes", "--force"}}) {
      std::vector<std::string> args = {"--root", root_};
      args.insert(args.end(), cmd.begin(), cmd.end());
      CliResult r = RunCli(args);
      std::string all = r.out + r.err;
      bool ok = r.exit_code == kExitCorruption && all.find("journal") != std::string::npos &&
                all.find("damaged") != std::string::npos;
      EXPECT_TRUE(ok) << cmd[0] << " " << (cmd.size() > 1 ? cmd[1] : "") << " on a damaged journal: exit "
                      << r.exit_code << "\n" << all;
      bool untouched = TreeDigest(root_ + "/ai_researcher") == before;
      EXPECT_TRUE(untouched) << cmd[0] << " changed the stores from a damaged journal";
      counter.Add(ok && untouched);
    }
  }
}

}  // namespace
}  // namespace maestro
