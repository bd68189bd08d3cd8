// The chunker's cuts are part of the repository's contract: a snapshot dedupes
// against older ones only while the same bytes are cut in the same places, so
// a faster FindCut must cut exactly where the byte-at-a-time gear hash does.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "snapshot/chunker.h"

namespace maestro {
namespace {

std::vector<uint8_t> Lcg(size_t n, uint64_t seed) {
  std::vector<uint8_t> d(n);
  uint64_t x = seed;
  for (auto& b : d) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    b = static_cast<uint8_t>(x >> 56);
  }
  return d;
}

std::vector<size_t> Cuts(const Chunker& c, const std::vector<uint8_t>& d) {
  std::vector<size_t> out;
  for (size_t pos = 0; pos < d.size();) {
    size_t n = c.FindCut(d.data() + pos, d.size() - pos);
    out.push_back(n);
    pos += n;
  }
  return out;
}

// The definition: FastCDC's gear hash one byte at a time, as snapshot/
// chunker.cc has it, with its table and masks rebuilt here from the same
// constants, so a faster FindCut, or a change to either, is checked.
class ReferenceChunker {
 public:
  explicit ReferenceChunker(ChunkerParams p) : p_(p) {
    uint64_t x = 0x6d61657374726f31ULL;
    for (auto& v : gear_) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      v = z ^ (z >> 31);
    }
    int bits = 0;
    while ((size_t{1} << (bits + 1)) <= p.avg_size) ++bits;
    small_ = Top(bits + 2);
    large_ = Top(bits - 2);
  }
  static uint64_t Top(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits); }
  size_t FindCut(const uint8_t* data, size_t n) const {
    if (n <= p_.min_size) return n;
    if (n > p_.max_size) n = p_.max_size;
    size_t normal = p_.avg_size < n ? p_.avg_size : n;
    uint64_t h = 0;
    size_t i = p_.min_size;
    for (size_t j = i >= 64 ? i - 64 : 0; j < i; ++j) h = (h << 1) + gear_[data[j]];
    for (; i < normal; ++i) {
      h = (h << 1) + gear_[data[i]];
      if ((h & small_) == 0) return i + 1;
    }
    for (; i < n; ++i) {
      h = (h << 1) + gear_[data[i]];
      if ((h & large_) == 0) return i + 1;
    }
    return n;
  }

 private:
  ChunkerParams p_;
  uint64_t gear_[256];
  uint64_t small_, large_;
};

TEST(ChunkerTest, CutsOfAKnownStreamWithTheDefaultParametersNeverChange) {
  // Recorded from the byte-at-a-time chunker of repositories 1-4: these cuts
  // changing would make every file over 256 KiB store again in full.
  const std::vector<size_t> want = {643372,  1991811, 1757909, 1439588, 1799147, 1313241, 1225914,
                                    1812571, 964187,  1099046, 1175332, 1103957, 1601098, 1225627,
                                    1071733, 1205895, 1099765, 1180899, 1233574, 221158};
  EXPECT_EQ(Cuts(Chunker(), Lcg(24u << 20, 42)), want);
}

TEST(ChunkerTest, CutsWhereTheByteAtATimeGearHashCutsAtEveryOffsetAndLength) {
  // Small parameters give thousands of cuts, so every alignment of a cut
  // (the unrolled loop's lanes), both masks, the max_size cap, the warm-up
  // window shorter than 64 bytes and tails of every length are exercised.
  const ChunkerParams params[] = {{64, 256, 1024}, {16, 64, 128}, {100, 512, 700}, {1, 2, 8}, {0, 4, 64}};
  for (const ChunkerParams& p : params) {
    SCOPED_TRACE("min " + std::to_string(p.min_size) + " avg " + std::to_string(p.avg_size));
    Chunker fast(p);
    ReferenceChunker ref(p);
    std::vector<uint8_t> d = Lcg(1u << 20, p.min_size * 7 + p.max_size);
    size_t cuts = 0;
    for (size_t pos = 0; pos < d.size(); ++cuts) {
      size_t want = ref.FindCut(d.data() + pos, d.size() - pos);
      ASSERT_EQ(fast.FindCut(d.data() + pos, d.size() - pos), want) << "at " << pos;
      pos += want;
    }
    EXPECT_GT(cuts, 1000u);
    for (size_t len = 0; len < 3 * p.max_size && len < d.size(); ++len)
      ASSERT_EQ(fast.FindCut(d.data() + 3, len), ref.FindCut(d.data() + 3, len)) << "length " << len;
  }
}

}  // namespace
}  // namespace maestro
