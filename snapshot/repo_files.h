// snapshot/repo_files.h — where a repository's files are kept and how they are
// named (internal to snapshot/; the layout is docs/repository-format.md).
//
//   objects, through Backend (snapshot/backend.h):
//     config               format version + repository id
//     snapshots/<id>       one manifest per snapshot: the commit point
//     index/<hash>.idx     blob id -> pack, offset, lengths
//     packs/<hash>.pack    blobs back to back
//   local scratch, through Env, under the local folder dir():
//     tmp/                 packs being written, SQLite backups (cleared by writers)
//     cache/               scratch of readers and writers past their memory
//                          budget (snapshot/scratch_area.h; each process its own)
//     lock, lock.holder    the writer lock (snapshot/repo_lock.h); journal/
// For a local repository the local folder is the repository folder itself.
//
// Thread safety: RepoFiles is a const view (pointers it does not own); its
// methods may be called from several threads, as Backend's and Env's.
#pragma once

#include <string>
#include <vector>

#include "snapshot/backend.h"
#include "snapshot/sealer.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

bool EndsWith(const std::string& s, const std::string& suffix);
// A name WriteFileDurably or an interrupted writer leaves: "*.tmp-*".
bool IsTempName(const std::string& name);
// "YYYYmmdd_HHMMSS" with an optional "_N" (N >= 2): the names NewSnapshotId gives.
bool IsSnapshotIdName(const std::string& name);
// InvalidArgument unless id can name a manifest (not empty, no '/', no leading '.').
Status CheckSnapshotIdSyntax(const std::string& id);
// "<32 hex>.pack" and "<32 hex>.idx": ParseObjectName is false for any other name.
std::string PackName(const Hash128& pack);
std::string IndexName(const Hash128& index);
bool ParseObjectName(const std::string& name, const char* ext, Hash128* out);

class RepoFiles {
 public:
  // format: the config's format_version (1 = formats 1-3, 4); sealer: null =
  // PlainSealer(). Writers write the objects of `format` only.
  RepoFiles(Env* env, Backend* backend, std::string dir, uint32_t format = 1, const Sealer* sealer = nullptr)
      : env_(env), backend_(backend), dir_(std::move(dir)), format_(format), sealer_(sealer) {}

  Env* env() const { return env_; }
  Backend* backend() const { return backend_; }
  const std::string& dir() const { return dir_; }
  uint32_t format() const { return format_; }
  bool v4() const { return format_ >= 4; }
  void set_format(uint32_t f) { format_ = f; }  // by Upgrade, under the writer lock
  const Sealer& sealer() const { return sealer_ ? *sealer_ : *PlainSealer(); }
  std::string TmpDir() const { return JoinPath(dir_, "tmp"); }
  std::string CacheDir() const { return JoinPath(dir_, "cache"); }
  // Bytes of blob index entries or blob ids a reader or writer keeps in
  // memory before it spills to CacheDir() (snapshot/blob_index.h); tests set
  // a tiny one through SetMemoryBudget (snapshot/repo_access.h).
  static constexpr size_t kDefaultMemoryBudget = 8u << 20;
  size_t memory_budget() const { return memory_budget_; }
  void set_memory_budget(size_t bytes) { memory_budget_ = bytes; }
  // Makes tmp/ (and the local folder): writers call it before anything else.
  Status EnsureScratch() const;

  // The path messages and reports name for an object: <location>/<folder>/<name>.
  std::string ObjectPath(ObjectKind kind, const std::string& name) const;
  std::string PackPath(const Hash128& pack) const { return ObjectPath(ObjectKind::kPack, PackName(pack)); }

  // The names of kind's objects, sorted.
  Status ListNames(ObjectKind kind, std::vector<std::string>* names) const;
  // Snapshot ids in snapshots/ (names of the id form), sorted; other names'
  // paths go to *foreign.
  Result<std::vector<std::string>> ListSnapshotIds(std::vector<std::string>* foreign = nullptr) const;
  // Appends the paths of index/ and packs/ objects the repository never writes; sorts *foreign.
  Status ListForeignData(std::vector<std::string>* foreign) const;
  // The names in snapshots/, index/ and packs/, hashed: changes whenever a
  // writer publishes or removes an object (names are ids or content hashes).
  Result<Hash128> Generation() const;

  // Publishes a finished, fsynced pack file of tmp/ as packs/<name>.pack (the
  // file is moved or uploaded; on OK it is durable and gone from tmp/).
  Status PublishPack(const std::string& tmp_path, const Hash128& name) const;

 private:
  Env* env_;
  Backend* backend_;
  std::string dir_;
  uint32_t format_;
  const Sealer* sealer_;
  size_t memory_budget_ = kDefaultMemoryBudget;
};

}  // namespace maestro
