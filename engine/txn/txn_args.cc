#include "engine/txn/txn_args.h"

#include <limits>

#include "util/env.h"

namespace maestro {

namespace {

using json = nlohmann::json;

Status Bad(const std::string& field, const std::string& what) {
  return Status::Corruption("journaled transaction args: " + field + ": " + what,
                            "the journal entry is damaged; nothing was changed by this run");
}

// The member `key` of object j, or null when j is not an object or lacks it.
const json* Member(const json& j, const std::string& key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

Result<std::string> Str(const json& j, const std::string& key, const std::string& field) {
  const json* v = Member(j, key);
  if (!v) return Bad(field, "missing");
  if (!v->is_string()) return Bad(field, "not a string");
  return v->get<std::string>();
}

Result<bool> Bool(const json& j, const std::string& key, const std::string& field) {
  const json* v = Member(j, key);
  if (!v) return Bad(field, "missing");
  if (!v->is_boolean()) return Bad(field, "not true/false");
  return v->get<bool>();
}

Result<std::vector<std::string>> Strings(const json& j, const std::string& key, const std::string& field) {
  const json* v = Member(j, key);
  if (!v) return Bad(field, "missing");
  if (!v->is_array()) return Bad(field, "not a list");
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) return Bad(field + "[" + std::to_string(i) + "]", "not a string");
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

// A store path: absolute, so nothing lands relative to the current directory.
Result<std::string> AbsolutePathField(const json& j, const std::string& key, const std::string& field) {
  MAESTRO_ASSIGN_OR_RETURN(std::string p, Str(j, key, field));
  if (p.empty() || p[0] != '/') return Bad(field, "'" + p + "' is not an absolute path");
  return p;
}

Result<StoreId> StoreNameField(const json& j, const std::string& key, const std::string& field) {
  MAESTRO_ASSIGN_OR_RETURN(std::string name, Str(j, key, field));
  auto id = ParseStoreName(name);
  if (!id.ok()) return Bad(field, "'" + name + "' is not a store name");
  return *id;
}

Result<std::vector<StoreRef>> StoreList(const json& args, const std::string& kind) {
  const json* v = Member(args, "stores");
  if (!v) return Bad(kind + ".stores", "missing");
  if (!v->is_array()) return Bad(kind + ".stores", "not a list");
  std::vector<StoreRef> out;
  for (size_t i = 0; i < v->size(); ++i) {
    MAESTRO_ASSIGN_OR_RETURN(StoreRef s, DecodeStoreRef((*v)[i], kind + ".stores[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::map<std::string, std::vector<std::string>>> CleanupFiles(const json& args) {
  const json* v = Member(args, "files");
  if (!v) return Bad("cleanup.files", "missing");
  if (!v->is_object()) return Bad("cleanup.files", "not an object");
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [store, list] : v->items()) {
    std::string field = "cleanup.files." + store;
    auto id = ParseStoreName(store);
    if (!id.ok() || KindOf(*id) != StoreKind::kDirectory) return Bad(field, "not a folder store");
    MAESTRO_ASSIGN_OR_RETURN(auto rels, Strings(*v, store, field));
    for (const auto& r : rels)
      if (!IsSafeRelativePath(r)) return Bad(field, "unsafe path '" + r + "'");
    out[store] = std::move(rels);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> CleanupMarks(const json& args) {
  const json* v = Member(args, "mark_failed");
  if (!v) return Bad("cleanup.mark_failed", "missing");
  if (!v->is_array()) return Bad("cleanup.mark_failed", "not a list");
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    if (!m.is_array() || m.size() != 2 || !m[0].is_string() || !m[1].is_string())
      return Bad("cleanup.mark_failed[" + std::to_string(i) + "]", "not a [document id, message] pair");
    out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
  }
  return out;
}

Result<MigrationStep> DecodeMigrateStep(const json& j, const std::string& field) {
  if (!j.is_object()) return Bad(field, "not an object");
  MigrationStep step;
  MAESTRO_ASSIGN_OR_RETURN(step.store, StoreNameField(j, "store", field + ".store"));
  if (KindOf(step.store) != StoreKind::kSqliteFile) return Bad(field + ".store", "not a SQLite store");
  MAESTRO_ASSIGN_OR_RETURN(step.store_path, AbsolutePathField(j, "path", field + ".path"));
  MAESTRO_ASSIGN_OR_RETURN(step.down, Bool(j, "down", field + ".down"));
  Migration& m = step.migration;
  m.store = StoreName(step.store);
  MAESTRO_ASSIGN_OR_RETURN(m.file, Str(j, "file", field + ".file"));
  MAESTRO_ASSIGN_OR_RETURN(m.origin, Str(j, "origin", field + ".origin"));
  const json* version = Member(j, "version");
  if (!version) return Bad(field + ".version", "missing");
  if (!version->is_number_integer() || (version->is_number_unsigned() &&
                                        version->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())))
    return Bad(field + ".version", "not a whole number");
  m.version = version->get<int64_t>();
  if (m.version < 0) return Bad(field + ".version", "negative");
  MAESTRO_ASSIGN_OR_RETURN(m.name, Str(j, "name", field + ".name"));
  MAESTRO_ASSIGN_OR_RETURN(m.checksum, Str(j, "checksum", field + ".checksum"));
  MAESTRO_ASSIGN_OR_RETURN((step.down ? m.down : m.up), Str(j, "sql", field + ".sql"));
  m.has_down = step.down;
  return step;
}

}  // namespace

Result<StoreRef> DecodeStoreRef(const json& j, const std::string& field) {
  if (!j.is_object()) return Bad(field, "not an object");
  StoreRef r;
  MAESTRO_ASSIGN_OR_RETURN(StoreId id, StoreNameField(j, "name", field + ".name"));
  r.name = StoreName(id);
  MAESTRO_ASSIGN_OR_RETURN(r.path, AbsolutePathField(j, "path", field + ".path"));
  MAESTRO_ASSIGN_OR_RETURN(r.sqlite, Bool(j, "sqlite", field + ".sqlite"));
  MAESTRO_ASSIGN_OR_RETURN(r.present, Bool(j, "present", field + ".present"));
  if (r.sqlite != (KindOf(id) == StoreKind::kSqliteFile)) return Bad(field + ".sqlite", "does not match the store");
  return r;
}

Result<StoreRef> CleanupTxnArgs::Store(const std::string& name) const {
  auto it = stores.find(name);
  if (it == stores.end()) return Bad("cleanup.stores." + name, "missing");
  return it->second;
}

Result<ResetTxnArgs> DecodeResetArgs(const json& args) {
  if (!args.is_object()) return Bad("reset", "not an object");
  ResetTxnArgs a;
  MAESTRO_ASSIGN_OR_RETURN(a.stores, StoreList(args, "reset"));
  return a;
}

Result<RestoreTxnArgs> DecodeRestoreArgs(const json& args) {
  if (!args.is_object()) return Bad("restore", "not an object");
  RestoreTxnArgs a;
  MAESTRO_ASSIGN_OR_RETURN(a.source, Str(args, "source", "restore.source"));
  if (a.source.empty()) return Bad("restore.source", "empty");
  MAESTRO_ASSIGN_OR_RETURN(a.stores, StoreList(args, "restore"));
  if (Member(args, "source_repo")) {  // absent in journals written before remote sources
    MAESTRO_ASSIGN_OR_RETURN(a.source_repo, Str(args, "source_repo", "restore.source_repo"));
    if (a.source_repo.empty()) return Bad("restore.source_repo", "empty");
  }
  return a;
}

Result<CleanupTxnArgs> DecodeCleanupArgs(const json& args) {
  if (!args.is_object()) return Bad("cleanup", "not an object");
  CleanupTxnArgs a;
  MAESTRO_ASSIGN_OR_RETURN(a.stamp, Str(args, "stamp", "cleanup.stamp"));
  MAESTRO_ASSIGN_OR_RETURN(a.stamp_sql, Str(args, "stamp_sql", "cleanup.stamp_sql"));
  const json* stores = Member(args, "stores");
  if (!stores) return Bad("cleanup.stores", "missing");
  if (!stores->is_object()) return Bad("cleanup.stores", "not an object");
  for (const auto& [name, ref] : stores->items()) {
    MAESTRO_ASSIGN_OR_RETURN(StoreRef s, DecodeStoreRef(ref, "cleanup.stores." + name));
    if (s.name != name) return Bad("cleanup.stores." + name + ".name", "'" + s.name + "' differs from its key");
    a.stores[name] = std::move(s);
  }
  MAESTRO_ASSIGN_OR_RETURN(a.ai, Strings(args, "ai", "cleanup.ai"));
  MAESTRO_ASSIGN_OR_RETURN(a.chunks, Strings(args, "chunks", "cleanup.chunks"));
  MAESTRO_ASSIGN_OR_RETURN(a.collections, Strings(args, "collections", "cleanup.collections"));
  MAESTRO_ASSIGN_OR_RETURN(a.files, CleanupFiles(args));
  MAESTRO_ASSIGN_OR_RETURN(a.mark_failed, CleanupMarks(args));
  MAESTRO_ASSIGN_OR_RETURN(a.delete_main, Strings(args, "delete_main", "cleanup.delete_main"));
  return a;
}

Result<MigrateTxnArgs> DecodeMigrateArgs(const json& args) {
  if (!args.is_object()) return Bad("migrate", "not an object");
  MigrateTxnArgs a;
  MAESTRO_ASSIGN_OR_RETURN(std::string direction, Str(args, "direction", "migrate.direction"));
  if (direction != "up" && direction != "down") return Bad("migrate.direction", "'" + direction + "' is not up or down");
  a.down = direction == "down";
  const json* steps = Member(args, "steps");
  if (!steps) return Bad("migrate.steps", "missing");
  if (!steps->is_array()) return Bad("migrate.steps", "not a list");
  for (size_t i = 0; i < steps->size(); ++i) {
    std::string field = "migrate.steps[" + std::to_string(i) + "]";
    MAESTRO_ASSIGN_OR_RETURN(MigrationStep s, DecodeMigrateStep((*steps)[i], field));
    if (s.down != a.down) return Bad(field + ".down", "differs from migrate.direction");
    a.steps.push_back(std::move(s));
  }
  return a;
}

}  // namespace maestro
