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

namespace {

// Runs the gear hash *h on over data[*i, end) and returns true at the first
// position whose hash has the mask's bits all zero, with *i one past it; else
// false with *i = end. Four bytes a step, cutting exactly where one byte a
// step does: h after four more bytes is 16h + 8a + 4b + 2c + d (mod 2^64), so
// the step's dependency chain on h is one shift and one add instead of four
// of each, and the three hashes between are worked out beside it to be tested.
bool ScanForCut(const uint8_t* data, size_t* i, size_t end, uint64_t mask, uint64_t* h) {
  size_t p = *i;
  uint64_t x = *h;
  for (; p + 4 <= end; p += 4) {
    const uint64_t a = kGear[data[p]], b = kGear[data[p + 1]], c = kGear[data[p + 2]], d = kGear[data[p + 3]];
    const uint64_t ab = (a << 1) + b;
    const uint64_t h1 = (x << 1) + a;
    const uint64_t h2 = (x << 2) + ab;
    const uint64_t h3 = (h2 << 1) + c;
    const uint64_t h4 = (x << 4) + (ab << 2) + ((c << 1) + d);
    // Short-circuit tests (a cut is rare: branches predict well), measured
    // faster here than one combined test.
    if (__builtin_expect(!(h1 & mask) || !(h2 & mask) || !(h3 & mask) || !(h4 & mask), 0)) {
      *i = p + ((h1 & mask) == 0 ? 1 : (h2 & mask) == 0 ? 2 : (h3 & mask) == 0 ? 3 : 4);
      return true;
    }
    x = h4;
  }
  for (; p < end; ++p) {
    x = (x << 1) + kGear[data[p]];
    if ((x & mask) == 0) {
      *i = p + 1;
      return true;
    }
  }
  *i = p;
  *h = x;
  return false;
}

}  // namespace

size_t Chunker::FindCut(const uint8_t* data, size_t n) const {
  if (n <= p_.min_size) return n;
  if (n > p_.max_size) n = p_.max_size;
  size_t normal = p_.avg_size < n ? p_.avg_size : n;
  uint64_t h = 0;
  size_t i = p_.min_size;
  // Warm the hash over the 64 bytes before min_size so the first possible cut
  // already sees a full window.
  for (size_t j = i >= 64 ? i - 64 : 0; j < i; ++j) h = (h << 1) + kGear[data[j]];
  if (ScanForCut(data, &i, normal, mask_small_, &h)) return i;
  if (ScanForCut(data, &i, n, mask_large_, &h)) return i;
  return n;
}

}  // namespace maestro
