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

// Aborts (a libFuzzer crash) with a message when a round-trip property fails.
inline void Require(bool cond, const char* what) {
  if (!cond) {
    fprintf(stderr, "round trip failed: %s\n", what);
    std::abort();
  }
}

}  // namespace maestro::fuzz
