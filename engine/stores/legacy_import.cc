#include "engine/stores/legacy_import.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "util/sqlite.h"
#include "util/time_util.h"

namespace maestro {

namespace {

struct LegacyCopy {
  StoreId store;
  std::string path;
  bool is_directory;
};

bool IsStamp(const std::string& s) {
  if (s.size() != 15 || s[8] != '_') return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != 8 && !isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// The stamp inside name when it is "<prefix><stamp><suffix>".
bool StampBetween(const std::string& name, const std::string& prefix, const std::string& suffix, std::string* stamp) {
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  *stamp = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  return IsStamp(*stamp);
}

// The original tool's copies in dir, by stamp.
Status FindCopies(Env* env, const std::string& dir, std::map<std::string, std::vector<LegacyCopy>>* out) {
  std::vector<DirEntry> entries;
  Status ls = env->ListDir(dir, &entries);
  if (ls.IsNotFound())
    return Status::NotFound("no folder " + dir + " with the original tool's backups", "pass the folder: snap import-legacy DIR");
  MAESTRO_RETURN_IF_ERROR(ls);
  for (const auto& e : entries) {
    std::string stamp, path = JoinPath(dir, e.name);
    if (!e.is_dir && StampBetween(e.name, "maestro.db.", ".backup", &stamp)) {
      (*out)[stamp].push_back({StoreId::kMain, path, false});
    } else if (!e.is_dir && StampBetween(e.name, "metadata.db.", ".backup", &stamp)) {
      (*out)[stamp].push_back({StoreId::kAi, path, false});
    } else if (e.is_dir && StampBetween(e.name, "vector_store_", "_backup", &stamp)) {
      (*out)[stamp].push_back({StoreId::kVector, path, true});
    }
  }
  return Status::OK();
}

// OK when PRAGMA integrity_check says "ok"; else BadStore naming the copy.
Status CheckSqliteCopy(const std::string& path) {
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadOnly(path));
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare("PRAGMA integrity_check"));
  std::string first;
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string line = st.Text(0);
    if (line != "ok" && first.empty()) first = line;
  }
  if (!first.empty()) return Status::BadStore(path + " fails PRAGMA integrity_check: " + first);
  return Status::OK();
}

// Every SQLite file of the stamp's copies: main, ai, and the vector copy's chroma.sqlite3.
Status CheckCopies(Env* env, const std::vector<LegacyCopy>& copies) {
  for (const auto& c : copies) {
    std::string db = c.is_directory ? JoinPath(c.path, "chroma.sqlite3") : c.path;
    if (c.is_directory && !env->FileExists(db)) continue;
    MAESTRO_RETURN_IF_ERROR(CheckSqliteCopy(db));
  }
  return Status::OK();
}

std::string LegacyLabel(const std::string& stamp) { return "legacy backup " + stamp; }

Status ImportStamp(Env* env, Repository& repo, const Layout& layout, const std::string& stamp,
                   const std::vector<LegacyCopy>& copies, LegacyImportItem* item) {
  std::vector<SnapshotSource> sources;
  for (const auto& c : copies) {
    SnapshotSource s;
    s.store = StoreName(c.store);
    s.path = c.path;
    s.is_directory = c.is_directory;
    s.recorded_path = layout.store(c.store).path;
    // A copy with no -wal/-journal beside it is whole as it is: kept byte for byte.
    s.plain_copy = !c.is_directory && !env->FileExists(c.path + "-wal") && !env->FileExists(c.path + "-journal");
    sources.push_back(std::move(s));
  }
  CreateOptions co;
  co.label = LegacyLabel(stamp);
  co.trigger = kLegacyTrigger;
  MAESTRO_ASSIGN_OR_RETURN(co.created_micros, ParseTime(stamp));
  auto info = repo.Create(sources, co);
  if (!info.ok()) return info.status().Annotate("importing the backups of stamp " + stamp);
  item->snapshot_id = info->id;
  item->action = "imported";
  return Status::OK();
}

}  // namespace

Status ImportLegacyBackups(Env* env, Repository* repo, const Layout& layout, const std::string& dir, bool dry_run,
                           std::vector<LegacyImportItem>* out) {
  std::map<std::string, std::vector<LegacyCopy>> by_stamp;
  MAESTRO_RETURN_IF_ERROR(FindCopies(env, dir, &by_stamp));
  std::map<std::string, std::string> imported;  // label -> snapshot id
  if (repo) {
    MAESTRO_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> snaps, repo->List());
    for (const auto& s : snaps)
      if (s.trigger == kLegacyTrigger) imported[s.label] = s.id;
  }
  for (auto& [stamp, copies] : by_stamp) {
    std::sort(copies.begin(), copies.end(), [](const LegacyCopy& a, const LegacyCopy& b) { return a.store < b.store; });
    LegacyImportItem item;
    item.stamp = stamp;
    for (const auto& c : copies) {
      item.stores.push_back(StoreName(c.store));
      item.files.push_back(c.path);
    }
    auto done = imported.find(LegacyLabel(stamp));
    Status check;
    if (done != imported.end()) {
      item.action = "already imported";
      item.snapshot_id = done->second;
    } else if (!(check = CheckCopies(env, copies)).ok()) {
      item.action = "refused";
      item.reason = check.message();
    } else if (dry_run) {
      item.action = "would import";
    } else {
      if (!repo) return Status::Internal("snap import-legacy: no repository for a real run");
      MAESTRO_RETURN_IF_ERROR(ImportStamp(env, *repo, layout, stamp, copies, &item));
    }
    out->push_back(std::move(item));
  }
  return Status::OK();
}

}  // namespace maestro
