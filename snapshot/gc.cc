#include "snapshot/gc.h"

#include <map>
#include <set>

#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"
#include "snapshot/leftovers.h"
#include "snapshot/pack_writer.h"
#include "util/crash_point.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(gc_after_new_pack, "gc.after_new_pack");
MAESTRO_DECLARE_CRASH_POINT(gc_after_new_packs, "gc.after_new_packs");
MAESTRO_DECLARE_CRASH_POINT(gc_after_index, "gc.after_index");
MAESTRO_DECLARE_CRASH_POINT(gc_before_delete_packs, "gc.before_delete_packs");
MAESTRO_DECLARE_CRASH_POINT(gc_after_delete_packs, "gc.after_delete_packs");

namespace {

class GarbageCollector {
 public:
  GarbageCollector(const RepoFiles& files, bool dry_run) : files_(files), dry_run_(dry_run) {}

  Result<GcStats> Run() {
    if (!dry_run_) MAESTRO_RETURN_IF_ERROR(files_.EnsureScratch());
    MAESTRO_RETURN_IF_ERROR(FindNeededBlobs());
    MAESTRO_RETURN_IF_ERROR(LoadAndCheckIndex());
    if (!stats_.skipped.empty()) return stats_;
    if (!dry_run_) MAESTRO_RETURN_IF_ERROR(PutRightLeftovers());
    MAESTRO_RETURN_IF_ERROR(PlanPacks());
    if (dry_run_ || (rewrite_.empty() && drop_.empty())) return stats_;
    PackWriter sink(files_, "gc.after_new_pack");
    MAESTRO_RETURN_IF_ERROR(CopyNeededBlobs(&sink));
    MAESTRO_CRASH_POINT("gc.after_new_packs");
    std::string new_index;
    MAESTRO_RETURN_IF_ERROR(WriteKeptIndex(sink.entries(), &new_index));
    MAESTRO_CRASH_POINT("gc.after_index");
    MAESTRO_RETURN_IF_ERROR(RemoveOld(new_index));
    return stats_;
  }

 private:
  // A blob is only removable when we know for sure that no snapshot needs it: a
  // damaged manifest may reference any blob, so while one is there, GC skips.
  Status FindNeededBlobs() {
    MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, files_.ListSnapshotIds());
    // Format 4: listings are tree blobs, read through the index (a tree blob
    // only a damaged index names makes its manifest unreadable: skipped, safe).
    BlobIndex trees_idx;
    if (files_.v4()) MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &trees_idx, /*strict=*/false, nullptr, nullptr));
    for (const auto& id : ids) {
      Result<Manifest> m = LoadManifest(files_, id, &trees_idx);
      // An incomplete upload was never a snapshot: it needs nothing, and this
      // writer (under the lock, so no upload is under way) removes it.
      if (m.status().code() == Status::Code::kUnfinished) {
        if (!dry_run_) MAESTRO_RETURN_IF_ERROR(files_.backend()->Remove(ObjectKind::kManifest, id));
        continue;
      }
      if (m.status().IsCorruption()) {
        stats_.skipped = "the manifest of snapshot " + id + " is damaged (" + m.status().message() +
                         "): it may reference any blob, so no data was removed; run `maestro-db snap repair` (or `snap delete " +
                         id + "`), then `maestro-db snap prune` frees what only deleted snapshots held";
        return Status::OK();
      }
      if (!m.ok()) return m.status().Annotate("not removing any data while a manifest is unreadable");
      for (const auto& st : m->stores) {
        if (st.has_root) needed_.insert(st.root);
        for (const auto& t : st.tree_blobs) needed_.insert(t);
        for (const auto& f : st.files)
          for (const auto& c : f.chunks) needed_.insert(c);
      }
    }
    return Status::OK();
  }

  Status LoadAndCheckIndex() {
    BadIndexFiles bad_index;
    MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &idx_, /*strict=*/true, &bad_index, &old_index_files_));
    if (!bad_index.empty() && stats_.skipped.empty())
      stats_.skipped = "index file " + bad_index.front().first + " is damaged (" + bad_index.front().second.message() +
                       "): it may be the only one naming some blobs, so no data was removed; run `maestro-db snap repair`";
    return Status::OK();
  }

  // Index again what unindexed packs hold before deciding what is unreferenced.
  // (A pack named only by duplicate entries LoadIndex dropped counts as unnamed
  // here: it is read, found to add nothing, and deleted below as before.)
  Status PutRightLeftovers() {
    std::vector<IndexEntry> adopted;
    MAESTRO_RETURN_IF_ERROR(AdoptUnindexedPacks(
        files_, PacksOf(idx_), [&](const Hash128& b) { return idx_.Contains(b); }, &adopted, &damaged_));
    if (!adopted.empty()) {  // rare: load again, the new index file included
      old_index_files_.clear();
      MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &idx_, /*strict=*/true, nullptr, &old_index_files_));
    }
    return CleanLeftovers(files_, PacksOf(idx_), damaged_);
  }

  // Per pack: how many of its (chosen) index entries are still needed; packs
  // with none are dropped, packs with some are rewritten.
  Status PlanPacks() {
    struct PackUse {
      uint64_t needed = 0, unneeded = 0, unneeded_bytes = 0;
    };
    std::map<Hash128, PackUse> packs;
    MAESTRO_RETURN_IF_ERROR(idx_.ForEach([&](const IndexEntry& e) {
      PackUse& u = packs[e.pack];
      if (needed_.count(e.blob)) {
        u.needed++;
      } else {
        u.unneeded++;
        u.unneeded_bytes += e.stored_len + (e.pack_version == kRepoFormatVersion ? kBlobHeaderSize : 0);
        stats_.blobs_removed++;
      }
      return Status::OK();
    }));
    for (const auto& [pack, u] : packs) {
      if (u.unneeded == 0) continue;
      (u.needed == 0 ? drop_ : rewrite_).insert(pack);
      stats_.bytes_freed += u.unneeded_bytes;
    }
    stats_.packs_rewritten = rewrite_.size();
    stats_.packs_removed = drop_.size() + rewrite_.size();
    return Status::OK();
  }

  // 1. The needed blobs of partly-used packs into new packs (durable).
  Status CopyNeededBlobs(PackWriter* sink) {
    BlobReader reader(files_, &idx_);
    std::string raw, stored;
    Status s = idx_.ForEach([&](const IndexEntry& e) {
      if (!rewrite_.count(e.pack) || !needed_.count(e.blob)) return Status::OK();
      // Read and checked whole: a damaged blob must not be laundered into a new pack.
      MAESTRO_RETURN_IF_ERROR(reader.ReadEntry(e, &raw, &stored).Annotate("garbage collection"));
      // Copied as the repository's current pack version (a format-3 pack's
      // blobs move into version-4 packs once the repository is upgraded).
      return sink->Add(e.blob, e.raw_len, stored, e.codec, e.type);
    });
    MAESTRO_RETURN_IF_ERROR(s);
    return sink->Finish();
  }

  // 2. One new index holding every kept entry; published before anything goes.
  Status WriteKeptIndex(const std::vector<IndexEntry>& copied, std::string* name) {
    std::vector<IndexEntry> kept;
    MAESTRO_RETURN_IF_ERROR(idx_.ForEach([&](const IndexEntry& e) {
      if (needed_.count(e.blob) && !rewrite_.count(e.pack) && !drop_.count(e.pack)) kept.push_back(e);
      return Status::OK();
    }));
    kept.insert(kept.end(), copied.begin(), copied.end());
    if (kept.empty()) return Status::OK();
    return WriteIndexFile(files_, kept, name);
  }

  // 3. Old index files, then the packs nothing names any more.
  Status RemoveOld(const std::string& new_index) {
    for (const auto& n : old_index_files_)
      if (n != new_index) MAESTRO_RETURN_IF_ERROR(files_.backend()->Remove(ObjectKind::kIndex, n));
    MAESTRO_CRASH_POINT("gc.before_delete_packs");
    for (const auto* set : {&drop_, &rewrite_})
      for (const auto& p : *set) MAESTRO_RETURN_IF_ERROR(files_.backend()->Remove(ObjectKind::kPack, PackName(p)));
    MAESTRO_CRASH_POINT("gc.after_delete_packs");
    return Status::OK();
  }

  const RepoFiles& files_;
  const bool dry_run_;
  GcStats stats_;
  HashSet needed_;
  BlobIndex idx_;
  std::vector<std::string> old_index_files_;
  std::set<std::string> damaged_;
  std::set<Hash128> rewrite_, drop_;
};

}  // namespace

Result<GcStats> RemoveUnreferencedData(const RepoFiles& files, bool dry_run) {
  return GarbageCollector(files, dry_run).Run();
}

}  // namespace maestro
