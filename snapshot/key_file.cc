// snapshot/key_file.cc — one key file's bytes (docs/encryption.md "Key files"):
// EncodeKeyFile, DecodeKeyFile, UnwrapKeyFile of snapshot/keys.h.
#include <sodium.h>

#include <cstring>

#include "snapshot/keys.h"

namespace maestro {

namespace {

constexpr char kKeyMagic[8] = {'M', 'D', 'B', 'K', 'E', 'Y', '\0', '\0'};
constexpr uint32_t kKeyFileVersion = 1;
constexpr uint8_t kKdfArgon2id13 = 1;
constexpr size_t kSaltBytes = crypto_pwhash_SALTBYTES;  // 16
constexpr size_t kCheckBytes = 16;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr size_t kWrappedBytes = kMasterKeyBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES;  // 80
constexpr size_t kMaxMetaString = 255;
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES] = {'M', 'D', 'B', 'K', 'E', 'Y', '0', '1'};
constexpr uint64_t kSubkeyWrap = 1, kSubkeyCheck = 2;

static_assert(kSaltBytes == 16, "Argon2id salt size");
static_assert(crypto_kdf_BYTES_MIN <= kCheckBytes, "check size");

void PutU16(std::string* s, uint16_t v) {
  for (int i = 0; i < 2; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Bounds-checked little-endian reader: every read past the end sets bad.
struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool bad = false;
  std::string_view Bytes(size_t n) {
    if (bad || in.size() - pos < n) {
      bad = true;
      return {};
    }
    std::string_view v = in.substr(pos, n);
    pos += n;
    return v;
  }
  uint64_t Uint(size_t n) {
    std::string_view b = Bytes(n);
    uint64_t v = 0;
    for (size_t i = b.size(); i-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[i]);
    return v;
  }
  std::string Str16() { return std::string(Bytes(static_cast<size_t>(Uint(2)))); }
};

// The 32-byte key Argon2id derives from the password, and its two subkeys.
struct DerivedKeys {
  unsigned char wrap[kKeyBytes];
  unsigned char check[kCheckBytes];
  ~DerivedKeys() {
    sodium_memzero(wrap, sizeof wrap);
    sodium_memzero(check, sizeof check);
  }
};

Status Derive(std::string_view password, std::string_view salt, const KdfParams& kdf, DerivedKeys* out) {
  MAESTRO_RETURN_IF_ERROR(InitCrypto());
  unsigned char kek[kKeyBytes];
  if (crypto_pwhash(kek, sizeof kek, password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                    kdf.opslimit, static_cast<size_t>(kdf.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    sodium_memzero(kek, sizeof kek);
    return Status::IoError("Argon2id could not run with memlimit " + std::to_string(kdf.memlimit >> 10) +
                           " KiB (out of memory?)");
  }
  crypto_kdf_derive_from_key(out->wrap, sizeof out->wrap, kSubkeyWrap, kKdfContext, kek);
  crypto_kdf_derive_from_key(out->check, sizeof out->check, kSubkeyCheck, kKdfContext, kek);
  sodium_memzero(kek, sizeof kek);
  return Status::OK();
}

// Everything before the nonce: the associated data of the sealed master key.
std::string EncodeHeader(const KdfParams& kdf, std::string_view salt, const KeyMeta& meta,
                         const unsigned char* check) {
  std::string s(kKeyMagic, sizeof kKeyMagic);
  PutU32(&s, kKeyFileVersion);
  s.push_back(static_cast<char>(kKdfArgon2id13));
  s.append(3, '\0');
  PutU64(&s, kdf.opslimit);
  PutU64(&s, kdf.memlimit);
  s.append(salt);
  PutU64(&s, static_cast<uint64_t>(meta.created_micros));
  PutU16(&s, static_cast<uint16_t>(meta.host.size()));
  s.append(meta.host);
  PutU16(&s, static_cast<uint16_t>(meta.user.size()));
  s.append(meta.user);
  s.append(reinterpret_cast<const char*>(check), kCheckBytes);
  return s;
}

std::string Clip(const std::string& s) { return s.size() > kMaxMetaString ? s.substr(0, kMaxMetaString) : s; }

// A decoded file: its header (associated data), nonce and sealed master key.
struct ParsedKeyFile {
  KeyInfo info;
  std::string_view header, salt, check, nonce, wrapped;
};

Status Parse(std::string_view name, std::string_view bytes, ParsedKeyFile* p) {
  const std::string what = "key file keys/" + std::string(name);
  Hash128 named;
  if (!Hash128::FromHex(name, &named)) return Status::Corruption(what + ": not a key file name (32 hex)");
  if (ContentId(bytes) != named)
    return Status::Corruption(what + ": its bytes do not match its name (damaged, or changed by someone)",
                              "another key file may still open the repository; `snap key list` shows them");
  Reader r{bytes};
  if (r.Bytes(8) != std::string_view(kKeyMagic, 8)) return Status::Corruption(what + ": not a key file (bad magic)");
  uint32_t version = static_cast<uint32_t>(r.Uint(4));
  uint8_t kdf_alg = static_cast<uint8_t>(r.Uint(1));
  std::string_view reserved = r.Bytes(3);
  if (version != kKeyFileVersion || kdf_alg != kKdfArgon2id13 || reserved != std::string_view("\0\0\0", 3))
    return Status::Corruption(what + ": key file version " + std::to_string(version) + ", kdf " +
                              std::to_string(kdf_alg) + " is not one this build reads (1, 1 = Argon2id)");
  p->info.kdf.opslimit = r.Uint(8);
  p->info.kdf.memlimit = r.Uint(8);
  p->salt = r.Bytes(kSaltBytes);
  p->info.meta.created_micros = static_cast<int64_t>(r.Uint(8));
  p->info.meta.host = r.Str16();
  p->info.meta.user = r.Str16();
  p->check = r.Bytes(kCheckBytes);
  p->header = bytes.substr(0, r.pos);
  p->nonce = r.Bytes(kNonceBytes);
  p->wrapped = r.Bytes(kWrappedBytes);
  if (r.bad || r.pos != bytes.size())
    return Status::Corruption(what + ": " + std::to_string(bytes.size()) + " bytes do not hold a key file");
  if (p->info.meta.host.size() > kMaxMetaString || p->info.meta.user.size() > kMaxMetaString)
    return Status::Corruption(what + ": host or user name over " + std::to_string(kMaxMetaString) + " bytes");
  Status bounds = p->info.kdf.Validate();
  if (!bounds.ok()) return Status::Corruption(what + ": Argon2id limits out of range", bounds.message());
  p->info.id = std::string(name);
  return Status::OK();
}

}  // namespace

Status KdfParams::Validate() const {
  if (opslimit < kMinOps || opslimit > kMaxOps)
    return Status::InvalidArgument("Argon2id opslimit " + std::to_string(opslimit) + " is outside " +
                                   std::to_string(kMinOps) + ".." + std::to_string(kMaxOps));
  if (memlimit < kMinMem || memlimit > kMaxMem)
    return Status::InvalidArgument("Argon2id memlimit " + std::to_string(memlimit >> 10) + " KiB is outside " +
                                   std::to_string(kMinMem >> 10) + ".." + std::to_string(kMaxMem >> 10) + " KiB");
  return Status::OK();
}

bool KdfParams::WeakerThanDefault() const {
  KdfParams d;
  return opslimit < d.opslimit || memlimit < d.memlimit;
}

Result<std::string> EncodeKeyFile(const MasterKey& master, std::string_view password, const KdfParams& kdf,
                                  const KeyMeta& meta_in) {
  if (password.empty()) return Status::InvalidArgument("an empty password cannot protect a repository key");
  MAESTRO_RETURN_IF_ERROR(kdf.Validate());
  KeyMeta meta = meta_in;
  meta.host = Clip(meta.host);
  meta.user = Clip(meta.user);
  MAESTRO_ASSIGN_OR_RETURN(std::string salt, RandomBytes(kSaltBytes));
  MAESTRO_ASSIGN_OR_RETURN(std::string nonce, RandomBytes(kNonceBytes));
  DerivedKeys dk;
  MAESTRO_RETURN_IF_ERROR(Derive(password, salt, kdf, &dk));
  std::string out = EncodeHeader(kdf, salt, meta, dk.check);
  const std::string header = out;
  out.append(nonce);
  size_t at = out.size();
  out.resize(at + kWrappedBytes);
  unsigned long long clen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          reinterpret_cast<unsigned char*>(&out[at]), &clen, master.data(), kMasterKeyBytes,
          reinterpret_cast<const unsigned char*>(header.data()), header.size(), nullptr,
          reinterpret_cast<const unsigned char*>(nonce.data()), dk.wrap) != 0 ||
      clen != kWrappedBytes)
    return Status::Internal("crypto_aead_xchacha20poly1305_ietf_encrypt failed on a key file");
  return out;
}

Status DecodeKeyFile(std::string_view name, std::string_view bytes, KeyInfo* info) {
  ParsedKeyFile p;
  MAESTRO_RETURN_IF_ERROR(Parse(name, bytes, &p));
  *info = p.info;
  return Status::OK();
}

Result<MasterKey> UnwrapKeyFile(std::string_view name, std::string_view bytes, std::string_view password) {
  ParsedKeyFile p;
  MAESTRO_RETURN_IF_ERROR(Parse(name, bytes, &p));
  DerivedKeys dk;
  MAESTRO_RETURN_IF_ERROR(Derive(password, p.salt, p.info.kdf, &dk));
  if (sodium_memcmp(dk.check, p.check.data(), kCheckBytes) != 0)
    return Status::WrongPassword("key file keys/" + std::string(name) + " does not open with this password");
  unsigned char plain[kMasterKeyBytes];
  unsigned long long mlen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain, &mlen, nullptr, reinterpret_cast<const unsigned char*>(p.wrapped.data()), p.wrapped.size(),
      reinterpret_cast<const unsigned char*>(p.header.data()), p.header.size(),
      reinterpret_cast<const unsigned char*>(p.nonce.data()), dk.wrap);
  if (rc != 0 || mlen != kMasterKeyBytes) {
    sodium_memzero(plain, sizeof plain);
    return Status::Corruption("key file keys/" + std::string(name) +
                              ": the password matches but the sealed master key fails authentication (the file was "
                              "changed or forged by someone without the key)");
  }
  auto key = MasterKey::FromBytes(std::string_view(reinterpret_cast<const char*>(plain), sizeof plain));
  sodium_memzero(plain, sizeof plain);
  return key;
}

}  // namespace maestro
