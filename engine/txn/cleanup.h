// engine/txn/cleanup.h — `maestro-db cleanup`: repairs what `check` reports, as one
// journaled transaction (engine/txn/txn.h).
//
// Planning (read-only): the inventory of the scope (--document DOC --user UID,
// --user UID, or --all) is read and checked (engine/stores/check.h); each issue maps to
// actions, per IssueKindRepair():
//   ai_orphan                      delete the processed_documents row
//   vector_orphan                  delete the chunks (engine/stores/chroma_write.h)
//   file_orphan, files_only        delete the files
//   main_db_only                   delete the documents row (and its rows in
//                                  document_group_association, document_processing_jobs,
//                                  draft_references)
//   failed_stale_with_leftovers    remove everything outside main; mark failed with
//                                  'Cleaned up after failed processing'
//   failed_with_leftovers          the same, but only for --document (younger than
//                                  --failed-older-than otherwise: reported, left alone)
//   stuck_processing               mark failed, remove everything outside main
//   missing_raw_file               mark failed, remove everything outside main
//   completed_missing_*            reported; with --downgrade-incomplete: mark
//                                  failed and remove everything outside main
// The plan (ids, file paths, messages, one timestamp) is journaled as the
// transaction's args, so recovery repeats exactly the same actions.
//
// Steps, in the original's order: cleanup.ai, cleanup.vector.<collection> (dense,
// then sparse, then any other), cleanup.files.<store> (files renamed into
// "<store>.maestro-aside-<txn>/", deleted after the commit), cleanup.main last.
// Each SQLite step is one SQLite transaction (batched); its undo restores the
// store from the pre-cleanup snapshot (RestoreStoreFromSnapshot); file steps
// undo by renaming back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/stores/check.h"
#include "engine/stores/layout.h"
#include "engine/txn/txn.h"

namespace maestro {

inline constexpr const char* kCleanupKind = "cleanup";
inline constexpr const char* kCleanupTrigger = "pre-cleanup";
inline constexpr const char* kFailedCleanupMessage = "Cleaned up after failed processing";

struct CleanupOptions {
  std::optional<int64_t> user_id;
  std::string doc_id;  // requires user_id
  int64_t failed_older_than_s = 24 * 3600;
  int64_t stuck_older_than_s = 2 * 3600;
  bool downgrade_incomplete = false;
  int64_t now_micros = 0;  // 0 = wall clock
};

struct CleanupPlan {
  nlohmann::json args;          // the journaled plan
  std::vector<Issue> repaired;  // issues the plan repairs
  std::vector<Issue> left;      // issues reported and left alone (see the table above)
  int64_t ai_rows = 0, chunk_docs = 0, files = 0, marked_failed = 0, main_rows_deleted = 0;
  bool empty() const { return ai_rows + chunk_docs + files + marked_failed + main_rows_deleted == 0; }
  std::vector<std::string> Describe() const;  // one line per action group
  std::vector<StoreId> StoresTouched() const;
};

Result<CleanupPlan> PlanCleanup(const Layout& layout, const CleanupOptions& opts);
Result<TxnPlan> BuildCleanupPlan(const TxnContext& ctx);

}  // namespace maestro
