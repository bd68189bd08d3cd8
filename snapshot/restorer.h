// snapshot/restorer.h — writes one store of a snapshot back (restic's restorer).
//
// The store is written into a fresh staging path beside the target
// ("<target>.restore-tmp-<pid>"), every chunk and whole-file hash checked as it
// goes, then renamed into place (and, with opts.sync, every file and folder
// fsynced first). On any failure the staging path is removed and the target
// does not exist. Manifest paths are untrusted: an entry that is not a plain
// relative path, or whose parent is not a folder this restore made, is refused
// (Corruption), so nothing is written outside the staging path.
// Reads the repository only; needs no lock (the caller holds it for an
// in-place swap). Called from one thread; the files' content is written by
// writer threads of its own (opts.threads, snapshot/restore_writers.h), all
// stopped before it returns. Progress is reported on the calling thread.
// OpenSnapshotRestore loads a snapshot's index and head once for all its stores.
#pragma once

#include <string>

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

Status RestoreStore(const RepoFiles& files, const std::string& id, const std::string& store, const std::string& target,
                    const RestoreOptions& opts);

// The blob index and manifest head of snapshot id, loaded once for every
// store restored through it (Repository::OpenRestore). files must outlive it.
Result<std::unique_ptr<SnapshotRestore>> OpenSnapshotRestore(const RepoFiles& files, const std::string& id);

}  // namespace maestro
