// engine/stores/stats.h — what each store holds, for `maestro-db stats`.
//
// CollectStats reads the Inventory (engine/stores/inventory.h: read-only, one pass
// per table, ids only) plus a few count(*) queries and a walk of each store for
// its size. Same read-only guarantee and errors as Inventory::Read: a missing
// store is reported as not present, an unusable one fails with its path named.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "engine/stores/layout.h"
#include "util/status.h"

namespace maestro {

struct StoreStats {
  std::string name;
  std::string path;
  bool present = false;
  uint64_t bytes = 0;  // sum of file sizes (a database counts its -wal too)
};

struct Stats {
  std::array<StoreStats, kNumStores> stores;
  // main (nullopt: the table does not exist in this version of the schema)
  std::optional<int64_t> users, chats, messages, document_groups;
  int64_t documents = 0;
  std::map<std::string, int64_t> documents_by_status;  // "" for NULL status
  // ai
  int64_t processed_documents = 0;
  // vector
  std::map<std::string, int64_t> chunks_per_collection;
  int64_t vector_documents = 0;    // distinct doc ids with at least one chunk
  int64_t hnsw_segment_dirs = 0;   // VECTOR segments with their directory
  int64_t hnsw_segments_missing_dir = 0;
  int64_t queue_entries = 0;       // embeddings_queue rows
  // files
  std::map<std::string, int64_t> files_per_dir;  // "pdfs", "pdfs/word_documents", ...
  int64_t unrecognized_files = 0;
};

Result<Stats> CollectStats(const Layout& layout);

}  // namespace maestro
