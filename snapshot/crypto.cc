#include "snapshot/crypto.h"

#include <sodium.h>

#include <cstring>

namespace maestro {

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kKeyBytes, "XChaCha20 key size");
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24, "XChaCha20 nonce size");
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kSealTagBytes, "Poly1305 tag size");
static_assert(crypto_generichash_KEYBYTES == kKeyBytes, "BLAKE2b key size");

namespace {

constexpr char kSealMagic[4] = {'M', 'D', 'B', 'E'};  // not a prefix of MDBSNAP, MDBPACK, MDBINDX, MDBKEY
constexpr uint8_t kSealVersion = 1;
constexpr uint8_t kAlgXChaCha20Poly1305 = 1;
constexpr size_t kNonceOffset = 8;
constexpr size_t kNonceBytes = 24;

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

Result<std::string> SealWithDomain(const MasterKey& key, uint8_t domain, std::string_view name,
                                   std::string_view plaintext) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  std::string out(kSealHeaderBytes + plaintext.size() + kSealTagBytes, '\0');
  auto* p = reinterpret_cast<unsigned char*>(&out[0]);
  std::memcpy(p, kSealMagic, 4);
  p[4] = kSealVersion;
  p[5] = kAlgXChaCha20Poly1305;
  randombytes_buf(p + kNonceOffset, kNonceBytes);
  std::string ad = AssociatedData(out.substr(0, kSealHeaderBytes), domain, name);
  unsigned long long clen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          p + kSealHeaderBytes, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, p + kNonceOffset,
          key.encryption_key()) != 0 ||
      clen != plaintext.size() + kSealTagBytes)
    return Status::Internal("crypto_aead_xchacha20poly1305_ietf_encrypt failed");
  return out;
}

Status OpenWithDomain(const MasterKey& key, uint8_t domain, std::string_view name, std::string_view sealed,
                      std::string* plaintext, const std::string& what) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  if (sealed.size() < kSealOverhead)
    return Status::Corruption(what + ": " + std::to_string(sealed.size()) + " bytes, shorter than any sealed object (" +
                              std::to_string(kSealOverhead) + ")");
  if (std::memcmp(sealed.data(), kSealMagic, 4) != 0)
    return Status::Corruption(what + ": not a sealed object (bad magic); is the repository encrypted?");
  auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  if (p[4] != kSealVersion || p[5] != kAlgXChaCha20Poly1305 || p[6] != 0 || p[7] != 0)
    return Status::Corruption(what + ": sealed-object version " + std::to_string(p[4]) + ", algorithm " +
                              std::to_string(p[5]) + " is not one this build reads (1, 1)");
  std::string ad = AssociatedData(sealed.substr(0, kSealHeaderBytes), domain, name);
  std::string out(sealed.size() - kSealOverhead, '\0');
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(&out[0]), &mlen, nullptr, p + kSealHeaderBytes,
          sealed.size() - kSealHeaderBytes, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
          p + kNonceOffset, key.encryption_key()) != 0) {
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
Result<std::string> Seal(const MasterKey& key, ObjectKind kind, std::string_view name, std::string_view plaintext) {
  return SealWithDomain(key, DomainOf(kind), name, plaintext);
}

Status Open(const MasterKey& key, ObjectKind kind, std::string_view name, std::string_view sealed,
            std::string* plaintext) {
  return OpenWithDomain(key, DomainOf(kind), name, sealed, plaintext,
                        std::string(KindWord(kind)) + " " + std::string(name));
}

Result<std::string> SealBlob(const MasterKey& key, const Hash128& blob_id, std::string_view plaintext) {
  return SealWithDomain(key, kDomainBlob, BlobName(blob_id), plaintext);
}

Status OpenBlob(const MasterKey& key, const Hash128& blob_id, std::string_view sealed, std::string* plaintext) {
  return OpenWithDomain(key, kDomainBlob, BlobName(blob_id), sealed, plaintext, "blob " + blob_id.Hex());
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

Result<std::string> RandomBytes(size_t n) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  std::string s(n, '\0');
  if (n) randombytes_buf(&s[0], n);
  return s;
}

}  // namespace maestro
