#include "snapshot/leftovers.h"

namespace maestro {

Status AdoptUnindexedPacks(const RepoFiles& files, const HashSet& named,
                           const std::function<bool(const Hash128&)>& known, std::vector<IndexEntry>* adopted,
                           std::set<std::string>* damaged, bool write) {
  std::vector<std::string> names;
  MAESTRO_RETURN_IF_ERROR(files.ListNames(ObjectKind::kPack, &names));
  HashSet seen;  // a blob in two unindexed packs is adopted once
  for (const auto& name : names) {
    Hash128 h;
    if (!ParseObjectName(name, "pack", &h) || named.count(h)) continue;
    std::string path = files.ObjectPath(ObjectKind::kPack, name), bytes;
    Status got = files.backend()->Get(ObjectKind::kPack, name, &bytes);
    // A remote checks the bytes against the name itself: Corruption is a cut
    // upload or damage, a damaged pack like any other.
    if (!got.ok() && !got.IsCorruption()) return got.Annotate("reading unindexed pack " + path);
    Result<std::vector<IndexEntry>> blobs = Status::Corruption("pack " + path + ": its name is not the hash of its bytes");
    if (got.ok() && Xxh128(bytes) == h) blobs = DecodePack(bytes, h, "pack " + path, files.sealer());
    if (!blobs.ok()) {
      damaged->insert(name);
      continue;
    }
    for (const auto& ie : *blobs)
      if (!known(ie.blob) && seen.insert(ie.blob).second) adopted->push_back(ie);
  }
  if (adopted->empty() || !write) return Status::OK();
  return WriteIndexFile(files, *adopted).Annotate("indexing the blobs of unindexed packs");
}

namespace {

// "*.tmp-*" files an interrupted WriteFileDurably left in a local folder (the
// lock's own are the lock's business). A folder that is not here is skipped:
// a repository whose objects are kept elsewhere has none.
Status RemoveTempNames(Env* env, const std::string& dir) {
  std::vector<DirEntry> entries;
  Status ls = env->ListDir(dir, &entries);
  if (ls.IsNotFound()) return Status::OK();
  MAESTRO_RETURN_IF_ERROR(ls);
  for (const auto& e : entries)
    if (IsTempName(e.name) && !e.is_dir && e.name.rfind("lock", 0) != 0)
      MAESTRO_RETURN_IF_ERROR(env->RemoveFile(JoinPath(dir, e.name)));
  return Status::OK();
}

}  // namespace

Status CleanLeftovers(const RepoFiles& files, const HashSet& used, const std::set<std::string>& keep) {
  Env* env = files.env();
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env->ListDir(files.TmpDir(), &entries));
  for (const auto& e : entries) MAESTRO_RETURN_IF_ERROR(env->RemoveTree(JoinPath(files.TmpDir(), e.name)));
  for (const char* d : {"snapshots", "index", "", "packs"})
    MAESTRO_RETURN_IF_ERROR(RemoveTempNames(env, *d ? JoinPath(files.dir(), d) : files.dir()));
  // After AdoptUnindexedPacks, a pack no chosen entry uses holds only blobs that
  // are indexed in other packs (or is damaged, and kept).
  std::vector<std::string> names;
  MAESTRO_RETURN_IF_ERROR(files.ListNames(ObjectKind::kPack, &names));
  for (const auto& name : names) {
    Hash128 h;
    if (!ParseObjectName(name, "pack", &h) || used.count(h) || keep.count(name)) continue;
    Status rm = files.backend()->Remove(ObjectKind::kPack, name);
    // An append-only remote refuses (Status::IsRefused, backend.h): the pack
    // only holds blobs indexed elsewhere, so keeping it costs space, nothing
    // else; the writer goes on. Any other failure is still an error.
    if (!rm.ok() && !rm.IsRefused()) return rm;
  }
  return Status::OK();
}

}  // namespace maestro
