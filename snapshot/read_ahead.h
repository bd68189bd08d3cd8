// snapshot/read_ahead.h — keeps the page cache a little ahead of Create's
// reader threads (snapshot/read_pool.h): before file i is read, the files
// after it, up to kWindowBytes of them, are handed to Env::PrefetchFile, so
// the disk reads the next files while the readers chunk, hash and wait on the
// compressors. One reader thread waited on each cold file's read in turn (a
// 2 MiB PDF is one read() of the whole file), which left a core idle.
//
// Only files worth it are hinted: those of at least kMinBytes (a smaller one
// was read whole into the cache by the walk's header check or is cheap) that
// the caller says will be read (not reused from the parent unread). Memory:
// none of its own beyond one prefix sum a batch entry; the page cache holds
// at most the window ahead.
//
// Thread safety: Advance may be called from several threads at once.
//
// PlanAhead does the same across batches and stores, for a snapshot that
// has no parent (so every file of the plan is read): a thread of its own
// reads the plan file (snapshot/plan_file.h) ahead of the readers and hints
// each regular file of at least kMinBytes that is not an SQLite file, while
// the bytes it hinted stay within kWindowBytes of the bytes the readers have
// done. A batch's ReadAhead starts only when its batch does, so while the
// last files of a store were compressed (on the demo install: a 125 MB
// chroma.sqlite3 copy, 3 s at load 14) the disk sat idle before the next
// store's cold files. A plan it cannot read stops the hints, nothing else
// (the readers' own plan reader reports it). The destructor stops and joins.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/repository.h"
#include "util/env.h"

namespace maestro {

class ReadAhead {
 public:
  static constexpr uint64_t kWindowBytes = 64u << 20;
  static constexpr uint64_t kMinBytes = 64u << 10;

  // sizes[i]: the bytes entry i will read (0: none, it is not hinted).
  // path_of(i): its path (what it refers to must outlive the ReadAhead).
  ReadAhead(Env* env, const std::vector<uint64_t>& sizes, std::function<std::string(size_t)> path_of);

  // Entry i is about to be read: hints the entries after it within the window.
  void Advance(size_t i);

 private:
  Env* env_;
  std::vector<uint64_t> before_;  // bytes of entries [0, i) worth hinting: entry i is when before_[i + 1] > before_[i]
  std::function<std::string(size_t)> path_of_;
  std::mutex mu_;
  size_t hinted_ = 0;  // entries [0, hinted_) were hinted or skipped; guarded by mu_
};

class PlanAhead {
 public:
  // planned[k]: the plan's entries of store k, in plan order; order: the
  // stores in the order the readers take them; path_of(k, f): the file to
  // hint; done: the bytes the readers have done. All must outlive the object.
  PlanAhead(Env* env, std::string plan_path, const std::vector<uint64_t>& planned, std::vector<size_t> order,
            std::function<std::string(size_t store, const ManifestFile& f)> path_of, const std::atomic<uint64_t>* done);
  ~PlanAhead();
  PlanAhead(const PlanAhead&) = delete;
  PlanAhead& operator=(const PlanAhead&) = delete;

 private:
  void Run();
  bool WaitForRoom(uint64_t hinted);  // false once stopped

  Env* env_;
  const std::string plan_path_;
  const std::vector<uint64_t>& planned_;
  const std::vector<size_t> order_;
  const std::function<std::string(size_t, const ManifestFile&)> path_of_;
  const std::atomic<uint64_t>* done_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: started once the rest is set
};

}  // namespace maestro
