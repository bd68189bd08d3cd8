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
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/repository.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

constexpr uint32_t kRepoFormatVersion = 1;  // config and index files
// Manifests: version 2 adds ManifestFile::source_fingerprint for SQLite files;
// version 3 adds every entry's uid and gid. Versions 1 and 2 are still read
// (their fingerprints are empty, their owners kUnknownOwner: not restored).
constexpr uint32_t kManifestFormatVersion = 3;

// ---- config: "<repo>/config", text, 0600.
struct RepoConfig {
  uint32_t format_version = kRepoFormatVersion;
  std::string repository_id;  // 32 hex chars, random at creation
};
std::string EncodeConfig(const RepoConfig& c);
Result<RepoConfig> DecodeConfig(std::string_view bytes, const std::string& what);

// ---- manifest: "<repo>/snapshots/<id>".
std::string EncodeManifest(const Manifest& m);
Result<Manifest> DecodeManifest(std::string_view bytes, const std::string& what);

// ---- pack: "<repo>/packs/<xxh128 of the whole file>.pack".
//   header  "MDBPACK\0" u32 version u32 reserved(0)                     16 bytes
//   blob*   blob id (16) u32 raw_len u32 stored_len, then stored_len bytes
//           (one zstd frame of the raw bytes)
constexpr char kPackMagic[8] = {'M', 'D', 'B', 'P', 'A', 'C', 'K', '\0'};
constexpr size_t kPackHeaderSize = 16;
constexpr size_t kBlobHeaderSize = 24;
std::string EncodePackHeader();
std::string EncodeBlobHeader(const Hash128& id, uint32_t raw_len, uint32_t stored_len);
struct IndexEntry;
// True when the kBlobHeaderSize bytes at header name e's blob and lengths.
bool BlobHeaderMatches(const char* header, const IndexEntry& e);

// ---- index: "<repo>/index/<xxh128 of the whole file>.idx".
struct IndexEntry {
  Hash128 blob;
  Hash128 pack;
  uint64_t offset = 0;       // of the zstd frame (its blob header is 24 bytes before)
  uint32_t stored_len = 0;   // compressed length
  uint32_t raw_len = 0;      // uncompressed length
  uint64_t stored_check = 0; // XXH3-64 of the stored (compressed) bytes
};
// Format limits: the chunker never makes a blob over 4 MiB (snapshot/chunker.h),
// so an index entry claiming more is damage, refused before any allocation.
constexpr uint32_t kMaxBlobRawLen = 16u * 1024 * 1024;
constexpr uint32_t kMaxBlobStoredLen = kMaxBlobRawLen + kMaxBlobRawLen / 64 + 4096;  // >= ZSTD_compressBound
std::string EncodeIndex(const std::vector<IndexEntry>& entries);
Result<std::vector<IndexEntry>> DecodeIndex(std::string_view bytes, const std::string& what);

// Index entries for every blob of a whole pack file, read from its blob headers
// (a pack is self-describing). Corruption when the bytes are not a well-formed
// pack: bad magic or version, a header or frame past the end, a length over the
// format limits. The caller checks the file hash against the pack id.
Result<std::vector<IndexEntry>> DecodePack(std::string_view bytes, const Hash128& pack, const std::string& what);

}  // namespace maestro
