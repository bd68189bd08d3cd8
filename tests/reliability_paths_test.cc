// tests/reliability_paths_test.cc — issue 13 points 1, 3 and 5, through the real
// binary: the paths a user (or an attacker) can give maestro-db.
//   overlap   a repository inside a store, a store inside the repository, nested
//             stores, a store that is the root or holds the repository, also via a
//             symlink and via `..`: refused (exit 8) naming both paths, before
//             anything is written (the repository and its journal are unchanged).
//   parents   a store's parent folder removed before an in-place restore, or
//             after a crash and before `recover` (auto, --rollback, --resume):
//             the folders are created again and the transaction finishes.
//   odd       a symlinked main DB (backed up with its WAL, restored at the target,
//             the link kept); a FIFO, or a symlink to /dev/urandom, where a store
//             should be: refused quickly (bounded by `timeout`); FIFOs, sockets and
//             devices inside a store folder: named in the snapshot's warnings.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/store_digest.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using reliability::CaseCounter;
using testing::CliResult;
using testing::RunCli;
using testing::Sh;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The binary under `timeout`, so a command that blocks fails the test instead of hanging it.
CliResult RunBounded(const std::vector<std::string>& args, int seconds = 20) {
  std::vector<std::string> a = {"timeout", "-s", "KILL", std::to_string(seconds), MAESTRO_DB_BINARY};
  std::string cmd;
  for (const auto& s : a) cmd += "'" + s + "' ";
  for (const auto& s : args) cmd += "'" + s + "' ";
  std::string tag = "/tmp/maestro-paths-" + std::to_string(::getpid());
  CliResult r;
  std::string rc = Sh("MAESTRO_DB_PURGE=now " + cmd + ">" + tag + ".out 2>" + tag + ".err; echo $?");
  r.exit_code = std::atoi(rc.c_str());
  r.out = testing::ReadFile(tag + ".out");
  r.err = testing::ReadFile(tag + ".err");
  fs::remove(tag + ".out");
  fs::remove(tag + ".err");
  return r;
}

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    reliability::MakeSmallDemo(root_, 4);
  }
  std::string StorePath(StoreId id) {
    auto l = Layout::Discover(Env::Default(), root_, nullptr);
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->store(id).path : "";
  }
  void WriteConfig(const std::string& body) { WriteFile(config_ = tmp_.Sub("maestro.ini"), body); }
  std::vector<std::string> Args(std::vector<std::string> cmd, const std::string& repo = "") {
    std::vector<std::string> a = {"--root", root_};
    if (!config_.empty()) a.insert(a.end(), {"--config", config_});
    if (!repo.empty()) a.insert(a.end(), {"--repo", repo});
    a.insert(a.end(), cmd.begin(), cmd.end());
    return a;
  }
  // A repository with one snapshot, taken with a safe --repo and then moved to `where`.
  void RepositoryAt(const std::string& where) {
    std::string made = tmp_.Sub("made-repo");
    CliResult r = RunCli({"--root", root_, "--repo", made, "snap", "create", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    fs::create_directories(DirName(where));
    fs::rename(made, where);
  }
  // `cmd` is refused with exit 8 naming both paths; the repository (journal
  // included) and the stores are exactly as they were.
  void ExpectRefused(const std::vector<std::string>& args, const std::string& repo, const std::string& path_a,
                     const std::string& path_b) {
    bool repo_existed = fs::exists(repo);
    auto repo_before = repo_existed ? TreeDigest(repo) : std::map<std::string, std::string>{};
    auto root_before = TreeDigest(root_);
    CliResult r = RunBounded(args);
    EXPECT_EQ(r.exit_code, 8) << r.out << r.err;
    EXPECT_TRUE(Has(r.err, path_a)) << "the message must name " << path_a << ":\n" << r.err;
    EXPECT_TRUE(Has(r.err, path_b)) << "the message must name " << path_b << ":\n" << r.err;
    EXPECT_FALSE(Has(r.out, "committed")) << r.out;
    EXPECT_EQ(fs::exists(repo), repo_existed) << "the repository " << repo << " was created or removed";
    if (repo_existed) {
      EXPECT_EQ(TreeDigest(repo), repo_before) << "the repository or its journal changed";
    }
    EXPECT_EQ(TreeDigest(root_), root_before) << "something under the root changed";
  }

  TempDir tmp_;
  std::string root_, config_;
};

// ------------------------------------------------------------------ overlap

// The reproduction: reset printed "committed", then moved the
// repository (its pre-reset snapshot included) and the journal to trash and purged them.
TEST_F(PathsTest, ResetRefusesRepositoryInsideAStore) {
  std::string vector = StorePath(StoreId::kVector);
  std::string repo = vector + "/backups";
  RepositoryAt(repo);
  ExpectRefused(Args({"-y", "reset"}, repo), repo, repo, vector);
}

TEST_F(PathsTest, SnapCreateRefusesRepositoryInsideAStoreBeforeCreatingIt) {
  std::string pdfs = StorePath(StoreId::kPdfs);
  std::string repo = pdfs + "/backups";
  ExpectRefused(Args({"snap", "create"}, repo), repo, repo, pdfs);
}

// The other commands that make a repository: snap init, and snap copy
// --to (or --from, into --repo), refused the same way before making it;
// before, both made it inside the live PDFs or vector store, where the next
// reset moved it to trash with the store.
TEST_F(PathsTest, SnapInitAndCopyRefuseARepositoryInsideAStoreBeforeMakingIt) {
  const std::string pdfs = StorePath(StoreId::kPdfs), vector = StorePath(StoreId::kVector);
  const std::string inside_vector = vector + "/backups", inside_pdfs = pdfs + "/offsite";
  ExpectRefused(Args({"snap", "init"}, inside_vector), inside_vector, inside_vector, vector);
  ExpectRefused(Args({"snap", "init", "--encrypt", "--kdf-ops", "1", "--kdf-mem-kib", "8"}, inside_pdfs),
                inside_pdfs, inside_pdfs, pdfs);
  const std::string repo = tmp_.Sub("repo");
  CliResult made = RunCli({"--root", root_, "--repo", repo, "-q", "snap", "create"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ExpectRefused(Args({"snap", "copy", "--all", "--to", inside_pdfs}, repo), inside_pdfs, inside_pdfs, pdfs);
  ExpectRefused(Args({"snap", "copy", "--all", "--from", repo}, inside_vector), inside_vector, inside_vector, vector);
  CliResult beside = RunCli(Args({"-q", "snap", "copy", "--all", "--to", tmp_.Sub("offsite")}, repo));
  EXPECT_EQ(beside.exit_code, 0) << beside.err;
}

TEST_F(PathsTest, ResetRefusesStoreInsideTheRepository) {
  std::string repo = tmp_.Sub("repo");
  RepositoryAt(repo);
  fs::create_directories(repo + "/pdfs");
  WriteFile(repo + "/pdfs/a.pdf", "%PDF-1.4 inside the repository");
  WriteConfig("[stores]\npdfs = " + repo + "/pdfs\n");
  ExpectRefused(Args({"-y", "reset"}, repo), repo, repo + "/pdfs", repo);
}

TEST_F(PathsTest, ResetRefusesNestedStores) {
  std::string repo = tmp_.Sub("repo");
  RepositoryAt(repo);
  std::string vector = StorePath(StoreId::kVector);
  WriteConfig("[stores]\npdfs = " + vector + "/pdfs\n");
  fs::create_directories(vector + "/pdfs");
  ExpectRefused(Args({"-y", "reset"}, repo), repo, vector + "/pdfs", vector);
}

// `[stores] pdfs = .` moved the whole root, repository included, aside.
TEST_F(PathsTest, ResetRefusesAStoreThatIsTheRoot) {
  std::string repo = root_ + "/backups";
  RepositoryAt(repo);
  WriteConfig("[stores]\npdfs = .\n");
  ExpectRefused(Args({"-y", "reset"}), repo, repo, root_);
}

TEST_F(PathsTest, ResetRefusesAStoreThatContainsTheRepository) {
  std::string outer = tmp_.Sub("outer");
  std::string repo = outer + "/nested/repo";
  RepositoryAt(repo);
  WriteConfig("[stores]\nmarkdown = " + outer + "\n");
  ExpectRefused(Args({"-y", "reset"}, repo), repo, repo, outer);
}

TEST_F(PathsTest, ResetRefusesRepositoryInsideAStoreThroughASymlink) {
  std::string vector = StorePath(StoreId::kVector);
  RepositoryAt(vector + "/backups");
  std::string link = tmp_.Sub("looks-elsewhere");
  fs::create_directory_symlink(vector, link);
  std::string repo = link + "/backups";
  ExpectRefused(Args({"-y", "reset"}, repo), repo, repo, vector);
}

TEST_F(PathsTest, ResetRefusesRepositoryInsideAStoreThroughDotDot) {
  std::string pdfs = StorePath(StoreId::kPdfs);
  RepositoryAt(pdfs + "/backups");
  std::string repo = root_ + "/maestro_backend/../" + pdfs.substr(root_.size() + 1) + "/backups";
  ExpectRefused(Args({"-y", "reset"}, repo), pdfs + "/backups", pdfs + "/backups", pdfs);
}

TEST_F(PathsTest, DefaultRepositoryBesideTheStoresIsAccepted) {
  CliResult r = RunCli(Args({"-y", "reset"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// ------------------------------------------------------------------ parents

// Every store, in turn: its parent folder removed, then an in-place restore of it.
TEST_F(PathsTest, InPlaceRestoreCreatesMissingStoreParents) {
  CaseCounter counter("paths (in-place restore, store parent removed)", "restored");
  std::string id = reliability::SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  auto want = testing::StoreDigest(root_);
  for (StoreId sid : AllStores()) {
    std::string name = StoreName(sid);
    std::string path = StorePath(sid), parent = DirName(path);
    fs::remove_all(parent);
    CliResult r = RunCli(Args({"-y", "snap", "restore", id, "--store", name}));
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_TRUE(fs::exists(path)) << name << " must come back where the snapshot found it: " << path;
    EXPECT_EQ(fs::status(parent).permissions() & fs::perms::all,
              fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                  fs::perms::others_exec)
        << parent;
    // Removing the parent may have removed other stores too: restore them all, then compare.
    CliResult all = RunCli(Args({"-y", "snap", "restore", id}));
    EXPECT_EQ(all.exit_code, 0) << all.err;
    bool same = testing::StoreDigest(root_) == want;
    EXPECT_TRUE(same) << name;
    counter.Add(r.exit_code == 0 && all.exit_code == 0 && same);
  }
}

// The case: `rm -rf <root>/ai_researcher` and restore everything.
TEST_F(PathsTest, InPlaceRestoreAfterRemovingTheAiResearcherFolder) {
  std::string id = reliability::SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  auto want = testing::StoreDigest(root_);
  fs::remove_all(root_ + "/ai_researcher");
  fs::remove_all(root_ + "/maestro_backend/ai_researcher");
  CliResult r = RunCli(Args({"-y", "snap", "restore", id}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::StoreDigest(root_), want);
  EXPECT_EQ(RunCli(Args({"snap", "verify"})).exit_code, 0);
}

// A restore crashed at each point, the restored store's parent removed, then
// recover (auto, --rollback before the commit, --resume) finishes it.
TEST_F(PathsTest, RecoverFinishesAfterAStoreParentWasRemoved) {
  CaseCounter counter("paths (crash, store parent removed, recover)", "recovered");
  std::string id = reliability::SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  std::string pristine = tmp_.Sub("pristine");
  fs::copy(root_, pristine, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const std::vector<std::string> points = {"txn.after_begin",  "txn.after_snapshot", "txn.after_intent:2",
                                           "store.after_stage", "store.after_aside", "txn.after_step:2",
                                           "txn.after_commit", "txn.after_finish_step"};
  for (const std::string& mode : {std::string(""), std::string("--rollback"), std::string("--resume")})
    for (const auto& point : points) {
      SCOPED_TRACE("crash at " + point + ", recover " + mode);
      fs::remove_all(root_);
      fs::copy(pristine, root_, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
      std::string vector = StorePath(StoreId::kVector);
      WriteFile(vector + "/changed-after-the-snapshot.txt", "new");
      CliResult c = RunCli(Args({"-y", "snap", "restore", id, "--store", "vector"}), {"MAESTRO_DB_CRASH_AT=" + point});
      EXPECT_EQ(c.exit_code, -9) << "the point was not reached: " << c.err;
      fs::remove_all(DirName(vector));
      std::vector<std::string> rec = {"recover"};
      if (!mode.empty()) rec.push_back(mode);
      CliResult r = RunCli(Args(rec));
      bool committed_refusal = mode == "--rollback" && r.exit_code == 2 && Has(r.err, "is committed");
      if (committed_refusal) r = RunCli(Args({"recover"}));  // a committed restore can only go forward
      EXPECT_EQ(r.exit_code, 0) << r.err;
      CliResult js = RunCli(Args({"journal", "status", "--json"}));
      bool finished = Has(js.out, "\"unfinished\": null");
      EXPECT_TRUE(finished) << js.out;
      // The store ends as the snapshot (rolled forward) or as the user left it (removed).
      auto now = testing::StoreDigest(root_);
      bool as_snapshot = fs::exists(vector) && !fs::exists(vector + "/changed-after-the-snapshot.txt");
      bool as_left = !fs::exists(vector);
      EXPECT_TRUE(as_snapshot || as_left) << "vector is neither the snapshot nor absent";
      EXPECT_EQ(Sh("find '" + root_ + "' -name '*.maestro-aside-*' -o -name '*.maestro-new-*'"), "");
      CliResult again = RunCli(Args({"-y", "snap", "restore", id}));
      EXPECT_EQ(again.exit_code, 0) << again.err;
      counter.Add(r.exit_code == 0 && finished && (as_snapshot || as_left) && again.exit_code == 0);
    }
}

TEST_F(PathsTest, RecoverFinishesAResetAfterAStoreParentWasRemoved) {
  std::string id = reliability::SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  for (const std::string& point : {std::string("store.after_aside"), std::string("txn.after_commit")}) {
    SCOPED_TRACE(point);
    CliResult c = RunCli(Args({"-y", "reset"}), {"MAESTRO_DB_CRASH_AT=" + point});
    EXPECT_EQ(c.exit_code, -9) << c.err;
    fs::remove_all(root_ + "/ai_researcher");
    CliResult r = RunCli(Args({"recover"}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Has(RunCli(Args({"journal", "status", "--json"})).out, "\"unfinished\": null"));
    CliResult back = RunCli(Args({"-y", "snap", "restore", id}));
    EXPECT_EQ(back.exit_code, 0) << back.err;
  }
}

// ------------------------------------------------------------------ odd stores

// The main DB is a symlink to a file elsewhere; a commit lives only in its WAL.
TEST_F(PathsTest, SymlinkedMainDbIsBackedUpWithItsWalAndRestoredAtTheTarget) {
  std::string link = StorePath(StoreId::kMain);
  std::string target = tmp_.Sub("elsewhere/maestro.db");
  fs::create_directories(DirName(target));
  fs::rename(link, target);
  for (const char* sfx : {"-wal", "-shm"})
    if (fs::exists(link + sfx)) fs::rename(link + sfx, target + sfx);
  fs::create_symlink(target, link);
  ::chmod(target.c_str(), 0600);
  std::string id;
  {
    auto db = Db::OpenReadWrite(link, false);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                         "CREATE TABLE probe(x TEXT); INSERT INTO probe VALUES('only in the wal');")
                    .ok());
    ASSERT_TRUE(fs::exists(target + "-wal")) << "the WAL must sit beside the target";
    id = reliability::SnapCreate(root_);  // the connection stays open: the row is in the WAL only
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(db->Exec("DELETE FROM probe").ok());
  }
  CliResult r = RunCli(Args({"-y", "snap", "restore", id, "--store", "main"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(link)) << "the symlink must be kept";
  EXPECT_EQ(fs::read_symlink(link).string(), target);
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(target)));
  auto db = Db::OpenReadOnly(target);
  ASSERT_TRUE(db.ok());
  auto n = db->QueryInt("SELECT count(*) FROM probe WHERE x = 'only in the wal'");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1) << "the commit still in the WAL was missed";
  struct stat st;
  ASSERT_EQ(::lstat(target.c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0777, 0777u);
}

// `restore --to` a folder inside a live store (also through a link, and
// beside a store as its SQLite sidecar) or inside the repository: exit 8
// naming both, nothing written; before, the whole install was restored into
// the live PDFs folder, where the next snapshot took it in as PDFs. A folder
// beside the stores, under the root, is fine.
TEST_F(PathsTest, RestoreToAFolderInsideALiveStoreOrTheRepositoryIsRefusedBeforeWriting) {
  std::string repo = tmp_.Sub("repo");
  CliResult made = RunCli({"--root", root_, "--repo", repo, "-q", "snap", "create"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string pdfs = StorePath(StoreId::kPdfs), vector = StorePath(StoreId::kVector);
  const std::string main_db = StorePath(StoreId::kMain);
  fs::create_directory_symlink(pdfs, tmp_.Sub("pdfs-link"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {pdfs + "/restored", pdfs},
      {vector + "/a/b", vector},
      {tmp_.Sub("pdfs-link") + "/restored", pdfs},
      {main_db + "-wal/x", main_db},
      {repo + "/out", repo},
  };
  for (const auto& [to, inside] : cases) {
    SCOPED_TRACE(to);
    ExpectRefused(Args({"snap", "restore", "latest", "--to", to}, repo), repo, to, inside);
    EXPECT_FALSE(fs::exists(to)) << "the target was made";
  }
  CliResult beside = RunCli(Args({"-q", "snap", "restore", "latest", "--to", root_ + "/restored"}, repo));
  EXPECT_EQ(beside.exit_code, 0) << beside.err;
}

// ------------------------------------------------------------------ links to folders

// A user who keeps the install or the backups on another disk links to it:
// --root and --repo (and the default <root>/backups/maestro-db, and copy's
// --to) given as symlinks to folders are those folders, the links are kept.
// Before, Env::Stat (lstat) saw a link, not a folder: "install root ... is
// not a directory", "--repo ... exists and is not a folder".
TEST_F(PathsTest, RootAndRepositoriesGivenAsSymlinksToFoldersAreThoseFolders) {
  const std::string root_link = tmp_.Sub("root-link"), repo_link = tmp_.Sub("repo-link");
  fs::create_directories(tmp_.Sub("disk/repo"));
  fs::create_directory_symlink(root_, root_link);
  fs::create_directory_symlink(tmp_.Sub("disk/repo"), repo_link);
  CliResult create = RunCli({"--root", root_link, "--repo", repo_link, "-q", "snap", "create"});
  ASSERT_EQ(create.exit_code, 0) << create.err;
  EXPECT_TRUE(fs::exists(tmp_.Sub("disk/repo/config")));
  EXPECT_TRUE(fs::is_symlink(repo_link)) << "the link is kept";
  CliResult list = RunCli({"--repo", repo_link, "--json", "snap", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto snaps = nlohmann::json::parse(list.out);
  ASSERT_EQ(snaps.size(), 1u);
  CliResult verify = RunCli({"--repo", repo_link, "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto before = testing::StoreDigest(root_);
  fs::remove_all(StorePath(StoreId::kPdfs));
  CliResult restore = RunCli({"--root", root_link, "--repo", repo_link, "-y", "snap", "restore",
                              snaps[0]["id"].get<std::string>()});
  EXPECT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(testing::StoreDigest(root_), before) << "the removed PDFs are back";
  EXPECT_TRUE(fs::is_symlink(root_link));

  const std::string copy_link = tmp_.Sub("copy-link");
  fs::create_directories(tmp_.Sub("disk/copy"));
  fs::create_directory_symlink(tmp_.Sub("disk/copy"), copy_link);
  CliResult copy = RunCli({"--repo", repo_link, "snap", "copy", "--all", "--to", copy_link});
  EXPECT_EQ(copy.exit_code, 0) << copy.err;
  EXPECT_TRUE(fs::exists(tmp_.Sub("disk/copy/config")));

  // The default repository, linked to another disk.
  fs::create_directories(tmp_.Sub("disk/default"));
  fs::create_directories(root_ + "/backups");
  fs::create_directory_symlink(tmp_.Sub("disk/default"), root_ + "/backups/maestro-db");
  CliResult by_default = RunCli({"--root", root_, "-q", "snap", "create"});
  EXPECT_EQ(by_default.exit_code, 0) << by_default.err;
  EXPECT_TRUE(fs::exists(tmp_.Sub("disk/default/config")));
  EXPECT_TRUE(fs::is_symlink(root_ + "/backups/maestro-db"));
}

// A link to a folder not made yet: the repository is made where it points
// (as if that path were given); a loop of links is refused, not followed forever.
TEST_F(PathsTest, RepositoryLinkToAMissingFolderIsMadeThereAndALoopOfLinksIsRefused) {
  fs::create_directories(tmp_.Sub("disk"));
  fs::create_directory_symlink(tmp_.Sub("disk/later"), tmp_.Sub("dangling"));
  CliResult made = RunCli({"--root", root_, "--repo", tmp_.Sub("dangling"), "-q", "snap", "create"});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(fs::exists(tmp_.Sub("disk/later/config")));
  fs::create_symlink(tmp_.Sub("loop-b"), tmp_.Sub("loop-a"));
  fs::create_symlink(tmp_.Sub("loop-a"), tmp_.Sub("loop-b"));
  auto before = TreeDigest(root_);
  CliResult loop = RunBounded({"--root", root_, "--repo", tmp_.Sub("loop-a"), "-q", "snap", "create"});
  EXPECT_NE(loop.exit_code, 0);
  EXPECT_NE(loop.exit_code, 124) << "timed out following the loop";
  EXPECT_TRUE(Has(loop.err, "loop-")) << loop.err;
  EXPECT_EQ(TreeDigest(root_), before);
}

// A dangling link with a relative target, in a folder reached through another
// link (/backups -> /mnt/disk/backups, and there repo -> ../maestro-repo): the
// repository is made where the kernel would put it, beside the real folder
// (/mnt/disk/maestro-repo), not at a `..` taken lexically from the linked name.
TEST_F(PathsTest, RelativeDanglingRepositoryLinkInALinkedFolderIsMadeWhereTheKernelPointsIt) {
  fs::create_directories(tmp_.Sub("disk/backups"));
  fs::create_directory_symlink(tmp_.Sub("disk/backups"), tmp_.Sub("backups"));
  fs::create_directory_symlink("../maestro-repo", tmp_.Sub("disk/backups/repo"));
  CliResult made = RunCli({"--root", root_, "--repo", tmp_.Sub("backups/repo"), "-q", "snap", "create"});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  EXPECT_TRUE(fs::exists(tmp_.Sub("disk/maestro-repo/config"))) << "not made where the link points";
  EXPECT_FALSE(fs::exists(tmp_.Sub("maestro-repo"))) << "made at the lexical ../ of the linked name";
  CliResult list = RunCli({"--repo", tmp_.Sub("backups/repo"), "snap", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
}

TEST_F(PathsTest, FifoWhereAStoreShouldBeIsRefusedWithoutBlocking) {
  CaseCounter counter("paths (FIFO where a store should be)", "refused fast");
  for (StoreId sid : {StoreId::kMain, StoreId::kPdfs}) {
    std::string path = StorePath(sid);
    fs::remove_all(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
    for (const std::vector<std::string>& cmd : {std::vector<std::string>{"snap", "create"},
                                                std::vector<std::string>{"-y", "reset"}}) {
      CliResult r = RunBounded(Args(cmd), 20);
      EXPECT_EQ(r.exit_code, 8) << cmd.back() << " with a FIFO at " << path << ": " << r.err;
      EXPECT_TRUE(Has(r.err, path) && Has(r.err, "FIFO")) << r.err;
      counter.Add(r.exit_code == 8);
    }
    fs::remove(path);
  }
}

TEST_F(PathsTest, StoreSymlinkToDevUrandomIsRefusedQuickly) {
  std::string path = StorePath(StoreId::kAi);
  fs::remove(path);
  fs::create_symlink("/dev/urandom", path);
  CliResult r = RunBounded(Args({"snap", "create"}), 20);
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_TRUE(Has(r.err, "/dev/urandom") && Has(r.err, "character device")) << r.err;
  std::string repo = root_ + "/backups/maestro-db";
  EXPECT_LT(std::atoll(Sh("du -sk '" + repo + "' 2>/dev/null | cut -f1").c_str()), 1024) << "the repository grew";
}

TEST_F(PathsTest, SpecialFilesInsideAStoreFolderAreListedInTheSnapshotWarnings) {
  std::string pdfs = StorePath(StoreId::kPdfs);
  std::vector<std::string> specials = {"pdfs/pipe", "pdfs/sock"};
  ASSERT_EQ(::mkfifo((pdfs + "/pipe").c_str(), 0644), 0);
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock = pdfs + "/sock";
  ASSERT_LT(sock.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  if (::mknod((pdfs + "/null-device").c_str(), S_IFCHR | 0644, makedev(1, 3)) == 0)
    specials.push_back("pdfs/null-device");
  CliResult r = RunBounded(Args({"--json", "snap", "create"}), 30);
  ::close(fd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("warnings")) << r.out;
  std::string id = j["id"].get<std::string>();
  std::string warnings = j["warnings"].dump();
  for (const auto& s : specials) {
    EXPECT_TRUE(Has(warnings, s)) << s << " missing from --json warnings: " << warnings;
    EXPECT_TRUE(Has(r.err, s)) << s << " missing from the printed warnings: " << r.err;
  }
  auto repo = Repository::Open(Env::Default(), root_ + "/backups/maestro-db", false);
  ASSERT_TRUE(repo.ok());
  auto m = (*repo)->LoadManifest(id);
  ASSERT_TRUE(m.ok());
  std::string persisted = nlohmann::json(m->info.warnings).dump();
  for (const auto& s : specials) EXPECT_TRUE(Has(persisted, s)) << s << " not persisted: " << persisted;
  CliResult restore = RunBounded(Args({"-y", "snap", "restore", id, "--store", "pdfs"}), 30);
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  for (const auto& s : specials) EXPECT_TRUE(Has(restore.err, s)) << "the restore must say " << s << " was not restored";
}


// ------------------------------------------------------------------ names not UTF-8

// Linux names are bytes: an install root made by an older system's tools, a
// PDF named in Latin-1. The journal's payload is JSON, whose encoder threw on
// them: reset died with std::terminate before its begin record. The journal
// keeps such a path byte for byte (util/json_text.h), so the reset commits, a
// crash in the middle of one is recovered, and the restore puts it all back.
TEST_F(PathsTest, AnInstallWhoseRootIsNotUtf8IsResetRecoveredAndRestoredByteForByte) {
  const std::string root = tmp_.Sub("install-\xff\xfe");
  root_ = root;
  reliability::MakeSmallDemo(root_, 4);
  std::string id = reliability::SnapCreate(root_);
  ASSERT_FALSE(id.empty());
  const auto want = testing::StoreDigest(root_);
  CliResult reset = RunBounded(Args({"-y", "reset"}), 60);
  ASSERT_EQ(reset.exit_code, 0) << reset.out << reset.err;
  EXPECT_NE(testing::StoreDigest(root_), want) << "the reset emptied nothing";
  CliResult back = RunBounded(Args({"-y", "snap", "restore", id}), 60);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(testing::StoreDigest(root_), want);
  // Killed after the stores were moved aside: recover rolls back to the exact path.
  CliResult crash = RunCli(Args({"-y", "reset"}), {"MAESTRO_DB_CRASH_AT=store.after_aside"});
  EXPECT_EQ(crash.exit_code, -9) << crash.err;
  CliResult rec = RunBounded(Args({"recover", "--rollback"}), 60);
  EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  EXPECT_EQ(testing::StoreDigest(root_), want);
  CliResult log = RunBounded(Args({"--json", "journal", "log"}));
  EXPECT_EQ(log.exit_code, 0) << log.err;
  EXPECT_FALSE(nlohmann::json::parse(log.out, nullptr, false).is_discarded()) << log.out;
}

// The same names in --json output: printed with U+FFFD for the bytes that are
// not UTF-8 (as restic's --json does), never an abort (exit 134) mid-output.
TEST_F(PathsTest, FileNamesThatAreNotUtf8ArePrintedInJsonInsteadOfAborting) {
  const std::string pdfs = StorePath(StoreId::kPdfs);
  std::string first = reliability::SnapCreate(root_);
  ASSERT_FALSE(first.empty());
  WriteFile(pdfs + "/report-\xe9t\xe9.pdf", "%PDF-1.4 latin-1 name");
  std::string second = reliability::SnapCreate(root_);
  ASSERT_FALSE(second.empty());
  const std::string shown = "report-\xef\xbf\xbdt\xef\xbf\xbd.pdf";  // U+FFFD for each byte
  const std::vector<std::vector<std::string>> commands = {
      {"snap", "show", second}, {"snap", "diff", first, second}, {"snap", "list"}, {"stats"}, {"check"}};
  for (const auto& cmd : commands) {
    std::vector<std::string> args = {"--json"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    CliResult r = RunBounded(Args(args));
    SCOPED_TRACE(cmd[0] + " " + (cmd.size() > 1 ? cmd[1] : ""));
    EXPECT_TRUE(r.exit_code == 0 || (cmd[0] == "check" && r.exit_code == 1)) << r.exit_code << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    if (cmd[0] == "snap" && cmd[1] != "list") {
      EXPECT_TRUE(Has(r.out, shown)) << r.out;
    }
  }
  // The bytes themselves are kept: the restore writes the file under its own name.
  CliResult to = RunBounded(Args({"snap", "restore", second, "--to", tmp_.Sub("out"), "--store", "pdfs"}), 60);
  ASSERT_EQ(to.exit_code, 0) << to.err;
  EXPECT_EQ(Sh("find '" + tmp_.Sub("out") + "' -name 'report-*' | wc -l"), "1\n");
  EXPECT_EQ(Sh("find '" + tmp_.Sub("out") + "' -name \"$(printf 'report-\\351t\\351.pdf')\" | wc -l"), "1\n");
}


// ------------------------------------------------------------------ permissions

// A file in a store the user running maestro-db cannot read (root's 0600 PDF
// in an install owned by the app's user): the snapshot fails naming it, the
// reset that needs that snapshot changes nothing, and the message says what to
// do (run as the owner or root). Needs root to make the two users.
TEST_F(PathsTest, AFileTheUserCannotReadFailsTheSnapshotAndTheResetChangesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run maestro-db as another user (setpriv)";
  if (Sh("command -v setpriv >/dev/null && echo yes") != "yes\n") GTEST_SKIP() << "setpriv (util-linux) missing";
  const std::string pdfs = StorePath(StoreId::kPdfs);
  WriteFile(pdfs + "/root-only.pdf", "%PDF-1.4 root only");
  ASSERT_EQ(::chmod((pdfs + "/root-only.pdf").c_str(), 0600), 0);
  // The install (not the root-only file) belongs to uid 65534; its parents must be passable.
  ASSERT_EQ(Sh("chmod o+x '" + tmp_.path() + "' && find '" + root_ + "' ! -name root-only.pdf -exec chown 65534:65534 {} + && echo ok"), "ok\n");
  const auto before = TreeDigest(root_);
  auto as_app_user = [&](const std::string& args) {
    std::string rc = Sh("setpriv --reuid=65534 --regid=65534 --clear-groups '" MAESTRO_DB_BINARY "' --root '" + root_ +
                        "' " + args + " >/dev/null 2>" + tmp_.Sub("err") + "; echo $?");
    return std::make_pair(std::atoi(rc.c_str()), testing::ReadFile(tmp_.Sub("err")));
  };
  auto [snap_rc, snap_err] = as_app_user("snap create");
  EXPECT_EQ(snap_rc, 7) << snap_err;
  EXPECT_TRUE(Has(snap_err, "root-only.pdf") && Has(snap_err, "owns the install")) << snap_err;
  auto [reset_rc, reset_err] = as_app_user("--yes reset");
  EXPECT_EQ(reset_rc, 7) << reset_err;
  EXPECT_TRUE(Has(reset_err, "nothing was changed")) << reset_err;
  auto after = TreeDigest(root_);
  for (auto it = after.begin(); it != after.end();)  // what the failed commands may leave: the new repository
    it = it->first.rfind("backups", 0) == 0 ? after.erase(it) : std::next(it);
  auto want = before;
  for (auto it = want.begin(); it != want.end();) it = it->first.rfind("backups", 0) == 0 ? want.erase(it) : std::next(it);
  EXPECT_EQ(after, want) << "a store changed";
}

}  // namespace
}  // namespace maestro
