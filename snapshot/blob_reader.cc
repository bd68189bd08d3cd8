#include "snapshot/blob_reader.h"

#include <zstd.h>

namespace maestro {

BlobReader::BlobReader(const RepoFiles& files, const BlobIndex* index)
    : files_(files), index_(index), dctx_(ZSTD_createDCtx()) {}

BlobReader::~BlobReader() { ZSTD_freeDCtx(dctx_); }

Status BlobReader::Read(const Hash128& id, std::string* out) {
  auto it = index_->find(id);
  if (it == index_->end()) return Status::Corruption("blob " + id.Hex() + " is missing from the repository index");
  return ReadEntry(it->second, out);
}

Status BlobReader::ReadEntry(const IndexEntry& e, std::string* out, std::string* stored_out) {
  const std::string name = PackName(e.pack);
  const std::string pack_path = files_.PackPath(e.pack);
  uint64_t pack_size = 0;
  MAESTRO_RETURN_IF_ERROR(PackSize(e.pack, pack_path, &pack_size));
  // Checked against the pack's size before any read or allocation, without
  // adding (an offset near 2^63 or 2^64 must neither wrap nor reach pread).
  if (e.offset < kPackHeaderSize + kBlobHeaderSize || e.offset > pack_size || e.stored_len > pack_size - e.offset)
    return Status::Corruption("index entry for blob " + e.blob.Hex() + " points outside pack " + pack_path + " (offset " +
                              std::to_string(e.offset) + ", " + std::to_string(e.stored_len) + " bytes; the pack has " +
                              std::to_string(pack_size) + ")");
  Status s = files_.backend()->ReadAt(ObjectKind::kPack, name, e.offset - kBlobHeaderSize, kBlobHeaderSize + e.stored_len, &buf_);
  if (s.IsNotFound()) return Status::Corruption("pack " + pack_path + " is missing", s.message());
  MAESTRO_RETURN_IF_ERROR(s);
  if (buf_.size() != kBlobHeaderSize + e.stored_len)
    return Status::Corruption("pack " + pack_path + " is truncated: blob " + e.blob.Hex() + " runs past its end");
  if (!BlobHeaderMatches(buf_.data(), e))
    return Status::Corruption("pack " + pack_path + ": blob header of " + e.blob.Hex() + " does not match the index");
  std::string_view stored(buf_.data() + kBlobHeaderSize, e.stored_len);
  if (Xxh64(stored) != e.stored_check)
    return Status::Corruption("pack " + pack_path + ": stored bytes of blob " + e.blob.Hex() + " are damaged");
  MAESTRO_RETURN_IF_ERROR(Decode(e, stored, out, pack_path));
  if (stored_out) stored_out->assign(stored.data(), stored.size());
  return Status::OK();
}

Status BlobReader::Decode(const IndexEntry& e, std::string_view stored, std::string* out, const std::string& pack_path) {
  out->resize(e.raw_len);
  size_t n = ZSTD_decompressDCtx(dctx_, out->data(), out->size(), stored.data(), stored.size());
  if (ZSTD_isError(n) || n != e.raw_len)
    return Status::Corruption("pack " + pack_path + ": blob " + e.blob.Hex() + " does not decompress" +
                              (ZSTD_isError(n) ? " (" + std::string(ZSTD_getErrorName(n)) + ")" : std::string(" to its length")));
  if (Xxh128(*out) != e.blob) return Status::Corruption("pack " + pack_path + ": blob " + e.blob.Hex() + " content hash mismatch");
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
