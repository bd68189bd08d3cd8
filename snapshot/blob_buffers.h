// snapshot/blob_buffers.h — the buffers of the blobs in flight between
// Create's readers and the compressor pool (snapshot/compress_pool.h),
// bounded in bytes and reused (issue 14 point 2).
//
// Bounded: Take waits while the buffers out (in flight) and kept (for reuse)
// would pass cap bytes of capacity; kept buffers are freed to make room
// first. A request larger than cap is let through when nothing is out or
// kept, so it cannot wait forever: at most max(cap, largest request) bytes.
//
// Reused: a buffer of at least kReuseBytes (a chunk of a big file) given back
// is kept, and the next Take whose bytes fit takes the smallest kept one that
// holds them. Freeing and allocating megabyte buffers of varying sizes on
// four threads left glibc's per-thread arenas holding ~16 MiB more than was
// in use (measured: 60 MiB peak RSS for a 40 MiB peak heap); kept buffers
// never go back to the allocator, so that slack is not made.
//
// Close() wakes every waiter: Take then returns false (the consumer side
// failed or stopped). Thread safety: every method may be called from several
// threads at once.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace maestro {

class BlobBuffers {
 public:
  static constexpr size_t kReuseBytes = 256 * 1024;

  explicit BlobBuffers(size_t cap) : cap_(cap) {}

  // *out: a buffer holding a copy of data. false when closed.
  bool Take(std::string_view data, std::string* out);
  // Counts s (the caller's own, now in flight) as taken: waits for room as Take does.
  bool Adopt(const std::string& s);
  // A buffer from Take or Adopt is done with: kept for reuse, or freed.
  void Give(std::string&& buf);
  void Close();

  size_t cap() const { return cap_; }
  size_t held();  // capacity out and kept (tests)

 private:
  // Waits until bytes more fit (freeing kept buffers first). l holds mu_.
  bool Reserve(size_t bytes, std::unique_lock<std::mutex>* l);
  size_t SmallestFit(size_t bytes) const;  // index in kept_, or kept_.size(). mu_ held

  std::mutex mu_;
  std::condition_variable room_;
  const size_t cap_;
  size_t held_ = 0;                // capacity of every buffer out or kept
  std::vector<std::string> kept_;  // at most cap_ / kReuseBytes of them
  bool closed_ = false;
};

}  // namespace maestro
