// tests/migrate_crash_test.cc — `migrate up` and `migrate down` killed at every
// crash point (MAESTRO_DB_CRASH_AT, SIGKILL), then `recover`: each store must be
// exactly at the old version with the old data or at the new version with the
// new data (tests/store_digest.h compares rows, not bytes), never in between;
// the journal has nothing unfinished and no *.maestro-* leftovers remain.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "engine/migrate/schema.h"
#include "tests/store_digest.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using testing::CliResult;
using testing::RunCli;
using testing::StoreDigest;
using testing::TempDir;
using testing::WriteFile;

using testing::Sh;

// Two migrations for main (changing data), one for ai: a run touches both stores.
void WriteUserMigrations(const std::string& dir) {
  WriteFile(dir + "/main/0003_user_note.sql",
            "ALTER TABLE users ADD COLUMN note TEXT;\nUPDATE users SET note = 'migrated ' || username;\n"
            "-- +down\nALTER TABLE users DROP COLUMN note;\n");
  WriteFile(dir + "/main/0004_user_index.sql",
            "CREATE INDEX ix_users_note ON users(note);\nINSERT INTO system_settings(key, value) "
            "VALUES ('schema', '\"4\"');\n-- +down\nDROP INDEX ix_users_note;\n"
            "DELETE FROM system_settings WHERE key = 'schema';\n");
  WriteFile(dir + "/ai/0002_title.sql",
            "ALTER TABLE processed_documents ADD COLUMN title TEXT;\n"
            "UPDATE processed_documents SET title = original_filename;\n"
            "-- +down\nALTER TABLE processed_documents DROP COLUMN title;\n");
  Sh("cp '" + std::string(MAESTRO_DB_SOURCE_DIR) + "/migrations/main/'*.sql '" + dir + "/main/'");
  Sh("cp '" + std::string(MAESTRO_DB_SOURCE_DIR) + "/migrations/ai/'*.sql '" + dir + "/ai/'");
}

// An install at the built-in newest version with a few rows in main and ai.
void WriteInstall(const std::string& root) {
  WriteFile(root + "/data/.keep", "");
  WriteFile(root + "/ai_researcher/data/processed/.keep", "");
  struct S {
    StoreId id;
    std::string rel, rows;
  } stores[] = {
      {StoreId::kMain, "data/maestro.db",
       "INSERT INTO users(id, username, hashed_password) VALUES (1, 'alice', 'h'), (2, 'bob', 'h');"
       "INSERT INTO documents(id, user_id, original_filename, processing_status) VALUES "
       "('7fafabb4', 1, 'a.pdf', 'failed');"},
      {StoreId::kAi, "ai_researcher/data/processed/metadata.db",
       "INSERT INTO processed_documents(doc_id, original_filename) VALUES ('0badcafe', 'x.pdf');"},
  };
  for (const auto& s : stores) {
    auto db = Db::OpenReadWrite(root + "/" + s.rel, true);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(CreateFreshSchema(*db, s.id, Env::Default()->NowMicros()).ok());
    ASSERT_TRUE(db->Exec(s.rows).ok());
  }
}

class MigrateCrash : public ::testing::Test {
 protected:
  std::string Install(const std::string& name) {
    std::string root = tmp_.Sub(name);
    WriteInstall(root);
    return root;
  }
  std::string Versions(const std::string& root) {
    CliResult r = RunCli({"--root", root, "--json", "migrate", "status", "--migrations", dir_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    if (doc.is_discarded()) return "?";
    return doc["stores"]["main"]["current"].dump() + "/" + doc["stores"]["ai"]["current"].dump();
  }

  // cmd runs on a fresh install prepared by prepare; crash at each point, recover, compare.
  void RunMatrix(const std::string& label, const std::vector<std::string>& cmd,
                 const std::vector<std::string>& points, const std::function<void(const std::string&)>& prepare) {
    std::string ref = Install(label + "-ref");
    prepare(ref);
    auto before = StoreDigest(ref);
    std::string v_before = Versions(ref);
    std::vector<std::string> args = {"--root", ref, "-y"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto after = StoreDigest(ref);
    std::string v_after = Versions(ref);
    ASSERT_NE(before, after);
    ASSERT_NE(v_before, v_after);

    int crashed = 0, back = 0, forward = 0, n = 0;
    for (const auto& point : points) {
      SCOPED_TRACE(label + " crash at " + point);
      std::string root = Install(label + "-" + std::to_string(++n));
      prepare(root);
      std::vector<std::string> a = {"--root", root, "-y"};
      a.insert(a.end(), cmd.begin(), cmd.end());
      CliResult c = RunCli(a, {"MAESTRO_DB_CRASH_AT=" + point});
      if (c.exit_code == -9) ++crashed;
      else EXPECT_EQ(c.exit_code, 0) << c.err;
      CliResult rec = RunCli({"--root", root, "recover"});
      ASSERT_EQ(rec.exit_code, 0) << rec.err;
      auto now = StoreDigest(root);
      std::string v_now = Versions(root);
      if (now == before) {
        ++back;
        EXPECT_EQ(v_now, v_before);
      } else if (now == after) {
        ++forward;
        EXPECT_EQ(v_now, v_after);
      } else {
        ADD_FAILURE() << "stores are neither at the old nor at the new version (versions " << v_now << ")";
      }
      EXPECT_EQ(Sh("find '" + root + "' -name '*.maestro-*' -o -name '*-journal' -o -name '*.migrate-*'"), "");
      CliResult again = RunCli({"--root", root, "recover"});
      EXPECT_EQ(again.exit_code, 0) << "nothing unfinished is left: " << again.err;
    }
    std::printf("[ migrate crash ] %s: %zu points, %d crashed, %d rolled back, %d rolled forward\n", label.c_str(),
                points.size(), crashed, back, forward);
    EXPECT_GT(crashed, static_cast<int>(points.size()) / 2) << "most points must actually be reached";
  }

  TempDir tmp_;
  std::string dir_ = tmp_.Sub("migrations");
  void SetUp() override { WriteUserMigrations(dir_); }
};

const std::vector<std::string> kPoints = {
    "txn.after_begin",           "txn.after_snapshot",          "txn.after_intent",
    "migrate.before_sql_commit", "migrate.after_sql_commit",    "txn.after_step",
    "txn.after_intent:2",        "migrate.before_sql_commit:2", "migrate.after_sql_commit:2",
    "txn.after_step:2",          "migrate.before_sql_commit:3", "migrate.after_sql_commit:3",
    "txn.after_step:3",          "txn.after_commit",
};

TEST_F(MigrateCrash, UpEndsAtOldOrNewVersionAtEveryCrashPoint) {
  RunMatrix("up", {"migrate", "up", "--migrations", dir_}, kPoints, [](const std::string&) {});
}

TEST_F(MigrateCrash, DownEndsAtOldOrNewVersionAtEveryCrashPoint) {
  std::string dir = dir_;
  RunMatrix("down", {"migrate", "down", "--to", "1", "--migrations", dir_}, kPoints, [dir](const std::string& root) {
    CliResult r = RunCli({"--root", root, "-y", "migrate", "up", "--migrations", dir});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  });
}

}  // namespace
}  // namespace maestro
