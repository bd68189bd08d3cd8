// tests/reliability_concurrency_test.cc — issue 8, concurrency across processes
// (the real binary): one writer at a time per repository (the second exits 5
// naming the holder, or waits with --lock-wait); `snap list` during a writer
// sees a consistent list; a snapshot taken while another process writes to the
// main database at full speed restores to a database that passes
// PRAGMA integrity_check. Long readers (`snap restore --to`, `snap copy`'s
// source, `snap verify`) take the readers' lock (snapshot/reader_lock.h): they
// run beside a writer, and a garbage collection skips rather than removing
// what they read; injected lock faults on it lose nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "snapshot/reader_lock.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/support/fault_env.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using reliability::CaseCounter;
using testing::CliResult;
using testing::RunCli;
using testing::TempDir;

constexpr int kExitBusy = 5;

TEST(ConcurrencyTest, SecondWriterExitsFiveNamingTheHolderOrWaitsWithLockWait) {
  TempDir t;
  std::string root = t.Sub("root");
  reliability::MakeSmallDemo(root, 4);
  ASSERT_FALSE(reliability::SnapCreate(root).empty());  // the repository exists
  CaseCounter counter("concurrency (lock held by another process)", "passed");
  {
    auto lock = RepoLock::Acquire(Env::Default(), root + "/backups/maestro-db");
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"snap", "create", "-q"}, std::vector<std::string>{"snap", "delete", "latest"},
          std::vector<std::string>{"snap", "prune", "--keep-last", "1"},
          std::vector<std::string>{"reset", "--yes", "--force"}}) {
      std::vector<std::string> args = {"--root", root};
      args.insert(args.end(), cmd.begin(), cmd.end());
      CliResult r = RunCli(args);
      bool names = r.err.find(std::to_string(getpid())) != std::string::npos;
      EXPECT_EQ(r.exit_code, kExitBusy) << cmd[0] << " " << cmd[1] << ": " << r.out << r.err;
      EXPECT_TRUE(names) << "the refusal does not name the holder's pid " << getpid() << ": " << r.err;
      counter.Add(r.exit_code == kExitBusy && names);
    }
    // Readers do not block.
    CliResult l = RunCli({"--root", root, "snap", "list"});
    EXPECT_EQ(l.exit_code, 0) << l.err;
    counter.Add(l.exit_code == 0);
    // A waiter gets the lock once it is released.
    std::thread release([&] {
      usleep(700 * 1000);
      EXPECT_TRUE((*lock)->Release().ok());
    });
    CliResult w = RunCli({"--root", root, "snap", "create", "-q", "--lock-wait", "20"});
    release.join();
    EXPECT_EQ(w.exit_code, 0) << w.out << w.err;
    counter.Add(w.exit_code == 0);
  }
}

TEST(ConcurrencyTest, TwoWritersStartedTogetherNeverBothWriteAndTheListStaysConsistent) {
  TempDir t;
  std::string root = t.Sub("root");
  reliability::MakeSmallDemo(root, 40);
  ASSERT_FALSE(reliability::SnapCreate(root).empty());
  CaseCounter counter("concurrency (two writers + a reader)", "passed");
  std::atomic<bool> writing{true};
  std::atomic<int> bad_lists{0}, lists{0};
  std::thread reader([&] {
    while (writing) {
      CliResult l = RunCli({"--root", root, "--json", "snap", "list"});
      auto j = nlohmann::json::parse(l.out, nullptr, false);
      if (l.exit_code != 0 || !j.is_array()) ++bad_lists;
      ++lists;
    }
  });
  for (int round = 0; round < 3; ++round) {
    // Something new each round so the writers have work to do.
    testing::WriteFile(root + "/ai_researcher/data/processed/markdown/r" + std::to_string(round) + ".md",
                       std::string(20000, static_cast<char>('a' + round)));
    CliResult a, b;
    std::thread ta([&] { a = RunCli({"--root", root, "snap", "create", "-q"}); });
    std::thread tb([&] { b = RunCli({"--root", root, "snap", "create", "-q"}); });
    ta.join();
    tb.join();
    bool ok = (a.exit_code == 0 || a.exit_code == kExitBusy) && (b.exit_code == 0 || b.exit_code == kExitBusy) &&
              (a.exit_code == 0 || b.exit_code == 0);
    // The refusal names the holder; in the few microseconds between the flock
    // and the holder record it can only say that the record is not written yet.
    for (const CliResult* r : {&a, &b})
      if (r->exit_code == kExitBusy)
        ok &= r->err.find("pid") != std::string::npos || r->err.find("holder record is not written yet") != std::string::npos;
    EXPECT_TRUE(ok) << "writer A: " << a.exit_code << " " << a.err << "\nwriter B: " << b.exit_code << " " << b.err;
    counter.Add(ok);
  }
  writing = false;
  reader.join();
  EXPECT_EQ(bad_lists.load(), 0) << "of " << lists.load() << " `snap list` runs during writers";
  counter.Add(bad_lists.load() == 0);
  CliResult v = RunCli({"--root", root, "snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  counter.Add(v.exit_code == 0);
}

// The repository's packs and index files: path -> digest (never empty once a snapshot exists).
std::map<std::string, std::string> RepoData(const std::string& repo) {
  auto d = testing::TreeDigest(repo + "/packs", /*include_mtime=*/false);
  for (auto& [path, digest] : testing::TreeDigest(repo + "/index", false)) d["index/" + path] = digest;
  return d;
}

// A small demo install under a temporary root, with one snapshot in its repository.
struct OneSnapshot {
  TempDir t;
  std::string root = t.Sub("root"), repo = root + "/backups/maestro-db", id;
  void Make() {
    reliability::MakeSmallDemo(root, 4);
    id = reliability::SnapCreate(root);
    ASSERT_FALSE(id.empty());
  }
};

TEST(ConcurrencyTest, RestoreToAndCopyRunBesideAWriterInsteadOfExitingBusy) {
  OneSnapshot one;
  ASSERT_NO_FATAL_FAILURE(one.Make());
  const std::string &root = one.root, &id = one.id;
  TempDir& t = one.t;
  // The nightly create (or any writer) holds the writer lock for as long as this test runs.
  auto writer = RepoLock::Acquire(Env::Default(), root + "/backups/maestro-db");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::string out = t.Sub("out");
  CliResult r = RunCli({"--root", root, "snap", "restore", id, "--to", out});
  EXPECT_EQ(r.exit_code, 0) << "a scratch restore only reads: it must not wait for the writer\n" << r.out << r.err;
  EXPECT_TRUE(Env::Default()->DirExists(out + "/maestro_backend") || Env::Default()->DirExists(out + "/data"))
      << "nothing restored under " << out;
  CliResult c = RunCli({"--root", root, "snap", "copy", id, "--to", t.Sub("copy")});
  EXPECT_EQ(c.exit_code, 0) << "a copy only reads its source\n" << c.out << c.err;
}

// A snapshot, a reset (with its pre-image snapshot), and a second snapshot that
// shares little with the first: keeping only the newest then frees data.
void MakeSnapshotsThatShareLittle(const std::string& root) {
  reliability::MakeSmallDemo(root, 4);
  ASSERT_FALSE(reliability::SnapCreate(root).empty());
  CliResult reset = RunCli({"--root", root, "reset", "--yes", "--force"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  ASSERT_FALSE(reliability::SnapCreate(root).empty());
}

TEST(ConcurrencyTest, PruneRemovesNothingWhileAReaderReadsAndCollectsOnTheNextRun) {
  TempDir t;
  std::string root = t.Sub("root");
  const std::string repo = root + "/backups/maestro-db";
  ASSERT_NO_FATAL_FAILURE(MakeSnapshotsThatShareLittle(root));
  {
    // What a running `snap restore --to` or `snap copy` holds.
    auto reader = ReaderLock::Shared(Env::Default(), repo);
    ASSERT_TRUE(reader.ok() && (*reader)->held()) << reader.status().ToString();
    auto before = RepoData(repo);
    ASSERT_FALSE(before.empty());
    CliResult p = RunCli({"--root", root, "--json", "snap", "prune", "--keep-last", "1"});
    EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
    auto j = nlohmann::json::parse(p.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << p.out;
    EXPECT_TRUE(j.dump().find("skipped") != std::string::npos) << "the JSON does not say GC was skipped: " << p.out;
    EXPECT_EQ(RepoData(repo), before) << "a pack changed under a reader";
  }
  CliResult again = RunCli({"--root", root, "--json", "snap", "prune", "--keep-last", "1"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  auto j = nlohmann::json::parse(again.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << again.out;
  EXPECT_EQ(j.dump().find("skipped"), std::string::npos) << again.out;
  EXPECT_TRUE(j.dump().find("\"bytes_freed\":0") == std::string::npos) << "nothing collected after the reader: " << again.out;
  CliResult v = RunCli({"--root", root, "snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST(ConcurrencyTest, RestoreToWaitsForARunningGarbageCollectionOrExitsBusyHavingWrittenNothing) {
  OneSnapshot one;
  ASSERT_NO_FATAL_FAILURE(one.Make());
  const std::string &root = one.root, &repo = one.repo, &id = one.id;
  TempDir& t = one.t;
  auto gc = ReaderLock::Exclusive(Env::Default(), repo);  // what a prune's collection holds
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  std::string out = t.Sub("out");
  CliResult busy = RunCli({"--root", root, "snap", "restore", id, "--to", out});
  EXPECT_EQ(busy.exit_code, kExitBusy) << busy.out << busy.err;
  EXPECT_NE(busy.err.find("collecting garbage"), std::string::npos) << busy.err;
  std::vector<DirEntry> entries;
  if (Env::Default()->DirExists(out)) {
    ASSERT_TRUE(Env::Default()->ListDir(out, &entries).ok());
  }
  EXPECT_TRUE(entries.empty()) << "a refused restore wrote under " << out;
  CliResult copy = RunCli({"--root", root, "snap", "copy", id, "--to", t.Sub("copy")});
  EXPECT_EQ(copy.exit_code, kExitBusy) << copy.out << copy.err;
  std::thread release([&] {
    usleep(700 * 1000);
    gc->reset();
  });
  CliResult waited = RunCli({"--root", root, "snap", "restore", id, "--to", out, "--lock-wait", "20"});
  release.join();
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
}

// A verify that read packs while a prune's collection removed them could only
// notice afterwards (the names changed) and run again, up to six times, then
// report with a warning: a long --read-data run repeated during a long prune.
// It waits for the collection instead, and runs beside other readers.
TEST(ConcurrencyTest, VerifyWaitsForARunningGarbageCollectionAndRunsBesideOtherReaders) {
  OneSnapshot one;
  ASSERT_NO_FATAL_FAILURE(one.Make());
  const std::string &root = one.root, &repo = one.repo;
  auto gc = ReaderLock::Exclusive(Env::Default(), repo);  // what a prune's collection holds
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  for (const std::vector<std::string>& how :
       {std::vector<std::string>{"snap", "verify", "--read-data"}, std::vector<std::string>{"snap", "verify"}}) {
    std::vector<std::string> args = {"--root", root};
    args.insert(args.end(), how.begin(), how.end());
    CliResult busy = RunCli(args);
    EXPECT_EQ(busy.exit_code, kExitBusy) << busy.out << busy.err;
    EXPECT_NE(busy.err.find("collecting garbage"), std::string::npos) << busy.err;
  }
  std::thread release([&] {
    usleep(700 * 1000);
    gc->reset();
  });
  CliResult waited = RunCli({"--root", root, "snap", "verify", "--read-data", "--lock-wait", "20"});
  release.join();
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  // And a prune while a verify reads collects nothing (the verify's lock is the readers' one).
  auto reader = ReaderLock::Shared(Env::Default(), repo);
  ASSERT_TRUE(reader.ok() && (*reader)->held());
  CliResult v = RunCli({"--root", root, "snap", "verify"});
  EXPECT_EQ(v.exit_code, 0) << "a verify must run beside another reader\n" << v.out << v.err;
}

// flock(2) of lock.readers failing (EIO, ENOLCK on a network file system),
// shared or exclusive, as FaultEnv makes it; every other lock is left alone.
class ReadersLockFaultEnv : public FaultEnv {
 public:
  explicit ReadersLockFaultEnv(int err) : FaultEnv(Env::Default()), err_(err) {}
  Status TryLockFile(const std::string& p, std::unique_ptr<FileLock>* l) override {
    return Fails(p) ? Injected(p) : FaultEnv::TryLockFile(p, l);
  }
  Status TryLockFileShared(const std::string& p, std::unique_ptr<FileLock>* l) override {
    return Fails(p) ? Injected(p) : FaultEnv::TryLockFileShared(p, l);
  }
  int failures = 0;

 private:
  bool Fails(const std::string& p) const { return p.size() >= 12 && p.compare(p.size() - 12, 12, "lock.readers") == 0; }
  Status Injected(const std::string& p) {
    ++failures;
    return Status::IoError("flock " + p + ": " + std::strerror(err_) + " (injected)");
  }
  int err_;
};

// A collection that cannot take the readers' lock cannot know no reader reads:
// it fails, naming the lock, and removes no pack or index file; a reader that
// cannot take it reads on, told so. Nothing is lost either way.
TEST(ConcurrencyTest, ReadersLockFaultsFailTheCollectionWithNothingRemovedAndLetReadersReadOn) {
  for (int err : {EIO, ENOLCK}) {
    SCOPED_TRACE(std::strerror(err));
    TempDir t;
    std::string root = t.Sub("root");
    const std::string repo = root + "/backups/maestro-db";
    ASSERT_NO_FATAL_FAILURE(MakeSnapshotsThatShareLittle(root));
    ReadersLockFaultEnv env(err);
    auto r = Repository::Open(&env, repo, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto ids = (*r)->List();
    ASSERT_TRUE(ids.ok() && ids->size() >= 2u);
    // All but the newest (the reset's pre-image snapshot holds the first one's data too).
    std::vector<std::string> old;
    for (size_t i = 0; i + 1 < ids->size(); ++i) old.push_back((*ids)[i].id);
    ASSERT_TRUE((*r)->DeleteSnapshots(old).ok());
    auto before = RepoData(repo);
    auto gc = (*r)->RemoveUnreferencedData(false);
    ASSERT_FALSE(gc.ok()) << "a collection ran without knowing whether a reader reads";
    EXPECT_NE(gc.status().ToString().find("lock.readers"), std::string::npos) << gc.status().ToString();
    EXPECT_EQ(RepoData(repo), before) << "a pack or index file went although the collection failed";
    EXPECT_GE(env.failures, 1);
    auto reader = ReaderLock::Shared(r->get(), 0);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    EXPECT_FALSE((*reader)->held());
    EXPECT_NE((*reader)->note().find("without the readers' lock"), std::string::npos) << (*reader)->note();
    auto rep = (*r)->Verify({}, true);
    ASSERT_TRUE(rep.ok());
    EXPECT_TRUE(rep->ok()) << "the repository is whole after the failed collection";
    // Without the fault the next collection frees the deleted snapshot's data.
    auto again = Repository::Open(Env::Default(), repo, false);
    ASSERT_TRUE(again.ok());
    auto freed = (*again)->RemoveUnreferencedData(false);
    ASSERT_TRUE(freed.ok()) << freed.status().ToString();
    EXPECT_NE(RepoData(repo), before);
  }
}

TEST(ConcurrencyTest, RestoreToRunsWithAWarningWhenTheReadersLockCannotBeMade) {
  OneSnapshot one;
  ASSERT_NO_FATAL_FAILURE(one.Make());
  const std::string &root = one.root, &repo = one.repo, &id = one.id;
  TempDir& t = one.t;
  // Something in the way that no mode bit explains (the tests may run as root): a folder.
  ASSERT_TRUE(Env::Default()->CreateDirs(ReaderLock::Path(repo)).ok());
  CliResult r = RunCli({"--root", root, "snap", "restore", id, "--to", t.Sub("out")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("without the readers' lock"), std::string::npos) << r.err;
}

TEST(ConcurrencyTest, SnapshotDuringFullSpeedWritesByAnotherProcessRestoresAnIntactDatabase) {
  TempDir t;
  std::string root = t.Sub("root");
  reliability::MakeSmallDemo(root, 20);
  std::string main_db = root + "/maestro_backend/data/maestro.db";
  if (!Env::Default()->FileExists(main_db)) main_db = root + "/data/maestro.db";
  ASSERT_TRUE(Env::Default()->FileExists(main_db));
  CaseCounter counter("concurrency (snapshot during full-speed writes)", "restored intact");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The "app": writes to main as fast as it can, in WAL mode, until killed.
    auto db = Db::OpenReadWrite(main_db, false);
    if (!db.ok()) _exit(2);
    if (!db->Exec("PRAGMA journal_mode=WAL").ok()) _exit(2);
    if (!db->Exec("CREATE TABLE IF NOT EXISTS load_test(id INTEGER PRIMARY KEY, v TEXT)").ok()) _exit(2);
    for (;;) {
      db->Exec("BEGIN; INSERT INTO load_test(v) VALUES (hex(randomblob(200))); "
               "UPDATE load_test SET v = hex(randomblob(100)) WHERE id % 7 = 0 AND id > (SELECT max(id) - 50 FROM load_test); "
               "COMMIT;")
          .IgnoreError("background load: a commit refused while busy is simply the next loop's");
    }
  }
  usleep(300 * 1000);
  for (int i = 0; i < 3; ++i) {
    std::string id = reliability::SnapCreate(root, {}, nullptr);
    EXPECT_FALSE(id.empty());
    if (id.empty()) continue;
    std::string out = t.Sub("restored" + std::to_string(i));
    CliResult r = RunCli({"--root", root, "snap", "restore", id, "--store", "main", "--to", out});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    std::string restored = out + "/" + main_db.substr(root.size() + 1);
    auto db = Db::OpenReadOnly(restored);
    ASSERT_TRUE(db.ok()) << restored << ": " << db.status().ToString();
    std::string ic;
    auto st = db->Prepare("PRAGMA integrity_check");
    ASSERT_TRUE(st.ok());
    auto row = st->Step();
    if (row.ok() && *row) ic = st->Text(0);
    EXPECT_EQ(ic, "ok");
    EXPECT_FALSE(Env::Default()->FileExists(restored + "-wal")) << "a stale -wal was restored";
    counter.Add(ic == "ok");
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_GE(counter.cases(), 3);
}

}  // namespace
}  // namespace maestro
