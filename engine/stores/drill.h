// engine/stores/drill.h — a restore drill: prove a snapshot restorable, not only intact.
//
// RunDrill restores every store of one snapshot into a fresh scratch folder
// (never over the live stores), then checks what came out as the app would
// open it:
//   * PRAGMA integrity_check on every SQLite database: main, ai, and the
//     vector store's chroma.sqlite3;
//   * the HNSW segment checks of engine/stores/hnsw_check.h on the restored vector store.
// Each failure is a DrillProblem (store, path, kind, detail); a store that
// cannot be restored (a missing or damaged blob) is a problem of kind
// "restore_failed" and the drill goes on with the other stores. The scratch
// folder is removed at the end (also after a problem), unless keep_scratch.
//
// Reads the repository only (no lock taken: Repository readers run beside
// writers). Needs room for one full copy of the snapshot in scratch_parent.
// Failure (Status): the snapshot cannot be read at all, or the scratch folder
// cannot be made; problems found are the report's, not errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/stores/hnsw_check.h"
#include "snapshot/repository.h"
#include "util/status.h"

namespace maestro {

struct DrillOptions {
  std::string scratch_parent;  // "" = $TMPDIR, else /tmp
  bool keep_scratch = false;
};

struct DrillProblem {
  std::string store;   // main, ai, vector ...
  std::string path;    // the file, relative to the restored store ("" = the store)
  std::string kind;    // restore_failed, integrity_check, hnsw_damaged, not_a_database
  std::string detail;
};

struct DrillStore {
  std::string name;
  bool present = true;   // false: recorded as absent in the snapshot (nothing to restore)
  bool restored = false;
  uint64_t files = 0, bytes = 0;
};

struct DrillReport {
  std::string snapshot_id;
  std::string scratch;   // where it was restored (removed unless keep_scratch)
  std::vector<DrillStore> stores;
  int64_t databases_checked = 0;
  int64_t hnsw_segments_checked = 0;
  std::vector<DrillProblem> problems;
  bool ok() const { return problems.empty(); }
};

Result<DrillReport> RunDrill(Env* env, Repository& repo, const std::string& snapshot_id, const DrillOptions& opts);

}  // namespace maestro
