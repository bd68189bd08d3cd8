#include "snapshot/store_totals.h"

#include "snapshot/blob_index.h"
#include "snapshot/listing_reader.h"
#include "snapshot/repo_access.h"

namespace maestro {

Result<StoreTotals> CountStoreEntries(Repository* repo, const std::string& id, const ManifestStore& st) {
  StoreTotals t;
  const RepoFiles* files = RepoFilesOf(repo);
  if (!files) {  // another Repository: only its whole manifest can be read
    MAESTRO_ASSIGN_OR_RETURN(Manifest m, repo->LoadManifest(id));
    for (const auto& s : m.stores) {
      if (s.name != st.name) continue;
      for (const auto& f : s.files) {
        t.files += f.type == ManifestFile::Type::kFile ? 1 : 0;
        t.bytes += f.size;
      }
    }
    return t;
  }
  BlobIndex idx;
  if (st.has_root) MAESTRO_RETURN_IF_ERROR(LoadIndex(*files, &idx, /*strict=*/false, nullptr, nullptr));
  ListingReader r(*files, &idx, st, "snapshot " + id + ", listing of store " + st.name);
  ManifestFile f;
  while (r.Next(&f)) {
    t.files += f.type == ManifestFile::Type::kFile ? 1 : 0;
    t.bytes += f.size;
  }
  MAESTRO_RETURN_IF_ERROR(r.status());
  return t;
}

}  // namespace maestro
