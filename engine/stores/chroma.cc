#include "engine/stores/chroma.h"

#include <set>

namespace maestro {

std::string DocIdFromEmbeddingId(const std::string& embedding_id) {
  size_t us = embedding_id.rfind('_');
  return us == std::string::npos ? embedding_id : embedding_id.substr(0, us);
}

Status CheckChromaTables(Db& db) {
  for (const char* t : {"collections", "segments", "embeddings", "embedding_metadata"}) {
    MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists(t));
    if (!exists)
      return Status::BadStore(db.path() + ": table '" + t +
                              "' is missing: not a ChromaDB database (check the vector store path)");
  }
  return Status::OK();
}

Result<std::vector<ChromaCollection>> ReadChromaCollections(Db& db) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT id, name, dimension FROM collections ORDER BY name"));
  std::vector<ChromaCollection> out;
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Text(0), st.Text(1), st.IsNull(2) ? 0 : st.Int(2)});
  }
  return out;
}

Result<std::vector<ChromaSegment>> ReadChromaSegments(Db& db) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare("SELECT id, type, scope, collection FROM segments ORDER BY id"));
  std::vector<ChromaSegment> out;
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.Text(0), st.Text(1), st.Text(2), st.Text(3)});
  }
  return out;
}

namespace {

constexpr const char* kChunkSelect =
    "SELECT e.id, e.segment_id, e.embedding_id, m.string_value FROM embeddings e "
    "LEFT JOIN embedding_metadata m ON m.id = e.id AND m.key = 'doc_id'";

Status EmitRows(Stmt& st, const std::string& only_doc, std::set<int64_t>* seen,
                const std::function<Status(const ChromaChunkRow&)>& fn) {
  std::string seg, emb, doc;
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::OK();
    if (seen && !seen->insert(st.Int(0)).second) continue;
    seg = st.Text(1);
    emb = st.Text(2);
    doc = st.IsNull(3) ? DocIdFromEmbeddingId(emb) : st.Text(3);
    if (!only_doc.empty() && doc != only_doc) continue;
    MAESTRO_RETURN_IF_ERROR(fn(ChromaChunkRow{&seg, &emb, &doc}));
  }
}

}  // namespace

Status ForEachChromaChunk(Db& db, const std::string& only_doc,
                          const std::function<Status(const ChromaChunkRow&)>& fn) {
  if (only_doc.empty()) {
    // One pass over embeddings in rowid order; the metadata join is a primary
    // key seek per row, and rows were inserted in the same order, so the pages
    // are read nearly sequentially.
    MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare(kChunkSelect));
    return EmitRows(st, "", nullptr, fn);
  }
  std::set<int64_t> seen;
  // Chunks whose metadata names the document (index on (key, string_value) in Chroma).
  MAESTRO_ASSIGN_OR_RETURN(
      Stmt by_meta,
      db.Prepare(std::string(kChunkSelect) +
                 " WHERE e.id IN (SELECT id FROM embedding_metadata WHERE key = 'doc_id' AND string_value = ?1)"));
  by_meta.Bind(1, only_doc);
  MAESTRO_RETURN_IF_ERROR(EmitRows(by_meta, only_doc, &seen, fn));
  // Chunks without metadata, found by their id prefix: a range per segment on
  // the UNIQUE(segment_id, embedding_id) index.
  MAESTRO_ASSIGN_OR_RETURN(auto segments, ReadChromaSegments(db));
  MAESTRO_ASSIGN_OR_RETURN(
      Stmt by_id, db.Prepare(std::string(kChunkSelect) +
                             " WHERE e.segment_id = ?1 AND e.embedding_id >= ?2 AND e.embedding_id < ?3"));
  for (const auto& s : segments) {
    by_id.Reset();
    by_id.Bind(1, s.id).Bind(2, only_doc + "_").Bind(3, only_doc + "`");  // '`' follows '_'
    MAESTRO_RETURN_IF_ERROR(EmitRows(by_id, only_doc, &seen, fn));
  }
  return Status::OK();
}

Result<int64_t> CountChromaQueue(Db& db) {
  MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists("embeddings_queue"));
  if (!exists) return int64_t{0};
  return db.QueryInt("SELECT count(*) FROM embeddings_queue");
}

}  // namespace maestro
