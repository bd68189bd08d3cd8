// snapshot/archive_walk.h — the first step of Create: walks a store (stat
// only, nothing is read) and hands its entries, in listing order (tree.h
// CompareListingPaths), one at a time to the caller (Create writes them to
// its plan file, snapshot/plan_file.h): path, type, mode, owner, mtime, inode,
// size from the stat, link target, and whether a file is captured as SQLite.
// Memory: one folder's listing at a time per level of depth, not the store's.
//
// SQLite files inside a folder store (a *.sqlite3 or any SQLite-headed file of
// 512 bytes or more) are marked sqlite_backup, and their -wal, -shm and
// -journal companions are left out (the backup holds their content); a file
// the parent snapshot has with the same size, mtime and inode is not opened
// to look at its header. chroma.lock is left out. FIFOs, sockets and devices
// are never opened: they are named in the snapshot's warnings.
// One caller thread; a large folder's stats, and the header reads of each run
// of files between its subfolders, run on a few threads at once (cold-cache
// latency); the plan is the same as one thread's. The parent is asked in
// listing order (a ParentCursor, snapshot/parent_files.h).
// Reads the file system only.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/parent_files.h"
#include "snapshot/repository.h"
#include "util/env.h"

namespace maestro {

class StoreWalker {
 public:
  using EmitFn = std::function<Status(ManifestFile&&)>;
  explicit StoreWalker(Env* env) : env_(env) {}

  // Plans src (st's name and flags already set): every entry to emit, in
  // listing order. parent (may be null) is src's store in the parent
  // snapshot. A store that is not there is recorded as absent (st->present =
  // false). BadStore when the path is not the kind the store expects.
  Status PlanStore(const SnapshotSource& src, ManifestStore* st, ParentCursor* parent, const EmitFn& emit,
                   std::vector<std::string>* warnings);
  // The same, the entries appended to st->files (small stores, tests).
  Status PlanStore(const SnapshotSource& src, ManifestStore* st, std::vector<std::string>* warnings);

 private:
  struct Walk;  // one PlanStore's store, parent, emit and warnings
  using Stats = std::vector<std::pair<DirEntry, FileInfo>>;
  Status PlanFileStore(const SnapshotSource& src, const FileInfo& fi, const EmitFn& emit);
  Status WalkDir(Walk& w, const std::string& rel);
  // Entries [begin, end) of one folder, none a folder: SQLite headers
  // looked at (a few threads), then emitted.
  Status EmitRun(Walk& w, const std::string& abs, const std::string& rel, const Stats& stats, size_t begin, size_t end,
                 std::set<std::string>* sqlite_names);
  // Stats of the entries of abs, sorted by name (entries gone since the listing left out).
  Status StatEntries(const std::string& abs, Stats* stats);

  Env* env_;
};

}  // namespace maestro
