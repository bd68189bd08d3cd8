// tests/sqlite_env_vfs_test.cc — the SQLite VFS over Env (util/sqlite_env_vfs.h).
//
// A database written through the VFS over a FaultEnv: a power cut at each sync
// (and at the journal's deletion) of a commit leaves a file that holds only
// synced data and that SQLite (its own unix VFS, as after a reboot) opens, rolling
// back a hot journal; a cut after the commit keeps the row. The same in WAL mode.
// Locks are the unix VFS's, seen by a connection of the default VFS and by another
// process; production (Env::Default()) keeps SQLite's own VFS. FaultEnv's model
// of a file written at any offset is checked on its own at the end.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "tests/test_util.h"
#include "tests/support/fault_env.h"
#include "util/sqlite.h"
#include "util/sqlite_env_vfs.h"

namespace maestro {
namespace {

using testing::ReadFile;
using testing::TempDir;
using Op = FaultEnv::Op;

std::string VfsOf(Db& db) {
  sqlite3_vfs* v = nullptr;
  EXPECT_EQ(sqlite3_file_control(db.raw(), "main", SQLITE_FCNTL_VFS_POINTER, &v), SQLITE_OK);
  return v ? v->zName : "";
}

// A table t(k, v) with `rows` committed rows of 3 KiB (several pages each), synced.
void MakeDatabase(Env* env, const std::string& path, bool wal, int rows) {
  auto db = Db::OpenReadWrite(env, path, true);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(db->Exec(wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE").ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)").ok());
  for (int i = 0; i < rows; ++i)
    ASSERT_TRUE(db->Exec("INSERT INTO t(v) VALUES (randomblob(3000))").ok());
  ASSERT_TRUE(db->Close().ok());
}

// Inserts `rows` more rows in one transaction through env (synchronous=FULL).
Status AddRows(Env* env, const std::string& path, int rows) {
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(env, path, false));
  MAESTRO_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL; BEGIN"));
  for (int i = 0; i < rows; ++i) MAESTRO_RETURN_IF_ERROR(db.Exec("INSERT INTO t(v) VALUES (randomblob(3000))"));
  // Rewrite old pages too, so the cut must put back synced bytes, not only cut a tail.
  MAESTRO_RETURN_IF_ERROR(db.Exec("UPDATE t SET v = zeroblob(2000) WHERE k <= 3"));
  Status st = db.Exec("COMMIT");
  Status closed = db.Close();
  return st.ok() ? closed : st;
}

// Opened with SQLite's own VFS, as after the reboot: integrity ok, the row count.
int64_t RowsAfterReboot(const std::string& path) {
  auto db = Db::OpenReadWrite(path, false);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return -1;
  auto st = db->Prepare("PRAGMA integrity_check");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(*st->Step());
  EXPECT_EQ(st->Text(0), "ok");
  auto n = db->QueryInt("SELECT count(*) FROM t");
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : -1;
}

// The number of calls of each op one AddRows makes.
std::map<Op, int> CountsOfACommit(const std::string& dir, bool wal) {
  std::string path = dir + "/probe.db";
  MakeDatabase(Env::Default(), path, wal, 4);
  FaultEnv probe(Env::Default());
  EXPECT_TRUE(AddRows(&probe, path, 6).ok());
  std::map<Op, int> out;
  for (Op op : {Op::kSync, Op::kSyncDir, Op::kRemove}) out[op] = probe.Count(op);
  return out;
}

void CutAtEveryDurableStepOfACommit(bool wal) {
  TempDir t;
  auto counts = CountsOfACommit(t.path(), wal);
  ASSERT_GE(counts[Op::kSync], wal ? 1 : 2) << "SQLite's fsyncs do not reach the Env";
  int cases = 0;
  for (auto [op, count] : counts) {
    for (int n = 1; n <= count + 1; ++n) {  // count + 1: no cut during the commit, a cut after it
      SCOPED_TRACE(std::string(FaultEnv::OpName(op)) + " #" + std::to_string(n));
      std::string path = t.Sub(std::string(FaultEnv::OpName(op)) + std::to_string(n) + ".db");
      MakeDatabase(Env::Default(), path, wal, 4);
      std::string before = ReadFile(path);
      FaultEnv env(Env::Default());
      env.PowerCutAt(op, n);
      Status s = AddRows(&env, path, 6);
      bool cut = env.frozen();
      ASSERT_TRUE(env.DropUnsyncedData().ok());
      if (s.ok()) {
        // COMMIT was reported (a cut may still come in the checkpoint at close): it is durable.
        EXPECT_EQ(RowsAfterReboot(path), 10);
      } else {
        EXPECT_TRUE(cut) << s.ToString();
        if (op == Op::kSync && n == 1 && !wal) {
          // Cut at the journal's fsync: no byte of the database was synced, so
          // the file holds exactly its synced content.
          EXPECT_EQ(ReadFile(path), before) << "unsynced database writes survived the cut";
        }
        int64_t rows = RowsAfterReboot(path);
        EXPECT_TRUE(rows == 4 || rows == 10) << rows << " rows: neither before nor after the commit";
      }
      ++cases;
    }
  }
  EXPECT_GT(cases, 3);
}

TEST(SqliteEnvVfsTest, PowerCutAtEveryDurableStepOfACommitLeavesBeforeOrAfterWithRollbackJournal) {
  CutAtEveryDurableStepOfACommit(/*wal=*/false);
}

TEST(SqliteEnvVfsTest, PowerCutAtEveryDurableStepOfACommitLeavesBeforeOrAfterInWalMode) {
  CutAtEveryDurableStepOfACommit(/*wal=*/true);
}

TEST(SqliteEnvVfsTest, CutBeforeTheDatabaseSyncLeavesAHotJournalThatSqliteRollsBack) {
  TempDir t;
  // The syncs of a commit: the journal, its header (nRec), then the database,
  // after its pages were written; the last one is the database's.
  int syncs = CountsOfACommit(t.path(), false)[Op::kSync];
  ASSERT_EQ(syncs, 3);
  std::string path = t.Sub("db");
  MakeDatabase(Env::Default(), path, false, 4);
  std::string before = ReadFile(path);
  FaultEnv env(Env::Default());
  env.PowerCutAt(Op::kSync, syncs);
  EXPECT_FALSE(AddRows(&env, path, 6).ok());
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  ASSERT_TRUE(Env::Default()->FileExists(path + "-journal")) << "the synced journal must survive the cut";
  EXPECT_EQ(ReadFile(path), before) << "the database's unsynced pages survived the cut";
  FileInfo journal;
  ASSERT_TRUE(Env::Default()->Stat(path + "-journal", &journal).ok());
  EXPECT_GT(journal.size, 0u);
  EXPECT_EQ(RowsAfterReboot(path), 4);
  ASSERT_TRUE(Env::Default()->Stat(path + "-journal", &journal).ok());
  EXPECT_TRUE(!journal.exists || journal.size == 0) << "SQLite did not roll the hot journal back";
}

TEST(SqliteEnvVfsTest, WithoutFsyncTheCommitIsLostByThePowerCut) {
  // synchronous=OFF: SQLite never syncs, so a power cut after COMMIT loses it —
  // the model sees SQLite's missing fsync, which the store power-cut tests rely on.
  TempDir t;
  std::string path = t.Sub("db");
  MakeDatabase(Env::Default(), path, false, 4);
  FaultEnv env(Env::Default());
  {
    auto db = Db::OpenReadWrite(&env, path, false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("PRAGMA synchronous=OFF; INSERT INTO t(v) VALUES (randomblob(3000))").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_EQ(env.Count(Op::kSync), 0);
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  EXPECT_EQ(RowsAfterReboot(path), 4);
}

TEST(SqliteEnvVfsTest, ProductionKeepsSqliteOwnVfsAndTheEnvVfsIsNeverTheDefault) {
  TempDir t;
  std::string path = t.Sub("db");
  MakeDatabase(Env::Default(), path, true, 1);
  auto plain = Db::OpenReadWrite(Env::Default(), path, false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(VfsOf(*plain), "unix");
  ASSERT_TRUE(plain->Close().ok());
  FaultEnv env(Env::Default());
  auto faulty = Db::OpenReadWrite(&env, path, false);
  ASSERT_TRUE(faulty.ok());
  EXPECT_EQ(VfsOf(*faulty), SqliteEnvVfsName(&env));
  EXPECT_EQ(std::string(sqlite3_vfs_find(nullptr)->zName), "unix");
  EXPECT_EQ(SqliteEnvVfsName(&env), SqliteEnvVfsName(&env)) << "one registration per Env";
}

TEST(SqliteEnvVfsTest, ItsLocksAreTheUnixVfsLocksInThisProcessAndInAnother) {
  TempDir t;
  std::string path = t.Sub("db");
  for (bool wal : {false, true}) {
    SCOPED_TRACE(wal ? "WAL" : "rollback journal");
    Env::Default()->RemoveFile(path).IgnoreError("a fresh file each round");
    Env::Default()->RemoveFile(path + "-wal").IgnoreError("a fresh file each round");
    Env::Default()->RemoveFile(path + "-shm").IgnoreError("a fresh file each round");
    MakeDatabase(Env::Default(), path, wal, 1);
    FaultEnv env(Env::Default());
    auto writer = Db::OpenReadWrite(&env, path, false);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Exec("BEGIN IMMEDIATE; INSERT INTO t(v) VALUES (1)").ok());
    auto other = Db::OpenReadWrite(Env::Default(), path, false, /*busy_timeout_ms=*/0);
    ASSERT_TRUE(other.ok());
    Status busy = other->Exec("BEGIN IMMEDIATE");
    EXPECT_EQ(busy.code(), Status::Code::kBusy) << busy.ToString();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      sqlite3* db = nullptr;
      int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
      if (rc == SQLITE_OK) rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      ::_exit(rc == SQLITE_BUSY ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "another process could take the write lock";
    ASSERT_TRUE(writer->Exec("COMMIT").ok());
    ASSERT_TRUE(writer->Close().ok());
    auto n = other->QueryInt("SELECT count(*) FROM t");
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 2) << "the default VFS reads what the Env VFS wrote";
  }
}


TEST(SqliteEnvVfsTest, AnInjectedEioIsNamedInTheError) {
  TempDir t;
  std::string path = t.Sub("db");
  MakeDatabase(Env::Default(), path, false, 1);
  FaultEnv env(Env::Default());
  env.FailAt(Op::kWrite, 1, EIO);
  auto db = Db::OpenReadWrite(&env, path, false);
  ASSERT_TRUE(db.ok());
  Status s = db->Exec("INSERT INTO t(v) VALUES (1)");
  EXPECT_EQ(s.err_no(), EIO) << s.ToString();
  EXPECT_NE(s.ToString().find(std::strerror(EIO)), std::string::npos) << s.ToString();
}


TEST(FaultEnvRandomRWTest, PowerCutGivesAFileWrittenAtAnyOffsetBackItsSyncedBytes) {
  TempDir t;
  std::string path = t.Sub("f");
  ASSERT_TRUE(Env::Default()->WriteStringToFile(path, "0123456789").ok());
  FaultEnv env(Env::Default());
  std::unique_ptr<RandomRWFile> f;
  ASSERT_TRUE(env.NewRandomRWFile(path, &f, false, 0644).ok());
  ASSERT_TRUE(f->WriteAt(2, "ab").ok());  // synced below: stays
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->WriteAt(0, "XY").ok());     // overwrites synced bytes
  ASSERT_TRUE(f->WriteAt(1, "ZZZ").ok());    // overlaps the write before
  ASSERT_TRUE(f->Truncate(6).ok());          // cuts synced bytes off
  ASSERT_TRUE(f->WriteAt(8, "tail!").ok());  // grows past the synced size
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(ReadFile(path), std::string("XZZZ45\0\0tail!", 13));
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  EXPECT_EQ(ReadFile(path), "01ab456789");
}

TEST(FaultEnvRandomRWTest, AFileCreatedWithoutADirectorySyncVanishesAtAPowerCut) {
  TempDir t;
  FaultEnv env(Env::Default());
  std::unique_ptr<RandomRWFile> f;
  ASSERT_TRUE(env.NewRandomRWFile(t.Sub("new"), &f, true, 0644).ok());
  ASSERT_TRUE(f->WriteAt(0, "data").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Close().ok());
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  EXPECT_FALSE(Env::Default()->FileExists(t.Sub("new")));
}

}  // namespace
}  // namespace maestro
