#include "snapshot/gc.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "snapshot/blob_id_set.h"
#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"
#include "snapshot/leftovers.h"
#include "snapshot/listing_reader.h"
#include "snapshot/pack_writer.h"
#include "snapshot/reader_lock.h"
#include "util/crash_point.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(gc_after_new_pack, "gc.after_new_pack");
MAESTRO_DECLARE_CRASH_POINT(gc_after_new_packs, "gc.after_new_packs");
MAESTRO_DECLARE_CRASH_POINT(gc_after_index, "gc.after_index");
MAESTRO_DECLARE_CRASH_POINT(gc_before_delete_packs, "gc.before_delete_packs");
MAESTRO_DECLARE_CRASH_POINT(gc_after_delete_packs, "gc.after_delete_packs");

namespace {

// The kept entries as index files of at most `limit` entries each, each
// published (durable) when full: bounded memory, and safe at any moment, as
// every entry names a pack that is durable and stays until the old index
// files are gone.
class IndexPieces {
 public:
  IndexPieces(const RepoFiles& files, size_t limit) : files_(files), limit_(std::max<size_t>(limit, 1)) {}
  Status Add(const IndexEntry& e) {
    buf_.push_back(e);
    return buf_.size() >= limit_ ? Flush() : Status::OK();
  }
  Status Flush() {
    if (buf_.empty()) return Status::OK();
    std::string name;
    MAESTRO_RETURN_IF_ERROR(WriteIndexFile(files_, buf_, &name));
    std::vector<IndexEntry>().swap(buf_);
    names_.insert(name);
    return Status::OK();
  }
  const std::set<std::string>& names() const { return names_; }

 private:
  const RepoFiles& files_;
  const size_t limit_;
  std::vector<IndexEntry> buf_;
  std::set<std::string> names_;
};

class GarbageCollector {
 public:
  GarbageCollector(const RepoFiles& files, bool dry_run, double max_unused)
      : files_(files),
        dry_run_(dry_run),
        max_unused_(max_unused),
        needed_(files.env(), files.CacheDir(), files.memory_budget()),
        idx_(files.env(), files.CacheDir(), files.memory_budget()) {}

  Result<GcStats> Run() {
    if (!dry_run_) {
      MAESTRO_RETURN_IF_ERROR(files_.EnsureScratch());
      // Before anything is read: a reader holding the lock may use any pack
      // (reader_lock.h; on a remote, other hosts' readers too).
      auto readers = ReaderLock::Exclusive(files_);
      if (readers.status().IsBusy()) {
        stats_.skipped = readers.status().message();
        return stats_;
      }
      MAESTRO_RETURN_IF_ERROR(readers.status());
      readers_ = std::move(readers).value();
    }
    std::string bad_index;
    MAESTRO_RETURN_IF_ERROR(LoadAndCheckIndex(&bad_index));
    MAESTRO_RETURN_IF_ERROR(FindNeededBlobs());
    if (stats_.skipped.empty()) stats_.skipped = bad_index;  // a damaged manifest is named first
    if (!stats_.skipped.empty()) return stats_;
    if (!dry_run_) MAESTRO_RETURN_IF_ERROR(PutRightLeftovers());
    MAESTRO_RETURN_IF_ERROR(PlanPacks());
    if (dry_run_ || (rewrite_.empty() && drop_.empty())) return stats_;
    IndexPieces pieces(files_, std::max<size_t>(1, files_.memory_budget() / (2 * sizeof(IndexEntry))));
    PackWriter sink(files_, "gc.after_new_pack");
    MAESTRO_RETURN_IF_ERROR(CopyNeededBlobs(&sink, &pieces));
    MAESTRO_CRASH_POINT("gc.after_new_packs");
    MAESTRO_RETURN_IF_ERROR(WriteKeptIndex(&pieces));
    MAESTRO_CRASH_POINT("gc.after_index");
    MAESTRO_RETURN_IF_ERROR(RemoveOld(pieces.names()));
    return stats_;
  }

 private:
  // A blob is only removable when we know for sure that no snapshot needs it: a
  // damaged manifest may reference any blob, so while one is there, GC skips.
  // Each listing is streamed (ListingReader): one tree blob in memory at a time.
  Status FindNeededBlobs() {
    MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, files_.ListSnapshotIds());
    for (const auto& id : ids) {
      Result<Manifest> m = LoadManifestHead(files_, id);
      // An incomplete upload was never a snapshot: it needs nothing, and this
      // writer (under the lock, so no upload is under way) removes it.
      if (m.status().code() == Status::Code::kUnfinished) {
        if (!dry_run_) MAESTRO_RETURN_IF_ERROR(files_.backend()->Remove(ObjectKind::kManifest, id));
        continue;
      }
      Status s = m.status();
      if (s.ok()) s = AddNeeded(*m);
      // Format 4: a tree blob only a damaged index names makes its listing
      // unreadable: the manifest counts as damaged (skipped, safe).
      if (s.IsCorruption()) {
        stats_.skipped = "the manifest of snapshot " + id + " is damaged (" + s.message() +
                         "): it may reference any blob, so no data was removed; run `maestro-db snap repair` (or `snap delete " +
                         id + "`), then `maestro-db snap prune` frees what only deleted snapshots held";
        return Status::OK();
      }
      if (!s.ok()) return s.Annotate("not removing any data while a manifest is unreadable");
    }
    return needed_.Seal().Annotate("collecting the blobs the snapshots need");
  }

  Status AddNeeded(const Manifest& m) {
    for (const auto& st : m.stores) {
      if (st.has_root) MAESTRO_RETURN_IF_ERROR(needed_.Add(st.root));
      ListingReader listing(files_, &idx_, st, "snapshot " + m.info.id + ", listing of store " + st.name);
      ManifestFile f;
      while (listing.Next(&f))
        for (const auto& c : f.chunks) MAESTRO_RETURN_IF_ERROR(needed_.Add(c));
      MAESTRO_RETURN_IF_ERROR(listing.status());
      for (const auto& t : listing.tree_blobs()) MAESTRO_RETURN_IF_ERROR(needed_.Add(t));
    }
    return Status::OK();
  }

  Status LoadAndCheckIndex(std::string* bad) {
    BadIndexFiles bad_index;
    MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &idx_, /*strict=*/true, &bad_index, &old_index_files_));
    if (!bad_index.empty())
      *bad = "index file " + bad_index.front().first + " is damaged (" + bad_index.front().second.message() +
             "): it may be the only one naming some blobs, so no data was removed; run `maestro-db snap repair`";
    return Status::OK();
  }

  // Index again what unindexed packs hold before deciding what is unreferenced.
  // (A pack named only by duplicate entries LoadIndex dropped counts as unnamed
  // here: it is read, found to add nothing, and deleted below as before.)
  Status PutRightLeftovers() {
    std::vector<IndexEntry> adopted;
    HashSet packs;
    MAESTRO_RETURN_IF_ERROR(PacksOf(idx_, &packs));
    MAESTRO_RETURN_IF_ERROR(AdoptUnindexedPacks(
        files_, packs, [&](const Hash128& b) { return idx_.Contains(b); }, &adopted, &damaged_));
    MAESTRO_RETURN_IF_ERROR(idx_.status());
    if (!adopted.empty()) {  // rare: load again, the new index file included
      old_index_files_.clear();
      MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &idx_, /*strict=*/true, nullptr, &old_index_files_));
      MAESTRO_RETURN_IF_ERROR(PacksOf(idx_, &packs));
    }
    return CleanLeftovers(files_, packs, damaged_);
  }

  // Per pack: how many of its (chosen) index entries are still needed. Packs
  // with none are dropped. Partly used packs are rewritten most-unused first,
  // until what stays unused is at most max_unused_ of what stays (restic's
  // --max-unused, 5% by default): a 1% day spreads a few dead blobs over most
  // packs, and rewriting every pack for them would copy nearly the whole
  // repository at each prune.
  // The unused blobs of a pack that stays keep their index entries, so the
  // next collection still counts them. One pass over the index in blob-id
  // order, so the needed set is read in order too.
  Status PlanPacks() {
    struct PackUse {
      uint64_t needed = 0, unneeded = 0, unneeded_bytes = 0, bytes = 0;
    };
    std::map<Hash128, PackUse> packs;
    Status s = idx_.ForEach([&](const IndexEntry& e) {
      PackUse& u = packs[e.pack];
      const uint64_t share = StoredShare(e) + (e.pack_version == kRepoFormatVersion ? kBlobHeaderSize : 0);
      u.bytes += share;
      if (needed_.Contains(e.blob)) {
        u.needed++;
        return Status::OK();
      }
      u.unneeded++;
      u.unneeded_bytes += share;
      return needed_.status();  // "not needed" only if the set could be read
    });
    MAESTRO_RETURN_IF_ERROR(s);
    auto collect = [&](const PackUse& u) {
      stats_.blobs_removed += u.unneeded;
      stats_.bytes_freed += u.unneeded_bytes;
    };
    uint64_t kept_bytes = 0, unused_bytes = 0;
    std::vector<std::pair<double, Hash128>> partly;  // (unused share, pack)
    for (const auto& [pack, u] : packs) {
      if (u.needed == 0) {
        drop_.insert(pack);
        collect(u);
        continue;
      }
      kept_bytes += u.bytes;
      unused_bytes += u.unneeded_bytes;
      if (u.unneeded == 0) continue;
      partly.emplace_back(static_cast<double>(u.unneeded_bytes) / static_cast<double>(std::max<uint64_t>(u.bytes, 1)),
                          pack);
    }
    std::sort(partly.begin(), partly.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [share, pack] : partly) {
      if (static_cast<double>(unused_bytes) <= max_unused_ * static_cast<double>(kept_bytes)) break;
      const PackUse& u = packs[pack];
      rewrite_.insert(pack);
      collect(u);
      unused_bytes -= u.unneeded_bytes;
      kept_bytes -= u.unneeded_bytes;
    }
    stats_.packs_rewritten = rewrite_.size();
    stats_.packs_removed = drop_.size() + rewrite_.size();
    return Status::OK();
  }

  // 1. The needed blobs of partly-used packs into new packs (durable); the
  // entries of each published pack go to the kept index as they come.
  Status CopyNeededBlobs(PackWriter* sink, IndexPieces* pieces) {
    BlobReader reader(files_, &idx_);
    std::string raw, stored;
    auto take = [&] {
      for (const auto& e : sink->TakeEntries()) MAESTRO_RETURN_IF_ERROR(pieces->Add(e));
      return Status::OK();
    };
    Status s = idx_.ForEach([&](const IndexEntry& e) {
      if (!rewrite_.count(e.pack) || !needed_.Contains(e.blob)) return needed_.status();
      // Read and checked whole: a damaged blob must not be laundered into a new pack.
      MAESTRO_RETURN_IF_ERROR(reader.ReadEntry(e, &raw, &stored).Annotate("garbage collection"));
      // Copied as the repository's current pack version (a format-3 pack's
      // blobs move into version-4 packs once the repository is upgraded).
      // A group member joins a new group (its old group may hold blobs no longer needed).
      MAESTRO_RETURN_IF_ERROR(e.codec == BlobCodec::kGroup ? sink->AddToGroup(e.blob, raw)
                                                           : sink->Add(e.blob, e.raw_len, stored, e.codec, e.type));
      return take();
    });
    MAESTRO_RETURN_IF_ERROR(s);
    MAESTRO_RETURN_IF_ERROR(sink->Finish());
    return take();
  }

  // 2. Every entry of a pack that stays in new index files (its unused ones
  // too: see PlanPacks); all published before anything goes.
  Status WriteKeptIndex(IndexPieces* pieces) {
    MAESTRO_RETURN_IF_ERROR(idx_.ForEach([&](const IndexEntry& e) {
      if (rewrite_.count(e.pack) || drop_.count(e.pack)) return Status::OK();
      return pieces->Add(e);
    }));
    return pieces->Flush();
  }

  // 3. Old index files, then the packs nothing names any more. Each kind in
  // one batch (RemoveMany: one directory fsync each), the index files' removal
  // durable before the first pack goes, so no index left after a crash names
  // a removed pack.
  Status RemoveOld(const std::set<std::string>& new_index) {
    std::vector<std::string> index, packs;
    for (const auto& n : old_index_files_)
      if (!new_index.count(n)) index.push_back(n);
    MAESTRO_RETURN_IF_ERROR(files_.backend()->RemoveMany(ObjectKind::kIndex, index));
    MAESTRO_CRASH_POINT("gc.before_delete_packs");
    for (const auto* set : {&drop_, &rewrite_})
      for (const auto& p : *set) packs.push_back(PackName(p));
    MAESTRO_RETURN_IF_ERROR(files_.backend()->RemoveMany(ObjectKind::kPack, packs));
    MAESTRO_CRASH_POINT("gc.after_delete_packs");
    return Status::OK();
  }

  const RepoFiles& files_;
  const bool dry_run_;
  const double max_unused_;  // see PlanPacks
  GcStats stats_;
  BlobIdSet needed_;
  BlobIndex idx_;
  std::vector<std::string> old_index_files_;
  std::set<std::string> damaged_;
  std::set<Hash128> rewrite_, drop_;
  std::unique_ptr<ReaderLock> readers_;  // held for the whole run (not in a dry run)
};

}  // namespace

Result<GcStats> RemoveUnreferencedData(const RepoFiles& files, bool dry_run, double max_unused) {
  return GarbageCollector(files, dry_run, max_unused).Run();
}

}  // namespace maestro
