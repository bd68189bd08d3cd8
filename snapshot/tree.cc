#include "snapshot/tree.h"

#include <cstddef>

#include "snapshot/chunker.h"
#include "snapshot/format.h"
#include "util/coding.h"

namespace maestro {

namespace {

// Listing chunks: small enough that a 1% change rewrites little metadata,
// large enough that a root stays small (16 bytes a ~16 KiB chunk). Each place
// a day changes costs one chunk, and a day's new files land all over a flat
// folder: with 64 KiB chunks the peer harness's 1% day added 19% of the
// listing's metadata at 78,201 files, with 16 KiB 4.8%. Changing these only
// changes where new listings are cut (a reader takes blobs of any size); the
// first snapshot after such a change stores its listing once again.
ChunkerParams TreeChunking() {
  ChunkerParams p;
  p.min_size = 4 * 1024;
  p.avg_size = 16 * 1024;
  p.max_size = 64 * 1024;
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
  PutEntryContent(s, f);
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
  ReadEntryContent(r, f);
  return r->ok() ? Status::OK() : Status::Corruption(what + ": an entry is cut short");
}

}  // namespace

int CompareListingPaths(std::string_view a, std::string_view b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    // '/' ends a component: below every byte of a name.
    unsigned ca = a[i] == '/' ? 0u : static_cast<unsigned char>(a[i]) + 1u;
    unsigned cb = b[i] == '/' ? 0u : static_cast<unsigned char>(b[i]) + 1u;
    return ca < cb ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

TreeWriter::TreeWriter(const Sealer& sealer, BlobFn out) : sealer_(sealer), out_(std::move(out)) {}

Status TreeWriter::Add(const ManifestFile& f) {
  PutEntry(&buf_, f);
  ends_.push_back(buf_.size());
  // The chunker looks at most max_size bytes ahead: with that much buffered,
  // the next cut is the one the whole stream would have.
  while (buf_.size() >= TreeChunking().max_size) MAESTRO_RETURN_IF_ERROR(Cut());
  return Status::OK();
}

Status TreeWriter::Cut() {
  static const Chunker chunker(TreeChunking());
  size_t cut = chunker.FindCut(reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size());
  // The first entry boundary at or after the cut (the last entry ends the buffer).
  size_t e = 0;
  while (e < ends_.size() && ends_[e] < cut) ++e;
  size_t end = e < ends_.size() ? ends_[e] : buf_.size();
  TreeBlob b;
  b.plain.reserve(1 + end);
  b.plain.push_back('T');
  b.plain.append(buf_, 0, end);
  b.id = sealer_.BlobId(b.plain);
  ids_.push_back(b.id);
  buf_.erase(0, end);
  size_t k = e < ends_.size() ? e + 1 : ends_.size();
  ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(k));
  for (auto& x : ends_) x -= end;
  return out_(b);
}

Status TreeWriter::Finish(ManifestStore* st) {
  while (!buf_.empty()) MAESTRO_RETURN_IF_ERROR(Cut());
  TreeBlob root;
  root.plain.push_back('R');
  PutFixed32(&root.plain, static_cast<uint32_t>(ids_.size()));
  for (const auto& id : ids_) PutHash128(&root.plain, id);
  root.id = sealer_.BlobId(root.plain);
  st->root = root.id;
  st->has_root = true;
  st->tree_blobs = std::move(ids_);
  ids_.clear();
  return out_(root);
}

std::vector<TreeBlob> SplitStoreTree(ManifestStore* st, const Sealer& sealer) {
  std::vector<TreeBlob> out;
  TreeWriter w(sealer, [&](const TreeBlob& b) {
    out.push_back(b);
    return Status::OK();
  });
  for (const auto& f : st->files) w.Add(f).IgnoreError("the collecting callback never fails");
  w.Finish(st).IgnoreError("the collecting callback never fails");
  return out;
}

void EncodeTreeEntry(const ManifestFile& f, std::string* out) { PutEntry(out, f); }

Status DecodeTreeEntry(std::string_view bytes, const std::string& what, ManifestFile* f) {
  ByteReader r(bytes);
  MAESTRO_RETURN_IF_ERROR(ReadEntry(&r, what, f));
  if (r.left() != 0) return Status::Corruption(what + ": bytes after an entry");
  return Status::OK();
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
