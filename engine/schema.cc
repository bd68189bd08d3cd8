#include "engine/schema.h"

#include "engine/migrations_embedded.h"

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

Status CreateFreshSchema(Db& db, StoreId store) {
  if (store != StoreId::kMain && store != StoreId::kAi)
    return Status::InvalidArgument(std::string("store ") + StoreName(store) + " has no SQL schema");
  MAESTRO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  for (const auto& m : EmbeddedMigrations()) {
    if (std::string(m.store) != StoreName(store)) continue;
    Status s = db.Exec(MigrationUpPart(m.sql));
    if (!s.ok()) {
      db.Exec("ROLLBACK");
      return s.Annotate(std::string("migration ") + m.store + "/" + m.file);
    }
  }
  return db.Exec("COMMIT");
}

}  // namespace maestro
