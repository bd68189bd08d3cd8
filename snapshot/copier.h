// snapshot/copier.h — `snap copy`: snapshots from one repository into another.
//
// Interface agreed before the code (issue 15 point 3; docs/format-4.md
// "Copies between repositories"). Contract:
//   - Each copied snapshot keeps its id, creation time, label, trigger, host
//     and warnings. A snapshot the target already lists (same id) is skipped.
//   - Only the blobs the target lacks are sent. When the two repositories name
//     blobs alike (Sealer::Scheme equal and, encrypted, the same id key) a blob
//     the target's index holds is not read at all; otherwise every chunk is
//     re-hashed under the target's scheme and the listing re-encoded.
//   - Nothing on the target is deleted or overwritten (append-only targets
//     work). The target's manifest is written last, after every blob it needs
//     is in a published pack and index, and after the target's copy of every
//     blob was checked against its id from the bytes received.
//   - A copy killed at any point leaves the target listing the snapshots it had
//     before; the next copy reuses the packs that were uploaded.
//   - The caller holds the target's writer lock; the source needs none.
//   - Verified on arrival: each blob sent is read whole from the source and
//     its id recomputed from its bytes (decompressed, hashed under the
//     target's Sealer, snapshot/sealer.h) before it goes into a target pack;
//     a source pack sent as it is (below) is proved first: every blob so, and
//     all its bytes against its name. Every pack uploaded is then Stat'ed on
//     the target for its full length before an index file names it (index
//     pieces of PackWriter::kIndexPiece entries as the copy goes); the
//     manifest is written last (snapshot/publish.h: the archiver's own
//     publish step, so the target's format encodes it).
//   - Whole packs: when both ends name blobs alike, the target is format 4 and
//     the source keeps its packs as local files, a source pack whose blobs
//     are exactly the ones this snapshot sends from it goes as it is, under
//     its own name (snapshot/whole_pack.h; Backend::PutCopyOf, which lets
//     rclone read the file itself). Any other pack's blobs go one by one.
//   - Memory (issue 14 point 2): the source's listing is streamed and the
//     target's written as its entries come (publish.h's ListingWriter); the
//     blob sets are BlobIndex/BlobIdSet bounded by the target's memory budget.
//     Not bounded: a format-3 target's listing (that format holds it whole).
//   - The target's format, whatever the source's: a format-4 target gets the
//     listing as its own tree blobs (named by its Sealer) and a small manifest,
//     a format-3 target a format-3 manifest and version-1 packs (zstd only).
//     The source's tree blobs are read for the listing, never copied.
//   - Snapshots are copied one at a time, in the order given: each is listed
//     on the target as soon as it is complete.
// Thread safety: one call at a time per target.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "snapshot/repository.h"
#include "util/status.h"

namespace maestro {

struct CopyProgress {
  uint64_t snapshots_done = 0, snapshots_total = 0;
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_sent = 0;     // stored bytes uploaded to the target so far
  uint64_t bytes_skipped = 0;  // blob bytes the target had already
  // Stored bytes of the blobs the current snapshot's copy sends (known before
  // it starts, for a rate and an ETA); bytes_done of those sent so far.
  uint64_t bytes_total = 0, bytes_done = 0;
  std::string current;         // snapshot id being copied
};

struct CopyOptions {
  std::function<void(const CopyProgress&)> progress;  // may be null; calling thread
  int threads = 0;                                    // 0 = number of cores
  // Re-hash and re-encode every chunk under the target's scheme even when the
  // two repositories name blobs alike (the cross-scheme path; tests use it).
  bool rehash = false;
};

struct CopyResult {
  std::vector<std::string> copied;   // ids, in the order copied
  std::vector<std::string> skipped;  // ids the target already listed
  uint64_t blobs_sent = 0, bytes_sent = 0, blobs_skipped = 0, bytes_skipped = 0;
};

// InvalidArgument when the specs `from` and `to` name one repository: the same
// spec, or two local paths to the same folder on disk (a linked parent folder).
// Checked on the specs, so a command can refuse before it locks or opens
// either end; CopySnapshots checks its two repositories again.
Status CheckDistinctRepositories(Env* env, const std::string& from, const std::string& to);

// Copies snapshots `ids` (resolved full ids of `from`) into `to`.
// NotFound for an id `from` does not list; Corruption when a source blob
// fails its checks (nothing of that snapshot is published on the target).
Result<CopyResult> CopySnapshots(Repository* from, Repository* to, const std::vector<std::string>& ids,
                                 const CopyOptions& opts);

}  // namespace maestro
