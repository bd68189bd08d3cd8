// tests/support/fault_env.h — an Env that fails on purpose, for tests.
//
// FaultEnv wraps another Env (normally Env::Default()) and forwards every call,
// counting calls by kind (Op). It can:
//   * return an error (ENOSPC, EIO, ...) at the Nth call of a kind, once or from
//     then on (a full disk stays full): FailAt(Op::kWrite, 3, ENOSPC, true);
//   * simulate a power cut (leveldb's fault_injection model): at the Nth call of
//     a kind it "freezes" — that call and every later mutating call fail with EIO
//     and do nothing — and DropUnsyncedData() then throws away every byte written
//     since the file's last Sync, every file whose directory entry was not made
//     durable by SyncDir, and undoes every rename not yet made durable. A file
//     written at any offset (NewRandomRWFile: SQLite's, through
//     util/sqlite_env_vfs.h) gets back the bytes it held at its last Sync: each
//     overwrite of synced bytes is recorded (an undo log) and replayed backwards.
//     An owner, mode or mtime set (through the open file or by path) is
//     undone too unless an fsync made it durable: the file's SyncAll (not its
//     Sync, an fdatasync) or, for a folder, SyncDir of the folder itself.
//     Renaming a folder moves what is tracked under it. Symlinks' metadata is
//     not tracked (nothing can fsync a symlink);
//   * ExitOnPowerCut(code): at the cut, drop the unsynced data at once and
//     _exit(code), so nothing the process would do after the cut (LMDB's own
//     writes, which no Env sees) happens — a power cut, not an error.
//
// Bytes are tracked for files opened for writing through this Env only;
// metadata for every path whose owner, mode or mtime is set through it. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "util/env.h"

namespace maestro {

class FaultEnv : public Env {
 public:
  enum class Op { kCreate = 0, kWrite, kSync, kRename, kRemove, kMkdir, kSyncDir, kLock, kCount };
  static const char* OpName(Op op);

  explicit FaultEnv(Env* base) : base_(base) {}

  // The nth (1-based) call of op fails with err; sticky: and every later call of op.
  void FailAt(Op op, int nth, int err, bool sticky = false);
  // At the nth call of op, the machine "loses power" (see above).
  void PowerCutAt(Op op, int nth);
  bool frozen() const;
  // From now on a power cut drops the unsynced data and ends the process with
  // _exit(code) (for a test that runs the work in a forked child).
  void ExitOnPowerCut(int code);
  // Drop all non-durable state, then thaw; call after the engine has stopped.
  Status DropUnsyncedData();
  void ClearFaults();
  int Count(Op op) const;
  void ResetCounts();

  // Env
  Status NewSequentialFile(const std::string& p, std::unique_ptr<SequentialFile>* out) override { return base_->NewSequentialFile(p, out); }
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override { return base_->NewRandomAccessFile(p, out); }
  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* out, uint32_t mode) override;
  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* out, uint32_t mode) override;
  Status NewRandomRWFile(const std::string& p, std::unique_ptr<RandomRWFile>* out, bool create, uint32_t mode) override;
  Status Stat(const std::string& p, FileInfo* i) override { return base_->Stat(p, i); }
  Status ListDir(const std::string& d, std::vector<DirEntry>* e) override { return base_->ListDir(d, e); }
  Status CreateDir(const std::string& d, uint32_t mode) override;
  Status RemoveFile(const std::string& p) override;
  Status RemoveDir(const std::string& d) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& d) override;
  Status ReadLink(const std::string& p, std::string* t) override { return base_->ReadLink(p, t); }
  Status Symlink(const std::string& t, const std::string& p) override;
  Status SetMtime(const std::string& p, int64_t ns) override;
  Status Chmod(const std::string& p, uint32_t m) override;
  Status Chown(const std::string& p, uint32_t u, uint32_t g) override;
  Status TryLockFile(const std::string& p, std::unique_ptr<FileLock>* l) override;
  Status TryLockFileShared(const std::string& p, std::unique_ptr<FileLock>* l) override;
  int64_t NowMicros() override { return base_->NowMicros(); }
  void SleepMicros(int64_t us) override { base_->SleepMicros(us); }

  // Internal, used by the file wrappers.
  Status Before(Op op, const std::string& path);
  void NoteSynced(const std::string& path, uint64_t size);
  void NoteWritten(const std::string& path, uint64_t size);
  // Before path's owner, mode or mtime changes: EIO once frozen; keeps what
  // was durable. NoteMetadataSynced: an fsync of path made it durable.
  Status BeforeMetadata(const std::string& path);
  void NoteMetadataSynced(const std::string& path);
  // Before `file` (at path) is overwritten in [offset, offset+n): keeps the synced bytes there.
  Status SaveUndo(const std::string& path, RandomRWFile* file, uint64_t offset, uint64_t n);

 private:
  struct Fault {
    Op op;
    int nth;
    int err;
    bool sticky;
    bool power_cut;
  };
  struct FileState {
    uint64_t synced = 0;
    uint64_t written = 0;
    bool new_entry = false;  // created, directory entry not yet durable
    std::vector<std::pair<uint64_t, std::string>> undo;  // synced bytes overwritten since the last Sync
  };
  Status DropLocked();
  // What a folder rename from -> to moves: every tracked path at or under from.
  void MoveTrackedLocked(const std::string& from, const std::string& to);
  struct DurableMetadata {
    uint32_t mode, uid, gid;
    int64_t mtime_ns;
  };
  struct PendingRename {
    std::string from, to;
    std::string saved;  // hard link to the file `to` replaced, if any
  };
  Env* base_;
  mutable std::mutex mu_;
  int counts_[static_cast<int>(Op::kCount)] = {};
  std::vector<Fault> faults_;
  bool frozen_ = false;
  int exit_code_ = -1;
  std::map<std::string, FileState> files_;
  std::vector<PendingRename> renames_;
  std::vector<std::string> new_dirs_;
  std::map<std::string, DurableMetadata> metadata_;  // paths whose metadata changed since their fsync
};

}  // namespace maestro
