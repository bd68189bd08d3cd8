#include "snapshot/parent_files.h"

#include <climits>

#include "snapshot/catalog.h"

namespace maestro {

namespace {

// Ids start with their UTC second, so only ids of the newest second (the "_N"
// suffixes sort out of order) can be the newest snapshot.
Status LoadNewestManifest(const RepoFiles& files, Manifest* parent) {
  MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, files.ListSnapshotIds());
  int64_t newest = INT64_MIN;
  std::string newest_second = ids.empty() ? "" : ids.back().substr(0, 15);
  for (const auto& id : ids) {
    if (id.compare(0, 15, newest_second) != 0) continue;
    Result<Manifest> pm = LoadManifest(files, id);
    if (pm.ok() && pm->info.created_micros >= newest) {
      newest = pm->info.created_micros;
      *parent = std::move(pm).value();
    }
  }
  return Status::OK();
}

}  // namespace

Status LoadParentSnapshot(const RepoFiles& files, ParentSnapshot* out) {
  Manifest parent;
  MAESTRO_RETURN_IF_ERROR(LoadNewestManifest(files, &parent));
  // Kept in the compact form only, store by store (each store's list is freed
  // once converted): the parent is held through the whole snapshot.
  for (auto& st : parent.stores) {
    out->counts[st.name] += st.files.size();
    out->files.Reserve(st.name, st.files.size());
    for (auto& f : st.files)
      if (f.type == ManifestFile::Type::kFile && !f.sqlite_backup)
        out->files.Add(st.name, ParentFile{std::move(f.path), f.size, f.mtime_ns, f.inode, f.hash, std::move(f.chunks),
                                              f.incompressible});
      else if (f.type == ManifestFile::Type::kFile && !f.source_fingerprint.empty())
        out->sqlite.Add(st.name, std::move(f));
    std::vector<ManifestFile>().swap(st.files);
  }
  out->files.Sort();
  out->sqlite.Sort();
  return Status::OK();
}

}  // namespace maestro
