// snapshot/crypto.h — the primitives of an encrypted repository, over libsodium
// (docs/encryption.md has the design, the byte layouts and the threat model).
//
// Words:
//   master key    64 random bytes made once per repository: a 32-byte key that
//                 seals objects (XChaCha20-Poly1305-IETF, or AES-256-GCM under
//                 keys derived from it) and a separate 32-byte key that names
//                 blobs (keyed BLAKE2b). Never stored in clear:
//                 key files (snapshot/keys.h) wrap it under password-derived keys.
//   sealed object an object's bytes as the storage sees them: a 32-byte header
//                 (magic, version, algorithm, random 24-byte nonce), then the
//                 ciphertext and its 16-byte tag. The associated data binds the
//                 header and the object's kind and name, so a valid object put
//                 under another name (or kind) does not open.
//   keyed blob id a 16-byte keyed BLAKE2b of a chunk (or of its XXH3-128 and
//                 length) under the id key: equal chunks still get equal ids
//                 (deduplication works), but the storage cannot test a guess
//                 of a chunk's content against them.
//
// Contract:
//   - Every function calls InitCrypto first; if libsodium cannot start (no
//     entropy source) they return Internal, never a weak result.
//   - Open* of anything not sealed by Seal* with the same key, kind and name
//     (a flipped byte, a truncation, a forged tag, a moved object, another
//     repository's key) is Corruption: decided by authentication, not by luck.
//     Nothing is returned from an object that fails.
//   - Secrets (MasterKey, SecretString) wipe their bytes with sodium_memzero
//     when destroyed or overwritten. Plaintext returned to the caller is the
//     caller's to wipe if it matters.
//
// Thread safety: pure functions over their arguments; a MasterKey may be read
// from several threads at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "snapshot/backend.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

// sodium_init, once per process (thread-safe). Internal if it fails.
Status InitCrypto();

constexpr size_t kKeyBytes = 32;
constexpr size_t kMasterKeyBytes = 2 * kKeyBytes;  // encryption key || id key

// The repository's secret: wiped on destruction. Copyable (the copy is wiped
// too) so an opened repository can hand it to workers.
class MasterKey {
 public:
  MasterKey() = default;
  MasterKey(const MasterKey& o) = default;
  MasterKey& operator=(const MasterKey& o);
  ~MasterKey();

  // A new random key set (randombytes_buf). Internal if libsodium cannot start.
  static Result<MasterKey> Generate();
  // From the 64 bytes a key file unwraps (enc || id); InvalidArgument on a wrong size.
  static Result<MasterKey> FromBytes(std::string_view bytes);

  const uint8_t* encryption_key() const { return bytes_.data(); }
  const uint8_t* id_key() const { return bytes_.data() + kKeyBytes; }
  const uint8_t* data() const { return bytes_.data(); }  // kMasterKeyBytes bytes
  bool operator==(const MasterKey& o) const;            // constant time
  bool operator!=(const MasterKey& o) const { return !(*this == o); }

 private:
  std::array<uint8_t, kMasterKeyBytes> bytes_{};
};

// A password or other secret text, wiped on destruction. Holds its bytes in
// one buffer reserved up front, so appending within the reserve never leaves
// a copy behind in freed memory.
class SecretString {
 public:
  SecretString() { s_.reserve(kReserve); }
  explicit SecretString(std::string_view v);
  SecretString(const SecretString& o) : SecretString(o.view()) {}
  SecretString& operator=(const SecretString& o);
  ~SecretString();
  void Append(char c);
  void Clear();  // wipes, keeps the buffer
  std::string_view view() const { return s_; }
  bool empty() const { return s_.empty(); }
  size_t size() const { return s_.size(); }
  bool operator==(const SecretString& o) const;  // constant time in the common length

 private:
  static constexpr size_t kReserve = 4096;
  std::string s_;
};

// ---- sealed objects (docs/encryption.md "Sealed object")
//   off 0   4  magic "MDBE" (no plaintext file of the repository starts so)
//       4   1  envelope version (1)
//       5   1  algorithm (Cipher: 1 = XChaCha20-Poly1305-IETF, 2 = AES-256-GCM)
//       6   2  reserved, zero
//       8  24  nonce (random)
//      32   n  ciphertext of the n plaintext bytes
//    32+n  16  tag (Poly1305 or GCM)
// Associated data: the 32 header bytes, then the binding (see Binding below).
constexpr size_t kSealHeaderBytes = 32;
constexpr size_t kSealTagBytes = 16;
constexpr size_t kSealOverhead = kSealHeaderBytes + kSealTagBytes;

// A repository's cipher (one per repository: its config's encryption= says
// which). AES-256-GCM seals each object under its own key, derived from the
// encryption key and the object's 192-bit random nonce (docs/encryption.md),
// so its 96-bit GCM nonce puts no bound on the number of objects.
enum class Cipher : uint8_t { kXChaCha20Poly1305 = 1, kAes256Gcm = 2 };

// True when libsodium runs AES-256-GCM on this CPU (AES-NI and PCLMUL;
// libsodium 1.0.18 has no software AES). XChaCha20 runs everywhere.
bool Aes256GcmAvailable();
// InvalidArgument naming `what` (a repository) when cipher cannot run here.
Status CheckCipherAvailable(Cipher cipher, const std::string& what);
// Tests: behave as on a CPU without AES-NI (true) or as the CPU is (false).
void DisableAes256GcmForTest(bool disabled);

// A sealed object of `kind` named `name` (the Backend's kind and name).
Result<std::string> Seal(const MasterKey& key, ObjectKind kind, std::string_view name, std::string_view plaintext,
                         Cipher cipher = Cipher::kXChaCha20Poly1305);
// Corruption (naming kind/name) if `sealed` was not sealed for this key, kind,
// name and cipher, or was changed in any byte. *plaintext is untouched on
// failure. InvalidArgument when the cipher cannot run on this CPU.
Status Open(const MasterKey& key, ObjectKind kind, std::string_view name, std::string_view sealed,
            std::string* plaintext, Cipher cipher = Cipher::kXChaCha20Poly1305);

// One blob inside a pack: a pack's name is known only once it is whole, so its
// blobs are bound to their (keyed) blob id instead. An index entry that points
// a blob id at another blob's bytes does not open.
Result<std::string> SealBlob(const MasterKey& key, const Hash128& blob_id, std::string_view plaintext,
                             Cipher cipher = Cipher::kXChaCha20Poly1305);
// SealBlob into *buffer, for a caller that seals blob after blob: the sealed
// blob is the returned view of buffer's first kSealOverhead + plaintext.size()
// bytes (valid until *buffer changes). *buffer is grown when short and never
// shrunk, so a buffer kept between calls costs no allocation, no page faults
// and no zero-fill per blob. plaintext must not lie inside *buffer. On
// failure *buffer's bytes are unspecified (its length is still never less).
Result<std::string_view> SealBlobInto(const MasterKey& key, const Hash128& blob_id, std::string_view plaintext,
                                      std::string* buffer, Cipher cipher = Cipher::kXChaCha20Poly1305);
Status OpenBlob(const MasterKey& key, const Hash128& blob_id, std::string_view sealed, std::string* plaintext,
                Cipher cipher = Cipher::kXChaCha20Poly1305);

// ---- keyed blob ids (Hash128::hi is the first 8 bytes read little-endian,
// lo the last 8: the repository's hash layout)
// BLAKE2b-128 of `chunk` keyed with key.id_key(): the ids of
// encryption=xchacha20poly1305, the first encrypted format. One BLAKE2b pass
// over every byte (~600 MB/s a core).
Hash128 KeyedBlobId(const MasterKey& key, std::string_view chunk);
// BLAKE2b-128 keyed with key.id_key() (personalised "MDB-xxh3-blobid1") of the
// 24 bytes XXH3-128(chunk) || u64le len(chunk): the ids of the "+keyed-xxh3"
// schemes. A pass of XXH3 (as an unencrypted repository pays) instead of
// BLAKE2b. Still a PRF of the content under a secret key, so the storage
// cannot test a guess; but two chunks with equal XXH3-128 and length get equal
// ids, so collision resistance is XXH3-128's, as in an unencrypted repository.
Hash128 KeyedHashBlobId(const MasterKey& key, std::string_view chunk);

// ---- helpers for key files (snapshot/keys.cc)
// n random bytes (randombytes_buf); Internal if libsodium cannot start.
Result<std::string> RandomBytes(size_t n);

}  // namespace maestro
