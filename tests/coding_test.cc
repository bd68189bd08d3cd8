// util/coding.h: the byte layouts every on-disk format shares.
#include <gtest/gtest.h>

#include <string>

#include "util/coding.h"

namespace maestro {
namespace {

TEST(Coding, FixedWidthIntegersAreLittleEndian) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  PutFixed64(&s, 0x0c0b0a0908070605ull);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12));
  EXPECT_EQ(DecodeFixed32(s.data()), 0x04030201u);
  EXPECT_EQ(DecodeFixed64(s.data() + 4), 0x0c0b0a0908070605ull);
}

TEST(Coding, HighBitsSurviveTheRoundTrip) {
  std::string s;
  PutFixed32(&s, 0xffffffffu);
  PutFixed64(&s, 0x8000000000000001ull);
  EXPECT_EQ(DecodeFixed32(s.data()), 0xffffffffu);
  EXPECT_EQ(DecodeFixed64(s.data() + 4), 0x8000000000000001ull);
}

TEST(Coding, HashIsHiThenLo) {
  Hash128 h{0x1111111111111111ull, 0x2222222222222222ull};
  std::string s;
  PutHash128(&s, h);
  ASSERT_EQ(s.size(), 16u);
  EXPECT_EQ(DecodeFixed64(s.data()), h.hi);
  EXPECT_EQ(DecodeHash128(s.data()), h);
}

TEST(Coding, BigEndianKeysSortAsNumbers) {
  EXPECT_LT(EncodeBigEndian64(255), EncodeBigEndian64(256));
  EXPECT_LT(EncodeBigEndian64(1), EncodeBigEndian64(1ull << 56));
  std::string k = EncodeBigEndian64(0x0102030405060708ull);
  EXPECT_EQ(k, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(DecodeBigEndian64(k.data()), 0x0102030405060708ull);
}

TEST(Coding, ReaderReadsBackWhatWasPut) {
  std::string s;
  s.push_back('\x7f');
  PutFixed32(&s, 7);
  PutFixed64(&s, 1ull << 40);
  PutLengthPrefixed(&s, "hello");
  PutHash128(&s, Hash128{3, 4});
  ByteReader r(s);
  EXPECT_EQ(r.U8(), 0x7f);
  EXPECT_EQ(r.Fixed32(), 7u);
  EXPECT_EQ(r.Fixed64(), 1ull << 40);
  EXPECT_EQ(r.LengthPrefixed(), "hello");
  EXPECT_EQ(r.Hash(), (Hash128{3, 4}));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.left(), 0u);
}

TEST(Coding, ReaderFailsPastTheEndAndStaysFailed) {
  std::string s;
  PutFixed32(&s, 1000);  // a string length the bytes cannot hold
  s += "abc";
  ByteReader r(s);
  EXPECT_EQ(r.LengthPrefixed(), "");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.U8(), 0);  // sticky: nothing more is read
  EXPECT_FALSE(r.ok());
}

TEST(Coding, ReaderRefusesACountTheBytesCannotHold) {
  std::string s;
  PutFixed32(&s, 3);
  s.append(2 * 16, 'x');  // room for two 16-byte items, not three
  ByteReader r(s);
  EXPECT_EQ(r.Count(16), 0u);
  EXPECT_FALSE(r.ok());
  ByteReader fits(s);
  EXPECT_EQ(fits.Count(10), 3u);
  EXPECT_TRUE(fits.ok());
}

}  // namespace
}  // namespace maestro
