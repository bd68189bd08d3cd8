// tests/reliability_input_test.cc — issue 13 points 8 and 9, the hostile-input
// suite's second half (the first is tests/reliability_hostile_test.cc): every
// bad input is a clear error, never an abort, an I/O error or silence.
//   config files   over 1 MiB, not text, or a device: exit 2 naming the file
//   decoders       an index offset of 2^63, a journal step index of 2e9: exit 4
//   display        labels with control characters are printed escaped
//   environment    MAESTRO_DB_CRASH_AT / MAESTRO_DB_PURGE typos: exit 2
//   busy message   one line per holder, however many descriptors it has open
//   Result         value() of an error aborts with the status (death test)
//   txn args       each kind's journaled args decode in one typed function that
//                  names the missing field; recover of a damaged entry exits 4
//   OpenWriter     a refused writer has not touched the repository
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <filesystem>

#include "engine/txn/recover.h"
#include "engine/txn/txn_args.h"
#include "journal/journal.h"
#include "snapshot/format.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/test_util.h"
#include "util/text.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

// ---------------------------------------------------------------- config files

class ConfigInputTest : public ::testing::Test {
 protected:
  // `snap list` with --config path: refused with exit 2 naming the file.
  void ExpectRefused(const std::string& path, const std::string& why) {
    CliResult r = RunCli({"--root", tmp_.path(), "--config", path, "snap", "list"});
    EXPECT_EQ(r.exit_code, 2) << why << "\n" << r.err;
    EXPECT_NE(r.err.find(path), std::string::npos) << why << ": the message must name the file\n" << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  TempDir tmp_;
};

TEST_F(ConfigInputTest, ConfigLargerThanOneMiBIsRefusedBeforeParsing) {
  std::string big;
  while (big.size() <= (1u << 20)) big += "# a comment line that parses fine\n";
  testing::WriteFile(tmp_.Sub("big.ini"), big);
  ExpectRefused(tmp_.Sub("big.ini"), "larger than 1 MiB");
}

TEST_F(ConfigInputTest, ConfigWithNulBytesIsRefusedAsNotText) {
  testing::WriteFile(tmp_.Sub("nul.ini"), std::string("[stores]\nmain = a\0b\n", 19));
  ExpectRefused(tmp_.Sub("nul.ini"), "not text");
}

TEST_F(ConfigInputTest, ConfigThatIsNotUtf8IsRefusedAsNotText) {
  testing::WriteFile(tmp_.Sub("latin1.ini"), "[stores]\nmain = /srv/caf\xe9.db\n");
  ExpectRefused(tmp_.Sub("latin1.ini"), "not valid UTF-8");
}

// Regression: `--config /dev/zero` read 2 GiB and aborted with std::bad_alloc.
TEST_F(ConfigInputTest, ConfigThatIsADeviceIsRefusedWithoutReadingIt) {
  ExpectRefused("/dev/zero", "character device");
  ExpectRefused(tmp_.path(), "directory");
}

// ---------------------------------------------------------------- decoders

class DecoderInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    reliability::MakeSmallDemo(root_, 4);
    id_ = reliability::SnapCreate(root_);
    ASSERT_FALSE(id_.empty());
  }
  // Appends hand-made records to the install's journal, as a damaged or
  // crafted journal would hold them (each record's seq and time are assigned).
  void AppendToJournal(std::vector<JournalRecord> records) {
    auto j = Journal::Open(Env::Default(), JournalDir(root_ + "/backups/maestro-db"), true);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    for (auto& r : records) {
      r.txn_id = kTxn;
      ASSERT_TRUE((*j)->Append(&r).ok());
    }
  }
  static JournalRecord Record(RecordType type) {
    JournalRecord r;
    r.type = type;
    return r;
  }
  static constexpr const char* kTxn = "20250101_000000-abcd";
  TempDir tmp_;
  std::string root_, id_;
};

// Regression: an index offset of 2^63 reached pread, whose EINVAL was reported
// as an I/O error (exit 7), not as the damage it is.
TEST_F(DecoderInputTest, RestoreReportsAnIndexOffsetOf2To63AsCorruption) {
  std::string repo = root_ + "/backups/maestro-db";
  auto idx_files = reliability::FilesUnder(repo, "index");
  ASSERT_FALSE(idx_files.empty());
  std::string bytes = testing::ReadFile(idx_files[0]);
  auto entries = DecodeIndex(bytes, "index");
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  for (auto& e : *entries) e.offset = uint64_t{1} << 63;
  ASSERT_TRUE(Env::Default()->RemoveFile(idx_files[0]).ok());
  std::string crafted = EncodeIndex(*entries);
  testing::WriteFile(repo + "/index/" + Xxh128(crafted).Hex() + ".idx", crafted);
  CliResult r = RunCli({"--root", root_, "snap", "restore", id_, "--to", tmp_.Sub("out")});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("points outside pack"), std::string::npos) << r.err;
}

// Regression: a step index of 2e9 in a journal record sized the step-name
// table when the records were folded: std::bad_alloc, an abort.
TEST_F(DecoderInputTest, JournalRecordWithAHugeStepIndexIsCorruption) {
  JournalRecord begin = Record(RecordType::kBegin), intent = Record(RecordType::kIntent);
  begin.kind = "reset";
  begin.args = nlohmann::json::object();
  intent.step = 2000000000;
  intent.step_name = "reset.stage.main";
  AppendToJournal({begin, intent});
  CliResult r = RunCli({"--root", root_, "recover"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("step index"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------- display

TEST(TerminalEscapeTest, ControlCharactersAreEscapedAndTextIsKept) {
  EXPECT_EQ(EscapeForTerminal("before upgrade"), "before upgrade");
  EXPECT_EQ(EscapeForTerminal("caf\xc3\xa9 /srv/a\\b"), "caf\xc3\xa9 /srv/a\\b");
  EXPECT_EQ(EscapeForTerminal("a\nb\tc\r"), "a\\nb\\tc\\r");
  EXPECT_EQ(EscapeForTerminal("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(EscapeForTerminal(std::string("\0\x7f", 2)), "\\x00\\x7f");
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b" "2J"), "\\u009b2J");  // C1 CSI
  EXPECT_EQ(EscapeForTerminal("\xff\xc3"), "\\xff\\xc3");       // not UTF-8
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
}

TEST_F(DecoderInputTest, SnapListAndShowPrintLabelControlCharactersEscaped) {
  std::string label = "evil\n\x1b[2J\x1b]0;owned\x07 label";
  CliResult c = RunCli({"--root", root_, "snap", "create", "-q", "--label", label});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::string id = reliability::Trim(c.out);
  for (const auto& args : std::vector<std::vector<std::string>>{{"snap", "list"}, {"snap", "show", id}}) {
    std::vector<std::string> a = {"--root", root_};
    a.insert(a.end(), args.begin(), args.end());
    CliResult r = RunCli(a);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << args[1] << " printed a raw escape sequence";
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << args[1];
    EXPECT_NE(r.out.find("evil\\n\\x1b[2J\\x1b]0;owned\\x07 label"), std::string::npos) << args[1] << "\n" << r.out;
  }
  // Stored as given: the JSON listing has the label byte for byte.
  CliResult j = RunCli({"--root", root_, "--json", "snap", "list"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  bool found = false;
  for (const auto& s : nlohmann::json::parse(j.out))
    if (s.at("label") == label) found = true;
  EXPECT_TRUE(found) << j.out;
}

// ---------------------------------------------------------------- environment

TEST_F(DecoderInputTest, UnknownCrashPointIsAUsageErrorNamingTheListCommand) {
  for (const char* spec : {"bogus", "txn.after_step:x", "txn.after_step:0"}) {
    auto before = TreeDigest(root_);
    CliResult r = RunCli({"--root", root_, "snap", "create", "-q"}, {std::string("MAESTRO_DB_CRASH_AT=") + spec});
    EXPECT_EQ(r.exit_code, 2) << spec << "\n" << r.err;
    EXPECT_NE(r.err.find("maestro-db debug crash-points"), std::string::npos) << r.err;
    EXPECT_EQ(TreeDigest(root_), before) << spec << ": the command ran anyway";
  }
}

TEST_F(DecoderInputTest, UnknownPurgeModeIsRefusedBeforeAnythingChanges) {
  auto before = TreeDigest(root_);
  CliResult r = RunCli({"--root", root_, "reset", "--yes"}, {"MAESTRO_DB_PURGE=sometime"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("MAESTRO_DB_PURGE"), std::string::npos) << r.err;
  EXPECT_EQ(TreeDigest(root_), before) << "the reset ran with an unknown purge mode";
}

// Numbers too large for what they size: `--failed-older-than 99999999999999999999d`
// threw out of stoll (an abort, then exit 70), `999999999999999w` wrapped int64
// silently, `--lock-wait 1e300` overflowed the deadline's microseconds
// (undefined). Each is now exit 2 naming its limit, with nothing changed.
TEST_F(DecoderInputTest, DurationsAndLockWaitsTooLargeToHoldAreUsageErrorsWithNothingChanged) {
  const std::vector<std::vector<std::string>> cases = {
      {"cleanup", "--all", "--dry-run", "--failed-older-than", "99999999999999999999d"},
      {"cleanup", "--all", "--yes", "--stuck-older-than", "999999999999999w"},
      {"snap", "create", "--lock-wait", "1e300"},
      {"snap", "verify", "--lock-wait", "inf"},
      {"snap", "delete", "latest", "--lock-wait", "nan"},
      {"snap", "prune", "--keep-last", "1", "--lock-wait", "-1"},
      {"snap", "copy", "--all", "--to", root_ + "-copy", "--lock-wait", "1e20"}};
  for (const auto& c : cases) {
    std::vector<std::string> args = {"--root", root_};
    args.insert(args.end(), c.begin(), c.end());
    auto before = TreeDigest(root_);
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 2) << c[0] << " " << c.back() << "\n" << r.err;
    EXPECT_TRUE(r.err.find("century") != std::string::npos || r.err.find("604800") != std::string::npos) << r.err;
    EXPECT_EQ(TreeDigest(root_), before) << c.back();
    EXPECT_FALSE(fs::exists(root_ + "-copy"));
  }
}

// ---------------------------------------------------------------- busy message

// Regression: a process holding maestro.db through four descriptors was named
// four times ("pid 123 (sh) has .../maestro.db open; pid 123 (sh) has ...").
TEST_F(DecoderInputTest, BusyMessageNamesEachHolderOnce) {
  std::string db = root_ + "/data/maestro.db";  // where `demo create` puts main
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    dup2(ready[1], 9);
    execl("/bin/sh", "sh", "-c", "exec 3<\"$1\" 4<\"$1\" 5<\"$1\" 6<\"$1\"; echo x >&9; exec 9>&-; sleep 30", "sh",
          db.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(ready[1]);
  char c;
  bool opened = read(ready[0], &c, 1) == 1;
  close(ready[0]);
  CliResult r;
  if (opened) r = RunCli({"--root", root_, "reset", "--yes"});
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_TRUE(opened) << "the holder could not open " << db;
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(Count(r.err, "pid " + std::to_string(child) + " "), 1u) << r.err;
}

// ---------------------------------------------------------------- Result

TEST(ResultDeathTest, ValueOfAnErrorResultAbortsWithTheStatus) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Result<int> r(Status::IoError("disk on fire"));
        std::printf("%d\n", r.value());
      },
      "maestro-db: internal error: value\\(\\) of an error Result: I/O error: disk on fire");
  EXPECT_DEATH(
      {
        Result<std::string> r(Status::NotFound("no such snapshot"));
        std::printf("%zu\n", r->size());
      },
      "value\\(\\) of an error Result: not found: no such snapshot");
}

TEST(ResultTest, AResultMadeFromAnOkStatusIsAnInternalError) {
  Result<int> r(Status::OK());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInternal);
}

// ---------------------------------------------------------------- txn args

nlohmann::json StoreJson(const std::string& name, const std::string& path, bool sqlite) {
  return {{"name", name}, {"path", path}, {"sqlite", sqlite}, {"present", true}};
}

// Every field of `good`, removed in turn, is refused with Corruption naming it.
template <typename Decode>
void ExpectEachMissingFieldNamed(const nlohmann::json& good, const std::string& prefix, Decode decode) {
  ASSERT_TRUE(decode(good).ok()) << decode(good).status().ToString();
  for (const auto& [key, v] : good.items()) {
    nlohmann::json bad = good;
    bad.erase(key);
    auto r = decode(bad);
    ASSERT_FALSE(r.ok()) << "accepted without " << key;
    EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
    EXPECT_NE(r.status().message().find(prefix + key), std::string::npos) << r.status().ToString();
  }
}

TEST(TxnArgsTest, ResetArgsRejectAStoreWithoutAPathNamingTheField) {
  nlohmann::json good = {{"stores", {StoreJson("main", "/srv/m/maestro.db", true), StoreJson("pdfs", "/srv/pdfs", false)}}};
  ExpectEachMissingFieldNamed(good, "reset.", DecodeResetArgs);
  for (const char* field : {"name", "path", "sqlite", "present"}) {
    nlohmann::json bad = good;
    bad["stores"][1].erase(field);
    auto r = DecodeResetArgs(bad);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_NE(r.status().message().find(std::string("reset.stores[1].") + field), std::string::npos)
        << r.status().ToString();
  }
  nlohmann::json relative = good;
  relative["stores"][0]["path"] = "maestro.db";
  EXPECT_FALSE(DecodeResetArgs(relative).ok()) << "a relative store path would land in the current directory";
  nlohmann::json empty = good;
  empty["stores"][0]["path"] = "";
  EXPECT_FALSE(DecodeResetArgs(empty).ok());
}

TEST(TxnArgsTest, RestoreArgsRejectAMissingSourceOrStoreList) {
  nlohmann::json good = {{"source", "20250101_000000"}, {"stores", {StoreJson("ai", "/srv/ai/metadata.db", true)}}};
  ExpectEachMissingFieldNamed(good, "restore.", DecodeRestoreArgs);
}

TEST(TxnArgsTest, CleanupArgsRejectEachMissingField) {
  nlohmann::json stores = {{"main", StoreJson("main", "/srv/main.db", true)},
                           {"pdfs", StoreJson("pdfs", "/srv/pdfs", false)}};
  nlohmann::json good = {{"stamp", "2025-01-01T00:00:00Z"}, {"stamp_sql", "2025-01-01 00:00:00"},
                         {"stores", stores}, {"ai", nlohmann::json::array()},
                         {"chunks", nlohmann::json::array()}, {"collections", nlohmann::json::array()},
                         {"files", {{"pdfs", {"a.pdf"}}}},
                         {"mark_failed", nlohmann::json::array({nlohmann::json::array({"doc1", "stale"})})},
                         {"delete_main", {"doc2"}}};
  ExpectEachMissingFieldNamed(good, "cleanup.", DecodeCleanupArgs);
  nlohmann::json unsafe = good;
  unsafe["files"]["pdfs"] = {"../../etc/passwd"};
  EXPECT_FALSE(DecodeCleanupArgs(unsafe).ok());
  auto a = DecodeCleanupArgs(good);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->Store("ai").ok()) << "a store the args do not list must not become the path \"\"";
}

TEST(TxnArgsTest, MigrateArgsRejectEachMissingStepField) {
  nlohmann::json step = {{"store", "main"}, {"path", "/srv/main.db"}, {"file", "0002_x.sql"},
                         {"origin", "built-in:main/0002_x.sql"}, {"version", 2}, {"name", "x"},
                         {"checksum", "00"}, {"down", false}, {"sql", "SELECT 1;"}};
  nlohmann::json good = {{"direction", "up"}, {"steps", {step}}};
  ExpectEachMissingFieldNamed(good, "migrate.", DecodeMigrateArgs);
  ExpectEachMissingFieldNamed(step, "migrate.steps[0].", [&](const nlohmann::json& s) {
    return DecodeMigrateArgs({{"direction", "up"}, {"steps", {s}}});
  });
  nlohmann::json wrong = good;
  wrong["steps"][0]["version"] = "2";
  EXPECT_FALSE(DecodeMigrateArgs(wrong).ok());
}

// Regression: StoreRef::FromJson filled in "" for a missing path, so recovering
// a damaged reset entry staged a database relative to the current directory.
TEST_F(DecoderInputTest, RecoverWithDamagedJournalArgsExits4AndWritesNothingInTheCurrentDirectory) {
  JournalRecord begin = Record(RecordType::kBegin), snap = Record(RecordType::kSnapshot);
  begin.kind = "reset";
  begin.args = {{"stores", {{{"name", "main"}, {"sqlite", true}, {"present", true}}}}};  // no path
  snap.snapshot_id = id_;
  AppendToJournal({begin, snap, Record(RecordType::kCommit)});
  std::string cwd = tmp_.Sub("cwd");
  fs::create_directories(cwd);
  std::string old_cwd = fs::current_path();
  ASSERT_EQ(chdir(cwd.c_str()), 0);
  CliResult r = RunCli({"--root", root_, "recover"});
  ASSERT_EQ(chdir(old_cwd.c_str()), 0);
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("reset.stores[0].path"), std::string::npos) << r.err;
  EXPECT_TRUE(TreeDigest(cwd).empty()) << "recover wrote into the current directory";
}

// ---------------------------------------------------------------- OpenWriter

// Regression: `snap create` and the transactions created the repository (its
// folders and config) before taking the lock, under another writer's feet.
TEST(OpenWriterTest, WriterRefusedByAHeldLockHasNotTouchedTheRepository) {
  TempDir tmp;
  std::string root = tmp.Sub("root");
  reliability::MakeSmallDemo(root, 2);
  std::string repo = tmp.Sub("repo");
  // A first writer mid-creation: its folders (made in this order), no config yet.
  for (const char* d : {"snapshots", "index", "packs", "tmp"}) fs::create_directories(repo + "/" + d);
  testing::WriteFile(repo + "/tmp/pack-1.tmp-pack", "a half-written pack of the holder");
  auto lock = RepoLock::Acquire(Env::Default(), repo);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto before = TreeDigest(repo);
  for (const auto& cmd : std::vector<std::vector<std::string>>{{"snap", "create"}, {"reset", "--yes"}}) {
    std::vector<std::string> a = {"--root", root, "--repo", repo};
    a.insert(a.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(a);
    EXPECT_EQ(r.exit_code, 5) << cmd[0] << "\n" << r.err;
    EXPECT_EQ(TreeDigest(repo), before) << cmd[0] << " changed the repository before taking its lock";
  }
}

}  // namespace
}  // namespace maestro
