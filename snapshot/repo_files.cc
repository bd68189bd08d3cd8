#include "snapshot/repo_files.h"

#include <algorithm>
#include <cctype>

namespace maestro {

bool EndsWith(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

bool IsTempName(const std::string& name) { return name.find(".tmp-") != std::string::npos; }

bool IsSnapshotIdName(const std::string& name) {
  if (name.size() < 15 || name[8] != '_') return false;
  for (size_t i = 0; i < 15; ++i)
    if (i != 8 && !isdigit(static_cast<unsigned char>(name[i]))) return false;
  if (name.size() == 15) return true;
  if (name.size() < 17 || name[15] != '_') return false;
  for (size_t i = 16; i < name.size(); ++i)
    if (!isdigit(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

Status CheckSnapshotIdSyntax(const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.')
    return Status::InvalidArgument("bad snapshot id '" + id + "'");
  return Status::OK();
}

std::string PackName(const Hash128& pack) { return pack.Hex() + ".pack"; }
std::string IndexName(const Hash128& index) { return index.Hex() + ".idx"; }

bool ParseObjectName(const std::string& name, const char* ext, Hash128* out) {
  const std::string suffix = std::string(".") + ext;
  return !IsTempName(name) && EndsWith(name, suffix) && Hash128::FromHex(name.substr(0, name.size() - suffix.size()), out);
}

Status RepoFiles::EnsureScratch() const {
  MAESTRO_RETURN_IF_ERROR(env_->CreateDirsDurably(dir_, 0700));
  return env_->CreateDir(TmpDir(), 0700);
}

std::string RepoFiles::ObjectPath(ObjectKind kind, const std::string& name) const {
  if (kind == ObjectKind::kConfig) return JoinPath(backend_->Location(), "config");
  return JoinPath(JoinPath(backend_->Location(), ObjectKindFolder(kind)), name);
}

Status RepoFiles::ListNames(ObjectKind kind, std::vector<std::string>* names) const {
  std::vector<ObjectInfo> objects;
  MAESTRO_RETURN_IF_ERROR(backend_->List(kind, &objects));
  names->clear();
  names->reserve(objects.size());
  for (auto& o : objects) names->push_back(std::move(o.name));
  std::sort(names->begin(), names->end());
  return Status::OK();
}

Result<std::vector<std::string>> RepoFiles::ListSnapshotIds(std::vector<std::string>* foreign) const {
  std::vector<std::string> names, ids;
  MAESTRO_RETURN_IF_ERROR(ListNames(ObjectKind::kManifest, &names));
  for (auto& n : names) {
    if (IsSnapshotIdName(n)) {
      ids.push_back(std::move(n));
    } else if (foreign) {
      foreign->push_back(ObjectPath(ObjectKind::kManifest, n));
    }
  }
  return ids;
}

Status RepoFiles::ListForeignData(std::vector<std::string>* foreign) const {
  for (ObjectKind kind : {ObjectKind::kIndex, ObjectKind::kPack}) {
    const char* ext = kind == ObjectKind::kIndex ? "idx" : "pack";
    std::vector<std::string> names;
    MAESTRO_RETURN_IF_ERROR(ListNames(kind, &names));
    for (const auto& n : names) {
      Hash128 h;
      if (!ParseObjectName(n, ext, &h)) foreign->push_back(ObjectPath(kind, n));
    }
  }
  std::sort(foreign->begin(), foreign->end());
  return Status::OK();
}

Result<Hash128> RepoFiles::Generation() const {
  Hasher128 h;
  for (ObjectKind kind : {ObjectKind::kManifest, ObjectKind::kIndex, ObjectKind::kPack}) {
    std::vector<std::string> names;
    MAESTRO_RETURN_IF_ERROR(ListNames(kind, &names));
    h.Update(ObjectKindFolder(kind));
    for (const auto& n : names) h.Update(std::string_view(n.c_str(), n.size() + 1));
  }
  return h.Digest();
}

Status RepoFiles::PublishPack(const std::string& tmp_path, const Hash128& name) const {
  return backend_->PutFile(ObjectKind::kPack, PackName(name), env_, tmp_path);
}

}  // namespace maestro
