#include "engine/stores/inventory.h"

#include <algorithm>
#include <set>

#include "engine/stores/chroma.h"
#include "util/env.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

bool IsIdChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

// A store that exists must be of its kind; this is where "a file where a
// directory belongs" (and the reverse) becomes BadStore.
Status CheckKind(Env* env, const Store& s) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(s.path, &fi));
  if (KindOf(s.id) == StoreKind::kDirectory && !fi.is_dir)
    return Status::BadStore("store " + s.name + " at " + s.path +
                            ": is a file, expected a directory (move it away or fix [stores] in the config)");
  if (KindOf(s.id) == StoreKind::kSqliteFile && fi.is_dir)
    return Status::BadStore("store " + s.name + " at " + s.path +
                            ": is a directory, expected an SQLite database file (fix [stores] in the config)");
  return Status::OK();
}

Status RequireTable(Db& db, const std::string& store, const std::string& table, const std::string& what) {
  MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists(table));
  if (!exists)
    return Status::BadStore("store " + store + " at " + db.path() + ": table '" + table + "' is missing: not " +
                            what + " (check --root or the [stores] config)");
  return Status::OK();
}

Result<Db> OpenStoreDb(const std::string& store, const std::string& path) {
  auto db = Db::OpenReadOnly(path);
  if (!db.ok()) return db.status().Annotate("store " + store);
  return db;
}

}  // namespace

std::string DocIdOfFileName(StoreId store, const std::string& name) {
  auto id_ok = [](const std::string& id) {
    return !id.empty() && std::all_of(id.begin(), id.end(), IsIdChar);
  };
  std::string id;
  switch (store) {
    case StoreId::kPdfs: {
      size_t us = name.find('_');
      if (us == std::string::npos || us + 1 >= name.size()) return "";
      id = name.substr(0, us);
      break;
    }
    case StoreId::kMarkdown:
    case StoreId::kMetadata: {
      const std::string ext = store == StoreId::kMarkdown ? ".md" : ".json";
      if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) return "";
      id = name.substr(0, name.size() - ext.size());
      break;
    }
    default:
      return "";
  }
  return id_ok(id) ? id : "";
}

const DocumentRow* Inventory::FindDocument(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &documents[it->second];
}

ChunkCounts Inventory::ChunksOf(const std::string& id) const {
  auto it = chunks.find(id);
  return it == chunks.end() ? ChunkCounts{} : it->second;
}

const DocFiles* Inventory::FilesOf(const std::string& id) const {
  auto it = files.find(id);
  return it == files.end() || it->second.empty() ? nullptr : &it->second;
}

std::vector<std::string> Inventory::OrphanIds() const {
  std::set<std::string> ids;
  for (const auto& id : ai_doc_ids)
    if (!index_.count(id)) ids.insert(id);
  for (const auto& [id, c] : chunks)
    if (c.total() > 0 && !index_.count(id)) ids.insert(id);
  for (const auto& [id, f] : files)
    if (!f.empty() && !index_.count(id)) ids.insert(id);
  return {ids.begin(), ids.end()};
}

namespace {

Status ReadMain(const Store& s, const InventoryScope& scope, Inventory* inv) {
  MAESTRO_ASSIGN_OR_RETURN(Db db, OpenStoreDb(s.name, s.path));
  MAESTRO_RETURN_IF_ERROR(RequireTable(db, s.name, "documents", "a Maestro main database (maestro.db)"));
  std::string sql =
      "SELECT id, user_id, processing_status, created_at, updated_at, original_filename FROM documents WHERE 1";
  if (scope.user_id) sql += " AND user_id = ?1";
  if (!scope.doc_id.empty()) sql += " AND id = ?2";
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare(sql));
  if (scope.user_id) st.Bind(1, *scope.user_id);
  if (!scope.doc_id.empty()) st.Bind(2, scope.doc_id);
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    inv->documents.push_back({st.Text(0), st.Int(1), st.Text(2), st.Text(3), st.Text(4), st.Text(5)});
  }
  // Sorting here is cheaper than ORDER BY id, which would walk the index and
  // seek every row.
  std::sort(inv->documents.begin(), inv->documents.end(),
            [](const DocumentRow& a, const DocumentRow& b) { return a.id < b.id; });
  return Status::OK();
}

Status ReadAi(const Store& s, const InventoryScope& scope, Inventory* inv) {
  MAESTRO_ASSIGN_OR_RETURN(Db db, OpenStoreDb(s.name, s.path));
  MAESTRO_RETURN_IF_ERROR(
      RequireTable(db, s.name, "processed_documents", "the AI researcher's metadata.db"));
  std::string sql = "SELECT doc_id FROM processed_documents";
  if (!scope.doc_id.empty()) sql += " WHERE doc_id = ?1";
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare(sql));
  if (!scope.doc_id.empty()) st.Bind(1, scope.doc_id);
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    inv->ai_doc_ids.insert(st.Text(0));
  }
  return Status::OK();
}

Status ReadVector(Env* env, const Store& s, const InventoryScope& scope, Inventory* inv) {
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env->ListDir(s.path, &entries));
  std::set<std::string> dirs;
  for (const auto& e : entries)
    if (e.is_dir && !e.is_symlink) dirs.insert(e.name);

  const std::string db_path = JoinPath(s.path, kChromaDbFile);
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(db_path, &fi));
  if (!fi.exists) {
    // A Chroma directory that was never written to: no collections, no chunks.
    inv->hnsw_segment_dirs.assign(dirs.begin(), dirs.end());
    return Status::OK();
  }
  MAESTRO_ASSIGN_OR_RETURN(Db db, OpenStoreDb(s.name, db_path));
  Status t = CheckChromaTables(db);
  if (!t.ok()) return t.Annotate("store " + s.name);
  MAESTRO_ASSIGN_OR_RETURN(auto collections, ReadChromaCollections(db));
  MAESTRO_ASSIGN_OR_RETURN(auto segments, ReadChromaSegments(db));

  std::unordered_map<std::string, std::string> coll_name;  // collection id -> name
  for (const auto& c : collections) {
    coll_name[c.id] = c.name;
    inv->chunks_per_collection[c.name] = 0;
  }
  // segment id -> which counter (0 dense, 1 sparse, 2 other) and collection name
  struct SegInfo {
    int kind;
    int64_t* per_collection;
  };
  std::unordered_map<std::string, SegInfo> seg_info;
  for (const auto& seg : segments) {
    auto it = coll_name.find(seg.collection);
    std::string name = it == coll_name.end() ? "(unknown collection " + seg.collection + ")" : it->second;
    int kind = name == kDenseCollection ? 0 : name == kSparseCollection ? 1 : 2;
    seg_info[seg.id] = {kind, &inv->chunks_per_collection[name]};
    if (seg.scope == "VECTOR") {
      if (dirs.count(seg.id))
        inv->hnsw_segment_dirs.push_back(seg.id);
      else
        inv->hnsw_segments_missing_dir.push_back(seg.id);
    }
  }
  int64_t unknown_segment = 0;
  std::string last_seg;
  const SegInfo* last = nullptr;
  MAESTRO_RETURN_IF_ERROR(ForEachChromaChunk(db, scope.doc_id, [&](const ChromaChunkRow& r) -> Status {
    // Rows come grouped by segment in practice; remember the last lookup.
    if (!last || *r.segment_id != last_seg) {
      auto it = seg_info.find(*r.segment_id);
      last = it == seg_info.end() ? nullptr : &it->second;
      last_seg = *r.segment_id;
    }
    ChunkCounts& c = inv->chunks[*r.doc_id];
    if (!last) {
      ++c.other;
      ++unknown_segment;
      return Status::OK();
    }
    ++*last->per_collection;
    (last->kind == 0 ? c.dense : last->kind == 1 ? c.sparse : c.other)++;
    return Status::OK();
  }));
  if (unknown_segment) inv->chunks_per_collection["(no segment)"] += unknown_segment;
  return Status::OK();
}

Status ListFileStore(Env* env, const Store& s, const InventoryScope& scope, Inventory* inv) {
  auto list = [&](const std::string& sub, const std::string& counter_key) -> Status {
    std::string dir = sub.empty() ? s.path : JoinPath(s.path, sub);
    std::vector<DirEntry> entries;
    Status st = env->ListDir(dir, &entries);
    if (!st.ok()) return st.Annotate("store " + s.name);
    int64_t count = 0;
    for (const auto& e : entries) {
      if (e.is_dir) continue;
      ++count;
      std::string id = DocIdOfFileName(s.id, e.name);
      std::string rel = sub.empty() ? e.name : sub + "/" + e.name;
      if (id.empty()) {
        inv->unrecognized_files.push_back(s.name + ":" + rel);
        continue;
      }
      if (!scope.doc_id.empty() && id != scope.doc_id) continue;
      DocFiles& f = inv->files[id];
      (s.id == StoreId::kPdfs ? f.pdfs : s.id == StoreId::kMarkdown ? f.markdown : f.metadata).push_back(rel);
    }
    inv->files_per_dir[counter_key] = count;
    return Status::OK();
  };
  MAESTRO_RETURN_IF_ERROR(list("", s.name));
  if (s.id == StoreId::kPdfs) {
    for (const char* sub : {kWordSubdir, kMarkdownUploadSubdir}) {
      if (env->DirExists(JoinPath(s.path, sub))) MAESTRO_RETURN_IF_ERROR(list(sub, s.name + "/" + sub));
    }
  }
  return Status::OK();
}

}  // namespace

Result<Inventory> Inventory::Read(const Layout& layout, const InventoryScope& scope) {
  Inventory inv;
  for (StoreId id : AllStores()) {
    const Store& s = layout.store(id);
    inv.stores[static_cast<int>(id)] = {s.present, s.path};
    if (!s.present) continue;
    MAESTRO_RETURN_IF_ERROR(CheckKind(layout.env(), s));
    switch (id) {
      case StoreId::kMain: MAESTRO_RETURN_IF_ERROR(ReadMain(s, scope, &inv)); break;
      case StoreId::kAi: MAESTRO_RETURN_IF_ERROR(ReadAi(s, scope, &inv)); break;
      case StoreId::kVector: MAESTRO_RETURN_IF_ERROR(ReadVector(layout.env(), s, scope, &inv)); break;
      default: MAESTRO_RETURN_IF_ERROR(ListFileStore(layout.env(), s, scope, &inv)); break;
    }
  }
  inv.index_.reserve(inv.documents.size());
  for (size_t i = 0; i < inv.documents.size(); ++i) inv.index_[inv.documents[i].id] = i;
  std::sort(inv.unrecognized_files.begin(), inv.unrecognized_files.end());
  return inv;
}

}  // namespace maestro
