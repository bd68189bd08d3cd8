#include "util/coding.h"

namespace maestro {

void PutFixed32(std::string* dst, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(b, 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  dst->append(b, 8);
}

void PutHash128(std::string* dst, const Hash128& h) {
  PutFixed64(dst, h.hi);
  PutFixed64(dst, h.lo);
}

void PutLengthPrefixed(std::string* dst, std::string_view v) {
  PutFixed32(dst, static_cast<uint32_t>(v.size()));
  dst->append(v.data(), v.size());
}

std::string EncodeBigEndian64(uint64_t v) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>((v >> (8 * (7 - i))) & 0xff);
  return k;
}

uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

Hash128 DecodeHash128(const char* p) { return Hash128{DecodeFixed64(p), DecodeFixed64(p + 8)}; }

uint64_t DecodeBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

bool ByteReader::Need(size_t n) {
  if (!ok_ || left() < n) ok_ = false;
  return ok_;
}

uint8_t ByteReader::U8() {
  if (!Need(1)) return 0;
  return static_cast<uint8_t>(b_[pos_++]);
}

uint32_t ByteReader::Fixed32() {
  if (!Need(4)) return 0;
  uint32_t v = DecodeFixed32(b_.data() + pos_);
  pos_ += 4;
  return v;
}

uint64_t ByteReader::Fixed64() {
  if (!Need(8)) return 0;
  uint64_t v = DecodeFixed64(b_.data() + pos_);
  pos_ += 8;
  return v;
}

Hash128 ByteReader::Hash() {
  if (!Need(16)) return {};
  Hash128 v = DecodeHash128(b_.data() + pos_);
  pos_ += 16;
  return v;
}

std::string ByteReader::LengthPrefixed() {
  uint32_t n = Fixed32();
  if (!Need(n)) return {};
  std::string v(b_.data() + pos_, n);
  pos_ += n;
  return v;
}

uint32_t ByteReader::Count(size_t min_item) {
  uint32_t n = Fixed32();
  if (ok_ && min_item > 0 && n > left() / min_item) ok_ = false;
  return ok_ ? n : 0;
}

}  // namespace maestro
