// snapshot/archiver.h — `snap create`: captures every source at one moment
// and publishes one snapshot (restic's archiver).
//
// Steps, in order (each a function of archiver.cc):
//   1. put right what an interrupted writer left, and learn which blobs are
//      stored (snapshot/leftovers.h, blob_index.h);
//   2. load the parent, the newest snapshot (snapshot/parent_files.h);
//   3. plan: walk every store, stat only (snapshot/archive_walk.h);
//   4. capture every SQLite file with the online backup API, back to back
//      (snapshot/sqlite_capture.h);
//   5. chunk and store: files unchanged since the parent reuse its chunk
//      lists unread, others are read, chunked and hashed on this thread
//      (snapshot/file_saver.h) and compressed into packs by worker threads
//      (snapshot/compress_pool.h, pack_writer.h);
//   6. publish: the index file, then the manifest (the commit point).
// Queues are bounded, so file data in flight is bounded by (queue depth +
// workers) x max chunk size, whatever the data size. What grows with the
// number of files is kept small: the plan is the new manifest itself, the
// parent is held as ParentFile, the stored blobs as a sorted id list.
//
// Crash: before step 6's manifest nothing is listed; packs already published
// are indexed again or removed by the next writer. Writers only (under the
// repository lock).
#pragma once

#include <vector>

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

Result<SnapshotInfo> CreateSnapshot(const RepoFiles& files, const std::vector<SnapshotSource>& sources,
                                    const CreateOptions& opts);

}  // namespace maestro
