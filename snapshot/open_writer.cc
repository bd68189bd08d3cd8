#include "snapshot/open_writer.h"

#include <optional>

#include "snapshot/format.h"

namespace maestro {

Result<WriterSession> OpenWriter(Env* env, const std::string& dir, const WriterOptions& opts) {
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
