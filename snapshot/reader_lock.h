// snapshot/reader_lock.h — long readers and garbage collection keep out of
// each other's way.
//
// <repo>/lock.readers (an empty file, never removed) is flock()ed SHARED by a
// long reader of the repository for as long as it reads (`snap restore --to`,
// `snap copy`'s source), and EXCLUSIVE by garbage collection
// (snapshot/gc.h) before it removes, or rewrites, anything. Nothing else takes
// it: a create or a delete (which only add files, or remove manifests)
// never waits for a reader, and readers never wait for a writer that is not
// collecting garbage.
//
// GC never waits: when a reader holds the file, it removes nothing and says so
// (GcStats::skipped). The snapshots a prune removed stay removed; the next
// prune collects their data (a GC left out is always safe to run later).
// A reader that finds a GC running waits for it up to its --lock-wait, then
// fails with Busy, having read nothing.
//
// The file orders the processes of one host. A remote repository
// (`rclone:REMOTE:PATH`) is read from other hosts too, so there the same lock
// is a lease lock object in the remote's locks/ (snapshot/remote_lock.h,
// "Modes"): a reader writes a `mode=reader` object, refreshed while it reads;
// GC writes a `mode=collector` object and lists, and skips while another
// holder's reader object is live. Shared(Repository*) and Exclusive(RepoFiles)
// pick the form from the repository (a remote GC takes both: the local file
// in its scratch folder and the remote object).
//
// A kill drops the flock with the process. Readers that may not create the
// file (a read-only mount, another user's repository) lock it read-only if it
// exists, or run without it, told so through ReaderLock::note().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "snapshot/remote_lock.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

class ReaderLock {
 public:
  // Shared, waiting up to wait_seconds for a running GC (polling every
  // poll_micros); Busy after that. When the lock file can neither be opened
  // nor made (permissions, a read-only file system), a ReaderLock that holds
  // nothing is returned, with note() saying why.
  static Result<std::unique_ptr<ReaderLock>> Shared(Env* env, const std::string& repo_dir, double wait_seconds = 0,
                                                    int64_t poll_micros = 100000);
  // As above, for the repository `repo` opened: its local folder's file, or,
  // for a remote repository, a reader lock object there (waiting as above for
  // another host's GC; a remote that refuses the object is run without it,
  // told through note(), as a read-only folder is).
  static Result<std::unique_ptr<ReaderLock>> Shared(Repository* repo, double wait_seconds = 0,
                                                    int64_t poll_micros = 100000);
  // Exclusive, not waiting: Busy while a reader holds it.
  static Result<std::unique_ptr<ReaderLock>> Exclusive(Env* env, const std::string& repo_dir);
  // As above for GC of the repository behind files: the folder's file, and
  // for a remote one also the collector lock object (Busy naming the reader).
  static Result<std::unique_ptr<ReaderLock>> Exclusive(const RepoFiles& files);

  static std::string Path(const std::string& repo_dir);

  bool held() const { return lock_ != nullptr || remote_ != nullptr; }
  const std::string& note() const { return note_; }  // "" when held

 private:
  // A lock that holds nothing: the read goes on, note() says why.
  static std::unique_ptr<ReaderLock> Unheld(const Status& why);
  ReaderLock(std::unique_ptr<FileLock> lock, std::unique_ptr<RemoteLock> remote, std::string note)
      : lock_(std::move(lock)), remote_(std::move(remote)), note_(std::move(note)) {}
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<RemoteLock> remote_;  // a remote repository's reader or collector object
  std::string note_;
};

}  // namespace maestro
