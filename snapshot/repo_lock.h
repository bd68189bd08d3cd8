// snapshot/repo_lock.h — one writer at a time per snapshot repository.
//
// Words:
//   lock file      <repo>/lock, an empty file that is flock()ed exclusively by
//                  the writer. The kernel releases it when the holder exits or
//                  dies, so a lock can never outlive its process. The file
//                  itself is never removed (removing a flock()ed file lets two
//                  processes lock two different inodes).
//   holder record  <repo>/lock.holder, written (temp + rename) right after the
//                  flock is won: pid, host, command line and since (UTC). It
//                  only serves to name the holder to a refused or waiting writer;
//                  the flock alone decides who holds the lock.
//
// Who takes it: every writer of the repository (snap create, restore, delete,
// prune; reset, cleanup, migrate, schedule). Readers (list, show, verify, diff)
// never take it and never block; the long readers (`snap restore --to`, a
// copy's local source) take snapshot/reader_lock.h's instead, which only
// garbage collection excludes.
//
// Stale locks: when the flock is free but a holder record names another pid,
// that holder died without releasing (kill -9, power cut). The lock is taken
// over at once, the record replaced, and the takeover reported through
// RepoLockOptions::log (the CLI shows it at -v).
//
// Failure: Acquire returns Busy naming the holder (pid, host, command, since)
// when the lock stays held for wait_seconds; IoError if the lock file cannot be
// created. A crash at any point leaves at most a holder record of a dead pid
// (taken over by the next writer) and the empty lock file.
//
// Thread safety: a RepoLock object is owned by one thread. Two RepoLocks on the
// same repository exclude each other even inside one process (flock locks an
// open file description, and each Acquire opens its own).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

struct LockHolder {
  int pid = 0;
  std::string host;
  std::string command;       // the holder's command line, arguments joined by spaces
  int64_t since_micros = 0;  // when it took the lock (UTC)

  // "pid 123 on host h (maestro-db snap create) since 2025-08-08T14:30:22Z"
  std::string Describe() const;
  // The record's text form (key=value lines) and its parser (NotFound-free:
  // Corruption if the text is not a holder record).
  std::string Encode() const;
  static Result<LockHolder> Decode(const std::string& text);
};

struct RepoLockOptions {
  double wait_seconds = 0;        // --lock-wait; 0 = fail at once when held
  int64_t poll_micros = 100000;   // how often a waiter retries
  std::string command;            // "" = this process's /proc/self/cmdline
  // Receives takeover and waiting notices ("taking over the lock of ..."); may be null.
  std::function<void(const std::string&)> log;
  // Asked before each wait (may be null): true ends the wait at once with Busy
  // (the scheduled service's stop request).
  std::function<bool()> stop;
};

class RepoLock {
 public:
  // Takes the lock of repository directory repo_dir, which must exist (NotFound
  // otherwise: the lock never creates a repository). Busy when still held after
  // opts.wait_seconds, naming the holder.
  static Result<std::unique_ptr<RepoLock>> Acquire(Env* env, const std::string& repo_dir,
                                                   const RepoLockOptions& opts = {});

  // Reads the current holder record without locking (for status displays).
  // nullopt when no record exists.
  static Result<std::optional<LockHolder>> ReadHolder(Env* env, const std::string& repo_dir);

  // True if pid is a running process on this host (kill(pid, 0)).
  static bool ProcessAlive(int pid);

  static std::string LockPath(const std::string& repo_dir);
  static std::string HolderPath(const std::string& repo_dir);

  // Releases: removes the holder record, then drops the flock. Idempotent.
  Status Release();
  ~RepoLock();  // Release(), errors ignored (the flock goes anyway)

  RepoLock(const RepoLock&) = delete;
  RepoLock& operator=(const RepoLock&) = delete;

  const LockHolder& holder() const { return holder_; }  // this process's record
  const std::string& repo_dir() const { return repo_dir_; }

 private:
  RepoLock(Env* env, std::string repo_dir, std::unique_ptr<FileLock> lock, LockHolder holder)
      : env_(env), repo_dir_(std::move(repo_dir)), lock_(std::move(lock)), holder_(std::move(holder)) {}
  Env* env_;
  std::string repo_dir_;
  std::unique_ptr<FileLock> lock_;
  LockHolder holder_;
};

}  // namespace maestro
