// util/env.h — every file-system, lock and clock call maestro-db makes that
// matters for durability goes through Env (as leveldb's Env, restic's fs.FS).
//
// The default Env (Env::Default()) is POSIX. Tests wrap it in FaultEnv
// (tests/support/fault_env.h) to inject ENOSPC/EIO at the Nth call of a kind, or to
// simulate a power cut that drops every byte not yet fsynced and every
// directory entry not yet made durable.
//
// Thread safety: Env methods may be called from several threads at once.
// A WritableFile / SequentialFile is used by one thread at a time.
//
// Errors: every method returns Status; errno is kept in Status::err_no()
// and the message names the path (util: PosixError(context, errno)).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace maestro {

// Turns an errno into a Status naming the path. The one place errno becomes Status.
Status PosixError(const std::string& context, int err_number);

class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to n bytes into scratch; *got = 0 at end of file.
  virtual Status Read(size_t n, char* scratch, size_t* got) = 0;
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  virtual Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) const = 0;
};

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Sync() = 0;   // fdatasync: data durable (not the directory entry)
  // fsync: the data and the file's own owner, mode and times durable (not the
  // directory entry). fdatasync leaves a chmod, chown or futimens unflushed,
  // so a file whose metadata matters (a restored one) gets it set first, then this.
  virtual Status SyncAll() = 0;
  virtual Status Close() = 0;  // idempotent

  // The file's owner (fchown), permission bits (fchmod) and mtime (futimens),
  // set through the open file: no path lookup, the file cannot be swapped
  // under the call. Before Close; SetMtime after the last Append (a write
  // moves the mtime). SetsMetadata() says whether a file has them: the
  // defaults refuse (Internal), and a caller falls back on Env's path calls.
  virtual bool SetsMetadata() const { return false; }
  virtual Status SetOwner(uint32_t uid, uint32_t gid);
  virtual Status SetMode(uint32_t mode);
  virtual Status SetMtime(int64_t mtime_ns);
};

// Reads and writes at any offset: what SQLite's VFS over Env needs
// (util/sqlite_env_vfs.h). One thread at a time, like WritableFile.
class RandomRWFile {
 public:
  virtual ~RandomRWFile() = default;
  virtual Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) = 0;  // short at end of file
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Sync() = 0;  // fdatasync: data and size durable (not the directory entry)
  virtual Status Size(uint64_t* size) = 0;
  virtual Status Close() = 0;  // idempotent
};

struct FileInfo {
  bool exists = false;
  bool is_dir = false;
  bool is_regular = false;
  bool is_symlink = false;
  const char* special = nullptr;  // "FIFO", "socket", "character device", "block device"; else null
  uint64_t size = 0;
  uint32_t mode = 0;       // permission bits
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;    // inode change time: cannot be set back by hand (unlike mtime)
  uint64_t inode = 0;
  uint64_t dev = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct DirEntry {
  std::string name;
  bool is_dir = false;
  bool is_symlink = false;
};

// An advisory whole-file lock (flock). Released by Env::UnlockFile or on exit.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();  // process-wide POSIX Env; never deleted

  virtual Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* out) = 0;
  virtual Status NewRandomAccessFile(const std::string& path, std::unique_ptr<RandomAccessFile>* out) = 0;
  // Creates or truncates. mode is applied at creation (e.g. 0600 in the repository).
  virtual Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out,
                                 uint32_t mode = 0644) = 0;
  virtual Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out,
                                   uint32_t mode = 0644) = 0;
  // Creates path, which must not exist (O_EXCL: a symlink there is not
  // followed); anything already there is an IoError with err_no() EEXIST and
  // is left as it was. The default checks with Stat, then NewWritableFile
  // (racy, but every call still goes through the Env's own primitives).
  virtual Status NewExclusiveFile(const std::string& path, std::unique_ptr<WritableFile>* out, uint32_t mode = 0644);

  // Opens for reading and writing at any offset, never truncating; a missing
  // file is created (with mode) only when create is true, else NotFound.
  // The default implementation refuses (an Env that has no such files).
  virtual Status NewRandomRWFile(const std::string& path, std::unique_ptr<RandomRWFile>* out, bool create,
                                 uint32_t mode = 0644);

  virtual Status Stat(const std::string& path, FileInfo* info) = 0;  // lstat; !exists is OK
  virtual Status ListDir(const std::string& dir, std::vector<DirEntry>* entries) = 0;
  virtual Status CreateDir(const std::string& dir, uint32_t mode = 0755) = 0;  // OK if exists
  virtual Status CreateDirs(const std::string& dir, uint32_t mode = 0755);     // mkdir -p
  // mkdir -p whose new folders survive a power cut: each new folder's parent
  // is fsynced once it is made, so a file later renamed into it cannot vanish
  // with a folder entry nobody wrote down (tests/reliability_store_powercut_test.cc).
  Status CreateDirsDurably(const std::string& dir, uint32_t mode = 0755);
  virtual Status RemoveFile(const std::string& path) = 0;  // OK if missing
  virtual Status RemoveDir(const std::string& dir) = 0;    // empty dir; OK if missing
  virtual Status RemoveTree(const std::string& path);      // rm -rf (no symlink following)
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;      // fsync a directory
  virtual Status ReadLink(const std::string& path, std::string* target) = 0;
  virtual Status Symlink(const std::string& target, const std::string& path) = 0;
  virtual Status SetMtime(const std::string& path, int64_t mtime_ns) = 0;
  virtual Status Chmod(const std::string& path, uint32_t mode) = 0;
  // lchown: sets the owner of path itself (a symlink is not followed).
  virtual Status Chown(const std::string& path, uint32_t uid, uint32_t gid) = 0;

  // Non-blocking exclusive lock; Busy if held elsewhere.
  virtual Status TryLockFile(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;
  // Non-blocking shared lock (many holders; Busy while an exclusive one is
  // held). Creates path when it can; a file it may only read is locked
  // through a read-only descriptor (flock needs no write access).
  virtual Status TryLockFileShared(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;

  // True when a path names the same file for another process on this host
  // (the POSIX Env): a helper such as rclone may then read it itself. False
  // for an Env that keeps files elsewhere or fails calls on purpose (tests),
  // whose every byte must pass through it.
  virtual bool SharesHostFiles() const { return false; }
  // A hint that path will be read soon: the POSIX Env asks the kernel to start
  // reading it into the page cache (posix_fadvise WILLNEED) and returns without
  // waiting. Never fails: a file that cannot be opened is simply not prefetched.
  // The default does nothing.
  virtual void PrefetchFile(const std::string& path) { (void)path; }

  virtual int64_t NowMicros() = 0;       // wall clock (UTC)
  virtual void SleepMicros(int64_t us) = 0;

  // Helpers built on the primitives above (so FaultEnv sees every call).
  Status ReadFileToString(const std::string& path, std::string* out);
  Status WriteStringToFile(const std::string& path, std::string_view data, uint32_t mode = 0644);
  bool FileExists(const std::string& path);
  bool DirExists(const std::string& path);
};

// The one helper that commits a file durably: write "<path>.tmp-<pid>-<n>",
// fsync it, rename over path, fsync the directory. After a crash the path holds
// either the old content or the new, never a mix; a stale temp file may remain
// (callers clean "*.tmp-*" on open).
Status WriteFileDurably(Env* env, const std::string& path, std::string_view data, uint32_t mode = 0644);

// Path helpers (no I/O).
std::string JoinPath(const std::string& a, const std::string& b);
std::string DirName(const std::string& path);
// path is dir or lies below it ("a/b" is under "a", "ab" is not); anything is
// under "/". Plain string comparison: normalize both first.
bool IsAtOrUnder(const std::string& path, const std::string& dir);
std::string BaseName(const std::string& path);
// Lexically normalises "a/./b/../c" -> "a/c"; keeps a leading '/'.
std::string NormalizePath(const std::string& path);
// p made absolute against the process's working directory, then normalised.
std::string AbsolutePath(const std::string& p);
// True if rel is a relative path that stays inside its base (no "..", not absolute, no NUL).
bool IsSafeRelativePath(const std::string& rel);

}  // namespace maestro
