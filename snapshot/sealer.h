// snapshot/sealer.h — how a repository names blobs and seals its objects.
//
// The one seam between the repository format (docs/format-4.md) and its
// encryption (docs/encryption.md). Every object a format-4 repository stores
// passes through its Sealer on the way out and back:
//   blob ids       BlobId(plaintext chunk): XXH3-128 in an unencrypted
//                  repository, keyed BLAKE2b-128 (crypto.h KeyedBlobId) in an
//                  encrypted one, so the storage cannot test a guess
//   blobs          SealBlob/OpenBlob: each blob inside a pack on its own (a
//                  restore reads one blob, never a whole pack), bound to its id
//   other objects  Seal/Open: a pack's trailing header, index files, manifests;
//                  bound to the object's kind and name
// The unencrypted sealer is the identity (and its Open checks nothing: the
// format's own checksums do that). The encrypted one authenticates: anything
// not sealed under this repository's key, kind and name is Corruption.
//
// Thread safety: const methods, callable from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "snapshot/backend.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

class MasterKey;

class Sealer {
 public:
  virtual ~Sealer() = default;
  // "none" or "xchacha20poly1305" (the config's encryption= value).
  virtual std::string_view Scheme() const = 0;
  bool encrypted() const { return Scheme() != "none"; }

  virtual Hash128 BlobId(std::string_view plaintext) const = 0;
  // Bytes added by SealBlob/Seal (0 unencrypted; crypto.h kSealOverhead).
  virtual size_t Overhead() const = 0;

  virtual Result<std::string> SealBlob(const Hash128& id, std::string_view plaintext) const = 0;
  virtual Status OpenBlob(const Hash128& id, std::string_view sealed, std::string* plaintext) const = 0;
  virtual Result<std::string> Seal(ObjectKind kind, std::string_view name, std::string_view plaintext) const = 0;
  virtual Status Open(ObjectKind kind, std::string_view name, std::string_view sealed,
                      std::string* plaintext) const = 0;
};

// The identity sealer of an unencrypted repository (XXH3-128 ids).
std::shared_ptr<const Sealer> PlainSealer();
// The sealer of an encrypted repository whose master key is open.
std::shared_ptr<const Sealer> EncryptingSealer(const MasterKey& key);

}  // namespace maestro
