// tests/inspect_test.cc — `stats` and `check` are read-only and fail cleanly
// on bad input (one line naming the path, a documented exit code).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/stores/inventory.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

using namespace maestro;
using namespace maestro::testing;
using nlohmann::json;

namespace {

const char* kNow = "2025-08-08T12:00:00Z";

void MakeDemo(const std::string& root, bool inconsistent = true) {
  std::vector<std::string> args = {"demo", "create", root, "--documents", "40", "--chunks-per-doc", "2",
                                   "--pdf-kib", "2", "--seed", "5", "--now", kNow};
  if (inconsistent) args.push_back("--inconsistent");
  CliResult r = RunCli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

std::string MainDb(const std::string& root) { return root + "/data/maestro.db"; }

std::string SizeOf(const std::string& digest) {
  size_t p = digest.find("size=");
  return p == std::string::npos ? "" : digest.substr(p, digest.find(' ', p) - p);
}

// Runs check and stats; both must leave the tree exactly as it was.
// live_shm: a writer holds a WAL database open. Any SQLite reader of a live WAL
// (the app's own included) claims a read-mark slot in the -shm shared-memory
// index (bytes 100..119, WalCkptInfo.aReadMark); there is no way to read the
// WAL's committed frames without it (readonly_shm=1 also writes the mark and
// reads a stale snapshot). So for a -shm that already existed only its size
// is compared; every other file must stay byte- and mtime-identical.
void ExpectReadOnly(const std::string& root, bool live_shm = false) {
  auto before = TreeDigest(root);
  CliResult c = RunCli({"--root", root, "check", "--now", kNow});
  EXPECT_EQ(c.exit_code, 1) << c.err;
  CliResult cj = RunCli({"--root", root, "--json", "check"});
  EXPECT_EQ(cj.exit_code, 1) << cj.err;
  CliResult s = RunCli({"--root", root, "stats"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  CliResult sj = RunCli({"--root", root, "--json", "stats"});
  EXPECT_EQ(sj.exit_code, 0) << sj.err;
  auto after = TreeDigest(root);
  std::string changed;
  for (const auto& [path, digest] : after) {
    auto it = before.find(path);
    if (it == before.end()) changed += "  created " + path + "\n";
    else if (live_shm && path.size() > 4 && path.substr(path.size() - 4) == "-shm" &&
             SizeOf(it->second) == SizeOf(digest))
      continue;
    else if (it->second != digest) changed += "  changed " + path + ": " + it->second + " -> " + digest + "\n";
  }
  for (const auto& [path, digest] : before)
    if (!after.count(path)) changed += "  removed " + path + "\n";
  EXPECT_TRUE(changed.empty()) << "a read-only command changed the tree:\n" << changed;
}

// Expects a failure: exit code, one line on stderr, naming `needle` (a path).
void ExpectFailure(const CliResult& r, int code, const std::string& needle, const std::string& problem) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(problem), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace

TEST(Stats, ReportsEveryStoreWithCounts) {
  TempDir d;
  MakeDemo(d.Sub("r"), false);
  CliResult r = RunCli({"--root", d.Sub("r"), "--json", "stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* s : {"main", "ai", "vector", "pdfs", "markdown", "metadata"}) {
    EXPECT_TRUE(j["stores"][s]["present"]) << s;
    EXPECT_GT(j["stores"][s]["bytes"].get<int64_t>(), 0) << s;
  }
  EXPECT_EQ(j["main"]["documents"], 40);
  EXPECT_EQ(j["main"]["users"], 3);
  EXPECT_GT(j["main"]["chats"].get<int>(), 0);
  EXPECT_GT(j["main"]["messages"].get<int>(), 0);
  EXPECT_GT(j["main"]["document_groups"].get<int>(), 0);
  int64_t completed = j["main"]["documents_by_status"]["completed"];
  EXPECT_EQ(j["ai"]["processed_documents"], completed);
  EXPECT_EQ(j["vector"]["dense_chunks"], completed * 2);
  EXPECT_EQ(j["vector"]["sparse_chunks"], completed * 2);
  EXPECT_EQ(j["vector"]["distinct_documents"], completed);
  EXPECT_EQ(j["vector"]["hnsw_segment_dirs"], 2);
  EXPECT_EQ(j["files"]["per_directory"]["markdown"], completed);
}

TEST(Stats, MissingStoresAreReportedNotErrors) {
  TempDir d;
  CliResult r = RunCli({"--root", d.path(), "--json", "stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* s : {"main", "ai", "vector", "pdfs", "markdown", "metadata"}) EXPECT_FALSE(j["stores"][s]["present"]);
  CliResult c = RunCli({"--root", d.path(), "check"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  CliResult t = RunCli({"--root", d.path(), "stats"});
  EXPECT_EQ(t.exit_code, 0);
  EXPECT_NE(t.out.find("missing"), std::string::npos);
}

TEST(ReadOnly, StatsAndCheckLeaveEveryByteAndMtimeUnchanged) {
  TempDir d;
  MakeDemo(d.Sub("r"));
  ExpectReadOnly(d.Sub("r"));
}

TEST(ReadOnly, UnchangedWhileAWriterHoldsAWalDatabaseOpen) {
  TempDir d;
  MakeDemo(d.Sub("r"));
  auto db = Db::OpenReadWrite(MainDb(d.Sub("r")), false);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL").ok());
  ASSERT_TRUE(db->Exec("UPDATE users SET full_name='Changed In Wal' WHERE id=1").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO documents(id, user_id, original_filename, processing_status) "
                       "VALUES('abcdef12', 1, 'in_wal.pdf', 'completed')").ok());
  // The writer keeps the database (and its -wal/-shm) open while we read.
  ExpectReadOnly(d.Sub("r"), /*live_shm=*/true);
  // ...and the reader saw the row that lives only in the WAL.
  CliResult r = RunCli({"--root", d.Sub("r"), "--json", "check", "--user", "1", "--document", "abcdef12"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("main_db_only"), std::string::npos) << r.out;
}

TEST(ReadOnly, UnchangedInRollbackModeWithAnOpenWriter) {
  TempDir d;
  MakeDemo(d.Sub("r"));
  auto db = Db::OpenReadWrite(MainDb(d.Sub("r")), false);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("UPDATE users SET full_name='Rollback Writer' WHERE id=1").ok());
  ExpectReadOnly(d.Sub("r"));
}

TEST(ReadOnly, WalDatabaseWithoutShmGetsNoSidecarFiles) {
  TempDir d;
  MakeDemo(d.Sub("r"));
  {
    auto db = Db::OpenReadWrite(MainDb(d.Sub("r")), false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL").ok());
  }  // closed: SQLite removes -wal and -shm, the header stays in WAL mode
  ASSERT_FALSE(::access((MainDb(d.Sub("r")) + "-shm").c_str(), F_OK) == 0);
  ExpectReadOnly(d.Sub("r"));
}

TEST(BadInput, RootThatDoesNotExist) {
  TempDir d;
  std::string root = d.Sub("no/such/root");
  ExpectFailure(RunCli({"--root", root, "check"}), 3, root, "does not exist");
  ExpectFailure(RunCli({"--root", root, "stats"}), 3, root, "does not exist");
}

TEST(BadInput, StoreFileOfGarbage) {
  TempDir d;
  WriteFile(d.Sub("r/data/maestro.db"), std::string(4096, 'x') + "garbage");
  ExpectFailure(RunCli({"--root", d.Sub("r"), "check"}), 8, d.Sub("r/data/maestro.db"), "not an SQLite database");
  ExpectFailure(RunCli({"--root", d.Sub("r"), "stats"}), 8, d.Sub("r/data/maestro.db"), "not an SQLite database");
}

TEST(BadInput, ChromaDatabaseOfGarbage) {
  TempDir d;
  MakeDemo(d.Sub("r"));
  std::string chroma = d.Sub("r/ai_researcher/data/vector_store/chroma.sqlite3");
  WriteFile(chroma, "SQLite format 3 but not really, just some bytes that are not a database");
  ExpectFailure(RunCli({"--root", d.Sub("r"), "check"}), 8, chroma, "not an SQLite database");
}

TEST(BadInput, EmptyFile) {
  TempDir d;
  WriteFile(d.Sub("r/ai_researcher/data/processed/metadata.db"), "");
  ExpectFailure(RunCli({"--root", d.Sub("r"), "check"}), 8, d.Sub("r/ai_researcher/data/processed/metadata.db"),
                "empty file");
}

TEST(BadInput, DirectoryWhereADatabaseFileBelongs) {
  TempDir d;
  ASSERT_EQ(::mkdir(d.Sub("r").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(d.Sub("r/data").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(d.Sub("r/data/maestro.db").c_str(), 0755), 0);
  ExpectFailure(RunCli({"--root", d.Sub("r"), "check"}), 8, d.Sub("r/data/maestro.db"), "is a directory");
}

TEST(BadInput, FileWhereADirectoryStoreBelongs) {
  TempDir d;
  WriteFile(d.Sub("r/ai_researcher/data/vector_store"), "not a directory");
  ExpectFailure(RunCli({"--root", d.Sub("r"), "stats"}), 8, d.Sub("r/ai_researcher/data/vector_store"),
                "expected a directory");
}

TEST(BadInput, DatabaseWithTheExpectedTablesMissing) {
  TempDir d;
  WriteFile(d.Sub("r/data/.keep"), "");
  {
    auto db = Db::OpenReadWrite(MainDb(d.Sub("r")), true);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE something_else(x)").ok());
  }
  ExpectFailure(RunCli({"--root", d.Sub("r"), "check"}), 8, MainDb(d.Sub("r")), "table 'documents' is missing");
}

TEST(BadInput, DatabaseLockedByAWriterIsBusy) {
  TempDir d;
  MakeDemo(d.Sub("r"));
  auto db = Db::OpenReadWrite(MainDb(d.Sub("r")), false);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("BEGIN EXCLUSIVE").ok());
  ASSERT_TRUE(db->Exec("UPDATE users SET full_name='x' WHERE id=1").ok());
  ExpectFailure(RunCli({"--root", d.Sub("r"), "check"}), 5, MainDb(d.Sub("r")), "locked");
  ASSERT_TRUE(db->Exec("ROLLBACK").ok());
}

TEST(BadInput, UnreadableDatabase) {
  // Root reads anything, so the command runs as the unprivileged user 65534
  // (nobody) in a forked child; skip only when that switch is impossible.
  TempDir d;
  MakeDemo(d.Sub("r"));
  ASSERT_EQ(::chmod(d.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(MainDb(d.Sub("r")).c_str(), 0), 0);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 2);
    ::dup2(out[1], 1);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(125);
    if (::access(MainDb(d.Sub("r")).c_str(), R_OK) == 0) _exit(126);  // still privileged
    std::string bin = MAESTRO_DB_BINARY, root = d.Sub("r");
    const char* argv[] = {bin.c_str(), "--root", root.c_str(), "check", nullptr};
    ::execv(bin.c_str(), const_cast<char* const*>(argv));
    _exit(127);
  }
  ::close(out[1]);
  std::string err;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;) err.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 125 || WEXITSTATUS(status) == 126)
    GTEST_SKIP() << "cannot drop privileges to uid 65534 here";
  EXPECT_EQ(WEXITSTATUS(status), 7) << err;
  EXPECT_NE(err.find(MainDb(d.Sub("r"))), std::string::npos) << err;
  EXPECT_NE(err.find("permission denied"), std::string::npos) << err;
}

TEST(Inventory, FileNamesMapToDocIds) {
  EXPECT_EQ(DocIdOfFileName(StoreId::kPdfs, "7fafabb4_paper_v2.pdf"), "7fafabb4");
  EXPECT_EQ(DocIdOfFileName(StoreId::kPdfs, "README"), "");
  EXPECT_EQ(DocIdOfFileName(StoreId::kMarkdown, "7fafabb4.md"), "7fafabb4");
  EXPECT_EQ(DocIdOfFileName(StoreId::kMarkdown, "7fafabb4.json"), "");
  EXPECT_EQ(DocIdOfFileName(StoreId::kMetadata, "7fafabb4.json"), "7fafabb4");
  EXPECT_EQ(DocIdOfFileName(StoreId::kMetadata, ".json"), "");
}
