#include "snapshot/chunker.h"

#include <array>

namespace maestro {

namespace {

// 256 pseudo-random 64-bit values (splitmix64 of the byte), fixed forever: the
// chunk boundaries, and so the dedup between snapshots, depend on them.
std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> g{};
  uint64_t x = 0x6d61657374726f31ULL;  // "maestro1"
  for (auto& v : g) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    v = z ^ (z >> 31);
  }
  return g;
}
const std::array<uint64_t, 256> kGear = MakeGear();

int Log2(size_t v) {
  int b = 0;
  while ((size_t{1} << (b + 1)) <= v) ++b;
  return b;
}

// The gear hash shifts left, so its high bits depend on the most bytes: test
// the top `bits` bits.
uint64_t TopMask(int bits) { return bits <= 0 ? 0 : (~uint64_t{0}) << (64 - bits); }

}  // namespace

Chunker::Chunker(ChunkerParams p) : p_(p) {
  int bits = Log2(p_.avg_size);
  mask_small_ = TopMask(bits + 2);
  mask_large_ = TopMask(bits - 2);
}

size_t Chunker::FindCut(const uint8_t* data, size_t n) const {
  if (n <= p_.min_size) return n;
  if (n > p_.max_size) n = p_.max_size;
  size_t normal = p_.avg_size < n ? p_.avg_size : n;
  uint64_t h = 0;
  size_t i = p_.min_size;
  // Warm the hash over the 64 bytes before min_size so the first possible cut
  // already sees a full window.
  for (size_t j = i >= 64 ? i - 64 : 0; j < i; ++j) h = (h << 1) + kGear[data[j]];
  for (; i < normal; ++i) {
    h = (h << 1) + kGear[data[i]];
    if ((h & mask_small_) == 0) return i + 1;
  }
  for (; i < n; ++i) {
    h = (h << 1) + kGear[data[i]];
    if ((h & mask_large_) == 0) return i + 1;
  }
  return n;
}

}  // namespace maestro
