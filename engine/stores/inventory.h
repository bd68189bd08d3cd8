// engine/stores/inventory.h — which document ids each store holds, read in one pass.
//
// An Inventory is the id-level picture of an install that `stats`, `check` and
// `cleanup` work from:
//   main      documents rows (id, user_id, status, timestamps, filename)
//   ai        processed_documents doc_ids
//   vector    chunk counts per document, per collection (dense, sparse)
//   pdfs      raw files "{doc_id}_{name}" in raw_pdfs/, raw_pdfs/word_documents/,
//             raw_pdfs/markdown_files/
//   markdown  "{doc_id}.md";  metadata  "{doc_id}.json"
//
// Contract:
//  * Read-only: SQLite files are opened with Db::OpenReadOnly only (no -wal,
//    -shm or journal is ever created; no byte or mtime under the root changes);
//    directories are only listed. Safe while the app runs.
//  * Cost: one sequential pass per table with prepared statements and one
//    listing per directory; no per-document queries. Memory is proportional to
//    the number of ids (never to file sizes).
//  * A missing store is recorded as not present (never an error). A store that
//    exists but is unusable (garbage, empty, a directory where a file belongs,
//    unreadable, tables missing, locked by a writer) fails the whole read with a
//    Status naming the path: BadStore, IoError or Busy.
//  * Not a consistent cut across stores: each store is read at its own moment
//    (the app may write between them). Callers that act on it re-check.
//  * The result is a plain value; share it read-only between threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/stores/layout.h"
#include "util/status.h"

namespace maestro {

// processing_status values of documents.status.
inline constexpr const char* kStatusCompleted = "completed";
inline constexpr const char* kStatusFailed = "failed";
inline constexpr const char* kStatusQueued = "queued";
inline constexpr const char* kStatusProcessing = "processing";
inline constexpr const char* kStatusCliProcessing = "cli_processing";
inline constexpr const char* kStatusPending = "pending";
inline constexpr const char* kStatusUploading = "uploading";

// Sub-directories of raw_pdfs/ that hold uploads of other formats.
inline constexpr const char* kWordSubdir = "word_documents";
inline constexpr const char* kMarkdownUploadSubdir = "markdown_files";

struct DocumentRow {
  std::string id;
  int64_t user_id = 0;
  std::string status;  // processing_status ("" when NULL)
  std::string created_at;
  std::string updated_at;
  std::string original_filename;
};

// What part of the install to read. Empty = everything.
struct InventoryScope {
  std::optional<int64_t> user_id;  // main rows of this user only (other stores: all ids)
  std::string doc_id;              // every store restricted to this one id (index lookups)
};

// A file of a document, relative to its store directory
// (e.g. "word_documents/7fafabb4_notes.docx", "7fafabb4.md").
struct DocFiles {
  std::vector<std::string> pdfs;      // store pdfs
  std::vector<std::string> markdown;  // store markdown
  std::vector<std::string> metadata;  // store metadata
  bool empty() const { return pdfs.empty() && markdown.empty() && metadata.empty(); }
};

struct ChunkCounts {
  int64_t dense = 0;
  int64_t sparse = 0;
  int64_t other = 0;  // chunks in collections other than the two known ones
  int64_t total() const { return dense + sparse + other; }
};

struct StorePresence {
  bool present = false;
  std::string path;
};

class Inventory {
 public:
  // Reads every present store of layout. See the contract above.
  static Result<Inventory> Read(const Layout& layout, const InventoryScope& scope = {});

  std::array<StorePresence, kNumStores> stores;
  const StorePresence& store(StoreId id) const { return stores[static_cast<int>(id)]; }

  // main: sorted by id; index_ maps id -> position.
  std::vector<DocumentRow> documents;
  const DocumentRow* FindDocument(const std::string& id) const;

  // ai
  std::unordered_set<std::string> ai_doc_ids;

  // vector
  std::unordered_map<std::string, ChunkCounts> chunks;  // doc_id -> counts
  std::map<std::string, int64_t> chunks_per_collection;  // collection name -> chunks
  std::vector<std::string> hnsw_segment_dirs;            // VECTOR segment ids with a directory
  std::vector<std::string> hnsw_segments_missing_dir;    // VECTOR segment ids without one

  // files: doc_id -> the document's files, per store
  std::unordered_map<std::string, DocFiles> files;
  // Names in the file stores that follow no naming rule (not "{id}_..." / "{id}.md" /
  // "{id}.json"), relative to the store, prefixed "pdfs:", "markdown:", "metadata:".
  std::vector<std::string> unrecognized_files;
  // Files per directory, keyed "pdfs", "pdfs/word_documents", "pdfs/markdown_files",
  // "markdown", "metadata" (only present directories).
  std::map<std::string, int64_t> files_per_dir;

  bool HasAi(const std::string& id) const { return ai_doc_ids.count(id) != 0; }
  ChunkCounts ChunksOf(const std::string& id) const;
  const DocFiles* FilesOf(const std::string& id) const;  // null when none

  // Every id seen in ai, vector or files that has no documents row (sorted).
  // Meaningful only for a scope without user_id (a user's scope drops the
  // other users' rows).
  std::vector<std::string> OrphanIds() const;

 private:
  std::unordered_map<std::string, size_t> index_;
};

// The doc id a file name in a file store carries, or "" if the name follows no
// rule: pdfs "{doc_id}_{name}", markdown "{doc_id}.md", metadata "{doc_id}.json".
std::string DocIdOfFileName(StoreId store, const std::string& name);

}  // namespace maestro
