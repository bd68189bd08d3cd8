// snapshot/sqlite_capture.h — the second step of Create: every SQLite file of
// the plan is captured with the online backup API, back to back, so the
// databases are captured as close to one moment as possible.
//
// Each backup copies from inside a read transaction (a consistent image even
// while the app writes). A database whose fingerprint (dev, inode, size,
// mtime and ctime of it and its -wal and -journal, taken inside that read
// transaction) equals the parent snapshot's, and whose chunks are all stored,
// is not copied: the parent's chunk list is reused. Backups go to tmp/ and are
// not fsynced (their chunks in packs are what is made durable); TempFiles
// removes them when Create ends, and a crash leaves them for the next writer
// to clear. Before a backup the database (and its -wal) is hinted into the
// page cache (Env::PrefetchFile): the backup's page-by-page reads of a cold
// 125 MB database took 1.5 s, a sequential read of it 0.1 s. One thread.
//
// BackgroundCapture runs the captures on a thread of their own while Create's
// readers store the plan's other files (they are still back to back among
// themselves): on the 1 GiB demo install the capture was ~1 s of wall time
// during which nothing else ran. A reader that meets an SQLite file waits
// for that file's capture (Wait). A Create that fails first cancels the
// captures still to come (Cancel; the destructor does too).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/parent_files.h"
#include "snapshot/repository.h"
#include "util/env.h"

namespace maestro {

// What Create reads for one SQLite file of the plan.
struct SqliteState {
  bool reused = false;    // the parent's chunk list was reused: nothing to read
  std::string read_path;  // else the backup copy in tmp/
};
using SqliteStates = std::map<std::pair<size_t, size_t>, SqliteState>;  // by (store, file) of the manifest

// Removes the files it names when destroyed (SQLite backups in tmp/).
struct TempFiles {
  Env* env;
  std::vector<std::string> paths;
  ~TempFiles();
};

class SqliteCapture {
 public:
  // sources[k] is the source of m's store k. racy_margin_ns: see CreateOptions::racy_margin_ms.
  SqliteCapture(Env* env, std::string tmp_dir, const std::vector<SnapshotSource>& sources,
                const ParentFiles<ManifestFile>& parent, const StoredBlobs& stored, int64_t racy_margin_ns)
      : env_(env), tmp_dir_(std::move(tmp_dir)), sources_(sources), parent_(parent), stored_(stored),
        racy_margin_ns_(racy_margin_ns) {}

  // Captures every file of *m marked sqlite_backup, in store then file
  // order: fills its fingerprint and size (and, when reused, hash and
  // chunks) and its state ((*states)[{k, j}]); backups are named in *temps.
  // done(k, j), when set, is called after file j of store k is captured.
  // *stop, when set and true, ends it before the next file (Aborted).
  Status CaptureAll(Manifest* m, SqliteStates* states, TempFiles* temps,
                    const std::function<void(size_t k, size_t j)>& done = nullptr,
                    const std::atomic<bool>* stop = nullptr);

 private:
  Status Capture(const std::string& store_name, const std::string& source, const std::string& tmp, ManifestFile* file,
                 SqliteState* state);

  Env* env_;
  std::string tmp_dir_;
  const std::vector<SnapshotSource>& sources_;
  const ParentFiles<ManifestFile>& parent_;
  const StoredBlobs& stored_;
  int64_t racy_margin_ns_;
};

// CaptureAll on a thread of its own. Until Wait(k, j) returns OK, file j of
// store k of *m and its state belong to that thread; after it, to the
// callers (read only). m, states, temps and capture must outlive the object;
// nothing else may touch *temps or resize *m's stores or file lists meanwhile.
// Thread safety: Wait may be called from several threads at once; Cancel,
// Finish and the destructor (which cancels and joins) from the thread that made it.
class BackgroundCapture {
 public:
  BackgroundCapture(SqliteCapture* capture, Manifest* m, SqliteStates* states, TempFiles* temps);
  ~BackgroundCapture();
  BackgroundCapture(const BackgroundCapture&) = delete;
  BackgroundCapture& operator=(const BackgroundCapture&) = delete;

  // Blocks until file j of store k is captured: OK, or the capture's error
  // (it stops at its first).
  Status Wait(size_t k, size_t j);
  // Waits for every capture; its error, if any.
  Status Finish();
  // No capture starts after this (one running ends first): for a Create that
  // fails before it needs them. Finish then reports only a capture's own error.
  void Cancel() { stop_ = true; }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::pair<size_t, size_t> next_{0, 0};  // files before (store, file) are captured. mu_
  bool ended_ = false;                    // mu_
  Status status_;                         // mu_
  std::thread thread_;                    // last: started once the rest is set up
};

}  // namespace maestro
