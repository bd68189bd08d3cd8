// snapshot/publish.cc — listing, index, then manifest (see the header).
#include "snapshot/publish.h"

#include <zstd.h>

#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/format.h"
#include "snapshot/tree.h"
#include "util/crash_point.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(snap_after_index, "snap.after_index");

namespace {

constexpr int kTreeZstdLevel = 3;

Status AddTreeBlob(PackWriter* sink, const TreeBlob& b, std::string* z) {
  z->resize(ZSTD_compressBound(b.plain.size()));
  size_t n = ZSTD_compress(z->data(), z->size(), b.plain.data(), b.plain.size(), kTreeZstdLevel);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  return sink->Add(b.id, static_cast<uint32_t>(b.plain.size()), std::string_view(z->data(), n), BlobCodec::kZstd,
                   BlobType::kTree);
}

}  // namespace

ListingWriter::ListingWriter(const RepoFiles& files, PackWriter* sink, const BlobHeld& held, PendingBlobs* added,
                             ManifestStore* st)
    : files_(files), sink_(sink), held_(held), added_(added), st_(st) {
  st_->has_root = false;
  st_->root = Hash128();
  st_->tree_blobs.clear();
  if (!files_.v4()) return;
  tree_ = std::make_unique<TreeWriter>(files_.sealer(), [this](const TreeBlob& b) {
    if (held_(b.id) || !added_->Claim(b.id)) return Status::OK();
    return AddTreeBlob(sink_, b, &z_);
  });
}

ListingWriter::~ListingWriter() = default;

Status ListingWriter::Add(ManifestFile&& f) {
  if (!tree_) {
    st_->files.push_back(std::move(f));
    return Status::OK();
  }
  return tree_->Add(f);
}

Status ListingWriter::Finish() { return tree_ ? tree_->Finish(st_) : Status::OK(); }

Status PublishSnapshot(const RepoFiles& files, PackWriter* sink, Manifest* m, const ListingTotals* totals) {
  if (files.v4())
    for (const auto& st : m->stores)
      if (st.present && !st.has_root)
        return Status::Internal("publishing snapshot " + m->info.id + ": store " + st.name + " has no tree root");
  MAESTRO_RETURN_IF_ERROR(sink->PublishIndex());
  uint64_t stored = sink->stored_bytes() + sink->index_bytes();
  MAESTRO_CRASH_POINT("snap.after_index");
  m->format_version = files.v4() ? kManifestFormatV4 : kManifestFormatVersion;
  m->info.stores.clear();
  m->info.files = 0;
  m->info.logical_bytes = 0;
  for (const auto& st : m->stores) {
    if (!st.present) continue;
    m->info.stores.push_back(st.name);
    if (totals) continue;
    for (const auto& f : st.files)
      if (f.type == ManifestFile::Type::kFile) {
        m->info.files++;
        m->info.logical_bytes += f.size;
      }
  }
  if (totals) {
    m->info.files = totals->files;
    m->info.logical_bytes = totals->logical_bytes;
  }
  m->info.stored_bytes = stored;
  if (files.v4()) {  // the manifest's own bytes count too (their length does not depend on the value)
    MAESTRO_ASSIGN_OR_RETURN(std::string probe, EncodeManifestV4(*m, files.sealer()));
    m->info.stored_bytes += probe.size();
  }
  return PublishManifest(files, *m);
}

}  // namespace maestro
