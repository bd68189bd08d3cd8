#include "snapshot/repair.h"

#include <set>

#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/leftovers.h"

namespace maestro {

namespace {

// Keeps a damaged object under <dir>/damaged/<sub>/, then removes it from the
// repository: after a kill in between it is in both places (the next repair
// keeps another copy), never in neither.
Status Quarantine(const RepoFiles& files, ObjectKind kind, const std::string& name, const char* sub) {
  Env* env = files.env();
  std::string path = files.ObjectPath(kind, name);
  std::string bytes;
  Status got = files.backend()->Get(kind, name, &bytes);
  if (got.IsCorruption()) {
    // A remote's Get refuses bytes that are not what the name promises: the
    // damaged bytes themselves are what is kept, read as a range.
    ObjectInfo info;
    got = files.backend()->Stat(kind, name, &info);
    if (got.ok()) got = files.backend()->ReadAt(kind, name, 0, static_cast<size_t>(info.size), &bytes);
  }
  MAESTRO_RETURN_IF_ERROR(got.Annotate("reading damaged " + path));
  std::string dir = JoinPath(JoinPath(files.dir(), "damaged"), sub);
  MAESTRO_RETURN_IF_ERROR(env->CreateDirs(dir, 0700));
  std::string to = JoinPath(dir, name);
  for (int n = 2; env->FileExists(to); ++n) to = JoinPath(dir, name + "." + std::to_string(n));
  MAESTRO_RETURN_IF_ERROR(WriteFileDurably(env, to, bytes, 0600).Annotate("moving damaged " + path + " to " + dir));
  return files.backend()->Remove(kind, name).Annotate("moving damaged " + path + " to " + dir);
}

}  // namespace

Result<RepairReport> RepairRepository(const RepoFiles& files, bool dry_run) {
  RepairReport rep;
  if (!dry_run) MAESTRO_RETURN_IF_ERROR(files.EnsureScratch());
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, ScanSnapshots(files));
  rep.foreign = std::move(scan.foreign);
  rep.quarantined = std::move(scan.damaged);
  BlobIndex idx;
  BadIndexFiles bad;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(files, &idx, /*strict=*/true, &bad, nullptr));
  for (const auto& [path, st] : bad) rep.quarantined.push_back({"", path, st.message()});
  // Damaged files aside first: an index made again from a pack can have the
  // very bytes (and so the name) the damaged file had before its damage.
  if (!dry_run)
    for (const auto& d : rep.quarantined) {
      bool manifest = !d.id.empty();
      MAESTRO_RETURN_IF_ERROR(Quarantine(files, manifest ? ObjectKind::kManifest : ObjectKind::kIndex,
                                         manifest ? d.id : BaseName(d.path), manifest ? "snapshots" : "index"));
    }
  std::vector<IndexEntry> adopted;
  std::set<std::string> damaged_packs;
  HashSet named;
  MAESTRO_RETURN_IF_ERROR(PacksOf(idx, &named));
  MAESTRO_RETURN_IF_ERROR(AdoptUnindexedPacks(
      files, named, [&](const Hash128& b) { return idx.Contains(b); }, &adopted, &damaged_packs, !dry_run));
  MAESTRO_RETURN_IF_ERROR(idx.status());
  std::set<Hash128> packs;
  for (const auto& e : adopted) packs.insert(e.pack);
  rep.blobs_reindexed = adopted.size();
  rep.packs_reindexed = packs.size();
  for (const auto& p : damaged_packs) rep.damaged_packs.push_back(files.ObjectPath(ObjectKind::kPack, p));
  return rep;
}

}  // namespace maestro
