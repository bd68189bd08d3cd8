#include "snapshot/tree.h"

#include "snapshot/chunker.h"
#include "util/coding.h"

namespace maestro {

namespace {

// Listing chunks: small enough that a 1% change rewrites little metadata,
// large enough that a root stays small (16 bytes a ~64 KiB chunk).
ChunkerParams TreeChunking() {
  ChunkerParams p;
  p.min_size = 16 * 1024;
  p.avg_size = 64 * 1024;
  p.max_size = 256 * 1024;
  return p;
}

void PutEntry(std::string* s, const ManifestFile& f) {
  PutLengthPrefixed(s, f.path);
  s->push_back(static_cast<char>(f.type));
  s->push_back(static_cast<char>((f.sqlite_backup ? 1 : 0) | (f.incompressible ? 2 : 0)));
  PutFixed32(s, f.mode);
  PutFixed64(s, f.size);
  PutFixed64(s, static_cast<uint64_t>(f.mtime_ns));
  PutFixed64(s, f.inode);
  PutFixed32(s, f.uid);
  PutFixed32(s, f.gid);
  if (f.sqlite_backup) PutLengthPrefixed(s, f.source_fingerprint);
  if (f.type == ManifestFile::Type::kFile) {
    PutHash128(s, f.hash);
    PutFixed32(s, static_cast<uint32_t>(f.chunks.size()));
    for (const auto& c : f.chunks) PutHash128(s, c);
  } else if (f.type == ManifestFile::Type::kSymlink) {
    PutLengthPrefixed(s, f.link_target);
  }
}

Status ReadEntry(ByteReader* r, const std::string& what, ManifestFile* f) {
  f->path = r->LengthPrefixed();
  uint8_t t = r->U8();
  if (r->ok() && t > 2) return Status::Corruption(what + ": bad entry type " + std::to_string(t));
  f->type = static_cast<ManifestFile::Type>(t);
  uint8_t fl = r->U8();
  f->sqlite_backup = fl & 1;
  f->incompressible = fl & 2;
  f->mode = r->Fixed32();
  f->size = r->Fixed64();
  f->mtime_ns = static_cast<int64_t>(r->Fixed64());
  f->inode = r->Fixed64();
  f->uid = r->Fixed32();
  f->gid = r->Fixed32();
  if (f->sqlite_backup) f->source_fingerprint = r->LengthPrefixed();
  if (f->type == ManifestFile::Type::kFile) {
    f->hash = r->Hash();
    uint32_t nc = r->Count(16);
    f->chunks.reserve(nc);
    for (uint32_t c = 0; c < nc && r->ok(); ++c) f->chunks.push_back(r->Hash());
  } else if (f->type == ManifestFile::Type::kSymlink) {
    f->link_target = r->LengthPrefixed();
  }
  return r->ok() ? Status::OK() : Status::Corruption(what + ": an entry is cut short");
}

}  // namespace

std::vector<TreeBlob> SplitStoreTree(ManifestStore* st, const Sealer& sealer) {
  std::string stream;
  std::vector<size_t> ends;  // the end offset of every entry, ascending
  ends.reserve(st->files.size());
  for (const auto& f : st->files) {
    PutEntry(&stream, f);
    ends.push_back(stream.size());
  }
  const Chunker chunker(TreeChunking());
  std::vector<TreeBlob> out;
  st->tree_blobs.clear();
  size_t pos = 0, e = 0;
  while (pos < stream.size()) {
    size_t cut = pos + chunker.FindCut(reinterpret_cast<const uint8_t*>(stream.data() + pos), stream.size() - pos);
    while (e < ends.size() && ends[e] < cut) ++e;  // the first entry boundary at or after the cut
    size_t end = e < ends.size() ? ends[e] : stream.size();
    TreeBlob b;
    b.plain.reserve(1 + end - pos);
    b.plain.push_back('T');
    b.plain.append(stream, pos, end - pos);
    b.id = sealer.BlobId(b.plain);
    st->tree_blobs.push_back(b.id);
    out.push_back(std::move(b));
    pos = end;
  }
  TreeBlob root;
  root.plain.push_back('R');
  PutFixed32(&root.plain, static_cast<uint32_t>(st->tree_blobs.size()));
  for (const auto& id : st->tree_blobs) PutHash128(&root.plain, id);
  root.id = sealer.BlobId(root.plain);
  st->root = root.id;
  st->has_root = true;
  out.push_back(std::move(root));
  return out;
}

Result<std::vector<Hash128>> DecodeTreeRoot(std::string_view plain, const std::string& what) {
  if (plain.empty() || plain[0] != 'R') return Status::Corruption(what + ": not a tree root");
  ByteReader r(plain.substr(1));
  uint32_t n = r.Count(16);
  std::vector<Hash128> ids;
  ids.reserve(n);
  for (uint32_t k = 0; k < n && r.ok(); ++k) ids.push_back(r.Hash());
  if (!r.ok() || r.left() != 0) return Status::Corruption(what + ": tree root does not decode");
  return ids;
}

Status DecodeTreeBlob(std::string_view plain, const std::string& what, std::vector<ManifestFile>* files) {
  if (plain.empty() || plain[0] != 'T') return Status::Corruption(what + ": not a tree blob");
  ByteReader r(plain.substr(1));
  while (r.left() > 0) {
    ManifestFile f;
    MAESTRO_RETURN_IF_ERROR(ReadEntry(&r, what, &f));
    files->push_back(std::move(f));
  }
  return Status::OK();
}

}  // namespace maestro
