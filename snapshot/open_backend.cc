// snapshot/open_backend.cc — spec -> Backend (see the header).
#include "snapshot/open_backend.h"

#include <cstdlib>

#include "util/hash.h"

namespace maestro {

Result<std::unique_ptr<Backend>> OpenBackend(Env* env, const std::string& spec, const RcloneBackendOptions& rclone) {
  if (IsRcloneSpec(spec)) {
    MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<RcloneBackend> b, NewRcloneBackend(spec, rclone));
    return std::unique_ptr<Backend>(std::move(b));
  }
  if (spec.empty()) return Status::InvalidArgument("no repository given");
  return NewLocalBackend(env, spec);
}

Result<std::string> RemoteScratchDir(Env* env, const std::string& spec) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const char* tmp = std::getenv("TMPDIR");
  std::string base = xdg != nullptr && *xdg == '/' ? xdg
                     : home != nullptr && *home == '/' ? std::string(home) + "/.cache"
                     : std::string(tmp != nullptr && *tmp == '/' ? tmp : "/tmp");
  std::string dir = JoinPath(JoinPath(JoinPath(base, "maestro-db"), "remote"), Xxh128(spec).Hex());
  MAESTRO_RETURN_IF_ERROR(env->CreateDirs(dir, 0700));
  return dir;
}

Result<std::unique_ptr<Repository>> OpenRemoteRepositoryForReading(Env* env, const std::string& spec,
                                                                   const RcloneBackendOptions& rclone) {
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, OpenBackend(env, spec, rclone));
  MAESTRO_ASSIGN_OR_RETURN(std::string scratch, RemoteScratchDir(env, spec));
  return Repository::Open(env, std::move(backend), scratch, /*create_if_missing=*/false);
}

}  // namespace maestro
