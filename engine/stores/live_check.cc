#include "engine/stores/live_check.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "util/env.h"
#include "util/proc_scan.h"

namespace maestro {

std::vector<std::string> WatchedStoreFiles(const Layout& layout, const std::vector<StoreId>& stores) {
  std::vector<std::string> paths;
  for (StoreId id : stores) {
    const Store& s = layout.store(id);
    if (!s.present) continue;
    paths.push_back(s.path);
    if (KindOf(id) == StoreKind::kSqliteFile)
      for (const char* sfx : {"-wal", "-shm", "-journal"}) paths.push_back(s.path + sfx);
  }
  return paths;
}

Status RefuseIfStoresInUse(const Layout& layout, const std::vector<StoreId>& stores, bool force,
                           std::vector<std::string>* warnings) {
  return RefuseIfPathsInUse(WatchedStoreFiles(layout, stores), force, warnings);
}

Status RefuseIfPathsInUse(const std::vector<std::string>& paths, bool force, std::vector<std::string>* warnings) {
  if (paths.empty()) return Status::OK();
  std::vector<OpenFileHolder> holders = FindOpenFileHolders(paths);
  if (holders.empty()) return Status::OK();
  std::string list;
  for (size_t i = 0; i < holders.size(); ++i) {
    const auto& h = holders[i];
    std::string line = "pid " + std::to_string(h.pid) + " (" + h.program + ") has " + h.path + " open";
    if (warnings && force) warnings->push_back(line);
    if (i < 5) list += (i ? "; " : "") + line;
  }
  if (holders.size() > 5) list += "; and " + std::to_string(holders.size() - 5) + " more";
  if (force) return Status::OK();
  return Status::Busy("the MAESTRO app seems to be running: " + list,
                      "stop it first (e.g. `docker compose stop backend`, or pass --stop-app), or pass --force if you "
                      "are sure");
}

namespace {

// True when path is the root of a mount: statx's STATX_ATTR_MOUNT_ROOT (Linux
// 5.8+; it also sees a bind mount from the same filesystem), else a different
// st_dev than the parent directory.
bool IsMountRoot(const std::string& path) {
  struct statx sx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
      (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  struct stat self, parent;
  if (::lstat(path.c_str(), &self) != 0 || ::stat(DirName(path).c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

}  // namespace

Status RefuseIfStoresAreMountPoints(const Layout& layout, const std::vector<StoreId>& stores) {
  std::string list;
  for (StoreId id : stores) {
    const Store& s = layout.store(id);
    if (s.present && IsMountRoot(s.path)) list += std::string(list.empty() ? "" : "; ") + s.name + " (" + s.path + ")";
  }
  if (list.empty()) return Status::OK();
  return Status::BadStore(
      "store(s) mounted on their own: " + list +
          ". maestro-db changes a store by renaming it aside within its parent directory, which cannot move a "
          "mount point; nothing was changed",
      "mount the parent directory instead (as MAESTRO's Docker setup mounts the whole ai_researcher/data volume), "
      "or run maestro-db where the stores are plain directories (e.g. on the host)");
}

}  // namespace maestro
