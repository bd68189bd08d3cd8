// snapshot/open_backend.cc — spec -> Backend (see the header).
#include "snapshot/open_backend.h"

namespace maestro {

Result<std::unique_ptr<Backend>> OpenBackend(Env* env, const std::string& spec, const RcloneBackendOptions& rclone) {
  if (IsRcloneSpec(spec)) {
    MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<RcloneBackend> b, NewRcloneBackend(spec, rclone));
    return std::unique_ptr<Backend>(std::move(b));
  }
  if (spec.empty()) return Status::InvalidArgument("no repository given");
  return NewLocalBackend(env, spec);
}

}  // namespace maestro
