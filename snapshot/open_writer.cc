#include "snapshot/open_writer.h"

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
    MAESTRO_RETURN_IF_ERROR(env->CreateDirs(dir, 0700));
  }
  WriterSession s;
  MAESTRO_ASSIGN_OR_RETURN(s.lock, RepoLock::Acquire(env, dir, opts.lock));
  MAESTRO_ASSIGN_OR_RETURN(s.repo, Repository::Open(env, dir, opts.create));
  return s;
}

}  // namespace maestro
