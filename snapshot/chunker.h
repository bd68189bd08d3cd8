// snapshot/chunker.h — content-defined chunking (FastCDC with normalised chunking).
//
// A chunk boundary depends only on the ~64 bytes before it (a gear rolling
// hash), so inserting or changing bytes in a file moves at most the boundaries
// next to the change: a file that changed a little re-stores only the chunks
// around the change. Files no longer than min_size are one chunk.
//
// Thread safety: Chunker is a stateless value; FindCut may be called from any
// thread. No allocation, no failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace maestro {

struct ChunkerParams {
  size_t min_size = 256 * 1024;
  size_t avg_size = 1024 * 1024;   // must be a power of two
  size_t max_size = 4 * 1024 * 1024;
};

class Chunker {
 public:
  explicit Chunker(ChunkerParams p = ChunkerParams());
  // Length of the first chunk of data[0, n). If at_eof is false and no boundary
  // is found before max_size, n must be >= max_size (callers fill a buffer of at
  // least max_size bytes before asking); returns n or max_size at the end.
  size_t FindCut(const uint8_t* data, size_t n) const;
  const ChunkerParams& params() const { return p_; }

 private:
  ChunkerParams p_;
  uint64_t mask_small_;  // more bits: harder to cut before avg_size
  uint64_t mask_large_;  // fewer bits: easier to cut after avg_size
};

}  // namespace maestro
