// tests/reliability_repo_damage_test.cc — issue 13 points 2 and 7, through the
// real binary: a damaged manifest or index file, or a file the repository never
// writes, affects only itself (list, restore, verify, delete, prune of the
// others keep working; `snap repair` moves the damage aside and indexes again
// from the packs; no data another snapshot needs is ever removed), and readers
// running beside writers never report damage that is not there.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/reliability_util.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using reliability::CaseCounter;
using reliability::FilesUnder;
using testing::CliResult;
using testing::ReadFile;
using testing::RunCli;
using testing::TempDir;
using testing::WriteFile;

constexpr int kExitCorruption = 4;

void FlipByte(const std::string& path, size_t at) {
  std::string b = ReadFile(path);
  ASSERT_GT(b.size(), at);
  b[at] ^= 0x5a;
  WriteFile(path, b);
}

class RepoDamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    repo_ = root_ + "/backups/maestro-db";
    reliability::MakeSmallDemo(root_);
    id1_ = reliability::SnapCreate(root_);
    ASSERT_FALSE(id1_.empty());
    index1_ = FilesUnder(repo_, "index");
    // A change so the second snapshot adds a pack and an index file of its own.
    WriteFile(root_ + "/ai_researcher/data/processed/markdown/zz_added.md", testing::RandomBytes(5000, 7));
    id2_ = reliability::SnapCreate(root_);
    ASSERT_FALSE(id2_.empty());
    ASSERT_NE(id1_, id2_);
  }

  CliResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--root", root_});
    return RunCli(args);
  }
  // The listed entries by id: "ok" or "damaged".
  std::map<std::string, std::string> ListStatus() {
    CliResult r = Cli({"--json", "snap", "list"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::map<std::string, std::string> out;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_array())
      for (const auto& s : j) out[s.value("id", "")] = s.value("status", "");
    return out;
  }
  std::string Manifest(const std::string& id) const { return repo_ + "/snapshots/" + id; }

  TempDir tmp_;
  std::string root_, repo_, id1_, id2_;
  std::vector<std::string> index1_;
};

TEST_F(RepoDamageTest, DamagedOldestManifestLeavesTheOtherSnapshotsListedRestorableAndVerifiable) {
  FlipByte(Manifest(id1_), 40);
  CaseCounter counter("repository damage (damaged manifest, the others)", "passed");
  auto st = ListStatus();
  EXPECT_EQ(st[id2_], "ok");
  EXPECT_EQ(st[id1_], "damaged");
  counter.Add(st[id2_] == "ok" && st[id1_] == "damaged");
  CliResult text = Cli({"snap", "list"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("DAMAGED"), std::string::npos) << text.out;
  counter.Add(text.exit_code == 0);
  CliResult v2 = Cli({"snap", "verify", id2_, "--read-data"});
  EXPECT_EQ(v2.exit_code, 0) << v2.out << v2.err;
  counter.Add(v2.exit_code == 0);
  CliResult r2 = Cli({"snap", "restore", id2_, "--to", tmp_.Sub("out")});
  EXPECT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  counter.Add(r2.exit_code == 0);
  CliResult all = Cli({"snap", "verify"});
  EXPECT_EQ(all.exit_code, kExitCorruption) << all.out << all.err;
  EXPECT_NE(all.out.find(Manifest(id1_)), std::string::npos) << all.out;
  counter.Add(all.exit_code == kExitCorruption && all.out.find(Manifest(id1_)) != std::string::npos);
  CliResult r1 = Cli({"snap", "restore", id1_, "--to", tmp_.Sub("out1")});
  EXPECT_EQ(r1.exit_code, kExitCorruption) << r1.out << r1.err;
  counter.Add(r1.exit_code == kExitCorruption);
}

TEST_F(RepoDamageTest, DeleteRemovesADamagedSnapshotAndTheRestVerifiesClean) {
  FlipByte(Manifest(id1_), 40);
  CliResult d = Cli({"snap", "delete", id1_});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  EXPECT_FALSE(Env::Default()->FileExists(Manifest(id1_)));
  auto st = ListStatus();
  EXPECT_EQ(st.size(), 1u);
  EXPECT_EQ(st[id2_], "ok");
  CliResult v = Cli({"snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(RepoDamageTest, PruneBesideADamagedManifestRemovesNoDataUntilRepairMovesItAside) {
  WriteFile(root_ + "/ai_researcher/data/processed/markdown/zz_added2.md", testing::RandomBytes(5000, 8));
  std::string id3 = reliability::SnapCreate(root_);
  ASSERT_FALSE(id3.empty());
  FlipByte(Manifest(id1_), 40);
  auto packs = FilesUnder(repo_, "packs");
  CliResult p = Cli({"snap", "prune", "--keep-last", "1"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.err.find("snap repair"), std::string::npos) << p.err;
  EXPECT_EQ(FilesUnder(repo_, "packs"), packs) << "GC removed data while a manifest was unreadable";
  EXPECT_EQ(ListStatus().count(id2_), 0u);  // the policy still applied to the readable ones
  CliResult v3 = Cli({"snap", "verify", id3, "--read-data"});
  EXPECT_EQ(v3.exit_code, 0) << v3.out << v3.err;

  CliResult dry = Cli({"--json", "snap", "repair", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_TRUE(Env::Default()->FileExists(Manifest(id1_)));
  CliResult rep = Cli({"--json", "snap", "repair"});
  ASSERT_EQ(rep.exit_code, 0) << rep.out << rep.err;
  auto j = nlohmann::json::parse(rep.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << rep.out;
  ASSERT_EQ(j["quarantined"].size(), 1u) << rep.out;
  EXPECT_EQ(j["quarantined"][0]["snapshot"], id1_);
  EXPECT_FALSE(Env::Default()->FileExists(Manifest(id1_)));
  EXPECT_TRUE(Env::Default()->FileExists(repo_ + "/damaged/snapshots/" + id1_)) << "the damaged manifest was not kept";

  CliResult p2 = Cli({"snap", "prune", "--keep-last", "1"});
  EXPECT_EQ(p2.exit_code, 0) << p2.out << p2.err;
  EXPECT_EQ(p2.err.find("no data was removed"), std::string::npos) << p2.err;
  CliResult v = Cli({"snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  CliResult r = Cli({"snap", "restore", id3, "--to", tmp_.Sub("out")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(RepoDamageTest, StrayFilesInSnapshotsIndexAndPacksAreWarnedAboutAndIgnored) {
  CaseCounter counter("repository damage (stray files)", "passed");
  for (const char* sub : {"snapshots", "index", "packs"}) {
    std::string stray = repo_ + "/" + sub + "/notes.txt";
    WriteFile(stray, "my notes\n");
    CliResult l = Cli({"snap", "list"});
    CliResult v = Cli({"snap", "verify", "--read-data"});
    CliResult vj = Cli({"--json", "snap", "verify"});
    CliResult p = Cli({"snap", "prune", "--keep-last", "5"});
    bool good = l.exit_code == 0 && v.exit_code == 0 && vj.exit_code == 0 && p.exit_code == 0 &&
                l.err.find(stray) != std::string::npos && v.err.find(stray) != std::string::npos &&
                vj.out.find(stray) != std::string::npos && Env::Default()->FileExists(stray);
    EXPECT_EQ(l.exit_code, 0) << sub << ": " << l.out << l.err;
    EXPECT_EQ(v.exit_code, 0) << sub << ": " << v.out << v.err;
    EXPECT_EQ(p.exit_code, 0) << sub << ": " << p.out << p.err;
    EXPECT_NE(l.err.find(stray), std::string::npos) << "no warning naming " << stray << ": " << l.err;
    EXPECT_NE(vj.out.find(stray), std::string::npos) << "no JSON warning naming " << stray << ": " << vj.out;
    EXPECT_TRUE(Env::Default()->FileExists(stray)) << "a user's file was removed";
    counter.Add(good);
    EXPECT_EQ(ListStatus().size(), 2u);
  }
}

TEST_F(RepoDamageTest, DamagedIndexFileLeavesOthersRestorableAndRepairIndexesAgainFromThePacks) {
  std::vector<std::string> idx2;
  for (const auto& f : FilesUnder(repo_, "index"))
    if (std::find(index1_.begin(), index1_.end(), f) == index1_.end()) idx2.push_back(f);
  ASSERT_EQ(idx2.size(), 1u);
  FlipByte(idx2[0], 20);
  CliResult r1 = Cli({"snap", "restore", id1_, "--to", tmp_.Sub("out1")});
  EXPECT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  CliResult v = Cli({"snap", "verify"});
  EXPECT_EQ(v.exit_code, kExitCorruption) << v.out << v.err;
  EXPECT_NE(v.out.find(idx2[0]), std::string::npos) << v.out;
  auto packs = FilesUnder(repo_, "packs");
  CliResult p = Cli({"snap", "prune", "--keep-last", "5"});
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_EQ(FilesUnder(repo_, "packs"), packs);

  CliResult rep = Cli({"--json", "snap", "repair"});
  ASSERT_EQ(rep.exit_code, 0) << rep.out << rep.err;
  auto j = nlohmann::json::parse(rep.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << rep.out;
  EXPECT_GT(j.value("blobs_reindexed", 0), 0) << rep.out;
  // Kept aside (the index made again from the pack may have the same name).
  EXPECT_TRUE(Env::Default()->FileExists(repo_ + "/damaged/index/" + BaseName(idx2[0])));
  CliResult v2 = Cli({"snap", "verify", "--read-data"});
  EXPECT_EQ(v2.exit_code, 0) << v2.out << v2.err;
  CliResult r2 = Cli({"snap", "restore", id2_, "--to", tmp_.Sub("out2")});
  EXPECT_EQ(r2.exit_code, 0) << r2.out << r2.err;
}

// Point 7: verify, list and show beside prune/delete/create in another process.
TEST_F(RepoDamageTest, ReadersBesideAWriterNeverReportDamageThatIsNotThere) {
  CaseCounter counter("concurrency (readers beside prune/delete/create)", "without a false report");
  std::atomic<bool> done{false};
  std::atomic<int> writer_failures{0};
  std::thread writer([&] {
    for (int round = 0; round < 12; ++round) {
      WriteFile(root_ + "/ai_researcher/data/processed/markdown/w" + std::to_string(round) + ".md",
                testing::RandomBytes(20000, 100 + round));
      if (reliability::SnapCreate(root_).empty()) writer_failures++;
      const char* const prune[] = {"snap", "prune", "--keep-last", "2"};
      CliResult r = round % 3 == 2 ? Cli({"snap", "delete", "latest"})
                                   : Cli(std::vector<std::string>(prune, prune + 4));
      if (r.exit_code != 0) writer_failures++;
    }
    done = true;
  });
  int false_reports = 0;
  for (int i = 0; i < 400 && !done; ++i) {
    // verify takes the readers' lock: it waits for a running collection
    // (exit 5 at once without --lock-wait: busy, not a report of damage).
    CliResult r = i % 3 == 0   ? Cli({"snap", "verify", "--lock-wait", "60"})
                  : i % 3 == 1 ? Cli({"snap", "list"})
                               : Cli({"snap", "show", "latest"});
    bool good = r.exit_code == 0;
    if (!good) {
      ++false_reports;
      ADD_FAILURE() << "reader " << i << " exit " << r.exit_code << ": " << r.out << r.err;
    }
    counter.Add(good);
  }
  writer.join();
  EXPECT_EQ(writer_failures, 0);
  EXPECT_EQ(false_reports, 0);
  CliResult v = Cli({"snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// ---------------------------------------------------------------- point 6

TEST(RepoFolderTest, RepoOnAFolderThatHoldsOtherFilesIsRefusedAndNothingInItIsDeleted) {
  TempDir t;
  std::string root = t.Sub("root");
  reliability::MakeSmallDemo(root, 3);
  std::string dir = t.Sub("mine");
  WriteFile(dir + "/notes.txt", "notes\n");
  WriteFile(dir + "/tmp/keep.txt", "keep\n");
  WriteFile(dir + "/draft.tmp-1", "draft\n");
  const auto before = testing::TreeDigest(dir);
  for (const std::vector<std::string>& cmd : {std::vector<std::string>{"snap", "create"},
                                              std::vector<std::string>{"reset", "--yes", "--force"}}) {
    std::vector<std::string> args = {"--root", root, "--repo", dir};
    args.insert(args.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 8) << cmd[0] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(dir), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  }
  // Not even a lock file is left behind (OpenWriter checks before it locks).
  EXPECT_EQ(testing::TreeDigest(dir), before);
  // An empty folder is fine.
  std::string empty = t.Sub("empty");
  ASSERT_TRUE(Env::Default()->CreateDirs(empty).ok());
  CliResult ok = RunCli({"--root", root, "--repo", empty, "snap", "create", "-q"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(RepoFolderTest, DefaultRepositoryDoesNotMixWithTheOriginalToolsCopiesAndAnOldOneIsStillFound) {
  TempDir t;
  std::string root = t.Sub("root");
  reliability::MakeSmallDemo(root, 3);
  WriteFile(root + "/backups/maestro.db.20240808_143022.backup", "a copy\n");
  ASSERT_FALSE(reliability::SnapCreate(root).empty());
  EXPECT_TRUE(Env::Default()->FileExists(root + "/backups/maestro-db/config"));
  EXPECT_FALSE(Env::Default()->FileExists(root + "/backups/config"));
  EXPECT_FALSE(Env::Default()->DirExists(root + "/backups/snapshots"));

  std::string old_root = t.Sub("old");
  reliability::MakeSmallDemo(old_root, 3);
  CliResult c = RunCli({"--root", old_root, "--repo", old_root + "/backups", "snap", "create", "-q"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  CliResult l = RunCli({"--root", old_root, "--json", "snap", "list"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_NE(l.out.find(reliability::Trim(c.out)), std::string::npos) << l.out;
  EXPECT_FALSE(Env::Default()->DirExists(old_root + "/backups/maestro-db"));
}

class ImportLegacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    reliability::MakeSmallDemo(root_);
    main_rel_ = Env::Default()->FileExists(root_ + "/data/maestro.db") ? "data/maestro.db" : "maestro_backend/data/maestro.db";
    main_ = root_ + "/" + main_rel_;
    ai_ = root_ + "/ai_researcher/data/processed/metadata.db";
    vector_ = root_ + "/ai_researcher/data/vector_store";
    ASSERT_TRUE(Env::Default()->FileExists(main_) && Env::Default()->FileExists(ai_));
    std::string b = root_ + "/backups/";
    WriteFile(b + "maestro.db.20240808_143022.backup", ReadFile(main_));
    WriteFile(b + "metadata.db.20240808_143022.backup", ReadFile(ai_));
    testing::Sh("cp -a '" + vector_ + "' '" + b + "vector_store_20240808_143022_backup'");
    WriteFile(b + "maestro.db.20240901_020000.backup", ReadFile(main_));
  }
  CliResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--root", root_});
    return RunCli(args);
  }

  TempDir tmp_;
  std::string root_, main_rel_, main_, ai_, vector_;
};

TEST_F(ImportLegacyTest, ImportLegacyMakesOneVerifiableSnapshotPerStampAndRestoresTheCopiesByteForByte) {
  CliResult dry = Cli({"snap", "import-legacy", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_FALSE(Env::Default()->FileExists(root_ + "/backups/maestro-db/config"));
  CliResult r = Cli({"--json", "snap", "import-legacy"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  CliResult l = Cli({"--json", "snap", "list"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  auto j = nlohmann::json::parse(l.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 2) << l.out;
  EXPECT_EQ(j[0]["id"], "20240808_143022");
  EXPECT_EQ(j[0]["trigger"], "legacy");
  EXPECT_EQ(j[0]["stores"], nlohmann::json({"main", "ai", "vector"}));
  EXPECT_EQ(j[1]["id"], "20240901_020000");
  EXPECT_EQ(j[1]["stores"], nlohmann::json({"main"}));
  EXPECT_NE(j[1]["label"].get<std::string>().find("20240901_020000"), std::string::npos);
  CliResult v = Cli({"snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  std::string out = tmp_.Sub("out");
  CliResult rs = Cli({"snap", "restore", "20240808_143022", "--to", out});
  ASSERT_EQ(rs.exit_code, 0) << rs.out << rs.err;
  EXPECT_EQ(ReadFile(out + "/" + main_rel_), ReadFile(root_ + "/backups/maestro.db.20240808_143022.backup"));
  EXPECT_EQ(ReadFile(out + "/ai_researcher/data/processed/metadata.db"), ReadFile(ai_));
  // The vector copy's chroma.sqlite3 goes through the SQLite backup API: the same database.
  std::string vcopy = root_ + "/backups/vector_store_20240808_143022_backup";
  auto got = testing::TreeDigest(out + "/ai_researcher/data/vector_store", false);
  auto want = testing::TreeDigest(vcopy, false);
  got.erase("chroma.sqlite3");
  want.erase("chroma.sqlite3");
  EXPECT_EQ(got, want);
  EXPECT_EQ(testing::Sh("sqlite3 '" + out + "/ai_researcher/data/vector_store/chroma.sqlite3' .dump"),
            testing::Sh("sqlite3 '" + vcopy + "/chroma.sqlite3' .dump"));
  // Idempotent.
  CliResult again = Cli({"--json", "snap", "import-legacy"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(again.out.find("\"imported\""), std::string::npos) << again.out;
  EXPECT_EQ(reliability::ListIds(root_).size(), 2u);
}

TEST_F(ImportLegacyTest, InPlaceRestoreOfALegacySnapshotLeavesTheStoresItDoesNotHoldAlone) {
  ASSERT_EQ(Cli({"snap", "import-legacy"}).exit_code, 0);
  std::string pdfs_before = testing::Sh("ls -R '" + root_ + "/ai_researcher/data/raw_pdfs'");
  CliResult r = Cli({"--yes", "snap", "restore", "20240901_020000", "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(Env::Default()->FileExists(ai_));
  EXPECT_TRUE(Env::Default()->DirExists(vector_));
  EXPECT_EQ(testing::Sh("ls -R '" + root_ + "/ai_researcher/data/raw_pdfs'"), pdfs_before);
}

TEST_F(ImportLegacyTest, ImportLegacyRefusesACopyThatFailsIntegrityCheck) {
  std::string bad = root_ + "/backups/maestro.db.20241001_000000.backup";
  std::string b = ReadFile(main_);
  ASSERT_GT(b.size(), 8192u);
  for (size_t i = 4096; i < 8192; ++i) b[i] = static_cast<char>(0xA5);
  WriteFile(bad, b);
  CliResult r = Cli({"snap", "import-legacy"});
  EXPECT_EQ(r.exit_code, 8) << r.out << r.err;
  EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  auto ids = reliability::ListIds(root_);
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "20241001_000000"), 0);
}

}  // namespace
}  // namespace maestro
