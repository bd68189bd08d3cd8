#include "engine/txn/cleanup.h"

#include <map>
#include <memory>
#include <set>

#include "engine/stores/chroma.h"
#include "engine/stores/chroma_write.h"
#include "engine/stores/inventory.h"
#include "engine/txn/txn_args.h"
#include "util/crash_point.h"
#include "util/sqlite.h"
#include "util/time_util.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(cleanup_after_file_aside, "cleanup.after_file_aside");

namespace {

const StoreId kFileStores[] = {StoreId::kPdfs, StoreId::kMarkdown, StoreId::kMetadata};

std::string SqlStamp(int64_t micros) {
  // "YYYY-MM-DDTHH:MM:SSZ" -> "YYYY-MM-DD HH:MM:SS" (Chroma's CURRENT_TIMESTAMP form)
  std::string iso = FormatIso8601(micros);
  if (iso.size() >= 19) {
    iso[10] = ' ';
    iso.resize(19);
  }
  return iso;
}

// One SQLite transaction on the store at path, its file I/O under env.
Status ExecBatch(Env* env, const std::string& path, const std::function<Status(Db&)>& body) {
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(env, path, false));
  MAESTRO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status st = body(db);
  if (st.ok()) st = db.Exec("COMMIT");
  if (!st.ok()) {
    db.Exec("ROLLBACK").IgnoreError("ends the failed batch; its first error is returned");
    return st.Annotate(path);
  }
  return db.Close();
}

Status RunEach(Db& db, const std::string& sql, const std::vector<std::string>& ids) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt s, db.Prepare(sql));
  for (const auto& id : ids) {
    s.Reset();
    s.Bind(1, id);
    MAESTRO_RETURN_IF_ERROR(s.Run());
  }
  return Status::OK();
}

}  // namespace

std::vector<std::string> CleanupPlan::Describe() const {
  std::vector<std::string> out;
  out.push_back(std::to_string(ai_rows) + " processed_documents row(s) to delete from ai");
  out.push_back(std::to_string(chunk_docs) + " document(s) whose chunks are deleted from the vector store");
  out.push_back(std::to_string(files) + " file(s) to delete from pdfs/markdown/metadata");
  out.push_back(std::to_string(marked_failed) + " document(s) to mark failed in main");
  out.push_back(std::to_string(main_rows_deleted) + " document row(s) to delete from main");
  return out;
}

std::vector<StoreId> CleanupPlan::StoresTouched() const {
  std::vector<StoreId> out;
  if (ai_rows) out.push_back(StoreId::kAi);
  if (chunk_docs) out.push_back(StoreId::kVector);
  if (files) for (StoreId s : kFileStores) out.push_back(s);
  if (marked_failed || main_rows_deleted) out.push_back(StoreId::kMain);
  return out;
}

Result<CleanupPlan> PlanCleanup(const Layout& layout, const CleanupOptions& opts) {
  if (!opts.doc_id.empty() && !opts.user_id)
    return Status::InvalidArgument("--document needs --user: a document is cleaned up on behalf of its owner");
  const int64_t now = opts.now_micros ? opts.now_micros : layout.env()->NowMicros();
  InventoryScope scope;
  scope.user_id = opts.user_id;
  scope.doc_id = opts.doc_id;
  MAESTRO_ASSIGN_OR_RETURN(Inventory inv, Inventory::Read(layout, scope));
  CheckOptions co;
  co.user_id = opts.user_id;
  co.doc_id = opts.doc_id;
  co.now_micros = now;
  co.stuck_processing_after_s = opts.stuck_older_than_s;
  co.failed_stale_after_s = opts.failed_older_than_s;
  if (!opts.doc_id.empty()) {
    const DocumentRow* d = inv.FindDocument(opts.doc_id);
    if (d && opts.user_id && d->user_id != *opts.user_id)
      return Status::NotFound("document " + opts.doc_id + " belongs to user " + std::to_string(d->user_id) +
                              ", not user " + std::to_string(*opts.user_id));
  }
  CheckReport rep = CheckInventory(inv, co);

  std::set<std::string> ai, chunks, main_delete;
  std::map<std::string, std::string> mark_failed;
  std::map<std::string, std::set<std::string>> files;  // store name -> rel paths
  auto add_files = [&](const std::string& id, std::optional<StoreId> only) {
    const DocFiles* f = inv.FilesOf(id);
    if (!f) return;
    if (!only || *only == StoreId::kPdfs) for (const auto& p : f->pdfs) files["pdfs"].insert(p);
    if (!only || *only == StoreId::kMarkdown) for (const auto& p : f->markdown) files["markdown"].insert(p);
    if (!only || *only == StoreId::kMetadata) for (const auto& p : f->metadata) files["metadata"].insert(p);
  };
  auto remove_all = [&](const std::string& id) {
    if (inv.HasAi(id)) ai.insert(id);
    if (inv.ChunksOf(id).total() > 0) chunks.insert(id);
    add_files(id, std::nullopt);
  };

  CleanupPlan plan;
  for (const Issue& is : rep.issues) {
    bool repair = true;
    switch (is.kind) {
      case IssueKind::kMainDbOnly: main_delete.insert(is.doc_id); break;
      case IssueKind::kCompletedMissingAi:
      case IssueKind::kCompletedMissingChunks:
      case IssueKind::kCompletedMissingMarkdown:
        repair = opts.downgrade_incomplete;
        if (repair) {
          mark_failed[is.doc_id] = std::string("Incomplete after processing (") + IssueKindName(is.kind) +
                                   "); marked failed by maestro-db cleanup";
          remove_all(is.doc_id);
        }
        break;
      case IssueKind::kFailedWithLeftovers:
        repair = !opts.doc_id.empty();
        if (repair) {
          mark_failed[is.doc_id] = kFailedCleanupMessage;
          remove_all(is.doc_id);
        }
        break;
      case IssueKind::kFailedStaleWithLeftovers:
        mark_failed[is.doc_id] = kFailedCleanupMessage;
        remove_all(is.doc_id);
        break;
      case IssueKind::kStuckProcessing:
        mark_failed[is.doc_id] = "Stuck in processing for more than " + FormatDuration(opts.stuck_older_than_s) +
                                 "; marked failed by maestro-db cleanup";
        remove_all(is.doc_id);
        break;
      case IssueKind::kMissingRawFile:
        if (!mark_failed.count(is.doc_id)) mark_failed[is.doc_id] = "Raw file missing; marked failed by maestro-db cleanup";
        remove_all(is.doc_id);
        break;
      case IssueKind::kAiOrphan: ai.insert(is.doc_id); break;
      case IssueKind::kVectorOrphan: chunks.insert(is.doc_id); break;
      case IssueKind::kFileOrphan:
      case IssueKind::kFilesOnly: add_files(is.doc_id, is.store); break;
    }
    (repair ? plan.repaired : plan.left).push_back(is);
  }

  // Only stores that exist can be cleaned.
  if (!inv.store(StoreId::kAi).present) ai.clear();
  if (!inv.store(StoreId::kVector).present) chunks.clear();

  nlohmann::json stores = nlohmann::json::object();
  for (const auto& s : layout.stores()) stores[s.name] = StoreRef::FromStore(s).ToJson();
  nlohmann::json jfiles = nlohmann::json::object();
  for (auto& [store, set] : files) {
    jfiles[store] = std::vector<std::string>(set.begin(), set.end());
    plan.files += static_cast<int64_t>(set.size());
  }
  nlohmann::json jmark = nlohmann::json::array();
  for (auto& [id, msg] : mark_failed)
    if (!main_delete.count(id)) jmark.push_back({id, msg});
  std::vector<std::string> collections;
  if (!chunks.empty()) {
    collections = {kDenseCollection, kSparseCollection};
    for (const auto& [name, n] : inv.chunks_per_collection)
      if (name != kDenseCollection && name != kSparseCollection && n > 0) collections.push_back(name);
  }
  plan.args = {{"stamp", FormatIso8601(now)},
               {"stamp_sql", SqlStamp(now)},
               {"stores", stores},
               {"ai", std::vector<std::string>(ai.begin(), ai.end())},
               {"chunks", std::vector<std::string>(chunks.begin(), chunks.end())},
               {"collections", collections},
               {"files", jfiles},
               {"mark_failed", jmark},
               {"delete_main", std::vector<std::string>(main_delete.begin(), main_delete.end())},
               {"scope", {{"user", opts.user_id ? nlohmann::json(*opts.user_id) : nlohmann::json()},
                          {"document", opts.doc_id}}}};
  plan.ai_rows = static_cast<int64_t>(ai.size());
  plan.chunk_docs = static_cast<int64_t>(chunks.size());
  plan.marked_failed = static_cast<int64_t>(jmark.size());
  plan.main_rows_deleted = static_cast<int64_t>(main_delete.size());
  return plan;
}

Result<TxnPlan> BuildCleanupPlan(const TxnContext& ctx) {
  auto decoded = DecodeCleanupArgs(ctx.args);
  if (!decoded.ok()) return decoded.status().Annotate("cleanup transaction " + ctx.txn_id);
  const CleanupTxnArgs& a = *decoded;
  TxnServices* svc = ctx.svc;
  Env* env = svc->env;
  std::string snap = ctx.snapshot_id, txn = ctx.txn_id;
  // Every undo puts its whole store back to the pre-image, so within one
  // rollback a store already put back needs nothing more: the vector store,
  // changed by two steps, is restored once, not twice. (After a crash the
  // memo is empty and the restore may run once more, which is harmless.)
  auto restored = std::make_shared<std::set<std::string>>();
  auto undo_from_snapshot = [svc, snap, txn, restored](StoreRef s) {
    return [svc, snap, txn, s, restored]() -> Status {
      if (restored->count(s.path)) return Status::OK();
      MAESTRO_RETURN_IF_ERROR(RestoreStoreFromSnapshot(*svc, s, snap, txn));
      restored->insert(s.path);
      return Status::OK();
    };
  };
  TxnPlan plan;

  const std::vector<std::string>& ai = a.ai;
  if (!ai.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(StoreRef s, a.Store("ai"));
    plan.steps.push_back({"cleanup.ai",
                          [env, s, ai]() {
                            return ExecBatch(env, s.path, [&](Db& db) {
                              return RunEach(db, "DELETE FROM processed_documents WHERE doc_id = ?", ai);
                            });
                          },
                          undo_from_snapshot(s)});
  }

  const std::vector<std::string>& chunks = a.chunks;
  if (!chunks.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(StoreRef s, a.Store("vector"));
    std::string db_path = JoinPath(s.path, kChromaDbFile);
    std::string stamp = a.stamp_sql;
    for (const std::string& coll : a.collections) {
      plan.steps.push_back({"cleanup.vector." + coll,
                            [env, db_path, coll, chunks, stamp]() -> Status {
                              MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(env, db_path, false));
                              auto r = DeleteDocumentChunks(db, coll, chunks, stamp);
                              if (!r.ok()) return r.status();
                              return db.Close();
                            },
                            undo_from_snapshot(s)});
    }
  }

  {
    for (StoreId id : kFileStores) {
      std::string name = StoreName(id);
      auto listed = a.files.find(name);
      if (listed == a.files.end() || listed->second.empty()) continue;
      const std::vector<std::string>& rels = listed->second;
      MAESTRO_ASSIGN_OR_RETURN(StoreRef s, a.Store(name));
      std::string aside = AsidePath(s.path, txn);
      for (const auto& r : rels)
        if (!IsSafeRelativePath(r))
          return Status::Corruption("cleanup transaction " + txn + " names an unsafe path '" + r + "'");
      plan.steps.push_back({"cleanup.files." + name,
                            [env, s, aside, rels]() -> Status {
                              std::set<std::string> dirs;
                              bool first = true;
                              for (const auto& r : rels) {
                                std::string src = JoinPath(s.path, r), dst = JoinPath(aside, r);
                                if (!env->FileExists(src)) continue;  // moved already (or gone)
                                MAESTRO_RETURN_IF_ERROR(env->CreateDirsDurably(DirName(dst), 0700));
                                MAESTRO_RETURN_IF_ERROR(env->Rename(src, dst));
                                dirs.insert(DirName(src));
                                dirs.insert(DirName(dst));
                                if (first) {
                                  first = false;
                                  MAESTRO_RETURN_IF_ERROR(env->SyncDir(DirName(src)));
                                  MAESTRO_RETURN_IF_ERROR(env->SyncDir(DirName(dst)));
                                  MAESTRO_CRASH_POINT("cleanup.after_file_aside");
                                }
                              }
                              dirs.insert(DirName(aside));
                              for (const auto& d : dirs) MAESTRO_RETURN_IF_ERROR(env->SyncDir(d));
                              return Status::OK();
                            },
                            [env, s, aside, rels]() -> Status {
                              std::set<std::string> dirs;
                              for (const auto& r : rels) {
                                std::string src = JoinPath(s.path, r), dst = JoinPath(aside, r);
                                if (!env->FileExists(dst)) continue;
                                MAESTRO_RETURN_IF_ERROR(env->Rename(dst, src));
                                dirs.insert(DirName(src));
                              }
                              for (const auto& d : dirs) MAESTRO_RETURN_IF_ERROR(env->SyncDir(d));
                              MAESTRO_RETURN_IF_ERROR(RemoveStoreCopy(env, aside, false));
                              return Status::OK();
                            }});
      std::string trash = TrashPath(s.path, txn);
      plan.finish.push_back({"cleanup.drop_aside." + name,
                             [env, aside, trash]() { return MoveStoreAside(env, aside, trash, false); }, nullptr});
    }
  }

  const std::vector<std::string>& del = a.delete_main;
  const std::vector<std::pair<std::string, std::string>>& mark = a.mark_failed;
  if (!del.empty() || !mark.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(StoreRef s, a.Store("main"));
    std::string stamp = a.stamp;
    plan.steps.push_back(
        {"cleanup.main",
         [env, s, del, mark, stamp]() {
           return ExecBatch(env, s.path, [&](Db& db) -> Status {
             MAESTRO_ASSIGN_OR_RETURN(Stmt up, db.Prepare("UPDATE documents SET processing_status = 'failed', "
                                                          "processing_error = ?, updated_at = ? WHERE id = ?"));
             for (const auto& [id, msg] : mark) {
               up.Reset();
               up.Bind(1, msg).Bind(2, stamp).Bind(3, id);
               MAESTRO_RETURN_IF_ERROR(up.Run());
             }
             for (const char* table : {"document_group_association", "document_processing_jobs", "draft_references"}) {
               MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists(table));
               if (exists)
                 MAESTRO_RETURN_IF_ERROR(RunEach(db, std::string("DELETE FROM ") + table + " WHERE document_id = ?", del));
             }
             return RunEach(db, "DELETE FROM documents WHERE id = ?", del);
           });
         },
         undo_from_snapshot(s)});
  }
  return plan;
}

}  // namespace maestro
