#include "snapshot/parent_files.h"

#include <climits>

#include "snapshot/catalog.h"
#include "snapshot/tree.h"

namespace maestro {

// Ids start with their UTC second, so only ids of the newest second (the "_N"
// suffixes sort out of order) can be the newest snapshot.
Status LoadParentSnapshot(const RepoFiles& files, ParentSnapshot* out) {
  MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, files.ListSnapshotIds());
  int64_t newest = INT64_MIN;
  std::string newest_second = ids.empty() ? "" : ids.back().substr(0, 15);
  for (const auto& id : ids) {
    if (id.compare(0, 15, newest_second) != 0) continue;
    Result<Manifest> pm = LoadManifestHead(files, id);
    if (pm.ok() && pm->info.created_micros >= newest) {
      newest = pm->info.created_micros;
      out->head = std::move(pm).value();
      out->present = true;
    }
  }
  return Status::OK();
}

const ManifestStore* ParentSnapshot::Store(const std::string& name) const {
  const ManifestStore* found = nullptr;
  if (present)
    for (const auto& st : head.stores)
      if (st.name == name && st.present) found = &st;
  return found;
}

ParentCursor::ParentCursor(const RepoFiles& files, const BlobIndex* idx, const ManifestStore* st,
                           const std::string& store_name, ParentFiles<ManifestFile>* sqlite)
    : store_name_(store_name), sqlite_(sqlite) {
  if (st) reader_ = std::make_unique<ListingReader>(files, idx, *st, "parent snapshot, listing of store " + store_name);
}

bool ParentCursor::Advance() {
  started_ = true;
  // An unreadable listing ends here: what is not found is read, not reused.
  have_ = reader_ && reader_->Next(&cur_);
  if (have_ && sqlite_ && cur_.type == ManifestFile::Type::kFile && cur_.sqlite_backup &&
      !cur_.source_fingerprint.empty())
    sqlite_->Add(store_name_, cur_);
  return have_;
}

ManifestFile* ParentCursor::Find(std::string_view path) {
  if (!started_) Advance();
  while (have_ && CompareListingPaths(cur_.path, path) < 0) Advance();
  if (!have_ || cur_.path != path || cur_.type != ManifestFile::Type::kFile || cur_.sqlite_backup) return nullptr;
  return &cur_;
}

void ParentCursor::Drain() {
  if (!started_) Advance();
  while (have_) Advance();
}

}  // namespace maestro
