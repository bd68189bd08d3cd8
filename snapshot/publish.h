// snapshot/publish.h — the last steps of every writer that makes a snapshot
// (`snap create`'s archiver, `snap copy`'s copier): the listing is stored for
// the repository's format, the blobs a PackWriter published get their index
// file, then the manifest is written (the commit point).
//
// The one place a snapshot's listing is encoded for its repository: the
// archiver and the copier both end here, so a change of how a listing is
// stored (format 4's tree blobs, docs/format-4.md; sealing, docs/encryption.md)
// applies to copies as to new snapshots, and a copy always takes the target's
// encoding, whatever the source's was: a format-3 target gets a format-3
// manifest holding every entry, a format-4 target tree blobs (named by its
// Sealer) and a small manifest.
//
// Contract, called in this order on one sink:
//   ListingWriter, one per present store, fed its entries as they come:
//     format 4: the listing is cut into tree blobs (snapshot/tree.h); those
//     `held` says the repository lacks are added to sink (zstd, type tree) at
//     once, and Finish sets the store's root/tree_blobs. Format 3: the roots
//     are cleared and the entries kept in the store (a listing from a
//     format-4 source is written whole). Then sink->Finish(): every pack is
//     published.
//   PublishSnapshot: m->info keeps its id, time, label, trigger, host and
//     warnings; its stores/files/logical_bytes are recounted from m->stores
//     and stored_bytes set to the pack bytes sink published plus the index
//     file's (plus, format 4, the manifest's own). m->format_version becomes
//     the repository's. The index file is durable before the manifest is
//     written; a failure before the manifest leaves the snapshot unlisted (its
//     packs are reused by the next writer, snapshot/leftovers.h). Internal
//     error, nothing written, when a format-4 store has no root (its
//     ListingWriter was not finished).
// Writers only (under the repository lock); one thread.
#pragma once

#include <functional>
#include <memory>

#include "snapshot/blob_index.h"
#include "snapshot/pack_writer.h"
#include "snapshot/pending_blobs.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

// Whether the repository already holds blob id (its index, plus what this
// writer sent before).
using BlobHeld = std::function<bool(const Hash128&)>;

class TreeWriter;

// One store's listing, written as its entries come (in listing order).
// Format 4: a TreeWriter (snapshot/tree.h); each tree blob `held` says the
// repository lacks and `added` (shared by one snapshot's stores: the tree
// blobs it claimed, bounded by its budget, snapshot/pending_blobs.h) has not
// claimed yet goes to sink at once. Format 3: the entries are appended to
// st->files (a format-3 manifest holds its whole listing). One thread.
class ListingWriter {
 public:
  // files, sink, held, added and st must outlive the writer.
  ListingWriter(const RepoFiles& files, PackWriter* sink, const BlobHeld& held, PendingBlobs* added, ManifestStore* st);
  ~ListingWriter();
  Status Add(ManifestFile&& f);
  // Format 4: the last tree blobs and the root; sets st's root and tree_blobs.
  Status Finish();

 private:
  const RepoFiles& files_;
  PackWriter* sink_;
  const BlobHeld& held_;
  PendingBlobs* added_;
  ManifestStore* st_;
  std::unique_ptr<TreeWriter> tree_;
  std::string z_;  // compression scratch
};

struct ListingTotals {
  uint64_t files = 0, logical_bytes = 0;  // regular files, their sizes
};

// totals: null = count m->stores' files.
Status PublishSnapshot(const RepoFiles& files, PackWriter* sink, Manifest* m, const ListingTotals* totals = nullptr);

}  // namespace maestro
