// engine/stores/layout.h — START HERE. The six stores of a Maestro install and where
// they live.
//
// Words used across maestro-db:
//   root     the install root (--root; inside the app's image, /app)
//   store    one of main, ai, vector, pdfs, markdown, metadata
//            (see ../shared/maestro-layout.md; table in docs/stores.md)
//   present  the store's file or directory exists; a missing store is a state
//            (a fresh install), never an error
//   repo     the snapshot repository + journal (--repo, default <root>/backups/maestro-db,
//            or <root>/backups when a repository is there already: DefaultRepo)
//
// Layout::Discover resolves each store to the first candidate path that exists
// (config file [stores] entries override); a store found nowhere gets its first
// candidate as the path it would be created at. A store that is a symlink is
// resolved once, here: its path is the target (read, backed up and restored
// there; the link itself is kept). A FIFO, socket or device where a store should
// be counts as not present (never opened); writing commands refuse it
// (CheckStorePaths in engine/stores/store_paths.h). Discover does no writes.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "util/config.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

enum class StoreId { kMain = 0, kAi, kVector, kPdfs, kMarkdown, kMetadata };
constexpr int kNumStores = 6;
enum class StoreKind { kSqliteFile, kDirectory };

const char* StoreName(StoreId id);
StoreKind KindOf(StoreId id);
Result<StoreId> ParseStoreName(const std::string& name);  // InvalidArgument lists valid names
const std::array<StoreId, kNumStores>& AllStores();

struct Store {
  StoreId id = StoreId::kMain;
  std::string name;
  std::string path;     // absolute; a symlinked store is its target (engine/stores/store_paths.h)
  std::string link;     // the symlink the store was found through ("" if none): kept as it is
  bool present = false;
  bool from_config = false;
  // The relative path inside root when the store lies under root ("" otherwise).
  std::string rel_path;
};

// The repository when neither --repo nor repo.path names one: <root>/backups
// if it holds a repository (config) or a journal already, else
// <root>/backups/maestro-db (so it never mixes with the original tool's copies).
std::string DefaultRepo(Env* env, const std::string& root);

class Layout {
 public:
  // root must exist and be a directory (NotFound / InvalidArgument otherwise).
  // config may be null. repo empty = DefaultRepo(root). env is the Env every
  // reader of this layout's stores uses (env()); it must outlive the layout.
  static Result<Layout> Discover(Env* env, const std::string& root, const Config* config,
                                 const std::string& repo = "");

  Env* env() const { return env_; }
  const std::string& root() const { return root_; }
  const std::string& repo() const { return repo_; }
  const Store& store(StoreId id) const { return stores_[static_cast<int>(id)]; }
  const std::array<Store, kNumStores>& stores() const { return stores_; }
  // Path of chroma.sqlite3 inside the vector store.
  std::string ChromaDbPath() const;
  // Discovers again with the same root, config overrides and repo (a store may
  // have appeared or vanished since): use this, not Discover(root, nullptr, ...),
  // so [stores] overrides from the config file are kept.
  Result<Layout> Rediscover() const;
  // A copy in which the absent store `id` (not set by the config, not a link) is at
  // `path` instead of its first candidate, when `path` is one of its candidate paths
  // under root: an in-place restore puts a store back where the snapshot found it
  // (data/maestro.db stays data/maestro.db). Otherwise an unchanged copy.
  Layout WithAbsentStoreAt(StoreId id, const std::string& path) const;

 private:
  Env* env_ = nullptr;
  Config config_;  // the overrides this layout was discovered with (empty if none)
  std::string root_;
  std::string repo_;
  std::array<Store, kNumStores> stores_;
};

// Candidate relative paths for a store, in order of preference.
std::vector<std::string> CandidatePaths(StoreId id);

}  // namespace maestro
