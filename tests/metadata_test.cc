// tests/metadata_test.cc — issue 13 point 4, "metadata is kept": snapshots record
// every entry's mode, owner and mtime (SQLite stores: the live file's), restore
// (in place and --to) and reset give them back, setuid bits never come back, a
// store created where none was gets its parent's modes (never wider than
// 0644/0755), and an ordinary user's restore says which owners it could not set.
// Driven through the real binary on a small demo install; the suite runs as root
// (it chowns to 1000:1000), and runs the binary as nobody with setpriv.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "snapshot/file_meta.h"
#include "snapshot/format.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"

namespace maestro {
namespace {

using reliability::MakeSmallDemo;
using reliability::SnapCreate;
using testing::CliResult;
using testing::RunCli;
using testing::Sh;
using testing::TempDir;

struct Meta {
  bool exists = false;
  unsigned mode = 0;  // all 07777 bits
  unsigned uid = 0, gid = 0;
  int64_t mtime_ns = 0;
};

Meta StatOf(const std::string& path) {
  Meta m;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return m;
  m.exists = true;
  m.mode = st.st_mode & 07777;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  m.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return m;
}

void SetMtime(const std::string& path, int64_t sec) { ASSERT_TRUE(Env::Default()->SetMtime(path, sec * 1000000000LL).ok()); }

class MetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown to 1000:1000)";
    root_ = tmp_.Sub("root");
    MakeSmallDemo(root_);
  }
  std::string Main() const { return root_ + "/data/maestro.db"; }
  std::string Pdfs() const { return root_ + "/ai_researcher/data/raw_pdfs"; }
  std::string Vector() const { return root_ + "/ai_researcher/data/vector_store"; }
  std::string Out() const { return tmp_.Sub("out"); }
  // Where `snap restore --to Out()` puts a store (its path relative to the root).
  std::string OutOf(const std::string& live) const { return Out() + live.substr(root_.size()); }
  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--root", root_});
    return RunCli(args);
  }
  void RestoreInPlace(const std::string& id) {
    CliResult r = Run({"--yes", "snap", "restore", id});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void RestoreTo(const std::string& id) {
    CliResult r = Run({"snap", "restore", id, "--to", Out()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void Chown(const std::string& path, const char* owner) { Sh("chown -R " + std::string(owner) + " '" + path + "'"); }

  TempDir tmp_;
  std::string root_;
};

TEST_F(MetadataTest, MainDatabaseWithMode0600ComesBack0600InPlaceAndUnderTo) {
  ASSERT_EQ(::chmod(Main().c_str(), 0600), 0);
  std::string id = SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(::chmod(Main().c_str(), 0644), 0);
  RestoreInPlace(id);
  EXPECT_EQ(StatOf(Main()).mode, 0600u);
  RestoreTo(id);
  EXPECT_EQ(StatOf(OutOf(Main())).mode, 0600u);
}

TEST_F(MetadataTest, OwnersOfFilesAndFoldersComeBackAfterRestoreInPlaceAndUnderTo) {
  Sh("mkdir -p '" + Pdfs() + "/sub' && echo x > '" + Pdfs() + "/sub/a.pdf'");
  Chown(Pdfs(), "1000:1000");
  Chown(Main(), "1000:1000");
  std::string id = SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  Chown(Pdfs(), "0:0");
  Chown(Main(), "0:0");
  RestoreInPlace(id);
  RestoreTo(id);
  for (const std::string& base : {std::string(), Out()}) {
    auto at = [&](const std::string& live) { return base.empty() ? live : OutOf(live); };
    for (const std::string& p : {Main(), Pdfs(), Pdfs() + "/sub", Pdfs() + "/sub/a.pdf"}) {
      Meta m = StatOf(at(p));
      ASSERT_TRUE(m.exists) << at(p);
      EXPECT_EQ(m.uid, 1000u) << at(p);
      EXPECT_EQ(m.gid, 1000u) << at(p);
    }
  }
}

TEST_F(MetadataTest, MtimesOfFilesFoldersAndStoreRootsComeBackWithTheirOwners) {
  Sh("mkdir -p '" + Pdfs() + "/sub' && echo x > '" + Pdfs() + "/sub/a.pdf'");
  Chown(Pdfs(), "1000:1000");
  SetMtime(Pdfs() + "/sub/a.pdf", 1000000000);
  SetMtime(Pdfs() + "/sub", 1100000000);
  SetMtime(Pdfs(), 1200000000);
  std::string id = SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  Chown(Pdfs(), "0:0");
  RestoreTo(id);
  RestoreInPlace(id);
  for (const std::string& base : {Out(), std::string()}) {
    auto at = [&](const std::string& live) { return base.empty() ? live : OutOf(live); };
    EXPECT_EQ(StatOf(at(Pdfs() + "/sub/a.pdf")).mtime_ns, 1000000000LL * 1000000000LL);
    EXPECT_EQ(StatOf(at(Pdfs() + "/sub")).mtime_ns, 1100000000LL * 1000000000LL);
    EXPECT_EQ(StatOf(at(Pdfs())).mtime_ns, 1200000000LL * 1000000000LL);
    EXPECT_EQ(StatOf(at(Pdfs() + "/sub")).uid, 1000u) << "the owner is set before the mtime";
  }
}

TEST_F(MetadataTest, ResetGivesTheFreshStoresTheOldStoresModeAndOwner) {
  ASSERT_EQ(::chmod(Main().c_str(), 0600), 0);
  Chown(Main(), "1000:1000");
  Chown(Vector(), "1000:1000");
  Chown(Pdfs(), "1000:1000");
  ASSERT_EQ(::chmod(Vector().c_str(), 0750), 0);
  CliResult r = Run({"--yes", "reset"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Meta main = StatOf(Main()), vec = StatOf(Vector()), pdfs = StatOf(Pdfs());
  EXPECT_EQ(main.mode, 0600u);
  EXPECT_EQ(main.uid, 1000u);
  EXPECT_EQ(main.gid, 1000u);
  EXPECT_EQ(vec.mode, 0750u);
  EXPECT_EQ(vec.uid, 1000u);
  EXPECT_EQ(pdfs.uid, 1000u);
  EXPECT_EQ(pdfs.gid, 1000u);
}

TEST_F(MetadataTest, ResetCreatesMissingStoresWithTheirParentsModesNeverWider) {
  // A private parent: the new database is no more open than it, and its owner's.
  std::string ai = root_ + "/ai_researcher/data/processed/metadata.db";
  std::string processed = root_ + "/ai_researcher/data/processed";
  ASSERT_EQ(::unlink(ai.c_str()), 0);
  ASSERT_EQ(::chmod(processed.c_str(), 0750), 0);
  Chown(processed, "1000:1000");
  // A world-writable parent: never wider than 0755 / 0644, whatever the umask.
  Sh("rm -rf '" + Vector() + "'");
  ASSERT_EQ(::chmod((root_ + "/ai_researcher/data").c_str(), 0777), 0);
  mode_t old = ::umask(0);
  CliResult r = Run({"--yes", "reset"});
  ::umask(old);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Meta db = StatOf(ai), vec = StatOf(Vector()), main = StatOf(Main());
  EXPECT_EQ(db.mode, 0640u);
  EXPECT_EQ(db.uid, 1000u) << "a new store in a folder owned by 1000 is 1000's";
  EXPECT_EQ(vec.mode, 0755u);
  EXPECT_EQ(main.mode, 0644u) << "an existing 0644 store stays 0644 under umask 0";
}

TEST_F(MetadataTest, SetuidBitIsRecordedButNeverRestored) {
  std::string tool = Pdfs() + "/tool";
  testing::WriteFile(tool, "#!/bin/sh\n");
  ASSERT_EQ(::chmod(tool.c_str(), 04755), 0);
  ASSERT_EQ(::chmod(Pdfs().c_str(), 02775), 0);
  std::string id = SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  auto repo = Repository::Open(Env::Default(), root_ + "/backups/maestro-db", false);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto m = (*repo)->LoadManifest(id);
  ASSERT_TRUE(m.ok());
  bool recorded = false;
  for (const auto& st : m->stores)
    for (const auto& f : st.files)
      if (st.name == "pdfs" && f.path == "tool") recorded = f.mode == 04755;
  EXPECT_TRUE(recorded) << "the manifest keeps the mode as it was";
  CliResult r = Run({"--json", "snap", "restore", id, "--to", Out()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(StatOf(OutOf(tool)).mode, 0755u);
  EXPECT_EQ(StatOf(OutOf(Pdfs())).mode, 0775u);
  EXPECT_NE(r.err.find("setuid/setgid/sticky bits not restored (2 files)"), std::string::npos) << r.err;
  RestoreInPlace(id);
  EXPECT_EQ(StatOf(tool).mode, 0755u);
}

// A format-2 manifest (before owners were recorded) still restores: owners are
// left as the restore creates them, modes and content come back.
TEST_F(MetadataTest, Format2ManifestStillRestoresWithoutOwners) {
  Chown(Pdfs(), "1000:1000");
  std::string id = SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  std::string repo_dir = root_ + "/backups/maestro-db";
  auto repo = Repository::Open(Env::Default(), repo_dir, false);
  ASSERT_TRUE(repo.ok());
  auto m = (*repo)->LoadManifest(id);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->format_version, 4u);  // a new repository is format 4; its readers read every older manifest
  m->format_version = 2;  // the old encoder path: no uid/gid
  ASSERT_TRUE(WriteFileDurably(Env::Default(), repo_dir + "/snapshots/" + id, EncodeManifest(*m), 0600).ok());
  auto again = (*repo)->LoadManifest(id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->format_version, 2u);
  for (const auto& st : again->stores)
    for (const auto& f : st.files) EXPECT_EQ(f.uid, kUnknownOwner) << st.name << "/" << f.path;
  RestoreTo(id);
  EXPECT_EQ(Sh("cd '" + Pdfs() + "' && find . -type f | sort | xargs md5sum"),
            Sh("cd '" + OutOf(Pdfs()) + "' && find . -type f | sort | xargs md5sum"));
  EXPECT_EQ(StatOf(OutOf(Pdfs())).uid, 0u) << "format 2 knows no owner: left as created";
  // The committed format-2 seed of the manifest fuzz target decodes the same way.
  std::string seed = testing::ReadFile(std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/fuzz/corpus/manifest_fuzz/real_manifest_v2.bin");
  auto fixture = DecodeManifest(seed, "real_manifest_v2.bin");
  ASSERT_TRUE(fixture.ok()) << fixture.status().ToString();
  EXPECT_EQ(fixture->format_version, 2u);
  for (const auto& st : fixture->stores)
    for (const auto& f : st.files) EXPECT_EQ(f.gid, kUnknownOwner);
}

// Not root: the data is restored, and the owners it could not set are named on
// stderr and in --json. Runs the binary as nobody on a repository nobody owns.
TEST_F(MetadataTest, RestoreAsAnOrdinaryUserSaysWhichOwnersItCouldNotSet) {
  if (Sh("command -v setpriv").empty()) GTEST_SKIP() << "setpriv (util-linux) is not installed";
  Chown(Pdfs(), "1000:1000");
  std::string id = SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  Chown(root_ + "/backups", "65534:65534");  // the default repository's parent, 0700
  Chown(root_ + "/backups/maestro-db", "65534:65534");
  ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Out().c_str(), 0755), 0);
  Chown(Out(), "65534:65534");
  std::string err = tmp_.Sub("err.txt");
  std::string out = Sh("setpriv --reuid=65534 --regid=65534 --clear-groups '" + std::string(MAESTRO_DB_BINARY) +
                       "' --root '" + root_ + "' --json snap restore " + id + " --store pdfs --to '" + Out() + "/x' 2>'" +
                       err + "'; echo \"exit=$?\"");
  std::string stderr_text = testing::ReadFile(err);
  ASSERT_NE(out.find("exit=0"), std::string::npos) << out << stderr_text;
  size_t n = std::stoul(Sh("find '" + Pdfs() + "' | wc -l"));
  std::string note = "owners not restored: not running as root (" + std::to_string(n) + " files)";
  EXPECT_NE(stderr_text.find(note), std::string::npos) << stderr_text;
  auto j = nlohmann::json::parse(out.substr(0, out.rfind("exit=")), nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  ASSERT_TRUE(j.contains("metadata_notes")) << out;
  EXPECT_EQ(j["metadata_notes"], nlohmann::json::array({note}));
  EXPECT_EQ(StatOf(Out() + "/x/ai_researcher/data/raw_pdfs").uid, 65534u);
}

TEST(MetadataRulesTest, NewEntriesNeverGetWiderThan0755Or0644NorSpecialBits) {
  EXPECT_EQ(NewEntryMode(0777, true), 0755u);
  EXPECT_EQ(NewEntryMode(0777, false), 0644u);
  EXPECT_EQ(NewEntryMode(01777, true), 0755u);
  EXPECT_EQ(NewEntryMode(0750, true), 0750u);
  EXPECT_EQ(NewEntryMode(0750, false), 0640u);
  EXPECT_EQ(NewEntryMode(0700, false), 0600u);
  MetadataReport r;
  EXPECT_EQ(RestorableMode(04755, &r), 0755u);
  EXPECT_EQ(RestorableMode(0640, &r), 0640u);
  EXPECT_EQ(r.special_bits_dropped, 1u);
  EXPECT_TRUE(IsOwnerRefusal(EPERM));
  EXPECT_FALSE(IsOwnerRefusal(EIO));
  MetadataReport other;
  other.owners_not_restored = 12;
  other.owners_reason = "not running as root";
  r.Merge(other);
  EXPECT_EQ(r.Notes(), (std::vector<std::string>{"owners not restored: not running as root (12 files)",
                                                 "setuid/setgid/sticky bits not restored (1 file)"}));
}

// The format-3 seed of the manifest fuzz target (a demo repository's manifest):
// every entry has an owner, and encoding what was decoded gives the same bytes.
TEST(MetadataRulesTest, Format3ManifestRecordsEveryOwnerAndRoundTrips) {
  std::string seed = testing::ReadFile(std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/fuzz/corpus/manifest_fuzz/real_manifest_v3.bin");
  auto m = DecodeManifest(seed, "real_manifest_v3.bin");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->format_version, 3u);
  size_t entries = 0;
  for (const auto& st : m->stores)
    for (const auto& f : st.files) {
      EXPECT_NE(f.uid, kUnknownOwner) << st.name << "/" << f.path;
      EXPECT_NE(f.gid, kUnknownOwner) << st.name << "/" << f.path;
      entries++;
    }
  EXPECT_GT(entries, 10u);
  EXPECT_EQ(EncodeManifest(*m), seed);
}

}  // namespace
}  // namespace maestro
