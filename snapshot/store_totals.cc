#include "snapshot/store_totals.h"

#include "snapshot/blob_index.h"
#include "snapshot/listing_reader.h"
#include "snapshot/repo_access.h"

namespace maestro {

Result<std::vector<StoreTotals>> CountStoreEntries(Repository* repo, const std::string& id,
                                                   const std::vector<const ManifestStore*>& stores) {
  std::vector<StoreTotals> out(stores.size());
  auto count = [](const ManifestFile& f, StoreTotals* t) {
    t->files += f.type == ManifestFile::Type::kFile ? 1 : 0;
    t->bytes += f.size;
  };
  const RepoFiles* files = RepoFilesOf(repo);
  if (!files) {  // another Repository: only its whole manifest can be read, once for every store
    MAESTRO_ASSIGN_OR_RETURN(Manifest m, repo->LoadManifest(id));
    for (size_t k = 0; k < stores.size(); ++k)
      for (const auto& s : m.stores)
        if (s.name == stores[k]->name)
          for (const auto& f : s.files) count(f, &out[k]);
    return out;
  }
  // One index for every store's listing (it was loaded once per store).
  BlobIndex idx;
  bool loaded = false;
  for (size_t k = 0; k < stores.size(); ++k) {
    const ManifestStore& st = *stores[k];
    if (st.has_root && !loaded) {
      MAESTRO_RETURN_IF_ERROR(LoadIndex(*files, &idx, /*strict=*/false, nullptr, nullptr));
      loaded = true;
    }
    ListingReader r(*files, &idx, st, "snapshot " + id + ", listing of store " + st.name);
    ManifestFile f;
    while (r.Next(&f)) count(f, &out[k]);
    MAESTRO_RETURN_IF_ERROR(r.status());
  }
  return out;
}

}  // namespace maestro
