#include "snapshot/archive_walk.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>

#include "snapshot/read_pool.h"
#include "snapshot/repo_files.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

bool IsSkippedCompanion(const std::string& name, const std::set<std::string>& sqlite_names) {
  for (const char* suf : {"-wal", "-shm", "-journal"}) {
    if (EndsWith(name, suf) && sqlite_names.count(name.substr(0, name.size() - std::strlen(suf)))) return true;
  }
  return false;
}

ManifestFile EntryOf(const std::string& path, const FileInfo& fi) {
  ManifestFile f;
  f.path = path;
  f.mode = fi.mode;
  f.uid = fi.uid;
  f.gid = fi.gid;
  f.mtime_ns = fi.mtime_ns;
  f.inode = fi.inode;
  return f;
}

// Runs fn(i) for i in [0, n): on kWalkThreads threads for a large folder,
// where each stat or header read on a cold cache is a disk round trip that
// one thread would wait for in turn; inline for a small one.
constexpr unsigned kWalkThreads = 32;
constexpr size_t kParallelFrom = 64;
Status ForEachEntry(size_t n, const std::function<Status(size_t)>& fn) {
  if (n < kParallelFrom) {
    for (size_t i = 0; i < n; ++i) MAESTRO_RETURN_IF_ERROR(fn(i));
    return Status::OK();
  }
  return ReadPool(kWalkThreads).Run(n, [&](size_t i, unsigned) { return fn(i); }, [] {});
}

}  // namespace

Status StoreWalker::StatEntries(const std::string& abs, Stats* stats) {
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env_->ListDir(abs, &entries));
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  std::vector<FileInfo> infos(entries.size());
  MAESTRO_RETURN_IF_ERROR(
      ForEachEntry(entries.size(), [&](size_t i) { return env_->Stat(JoinPath(abs, entries[i].name), &infos[i]); }));
  stats->reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!infos[i].exists) continue;  // removed since the listing
    stats->emplace_back(std::move(entries[i]), infos[i]);
  }
  return Status::OK();
}

struct StoreWalker::Walk {
  const std::string& store_name;
  const std::string& root;
  ParentCursor* parent;
  const EmitFn& emit;
  std::vector<std::string>* warnings;
};

// A folder's entries in name order: each run of non-folders is emitted, then
// the folder after it and its subtree, so the parent is asked in listing order.
Status StoreWalker::WalkDir(Walk& w, const std::string& rel) {
  std::string abs = rel.empty() ? w.root : JoinPath(w.root, rel);
  Stats stats;
  MAESTRO_RETURN_IF_ERROR(StatEntries(abs, &stats));
  std::set<std::string> sqlite_names;  // of this folder: their companions sort after them
  size_t run = 0;
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto& [e, fi] = stats[i];
    if (fi.is_symlink || !fi.is_dir) continue;
    MAESTRO_RETURN_IF_ERROR(EmitRun(w, abs, rel, stats, run, i, &sqlite_names));
    run = i + 1;
    if (e.name == "chroma.lock" || IsSkippedCompanion(e.name, sqlite_names)) continue;
    std::string path = rel.empty() ? e.name : rel + "/" + e.name;
    ManifestFile f = EntryOf(path, fi);
    f.type = ManifestFile::Type::kDir;
    MAESTRO_RETURN_IF_ERROR(w.emit(std::move(f)));
    MAESTRO_RETURN_IF_ERROR(WalkDir(w, path));
  }
  return EmitRun(w, abs, rel, stats, run, stats.size(), &sqlite_names);
}

Status StoreWalker::EmitRun(Walk& w, const std::string& abs, const std::string& rel, const Stats& stats, size_t begin,
                            size_t end, std::set<std::string>* sqlite_names) {
  auto path_of = [&](const std::string& name) { return rel.empty() ? name : rel + "/" + name; };
  std::vector<size_t> to_look;  // entries whose header must be read
  for (size_t i = begin; i < end; ++i) {
    const auto& [e, fi] = stats[i];
    if (!fi.is_regular || fi.size < 512) continue;
    const ManifestFile* p = w.parent ? w.parent->Find(path_of(e.name)) : nullptr;
    if (!SameAsParent(p, fi.size, fi.mtime_ns, fi.inode)) to_look.push_back(i);
  }
  std::vector<char> is_sqlite(to_look.size(), 0);
  MAESTRO_RETURN_IF_ERROR(ForEachEntry(to_look.size(), [&](size_t i) {
    is_sqlite[i] = LooksLikeSqlite(JoinPath(abs, stats[to_look[i]].first.name)) ? 1 : 0;
    return Status::OK();
  }));
  for (size_t i = 0; i < to_look.size(); ++i)
    if (is_sqlite[i]) sqlite_names->insert(stats[to_look[i]].first.name);
  for (size_t i = begin; i < end; ++i) {
    const auto& [e, fi] = stats[i];
    if (e.name == "chroma.lock" || IsSkippedCompanion(e.name, *sqlite_names)) continue;
    std::string path = path_of(e.name);
    if (!fi.is_symlink && !fi.is_regular) {
      w.warnings->push_back(w.store_name + "/" + path + ": a " + (fi.special ? fi.special : "special file") +
                            ", not captured (a restore does not recreate it)");
      continue;
    }
    ManifestFile f = EntryOf(path, fi);
    if (fi.is_symlink) {
      f.type = ManifestFile::Type::kSymlink;
      MAESTRO_RETURN_IF_ERROR(env_->ReadLink(JoinPath(abs, e.name), &f.link_target));
    } else {
      f.type = ManifestFile::Type::kFile;
      f.size = fi.size;
      f.sqlite_backup = sqlite_names->count(e.name) > 0;
    }
    MAESTRO_RETURN_IF_ERROR(w.emit(std::move(f)));
  }
  return Status::OK();
}

Status StoreWalker::PlanStore(const SnapshotSource& src, ManifestStore* st, std::vector<std::string>* warnings) {
  return PlanStore(src, st, nullptr, [st](ManifestFile&& f) {
    st->files.push_back(std::move(f));
    return Status::OK();
  }, warnings);
}

Status StoreWalker::PlanStore(const SnapshotSource& src, ManifestStore* st, ParentCursor* parent, const EmitFn& emit,
                              std::vector<std::string>* warnings) {
  FileInfo fi;
  if (st->present) MAESTRO_RETURN_IF_ERROR(env_->Stat(src.path, &fi));
  if (!st->present || !fi.exists) {
    st->present = false;  // a store that vanished is recorded as absent: restoring it makes it absent
    return Status::OK();
  }
  if (!src.is_directory) return PlanFileStore(src, fi, emit);
  if (!fi.is_dir && !(fi.is_symlink && env_->DirExists(src.path)))
    return Status::BadStore("store " + src.store + ": " + src.path + " is not a directory");
  ManifestFile root;
  root.type = ManifestFile::Type::kDir;
  root.path = "";
  root.mode = fi.is_symlink ? 0755 : fi.mode;
  root.mtime_ns = fi.is_symlink ? 0 : fi.mtime_ns;
  if (!fi.is_symlink) root.uid = fi.uid, root.gid = fi.gid;
  MAESTRO_RETURN_IF_ERROR(emit(std::move(root)));
  Walk w{src.store, src.path, parent, emit, warnings};
  return WalkDir(w, "");
}

Status StoreWalker::PlanFileStore(const SnapshotSource& src, const FileInfo& fi, const EmitFn& emit) {
  if (fi.is_dir) return Status::BadStore("store " + src.store + ": " + src.path + " is a directory, expected an SQLite file");
  if (fi.special)  // never opened: a FIFO would block the read, a device never ends
    return Status::BadStore("store " + src.store + ": " + src.path + " is a " + fi.special + ", not an SQLite file",
                            "nothing was read; remove it or point [stores] " + src.store + " at the real database");
  // The live file's mode, owner and mtime: an SQLite backup's read of its copy keeps these.
  ManifestFile f = EntryOf("", fi);
  f.type = ManifestFile::Type::kFile;
  f.size = fi.size;
  // A file store that is not (yet) an SQLite database (empty, garbage) is kept as it is.
  f.sqlite_backup = !src.plain_copy && fi.size >= 512 && LooksLikeSqlite(src.path);
  return emit(std::move(f));
}

}  // namespace maestro
