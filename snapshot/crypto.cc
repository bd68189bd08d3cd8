#include "snapshot/crypto.h"

#include <sodium.h>

#include <atomic>
#include <cstring>

namespace maestro {

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes, "XChaCha20 key size");
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24, "XChaCha20 nonce size");
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kSealTagBytes, "Poly1305 tag size");
static_assert(crypto_generichash_KEYBYTES == kKeyBytes, "BLAKE2b key size");

namespace {

constexpr char kSealMagic[4] = {'M', 'D', 'B', 'E'};  // not a prefix of MDBSNAP, MDBPACK, MDBINDX, MDBKEY
constexpr uint8_t kSealVersion = 1;
constexpr size_t kNonceOffset = 8;
constexpr size_t kNonceBytes = 24;
constexpr size_t kGcmNonceBytes = 12;
static_assert(crypto_aead_aes256gcm_KEYBYTES == kKeyBytes, "AES-256 key size");
static_assert(crypto_aead_aes256gcm_NPUBBYTES == kGcmNonceBytes, "GCM nonce size");
static_assert(crypto_aead_aes256gcm_ABYTES == kSealTagBytes, "GCM tag size");

const char* CipherWord(Cipher c) {
  return c == Cipher::kAes256Gcm ? "AES-256-GCM" : "XChaCha20-Poly1305";
}

// AES-256-GCM's nonce is 96 bits: drawn at random, one key may seal only
// about 2^32 objects before a repeat becomes a real risk. So no key seals
// twice: each object's key is BLAKE2b(key = an AES key derived from the
// encryption key, message = its 24 random nonce bytes), the construction
// XChaCha20 itself uses to stretch its nonce (HChaCha20 there), and the GCM
// nonce is the first 12 of those bytes. Two objects share a key only if they
// drew the same 192 bits. The derived AES key is never the XChaCha20 key.
void AesObjectKey(const MasterKey& key, const unsigned char* nonce, unsigned char out[kKeyBytes]) {
  unsigned char aes_key[kKeyBytes];
  crypto_kdf_derive_from_key(aes_key, sizeof aes_key, 1, "MDBAESGC", key.encryption_key());
  crypto_generichash(out, kKeyBytes, nonce, kNonceBytes, aes_key, sizeof aes_key);
  sodium_memzero(aes_key, sizeof aes_key);
}

// One AEAD call of either cipher over [in, in + n) into out; false on failure
// (for decrypt: authentication failed).
bool Aead(bool encrypt, Cipher cipher, const MasterKey& key, const unsigned char* nonce, const unsigned char* in,
          size_t n, const std::string& ad, unsigned char* out) {
  const auto* a = reinterpret_cast<const unsigned char*>(ad.data());
  unsigned long long len = 0;
  if (cipher == Cipher::kXChaCha20Poly1305) {
    if (encrypt)
      return crypto_aead_xchacha20poly1305_ietf_encrypt(out, &len, in, n, a, ad.size(), nullptr, nonce,
                                                        key.encryption_key()) == 0;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(out, &len, nullptr, in, n, a, ad.size(), nonce,
                                                      key.encryption_key()) == 0;
  }
  if (!Aes256GcmAvailable()) return false;
  unsigned char k[kKeyBytes];
  AesObjectKey(key, nonce, k);
  int rc = encrypt ? crypto_aead_aes256gcm_encrypt(out, &len, in, n, a, ad.size(), nullptr, nonce, k)
                   : crypto_aead_aes256gcm_decrypt(out, &len, nullptr, in, n, a, ad.size(), nonce, k);
  sodium_memzero(k, sizeof k);
  return rc == 0;
}

// The domain byte of the associated data (docs/encryption.md): stable numbers,
// not the enum's order, so reordering ObjectKind never changes the format.
uint8_t DomainOf(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kConfig: return 1;
    case ObjectKind::kKey: return 2;
    case ObjectKind::kPack: return 3;
    case ObjectKind::kIndex: return 4;
    case ObjectKind::kManifest: return 5;
    case ObjectKind::kLock: return 6;
  }
  return 0;
}
constexpr uint8_t kDomainBlob = 16;

std::atomic<bool> g_aes_disabled_for_test{false};

const char* KindWord(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kConfig: return "config";
    case ObjectKind::kKey: return "key file";
    case ObjectKind::kPack: return "pack";
    case ObjectKind::kIndex: return "index file";
    case ObjectKind::kManifest: return "manifest";
    case ObjectKind::kLock: return "lock";
  }
  return "object";
}

// header || domain || u32le len(name) || name
std::string AssociatedData(std::string_view header, uint8_t domain, std::string_view name) {
  std::string ad(header);
  ad.push_back(static_cast<char>(domain));
  uint32_t n = static_cast<uint32_t>(name.size());
  for (int i = 0; i < 4; ++i) ad.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  ad.append(name);
  return ad;
}

std::string BlobName(const Hash128& id) {
  std::string s(16, '\0');
  for (int i = 0; i < 8; ++i) {
    s[i] = static_cast<char>((id.hi >> (8 * i)) & 0xff);
    s[8 + i] = static_cast<char>((id.lo >> (8 * i)) & 0xff);
  }
  return s;
}

// Seals into out[0, kSealOverhead + plaintext.size()): the header, then the
// ciphertext and its tag. out must not overlap plaintext.
Status SealWithDomainTo(const MasterKey& key, Cipher cipher, uint8_t domain, std::string_view name,
                        std::string_view plaintext, unsigned char* out) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  MAESTRO_RETURN_IF_ERROR(CheckCipherAvailable(cipher, "sealing"));
  if (cipher == Cipher::kAes256Gcm && plaintext.size() > crypto_aead_aes256gcm_MESSAGEBYTES_MAX)
    return Status::InvalidArgument("an object of " + std::to_string(plaintext.size()) +
                                   " bytes is over AES-256-GCM's limit of one message");
  std::memcpy(out, kSealMagic, 4);
  out[4] = kSealVersion;
  out[5] = static_cast<uint8_t>(cipher);
  out[6] = out[7] = 0;
  randombytes_buf(out + kNonceOffset, kNonceBytes);
  std::string ad = AssociatedData(std::string_view(reinterpret_cast<const char*>(out), kSealHeaderBytes), domain, name);
  if (!Aead(true, cipher, key, out + kNonceOffset, reinterpret_cast<const unsigned char*>(plaintext.data()),
            plaintext.size(), ad, out + kSealHeaderBytes))
    return Status::Internal(std::string(CipherWord(cipher)) + " encryption failed");
  return Status::OK();
}

Result<std::string> SealWithDomain(const MasterKey& key, Cipher cipher, uint8_t domain, std::string_view name,
                                   std::string_view plaintext) {
  std::string out(kSealOverhead + plaintext.size(), '\0');
  MAESTRO_RETURN_IF_ERROR(
      SealWithDomainTo(key, cipher, domain, name, plaintext, reinterpret_cast<unsigned char*>(&out[0])));
  return out;
}

Status OpenWithDomain(const MasterKey& key, Cipher cipher, uint8_t domain, std::string_view name,
                      std::string_view sealed, std::string* plaintext, const std::string& what) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  if (sealed.size() < kSealOverhead)
    return Status::Corruption(what + ": " + std::to_string(sealed.size()) + " bytes, shorter than any sealed object (" +
                              std::to_string(kSealOverhead) + ")");
  if (std::memcmp(sealed.data(), kSealMagic, 4) != 0)
    return Status::Corruption(what + ": not a sealed object (bad magic); is the repository encrypted?");
  auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  // One cipher per repository: an object of the other one was not sealed by it.
  const uint8_t alg = static_cast<uint8_t>(cipher);
  if (p[4] != kSealVersion || p[5] != alg || p[6] != 0 || p[7] != 0)
    return Status::Corruption(what + ": sealed-object version " + std::to_string(p[4]) + ", algorithm " +
                              std::to_string(p[5]) + " is not this repository's (1, " + std::to_string(alg) + ")");
  MAESTRO_RETURN_IF_ERROR(CheckCipherAvailable(cipher, what));
  std::string ad = AssociatedData(sealed.substr(0, kSealHeaderBytes), domain, name);
  std::string out(sealed.size() - kSealOverhead, '\0');
  if (!Aead(false, cipher, key, p + kNonceOffset, p + kSealHeaderBytes, sealed.size() - kSealHeaderBytes, ad,
            reinterpret_cast<unsigned char*>(&out[0]))) {
    sodium_memzero(&out[0], out.size());
    return Status::Corruption(what + ": authentication failed (changed, forged, moved from another name, or sealed "
                                     "with another repository's key)");
  }
  *plaintext = std::move(out);
  return Status::OK();
}

}  // namespace

Status InitCrypto() {
  // sodium_init is itself thread-safe and idempotent (0 first, 1 after); the
  // static keeps later calls to a load.
  static const int rc = sodium_init();
  if (rc < 0) return Status::Internal("libsodium could not start (sodium_init failed: no entropy source?)");
  return Status::OK();
}

// ---------------------------------------------------------------- MasterKey
MasterKey& MasterKey::operator=(const MasterKey& o) {
  if (this != &o) bytes_ = o.bytes_;
  return *this;
}

MasterKey::~MasterKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

Result<MasterKey> MasterKey::Generate() {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  MasterKey k;
  randombytes_buf(k.bytes_.data(), k.bytes_.size());
  return k;
}

Result<MasterKey> MasterKey::FromBytes(std::string_view bytes) {
  if (bytes.size() != kMasterKeyBytes)
    return Status::InvalidArgument("a master key is " + std::to_string(kMasterKeyBytes) + " bytes, not " +
                                   std::to_string(bytes.size()));
  MasterKey k;
  std::memcpy(k.bytes_.data(), bytes.data(), kMasterKeyBytes);
  return k;
}

bool MasterKey::operator==(const MasterKey& o) const {
  return sodium_memcmp(bytes_.data(), o.bytes_.data(), bytes_.size()) == 0;
}

// ---------------------------------------------------------------- SecretString
SecretString::SecretString(std::string_view v) {
  s_.reserve(v.size() > kReserve ? v.size() : kReserve);
  s_.assign(v.data(), v.size());
}

SecretString& SecretString::operator=(const SecretString& o) {
  if (this == &o) return *this;
  Clear();
  if (o.size() > s_.capacity()) {
    SecretString tmp(o.view());
    std::swap(s_, tmp.s_);  // the old (wiped) buffer is freed by tmp
  } else {
    s_.assign(o.s_.data(), o.s_.size());
  }
  return *this;
}

SecretString::~SecretString() { Clear(); }

void SecretString::Append(char c) {
  if (s_.size() == s_.capacity()) {
    // Grow by hand so the old buffer is wiped before it is freed.
    std::string bigger;
    bigger.reserve(s_.capacity() * 2 + 1);
    bigger.assign(s_);
    Clear();
    std::swap(s_, bigger);
  }
  s_.push_back(c);
}

void SecretString::Clear() {
  if (!s_.empty()) sodium_memzero(&s_[0], s_.size());
  s_.clear();
}

bool SecretString::operator==(const SecretString& o) const {
  if (s_.size() != o.s_.size()) return false;
  return s_.empty() || sodium_memcmp(s_.data(), o.s_.data(), s_.size()) == 0;
}

// ---------------------------------------------------------------- sealing
bool Aes256GcmAvailable() {
  if (!InitCrypto().ok()) return false;
  static const bool available = crypto_aead_aes256gcm_is_available() == 1;
  return available && !g_aes_disabled_for_test.load();
}

void DisableAes256GcmForTest(bool disabled) { g_aes_disabled_for_test.store(disabled); }

Status CheckCipherAvailable(Cipher cipher, const std::string& what) {
  if (cipher != Cipher::kAes256Gcm || Aes256GcmAvailable()) return Status::OK();
  return Status::InvalidArgument(
      what + " uses AES-256-GCM, which libsodium runs only on a CPU with AES-NI and PCLMUL, and this one has "
             "neither",
      "open it on a machine whose CPU has them, or use XChaCha20-Poly1305 (the default: it runs everywhere)");
}

Result<std::string> Seal(const MasterKey& key, ObjectKind kind, std::string_view name, std::string_view plaintext,
                         Cipher cipher) {
  return SealWithDomain(key, cipher, DomainOf(kind), name, plaintext);
}

Status Open(const MasterKey& key, ObjectKind kind, std::string_view name, std::string_view sealed,
            std::string* plaintext, Cipher cipher) {
  return OpenWithDomain(key, cipher, DomainOf(kind), name, sealed, plaintext,
                        std::string(KindWord(kind)) + " " + std::string(name));
}

Result<std::string> SealBlob(const MasterKey& key, const Hash128& blob_id, std::string_view plaintext, Cipher cipher) {
  return SealWithDomain(key, cipher, kDomainBlob, BlobName(blob_id), plaintext);
}

Result<std::string_view> SealBlobInto(const MasterKey& key, const Hash128& blob_id, std::string_view plaintext,
                                      std::string* buffer, Cipher cipher) {
  const size_t n = kSealOverhead + plaintext.size();
  // Grown, never shrunk: a buffer kept between blobs is sealed into as it is,
  // without a fresh allocation's page faults or a zero-fill of every byte.
  if (buffer->size() < n) buffer->resize(n);
  auto* out = reinterpret_cast<unsigned char*>(&(*buffer)[0]);
  MAESTRO_RETURN_IF_ERROR(SealWithDomainTo(key, cipher, kDomainBlob, BlobName(blob_id), plaintext, out));
  return std::string_view(buffer->data(), n);
}

Status OpenBlob(const MasterKey& key, const Hash128& blob_id, std::string_view sealed, std::string* plaintext,
                Cipher cipher) {
  return OpenWithDomain(key, cipher, kDomainBlob, BlobName(blob_id), sealed, plaintext, "blob " + blob_id.Hex());
}

// ---------------------------------------------------------------- ids
namespace {
Hash128 HashToId(const unsigned char out[16]) {
  Hash128 h;
  for (int i = 7; i >= 0; --i) {
    h.hi = (h.hi << 8) | out[i];
    h.lo = (h.lo << 8) | out[8 + i];
  }
  return h;
}
}  // namespace

Hash128 KeyedBlobId(const MasterKey& key, std::string_view chunk) {
  InitCrypto().IgnoreError("BLAKE2b needs no entropy: sodium_init only picks the fastest implementation");
  unsigned char out[16];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(chunk.data()), chunk.size(),
                     key.id_key(), kKeyBytes);
  return HashToId(out);
}

Hash128 KeyedHashBlobId(const MasterKey& key, std::string_view chunk) {
  InitCrypto().IgnoreError("BLAKE2b needs no entropy: sodium_init only picks the fastest implementation");
  // XXH3-128 in the repository's byte order (as BlobName), then the length.
  const std::string name = BlobName(Xxh128(chunk));
  unsigned char in[24];
  std::memcpy(in, name.data(), 16);
  const uint64_t n = chunk.size();
  for (int i = 0; i < 8; ++i) in[16 + i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
  // Its own personalisation: never the BLAKE2b KeyedBlobId computes, even of a 24-byte chunk.
  static const unsigned char kPersonal[crypto_generichash_blake2b_PERSONALBYTES] = {
      'M', 'D', 'B', '-', 'x', 'x', 'h', '3', '-', 'b', 'l', 'o', 'b', 'i', 'd', '1'};
  unsigned char out[16];
  crypto_generichash_blake2b_salt_personal(out, sizeof out, in, sizeof in, key.id_key(), kKeyBytes, nullptr,
                                           kPersonal);
  return HashToId(out);
}

Result<std::string> RandomBytes(size_t n) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  std::string s(n, '\0');
  if (n) randombytes_buf(&s[0], n);
  return s;
}

}  // namespace maestro
