// snapshot/repository.cc — the Repository of repository.h, wired from the
// parts that do its jobs (bytes on disk: docs/repository-format.md):
//
//   repo_files.h      where the files are: objects through Backend, tmp/ through Env
//   catalog.h         manifests: list, scan, load, resolve, publish, delete
//   blob_index.h      index files: blob id -> pack, offset, lengths
//   leftovers.h       what interrupted writers leave, put right by the next one
//   archiver.h        Create (archive_walk, sqlite_capture, parent_files,
//                     file_saver, compress_pool, pack_writer)
//   restorer.h        RestoreStore (blob_reader)
//   checker.h         Verify
//   gc.h              RemoveUnreferencedData
//   repair.h          Repair
#include "snapshot/repository.h"

#include <random>
#include <set>

#include "snapshot/archiver.h"
#include "snapshot/catalog.h"
#include "snapshot/checker.h"
#include "snapshot/format.h"
#include "snapshot/gc.h"
#include "snapshot/repair.h"
#include "snapshot/repo_files.h"
#include "snapshot/repo_access.h"
#include "snapshot/restorer.h"
#include "snapshot/sealer.h"
#include "snapshot/upgrade.h"

namespace maestro {

namespace {

std::string RandomHex128() {
  std::random_device rd;
  Hash128 h;
  h.hi = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  h.lo = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return h.Hex();
}

class RepositoryImpl final : public Repository {
 public:
  RepositoryImpl(Env* env, std::unique_ptr<Backend> backend, std::string dir, RepoConfig cfg,
                 std::shared_ptr<const Sealer> sealer)
      : backend_(std::move(backend)),
        sealer_(std::move(sealer)),
        files_(env, backend_.get(), std::move(dir), cfg.format_version, sealer_.get()),
        cfg_(std::move(cfg)) {}

  const std::string& dir() const override { return files_.dir(); }
  uint32_t format_version() const override { return cfg_.format_version; }
  Status Upgrade() override {
    MAESTRO_RETURN_IF_ERROR(UpgradeRepository(files_, &cfg_));
    files_.set_format(cfg_.format_version);
    return Status::OK();
  }
  const RepoFiles& files() const { return files_; }
  RepoFiles* mutable_files() { return &files_; }
  const std::shared_ptr<const Sealer>& sealer() const { return sealer_; }

  Result<SnapshotInfo> Create(const std::vector<SnapshotSource>& sources, const CreateOptions& opts) override {
    return CreateSnapshot(files_, sources, opts);
  }
  Result<std::vector<SnapshotInfo>> List() override {
    MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, ScanSnapshots(files_));
    return std::move(scan.snapshots);
  }
  Result<RepoScan> Scan() override { return ScanSnapshots(files_); }
  Result<Manifest> LoadManifest(const std::string& id) override { return maestro::LoadManifest(files_, id); }
  Result<Manifest> LoadManifestHead(const std::string& id) override { return maestro::LoadManifestHead(files_, id); }
  Result<std::string> ResolveId(const std::string& spec) override { return ResolveSnapshotId(files_, spec); }
  Status RestoreStore(const std::string& id, const std::string& store, const std::string& target,
                      const RestoreOptions& opts) override {
    return maestro::RestoreStore(files_, id, store, target, opts);
  }
  Result<std::unique_ptr<SnapshotRestore>> OpenRestore(const std::string& id) override {
    return OpenSnapshotRestore(files_, id);
  }
  Result<VerifyReport> Verify(const std::vector<std::string>& ids, bool read_data) override {
    return VerifySnapshots(files_, ids, read_data);
  }
  Status DeleteSnapshots(const std::vector<std::string>& ids) override { return DeleteManifests(files_, ids); }
  Result<GcStats> RemoveUnreferencedData(bool dry_run, double max_unused) override {
    return maestro::RemoveUnreferencedData(files_, dry_run, max_unused);
  }
  Result<RepairReport> Repair(bool dry_run) override { return RepairRepository(files_, dry_run); }

 private:
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<const Sealer> sealer_;
  RepoFiles files_;
  RepoConfig cfg_;
};

// The folders of a new local repository, made before its config (the config
// is the commit point of creation: CheckFolderForNewRepository accepts a
// folder a creation left before it).
Status LayOutNewLocalRepository(Env* env, const std::string& dir) {
  MAESTRO_RETURN_IF_ERROR(CheckFolderForNewRepository(env, dir));
  MAESTRO_RETURN_IF_ERROR(env->CreateDirsDurably(dir, 0700));
  for (const char* d : {"snapshots", "index", "packs", "tmp"}) MAESTRO_RETURN_IF_ERROR(env->CreateDir(JoinPath(dir, d), 0700));
  return env->SyncDir(dir);
}

}  // namespace

// A repository is only made in a folder that is missing, empty, or holds
// nothing but what a repository's own first writers leave before its config
// (its folders, in creation order; the lock; the journal; the schedule's
// files; temporary files): any other file would be mixed with the repository
// and its tmp/ and *.tmp-* files deleted by the next writer.
Status CheckFolderForNewRepository(Env* env, const std::string& dir) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(dir, &fi));
  if (!fi.exists) return Status::OK();
  const std::string hint = "a repository must be made in an empty folder (or be a maestro-db repository): pass "
                           "--repo with a new or empty folder; nothing in " + dir + " was changed";
  if (!fi.is_dir) return Status::BadStore("--repo " + dir + " exists and is not a folder", hint);
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env->ListDir(dir, &entries));
  static const std::set<std::string> ours = {"snapshots", "index",   "packs",       "tmp",
                                             "keys",      "lock",    "lock.holder", "lock.readers",
                                             "journal",   "schedule.log", "schedule-state.json"};
  std::set<std::string> names;
  for (const auto& e : entries) names.insert(e.name);
  for (const auto& n : names) {
    bool own = ours.count(n) && !(n == "tmp" && !names.count("snapshots"));
    if (!own && !IsTempName(n))
      return Status::BadStore("--repo " + dir + " is not empty and is not a maestro-db repository (it holds '" + n +
                                  "' and no repository config)", hint);
  }
  return Status::OK();
}

const RepoFiles* RepoFilesOf(Repository* repo) {
  auto* impl = dynamic_cast<RepositoryImpl*>(repo);
  return impl != nullptr ? &impl->files() : nullptr;
}

void SetMemoryBudget(Repository* repo, size_t bytes) {
  auto* impl = dynamic_cast<RepositoryImpl*>(repo);
  if (impl != nullptr) impl->mutable_files()->set_memory_budget(bytes);
}

// The sealer the repository was opened with (PlainSealer() when unencrypted;
// an encrypted one's open master key, docs/encryption.md).
std::shared_ptr<const Sealer> SealerOf(Repository* repo) {
  auto* impl = dynamic_cast<RepositoryImpl*>(repo);
  return impl != nullptr && impl->sealer() ? impl->sealer() : PlainSealer();
}

Result<std::unique_ptr<Repository>> Repository::Open(Env* env, const std::string& dir, bool create_if_missing) {
  return Open(env, dir, create_if_missing, PlainSealer());
}

Result<std::unique_ptr<Repository>> Repository::Open(Env* env, const std::string& dir, bool create_if_missing,
                                                     std::shared_ptr<const Sealer> sealer) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(JoinPath(dir, "config"), &fi));
  bool fresh = !fi.exists && create_if_missing;
  if (fresh) MAESTRO_RETURN_IF_ERROR(LayOutNewLocalRepository(env, dir));
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo, Open(env, NewLocalBackend(env, dir), dir, create_if_missing, std::move(sealer)));
  // The repository folder's own entry, once it holds a config.
  if (fresh) MAESTRO_RETURN_IF_ERROR(env->SyncDir(DirName(NormalizePath(dir))));
  return repo;
}

Result<std::unique_ptr<Repository>> Repository::Open(Env* env, std::unique_ptr<Backend> backend,
                                                     const std::string& local_dir, bool create_if_missing) {
  return Open(env, std::move(backend), local_dir, create_if_missing, PlainSealer());
}

Result<std::unique_ptr<Repository>> Repository::Open(Env* env, std::unique_ptr<Backend> backend,
                                                     const std::string& local_dir, bool create_if_missing,
                                                     std::shared_ptr<const Sealer> sealer) {
  if (!sealer) sealer = PlainSealer();
  const std::string where = "repository config " + JoinPath(backend->Location(), "config");
  std::string text;
  Status s = backend->Get(ObjectKind::kConfig, "config", &text);
  if (s.IsNotFound()) {
    if (!create_if_missing)
      return Status::NotFound("no snapshot repository at " + backend->Location() + " (no config file)",
                              "pass --repo DIR, or run `maestro-db snap create` to make one");
    RepoConfig c;  // new repositories are format 4
    c.repository_id = RandomHex128();
    c.encryption = std::string(sealer->Scheme());
    MAESTRO_RETURN_IF_ERROR(backend->Put(ObjectKind::kConfig, "config", EncodeConfig(c)));
    s = backend->Get(ObjectKind::kConfig, "config", &text);
  }
  MAESTRO_RETURN_IF_ERROR(s);
  MAESTRO_ASSIGN_OR_RETURN(RepoConfig cfg, DecodeConfig(text, where));
  if (cfg.encryption != sealer->Scheme())
    return Status::InvalidArgument("the repository at " + backend->Location() + " has encryption=" + cfg.encryption +
                                       ", opened with " + std::string(sealer->Scheme()),
                                   cfg.encryption == "none" ? "open it without a key"
                                                            : "open its key first (`maestro-db snap key`, docs/encryption.md)");
  return std::unique_ptr<Repository>(
      new RepositoryImpl(env, std::move(backend), local_dir, std::move(cfg), std::move(sealer)));
}

Result<std::string> Repository::EncryptionOf(Backend* backend) {
  std::string text;
  MAESTRO_RETURN_IF_ERROR(backend->Get(ObjectKind::kConfig, "config", &text));
  MAESTRO_ASSIGN_OR_RETURN(RepoConfig cfg, DecodeConfig(text, "repository config " + JoinPath(backend->Location(), "config")));
  return cfg.encryption;
}

Status OpenedRestore::RestoreStore(Repository* repo, const std::string& id, const std::string& store,
                                   const std::string& target, const RestoreOptions& opts) {
  if (!restore_ || id_ != id) {
    restore_.reset();
    MAESTRO_ASSIGN_OR_RETURN(restore_, repo->OpenRestore(id));
    id_ = id;
  }
  return restore_->RestoreStore(store, target, opts);
}

}  // namespace maestro
