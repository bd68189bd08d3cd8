// engine/stores/chroma.h — reading a ChromaDB persistent directory (the `vector` store).
//
// Words:
//   collection   a named set of embeddings (research_papers_dense / _sparse)
//   segment      a collection's storage unit: one METADATA segment (rows in
//                chroma.sqlite3) and one VECTOR segment (an HNSW index in the
//                directory <vector store>/<segment uuid>/)
//   chunk        one embedding, id "{doc_id}_{n}", metadata key 'doc_id'
//
// Everything here only reads, through Db::OpenReadOnly (no -wal/-shm/journal
// is created, no byte changes). Write functions (deleting a document's chunks,
// queueing DELETEs in embeddings_queue) live in engine/stores/chroma_write.cc and use
// the same types.
//
// Thread safety: the functions take a Db& owned by the caller; a Db is used by
// one thread at a time. Failure: Status naming chroma.sqlite3's path; a
// database without Chroma's tables is BadStore.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/sqlite.h"
#include "util/status.h"

namespace maestro {

inline constexpr const char* kChromaDbFile = "chroma.sqlite3";
inline constexpr const char* kDenseCollection = "research_papers_dense";
inline constexpr const char* kSparseCollection = "research_papers_sparse";
inline constexpr const char* kHnswSegmentType = "urn:chroma:segment/vector/hnsw-local-persisted";
inline constexpr const char* kSqliteSegmentType = "urn:chroma:segment/metadata/sqlite";

struct ChromaCollection {
  std::string id;
  std::string name;
  int64_t dimension = 0;  // 0 when NULL
};

struct ChromaSegment {
  std::string id;
  std::string type;
  std::string scope;       // "VECTOR" or "METADATA"
  std::string collection;  // ChromaCollection::id
};

// The doc id of a chunk whose metadata lacks 'doc_id': the embedding id's
// prefix before the last '_' ("7fafabb4_12" -> "7fafabb4"); the whole id if it
// has no '_'.
std::string DocIdFromEmbeddingId(const std::string& embedding_id);

// Fails with BadStore (naming the path) unless the tables maestro-db reads
// exist: collections, segments, embeddings, embedding_metadata.
Status CheckChromaTables(Db& db);

Result<std::vector<ChromaCollection>> ReadChromaCollections(Db& db);
Result<std::vector<ChromaSegment>> ReadChromaSegments(Db& db);

// One row per embedding, in embeddings.id order. doc_id is the 'doc_id'
// metadata string, else DocIdFromEmbeddingId(embedding_id).
struct ChromaChunkRow {
  const std::string* segment_id;  // valid during the callback only
  const std::string* embedding_id;
  const std::string* doc_id;
};
// Scans every embedding in one pass (one prepared statement; metadata joined
// through its primary key). only_doc non-empty restricts the scan to that
// document's chunks (index lookups, no full scan). The callback returning a
// non-OK Status stops the scan and is returned.
Status ForEachChromaChunk(Db& db, const std::string& only_doc,
                          const std::function<Status(const ChromaChunkRow&)>& fn);

// Number of entries in embeddings_queue (Chroma's write-ahead log); 0 if the
// table does not exist.
Result<int64_t> CountChromaQueue(Db& db);

}  // namespace maestro
