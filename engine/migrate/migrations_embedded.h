// engine/migrate/migrations_embedded.h — the built-in migrations (migrations/<store>/NNNN_name.sql),
// compiled into the binary by cmake/embed_migrations.cmake.
#pragma once

#include <vector>

namespace maestro {

struct EmbeddedMigration {
  const char* store;  // "main" or "ai"
  const char* file;   // "0001_initial.sql"
  const char* sql;    // whole file: up part, then optional "-- +down" part
};

// Sorted by store, then file name.
const std::vector<EmbeddedMigration>& EmbeddedMigrations();

}  // namespace maestro
