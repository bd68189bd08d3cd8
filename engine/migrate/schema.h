// engine/migrate/schema.h — create a store's newest schema from the built-in migrations.
//
// CreateFreshSchema runs the up part of every built-in migration of the store
// in order, and records each in migration_history (with its checksum), all in
// ONE SQLite transaction, on an empty database: afterwards `migrate status`
// reports the store at the newest version with nothing pending. On failure
// the transaction is rolled back and the database is as before (empty).
// The full migrator (history, down migrations, user folders) is engine/migrate/migrate.h.
#pragma once

#include <cstdint>
#include <string>

#include "engine/stores/layout.h"
#include "util/sqlite.h"

namespace maestro {

// The up part of a migration file (text before the "-- +down" line).
std::string MigrationUpPart(const std::string& sql);
// The down part ("" if none).
std::string MigrationDownPart(const std::string& sql);

// Store must be kMain or kAi. Fails (InvalidArgument) for other stores.
// applied_at_micros is migration_history's applied_at: the caller's clock
// (reset: its Env's; demo create: a fixed time, so that two runs with the same
// time give identical files).
Status CreateFreshSchema(Db& db, StoreId store, int64_t applied_at_micros);

}  // namespace maestro
