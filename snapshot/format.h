// snapshot/format.h — byte layouts of the repository files (docs/repository-format.md).
//
// Every decoder here takes untrusted bytes from disk: it checks bounds and the
// trailing XXH3-64 checksum and returns Corruption naming `what` (the file) on
// any mismatch; it never reads out of bounds and never allocates more than the
// input could describe. Encoders are deterministic. All integers little-endian
// (the byte coding is util/coding.h).
// Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

class ByteReader;

constexpr uint32_t kRepoFormatVersion = 1;  // config, pack and index files of formats 1-3
// Format 4 (docs/format-4.md): config format_version=4; packs, index files and
// manifests of version 4, every object through the repository's Sealer. A
// format-4 reader reads every object by its own version, so a repository
// upgraded from format 3 keeps its old objects as they are.
constexpr uint32_t kRepoFormatV4 = 4;
constexpr uint32_t kManifestFormatV4 = 4;
// Manifests: version 2 adds ManifestFile::source_fingerprint for SQLite files;
// version 3 adds every entry's uid and gid. Versions 1 and 2 are still read
// (their fingerprints are empty, their owners kUnknownOwner: not restored).
constexpr uint32_t kManifestFormatVersion = 3;
// What an entry's type adds, the same in every manifest version and in format
// 4's tree blobs (snapshot/tree.cc): a file's hash and chunk ids, a symlink's
// target, nothing for a directory. A short read leaves r failed (the caller's to check).
void PutEntryContent(std::string* s, const ManifestFile& f);
void ReadEntryContent(ByteReader* r, ManifestFile* f);

// ---- config: "<repo>/config", text, 0600.
struct RepoConfig {
  uint32_t format_version = kRepoFormatV4;  // 1 (formats 1-3) or 4
  std::string repository_id;  // 32 hex chars, random at creation
  std::string encryption = "none";  // format 4: "none" or an encrypted scheme (sealer.h kEncryption*)
};
std::string EncodeConfig(const RepoConfig& c);
Result<RepoConfig> DecodeConfig(std::string_view bytes, const std::string& what);

// ---- manifest: "<repo>/snapshots/<id>".
// Versions 1-3: the whole listing (m.format_version <= 3).
std::string EncodeManifest(const Manifest& m);
// Version 4: u64 declared total length, u32 check (low half of the XXH3-64 of
// those 8 bytes), then sealer.Seal(kManifest, id, body):
// the info and, per store, name, original path, flags and root tree blob id
// (ManifestStore::root; the entries are in tree blobs, snapshot/tree.h).
Result<std::string> EncodeManifestV4(const Manifest& m, const Sealer& sealer);
// Any version. A version-4 manifest comes back with its stores' roots and no
// files (catalog.h expands the trees). Unfinished when the bytes are fewer
// than a version-4 manifest declares (an upload cut short, never complete).
Result<Manifest> DecodeManifest(std::string_view bytes, const std::string& what, const Sealer& sealer,
                                const std::string& id);
Result<Manifest> DecodeManifest(std::string_view bytes, const std::string& what);

// Blob kinds and encodings (format 4; every older blob is data, zstd).
enum class BlobType : uint8_t { kData = 0, kTree = 1 };
// kGroup: a data blob stored with others in one zstd frame (snapshot/blob_group.h).
enum class BlobCodec : uint8_t { kZstd = 0, kRaw = 1, kGroup = 2 };
// False for a type or codec this build does not know (or a tree blob in a group).
bool KnownBlobCoding(uint8_t type, uint8_t codec);

// ---- pack: "<repo>/packs/<xxh128 of the whole file>.pack".
// Version 1 (formats 1-3):
//   header  "MDBPACK\0" u32 version u32 reserved(0)                     16 bytes
//   blob*   blob id (16) u32 raw_len u32 stored_len, then stored_len bytes
//           (one zstd frame of the raw bytes)
// Version 4: blob* (stored bytes only: SealBlob(id, codec output)) back to
//   back from offset 0, then the sealed pack header (Seal(kPack, "", ...):
//   every blob's id, type, codec, lengths, offset, checksum), then the
//   12-byte trailer: u32 sealed header length, "MDBPACK4".
constexpr char kPackV4Magic[8] = {'M', 'D', 'B', 'P', 'A', 'C', 'K', '4'};
constexpr size_t kPackV4TrailerSize = 12;
constexpr char kPackMagic[8] = {'M', 'D', 'B', 'P', 'A', 'C', 'K', '\0'};
constexpr size_t kPackHeaderSize = 16;
constexpr size_t kBlobHeaderSize = 24;
std::string EncodePackHeader();
std::string EncodeBlobHeader(const Hash128& id, uint32_t raw_len, uint32_t stored_len);
struct IndexEntry;
// True when the kBlobHeaderSize bytes at header name e's blob and lengths.
bool BlobHeaderMatches(const char* header, const IndexEntry& e);
// The sealed header and trailer that end a version-4 pack of these entries.
Result<std::string> EncodePackV4Tail(const std::vector<IndexEntry>& entries, const Sealer& sealer);

// ---- index: "<repo>/index/<xxh128 of the whole file>.idx".
struct IndexEntry {
  Hash128 blob;
  Hash128 pack;
  uint64_t offset = 0;       // of the zstd frame (its blob header is 24 bytes before)
  uint32_t stored_len = 0;   // compressed length
  uint32_t raw_len = 0;      // uncompressed length
  uint64_t stored_check = 0; // XXH3-64 of the stored (compressed) bytes
  BlobType type = BlobType::kData;
  BlobCodec codec = BlobCodec::kZstd;
  uint32_t pack_version = kRepoFormatVersion;  // 1: a blob header precedes offset; 4: none
};
// Format limits: the chunker never makes a blob over 4 MiB (snapshot/chunker.h),
// so an index entry claiming more is damage, refused before any allocation.
constexpr uint32_t kMaxBlobRawLen = 16u * 1024 * 1024;
constexpr uint32_t kMaxBlobStoredLen = kMaxBlobRawLen + kMaxBlobRawLen / 64 + 4096;  // >= ZSTD_compressBound
std::string EncodeIndex(const std::vector<IndexEntry>& entries);  // version 1
// Version 4: Seal(kIndex, "", body); entries gain type and codec, packs their version.
Result<std::string> EncodeIndexV4(const std::vector<IndexEntry>& entries, const Sealer& sealer);
// Either version (version 1 only when the sealer does not encrypt).
Result<std::vector<IndexEntry>> DecodeIndex(std::string_view bytes, const std::string& what, const Sealer& sealer);
Result<std::vector<IndexEntry>> DecodeIndex(std::string_view bytes, const std::string& what);  // PlainSealer
// The same, entry by entry without a vector (bounded memory): the whole file
// is checked first, so a file that does not decode emits nothing.
Status DecodeIndexEach(std::string_view bytes, const std::string& what, const Sealer& sealer,
                       const std::function<void(const IndexEntry&)>& emit);

// Index entries for every blob of a whole pack file, read from its blob headers
// (a pack is self-describing). Corruption when the bytes are not a well-formed
// pack: bad magic or version, a header or frame past the end, a length over the
// format limits. The caller checks the file hash against the pack id.
// Reads versions 1 and 4.
Result<std::vector<IndexEntry>> DecodePack(std::string_view bytes, const Hash128& pack, const std::string& what,
                                           const Sealer& sealer);
Result<std::vector<IndexEntry>> DecodePack(std::string_view bytes, const Hash128& pack, const std::string& what);  // PlainSealer
// The entries of a version-4 pack from its end alone: tail is the pack's last
// bytes, at least its sealed header and trailer (kPackV4TrailerSize, whose
// first 4 bytes give the header's length), pack_size the whole file's length.
// Every entry lies before the header; the blobs' own bytes are not read
// (their checksums are the caller's to check). Corruption as DecodePack.
Result<std::vector<IndexEntry>> DecodePackV4Tail(std::string_view tail, uint64_t pack_size, const Hash128& pack,
                                                 const std::string& what, const Sealer& sealer);

}  // namespace maestro
