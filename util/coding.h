// util/coding.h — the one copy of the byte coding every on-disk format uses
// (as leveldb's util/coding.h): fixed-width little-endian integers, XXH3-128
// hashes (hi then lo, each little-endian), u32-length-prefixed strings, and
// big-endian keys that sort as numbers.
//
// Encoders append to a std::string and cannot fail. Decode* read from a
// pointer the caller has checked holds enough bytes; ByteReader reads from
// untrusted bytes and checks every bound itself (the first failure sticks,
// later reads return zero values). Pure functions and values; thread-safe.
// The layouts are part of docs/repository-format.md and
// docs/journal-format.md: changing one changes the on-disk format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/hash.h"

namespace maestro {

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutHash128(std::string* dst, const Hash128& h);
// u32 length, then the bytes.
void PutLengthPrefixed(std::string* dst, std::string_view v);
// 8 bytes, most significant first: byte order is numeric order (LMDB keys).
std::string EncodeBigEndian64(uint64_t v);

uint32_t DecodeFixed32(const char* p);
uint64_t DecodeFixed64(const char* p);
Hash128 DecodeHash128(const char* p);
uint64_t DecodeBigEndian64(const char* p);

// Bounds-checked reader over untrusted bytes.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : b_(bytes) {}
  bool ok() const { return ok_; }
  size_t left() const { return b_.size() - pos_; }
  // False (and the reader failed) when fewer than n bytes are left.
  bool Need(size_t n);
  uint8_t U8();
  uint32_t Fixed32();
  uint64_t Fixed64();
  Hash128 Hash();
  std::string LengthPrefixed();
  // A count of items each at least min_item bytes long: rejects counts the
  // remaining bytes cannot hold, so a flipped count cannot make the caller allocate.
  uint32_t Count(size_t min_item);

 private:
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace maestro
