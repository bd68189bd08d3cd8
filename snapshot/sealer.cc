// snapshot/sealer.cc — the two sealers (snapshot/sealer.h).
#include "snapshot/sealer.h"

#include "snapshot/crypto.h"

#include <algorithm>

namespace maestro {
namespace {

class Plain final : public Sealer {
 public:
  std::string_view Scheme() const override { return "none"; }
  Hash128 BlobId(std::string_view plaintext) const override { return Xxh128(plaintext); }
  size_t Overhead() const override { return 0; }
  Result<std::string> SealBlob(const Hash128&, std::string_view plaintext) const override {
    return std::string(plaintext);
  }
  Result<std::string_view> SealBlobInto(const Hash128&, std::string_view plaintext, std::string*) const override {
    return plaintext;
  }
  Status OpenBlob(const Hash128&, std::string_view sealed, std::string* plaintext) const override {
    plaintext->assign(sealed);
    return Status::OK();
  }
  Result<std::string> Seal(ObjectKind, std::string_view, std::string_view plaintext) const override {
    return std::string(plaintext);
  }
  Status Open(ObjectKind, std::string_view, std::string_view sealed, std::string* plaintext) const override {
    plaintext->assign(sealed);
    return Status::OK();
  }
};

class Encrypting final : public Sealer {
 public:
  Encrypting(const MasterKey& key, std::string_view scheme, Cipher cipher, bool hash_ids)
      : key_(key), scheme_(scheme), cipher_(cipher), hash_ids_(hash_ids) {}
  std::string_view Scheme() const override { return scheme_; }
  Hash128 BlobId(std::string_view plaintext) const override {
    return hash_ids_ ? KeyedHashBlobId(key_, plaintext) : KeyedBlobId(key_, plaintext);
  }
  size_t Overhead() const override { return kSealOverhead; }
  Result<std::string> SealBlob(const Hash128& id, std::string_view plaintext) const override {
    return maestro::SealBlob(key_, id, plaintext, cipher_);
  }
  Result<std::string_view> SealBlobInto(const Hash128& id, std::string_view plaintext,
                                        std::string* buffer) const override {
    return maestro::SealBlobInto(key_, id, plaintext, buffer, cipher_);
  }
  Status OpenBlob(const Hash128& id, std::string_view sealed, std::string* plaintext) const override {
    return maestro::OpenBlob(key_, id, sealed, plaintext, cipher_);
  }
  Result<std::string> Seal(ObjectKind kind, std::string_view name, std::string_view plaintext) const override {
    return maestro::Seal(key_, kind, name, plaintext, cipher_);
  }
  Status Open(ObjectKind kind, std::string_view name, std::string_view sealed,
              std::string* plaintext) const override {
    return maestro::Open(key_, kind, name, sealed, plaintext, cipher_);
  }

 private:
  MasterKey key_;
  std::string scheme_;
  Cipher cipher_;
  bool hash_ids_;
};

// The encrypted schemes: one row each, so the config check, the list in
// messages and the sealer built for a scheme cannot disagree.
struct EncryptedScheme {
  std::string_view name;
  Cipher cipher;
  bool hash_ids;  // KeyedHashBlobId (+keyed-xxh3), else KeyedBlobId
};
constexpr EncryptedScheme kEncryptedSchemes[] = {
    {kEncryptionXChaChaBlake2Ids, Cipher::kXChaCha20Poly1305, false},
    {kEncryptionXChaChaXxh3Ids, Cipher::kXChaCha20Poly1305, true},
    {kEncryptionAesXxh3Ids, Cipher::kAes256Gcm, true},
};

}  // namespace

Result<std::string_view> Sealer::SealBlobInto(const Hash128& id, std::string_view plaintext,
                                              std::string* buffer) const {
  MAESTRO_ASSIGN_OR_RETURN(std::string sealed, SealBlob(id, plaintext));
  if (buffer->size() < sealed.size()) buffer->resize(sealed.size());
  std::copy(sealed.begin(), sealed.end(), buffer->begin());
  return std::string_view(buffer->data(), sealed.size());
}

bool IsKnownEncryption(std::string_view value) {
  if (value == kEncryptionNone) return true;
  for (const auto& e : kEncryptedSchemes)
    if (value == e.name) return true;
  return false;
}

std::string KnownEncryptionList() {
  std::string out(kEncryptionNone);
  for (const auto& e : kEncryptedSchemes) out += ", " + std::string(e.name);
  return out;
}

Result<std::string> EncryptionFor(std::string_view cipher, std::string_view blob_ids) {
  const bool blake2 = blob_ids == "keyed-blake2b";
  if (!blake2 && !blob_ids.empty() && blob_ids != "keyed-xxh3")
    return Status::InvalidArgument("--blob-ids " + std::string(blob_ids) + " is not one of keyed-xxh3, keyed-blake2b");
  if (cipher.empty() || cipher == "xchacha20poly1305")
    return std::string(blake2 ? kEncryptionXChaChaBlake2Ids : kEncryptionXChaChaXxh3Ids);
  if (cipher != "aes256gcm")
    return Status::InvalidArgument("--cipher " + std::string(cipher) + " is not one of xchacha20poly1305, aes256gcm");
  if (blake2)
    return Status::InvalidArgument("--blob-ids keyed-blake2b goes with --cipher xchacha20poly1305 only",
                                   "it is the first encrypted scheme, kept for builds that read no other");
  return std::string(kEncryptionAesXxh3Ids);
}

std::shared_ptr<const Sealer> PlainSealer() {
  static const std::shared_ptr<const Sealer> plain = std::make_shared<Plain>();
  return plain;
}

Status CheckEncryptionUsable(std::string_view scheme, const std::string& where) {
  return EncryptingSealer(MasterKey(), scheme, where).status();
}

Result<std::shared_ptr<const Sealer>> EncryptingSealer(const MasterKey& key, std::string_view scheme,
                                                       const std::string& where) {
  for (const auto& e : kEncryptedSchemes) {
    if (scheme != e.name) continue;
    MAESTRO_RETURN_IF_ERROR(CheckCipherAvailable(e.cipher, where + " (encryption=" + std::string(scheme) + ")"));
    return std::shared_ptr<const Sealer>(std::make_shared<Encrypting>(key, e.name, e.cipher, e.hash_ids));
  }
  return Status::InvalidArgument(where + ": encryption=" + std::string(scheme) + " is not an encrypted scheme this build knows",
                                 "this build knows " + KnownEncryptionList());
}

}  // namespace maestro
