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
// to clear. One thread.
#pragma once

#include <map>
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

  // Captures every file of *m marked sqlite_backup: fills its fingerprint and
  // size (and, when reused, hash and chunks); backups are named in *temps.
  Status CaptureAll(Manifest* m, SqliteStates* states, TempFiles* temps);

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

}  // namespace maestro
