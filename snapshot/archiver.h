// snapshot/archiver.h — `snap create`: captures every source at one moment
// and publishes one snapshot (restic's archiver).
//
// Steps, in order (each a function of archiver.cc):
//   1. put right what an interrupted writer left, and learn which blobs are
//      stored (snapshot/leftovers.h, blob_index.h);
//   2. load the parent's manifest head, the newest snapshot
//      (snapshot/parent_files.h);
//   3. plan: walk every store, stat only (snapshot/archive_walk.h), into a
//      plan file in tmp/ (snapshot/plan_file.h), the parent read in step;
//   4. capture every SQLite file with the online backup API, back to back,
//      on a thread of their own while step 5 stores the other files (a
//      reader that meets an SQLite file waits for its capture;
//      snapshot/sqlite_capture.h BackgroundCapture);
//   5. chunk, store and list, a batch of the plan at a time: files unchanged
//      since the parent (read again in step) reuse its chunk lists unread,
//      others are read, chunked and hashed by reader threads
//      (snapshot/file_saver.h, read_pool.h) and compressed into packs by
//      worker threads (snapshot/compress_pool.h, pack_writer.h); then the
//      batch's entries go to the store's listing (format 4: tree blobs as
//      the cuts come, snapshot/publish.h ListingWriter) and are dropped;
//      index files are published every PackWriter::kIndexPiece entries;
//   6. publish: the last index file, then the manifest (the commit point).
// Memory (issue 14 point 2, format 4): file data in flight is bounded by
// (queue depth + workers) x max chunk size; entries by the batch size, one
// folder's listing per depth of the walk and two tree blobs of the parent;
// index entries by kIndexPiece. What still grows with the repository: the
// sorted list of stored blob ids (16 bytes a blob), the ids of this
// snapshot's new data and tree blobs (each a PendingBlobs: on disk past its
// budget), the index entries of tree blobs, and each store's
// list of tree blob ids (16 bytes a ~16 KiB tree blob). Format 3 keeps its
// whole listing in its manifest, so there the listing is held (not bounded).
// Progress totals are the walk's (a file that changes size while read is
// counted at its walk size); an SQLite file counts its backup's size once a
// reader takes it, as the captures run beside the readers.
//
// Crash: before step 6's manifest nothing is listed; packs already published
// are indexed again or removed by the next writer, the plan file and SQLite
// copies in tmp/ are removed by it. Writers only (under the repository lock).
#pragma once

#include <vector>

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

// How much Create holds at once (tests make it small).
struct CreateLimits {
  size_t batch_entries = 4096;  // plan entries read, stored and listed at a time
};

Result<SnapshotInfo> CreateSnapshot(const RepoFiles& files, const std::vector<SnapshotSource>& sources,
                                    const CreateOptions& opts, const CreateLimits& limits = CreateLimits());

}  // namespace maestro
