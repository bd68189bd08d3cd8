// snapshot/whole_pack.cc — a source pack sent as it is (see the header).
#include "snapshot/whole_pack.h"

#include <algorithm>
#include <cstring>

#include "snapshot/blob_index.h"
#include "util/coding.h"

namespace maestro {

namespace {

// Reads exactly n bytes at offset into *out; a short read is a truncated pack.
Status ReadExactly(const RandomAccessFile& f, const std::string& path, uint64_t offset, size_t n, std::string* out) {
  out->resize(n);
  size_t got = 0;
  MAESTRO_RETURN_IF_ERROR(f.ReadAt(offset, n, out->data(), &got));
  if (got != n) return Status::Corruption("pack " + path + " is truncated (it changed while it was read?)");
  return Status::OK();
}

// True when e shares the stored bytes of prev: two members of one blob group.
bool SameGroup(const IndexEntry* prev, const IndexEntry& e) {
  return prev && e.codec == BlobCodec::kGroup && prev->codec == BlobCodec::kGroup && e.offset == prev->offset &&
         e.stored_len == prev->stored_len && e.stored_check == prev->stored_check;
}

// The blobs tile [0, limit) in offset order, each once (a blob group's
// members all on its one range): nothing else is in the pack.
bool TilesTheData(const std::vector<IndexEntry>& entries, uint64_t limit) {
  uint64_t at = 0;
  HashSet seen;
  const IndexEntry* prev = nullptr;
  for (const IndexEntry& e : entries) {
    if (!seen.insert(e.blob).second) return false;
    if (!SameGroup(prev, e)) {
      if (e.offset != at) return false;
      at += e.stored_len;
    }
    prev = &e;
  }
  return at == limit;
}

}  // namespace

Status CheckWholePack(const RepoFiles& files, BlobReader* reader, const Hash128& pack, size_t blobs,
                      const std::function<bool(const IndexEntry&)>& wanted, bool* eligible, WholePack* out) {
  *eligible = false;
  if (!files.backend()->LocalFile(ObjectKind::kPack, PackName(pack), &out->env, &out->path)) return Status::OK();
  const std::string& path = out->path;
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(out->env->Stat(path, &fi));
  if (!fi.exists) return Status::Corruption("pack " + path + " is missing");
  if (!fi.is_regular || fi.size < kPackV4TrailerSize) return Status::OK();  // not a version-4 pack: blob by blob
  out->size = fi.size;
  std::unique_ptr<RandomAccessFile> f;
  MAESTRO_RETURN_IF_ERROR(out->env->NewRandomAccessFile(path, &f));
  std::string tail;
  MAESTRO_RETURN_IF_ERROR(ReadExactly(*f, path, fi.size - kPackV4TrailerSize, kPackV4TrailerSize, &tail));
  if (std::memcmp(tail.data() + 4, kPackV4Magic, 8) != 0) return Status::OK();  // version 1
  const uint64_t hlen = DecodeFixed32(tail.data());
  if (hlen > fi.size - kPackV4TrailerSize) return Status::Corruption("pack " + path + ": pack header length runs past the start");
  const uint64_t limit = fi.size - kPackV4TrailerSize - hlen;
  MAESTRO_RETURN_IF_ERROR(ReadExactly(*f, path, limit, hlen + kPackV4TrailerSize, &tail));
  MAESTRO_ASSIGN_OR_RETURN(out->entries, DecodePackV4Tail(tail, fi.size, pack, "pack " + path, files.sealer()));
  std::stable_sort(out->entries.begin(), out->entries.end(),
                   [](const IndexEntry& a, const IndexEntry& b) { return a.offset < b.offset; });
  if (out->entries.size() != blobs || !TilesTheData(out->entries, limit) || !std::all_of(out->entries.begin(), out->entries.end(), wanted))
    return Status::OK();
  // The proof, one read of the file: every blob decodes to its id, and all
  // the bytes (blobs, then header and trailer) hash to the pack's name.
  Hasher128 whole;
  std::string stored, plain;
  const IndexEntry* prev = nullptr;
  for (const IndexEntry& e : out->entries) {
    const bool again = SameGroup(prev, e);  // its group's bytes are read and hashed once
    prev = &e;
    if (!again) {
      MAESTRO_RETURN_IF_ERROR(ReadExactly(*f, path, e.offset, e.stored_len, &stored));
      whole.Update(stored);
    }
    if (Xxh64(stored) != e.stored_check)
      return Status::Corruption("pack " + path + ": stored bytes of blob " + e.blob.Hex() + " are damaged");
    MAESTRO_RETURN_IF_ERROR(reader->Decode(e, stored, &plain, path));
  }
  whole.Update(tail);
  if (whole.Digest() != pack) return Status::Corruption("pack " + path + ": its name is not the hash of its bytes");
  *eligible = true;
  return Status::OK();
}

}  // namespace maestro
