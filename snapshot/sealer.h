// snapshot/sealer.h — how a repository names blobs and seals its objects.
//
// The one seam between the repository format (docs/format-4.md) and its
// encryption (docs/encryption.md). Every object a format-4 repository stores
// passes through its Sealer on the way out and back:
//   blob ids       BlobId(plaintext chunk): XXH3-128 in an unencrypted
//                  repository, a keyed BLAKE2b-128 in an encrypted one (of
//                  the chunk, crypto.h KeyedBlobId, or of its XXH3-128 and
//                  length, KeyedHashBlobId), so the storage cannot test a guess
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

// The config's encryption= values this build reads (docs/encryption.md
// "Schemes"): one cipher and one way of naming blobs each.
constexpr std::string_view kEncryptionNone = "none";
// The first encrypted scheme: XChaCha20-Poly1305, ids BLAKE2b(chunk). Kept
// readable and writable (older builds read only this one); not the default.
constexpr std::string_view kEncryptionXChaChaBlake2Ids = "xchacha20poly1305";
// The default for a new encrypted repository: ids BLAKE2b(XXH3-128 || len).
constexpr std::string_view kEncryptionXChaChaXxh3Ids = "xchacha20poly1305+keyed-xxh3";
// Opt-in, on CPUs with AES-NI only (crypto.h Aes256GcmAvailable).
constexpr std::string_view kEncryptionAesXxh3Ids = "aes256gcm+keyed-xxh3";
constexpr std::string_view kDefaultEncryption = kEncryptionXChaChaXxh3Ids;

bool IsKnownEncryption(std::string_view value);
// "none, xchacha20poly1305, ...": for messages.
std::string KnownEncryptionList();
// The encryption= of a --cipher (xchacha20poly1305, aes256gcm) and --blob-ids
// (keyed-xxh3, keyed-blake2b; "" = keyed-xxh3) pair; InvalidArgument for an
// unknown word or a pair no scheme has (aes256gcm with keyed-blake2b).
Result<std::string> EncryptionFor(std::string_view cipher, std::string_view blob_ids);

class Sealer {
 public:
  virtual ~Sealer() = default;
  // The config's encryption= value: "none" or one of the encrypted schemes above.
  virtual std::string_view Scheme() const = 0;
  bool encrypted() const { return Scheme() != "none"; }

  virtual Hash128 BlobId(std::string_view plaintext) const = 0;
  // Bytes added by SealBlob/Seal (0 unencrypted; crypto.h kSealOverhead).
  virtual size_t Overhead() const = 0;

  virtual Result<std::string> SealBlob(const Hash128& id, std::string_view plaintext) const = 0;
  // SealBlob's bytes for a caller that seals many blobs (the pack writer):
  // the returned view is either plaintext itself (the identity sealer: no
  // copy) or lies in *buffer, which is grown when short and never shrunk (keep
  // it between calls: crypto.h SealBlobInto). Valid until plaintext or
  // *buffer changes. plaintext must not lie inside *buffer. This default
  // copies SealBlob's result into *buffer.
  virtual Result<std::string_view> SealBlobInto(const Hash128& id, std::string_view plaintext,
                                                std::string* buffer) const;
  virtual Status OpenBlob(const Hash128& id, std::string_view sealed, std::string* plaintext) const = 0;
  virtual Result<std::string> Seal(ObjectKind kind, std::string_view name, std::string_view plaintext) const = 0;
  virtual Status Open(ObjectKind kind, std::string_view name, std::string_view sealed,
                      std::string* plaintext) const = 0;
};

// The identity sealer of an unencrypted repository (XXH3-128 ids).
std::shared_ptr<const Sealer> PlainSealer();
// The sealer of an encrypted repository whose master key is open, for its
// config's encryption= `scheme`. InvalidArgument naming `where` (the
// repository) for a scheme this build does not know, or whose cipher this
// CPU cannot run (AES-256-GCM without AES-NI).
Result<std::shared_ptr<const Sealer>> EncryptingSealer(const MasterKey& key, std::string_view scheme,
                                                       const std::string& where);
// The same checks without a key: before a repository of `scheme` is made.
Status CheckEncryptionUsable(std::string_view scheme, const std::string& where);

}  // namespace maestro
