// engine/stores/chroma_write.h — removing a document's chunks from a ChromaDB directory
// the way Chroma itself honours (see ../shared/maestro-layout.md, "vector").
//
// For each chunk "{doc_id}_{n}" of the given documents in one collection:
//   * its rows in the collection's METADATA segment are deleted: embeddings,
//     embedding_metadata, embedding_fulltext_search (rowid = embeddings.id);
//   * a DELETE record (operation 3) is appended to embeddings_queue with the
//     collection's topic ("persistent://default/default/<collection id>", or the
//     topic already used in the queue for that collection), the chunk's id and a
//     new seq_id above every seq id in use (queue, max_seq_id, embeddings), so
//     Chroma removes the vector from the HNSW segment when it next opens.
// Everything for one collection happens in ONE SQLite transaction (batched: a
// prepared statement per table, an index range lookup per document), so 1,000
// documents take well under a second. Idempotent: a chunk already removed from
// the metadata segment is neither found nor queued again.
//
// created_at of the queued records is the caller's `stamp` ("YYYY-MM-DD HH:MM:SS")
// so that repeating a cleanup gives the same bytes.
//
// Failure: Status naming chroma.sqlite3 and the collection; SQLite rolls the
// transaction back, nothing is half-deleted. The caller holds the repository lock
// and has checked that the app does not hold the file open.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/sqlite.h"
#include "util/status.h"

namespace maestro {

struct ChromaDeleteStats {
  int64_t chunks_deleted = 0;
  int64_t queue_records = 0;
};

// db: chroma.sqlite3 opened read-write. collection: its name (research_papers_dense ...).
// A missing collection is not an error (nothing to delete).
Result<ChromaDeleteStats> DeleteDocumentChunks(Db& db, const std::string& collection,
                                               const std::vector<std::string>& doc_ids, const std::string& stamp);

}  // namespace maestro
