// tests/fuzz/fuzz_util.h — helpers shared by the decoder fuzz targets.
//
// Every on-disk format here ends with an XXH3-64 of what precedes it, so random
// bytes almost never get past the checksum. Each target therefore decodes the
// input twice: as is (the checksum path), and "resealed" — the input with a
// correct checksum appended — which reaches the body decoder behind it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "util/hash.h"

namespace maestro::fuzz {

inline std::string Reseal(std::string_view body) {
  std::string s(body);
  uint64_t v = Xxh64(s);
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

// A version-4 manifest around `inner` (snapshot/format.h): u64 declared total
// length, u32 low half of its XXH3-64, then inner (the PlainSealer's identity
// seal), so inputs reach the decoder behind the length check.
inline std::string FrameV4Manifest(std::string_view inner) {
  std::string s;
  uint64_t len = 12 + inner.size();
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  uint32_t check = static_cast<uint32_t>(Xxh64(s));
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((check >> (8 * i)) & 0xff));
  s.append(inner);
  return s;
}

// Aborts (a libFuzzer crash) with a message when a round-trip property fails.
inline void Require(bool cond, const char* what) {
  if (!cond) {
    fprintf(stderr, "round trip failed: %s\n", what);
    std::abort();
  }
}

}  // namespace maestro::fuzz
