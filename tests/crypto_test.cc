// tests/crypto_test.cc — snapshot/crypto.h: sealed objects, keyed blob ids,
// master keys (issue 15 point 4). Fast: no password derivation here.
#include "snapshot/crypto.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "snapshot/sealer.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

MasterKey NewKey() {
  auto k = MasterKey::Generate();
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.value();
}

TEST(Crypto, SealThenOpenRoundTripsEverySize) {
  MasterKey key = NewKey();
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 4096u, 1u << 20}) {
    std::string plain = testing::RandomBytes(n, static_cast<uint32_t>(n));
    auto sealed = Seal(key, ObjectKind::kManifest, "20261201_020000", plain);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    EXPECT_EQ(sealed->size(), n + kSealOverhead);
    std::string back;
    ASSERT_TRUE(Open(key, ObjectKind::kManifest, "20261201_020000", *sealed, &back).ok());
    EXPECT_EQ(back, plain);
  }
}

TEST(Crypto, SealedObjectStartsWithTheDocumentedHeader) {
  MasterKey key = NewKey();
  auto sealed = Seal(key, ObjectKind::kIndex, "x.idx", "abc");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->substr(0, 4), "MDBE");
  EXPECT_EQ((*sealed)[4], 1);  // envelope version
  EXPECT_EQ((*sealed)[5], 1);  // XChaCha20-Poly1305-IETF
  EXPECT_EQ(sealed->substr(6, 2), std::string(2, '\0'));
  // The plaintext is nowhere in the sealed bytes.
  auto big = Seal(key, ObjectKind::kIndex, "x.idx", std::string(1000, 'A'));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->find("AAAAAAAA"), std::string::npos);
}

TEST(Crypto, SealingTheSameBytesTwiceGivesDifferentObjects) {
  MasterKey key = NewKey();
  auto a = Seal(key, ObjectKind::kManifest, "m", "same bytes");
  auto b = Seal(key, ObjectKind::kManifest, "m", "same bytes");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->substr(8, 24), b->substr(8, 24)) << "the nonce must be fresh";
  EXPECT_NE(*a, *b);
}

TEST(Crypto, OpenRefusesAFlippedBitInEveryByte) {
  MasterKey key = NewKey();
  auto sealed = Seal(key, ObjectKind::kManifest, "20261201_020000", "the manifest body");
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string bad = *sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    std::string out = "untouched";
    Status st = Open(key, ObjectKind::kManifest, "20261201_020000", bad, &out);
    EXPECT_TRUE(st.IsCorruption()) << "byte " << i << ": " << st.ToString();
    EXPECT_EQ(out, "untouched") << "byte " << i;
  }
}

TEST(Crypto, OpenRefusesTruncatedAndExtendedObjects) {
  MasterKey key = NewKey();
  auto sealed = Seal(key, ObjectKind::kPack, "p.pack", "0123456789");
  ASSERT_TRUE(sealed.ok());
  std::string out;
  for (size_t n = 0; n < sealed->size(); ++n)
    EXPECT_TRUE(Open(key, ObjectKind::kPack, "p.pack", sealed->substr(0, n), &out).IsCorruption()) << n;
  EXPECT_TRUE(Open(key, ObjectKind::kPack, "p.pack", *sealed + "x", &out).IsCorruption());
}

TEST(Crypto, OpenRefusesAValidObjectMovedToAnotherName) {
  MasterKey key = NewKey();
  auto sealed = Seal(key, ObjectKind::kManifest, "20261201_020000", "snapshot A");
  ASSERT_TRUE(sealed.ok());
  std::string out;
  Status st = Open(key, ObjectKind::kManifest, "20261202_020000", *sealed, &out);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("authentication failed"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("20261202_020000"), std::string::npos) << "names the object: " << st.message();
  // A name that is a prefix or extension of the real one is another name too.
  EXPECT_TRUE(Open(key, ObjectKind::kManifest, "20261201_02000", *sealed, &out).IsCorruption());
  EXPECT_TRUE(Open(key, ObjectKind::kManifest, "20261201_020000_2", *sealed, &out).IsCorruption());
}

TEST(Crypto, OpenRefusesAValidObjectMovedToAnotherKind) {
  MasterKey key = NewKey();
  auto sealed = Seal(key, ObjectKind::kIndex, "abcd", "index bytes");
  ASSERT_TRUE(sealed.ok());
  std::string out;
  for (ObjectKind k : {ObjectKind::kConfig, ObjectKind::kKey, ObjectKind::kPack, ObjectKind::kManifest,
                       ObjectKind::kLock})
    EXPECT_TRUE(Open(key, k, "abcd", *sealed, &out).IsCorruption());
  EXPECT_TRUE(Open(key, ObjectKind::kIndex, "abcd", *sealed, &out).ok());
}

TEST(Crypto, OpenRefusesAnotherRepositorysKey) {
  MasterKey a = NewKey(), b = NewKey();
  EXPECT_NE(a, b);
  auto sealed = Seal(a, ObjectKind::kManifest, "m", "secret");
  ASSERT_TRUE(sealed.ok());
  std::string out;
  EXPECT_TRUE(Open(b, ObjectKind::kManifest, "m", *sealed, &out).IsCorruption());
}

TEST(Crypto, OpenRefusesAPlaintextObject) {
  MasterKey key = NewKey();
  std::string out;
  Status st = Open(key, ObjectKind::kManifest, "m", std::string("MDBSNAP\0", 8) + std::string(100, 'x'), &out);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("not a sealed object"), std::string::npos) << st.message();
}

TEST(Crypto, OpenBlobRefusesBytesOfAnotherBlobId) {
  MasterKey key = NewKey();
  Hash128 id1 = KeyedBlobId(key, "chunk one"), id2 = KeyedBlobId(key, "chunk two");
  auto sealed = SealBlob(key, id1, "chunk one");
  ASSERT_TRUE(sealed.ok());
  std::string out;
  ASSERT_TRUE(OpenBlob(key, id1, *sealed, &out).ok());
  EXPECT_EQ(out, "chunk one");
  EXPECT_TRUE(OpenBlob(key, id2, *sealed, &out).IsCorruption());
  // A blob is not an object of any kind, even under its id's bytes as a name.
  EXPECT_TRUE(Open(key, ObjectKind::kPack, id1.Hex(), *sealed, &out).IsCorruption());
}

TEST(Crypto, KeyedBlobIdsDeduplicateWithinARepositoryAndRevealNothingAcross) {
  MasterKey a = NewKey(), b = NewKey();
  std::string chunk = testing::RandomBytes(10000, 7);
  EXPECT_EQ(KeyedBlobId(a, chunk), KeyedBlobId(a, chunk));
  EXPECT_NE(KeyedBlobId(a, chunk), KeyedBlobId(b, chunk));
  EXPECT_NE(KeyedBlobId(a, chunk), Xxh128(chunk)) << "an unkeyed hash would let storage test guesses";
  EXPECT_NE(KeyedBlobId(a, chunk), KeyedBlobId(a, chunk + "x"));
}

TEST(Crypto, MasterKeysAreRandomAndRoundTripThroughBytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    MasterKey k = NewKey();
    seen.insert(std::string(reinterpret_cast<const char*>(k.data()), kMasterKeyBytes));
    auto back = MasterKey::FromBytes(std::string_view(reinterpret_cast<const char*>(k.data()), kMasterKeyBytes));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, k);
  }
  EXPECT_EQ(seen.size(), 50u);
  MasterKey k = NewKey();
  EXPECT_NE(std::string(reinterpret_cast<const char*>(k.encryption_key()), kKeyBytes),
            std::string(reinterpret_cast<const char*>(k.id_key()), kKeyBytes));
  EXPECT_FALSE(MasterKey::FromBytes("short").ok());
}

TEST(Crypto, SecretStringKeepsItsBytesWhileGrowingAndCompares) {
  SecretString s;
  std::string expect;
  for (int i = 0; i < 10000; ++i) {
    char c = static_cast<char>('a' + i % 26);
    s.Append(c);
    expect.push_back(c);
  }
  EXPECT_EQ(s.view(), expect);
  SecretString t(expect);
  EXPECT_TRUE(s == t);
  t.Append('x');
  EXPECT_FALSE(s == t);
  SecretString u;
  u = t;
  EXPECT_TRUE(u == t);
  u.Clear();
  EXPECT_TRUE(u.empty());
}

// ---------------------------------------------------------------- AES-256-GCM

// The tests of a cipher only where the CPU runs it (libsodium has no software AES).
#define SKIP_WITHOUT_AES()                                                           \
  if (!Aes256GcmAvailable()) GTEST_SKIP() << "this CPU has no AES-NI: libsodium offers no AES-256-GCM"

TEST(Crypto, Aes256GcmSealThenOpenRoundTripsEverySizeAndSaysItsAlgorithm) {
  SKIP_WITHOUT_AES();
  MasterKey key = NewKey();
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 4096u, 1u << 20}) {
    std::string plain = testing::RandomBytes(n, static_cast<uint32_t>(n) + 100);
    auto sealed = Seal(key, ObjectKind::kManifest, "20261201_020000", plain, Cipher::kAes256Gcm);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    EXPECT_EQ(sealed->size(), n + kSealOverhead);
    EXPECT_EQ(sealed->substr(0, 4), "MDBE");
    EXPECT_EQ((*sealed)[5], 2) << "algorithm 2 = AES-256-GCM";
    std::string back;
    ASSERT_TRUE(Open(key, ObjectKind::kManifest, "20261201_020000", *sealed, &back, Cipher::kAes256Gcm).ok());
    EXPECT_EQ(back, plain);
  }
}

TEST(Crypto, Aes256GcmOpenRefusesAFlippedBitInEveryByteAnotherNameAndAnotherKey) {
  SKIP_WITHOUT_AES();
  MasterKey key = NewKey(), other = NewKey();
  auto sealed = Seal(key, ObjectKind::kManifest, "20261201_020000", "the manifest body", Cipher::kAes256Gcm);
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string bad = *sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    std::string out = "untouched";
    Status st = Open(key, ObjectKind::kManifest, "20261201_020000", bad, &out, Cipher::kAes256Gcm);
    EXPECT_TRUE(st.IsCorruption()) << "byte " << i << ": " << st.ToString();
    EXPECT_EQ(out, "untouched") << "byte " << i;
  }
  std::string out;
  EXPECT_TRUE(Open(key, ObjectKind::kManifest, "20261202_020000", *sealed, &out, Cipher::kAes256Gcm).IsCorruption());
  EXPECT_TRUE(Open(key, ObjectKind::kIndex, "20261201_020000", *sealed, &out, Cipher::kAes256Gcm).IsCorruption());
  EXPECT_TRUE(Open(other, ObjectKind::kManifest, "20261201_020000", *sealed, &out, Cipher::kAes256Gcm).IsCorruption());
  Hash128 id = KeyedHashBlobId(key, "chunk");
  auto blob = SealBlob(key, id, "chunk", Cipher::kAes256Gcm);
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(OpenBlob(key, id, *blob, &out, Cipher::kAes256Gcm).ok());
  EXPECT_EQ(out, "chunk");
  EXPECT_TRUE(OpenBlob(key, KeyedHashBlobId(key, "chunk2"), *blob, &out, Cipher::kAes256Gcm).IsCorruption());
}

// One cipher per repository: an object of the other cipher is not this
// repository's, whatever its tag (a downgrade is refused, not tried).
TEST(Crypto, OpenRefusesAnObjectSealedWithTheOtherCipher) {
  SKIP_WITHOUT_AES();
  MasterKey key = NewKey();
  auto x = Seal(key, ObjectKind::kIndex, "i", "bytes", Cipher::kXChaCha20Poly1305);
  auto a = Seal(key, ObjectKind::kIndex, "i", "bytes", Cipher::kAes256Gcm);
  ASSERT_TRUE(x.ok() && a.ok());
  std::string out = "untouched";
  Status st = Open(key, ObjectKind::kIndex, "i", *x, &out, Cipher::kAes256Gcm);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("not this repository's"), std::string::npos) << st.message();
  EXPECT_TRUE(Open(key, ObjectKind::kIndex, "i", *a, &out, Cipher::kXChaCha20Poly1305).IsCorruption());
  // The algorithm byte rewritten to the other cipher's: authentication fails.
  std::string relabelled = *x;
  relabelled[5] = 2;
  EXPECT_TRUE(Open(key, ObjectKind::kIndex, "i", relabelled, &out, Cipher::kAes256Gcm).IsCorruption());
  EXPECT_EQ(out, "untouched");
}

// Each object has a key of its own (derived from its random nonce), so
// sealing the same bytes twice under one master key gives unrelated
// ciphertexts, not two GCM streams that differ only in a counter.
TEST(Crypto, Aes256GcmSealsEachObjectUnderItsOwnNonceAndKey) {
  SKIP_WITHOUT_AES();
  MasterKey key = NewKey();
  const std::string zeros(64, '\0');
  auto a = Seal(key, ObjectKind::kPack, "p", zeros, Cipher::kAes256Gcm);
  auto b = Seal(key, ObjectKind::kPack, "p", zeros, Cipher::kAes256Gcm);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->substr(8, 24), b->substr(8, 24));
  EXPECT_NE(a->substr(32, 64), b->substr(32, 64));
}

TEST(Crypto, Aes256GcmIsRefusedClearlyWhereTheCpuHasNoAesNi) {
  DisableAes256GcmForTest(true);
  MasterKey key = NewKey();
  EXPECT_FALSE(Aes256GcmAvailable());
  Status st = CheckCipherAvailable(Cipher::kAes256Gcm, "the repository at /r");
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("AES-NI"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("/r"), std::string::npos) << st.message();
  EXPECT_TRUE(CheckCipherAvailable(Cipher::kXChaCha20Poly1305, "x").ok());
  EXPECT_FALSE(Seal(key, ObjectKind::kIndex, "i", "bytes", Cipher::kAes256Gcm).ok());
  std::string out;
  EXPECT_EQ(Open(key, ObjectKind::kIndex, "i", std::string(100, 'x'), &out, Cipher::kAes256Gcm).code(),
            Status::Code::kCorruption)
      << "not a sealed object at all is still Corruption";
  DisableAes256GcmForTest(false);
}

// ---------------------------------------------------------------- keyed-xxh3 ids

TEST(Crypto, KeyedHashBlobIdsDeduplicateAndRevealNothingAcrossRepositories) {
  MasterKey a = NewKey(), b = NewKey();
  const std::string chunk = testing::RandomBytes(5000, 3);
  EXPECT_EQ(KeyedHashBlobId(a, chunk), KeyedHashBlobId(a, chunk));
  EXPECT_NE(KeyedHashBlobId(a, chunk), KeyedHashBlobId(b, chunk));
  EXPECT_NE(KeyedHashBlobId(a, chunk), Xxh128(chunk)) << "an unkeyed hash would let storage test guesses";
  EXPECT_NE(KeyedHashBlobId(a, chunk), KeyedBlobId(a, chunk)) << "another id function than the first scheme's";
  EXPECT_NE(KeyedHashBlobId(a, chunk), KeyedHashBlobId(a, chunk + "x"));
  EXPECT_NE(KeyedHashBlobId(a, ""), KeyedHashBlobId(a, std::string(1, '\0')));
}

// The id of a 24-byte chunk is not the first scheme's id of a chunk equal to
// XXH3-128 || len (separate BLAKE2b personalisations).
TEST(Crypto, KeyedHashBlobIdIsNotTheFirstSchemesIdOfItsOwnInput) {
  MasterKey key = NewKey();
  const std::string chunk = "some chunk";
  Hash128 h = Xxh128(chunk);
  std::string in;
  for (int i = 0; i < 8; ++i) in.push_back(static_cast<char>((h.hi >> (8 * i)) & 0xff));
  for (int i = 0; i < 8; ++i) in.push_back(static_cast<char>((h.lo >> (8 * i)) & 0xff));
  for (int i = 0; i < 8; ++i) in.push_back(static_cast<char>(i == 0 ? chunk.size() : 0));
  EXPECT_NE(KeyedHashBlobId(key, chunk), KeyedBlobId(key, in));
}

// Known answers, made once by this build: a later build must still open them
// (the envelope and the id function are a format, docs/encryption.md).
std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

MasterKey CountingKey() {  // bytes 0, 1, ..., 63
  std::string b;
  for (int i = 0; i < 64; ++i) b.push_back(static_cast<char>(i));
  return MasterKey::FromBytes(b).value();
}

TEST(Crypto, VersionOneSealedObjectStillOpens) {
  const std::string sealed = FromHex(
      "4d444245010100004a9ae6fdf350032257f267c2084aaf78a9baf1b712b7cdb3566618b9ce368e120329fd8b65f0f2858924050f3b92"
      "ab7fc7a69e4063724153c53a833f045956d0f6b63b7aabf6954bc68ea5b4");
  std::string out;
  Status st = Open(CountingKey(), ObjectKind::kManifest, "20261201_020000", sealed, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "maestro-db sealed object test vector");
}

TEST(Crypto, KeyedBlobIdOfAKnownChunkIsStable) {
  EXPECT_EQ(KeyedBlobId(CountingKey(), "chunk").Hex(), "b3f9001648a66385437d66e5ffd2806e");
}

// Checked outside this code too: Python's hashlib.blake2b(xxh3_128_bytes +
// len, key=bytes(range(32, 64)), digest_size=16, person=b"MDB-xxh3-blobid1").
TEST(Crypto, KeyedHashBlobIdOfAKnownChunkIsStable) {
  EXPECT_EQ(KeyedHashBlobId(CountingKey(), "chunk").Hex(), "985753d8d9fef3270dc4faa331b74346");
}

// Checked outside this code too (Python's cryptography AESGCM, hashlib's
// BLAKE2b for the two key derivations: docs/encryption.md "AES-256-GCM").
TEST(Crypto, VersionOneAes256GcmSealedObjectStillOpens) {
  SKIP_WITHOUT_AES();
  const std::string sealed = FromHex(
      "4d44424501020000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b725ee8fa710d0a7c04062c2d17da2bafe2f0eb141f6"
      "58fbafbcd1acf3d049420789cf447f59a6ad25fe55407bf24f17995ac2d8ac");
  std::string out;
  Status st = Open(CountingKey(), ObjectKind::kManifest, "20261201_020000", sealed, &out, Cipher::kAes256Gcm);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "maestro-db sealed object test vector");
}

// ---------------------------------------------------------------- sealing blob after blob into one buffer

// The pack writer seals every blob into a buffer kept from the blob before
// (snapshot/pack_writer.h): a blob shorter than the last one must be its own
// length, and nothing of the buffer's earlier bytes may reach it.
TEST(Crypto, SealBlobIntoAReusedBufferGivesEachBlobAtItsOwnLengthForEitherCipher) {
  MasterKey key = NewKey();
  for (Cipher cipher : {Cipher::kXChaCha20Poly1305, Cipher::kAes256Gcm}) {
    if (cipher == Cipher::kAes256Gcm && !Aes256GcmAvailable()) continue;
    std::string buffer(3u << 20, '\xab');  // dirty and longer than most blobs
    size_t longest = buffer.size();
    for (size_t n : {1u << 20, 17u, 0u, 4096u, 4u << 20, 1u}) {
      std::string plain = testing::RandomBytes(n, static_cast<uint32_t>(n) + 7);
      Hash128 id = KeyedHashBlobId(key, plain);
      auto sealed = SealBlobInto(key, id, plain, &buffer, cipher);
      ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
      EXPECT_EQ(sealed->size(), n + kSealOverhead);
      EXPECT_EQ(sealed->data(), buffer.data()) << "sealed in the buffer, not a copy";
      longest = std::max(longest, n + kSealOverhead);
      EXPECT_EQ(buffer.size(), longest) << "grown when short, never shrunk";
      std::string back;
      ASSERT_TRUE(OpenBlob(key, id, std::string(*sealed), &back, cipher).ok()) << n;
      EXPECT_EQ(back, plain);
      // The same bytes as SealBlob's (apart from the random nonce): its reader opens either.
      auto fresh = SealBlob(key, id, plain, cipher);
      ASSERT_TRUE(fresh.ok());
      EXPECT_EQ(fresh->size(), sealed->size());
      EXPECT_EQ(fresh->substr(0, 8), std::string(sealed->substr(0, 8)));
    }
  }
}

TEST(Crypto, PlainSealerSealBlobIntoIsTheBlobItselfWithNoCopy) {
  const std::string blob = "an unencrypted repository stores a blob as it is";
  std::string buffer;
  auto stored = PlainSealer()->SealBlobInto(Xxh128(blob), blob, &buffer);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->data(), blob.data());
  EXPECT_EQ(stored->size(), blob.size());
  EXPECT_TRUE(buffer.empty());
}

TEST(Crypto, EncryptingSealerSealBlobIntoOpensWithItsOpenBlob) {
  MasterKey key = NewKey();
  auto sealer = EncryptingSealer(key, kDefaultEncryption, "test");
  ASSERT_TRUE(sealer.ok()) << sealer.status().ToString();
  std::string buffer;
  for (size_t n : {300000u, 10u}) {
    std::string plain = testing::RandomBytes(n, static_cast<uint32_t>(n));
    Hash128 id = (*sealer)->BlobId(plain);
    auto sealed = (*sealer)->SealBlobInto(id, plain, &buffer);
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    EXPECT_EQ(sealed->size(), n + (*sealer)->Overhead());
    std::string back;
    ASSERT_TRUE((*sealer)->OpenBlob(id, *sealed, &back).ok());
    EXPECT_EQ(back, plain);
  }
}

// A Sealer that only says how to SealBlob (tests' stand-ins) gets a
// SealBlobInto of the same bytes.
TEST(Crypto, SealBlobIntoOfASealerWithOnlySealBlobIsItsSealBlob) {
  class Tagging final : public Sealer {
   public:
    std::string_view Scheme() const override { return "xchacha20poly1305"; }
    Hash128 BlobId(std::string_view p) const override { return Xxh128(p); }
    size_t Overhead() const override { return 1; }
    Result<std::string> SealBlob(const Hash128&, std::string_view p) const override { return "T" + std::string(p); }
    Status OpenBlob(const Hash128&, std::string_view, std::string*) const override { return Status::OK(); }
    Result<std::string> Seal(ObjectKind, std::string_view, std::string_view p) const override { return std::string(p); }
    Status Open(ObjectKind, std::string_view, std::string_view, std::string*) const override { return Status::OK(); }
  };
  Tagging sealer;
  std::string buffer(100, 'x');
  auto sealed = sealer.SealBlobInto(Hash128(), "abc", &buffer);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*sealed, "Tabc");
  EXPECT_EQ(buffer.size(), 100u);
}

}  // namespace
}  // namespace maestro
