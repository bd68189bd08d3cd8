#include "engine/stores/stats.h"

#include "engine/stores/chroma.h"
#include "engine/stores/inventory.h"
#include "util/env.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

// Sum of the sizes of every regular file below path (path itself if a file).
Status TreeBytes(Env* env, const std::string& path, uint64_t* total) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(path, &fi));
  if (!fi.exists || fi.is_symlink) return Status::OK();
  if (!fi.is_dir) {
    *total += fi.size;
    return Status::OK();
  }
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env->ListDir(path, &entries));
  for (const auto& e : entries) MAESTRO_RETURN_IF_ERROR(TreeBytes(env, JoinPath(path, e.name), total));
  return Status::OK();
}

Result<std::optional<int64_t>> CountIfTable(Db& db, const std::string& table) {
  MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists(table));
  if (!exists) return std::optional<int64_t>();
  MAESTRO_ASSIGN_OR_RETURN(int64_t n, db.QueryInt("SELECT count(*) FROM \"" + table + "\""));
  return std::optional<int64_t>(n);
}

}  // namespace

Result<Stats> CollectStats(const Layout& layout) {
  Env* env = layout.env();
  MAESTRO_ASSIGN_OR_RETURN(Inventory inv, Inventory::Read(layout));
  Stats st;
  for (StoreId id : AllStores()) {
    const Store& s = layout.store(id);
    StoreStats& out = st.stores[static_cast<int>(id)];
    out.name = s.name;
    out.path = s.path;
    out.present = s.present;
    if (!s.present) continue;
    MAESTRO_RETURN_IF_ERROR(TreeBytes(env, s.path, &out.bytes));
    if (KindOf(id) == StoreKind::kSqliteFile) MAESTRO_RETURN_IF_ERROR(TreeBytes(env, s.path + "-wal", &out.bytes));
  }

  const Store& main = layout.store(StoreId::kMain);
  if (main.present) {
    MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadOnly(main.path));
    MAESTRO_ASSIGN_OR_RETURN(st.users, CountIfTable(db, "users"));
    MAESTRO_ASSIGN_OR_RETURN(st.chats, CountIfTable(db, "chats"));
    MAESTRO_ASSIGN_OR_RETURN(st.messages, CountIfTable(db, "messages"));
    MAESTRO_ASSIGN_OR_RETURN(st.document_groups, CountIfTable(db, "document_groups"));
  }
  st.documents = static_cast<int64_t>(inv.documents.size());
  for (const auto& d : inv.documents) ++st.documents_by_status[d.status];
  st.processed_documents = static_cast<int64_t>(inv.ai_doc_ids.size());

  st.chunks_per_collection = inv.chunks_per_collection;
  for (const auto& [id, c] : inv.chunks)
    if (c.total() > 0) ++st.vector_documents;
  st.hnsw_segment_dirs = static_cast<int64_t>(inv.hnsw_segment_dirs.size());
  st.hnsw_segments_missing_dir = static_cast<int64_t>(inv.hnsw_segments_missing_dir.size());
  const std::string chroma = layout.ChromaDbPath();
  if (layout.store(StoreId::kVector).present && env->FileExists(chroma)) {
    MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadOnly(chroma));
    MAESTRO_ASSIGN_OR_RETURN(st.queue_entries, CountChromaQueue(db));
  }
  st.files_per_dir = inv.files_per_dir;
  st.unrecognized_files = static_cast<int64_t>(inv.unrecognized_files.size());
  return st;
}

}  // namespace maestro
