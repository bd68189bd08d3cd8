// snapshot/remote_lock.h — one writer at a time on a repository reached
// through a Backend (a remote: no flock there), with a lease so that a crashed
// host never blocks the others for longer than the lease.
//
// Words:
//   lock object   locks/<name>, name "<17-digit UTC micros>-<16 hex random>"
//                 (its time is when it was written), text:
//                   maestro-db remote lock
//                   pid=… host=… since=… command=…   (LockHolder's lines)
//                   refreshed=<UTC micros>  lease_seconds=<n>
//                   mode=reader | mode=collector   (absent: a writer)
//                   checksum=<XXH3-64 of every line above, 16 hex>
//                 An object that does not decode (a partial upload) counts
//                 as a lock of unknown holder written at its name's time.
//   tombstone     locks/<name>.released: written by Release when the remote
//                 refuses the delete (append-only); the lock it names is free.
//   live lock     a lock object, no tombstone, written (name time) or
//                 refreshed less than lease_seconds ago by this host's clock,
//                 and not held by a process of this host that is gone.
//   lease         default 15 minutes. A holder refreshes every lease/3 (the
//                 background refresher, or Refresh by hand): a refresh writes
//                 a new lock object and removes the previous one, so no
//                 object is ever overwritten (object-lock buckets allow that).
//
// Acquire: waits (up to wait_seconds) until no live lock of another holder
// exists, writes its own, then lists again; if another live lock appeared
// meanwhile, it withdraws its own and backs off a random while (so two hosts
// racing never both hold it; one of them wins on a later round). Busy names
// the holder: host, pid, command, since, and when its lease runs out.
// Expired locks are ignored, named through log, and removed when the remote
// allows it.
//
// Modes (RemoteLockOptions::mode): the writer lock above, and the remote form
// of the readers' lock (snapshot/reader_lock.h), for other hosts' readers:
//   reader     a long reader (`snap restore` or `snap copy` from the remote,
//              `snap verify`). Readers never block writers or each other;
//              Acquire of a reader waits (wait_seconds) only while a live
//              collector of another holder exists, writes its own object,
//              then lists again and withdraws and backs off if a collector
//              appeared meanwhile.
//   collector  a garbage collection (snapshot/gc.h), taken by a writer that
//              already holds the writer lock, never waiting: it writes its
//              object, then lists; a live reader of another holder makes it
//              withdraw and fail Busy naming that reader (GC then skips).
// Each side writes before it lists, so of a reader and a collector racing at
// least one sees the other (a remote whose List shows a finished Put, as
// rclone's backends do); both may back off, never both proceed. Writers
// ignore readers; a reader or collector lock object that an older
// maestro-db lists counts there as a writer's (its extra line is ignored).
// A reader that cannot refresh within its lease stops counting: a GC may
// then remove packs it still reads, and its restore fails on the missing
// pack (blob hashes are checked), never writing wrong bytes.
//
// Clocks: expiry compares the holder's refreshed time with this host's clock;
// clocks must agree to well within the lease (NTP does).
//
// A holder that cannot refresh within its lease has lost the lock: Valid()
// says so, and the writer must stop before others may take over.
//
// Crash: a crash leaves a lock object that expires after its lease (or at
// once for a same-host holder whose pid is gone). Nothing else.
//
// Thread safety: a RemoteLock is owned by one thread; its refresher thread is
// internal. Two RemoteLocks exclude each other even inside one process.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/backend.h"
#include "snapshot/repo_lock.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

enum class RemoteLockMode { kWriter, kReader, kCollector };

struct RemoteLockRecord {
  std::string object;  // its name in locks/
  RemoteLockMode mode = RemoteLockMode::kWriter;
  LockHolder holder;   // empty host and pid 0 when the object did not decode
  int64_t refreshed_micros = 0;
  int64_t lease_seconds = 0;
  bool readable = true;

  int64_t ExpiresMicros() const { return refreshed_micros + lease_seconds * 1000000; }
  // "pid 12 on host h (maestro-db snap copy) since …, lease until …"
  std::string Describe() const;
  std::string Encode() const;
  static Result<RemoteLockRecord> Decode(const std::string& object, const std::string& text);
};

struct RemoteLockOptions {
  int64_t lease_seconds = 15 * 60;
  double wait_seconds = 0;          // --lock-wait; 0 = fail at once when held
  int64_t poll_micros = 1000000;    // how often a waiter looks again
  bool refresher = true;            // a background thread refreshes every lease/3
  std::string command;              // "" = /proc/self/cmdline
  std::function<void(const std::string&)> log;  // takeover and waiting notices; may be null
  RemoteLockMode mode = RemoteLockMode::kWriter;  // see "Modes" above
};

class RemoteLock {
 public:
  // backend and env must outlive the lock.
  static Result<std::unique_ptr<RemoteLock>> Acquire(Backend* backend, Env* env, const RemoteLockOptions& opts = {});

  // Every live lock now, of every mode (for status displays and Busy messages).
  static Status ListLive(Backend* backend, Env* env, std::vector<RemoteLockRecord>* out);

  // Writes a fresh lock object and removes the previous one.
  Status Refresh();
  // False once a refresh failed and the lease ran out since the last good one.
  bool Valid() const;
  // Removes the lock object (a tombstone when the remote refuses). Idempotent.
  Status Release();
  ~RemoteLock();  // Release(), errors ignored: the lease frees it anyway

  RemoteLock(const RemoteLock&) = delete;
  RemoteLock& operator=(const RemoteLock&) = delete;

  // A copy, under the lock: the refresher thread replaces the record.
  RemoteLockRecord record() const {
    std::lock_guard<std::mutex> l(mu_);
    return record_;
  }

 private:
  RemoteLock(Backend* b, Env* env, RemoteLockOptions opts, RemoteLockRecord rec);
  void RefreshLoop();
  void StopRefresher();

  Backend* backend_;
  Env* env_;
  const RemoteLockOptions opts_;
  mutable std::mutex mu_;
  RemoteLockRecord record_;           // guarded by mu_ (written by Refresh)
  std::atomic<int64_t> last_good_micros_{0};
  std::vector<std::string> unremoved_;  // own older objects the remote refused to delete; guarded by mu_
  bool released_ = false;             // guarded by mu_
  bool stop_ = false;                 // guarded by mu_
  std::condition_variable cv_;
  std::thread refresher_;
};

}  // namespace maestro
