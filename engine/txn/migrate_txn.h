// engine/txn/migrate_txn.h — a migration plan (engine/migrate/migrate.h) run as
// a journaled transaction (engine/txn/txn.h). The plan, the files and the
// history table are the migrations target's; only the running is here, so the
// migrations sit below the transactions and recovery can dispatch kind "migrate".
//
// Kind "migrate", trigger "pre-migrate". The journaled args carry the whole plan
// including each step's SQL, so recovery in another process runs exactly the
// same statements even if the files changed since. Steps, in plan order:
//   "migrate.<store>.<NNNN>.<up|down>"  run: one SQLite transaction (BEGIN
//       IMMEDIATE, statements, history row, COMMIT); idempotent because the
//       history row commits with the change (already recorded -> nothing to do).
//       undo (first step of each store only): RestoreStoreFromSnapshot puts the
//       store back from the pre-migrate snapshot, which undoes every step of
//       this run on that store at once.
// No finishing steps. A crash before the commit record is rolled back by
// `maestro-db recover` (the stores get their pre-run file back); after it the
// run is complete. Crash points: txn.* plus "migrate.before_sql_commit" and
// "migrate.after_sql_commit" around each step's SQLite COMMIT.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/migrate/migrate.h"
#include "engine/txn/txn.h"
#include "util/status.h"

namespace maestro {

inline constexpr const char* kMigrateTxnKind = "migrate";
inline constexpr const char* kMigrateTrigger = "pre-migrate";

// The transaction's args for plan.
nlohmann::json MigratePlanArgs(const MigrationPlan& plan);
// The plan builder for kind "migrate" (recovery dispatches this kind here).
Result<TxnPlan> BuildMigrateTxnPlan(const TxnContext& ctx);

// Runs plan as a transaction. svc.snapshot must capture (at least) the plan's
// stores. A failing step: every store is put back and the error (Aborted,
// or Busy / IoError when that was the cause) names the file, the statement
// (first ~100 characters) and the SQLite message. Refuses (Busy) when a store
// file is open in another process (the app must be stopped).
Status RunMigrateTransaction(TxnServices& svc, const MigrationPlan& plan, TxnReport* report);

}  // namespace maestro
