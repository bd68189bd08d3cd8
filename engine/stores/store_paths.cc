#include "engine/stores/store_paths.h"

#include <string>
#include <utility>
#include <vector>

#include "journal/journal.h"
#include "util/env.h"
#include "util/follow_link.h"

namespace maestro {

namespace {

const char* const kSidecars[] = {"-wal", "-shm", "-journal"};
constexpr int kMaxLinkHops = 16;

// p is the store, lies inside it, or lies in one of the names a transaction gives
// the store beside it (<store>.maestro-aside-*, -trash-*, -new-*; SQLite sidecars):
// whatever is there moves (or is removed) with the store.
bool InStoreFamily(const std::string& store, bool sqlite, const std::string& p) {
  if (IsAtOrUnder(p, store)) return true;
  const std::string parent = DirName(store);
  if (p == parent || !IsAtOrUnder(p, parent)) return false;
  std::string rest = p.substr(parent == "/" ? 1 : parent.size() + 1);
  std::string first = rest.substr(0, rest.find('/'));
  std::string base = BaseName(store);
  if (first.rfind(base + ".maestro-", 0) == 0) return true;
  if (sqlite)
    for (const char* sfx : kSidecars)
      if (first == base + sfx) return true;
  return false;
}

std::string Shown(const std::string& given, const std::string& resolved) {
  return given == resolved ? given : given + " (resolves to " + resolved + ")";
}

struct Resolved {
  std::string name;   // "the repository", "store pdfs"
  std::string given;  // as configured
  std::string real;   // ResolvePath(given)
  bool sqlite = false;
  std::string Describe() const { return name + " " + Shown(given, real); }
};

Status Overlap(const Resolved& inner, const char* relation, const Resolved& outer) {
  return Status::BadStore(inner.Describe() + " " + relation + " " + outer.Describe(),
                          "nothing was changed; a transaction would move or empty one with the other. Give the "
                          "repository its own folder outside every store (--repo DIR or [repo] path) and keep the "
                          "[stores] paths apart (docs/stores.md, \"Paths that are refused\")");
}

// The store s against the repository, its journal and the install root.
Status CheckAgainstRepository(Env* env, const Resolved& s, const Resolved& repo, const Resolved& journal, const Resolved& root) {
  std::string kind = SpecialFileKind(env, s.real);
  if (!kind.empty())
    return Status::BadStore(s.Describe() + " is a " + kind + ", not " + (s.sqlite ? "an SQLite file" : "a folder"),
                            "nothing was read or changed; remove it or point [stores] at the real store");
  if (InStoreFamily(s.real, s.sqlite, repo.real)) return Overlap(repo, "lies inside", s);
  if (InStoreFamily(s.real, s.sqlite, journal.real)) return Overlap(journal, "lies inside", s);
  if (IsAtOrUnder(s.real, repo.real)) return Overlap(s, "lies inside", repo);
  if (IsAtOrUnder(root.real, s.real)) return Overlap(s, "is (or contains) the install root", root);
  return Status::OK();
}

Status CheckNotNested(const Resolved& s, const Resolved& t) {
  if (InStoreFamily(s.real, s.sqlite, t.real)) return Overlap(t, "lies inside (or is)", s);
  if (InStoreFamily(t.real, t.sqlite, s.real)) return Overlap(s, "lies inside", t);
  return Status::OK();
}

}  // namespace

Result<std::string> ResolveStoreLink(Env* env, const std::string& path) {
  std::string p = path;
  if (FollowLinkAt(env, &p, kMaxLinkHops)) return p;
  return Status::BadStore("store path " + path + " is a chain of more than " + std::to_string(kMaxLinkHops) +
                              " symlinks (a loop?)",
                          "point [stores] at the real file or folder");
}

std::string SpecialFileKind(Env* env, const std::string& path) {
  FileInfo fi;
  if (!env->Stat(path, &fi).ok() || !fi.special) return "";
  return fi.special;
}

namespace {

Resolved ResolvedPath(std::string name, const std::string& p, bool sqlite = false, const std::string& shown = "") {
  return Resolved{std::move(name), shown.empty() ? p : shown, ResolvePath(p), sqlite};
}

std::vector<Resolved> ResolvedStores(const Layout& layout) {
  std::vector<Resolved> stores;
  for (const auto& s : layout.stores())
    stores.push_back(ResolvedPath("store " + s.name, s.path, KindOf(s.id) == StoreKind::kSqliteFile, s.link));
  return stores;
}

}  // namespace

Status CheckStorePaths(const Layout& layout) {
  const Resolved repo = ResolvedPath("the repository", layout.repo());
  const Resolved journal = ResolvedPath("the journal", JournalDir(layout.repo()));
  const Resolved root = ResolvedPath("the install root", layout.root());
  const std::vector<Resolved> stores = ResolvedStores(layout);
  for (const auto& s : stores) MAESTRO_RETURN_IF_ERROR(CheckAgainstRepository(layout.env(), s, repo, journal, root));
  for (size_t i = 0; i < stores.size(); ++i)
    for (size_t j = i + 1; j < stores.size(); ++j) MAESTRO_RETURN_IF_ERROR(CheckNotNested(stores[i], stores[j]));
  return Status::OK();
}

Status CheckRepositoryPath(const Layout& layout, const std::string& repo_path) {
  const Resolved repo = ResolvedPath("the repository", repo_path);
  for (const Resolved& s : ResolvedStores(layout))
    if (InStoreFamily(s.real, s.sqlite, repo.real)) return Overlap(repo, "lies inside", s);
  return Status::OK();
}

Status CheckRestoreTarget(const Layout& layout, const std::string& to) {
  const Resolved target = ResolvedPath("the restore target (--to)", to);
  const std::string hint = "nothing was written; restore to a folder outside the install's stores and its repository, "
                           "e.g. " + JoinPath(DirName(layout.root()), "maestro-restore");
  for (const Resolved& s : ResolvedStores(layout))
    if (InStoreFamily(s.real, s.sqlite, target.real))
      return Status::BadStore(target.Describe() + " lies inside " + s.Describe() +
                                  ": the snapshot's files would be mixed into the live store",
                              hint);
  const Resolved repo = ResolvedPath("the repository", layout.repo());
  if (IsAtOrUnder(target.real, repo.real)) return Status::BadStore(target.Describe() + " lies inside " + repo.Describe(), hint);
  return Status::OK();
}

}  // namespace maestro
