// engine/stores/hnsw_store_check.cc — CheckHnswStore: every VECTOR segment of a Chroma
// directory against chroma.sqlite3 (the contract is in engine/stores/hnsw_check.h).
#include <map>

#include "engine/stores/chroma.h"
#include "engine/stores/hnsw_check.h"
#include "util/env.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

// A seq id as Chroma stores it: an integer (Rust core) or a big-endian blob (Python era).
int64_t SeqOf(const Stmt& s, int col) {
  if (sqlite3_column_type(s.raw(), col) != SQLITE_BLOB) return s.Int(col);
  int64_t v = 0;
  for (unsigned char c : s.Blob(col)) v = (v << 8) | c;
  return v;
}

struct SqliteFacts {
  std::map<std::string, int64_t> embeddings;   // METADATA segment id -> rows
  std::map<std::string, int64_t> flushed_seq;  // VECTOR segment id -> max_seq_id (present: flushed once)
  bool has_queue = false;
};

Result<SqliteFacts> ReadFacts(Db& db) {
  SqliteFacts f;
  MAESTRO_ASSIGN_OR_RETURN(Stmt e, db.Prepare("SELECT segment_id, count(*) FROM embeddings GROUP BY segment_id"));
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, e.Step());
    if (!row) break;
    f.embeddings[e.Text(0)] = e.Int(1);
  }
  MAESTRO_ASSIGN_OR_RETURN(bool has_max, db.TableExists("max_seq_id"));
  if (has_max) {
    MAESTRO_ASSIGN_OR_RETURN(Stmt m, db.Prepare("SELECT segment_id, seq_id FROM max_seq_id"));
    while (true) {
      MAESTRO_ASSIGN_OR_RETURN(bool row, m.Step());
      if (!row) break;
      f.flushed_seq[m.Text(0)] = SeqOf(m, 1);
    }
  }
  MAESTRO_ASSIGN_OR_RETURN(f.has_queue, db.TableExists("embeddings_queue"));
  return f;
}

// Queued operations for the collection newer than seq (not yet in its index).
Result<int64_t> PendingOps(Db& db, const std::string& collection_id, int64_t seq) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt q, db.Prepare("SELECT count(*) FROM embeddings_queue WHERE topic LIKE '%/' || ? AND seq_id > ?"));
  q.Bind(1, collection_id).Bind(2, seq);
  MAESTRO_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

// The element-count rule: |live - embeddings| <= pending.
void CheckCount(const HnswSegmentSummary& s, std::vector<HnswFinding>* out) {
  const int64_t live = s.elements - s.deleted;
  const int64_t diff = live > s.embeddings ? live - s.embeddings : s.embeddings - live;
  if (diff <= s.pending) return;
  out->push_back({s.collection, s.segment, kHnswHeaderFile,
                  "the index holds " + std::to_string(live) + " live elements (" + std::to_string(s.elements) +
                      " written, " + std::to_string(s.deleted) + " deleted) but chroma.sqlite3 has " +
                      std::to_string(s.embeddings) + " embeddings for the collection and only " +
                      std::to_string(s.pending) + " queued operations not yet applied"});
}

}  // namespace

Result<HnswCheckReport> CheckHnswStore(Env* env, const std::string& vector_dir) {
  HnswCheckReport rep;
  const std::string db_path = JoinPath(vector_dir, kChromaDbFile);
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(db_path, &fi));
  if (!fi.exists) return rep;
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadOnly(db_path));
  MAESTRO_RETURN_IF_ERROR(CheckChromaTables(db));
  MAESTRO_ASSIGN_OR_RETURN(std::vector<ChromaCollection> cols, ReadChromaCollections(db));
  MAESTRO_ASSIGN_OR_RETURN(std::vector<ChromaSegment> segs, ReadChromaSegments(db));
  MAESTRO_ASSIGN_OR_RETURN(SqliteFacts facts, ReadFacts(db));
  std::map<std::string, std::string> col_name;
  for (const auto& c : cols) col_name[c.id] = c.name;
  for (const ChromaSegment& seg : segs) {
    if (seg.scope != "VECTOR") continue;
    HnswSegmentSummary s;
    s.segment = seg.id;
    s.collection = col_name.count(seg.collection) ? col_name[seg.collection] : "";
    for (const ChromaSegment& m : segs)
      if (m.scope == "METADATA" && m.collection == seg.collection) s.embeddings += facts.embeddings[m.id];
    const auto flushed = facts.flushed_seq.find(seg.id);
    const int64_t seq = flushed == facts.flushed_seq.end() ? 0 : flushed->second;
    if (facts.has_queue) {
      MAESTRO_ASSIGN_OR_RETURN(s.pending, PendingOps(db, seg.collection, seq));
    }
    const std::string dir = JoinPath(vector_dir, seg.id);
    MAESTRO_RETURN_IF_ERROR(env->Stat(dir, &fi));
    s.folder = fi.exists && fi.is_dir;
    std::vector<HnswFinding> found;
    if (s.folder) {
      found = CheckHnswSegmentFiles(env, dir, &s);
    } else if (flushed != facts.flushed_seq.end()) {
      found.push_back({"", "", "", "the segment folder is missing, but Chroma flushed this index before (max_seq_id " +
                                       std::to_string(seq) + ")"});
    }
    if (found.empty() && (s.folder || flushed != facts.flushed_seq.end())) CheckCount(s, &found);
    for (HnswFinding& f : found) {
      f.collection = s.collection;
      f.segment = s.segment;
      rep.findings.push_back(std::move(f));
    }
    rep.segments.push_back(std::move(s));
  }
  return rep;
}

}  // namespace maestro
