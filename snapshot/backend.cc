#include "snapshot/backend.h"

namespace maestro {

Status Backend::PutFile(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path) {
  MAESTRO_RETURN_IF_ERROR(PutCopyOf(kind, name, env, local_path));
  return env->RemoveFile(local_path);
}

Status Backend::PutCopyOf(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path) {
  constexpr size_t kPiece = 1 << 20;
  std::unique_ptr<SequentialFile> in;
  MAESTRO_RETURN_IF_ERROR(env->NewSequentialFile(local_path, &in));
  std::unique_ptr<ObjectWriter> out;
  MAESTRO_RETURN_IF_ERROR(NewWriter(kind, name, &out));
  std::string buf(kPiece, '\0');
  while (true) {
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(in->Read(buf.size(), buf.data(), &got));
    if (got == 0) break;
    MAESTRO_RETURN_IF_ERROR(out->Append(std::string_view(buf.data(), got)));
  }
  return out->Commit();
}

Status Backend::RemoveMany(ObjectKind kind, const std::vector<std::string>& names) {
  for (const auto& name : names) MAESTRO_RETURN_IF_ERROR(Remove(kind, name));
  return Status::OK();
}

}  // namespace maestro
