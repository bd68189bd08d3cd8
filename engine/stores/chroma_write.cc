#include "engine/stores/chroma_write.h"

#include <algorithm>

#include "engine/stores/chroma.h"

namespace maestro {

namespace {

// Chroma stored seq ids as 8-byte big-endian BLOBs in older versions, INTEGER in newer ones.
int64_t SeqValue(const Stmt& s, int col) {
  if (sqlite3_column_type(s.raw(), col) == SQLITE_BLOB) {
    std::string b = s.Blob(col);
    int64_t v = 0;
    for (unsigned char c : b) v = (v << 8) | c;
    return v;
  }
  return s.Int(col);
}

Result<int64_t> MaxSeq(Db& db, const std::string& sql) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt s, db.Prepare(sql));
  int64_t best = 0;
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (!s.IsNull(0)) best = std::max(best, SeqValue(s, 0));
  }
  return best;
}

}  // namespace

Result<ChromaDeleteStats> DeleteDocumentChunks(Db& db, const std::string& collection,
                                               const std::vector<std::string>& doc_ids, const std::string& stamp) {
  ChromaDeleteStats stats;
  if (doc_ids.empty()) return stats;
  auto ctx = [&](const std::string& what) {
    return db.path() + " (collection " + collection + "): " + what;
  };
  MAESTRO_RETURN_IF_ERROR(CheckChromaTables(db));
  MAESTRO_ASSIGN_OR_RETURN(bool has_queue, db.TableExists("embeddings_queue"));
  MAESTRO_ASSIGN_OR_RETURN(bool has_fts, db.TableExists("embedding_fulltext_search"));
  MAESTRO_ASSIGN_OR_RETURN(bool has_max, db.TableExists("max_seq_id"));

  std::string coll_id, meta_segment;
  {
    MAESTRO_ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT c.id, s.id FROM collections c JOIN segments s ON s.collection = c.id "
                                                "WHERE c.name = ? AND s.scope = 'METADATA'"));
    s.Bind(1, collection);
    MAESTRO_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return stats;  // no such collection: nothing of it to delete
    coll_id = s.Text(0);
    meta_segment = s.Text(1);
  }

  MAESTRO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto fail = [&](const Status& st) {
    db.Exec("ROLLBACK").IgnoreError("ends the failed batch; its first error is returned");
    return st.Annotate(ctx("deleting chunks"));
  };

  std::string topic = "persistent://default/default/" + coll_id;
  int64_t next_seq = 0;
  if (has_queue) {
    auto t = db.Prepare("SELECT topic FROM embeddings_queue WHERE topic LIKE '%/' || ? ORDER BY seq_id DESC LIMIT 1");
    if (!t.ok()) return fail(t.status());
    t->Bind(1, coll_id);
    auto row = t->Step();
    if (!row.ok()) return fail(row.status());
    if (*row) topic = t->Text(0);
    int64_t m = 0;
    for (const char* sql : {"SELECT max(seq_id) FROM embeddings_queue", "SELECT seq_id FROM embeddings WHERE id = (SELECT max(id) FROM embeddings)"}) {
      auto v = MaxSeq(db, sql);
      if (!v.ok()) return fail(v.status());
      m = std::max(m, *v);
    }
    if (has_max) {
      auto v = MaxSeq(db, "SELECT seq_id FROM max_seq_id");
      if (!v.ok()) return fail(v.status());
      m = std::max(m, *v);
    }
    next_seq = m + 1;
  }

  // An index range on (segment_id, embedding_id): ids "{doc}_..." lie in ["{doc}_", "{doc}`").
  auto find = db.Prepare("SELECT id, embedding_id FROM embeddings WHERE segment_id = ? AND embedding_id >= ? AND embedding_id < ?");
  auto del_meta = db.Prepare("DELETE FROM embedding_metadata WHERE id = ?");
  auto del_emb = db.Prepare("DELETE FROM embeddings WHERE id = ?");
  if (!find.ok()) return fail(find.status());
  if (!del_meta.ok()) return fail(del_meta.status());
  if (!del_emb.ok()) return fail(del_emb.status());
  Stmt del_fts, enqueue;
  if (has_fts) {
    auto s = db.Prepare("DELETE FROM embedding_fulltext_search WHERE rowid = ?");
    if (!s.ok()) return fail(s.status());
    del_fts = std::move(s).value();
  }
  if (has_queue) {
    auto s = db.Prepare("INSERT INTO embeddings_queue (seq_id, created_at, operation, topic, id) VALUES (?, ?, 3, ?, ?)");
    if (!s.ok()) return fail(s.status());
    enqueue = std::move(s).value();
  }

  std::vector<std::pair<int64_t, std::string>> found;
  for (const auto& doc : doc_ids) {
    found.clear();
    find->Reset();
    find->Bind(1, meta_segment).Bind(2, doc + "_").Bind(3, doc + "`");
    while (true) {
      auto row = find->Step();
      if (!row.ok()) return fail(row.status());
      if (!*row) break;
      found.emplace_back(find->Int(0), find->Text(1));
    }
    for (const auto& [rowid, emb_id] : found) {
      for (Stmt* s : {&*del_meta, has_fts ? &del_fts : nullptr, &*del_emb}) {
        if (!s) continue;
        s->Reset();
        s->Bind(1, rowid);
        Status st = s->Run();
        if (!st.ok()) return fail(st);
      }
      ++stats.chunks_deleted;
      if (has_queue) {
        enqueue.Reset();
        enqueue.Bind(1, next_seq++).Bind(2, stamp).Bind(3, topic).Bind(4, emb_id);
        Status st = enqueue.Run();
        if (!st.ok()) return fail(st);
        ++stats.queue_records;
      }
    }
  }
  Status st = db.Exec("COMMIT");
  if (!st.ok()) return fail(st);
  return stats;
}

}  // namespace maestro
