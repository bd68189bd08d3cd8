// snapshot/object_check.cc — object names and their promises (see the header).
#include "snapshot/object_check.h"

namespace maestro {

namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  std::string_view sv(suffix);
  return s.size() >= sv.size() && s.compare(s.size() - sv.size(), sv.size(), sv) == 0;
}

}  // namespace

Status CheckObjectName(ObjectKind kind, const std::string& name) {
  if (kind == ObjectKind::kConfig) return Status::OK();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || name.find(".tmp-") != std::string::npos) {
    return Status::InvalidArgument("not a repository object name: \"" + name + "\"");
  }
  return Status::OK();
}

bool NamePromisedHash(ObjectKind kind, const std::string& name, Hash128* h) {
  const char* ext = kind == ObjectKind::kPack ? ".pack" : kind == ObjectKind::kIndex ? ".idx"
                    : kind == ObjectKind::kKey ? "" : nullptr;
  if (ext == nullptr || !EndsWith(name, ext) || name.size() != 32 + std::string_view(ext).size()) return false;
  return Hash128::FromHex(name.substr(0, 32), h);
}

Status CheckObjectBytes(ObjectKind kind, const std::string& name, std::string_view data, const std::string& where) {
  Hash128 promised;
  if (!NamePromisedHash(kind, name, &promised)) return Status::OK();
  Hash128 got = Xxh128(data);
  if (got == promised) return Status::OK();
  return Status::Corruption(where + ": " + ObjectPath(kind, name) + ": its " + std::to_string(data.size()) +
                            " bytes hash to " + got.Hex() +
                            ", not to its name: a partial upload (an upload killed mid-way on a remote "
                            "without atomic rename) or damage; the next copy or create uploads it again");
}

std::string ObjectPath(ObjectKind kind, const std::string& name) {
  if (kind == ObjectKind::kConfig) return "config";
  return std::string(ObjectKindFolder(kind)) + "/" + name;
}

}  // namespace maestro
