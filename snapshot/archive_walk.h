// snapshot/archive_walk.h — the first step of Create: walks a store (stat
// only, nothing is read) and plans its entries straight into the new
// manifest's file list: path, type, mode, owner, mtime, inode, size from the
// stat, link target, and whether a file is captured as SQLite.
//
// SQLite files inside a folder store (a *.sqlite3 or any SQLite-headed file of
// 512 bytes or more) are marked sqlite_backup, and their -wal, -shm and
// -journal companions are left out (the backup holds their content); a file
// the parent snapshot has with the same size, mtime and inode is not opened
// to look at its header. chroma.lock is left out. FIFOs, sockets and devices
// are never opened: they are named in the snapshot's warnings.
// One caller thread; a large folder's stats and header reads run on a few
// threads at once (cold-cache latency), the plan is the same as one thread's.
// Reads the file system only.
#pragma once

#include <string>
#include <vector>

#include "snapshot/parent_files.h"
#include "snapshot/repository.h"
#include "util/env.h"

namespace maestro {

class StoreWalker {
 public:
  // parent may be null (no parent snapshot); it must outlive the walker.
  StoreWalker(Env* env, const ParentFiles<ParentFile>* parent) : env_(env), parent_(parent) {}

  // Plans src into st (name and flags already set). A store that is not
  // there is recorded as absent (st->present = false). BadStore when the
  // path is not the kind the store expects.
  Status PlanStore(const SnapshotSource& src, ManifestStore* st, std::vector<std::string>* warnings);

 private:
  Status PlanFileStore(const SnapshotSource& src, const FileInfo& fi, ManifestStore* st);
  Status WalkDir(const std::string& store_name, const std::string& root, const std::string& rel,
                 std::vector<ManifestFile>* files, std::vector<std::string>* warnings);
  // Stats of the entries of abs, sorted by name (entries gone since the listing left out).
  Status StatEntries(const std::string& abs, std::vector<std::pair<DirEntry, FileInfo>>* stats);

  Env* env_;
  const ParentFiles<ParentFile>* parent_;
};

}  // namespace maestro
