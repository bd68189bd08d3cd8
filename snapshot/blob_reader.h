// snapshot/blob_reader.h — reads blobs back from packs and proves them whole.
//
// Every read checks, in order: the index entry lies inside the pack (before
// any allocation: an offset near 2^64 must not wrap), the blob header matches
// the index (version-1 packs), the stored bytes' XXH3-64, the seal (version-4
// packs: Sealer::OpenBlob), the decoded length (codec zstd or raw) and
// Sealer::BlobId of the result (the blob id). A member of a blob group
// (codec kGroup, snapshot/blob_group.h) is found by that id in its group; the
// last few groups read are kept decoded, so a group's members read one after
// the other decompress it once. Any mismatch is Corruption naming the
// pack and the blob; a missing pack is Corruption too ("pack ... is missing").
//
// Thread safety: one thread at a time (it keeps a decompression context and
// a cache of pack sizes). The index it is given must outlive it.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "snapshot/blob_group.h"
#include "snapshot/blob_index.h"
#include "snapshot/repo_files.h"

typedef struct ZSTD_DCtx_s ZSTD_DCtx;

namespace maestro {

class BlobReader {
 public:
  BlobReader(const RepoFiles& files, const BlobIndex* index);
  ~BlobReader();
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  // The blob's content; Corruption when the index has no entry for it.
  Status Read(const Hash128& id, std::string* out);
  // Reads the blob e names. *encoded (may be null) receives the codec's
  // output (the stored bytes once opened: what PackWriter::Add takes; for a
  // group member, its whole group's frame: copy it with AddToGroup(*out)).
  Status ReadEntry(const IndexEntry& e, std::string* out, std::string* encoded = nullptr);
  // Opens and decodes stored (the bytes of e, checksum already checked) into
  // *out and checks its length and id; pack_path is for messages.
  Status Decode(const IndexEntry& e, std::string_view stored, std::string* out, const std::string& pack_path,
                std::string* encoded = nullptr);

 private:
  // The pack's size, looked up once per pack (packs are immutable once named).
  Status PackSize(const Hash128& pack, const std::string& path, uint64_t* size);

  const RepoFiles& files_;
  const BlobIndex* index_;
  ZSTD_DCtx* dctx_;
  std::string buf_, opened_;
  std::map<Hash128, uint64_t> sizes_;
  GroupCache groups_;
};

}  // namespace maestro
