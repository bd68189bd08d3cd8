#include "engine/stores/layout.h"

#include <climits>
#include <cstdlib>
#include <unistd.h>

#include "engine/stores/store_paths.h"
#include "util/env.h"
#include "util/follow_link.h"

namespace maestro {

namespace {
struct Spec {
  StoreId id;
  const char* name;
  StoreKind kind;
};
const Spec kSpecs[kNumStores] = {
    {StoreId::kMain, "main", StoreKind::kSqliteFile},
    {StoreId::kAi, "ai", StoreKind::kSqliteFile},
    {StoreId::kVector, "vector", StoreKind::kDirectory},
    {StoreId::kPdfs, "pdfs", StoreKind::kDirectory},
    {StoreId::kMarkdown, "markdown", StoreKind::kDirectory},
    {StoreId::kMetadata, "metadata", StoreKind::kDirectory},
};

}  // namespace

const char* StoreName(StoreId id) { return kSpecs[static_cast<int>(id)].name; }
StoreKind KindOf(StoreId id) { return kSpecs[static_cast<int>(id)].kind; }

const std::array<StoreId, kNumStores>& AllStores() {
  static const std::array<StoreId, kNumStores> all = {StoreId::kMain,  StoreId::kAi,       StoreId::kVector,
                                                      StoreId::kPdfs, StoreId::kMarkdown, StoreId::kMetadata};
  return all;
}

Result<StoreId> ParseStoreName(const std::string& name) {
  for (const auto& s : kSpecs)
    if (name == s.name) return s.id;
  return Status::InvalidArgument("unknown store '" + name + "': valid stores are main, ai, vector, pdfs, markdown, metadata");
}

std::vector<std::string> CandidatePaths(StoreId id) {
  auto ai = [](const std::string& rest) {
    return std::vector<std::string>{"ai_researcher/data/" + rest, "maestro_backend/ai_researcher/data/" + rest};
  };
  switch (id) {
    case StoreId::kMain: return {"maestro_backend/data/maestro.db", "data/maestro.db"};
    case StoreId::kAi: return ai("processed/metadata.db");
    case StoreId::kVector: return ai("vector_store");
    case StoreId::kPdfs: return ai("raw_pdfs");
    case StoreId::kMarkdown: return ai("processed/markdown");
    case StoreId::kMetadata: return ai("processed/metadata");
  }
  return {};
}

// <root>/backups is where the original tool wrote its copies
// (maestro.db.<stamp>.backup ...): the repository is a folder of its own
// inside it, unless one is there already (its config, or a journal a first
// reset left before the repository was made: never lose sight of it).
std::string DefaultRepo(Env* env, const std::string& root) {
  std::string legacy = JoinPath(root, "backups");
  if (env->FileExists(JoinPath(legacy, "config")) || env->DirExists(JoinPath(legacy, "journal"))) return legacy;
  return JoinPath(legacy, "maestro-db");
}

Result<Layout> Layout::Discover(Env* env, const std::string& root_in, const Config* config, const std::string& repo) {
  Layout l;
  l.env_ = env;
  l.root_ = FollowFinalLink(env, root_in.empty() ? "." : root_in);
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(l.root_, &fi));
  if (!fi.exists)
    return Status::NotFound("install root " + l.root_ + " does not exist (pass --root DIR or set MAESTRO_ROOT)");
  if (!fi.is_dir) return Status::InvalidArgument("install root " + l.root_ + " is not a directory");
  l.repo_ = FollowFinalLink(env, repo.empty() ? DefaultRepo(env, l.root_) : repo);
  if (config) l.config_ = *config;

  for (const auto& spec : kSpecs) {
    Store& s = l.stores_[static_cast<int>(spec.id)];
    s.id = spec.id;
    s.name = spec.name;
    std::string key = std::string("stores.") + spec.name;
    if (config && config->Has(key)) {
      std::string p = config->Get(key);
      s.path = (!p.empty() && p[0] == '/') ? NormalizePath(p) : NormalizePath(JoinPath(l.root_, p));
      s.from_config = true;
      s.present = env->FileExists(s.path);
    } else {
      auto cands = CandidatePaths(spec.id);
      s.path = JoinPath(l.root_, cands.front());
      for (const auto& c : cands) {
        std::string p = JoinPath(l.root_, c);
        if (env->FileExists(p)) {
          s.path = p;
          s.present = true;
          break;
        }
      }
    }
    const std::string prefix = l.root_ + "/";
    if (s.path.compare(0, prefix.size(), prefix) == 0) s.rel_path = s.path.substr(prefix.size());
    MAESTRO_ASSIGN_OR_RETURN(std::string target, ResolveStoreLink(env, s.path));
    if (target != s.path) {
      s.link = s.path;
      s.path = target;
      s.present = env->FileExists(target);
    }
    // A FIFO, socket or device is never opened (readers would block or read without end):
    // readers see the store as missing; writing commands refuse it (CheckStorePaths).
    if (s.present && !SpecialFileKind(env, s.path).empty()) s.present = false;
  }
  return l;
}

Result<Layout> Layout::Rediscover() const { return Discover(env_, root_, &config_, repo_); }

Layout Layout::WithAbsentStoreAt(StoreId id, const std::string& path) const {
  Layout l = *this;
  Store& s = l.stores_[static_cast<int>(id)];
  if (s.present || s.from_config || !s.link.empty()) return l;
  for (const auto& c : CandidatePaths(id))
    if (NormalizePath(path) == JoinPath(root_, c)) {
      s.path = JoinPath(root_, c);
      s.rel_path = c;
    }
  return l;
}

std::string Layout::ChromaDbPath() const { return JoinPath(store(StoreId::kVector).path, "chroma.sqlite3"); }

}  // namespace maestro
