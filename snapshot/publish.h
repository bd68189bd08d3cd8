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
//   StoreListing: format 4: every present store's listing is split into tree
//     blobs (snapshot/tree.h); those `held` says the repository lacks are added
//     to sink (zstd, type tree), and each store's root/tree_blobs are set.
//     Format 3: the stores' roots are cleared (a listing from a format-4
//     source is written whole). Then sink->Finish(): every pack is published.
//   PublishSnapshot: m->info keeps its id, time, label, trigger, host and
//     warnings; its stores/files/logical_bytes are recounted from m->stores
//     and stored_bytes set to the pack bytes sink published plus the index
//     file's (plus, format 4, the manifest's own). m->format_version becomes
//     the repository's. The index file is durable before the manifest is
//     written; a failure before the manifest leaves the snapshot unlisted (its
//     packs are reused by the next writer, snapshot/leftovers.h). Internal
//     error, nothing written, when a format-4 store has no root (StoreListing
//     was not called).
// Writers only (under the repository lock); one thread.
#pragma once

#include <functional>

#include "snapshot/pack_writer.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

// Whether the repository already holds blob id (its index, plus what this
// writer sent before).
using BlobHeld = std::function<bool(const Hash128&)>;

Status StoreListing(const RepoFiles& files, PackWriter* sink, const BlobHeld& held, Manifest* m);
Status PublishSnapshot(const RepoFiles& files, PackWriter* sink, Manifest* m);

}  // namespace maestro
