#include "util/hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <utility>

namespace maestro {

std::string Hash128::Hex() const {
  static const char* digits = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; ++i) s[15 - i] = digits[(hi >> (4 * i)) & 0xf];
  for (int i = 0; i < 16; ++i) s[31 - i] = digits[(lo >> (4 * i)) & 0xf];
  return s;
}

namespace {

// One lowercase hex digit's value, or -1.
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool Hash128::FromHex(std::string_view hex, Hash128* out) {
  if (hex.size() != 32) return false;
  uint64_t parts[2] = {0, 0};
  for (int p = 0; p < 2; ++p) {
    for (int i = 0; i < 16; ++i) {
      int v = HexDigit(hex[static_cast<size_t>(p * 16 + i)]);
      if (v < 0) return false;
      parts[p] = (parts[p] << 4) | static_cast<uint64_t>(v);
    }
  }
  out->hi = parts[0];
  out->lo = parts[1];
  return true;
}

Hash128 Xxh128(std::string_view data) {
  XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return Hash128{h.high64, h.low64};
}

uint64_t Xxh64(std::string_view data) { return XXH3_64bits(data.data(), data.size()); }

Hasher128::Hasher128() {
  auto* st = XXH3_createState();
  XXH3_128bits_reset(st);
  state_ = st;
}
Hasher128::~Hasher128() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Hasher128::Update(std::string_view data) {
  XXH3_128bits_update(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
}
Hash128 Hasher128::Digest() const {
  XXH128_hash_t h = XXH3_128bits_digest(static_cast<XXH3_state_t*>(state_));
  return Hash128{h.high64, h.low64};
}

std::string HexEncode(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s += digits[c >> 4];
    s += digits[c & 0xf];
  }
  return s;
}

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes.push_back(static_cast<char>(hi << 4 | lo));
  }
  *out = std::move(bytes);
  return true;
}

}  // namespace maestro
