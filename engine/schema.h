// engine/schema.h — create a store's newest schema from the built-in migrations.
//
// CreateFreshSchema runs the up part of every built-in migration of the store
// in order, inside one SQLite transaction, on an empty database. (The full
// migrator with history and down migrations is engine/migrate.h.)
#pragma once

#include <string>

#include "engine/layout.h"
#include "util/sqlite.h"

namespace maestro {

// The up part of a migration file (text before the "-- +down" line).
std::string MigrationUpPart(const std::string& sql);
// The down part ("" if none).
std::string MigrationDownPart(const std::string& sql);

// Store must be kMain or kAi. Fails (InvalidArgument) for other stores.
Status CreateFreshSchema(Db& db, StoreId store);

}  // namespace maestro
