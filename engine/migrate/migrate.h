// engine/migrate/migrate.h — versioned, transactional schema migrations for the SQLite
// stores `main` (maestro.db) and `ai` (metadata.db). START HERE for migrations;
// the file format, history table, commands and exit codes are in docs/migrations.md.
//
// Words:
//   migration   one file `NNNN_name.sql` of a store's folder (migrations/<store>/).
//               The text before a line starting "-- +down" is the up part, the
//               text after it the down part (optional). version = NNNN.
//   set         all migrations of a store: built in (embedded in the binary from
//               migrations/, engine/migrate/migrations_embedded.h) or a user folder
//               (`--migrations DIR`, config key `migrations.dir`) holding
//               DIR/main/*.sql and DIR/ai/*.sql. A store whose sub-folder is
//               absent in DIR uses the built-in set.
//   history     the store's own table migration_history(version, description,
//               applied_at, success, checksum) — the app's table plus a checksum
//               column (XXH3-128 hex of the whole file), added by ALTER TABLE
//               when an existing table lacks it.
//   current     the highest version recorded with success = 1 (0 if none).
//   pending     a migration of the set not recorded as applied.
//   drifted     an applied migration whose file's checksum differs from history.
//   missing     an applied migration whose file is no longer in the set.
//   run         one `up` or `down`: a plan of steps (one migration each).
//
// How a run stays atomic (RunMigrateTransaction in engine/txn/migrate_txn.h):
//   1. a `pre-migrate` snapshot of the stores the plan touches is taken first;
//   2. each step runs in its own SQLite transaction: BEGIN IMMEDIATE, the
//      file's statements, the history row (insert for up, delete for down),
//      COMMIT. A failing statement is rolled back by SQLite itself;
//   3. each step is journaled (intent, done); if a step fails, the stores whose
//      earlier steps of this run already committed are put back from the
//      snapshot, so every store ends with the data and version it had before.
//   A crash leaves each touched store at the old version, at the new version,
//   or — between two steps of one store — at an intermediate version that
//   `maestro-db recover` rolls back from the snapshot. See docs/migrations.md.
//
// Thread safety: none of these functions may run concurrently on one store;
// writers must hold the repository lock (snapshot/repo_lock.h). Each opens its
// own SQLite connections and closes them before returning.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "util/env.h"
#include "util/sqlite.h"
#include "util/status.h"

namespace maestro {

struct Migration {
  std::string store;     // "main" or "ai"
  int64_t version = 0;   // NNNN
  std::string name;      // "initial" (the part after NNNN_, without .sql)
  std::string file;      // "0001_initial.sql"
  std::string origin;    // "built-in:main/0001_initial.sql" or the absolute path
  std::string up;        // up part
  std::string down;      // down part ("" when none)
  bool has_down = false; // a "-- +down" line exists and the part is not blank
  std::string checksum;  // XXH3-128 hex of the whole file
};

// The migrations of store (kMain or kAi), sorted by version. dir "" = built-in
// (nothing is read, env may be null); else dir is read through env.
// InvalidArgument for a file name that is not NNNN_name.sql, for two files with
// one version, or a store without SQL schema. NotFound if dir does not exist.
Result<std::vector<Migration>> LoadMigrations(Env* env, StoreId store, const std::string& dir);

// Parses one file's text (used by LoadMigrations; exposed for tests).
Result<Migration> ParseMigration(const std::string& store, const std::string& file, const std::string& text,
                                 const std::string& origin);

// One row of migration_history.
struct AppliedMigration {
  int64_t version = 0;
  std::string description;
  std::string applied_at;
  bool success = true;
  std::string checksum;  // "" when recorded without one (the app's own rows)
};

// Rows of migration_history, sorted by version; empty when the table is absent.
// Rows whose version is not a number are skipped.
Result<std::vector<AppliedMigration>> ReadHistory(Db& db);
// Creates migration_history if absent; adds the checksum column if missing.
// Must run inside the caller's transaction when atomicity matters.
Status EnsureHistoryTable(Db& db);

struct DriftedMigration {
  int64_t version = 0;
  std::string file;
  std::string recorded_checksum;
  std::string file_checksum;
};

struct StoreMigrationStatus {
  StoreId id = StoreId::kMain;
  std::string store;      // "main"
  std::string path;
  bool present = false;   // the store file exists
  bool has_history = false;
  int64_t user_tables = 0;  // tables other than migration_history and sqlite_*
  int64_t current = 0;
  int64_t newest = 0;       // highest version in the set
  std::vector<Migration> pending;
  std::vector<DriftedMigration> drifted;
  std::vector<AppliedMigration> missing;
  std::vector<AppliedMigration> failed;  // success = 0 rows (recorded by the app)
  // Tables exist but no history: adopt it with `migrate baseline`.
  bool unversioned() const { return present && !has_history && user_tables > 0; }
  bool ok() const { return drifted.empty() && missing.empty(); }
};

struct MigrateOptions {
  std::string migrations_dir;        // "" = built-in
  std::optional<StoreId> store;      // only this store (default: main and ai)
  std::optional<int64_t> to;         // up: last version to apply; down: version to return to
  bool dry_run = false;
};

// Read-only: opens each store with Db::OpenReadOnly (no -wal/-shm created).
Result<std::vector<StoreMigrationStatus>> GetMigrationStatus(const Layout& layout, const MigrateOptions& opts);

// One migration to apply (up) or revert (down) on one store.
struct MigrationStep {
  StoreId store = StoreId::kMain;
  std::string store_path;
  Migration migration;
  bool down = false;
  // The SQL this step runs (the up or down part).
  const std::string& sql() const { return down ? migration.down : migration.up; }
  // "main/0003_x.sql (up)"
  std::string Describe() const;
};

struct MigrationPlan {
  bool down = false;
  std::vector<MigrationStep> steps;  // in execution order
  std::vector<StoreId> stores;       // stores with at least one step, in order
  std::vector<std::string> store_paths;  // parallel to stores
  // Per touched store: version before and after the run.
  std::vector<std::pair<int64_t, int64_t>> versions;
};

// Plans `up`: every pending migration of the selected stores (up to opts.to).
// Refuses (BadStore) a store with drift or missing files, or an unversioned one
// (tables but no history: run `migrate baseline`). Absent stores are skipped
// (NotFound when it is the one selected with opts.store).
Result<MigrationPlan> PlanMigrateUp(const Layout& layout, const MigrateOptions& opts);
// Plans `down --to V` (opts.to required): reverts applied versions > V, newest
// first. InvalidArgument, before anything changes, when a needed down part is
// missing (naming the file) or the file is missing.
Result<MigrationPlan> PlanMigrateDown(const Layout& layout, const MigrateOptions& opts);

// The SQL a plan would run, as text for --dry-run.
std::string DescribePlanSql(const MigrationPlan& plan);

// Adopts an install that has tables but no history: records every migration of
// the set with version <= version as applied (success, current checksum,
// description "<name> (baseline)"); runs no migration SQL. Refuses (BadStore) a
// store that already has history. InvalidArgument if no file has that version.
// Returns the stores adopted.
Result<std::vector<StoreId>> BaselineMigrations(const Layout& layout, const MigrateOptions& opts, int64_t version);

// Busy, naming the process, when one of paths is open in another process (the
// app must be stopped before its schema changes).
Status CheckStoresNotHeldOpen(const std::vector<std::string>& paths);

// Applies one step on an open connection in its own transaction (used by
// the migrate transaction's steps). Fails with the file, statement and
// SQLite message; the transaction is rolled back.
Status ApplyMigrationStep(Db& db, const Migration& m, bool down, const std::string& applied_at);
// Applies the up part of every migration of set, with its history row, in ONE
// transaction (CreateFreshSchema: an empty store goes straight to the newest
// version or stays empty).
Status ApplyMigrationsAtomically(Db& db, const std::vector<Migration>& set, const std::string& applied_at);

}  // namespace maestro
