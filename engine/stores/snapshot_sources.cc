#include "engine/stores/snapshot_sources.h"

#include "util/env.h"

namespace maestro {

std::vector<SnapshotSource> SourcesFor(const Layout& layout, const std::vector<StoreId>& stores) {
  std::vector<SnapshotSource> out;
  for (StoreId id : AllStores()) {
    bool wanted = stores.empty();
    for (StoreId s : stores) wanted = wanted || s == id;
    if (!wanted) continue;
    const Store& st = layout.store(id);
    SnapshotSource src;
    src.store = st.name;
    src.path = st.path;
    src.is_directory = KindOf(id) == StoreKind::kDirectory;
    src.present = st.present;
    out.push_back(std::move(src));
  }
  return out;
}

std::string RestoreRelativePath(const std::string& root, const std::string& store, const std::string& original_path,
                                bool is_directory) {
  std::string path = NormalizePath(original_path);
  if (!root.empty()) {
    std::string r = NormalizePath(root);
    std::string prefix = r == "/" ? r : r + "/";
    if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0) {
      std::string rel = path.substr(prefix.size());
      if (IsSafeRelativePath(rel)) return rel;
    }
  }
  if (is_directory) return store;
  std::string base = BaseName(path);
  if (base.empty() || !IsSafeRelativePath(base)) base = store + ".db";
  return JoinPath(store, base);
}

}  // namespace maestro
