// snapshot/open_writer.cc — the lock first, then the repository (see the header).
#include "snapshot/open_writer.h"

#include <optional>

#include "snapshot/format.h"
#include "snapshot/object_check.h"
#include "snapshot/open_backend.h"
#include "snapshot/upgrade.h"

namespace maestro {

namespace {

// The backend of a remote writer: every change but the lock's own fails once
// the lease lock was lost, so a writer whose lease ran out (a refresh failed
// for a whole lease) stops before it could publish beside a new holder.
class LockGuardedBackend final : public Backend {
 public:
  LockGuardedBackend(std::unique_ptr<Backend> inner, const RemoteLock* lock) : inner_(std::move(inner)), lock_(lock) {}

  std::string Location() const override { return inner_->Location(); }
  Status Put(ObjectKind kind, const std::string& name, std::string_view data) override {
    MAESTRO_RETURN_IF_ERROR(Check(kind, name));
    return inner_->Put(kind, name, data);
  }
  Status NewWriter(ObjectKind kind, const std::string& name, std::unique_ptr<ObjectWriter>* out) override {
    MAESTRO_RETURN_IF_ERROR(Check(kind, name));
    return inner_->NewWriter(kind, name, out);
  }
  Status PutFile(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path) override {
    MAESTRO_RETURN_IF_ERROR(Check(kind, name));
    return inner_->PutFile(kind, name, env, local_path);
  }
  Status PutCopyOf(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path) override {
    MAESTRO_RETURN_IF_ERROR(Check(kind, name));
    return inner_->PutCopyOf(kind, name, env, local_path);
  }
  bool LocalFile(ObjectKind kind, const std::string& name, Env** env, std::string* path) const override {
    return inner_->LocalFile(kind, name, env, path);
  }
  int ParallelPuts() const override { return inner_->ParallelPuts(); }
  Status Get(ObjectKind kind, const std::string& name, std::string* out) override { return inner_->Get(kind, name, out); }
  Status ReadAt(ObjectKind kind, const std::string& name, uint64_t offset, size_t n, std::string* out) override {
    return inner_->ReadAt(kind, name, offset, n, out);
  }
  Status Stat(ObjectKind kind, const std::string& name, ObjectInfo* info) override { return inner_->Stat(kind, name, info); }
  Status List(ObjectKind kind, std::vector<ObjectInfo>* out) override { return inner_->List(kind, out); }
  Status Remove(ObjectKind kind, const std::string& name) override {
    MAESTRO_RETURN_IF_ERROR(Check(kind, name));
    return inner_->Remove(kind, name);
  }
  Status RemoveMany(ObjectKind kind, const std::vector<std::string>& names) override {
    for (const auto& name : names) MAESTRO_RETURN_IF_ERROR(Check(kind, name));
    return inner_->RemoveMany(kind, names);
  }

 private:
  Status Check(ObjectKind kind, const std::string& name) const {
    if (kind == ObjectKind::kLock || lock_->Valid()) return Status::OK();
    return Status::Busy(Location() + ": the repository lock was lost (it could not be refreshed within its lease); " +
                            ObjectPath(kind, name) + " was not written",
                        "another writer may hold the repository now: check the remote is reachable, then run the "
                        "command again");
  }

  std::unique_ptr<Backend> inner_;
  const RemoteLock* lock_;
};

Result<WriterSession> OpenRemoteWriter(Env* env, const std::string& spec, const WriterOptions& opts) {
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, OpenBackend(env, spec, opts.rclone));
  MAESTRO_ASSIGN_OR_RETURN(std::string scratch, RemoteScratchDir(env, spec));
  WriterSession s;
  MAESTRO_ASSIGN_OR_RETURN(s.remote_lock, AcquireLeaseLock(backend.get(), env, opts));
  // A `snap upgrade` killed while it uploaded the config left it partial (snapshot/upgrade.h).
  bool put_back = false;
  if (Status st = PutBackConfigOfInterruptedUpgrade(env, backend.get(), scratch, &put_back); !st.ok()) {
    s.remote_lock.reset();
    return st;
  }
  if (put_back && opts.lock.log)
    opts.lock.log("put back the format-3 config of " + spec + " that an interrupted `snap upgrade` left partial");
  // An encrypted remote is unlocked with the password. A new one is made as
  // OpenRepository makes a local one: encrypted when a password was given
  // without a prompt (a user who set one is never handed a repository in
  // clear; keys first, config last), else unencrypted by Repository::Open.
  std::shared_ptr<const Sealer> sealer = PlainSealer();
  Result<RepoConfig> cfg = ReadRepositoryConfig(backend.get());
  PasswordSource* source = opts.password ? opts.password : ProcessPasswordSource();
  if (cfg.status().IsNotFound() && opts.create) {
    s.created = true;
    if (source != nullptr && source->Given()) {
      InitOptions io;
      io.encrypt = true;
      io.password = source;
      Result<OpenedRepository> made = InitRepository(env, spec, io);  // under our lease lock
      if (!made.ok()) {
        s.remote_lock.reset();
        return made.status();
      }
      sealer = made->keys.sealer;  // the master key it made: no second Argon2id run
      s.encryption = made->keys.scheme;
    }
  }
  if (cfg.ok()) {
    s.encryption = cfg->encryption;
    Result<RepositoryKeys> keys = UnlockRepository(backend.get(), *cfg, source);
    if (!keys.ok()) {
      s.remote_lock.reset();
      return keys.status();
    }
    sealer = keys->sealer;
  }
  auto guarded = std::make_unique<LockGuardedBackend>(std::move(backend), s.remote_lock.get());
  Result<std::unique_ptr<Repository>> repo = Repository::Open(env, std::move(guarded), scratch, opts.create, sealer);
  if (!repo.ok()) {
    // The lock goes before the backend it was written through.
    s.remote_lock.reset();
    return repo.status();
  }
  s.repo = std::move(repo).value();
  return s;
}

}  // namespace

Result<std::unique_ptr<RemoteLock>> AcquireLeaseLock(Backend* backend, Env* env, const WriterOptions& opts) {
  RemoteLockOptions lo;
  lo.lease_seconds = opts.lease_seconds;
  lo.wait_seconds = opts.lock.wait_seconds;
  lo.command = opts.lock.command;
  lo.log = opts.lock.log;
  return RemoteLock::Acquire(backend, env, lo);
}

Result<WriterSession> OpenWriter(Env* env, const std::string& dir, const WriterOptions& opts) {
  if (IsRcloneSpec(dir)) return OpenRemoteWriter(env, dir, opts);
  // A folder that holds no repository is checked before the lock file is made
  // in it, so a refused folder is left exactly as it was (Open checks again
  // under the lock).
  if (opts.create && !env->FileExists(JoinPath(dir, "config")))
    MAESTRO_RETURN_IF_ERROR(CheckFolderForNewRepository(env, dir));
  if (!env->DirExists(dir)) {
    if (!opts.create)
      return Status::NotFound("no snapshot repository at " + dir,
                              "take a first snapshot with `maestro-db snap create`, or pass --repo DIR");
    MAESTRO_RETURN_IF_ERROR(env->CreateDirsDurably(dir, 0700));
  }
  // An existing encrypted repository is unlocked BEFORE the lock: reading its
  // config and key files needs none (readers never lock), so a wrong password
  // writes nothing at all, not even the lock's holder file, and a password
  // prompt never holds other writers up. The master key never changes, so the
  // keys stay valid whatever a writer does to the key files meanwhile.
  std::optional<RepositoryKeys> unlocked;
  {
    std::unique_ptr<Backend> backend = NewLocalBackend(env, dir);
    Result<RepoConfig> cfg = ReadRepositoryConfig(backend.get());
    if (cfg.ok()) {
      MAESTRO_ASSIGN_OR_RETURN(unlocked, UnlockRepository(backend.get(), *cfg, opts.password));
    } else if (!cfg.status().IsNotFound()) {
      return cfg.status();
    }
  }
  WriterSession s;
  MAESTRO_ASSIGN_OR_RETURN(s.lock, RepoLock::Acquire(env, dir, opts.lock));
  OpenRepositoryOptions oo;
  oo.create_if_missing = opts.create;
  oo.password = opts.password;
  if (unlocked) oo.unlocked = &*unlocked;
  MAESTRO_ASSIGN_OR_RETURN(OpenedRepository opened, OpenRepository(env, dir, oo));
  s.repo = std::move(opened.repo);
  s.created = opened.created;
  s.encryption = opened.keys.scheme;
  return s;
}

}  // namespace maestro
