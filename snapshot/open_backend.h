// snapshot/open_backend.h — the Backend a --repo spec names: `rclone:REMOTE:PATH`
// (snapshot/rclone_backend.h, docs/remote.md) or a folder on this machine
// (NewLocalBackend). The one place the commands turn a spec into storage.
//
// Failure: InvalidArgument for a malformed rclone spec; IoError when rclone
// cannot start or serve the remote. A local folder is not checked here (the
// repository's Open does that). Thread-safe (no shared state).
#pragma once

#include <memory>
#include <string>

#include "snapshot/backend.h"
#include "snapshot/rclone_backend.h"
#include "snapshot/repository.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

Result<std::unique_ptr<Backend>> OpenBackend(Env* env, const std::string& spec,
                                             const RcloneBackendOptions& rclone = {});

// The local scratch folder of a remote repository (tmp/ for packs being
// written, damaged/ for repair): $XDG_CACHE_HOME/maestro-db/remote/<XXH3-128
// of spec>, else ~/.cache/…, else $TMPDIR/…; created 0700.
Result<std::string> RemoteScratchDir(Env* env, const std::string& spec);

// A reader's view of the remote repository spec names (rclone:REMOTE:PATH).
// NotFound when the remote holds no repository config.
Result<std::unique_ptr<Repository>> OpenRemoteRepositoryForReading(Env* env, const std::string& spec,
                                                                   const RcloneBackendOptions& rclone = {});

}  // namespace maestro
