// snapshot/open_writer.h — the one way a writer opens a snapshot repository.
//
// Every writer (snap create/restore/delete/prune, reset, cleanup, migrate,
// recover and the scheduled jobs) calls OpenWriter, which takes the repository
// lock (snapshot/repo_lock.h) BEFORE anything in the repository is read, made
// or cleaned: a second writer waits (opts.lock.wait_seconds) or is refused
// (Busy naming the holder) while the first one's files are untouched. Only then
// is the repository opened, or created when opts.create and it has no config
// file yet (also the way to finish a creation a killed first writer left),
// through OpenRepository (snapshot/open_repository.h): an encrypted one with
// its password, and a new one encrypted when a password was given.
//
// Before the lock, only the config and (encrypted) the key files are read, to
// unlock the repository: a wrong password writes nothing, not even the lock.
// Before the lock, at most the repository directory itself is made (mkdir,
// mode 0700, when opts.create and it does not exist): the lock file needs a
// home, and an empty directory is nothing another writer can lose.
//
// Failure: NotFound when the directory does not exist and !opts.create (or it
// holds no repository); Busy when the lock stays held (opts.lock.stop ends the
// wait early); whatever Repository::Open reports otherwise. The lock is
// released when the returned session (or its `lock`) is destroyed.
//
// A remote repository (`rclone:REMOTE:PATH`, docs/remote.md) is opened the
// same way by OpenWriter: the lease lock (snapshot/remote_lock.h) is taken in
// its locks/ BEFORE the config is read or written, the local scratch is
// RemoteScratchDir(spec), and the repository's backend is wrapped so that
// every write or delete (other than the lock's own) fails once the lock was
// lost (RemoteLock::Valid false: a refresh failed for a whole lease): a
// writer that lost its lock never publishes a manifest beside a new holder.
#pragma once

#include <memory>
#include <string>

#include "snapshot/open_repository.h"
#include "snapshot/rclone_backend.h"
#include "snapshot/remote_lock.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

struct WriterOptions {
  RepoLockOptions lock;  // wait, poll, stop, command and log of the lock
  bool create = false;   // make the repository when the directory holds none
  // An encrypted repository's password; null = the process's
  // (snapshot/open_repository.h: OpenRepository opens, or makes, the repository).
  PasswordSource* password = nullptr;
  // Remote repositories only: the child's settings and the lease lock's
  // (its wait_seconds, command and log are taken from `lock` above).
  RcloneBackendOptions rclone;
  int64_t lease_seconds = 15 * 60;
};

struct WriterSession {
  std::unique_ptr<RepoLock> lock;        // held for as long as the session lives (local)
  std::unique_ptr<Repository> repo;
  bool created = false;               // this call made the repository
  std::string encryption = "none";    // its config's encryption=
  // Remote: the lease lock. Declared after repo so it is released (through
  // the repository's backend) before the repository and its backend go.
  std::unique_ptr<RemoteLock> remote_lock;
};

// dir: a local folder, or an rclone:REMOTE:PATH spec (IsRcloneSpec).
Result<WriterSession> OpenWriter(Env* env, const std::string& dir, const WriterOptions& opts);

// The lease lock (snapshot/remote_lock.h) of a remote repository's writer,
// taken in backend's locks/ with the writer's settings: opts.lease_seconds,
// and opts.lock's wait_seconds, command and log. OpenWriter takes it this
// way; so do the writers that open no Repository (`snap init`, `snap key`).
// backend and env must outlive the lock. Busy naming the holder when it stays held.
Result<std::unique_ptr<RemoteLock>> AcquireLeaseLock(Backend* backend, Env* env, const WriterOptions& opts);

}  // namespace maestro
