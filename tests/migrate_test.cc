// tests/migrate_test.cc — the migrator: files as data, history with checksums,
// status / validate / baseline, up and down as journaled transactions that roll
// back completely, and the fresh schema that reset creates.
#include "engine/migrate/migrate.h"
#include "engine/txn/migrate_txn.h"

#include <gtest/gtest.h>

#include "engine/migrate/schema.h"
#include "journal/journal.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::ReadFile;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

const char* kMainRel = "data/maestro.db";
const char* kAiRel = "ai_researcher/data/processed/metadata.db";

// Every table's schema and rows, in a stable order: equal dumps = same data.
std::string Dump(const std::string& path) {
  auto db = Db::OpenReadOnly(path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  if (!db.ok()) return "";
  std::string out;
  std::vector<std::string> tables;
  auto st = db->Prepare("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
  while (*st->Step()) {
    out += st->Text(0) + ": " + st->Text(1) + "\n";
    tables.push_back(st->Text(0));
  }
  for (const auto& t : tables) {
    auto exists = db->TableExists(t);
    if (!*exists) continue;  // an index
    auto rows = db->Prepare("SELECT * FROM \"" + t + "\" ORDER BY rowid");
    if (!rows.ok()) continue;
    while (*rows->Step()) {
      out += t + "|";
      for (int c = 0; c < rows->ColumnCount(); ++c) out += rows->Text(c) + "|";
      out += "\n";
    }
  }
  return out;
}

int64_t Query(const std::string& path, const std::string& sql) {
  auto db = Db::OpenReadOnly(path);
  EXPECT_TRUE(db.ok());
  auto v = db->QueryInt(sql);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : -1;
}

// An install root with empty (zero-table) main and ai databases.
struct Install {
  TempDir tmp;
  std::string root = tmp.Sub("root");
  std::string main_path = root + "/" + kMainRel;
  std::string ai_path = root + "/" + kAiRel;
  std::string snaps = tmp.Sub("snaps");
  int snapshots = 0;

  Install() {
    WriteFile(root + "/data/.keep", "");
    WriteFile(root + "/ai_researcher/data/processed/.keep", "");
    for (const auto& p : {main_path, ai_path}) {
      auto db = Db::OpenReadWrite(p, true);
      EXPECT_TRUE(db.ok());
      EXPECT_TRUE(db->Exec("PRAGMA user_version=0").ok());  // materialise the file
    }
  }
  Layout layout() {
    auto l = Layout::Discover(Env::Default(), root, nullptr);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return *l;
  }
  void Exec(const std::string& path, const std::string& sql) {
    auto db = Db::OpenReadWrite(path, false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(sql).ok()) << sql;
  }
  // A snapshot service that keeps SQLite backups of main and ai in snaps/.
  TxnServices Services() {
    TxnServices s;
    s.env = Env::Default();
    auto j = Journal::Open(Env::Default(), tmp.Sub("repo/journal"), true);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    s.journal = *j;
    s.snapshot = [this](const std::string& trigger) -> Result<std::string> {
      EXPECT_EQ(trigger, "pre-migrate");
      std::string id = "snap" + std::to_string(++snapshots);
      MAESTRO_RETURN_IF_ERROR(Env::Default()->CreateDirs(snaps + "/" + id));
      MAESTRO_RETURN_IF_ERROR(SqliteBackup(main_path, snaps + "/" + id + "/main"));
      MAESTRO_RETURN_IF_ERROR(SqliteBackup(ai_path, snaps + "/" + id + "/ai"));
      return id;
    };
    s.restore_store = [this](const std::string& snap, const std::string& store, const std::string& target) {
      return SqliteBackup(snaps + "/" + snap + "/" + store, target);
    };
    return s;
  }
  Status Up(MigrateOptions opts) {
    auto plan = PlanMigrateUp(layout(), opts);
    if (!plan.ok()) return plan.status();
    TxnServices svc = Services();
    return RunMigrateTransaction(svc, *plan, nullptr);
  }
  Status Down(MigrateOptions opts) {
    auto plan = PlanMigrateDown(layout(), opts);
    if (!plan.ok()) return plan.status();
    TxnServices svc = Services();
    return RunMigrateTransaction(svc, *plan, nullptr);
  }
  StoreMigrationStatus StatusOf(StoreId id, const std::string& dir = "") {
    MigrateOptions o;
    o.migrations_dir = dir;
    o.store = id;
    auto st = GetMigrationStatus(layout(), o);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    return st.ok() ? st->front() : StoreMigrationStatus{};
  }
};

// Five user migrations for main; the third has bad SQL after a good statement.
std::string FiveMigrations(const TempDir& tmp, bool third_is_bad) {
  std::string dir = tmp.Sub("user-migrations");
  WriteFile(dir + "/main/0001_notes.sql",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n-- +down\nDROP TABLE notes;\n");
  WriteFile(dir + "/main/0002_tags.sql",
            "CREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER, tag TEXT);\n"
            "INSERT INTO tags(note_id, tag) SELECT id, 'imported' FROM notes;\n-- +down\nDROP TABLE tags;\n");
  WriteFile(dir + "/main/0003_stars.sql",
            std::string("ALTER TABLE notes ADD COLUMN stars INTEGER DEFAULT 0;\n") +
                (third_is_bad ? "UPDATE notes SET stars = (SELECT nonexistent_column FROM tags);\n" : "") +
                "-- +down\nALTER TABLE notes DROP COLUMN stars;\n");
  WriteFile(dir + "/main/0004_idx.sql", "CREATE INDEX ix_tags_note ON tags(note_id);\n-- +down\nDROP INDEX ix_tags_note;\n");
  WriteFile(dir + "/main/0005_archive.sql",
            "CREATE TABLE archive (id INTEGER PRIMARY KEY);\n-- +down\nDROP TABLE archive;\n");
  return dir;
}

TEST(MigrationFile, UpAndDownPartsSplitAtTheDownLineAndChecksumCoversTheWholeFile) {
  auto m = ParseMigration("main", "0007_add_x.sql", "CREATE TABLE x(a);\n-- +down\nDROP TABLE x;\n", "t");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->version, 7);
  EXPECT_EQ(m->name, "add_x");
  EXPECT_EQ(m->up, "CREATE TABLE x(a);\n");
  EXPECT_EQ(m->down, "DROP TABLE x;\n");
  EXPECT_TRUE(m->has_down);
  auto m2 = ParseMigration("main", "0007_add_x.sql", "CREATE TABLE x(a);\n-- +down\nDROP TABLE y;\n", "t");
  EXPECT_NE(m->checksum, m2->checksum);
  auto no_down = ParseMigration("main", "0008_y.sql", "CREATE TABLE y(a);\n-- +down\n-- nothing\n", "t");
  EXPECT_FALSE(no_down->has_down);
  EXPECT_FALSE(ParseMigration("main", "add_x.sql", "", "t").ok());
  EXPECT_FALSE(ParseMigration("main", "0001-add.sql", "", "t").ok());
}

TEST(MigrationFile, TwoFilesWithOneVersionAreRefused) {
  TempDir tmp;
  WriteFile(tmp.Sub("m/main/0001_a.sql"), "SELECT 1;");
  WriteFile(tmp.Sub("m/main/0001_b.sql"), "SELECT 1;");
  auto set = LoadMigrations(Env::Default(), StoreId::kMain, tmp.Sub("m"));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("same version 1"), std::string::npos) << set.status().message();
}

TEST(MigrationFile, StoreWithoutSubfolderInUserDirUsesTheBuiltInSet) {
  TempDir tmp;
  WriteFile(tmp.Sub("m/main/0001_a.sql"), "CREATE TABLE a(x);");
  auto ai = LoadMigrations(Env::Default(), StoreId::kAi, tmp.Sub("m"));
  auto builtin = LoadMigrations(Env::Default(), StoreId::kAi, "");
  ASSERT_TRUE(ai.ok() && builtin.ok());
  ASSERT_EQ(ai->size(), builtin->size());
  EXPECT_EQ(ai->front().checksum, builtin->front().checksum);
  EXPECT_EQ(LoadMigrations(Env::Default(), StoreId::kMain, tmp.Sub("m"))->size(), 1u);
}

TEST(MigrationFile, BuiltInSetMatchesTheSourceFilesByteForByte) {
  auto set = LoadMigrations(Env::Default(), StoreId::kMain, "");
  auto src = LoadMigrations(Env::Default(), StoreId::kMain, std::string(MAESTRO_DB_SOURCE_DIR) + "/migrations");
  ASSERT_TRUE(set.ok() && src.ok());
  ASSERT_EQ(set->size(), src->size());
  for (size_t i = 0; i < set->size(); ++i) EXPECT_EQ((*set)[i].checksum, (*src)[i].checksum) << (*set)[i].file;
}

TEST(FreshSchema, ResetSchemaIsAtNewestVersionWithEmptyTablesAndNothingPending) {
  Install in;
  for (auto [id, path] : {std::pair{StoreId::kMain, in.main_path}, std::pair{StoreId::kAi, in.ai_path}}) {
    auto db = Db::OpenReadWrite(path, false);
    ASSERT_TRUE(CreateFreshSchema(*db, id, Env::Default()->NowMicros()).ok());
    ASSERT_TRUE(db->Close().ok());
    auto st = in.StatusOf(id);
    EXPECT_EQ(st.current, st.newest) << st.store;
    EXPECT_GE(st.newest, 1);
    EXPECT_TRUE(st.pending.empty()) << st.store;
    EXPECT_TRUE(st.ok());
    EXPECT_FALSE(st.unversioned());
  }
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM users"), 0);
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM documents"), 0);
  EXPECT_EQ(Query(in.ai_path, "SELECT count(*) FROM processed_documents"), 0);
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM migration_history WHERE success = 1 AND checksum <> ''"),
            in.StatusOf(StoreId::kMain).newest);
}

TEST(FreshSchema, SameAppliedAtTimeGivesIdenticalFiles) {
  Install a, b;
  for (Install* in : {&a, &b}) {
    auto db = Db::OpenReadWrite(in->main_path, false);
    ASSERT_TRUE(CreateFreshSchema(*db, StoreId::kMain, 1754663422000000).ok());
  }
  EXPECT_EQ(ReadFile(a.main_path), ReadFile(b.main_path));
}

TEST(MigrateUp, EmptyStoresReachNewestVersionAndStatusSaysSo) {
  Install in;
  ASSERT_TRUE(in.Up({}).ok());
  for (StoreId id : {StoreId::kMain, StoreId::kAi}) {
    auto st = in.StatusOf(id);
    EXPECT_EQ(st.current, st.newest);
    EXPECT_TRUE(st.pending.empty());
  }
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM sqlite_master WHERE name = 'ix_messages_chat_id'"), 1);
  EXPECT_EQ(in.snapshots, 1) << "one pre-migrate snapshot per run";
  MigrateOptions none;
  auto again = PlanMigrateUp(in.layout(), none);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->steps.empty()) << "nothing pending: nothing to do";
}

TEST(MigrateUp, FailedThirdMigrationOfFiveLeavesDataAndVersionUnchanged) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, /*third_is_bad=*/true);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  opts.to = 1;
  ASSERT_TRUE(in.Up(opts).ok());
  in.Exec(in.main_path, "INSERT INTO notes(body) VALUES ('first'), ('second')");
  std::string before = Dump(in.main_path);
  ASSERT_EQ(in.StatusOf(StoreId::kMain, dir).current, 1);

  opts.to.reset();
  Status s = in.Up(opts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  EXPECT_NE(s.message().find("main/0003_stars.sql"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("UPDATE notes SET stars = (SELECT nonexistent_column"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no such column: nonexistent_column"), std::string::npos) << s.message();
  EXPECT_EQ(Dump(in.main_path), before) << "0002 committed, then was rolled back from the snapshot";
  auto st = in.StatusOf(StoreId::kMain, dir);
  EXPECT_EQ(st.current, 1);
  EXPECT_EQ(st.pending.size(), 4u);
  EXPECT_FALSE(Env::Default()->FileExists(in.main_path + "-journal"));
}

TEST(MigrateUp, ToStopsAtTheGivenVersion) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  opts.to = 3;
  ASSERT_TRUE(in.Up(opts).ok());
  EXPECT_EQ(in.StatusOf(StoreId::kMain, dir).current, 3);
  EXPECT_EQ(in.StatusOf(StoreId::kAi).current, 0) << "--store main leaves ai alone";
}

TEST(MigrateDown, UpDownRoundTripRestoresSchemaAndHistory) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  opts.to = 2;
  ASSERT_TRUE(in.Up(opts).ok());
  in.Exec(in.main_path, "INSERT INTO notes(body) VALUES ('kept')");
  std::string at2 = Dump(in.main_path);
  opts.to.reset();
  ASSERT_TRUE(in.Up(opts).ok());
  EXPECT_EQ(in.StatusOf(StoreId::kMain, dir).current, 5);
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM pragma_table_info('notes') WHERE name='stars'"), 1);

  opts.to = 2;
  Status s = in.Down(opts);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(in.StatusOf(StoreId::kMain, dir).current, 2);
  // History rows of 1 and 2 keep their first applied_at; the dump matches exactly.
  EXPECT_EQ(Dump(in.main_path), at2);

  opts.to = 0;
  ASSERT_TRUE(in.Down(opts).ok());
  EXPECT_EQ(in.StatusOf(StoreId::kMain, dir).current, 0);
  EXPECT_EQ(in.StatusOf(StoreId::kMain, dir).user_tables, 0);
}

TEST(MigrateDown, MissingDownPartStopsBeforeChangingAnything) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  WriteFile(dir + "/main/0006_no_down.sql", "CREATE TABLE irreversible(x);\n");
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  ASSERT_TRUE(in.Up(opts).ok());
  std::string before = Dump(in.main_path);
  opts.to = 4;
  auto plan = PlanMigrateDown(in.layout(), opts);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("0006_no_down.sql has no down part"), std::string::npos)
      << plan.status().message();
  EXPECT_EQ(Dump(in.main_path), before);
}

TEST(MigrateDown, FailingDownStepRollsBackTheEarlierDownSteps) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  ASSERT_TRUE(in.Up(opts).ok());
  std::string before = Dump(in.main_path);
  // 0004's down part now fails (and 0004 is drifted, so plan from the old files).
  opts.to = 2;
  auto plan = PlanMigrateDown(in.layout(), opts);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->steps.size(), 3u);
  plan->steps[1].migration.down = "DROP INDEX no_such_index;";
  TxnServices svc = in.Services();
  Status s = RunMigrateTransaction(svc, *plan, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("main/0004_idx.sql (down)"), std::string::npos) << s.message();
  EXPECT_EQ(Dump(in.main_path), before) << "0005's down committed and was rolled back";
}

TEST(MigrateStatus, ChangedAndMissingAppliedFilesAreReported) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  ASSERT_TRUE(in.Up(opts).ok());
  EXPECT_TRUE(in.StatusOf(StoreId::kMain, dir).ok());
  WriteFile(dir + "/main/0002_tags.sql", "CREATE TABLE tags (id INTEGER PRIMARY KEY, tag TEXT);\n");
  ASSERT_EQ(std::remove((dir + "/main/0004_idx.sql").c_str()), 0);
  auto st = in.StatusOf(StoreId::kMain, dir);
  ASSERT_EQ(st.drifted.size(), 1u);
  EXPECT_EQ(st.drifted[0].file, "0002_tags.sql");
  ASSERT_EQ(st.missing.size(), 1u);
  EXPECT_EQ(st.missing[0].version, 4);
  auto plan = PlanMigrateUp(in.layout(), opts);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Status::Code::kBadStore);
}

TEST(MigrateStatus, AppHistoryTableWithoutChecksumGetsTheColumnOnFirstMigration) {
  Install in;
  in.Exec(in.main_path,
          "CREATE TABLE migration_history (id INTEGER PRIMARY KEY AUTOINCREMENT, version TEXT NOT NULL UNIQUE, "
          "description TEXT, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, success BOOLEAN DEFAULT 1)");
  std::string dir = FiveMigrations(in.tmp, false);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  opts.to = 2;
  ASSERT_TRUE(in.Up(opts).ok());
  auto st = in.StatusOf(StoreId::kMain, dir);
  EXPECT_EQ(st.current, 2);
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM pragma_table_info('migration_history') WHERE name='checksum'"),
            1);
  opts.to = 1;
  ASSERT_TRUE(in.Down(opts).ok());
  EXPECT_EQ(in.StatusOf(StoreId::kMain, dir).current, 1);
}

TEST(MigrateBaseline, DemoLikeInstallWithTablesButNoHistoryIsAdopted) {
  Install in;
  // The app's own schema (built-in 0001) and data, but no history table.
  auto set = LoadMigrations(Env::Default(), StoreId::kMain, "");
  in.Exec(in.main_path, set->front().up);
  in.Exec(in.main_path,
          "INSERT INTO users(id, username, hashed_password) VALUES (1, 'alice', 'x');"
          "INSERT INTO documents(id, user_id, original_filename, processing_status) "
          "VALUES ('7fafabb4', 1, 'paper.pdf', 'completed');");
  auto st = in.StatusOf(StoreId::kMain);
  EXPECT_TRUE(st.unversioned());
  MigrateOptions opts;
  opts.store = StoreId::kMain;
  auto refused = PlanMigrateUp(in.layout(), opts);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("migrate baseline"), std::string::npos);

  auto bad = BaselineMigrations(in.layout(), opts, 99);
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
  auto adopted = BaselineMigrations(in.layout(), opts, 1);
  ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
  st = in.StatusOf(StoreId::kMain);
  EXPECT_EQ(st.current, 1);
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(st.pending.size(), static_cast<size_t>(st.newest - 1));
  EXPECT_EQ(BaselineMigrations(in.layout(), opts, 1).status().code(), Status::Code::kBadStore)
      << "a second baseline is refused";

  ASSERT_TRUE(in.Up(opts).ok());
  EXPECT_EQ(in.StatusOf(StoreId::kMain).current, in.StatusOf(StoreId::kMain).newest);
  EXPECT_EQ(Query(in.main_path, "SELECT count(*) FROM documents WHERE id = '7fafabb4'"), 1);
}

TEST(MigrateUp, TransactionStatementInAFileIsRefusedAndNothingChanges) {
  Install in;
  TempDir tmp;
  WriteFile(tmp.Sub("m/main/0001_a.sql"), "CREATE TABLE a(x);\nCOMMIT;\nCREATE TABLE b(x);\n");
  MigrateOptions opts;
  opts.migrations_dir = tmp.Sub("m");
  opts.store = StoreId::kMain;
  std::string before = Dump(in.main_path);
  Status s = in.Up(opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("must not control transactions"), std::string::npos) << s.message();
  EXPECT_EQ(Dump(in.main_path), before);
}

// ---- the CLI -----------------------------------------------------------------

TEST(MigrateCli, ValidateExitsOneNamingTheChangedFileAndStore) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  MigrateOptions opts;
  opts.migrations_dir = dir;
  opts.store = StoreId::kMain;
  ASSERT_TRUE(in.Up(opts).ok());
  auto ok = RunCli({"--root", in.root, "migrate", "validate", "--migrations", dir, "--store", "main"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  WriteFile(dir + "/main/0003_stars.sql", "ALTER TABLE notes ADD COLUMN stars INTEGER DEFAULT 1;\n");
  auto bad = RunCli({"--root", in.root, "migrate", "validate", "--migrations", dir});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE((bad.out + bad.err).find("0003_stars.sql"), std::string::npos) << bad.out << bad.err;
  EXPECT_NE((bad.out + bad.err).find("main"), std::string::npos);
  auto json = RunCli({"--root", in.root, "--json", "migrate", "validate", "--migrations", dir});
  EXPECT_EQ(json.exit_code, 1);
  auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["ok"], false);
  EXPECT_EQ(doc["stores"]["main"]["drifted"][0]["file"], "0003_stars.sql");
}

TEST(MigrateCli, StatusJsonAfterFreshSchemaShowsNewestVersionAndNothingPending) {
  Install in;
  for (auto [id, path] : {std::pair{StoreId::kMain, in.main_path}, std::pair{StoreId::kAi, in.ai_path}}) {
    auto db = Db::OpenReadWrite(path, false);
    ASSERT_TRUE(CreateFreshSchema(*db, id, Env::Default()->NowMicros()).ok());
  }
  auto r = RunCli({"--root", in.root, "--json", "migrate", "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  for (const char* s : {"main", "ai"}) {
    EXPECT_EQ(doc["stores"][s]["current"], doc["stores"][s]["newest"]) << s;
    EXPECT_EQ(doc["stores"][s]["pending"].size(), 0u) << s;
    EXPECT_EQ(doc["stores"][s]["state"], "up to date") << s;
  }
}

TEST(MigrateCli, DryRunPrintsTheSqlAndChangesNothing) {
  Install in;
  std::string dir = FiveMigrations(in.tmp, false);
  auto before = TreeDigest(in.tmp.path());
  auto r = RunCli({"--root", in.root, "migrate", "up", "--migrations", dir, "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("CREATE TABLE notes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BEGIN IMMEDIATE"), std::string::npos);
  EXPECT_NE(r.out.find("ai/0001_initial.sql (up)"), std::string::npos);
  EXPECT_EQ(TreeDigest(in.tmp.path()), before);
}

TEST(MigrateCli, BaselineThenStatus) {
  Install in;
  auto set = LoadMigrations(Env::Default(), StoreId::kAi, "");
  in.Exec(in.ai_path, set->front().up);
  auto r = RunCli({"--root", in.root, "migrate", "baseline", "--store", "ai", "--version", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto s = RunCli({"--root", in.root, "--json", "migrate", "status", "--store", "ai"});
  auto doc = nlohmann::json::parse(s.out);
  EXPECT_EQ(doc["stores"]["ai"]["current"], 1);
  auto again = RunCli({"--root", in.root, "migrate", "baseline", "--store", "ai", "--version", "1"});
  EXPECT_EQ(again.exit_code, 8) << again.err;
}

TEST(MigrateCli, BaselineWaitsForTheRepositoryLockLikeEveryWriter) {
  Install in;
  auto set = LoadMigrations(Env::Default(), StoreId::kAi, "");
  in.Exec(in.ai_path, set->front().up);
  ASSERT_TRUE(Repository::Open(Env::Default(), in.root + "/backups/maestro-db", true).ok());
  {
    auto lock = RepoLock::Acquire(Env::Default(), in.root + "/backups/maestro-db");
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    auto r = RunCli({"--root", in.root, "migrate", "baseline", "--store", "ai", "--version", "1"});
    EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
    EXPECT_NE(r.err.find(std::to_string(getpid())), std::string::npos) << r.err;
  }
  auto s = RunCli({"--root", in.root, "--json", "migrate", "status", "--store", "ai"});
  auto doc = nlohmann::json::parse(s.out);
  EXPECT_NE(doc["stores"]["ai"]["current"], 1) << "nothing was written while the lock was held";
  auto r = RunCli({"--root", in.root, "migrate", "baseline", "--store", "ai", "--version", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace maestro
