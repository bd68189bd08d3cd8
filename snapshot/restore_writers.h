// snapshot/restore_writers.h — the threads that write a restore's files
// (snapshot/restorer.h): each file's chunks read through a BlobReader of the
// thread's own (every blob check made, blob_reader.h), appended, checked
// against the file's size and whole-file hash, fsynced when asked, given its
// owner, mode and mtime (through the open file when the Env's files can,
// WritableFile::SetsMetadata; else by path after closing it), closed.
//
// Why threads: a restore of many small files spends its time per file
// (create, a few small reads, decompress, hash, write, chown, chmod, utimes);
// one thread kept one core busy and the disk at queue depth one. The caller
// keeps every decision that depends on order or on what is on disk (path
// checks, folders, "listed twice", symlinks) on its own thread and hands
// over files it has already created empty, so the outcome is the same as
// one thread's, only the writing overlaps.
//
// Work goes in batches (up to kBatchFiles files or kBatchBytes of content),
// so a small file costs no thread hand-off of its own; at most `threads`
// batches are in flight, so open files are bounded by threads x kBatchFiles
// and decoded data by threads x (2 x the largest chunk).
//
// Failure: the first error stops the writers: Add and Finish return it (a
// batch not started is dropped, its files left empty); the caller removes the
// staging folder. The destructor waits for batches in flight.
//
// Thread safety: Add and Finish from one thread (the restore's). metadata is
// written under a lock of the writers' own.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/file_meta.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "util/task_group.h"

namespace maestro {

// Gives a restored entry its recorded owner, permission bits and mtime, in that
// order: chown may clear mode bits, and neither changes the mtime. A symlink's
// mode is not set (chmod would follow it).
Status GiveBackMetadata(Env* env, const std::string& path, const ManifestFile& f, MetadataReport* report);

// Writer threads for a request of `requested` (0: the cores, at least 2, at most 4).
unsigned DefaultRestoreWriters(int requested);

class RestoreWriters {
 public:
  static constexpr size_t kBatchFiles = 32;
  static constexpr uint64_t kBatchBytes = 8u << 20;

  // One file to write: f (its chunks, size, hash, metadata), the path it was
  // created at, and that file, open and empty. what names it in errors
  // ("snapshot S, store X, file P").
  struct File {
    ManifestFile f;
    std::string path, what;
    std::unique_ptr<WritableFile> out;
  };

  // files, idx and metadata (may be null) must outlive the writers.
  RestoreWriters(const RepoFiles& files, const BlobIndex* idx, unsigned threads, bool sync, MetadataReport* metadata);
  ~RestoreWriters();
  RestoreWriters(const RestoreWriters&) = delete;
  RestoreWriters& operator=(const RestoreWriters&) = delete;

  // Queues file; a full batch goes to a writer (blocking while every writer
  // is busy). The first error of any writer, once there is one.
  Status Add(File file);
  // Writes what is queued and waits for every writer, calling tick (may be
  // null) on this thread about every kTickMs meanwhile; the first error.
  Status Finish(const std::function<void()>& tick = nullptr);
  static constexpr int kTickMs = 100;

  // Progress, read from any thread.
  uint64_t files_done() const { return files_done_.load(); }
  uint64_t bytes_done() const { return bytes_done_.load(); }

 private:
  struct Slot;  // a writer thread's reader and buffer
  using Batch = std::vector<File>;
  Status Flush();
  Status WriteBatch(Batch& batch);
  Status WriteOne(Slot* slot, File& file, MetadataReport* report);
  std::unique_ptr<Slot> TakeSlot();
  void GiveBack(std::unique_ptr<Slot> slot);

  const RepoFiles& files_;
  const BlobIndex* idx_;
  const bool sync_;
  MetadataReport* metadata_;
  Batch pending_;
  uint64_t pending_bytes_ = 0;
  std::mutex mu_;  // guards slots_ and *metadata_
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<uint64_t> files_done_{0}, bytes_done_{0};
  std::atomic<bool> failed_{false};
  std::unique_ptr<TaskGroup> tasks_;  // last: destroyed (waited for) first
};

}  // namespace maestro
