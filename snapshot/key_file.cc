// snapshot/key_file.cc — one key file's bytes (docs/encryption.md "Key files"):
// EncodeKeyFile, DecodeKeyFile, UnwrapKeyFile of snapshot/keys.h.
//
// The file is JSON (readable with `cat`, as docs/format-4.md has it); what is
// authenticated is not the JSON text but a fixed binary encoding of its
// fields (Header below), so the check does not depend on how JSON is spelled.
// The text itself is covered by the file's name (XXH3-128 of its bytes).
#include <sodium.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "snapshot/keys.h"
#include "util/json_text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

using Json = nlohmann::json;

constexpr char kHeaderMagic[8] = {'M', 'D', 'B', 'K', 'E', 'Y', '\0', '\0'};
constexpr uint32_t kKeyFileVersion = 1;
constexpr uint8_t kKdfArgon2id13 = 1;
constexpr size_t kSaltBytes = crypto_pwhash_SALTBYTES;  // 16
constexpr size_t kCheckBytes = 16;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;  // 24
constexpr size_t kWrappedBytes = kMasterKeyBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES;  // 80
constexpr size_t kMaxMetaString = 255;
constexpr size_t kMaxKeyFile = 4096;
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

std::string ToHex(std::string_view bin) {
  std::string out(bin.size() * 2 + 1, '\0');
  sodium_bin2hex(&out[0], out.size(), reinterpret_cast<const unsigned char*>(bin.data()), bin.size());
  out.pop_back();
  return out;
}

// Exactly n bytes from 2n lowercase-or-uppercase hex digits; false otherwise.
bool FromHex(const std::string& hex, size_t n, std::string* out) {
  if (hex.size() != 2 * n) return false;
  out->assign(n, '\0');
  size_t got = 0;
  return sodium_hex2bin(reinterpret_cast<unsigned char*>(&(*out)[0]), n, hex.data(), hex.size(), nullptr, &got,
                        nullptr) == 0 &&
         got == n;
}

// The fields of a key file, decoded.
struct Fields {
  KeyInfo info;
  std::string salt, check, nonce, wrapped;
};

// The associated data of the sealed master key: every field but the nonce
// and the sealed key itself, in a fixed binary form.
std::string Header(const Fields& f) {
  std::string s(kHeaderMagic, sizeof kHeaderMagic);
  PutU32(&s, kKeyFileVersion);
  s.push_back(static_cast<char>(kKdfArgon2id13));
  PutU64(&s, f.info.kdf.opslimit);
  PutU64(&s, f.info.kdf.memlimit);
  s.append(f.salt);
  PutU64(&s, static_cast<uint64_t>(f.info.meta.created_micros));
  PutU16(&s, static_cast<uint16_t>(f.info.meta.host.size()));
  s.append(f.info.meta.host);
  PutU16(&s, static_cast<uint16_t>(f.info.meta.user.size()));
  s.append(f.info.meta.user);
  s.append(f.check);
  return s;
}

// The 32-byte key Argon2id derives from the password, split in two subkeys.
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

// Host and user names are informational: printable ASCII, at most 255 bytes
// (so the JSON is always valid UTF-8 and the header's u16 lengths hold).
std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, kMaxMetaString)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

std::string EncodeJson(const Fields& f) {
  Json j = {{"maestro_db_key", kKeyFileVersion},
            {"kdf", "argon2id"},
            {"opslimit", f.info.kdf.opslimit},
            {"memlimit", f.info.kdf.memlimit},
            {"salt", ToHex(f.salt)},
            {"created", FormatIso8601(f.info.meta.created_micros)},
            {"host", f.info.meta.host},
            {"user", f.info.meta.user},
            {"check", ToHex(f.check)},
            {"cipher", "xchacha20poly1305"},
            {"nonce", ToHex(f.nonce)},
            {"master_key", ToHex(f.wrapped)}};
  return JsonText(j, 2) + "\n";
}

// The string field `key` of j, or "" with *ok cleared.
std::string Str(const Json& j, const char* key, bool* ok) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    *ok = false;
    return "";
  }
  return it->get<std::string>();
}
uint64_t Uint(const Json& j, const char* key, bool* ok) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) {
    *ok = false;
    return 0;
  }
  return it->get<uint64_t>();
}

Status Parse(std::string_view name, std::string_view bytes, Fields* f) {
  const std::string what = "key file keys/" + std::string(name);
  Hash128 named;
  if (!Hash128::FromHex(name, &named)) return Status::Corruption(what + ": not a key file name (32 hex)");
  if (Xxh128(bytes) != named)
    return Status::Corruption(what + ": its bytes do not match its name (damaged, or changed by someone)",
                              "another key file may still open the repository; `snap key list` shows them");
  if (bytes.size() > kMaxKeyFile) return Status::Corruption(what + ": over 4 KiB, not a key file");
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(what + ": not a key file (not a JSON object)");
  static const std::set<std::string> kFields = {"maestro_db_key", "kdf",  "opslimit", "memlimit", "salt",   "created",
                                                "host",           "user", "check",    "cipher",   "nonce", "master_key"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kFields.count(it.key())) return Status::Corruption(what + ": unknown field \"" + it.key() + "\"");
  bool ok = true;
  uint64_t version = Uint(j, "maestro_db_key", &ok);
  std::string kdf = Str(j, "kdf", &ok), cipher = Str(j, "cipher", &ok);
  if (!ok || version != kKeyFileVersion || kdf != "argon2id" || cipher != "xchacha20poly1305")
    return Status::Corruption(what + ": not a key file this build reads (version 1, argon2id, xchacha20poly1305)");
  f->info.kdf.opslimit = Uint(j, "opslimit", &ok);
  f->info.kdf.memlimit = Uint(j, "memlimit", &ok);
  f->info.meta.host = Str(j, "host", &ok);
  f->info.meta.user = Str(j, "user", &ok);
  std::string created = Str(j, "created", &ok);
  if (!ok) return Status::Corruption(what + ": a field is missing or of the wrong type");
  if (!FromHex(Str(j, "salt", &ok), kSaltBytes, &f->salt) || !FromHex(Str(j, "check", &ok), kCheckBytes, &f->check) ||
      !FromHex(Str(j, "nonce", &ok), kNonceBytes, &f->nonce) ||
      !FromHex(Str(j, "master_key", &ok), kWrappedBytes, &f->wrapped))
    return Status::Corruption(what + ": salt, check, nonce or master_key is not hex of the right length");
  auto when = ParseTime(created);
  if (!when.ok() || FormatIso8601(*when) != created) return Status::Corruption(what + ": bad created time");
  f->info.meta.created_micros = *when;
  if (f->info.meta.host != Printable(f->info.meta.host) || f->info.meta.user != Printable(f->info.meta.user))
    return Status::Corruption(what + ": host or user is not printable ASCII of at most 255 bytes");
  Status bounds = f->info.kdf.Validate();
  if (!bounds.ok()) return Status::Corruption(what + ": Argon2id limits out of range", bounds.message());
  f->info.id = std::string(name);
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
                                  const KeyMeta& meta) {
  if (password.empty()) return Status::InvalidArgument("an empty password cannot protect a repository key");
  MAESTRO_RETURN_IF_ERROR(kdf.Validate());
  Fields f;
  f.info.kdf = kdf;
  f.info.meta.created_micros = meta.created_micros / 1000000 * 1000000;  // the file keeps whole seconds
  f.info.meta.host = Printable(meta.host);
  f.info.meta.user = Printable(meta.user);
  MAESTRO_ASSIGN_OR_RETURN(f.salt, RandomBytes(kSaltBytes));
  MAESTRO_ASSIGN_OR_RETURN(f.nonce, RandomBytes(kNonceBytes));
  DerivedKeys dk;
  MAESTRO_RETURN_IF_ERROR(Derive(password, f.salt, kdf, &dk));
  f.check.assign(reinterpret_cast<const char*>(dk.check), kCheckBytes);
  const std::string ad = Header(f);
  f.wrapped.assign(kWrappedBytes, '\0');
  unsigned long long clen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          reinterpret_cast<unsigned char*>(&f.wrapped[0]), &clen, master.data(), kMasterKeyBytes,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
          reinterpret_cast<const unsigned char*>(f.nonce.data()), dk.wrap) != 0 ||
      clen != kWrappedBytes)
    return Status::Internal("crypto_aead_xchacha20poly1305_ietf_encrypt failed on a key file");
  return EncodeJson(f);
}

Status DecodeKeyFile(std::string_view name, std::string_view bytes, KeyInfo* info) {
  Fields f;
  MAESTRO_RETURN_IF_ERROR(Parse(name, bytes, &f));
  *info = f.info;
  return Status::OK();
}

Result<MasterKey> UnwrapKeyFile(std::string_view name, std::string_view bytes, std::string_view password) {
  Fields f;
  MAESTRO_RETURN_IF_ERROR(Parse(name, bytes, &f));
  DerivedKeys dk;
  MAESTRO_RETURN_IF_ERROR(Derive(password, f.salt, f.info.kdf, &dk));
  if (sodium_memcmp(dk.check, f.check.data(), kCheckBytes) != 0)
    return Status::WrongPassword("key file keys/" + std::string(name) + " does not open with this password");
  const std::string ad = Header(f);
  unsigned char plain[kMasterKeyBytes];
  unsigned long long mlen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain, &mlen, nullptr, reinterpret_cast<const unsigned char*>(f.wrapped.data()), f.wrapped.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
      reinterpret_cast<const unsigned char*>(f.nonce.data()), dk.wrap);
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
