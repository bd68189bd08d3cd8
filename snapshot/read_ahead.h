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
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

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

}  // namespace maestro
