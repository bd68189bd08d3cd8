// engine/stores/check.h — the consistency rules across the six stores, as data.
//
// CheckInventory applies every rule of ../shared/maestro-layout.md ("the
// original consistency rules") plus what the original tools never computed
// (orphans in every store, main_db_only, files_only, ages) to an Inventory and
// returns one Issue per (document, store, kind). It never writes; RunCheck reads
// the inventory first (read-only, see engine/stores/inventory.h).
//
// The rules, per document row in main, by processing_status:
//   completed   nothing of it outside main (no ai row, chunks or files)
//                                                       -> main_db_only (store main)
//               otherwise, one issue per missing part:
//               no processed_documents row              -> completed_missing_ai
//               no chunks in dense and/or sparse        -> completed_missing_chunks
//               no processed/markdown/{id}.md           -> completed_missing_markdown
//   failed      leftovers in a store (ai, vector, pdfs, markdown, metadata): one
//               issue per store; failed_stale_with_leftovers when the document
//               was last updated more than 24 h before `now`, else
//               failed_with_leftovers
//   queued / processing / cli_processing  no raw file    -> missing_raw_file
//   processing / cli_processing last updated > 2 h ago   -> stuck_processing
//   pending / uploading: in flight, no rule.
// Ids without a documents row (system-wide or --document scope only; a
// user's check cannot attribute them): ai_orphan, vector_orphan, and in the
// file stores file_orphan when the id is also in ai or vector, files_only when
// the id exists nowhere but in files. Kinds are disjoint: one fault, one kind.
//
// Stable names: IssueKindName() strings are part of the CLI's JSON output and
// of cleanup's plan; never rename, only add. Each kind has a repair text saying
// what `cleanup` does about it (engine/cleanup maps kinds to actions).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/stores/hnsw_check.h"
#include "engine/stores/inventory.h"
#include "engine/stores/layout.h"
#include "util/status.h"

namespace maestro {

enum class IssueKind {
  kMainDbOnly = 0,             // main_db_only
  kCompletedMissingAi,         // completed_missing_ai
  kCompletedMissingChunks,     // completed_missing_chunks
  kCompletedMissingMarkdown,   // completed_missing_markdown
  kFailedWithLeftovers,        // failed_with_leftovers
  kFailedStaleWithLeftovers,   // failed_stale_with_leftovers
  kMissingRawFile,             // missing_raw_file
  kStuckProcessing,            // stuck_processing
  kAiOrphan,                   // ai_orphan
  kVectorOrphan,               // vector_orphan
  kFileOrphan,                 // file_orphan
  kFilesOnly,                  // files_only
};
inline constexpr int kNumIssueKinds = 12;

const char* IssueKindName(IssueKind k);     // stable snake_case name
const char* IssueKindRepair(IssueKind k);   // what cleanup would do
Result<IssueKind> ParseIssueKind(const std::string& name);
const std::vector<IssueKind>& AllIssueKinds();

struct Issue {
  std::string doc_id;
  std::optional<int64_t> user_id;  // unknown for orphans
  StoreId store = StoreId::kMain;  // the store the fault is in (the one a repair touches)
  IssueKind kind = IssueKind::kMainDbOnly;
  std::string detail;              // human text: which files, how many chunks, how old
  std::string repair() const { return IssueKindRepair(kind); }
};

struct CheckOptions {
  std::optional<int64_t> user_id;  // --user: only this user's documents, no orphans
  std::string doc_id;              // --document (requires user_id in the CLI)
  int64_t now_micros = 0;          // the clock for the age rules; 0 = wall clock
  int64_t stuck_processing_after_s = 2 * 3600;
  int64_t failed_stale_after_s = 24 * 3600;
};

struct CheckReport {
  std::vector<Issue> issues;  // sorted by doc_id, store, kind
  int64_t documents_checked = 0;
  int64_t orphan_ids = 0;     // distinct ids without a documents row
  bool orphans_checked = false;
  std::map<std::string, int64_t> issues_by_kind;   // every kind, 0 included
  std::map<std::string, int64_t> issues_by_store;  // stores with issues
  // The vector store's HNSW segments (engine/stores/hnsw_check.h), read by RunCheck
  // when the vector store is present; each finding is one `hnsw_damaged` issue
  // in the CLI's output and counts in issues_by_kind / issues_by_store.
  std::vector<HnswFinding> hnsw;
  bool hnsw_checked = false;
  bool consistent() const { return issues.empty() && hnsw.empty(); }
};

// Pure: applies the rules to inv (read with the same scope as opts). The age
// rules measure from opts.now_micros, which the caller sets (RunCheck: from the
// layout's Env when 0).
CheckReport CheckInventory(const Inventory& inv, const CheckOptions& opts);

// Reads the inventory for opts' scope and applies the rules, then checks the
// vector store's HNSW segments (whatever the scope: they serve every user).
// --document: NotFound when the id is in no store, or when its main row
// belongs to another user than opts.user_id. Store errors as Inventory::Read.
Result<CheckReport> RunCheck(const Layout& layout, const CheckOptions& opts);

}  // namespace maestro
