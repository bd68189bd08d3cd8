#include "tests/store_digest.h"

#include <algorithm>
#include <vector>

#include "engine/stores/layout.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/sqlite.h"

namespace maestro::testing {

namespace {

bool Skipped(const std::string& name) {
  auto ends = [&](const std::string& s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
  return ends("-wal") || ends("-shm") || ends("-journal") || name == "chroma.lock";
}

void Walk(Env* env, const std::string& dir, const std::string& prefix, std::map<std::string, std::string>* out) {
  std::vector<DirEntry> entries;
  if (!env->ListDir(dir, &entries).ok()) return;
  for (const auto& e : entries) {
    if (Skipped(e.name)) continue;
    std::string path = JoinPath(dir, e.name), key = prefix + "/" + e.name;
    if (e.is_dir) {
      (*out)[key] = "dir";
      Walk(env, path, key, out);
    } else if (LooksLikeSqlite(path)) {
      (*out)[key] = "sqlite:" + SqliteRowDigest(path);
    } else {
      std::string data;
      if (!env->ReadFileToString(path, &data).ok()) data = "\0unreadable";
      (*out)[key] = Xxh128(data).Hex();
    }
  }
}

}  // namespace

std::string SqliteRowDigest(const std::string& path) {
  auto db = Db::OpenReadOnly(path);
  if (!db.ok()) return "unreadable:" + db.status().ToString();
  std::vector<std::string> tables;
  {
    auto s = db->Prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    if (!s.ok()) return "unreadable";
    while (true) {
      auto row = s->Step();
      if (!row.ok() || !*row) break;
      tables.push_back(s->Text(0));
    }
  }
  std::string all;
  for (const auto& t : tables) {
    auto s = db->Prepare("SELECT * FROM \"" + t + "\"");
    if (!s.ok()) {
      all += t + ":unreadable;";
      continue;
    }
    std::vector<std::string> rows;
    while (true) {
      auto row = s->Step();
      if (!row.ok() || !*row) break;
      std::string r;
      for (int c = 0; c < s->ColumnCount(); ++c) {
        if (std::string(sqlite3_column_name(s->raw(), c)) == "applied_at") continue;
        r += std::to_string(sqlite3_column_type(s->raw(), c)) + ":" + Xxh128(s->Blob(c)).Hex() + ",";
      }
      rows.push_back(r);
    }
    std::sort(rows.begin(), rows.end());
    std::string joined;
    for (const auto& r : rows) joined += r + "\n";
    all += t + "=" + Xxh128(joined).Hex() + "(" + std::to_string(rows.size()) + ");";
  }
  return all;
}

std::map<std::string, std::string> StoreDigest(const std::string& root) {
  std::map<std::string, std::string> out;
  auto layout = Layout::Discover(Env::Default(), root, nullptr);
  if (!layout.ok()) return out;
  Env* env = Env::Default();
  for (const auto& s : layout->stores()) {
    if (!s.present) {
      out[s.name] = "absent";
      continue;
    }
    if (KindOf(s.id) == StoreKind::kSqliteFile) {
      out[s.name] = "sqlite:" + SqliteRowDigest(s.path);
    } else {
      out[s.name] = "dir";
      Walk(env, s.path, s.name, &out);
    }
  }
  return out;
}

}  // namespace maestro::testing
