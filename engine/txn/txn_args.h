// engine/txn/txn_args.h — the journaled arguments of each transaction kind, decoded
// in one typed function per kind.
//
// A transaction's begin record carries its arguments as JSON (engine/txn/txn.h:
// "a plan is rebuilt from the transaction's kind and journaled args"). Recovery
// in another process trusts nothing else, so each decoder here checks every
// field it reads: present, of the right type, and sane (store names are known
// names, store paths absolute, relative file paths stay inside their store).
// The first bad field is reported as Corruption naming the transaction kind and
// the field ("reset transaction args: stores[2].path: missing"); nothing is
// filled in with a default, so a damaged entry can never turn into the path ""
// or a path relative to the current directory.
//
// Pure functions, no I/O, thread-safe. Fuzzed by tests/fuzz/txn_args_fuzz.cc.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/migrate/migrate.h"
#include "engine/txn/txn.h"
#include "util/status.h"

namespace maestro {

struct ResetTxnArgs {
  std::vector<StoreRef> stores;
};

struct RestoreTxnArgs {
  std::string source;  // snapshot id the stores are restored from
  std::vector<StoreRef> stores;
  std::string source_repo;  // "" = the transaction's own repository; else the --repo spec it was read from (rclone:…)
};

struct CleanupTxnArgs {
  std::string stamp;      // ISO-8601 time of the plan
  std::string stamp_sql;  // the same in SQL's CURRENT_TIMESTAMP form
  std::map<std::string, StoreRef> stores;  // by store name; every store of the layout
  std::vector<std::string> ai;             // processed_documents.doc_id to delete
  std::vector<std::string> chunks;         // document ids whose chunks go
  std::vector<std::string> collections;    // Chroma collections to clean
  std::map<std::string, std::vector<std::string>> files;  // store -> safe relative paths
  std::vector<std::pair<std::string, std::string>> mark_failed;  // (document id, message)
  std::vector<std::string> delete_main;    // documents.id to delete

  // The store `name`; Corruption when the args name no such store.
  Result<StoreRef> Store(const std::string& name) const;
};

struct MigrateTxnArgs {
  bool down = false;
  std::vector<MigrationStep> steps;
};

Result<StoreRef> DecodeStoreRef(const nlohmann::json& j, const std::string& field);
Result<ResetTxnArgs> DecodeResetArgs(const nlohmann::json& args);
Result<RestoreTxnArgs> DecodeRestoreArgs(const nlohmann::json& args);
Result<CleanupTxnArgs> DecodeCleanupArgs(const nlohmann::json& args);
Result<MigrateTxnArgs> DecodeMigrateArgs(const nlohmann::json& args);

}  // namespace maestro
