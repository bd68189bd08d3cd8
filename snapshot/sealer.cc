// snapshot/sealer.cc — the two sealers (snapshot/sealer.h).
#include "snapshot/sealer.h"

#include "snapshot/crypto.h"

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
  explicit Encrypting(const MasterKey& key) : key_(key) {}
  std::string_view Scheme() const override { return "xchacha20poly1305"; }
  Hash128 BlobId(std::string_view plaintext) const override { return KeyedBlobId(key_, plaintext); }
  size_t Overhead() const override { return kSealOverhead; }
  Result<std::string> SealBlob(const Hash128& id, std::string_view plaintext) const override {
    return maestro::SealBlob(key_, id, plaintext);
  }
  Status OpenBlob(const Hash128& id, std::string_view sealed, std::string* plaintext) const override {
    return maestro::OpenBlob(key_, id, sealed, plaintext);
  }
  Result<std::string> Seal(ObjectKind kind, std::string_view name, std::string_view plaintext) const override {
    return maestro::Seal(key_, kind, name, plaintext);
  }
  Status Open(ObjectKind kind, std::string_view name, std::string_view sealed,
              std::string* plaintext) const override {
    return maestro::Open(key_, kind, name, sealed, plaintext);
  }

 private:
  MasterKey key_;
};

}  // namespace

std::shared_ptr<const Sealer> PlainSealer() {
  static const std::shared_ptr<const Sealer> plain = std::make_shared<Plain>();
  return plain;
}

std::shared_ptr<const Sealer> EncryptingSealer(const MasterKey& key) { return std::make_shared<Encrypting>(key); }

}  // namespace maestro
