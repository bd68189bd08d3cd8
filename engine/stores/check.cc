#include "engine/stores/check.h"

#include <algorithm>
#include <tuple>

#include "engine/stores/chroma.h"
#include "util/env.h"
#include "util/time_util.h"

namespace maestro {

namespace {

struct KindSpec {
  IssueKind kind;
  const char* name;
  const char* repair;
};

const KindSpec kKinds[kNumIssueKinds] = {
    {IssueKind::kMainDbOnly, "main_db_only",
     "delete the document row from main (none of its content exists in any other store)"},
    {IssueKind::kCompletedMissingAi, "completed_missing_ai",
     "mark the document failed in main and remove its remaining chunks and files (re-upload to reprocess)"},
    {IssueKind::kCompletedMissingChunks, "completed_missing_chunks",
     "mark the document failed in main and remove its ai row, remaining chunks and files (re-upload to reprocess)"},
    {IssueKind::kCompletedMissingMarkdown, "completed_missing_markdown",
     "mark the document failed in main and remove its ai row, chunks and files (re-upload to reprocess)"},
    {IssueKind::kFailedWithLeftovers, "failed_with_leftovers",
     "remove the failed document's leftovers in this store; the main row stays, marked failed"},
    {IssueKind::kFailedStaleWithLeftovers, "failed_stale_with_leftovers",
     "remove the leftovers of this document, failed more than 24 h ago; the main row stays, marked failed"},
    {IssueKind::kMissingRawFile, "missing_raw_file",
     "mark the document failed in main (its upload is gone and cannot be processed)"},
    {IssueKind::kStuckProcessing, "stuck_processing",
     "mark the document failed in main ('stuck in processing'), then remove its leftovers"},
    {IssueKind::kAiOrphan, "ai_orphan", "delete the processed_documents row (no document in main)"},
    {IssueKind::kVectorOrphan, "vector_orphan",
     "delete the id's chunks from the dense and sparse collections (no document in main)"},
    {IssueKind::kFileOrphan, "file_orphan", "delete the file(s) in this store (no document in main)"},
    {IssueKind::kFilesOnly, "files_only",
     "delete the file(s) in this store (the id exists only in files, nowhere in the databases)"},
};

std::string Join(const std::vector<std::string>& v, size_t max = 5) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > max) out += ", ... (" + std::to_string(v.size()) + " files)";
  return out;
}

// Age in seconds of the document's last update (created_at when updated_at is
// empty); nullopt when neither parses.
std::optional<int64_t> AgeSeconds(const DocumentRow& d, int64_t now_micros) {
  for (const std::string* t : {&d.updated_at, &d.created_at}) {
    if (t->empty()) continue;
    auto parsed = ParseTime(*t);
    if (parsed.ok()) return (now_micros - *parsed) / 1000000;
  }
  return std::nullopt;
}

bool IsQueuedOrProcessing(const std::string& s) {
  return s == kStatusQueued || s == kStatusProcessing || s == kStatusCliProcessing;
}

}  // namespace

const char* IssueKindName(IssueKind k) { return kKinds[static_cast<int>(k)].name; }
const char* IssueKindRepair(IssueKind k) { return kKinds[static_cast<int>(k)].repair; }

Result<IssueKind> ParseIssueKind(const std::string& name) {
  for (const auto& s : kKinds)
    if (name == s.name) return s.kind;
  return Status::InvalidArgument("unknown issue kind '" + name + "'");
}

const std::vector<IssueKind>& AllIssueKinds() {
  static const std::vector<IssueKind> all = [] {
    std::vector<IssueKind> v;
    for (const auto& s : kKinds) v.push_back(s.kind);
    return v;
  }();
  return all;
}

CheckReport CheckInventory(const Inventory& inv, const CheckOptions& opts) {
  const int64_t now = opts.now_micros;
  CheckReport rep;
  auto add = [&](const std::string& id, std::optional<int64_t> uid, StoreId store, IssueKind kind,
                 std::string detail) { rep.issues.push_back({id, uid, store, kind, std::move(detail)}); };

  for (const DocumentRow& d : inv.documents) {
    ++rep.documents_checked;
    const bool ai = inv.HasAi(d.id);
    const ChunkCounts ch = inv.ChunksOf(d.id);
    const DocFiles* f = inv.FilesOf(d.id);
    const bool raw = f && !f->pdfs.empty();
    const bool md = f && !f->markdown.empty();
    const bool meta = f && !f->metadata.empty();
    const std::string status_text = "status " + (d.status.empty() ? std::string("NULL") : d.status);

    if (d.status == kStatusCompleted) {
      if (!ai && ch.total() == 0 && !f) {
        add(d.id, d.user_id, StoreId::kMain, IssueKind::kMainDbOnly,
            "completed document '" + d.original_filename + "' has only its main row: no ai row, chunks or files");
        continue;
      }
      if (!ai)
        add(d.id, d.user_id, StoreId::kAi, IssueKind::kCompletedMissingAi,
            "completed but no processed_documents row");
      if (ch.dense == 0 || ch.sparse == 0) {
        std::string which = ch.dense == 0 && ch.sparse == 0 ? std::string("no chunks in either collection")
                            : ch.dense == 0 ? "no chunks in " + std::string(kDenseCollection) + " (" +
                                                  std::to_string(ch.sparse) + " sparse)"
                                            : "no chunks in " + std::string(kSparseCollection) + " (" +
                                                  std::to_string(ch.dense) + " dense)";
        add(d.id, d.user_id, StoreId::kVector, IssueKind::kCompletedMissingChunks, "completed but " + which);
      }
      if (!md)
        add(d.id, d.user_id, StoreId::kMarkdown, IssueKind::kCompletedMissingMarkdown,
            "completed but processed/markdown/" + d.id + ".md is missing");
      continue;
    }

    if (d.status == kStatusFailed) {
      auto age = AgeSeconds(d, now);
      const bool stale = age && *age > opts.failed_stale_after_s;
      const IssueKind kind = stale ? IssueKind::kFailedStaleWithLeftovers : IssueKind::kFailedWithLeftovers;
      const std::string when = age ? " (failed " + FormatDuration(std::max<int64_t>(*age, 0)) + " ago)" : "";
      if (ai) add(d.id, d.user_id, StoreId::kAi, kind, "failed document still has a processed_documents row" + when);
      if (ch.total() > 0)
        add(d.id, d.user_id, StoreId::kVector, kind,
            "failed document still has " + std::to_string(ch.dense) + " dense and " + std::to_string(ch.sparse) +
                " sparse chunks" + when);
      if (raw) add(d.id, d.user_id, StoreId::kPdfs, kind, "failed document still has " + Join(f->pdfs) + when);
      if (md) add(d.id, d.user_id, StoreId::kMarkdown, kind, "failed document still has " + Join(f->markdown) + when);
      if (meta)
        add(d.id, d.user_id, StoreId::kMetadata, kind, "failed document still has " + Join(f->metadata) + when);
      continue;
    }

    if (IsQueuedOrProcessing(d.status)) {
      if (!raw)
        add(d.id, d.user_id, StoreId::kPdfs, IssueKind::kMissingRawFile,
            status_text + " but no raw file '" + d.id + "_" + d.original_filename + "' in raw_pdfs/");
      if (d.status != kStatusQueued) {
        auto age = AgeSeconds(d, now);
        if (age && *age > opts.stuck_processing_after_s)
          add(d.id, d.user_id, StoreId::kMain, IssueKind::kStuckProcessing,
              status_text + ", last updated " + FormatDuration(*age) + " ago (limit " +
                  FormatDuration(opts.stuck_processing_after_s) + ")");
      }
    }
  }

  // Orphans: only when every documents row was read (a user's scope hides the
  // rows of other users, so their ids would look orphaned).
  if (!opts.user_id || !opts.doc_id.empty()) {
    rep.orphans_checked = true;
    for (const std::string& id : inv.OrphanIds()) {
      if (!opts.doc_id.empty() && id != opts.doc_id) continue;
      ++rep.orphan_ids;
      const bool ai = inv.HasAi(id);
      const ChunkCounts ch = inv.ChunksOf(id);
      const DocFiles* f = inv.FilesOf(id);
      if (ai) add(id, std::nullopt, StoreId::kAi, IssueKind::kAiOrphan, "processed_documents row without a document in main");
      if (ch.total() > 0)
        add(id, std::nullopt, StoreId::kVector, IssueKind::kVectorOrphan,
            std::to_string(ch.dense) + " dense and " + std::to_string(ch.sparse) +
                " sparse chunks without a document in main");
      if (f) {
        const bool in_db = ai || ch.total() > 0;
        const IssueKind kind = in_db ? IssueKind::kFileOrphan : IssueKind::kFilesOnly;
        const std::string why = in_db ? " without a document in main" : ": the id is in no database";
        if (!f->pdfs.empty()) add(id, std::nullopt, StoreId::kPdfs, kind, Join(f->pdfs) + why);
        if (!f->markdown.empty()) add(id, std::nullopt, StoreId::kMarkdown, kind, Join(f->markdown) + why);
        if (!f->metadata.empty()) add(id, std::nullopt, StoreId::kMetadata, kind, Join(f->metadata) + why);
      }
    }
  }

  std::sort(rep.issues.begin(), rep.issues.end(), [](const Issue& a, const Issue& b) {
    return std::make_tuple(a.doc_id, static_cast<int>(a.store), static_cast<int>(a.kind)) <
           std::make_tuple(b.doc_id, static_cast<int>(b.store), static_cast<int>(b.kind));
  });
  for (IssueKind k : AllIssueKinds()) rep.issues_by_kind[IssueKindName(k)] = 0;
  for (const Issue& i : rep.issues) {
    ++rep.issues_by_kind[IssueKindName(i.kind)];
    ++rep.issues_by_store[StoreName(i.store)];
  }
  return rep;
}

Result<CheckReport> RunCheck(const Layout& layout, const CheckOptions& opts) {
  InventoryScope scope;
  scope.user_id = opts.user_id;
  scope.doc_id = opts.doc_id;
  if (!opts.doc_id.empty()) {
    // Read the document's row regardless of user, to tell "belongs to someone
    // else" apart from "not in main".
    scope.user_id.reset();
  }
  MAESTRO_ASSIGN_OR_RETURN(Inventory inv, Inventory::Read(layout, scope));
  if (!opts.doc_id.empty()) {
    const DocumentRow* d = inv.FindDocument(opts.doc_id);
    if (d && opts.user_id && d->user_id != *opts.user_id)
      return Status::NotFound("document " + opts.doc_id + " belongs to user " + std::to_string(d->user_id) +
                              ", not to user " + std::to_string(*opts.user_id) + " (check --user)");
    if (!d && inv.OrphanIds().empty())
      return Status::NotFound("document " + opts.doc_id + " is in no store (not in main, ai, vector or files)");
  }
  CheckOptions at = opts;
  if (!at.now_micros) at.now_micros = layout.env()->NowMicros();
  CheckReport rep = CheckInventory(inv, at);
  const Store& vector = layout.store(StoreId::kVector);
  if (vector.present) {
    MAESTRO_ASSIGN_OR_RETURN(HnswCheckReport hnsw, CheckHnswStore(layout.env(), vector.path));
    rep.hnsw_checked = true;
    rep.hnsw = std::move(hnsw.findings);
    rep.issues_by_kind[kHnswDamagedKind] = static_cast<int64_t>(rep.hnsw.size());
    if (!rep.hnsw.empty()) rep.issues_by_store[StoreName(StoreId::kVector)] += static_cast<int64_t>(rep.hnsw.size());
  }
  return rep;
}

}  // namespace maestro
