#include "engine/migrate/schema.h"

#include "engine/migrate/migrate.h"
#include "util/time_util.h"

namespace maestro {

namespace {
size_t DownMarker(const std::string& sql) {
  size_t pos = 0;
  while ((pos = sql.find("-- +down", pos)) != std::string::npos) {
    if (pos == 0 || sql[pos - 1] == '\n') return pos;
    pos += 8;
  }
  return std::string::npos;
}
}  // namespace

std::string MigrationUpPart(const std::string& sql) {
  size_t m = DownMarker(sql);
  return m == std::string::npos ? sql : sql.substr(0, m);
}

std::string MigrationDownPart(const std::string& sql) {
  size_t m = DownMarker(sql);
  if (m == std::string::npos) return "";
  size_t nl = sql.find('\n', m);
  return nl == std::string::npos ? "" : sql.substr(nl + 1);
}

Status CreateFreshSchema(Db& db, StoreId store, int64_t applied_at_micros) {
  if (store != StoreId::kMain && store != StoreId::kAi)
    return Status::InvalidArgument(std::string("store ") + StoreName(store) + " has no SQL schema");
  MAESTRO_ASSIGN_OR_RETURN(auto set, LoadMigrations(/*env=*/nullptr, store, ""));
  return ApplyMigrationsAtomically(db, set, FormatIso8601(applied_at_micros))
      .Annotate(std::string("creating the schema of store ") + StoreName(store) + " in " + db.path());
}

}  // namespace maestro
