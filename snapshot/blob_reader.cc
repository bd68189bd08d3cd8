#include "snapshot/blob_reader.h"

#include <zstd.h>

namespace maestro {

BlobReader::BlobReader(const RepoFiles& files, const BlobIndex* index)
    : files_(files), index_(index), dctx_(ZSTD_createDCtx()) {}

BlobReader::~BlobReader() { ZSTD_freeDCtx(dctx_); }

Status BlobReader::Read(const Hash128& id, std::string* out) {
  IndexEntry e;
  if (!index_->Find(id, &e)) {
    MAESTRO_RETURN_IF_ERROR(index_->status());
    return Status::Corruption("blob " + id.Hex() + " is missing from the repository index");
  }
  return ReadEntry(e, out);
}

Status BlobReader::ReadEntry(const IndexEntry& e, std::string* out, std::string* encoded_out) {
  const std::string name = PackName(e.pack);
  const std::string pack_path = files_.PackPath(e.pack);
  uint64_t pack_size = 0;
  MAESTRO_RETURN_IF_ERROR(PackSize(e.pack, pack_path, &pack_size));
  // A version-1 pack has its 16-byte header and the blob's 24-byte header
  // before the stored bytes; a version-4 pack has neither.
  const size_t hdr = e.pack_version == kRepoFormatVersion ? kBlobHeaderSize : 0;
  const uint64_t min_offset = hdr ? kPackHeaderSize + kBlobHeaderSize : 0;
  // Checked against the pack's size before any read or allocation, without
  // adding (an offset near 2^63 or 2^64 must neither wrap nor reach pread).
  if (e.offset < min_offset || e.offset > pack_size || e.stored_len > pack_size - e.offset)
    return Status::Corruption("index entry for blob " + e.blob.Hex() + " points outside pack " + pack_path + " (offset " +
                              std::to_string(e.offset) + ", " + std::to_string(e.stored_len) + " bytes; the pack has " +
                              std::to_string(pack_size) + ")");
  Status s = files_.backend()->ReadAt(ObjectKind::kPack, name, e.offset - hdr, hdr + e.stored_len, &buf_);
  if (s.IsNotFound()) return Status::Corruption("pack " + pack_path + " is missing", s.message());
  MAESTRO_RETURN_IF_ERROR(s);
  if (buf_.size() != hdr + e.stored_len)
    return Status::Corruption("pack " + pack_path + " is truncated: blob " + e.blob.Hex() + " runs past its end");
  if (hdr && !BlobHeaderMatches(buf_.data(), e))
    return Status::Corruption("pack " + pack_path + ": blob header of " + e.blob.Hex() + " does not match the index");
  std::string_view stored(buf_.data() + hdr, e.stored_len);
  if (Xxh64(stored) != e.stored_check)
    return Status::Corruption("pack " + pack_path + ": stored bytes of blob " + e.blob.Hex() + " are damaged");
  return Decode(e, stored, out, pack_path, encoded_out);
}

Status BlobReader::Decode(const IndexEntry& e, std::string_view stored, std::string* out, const std::string& pack_path,
                          std::string* encoded_out) {
  std::string_view encoded = stored;
  const bool group = e.codec == BlobCodec::kGroup;
  if (e.pack_version != kRepoFormatVersion) {  // version 4: each blob (or group) sealed on its own
    MAESTRO_RETURN_IF_ERROR(files_.sealer()
                                .OpenBlob(group ? kGroupSealId : e.blob, stored, &opened_)
                                .Annotate("pack " + pack_path + ": blob " + e.blob.Hex()));
    encoded = opened_;
  }
  if (group) {  // found by its id among the group's members: that proves its content
    MAESTRO_RETURN_IF_ERROR(groups_.Member(dctx_, files_.sealer(), e.pack, e.offset, e.stored_check, encoded, e.blob,
                                           e.raw_len, "pack " + pack_path, out));
    if (encoded_out) encoded_out->assign(encoded.data(), encoded.size());
    return Status::OK();
  }
  if (e.codec == BlobCodec::kRaw) {
    if (encoded.size() != e.raw_len)
      return Status::Corruption("pack " + pack_path + ": raw blob " + e.blob.Hex() + " is not its length");
    out->assign(encoded.data(), encoded.size());
  } else {
    out->resize(e.raw_len);
    // One or more zstd frames (a frame of raw blocks too).
    size_t n = ZSTD_decompressDCtx(dctx_, out->data(), out->size(), encoded.data(), encoded.size());
    if (ZSTD_isError(n) || n != e.raw_len)
      return Status::Corruption("pack " + pack_path + ": blob " + e.blob.Hex() + " does not decompress" +
                                (ZSTD_isError(n) ? " (" + std::string(ZSTD_getErrorName(n)) + ")" : std::string(" to its length")));
  }
  if (files_.sealer().BlobId(*out) != e.blob)
    return Status::Corruption("pack " + pack_path + ": blob " + e.blob.Hex() + " content hash mismatch");
  if (encoded_out) encoded_out->assign(encoded.data(), encoded.size());
  return Status::OK();
}

Status BlobReader::PackSize(const Hash128& pack, const std::string& path, uint64_t* size) {
  auto it = sizes_.find(pack);
  if (it == sizes_.end()) {
    ObjectInfo info;
    Status s = files_.backend()->Stat(ObjectKind::kPack, PackName(pack), &info);
    if (s.IsNotFound()) return Status::Corruption("pack " + path + " is missing");
    MAESTRO_RETURN_IF_ERROR(s);
    it = sizes_.emplace(pack, info.size).first;
  }
  *size = it->second;
  return Status::OK();
}

}  // namespace maestro
