// util/hash.h — XXH3-128 content hashes (the repository's blob ids and the
// manifest's whole-file hashes) and XXH3-64 record checksums.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace maestro {

struct Hash128 {
  uint64_t hi = 0, lo = 0;
  bool operator==(const Hash128& o) const { return hi == o.hi && lo == o.lo; }
  bool operator!=(const Hash128& o) const { return !(*this == o); }
  bool operator<(const Hash128& o) const { return hi != o.hi ? hi < o.hi : lo < o.lo; }
  std::string Hex() const;                              // 32 lowercase hex chars
  static bool FromHex(std::string_view hex, Hash128* out);  // false if malformed
};

Hash128 Xxh128(std::string_view data);
uint64_t Xxh64(std::string_view data);

// Streaming XXH3-128 for whole files.
class Hasher128 {
 public:
  Hasher128();
  ~Hasher128();
  Hasher128(const Hasher128&) = delete;
  Hasher128& operator=(const Hasher128&) = delete;
  void Update(std::string_view data);
  Hash128 Digest() const;

 private:
  void* state_;
};

std::string HexEncode(std::string_view bytes);
// The bytes of lowercase hex (HexEncode's form); false for an odd length or
// any other character, *out then unchanged.
bool HexDecode(std::string_view hex, std::string* out);

}  // namespace maestro
