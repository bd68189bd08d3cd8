#include "engine/live_check.h"

#include "util/proc_scan.h"

namespace maestro {

Status RefuseIfStoresInUse(const Layout& layout, const std::vector<StoreId>& stores, bool force,
                           std::vector<std::string>* warnings) {
  std::vector<std::string> paths;
  for (StoreId id : stores) {
    const Store& s = layout.store(id);
    if (!s.present) continue;
    paths.push_back(s.path);
    if (KindOf(id) == StoreKind::kSqliteFile)
      for (const char* sfx : {"-wal", "-shm", "-journal"}) paths.push_back(s.path + sfx);
  }
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
                      "stop it first (e.g. `docker compose stop backend`), or pass --force if you are sure");
}

}  // namespace maestro
