#include "engine/stores/container.h"

#include <cstdlib>
#include <set>
#include <sstream>

#include "engine/stores/store_paths.h"
#include "util/env.h"

namespace maestro {

namespace {

const std::set<std::string>& VolatileTypes() {
  static const std::set<std::string> t = {"tmpfs",   "ramfs",    "proc",      "sysfs",   "devtmpfs",
                                          "devpts",  "mqueue",   "cgroup",    "cgroup2", "overlay",
                                          "aufs",    "fuse.fuse-overlayfs",   "securityfs", "debugfs",
                                          "tracefs", "pstore",   "bpf",       "hugetlbfs", "nsfs",
                                          "configfs", "fusectl", "binfmt_misc", "autofs"};
  return t;
}

bool IsUnion(const std::string& fstype) {
  return fstype == "overlay" || fstype == "aufs" || fstype == "fuse.fuse-overlayfs";
}

// proc(5): spaces, tabs, newlines and backslashes in paths are written as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      std::string oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && oct.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(oct, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::vector<MountEntry> ParseMountInfo(const std::string& text) {
  std::vector<MountEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    std::string w;
    while (f >> w) fields.push_back(w);
    // id parent dev root mount_point options [optional...] - fstype source superopts
    size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (fields.size() < 6 || dash + 1 >= fields.size()) continue;
    MountEntry e;
    e.root = Unescape(fields[3]);
    e.mount_point = Unescape(fields[4]);
    e.fstype = fields[dash + 1];
    e.persistent = e.mount_point != "/" && !VolatileTypes().count(e.fstype);
    out.push_back(std::move(e));
  }
  return out;
}

ContainerProbe::ContainerProbe(Env* env, const std::string& dockerenv_path, const std::string& mountinfo_path) {
  std::string text;
  if (env->ReadFileToString(mountinfo_path, &text).ok()) mounts_ = ParseMountInfo(text);
  for (const auto& m : mounts_)
    if (m.mount_point == "/") root_is_union_ = IsUnion(m.fstype);  // the last mount on "/" is the one seen
  in_container_ = env->FileExists(dockerenv_path) || root_is_union_;
}

ContainerProbe ContainerProbe::FromProcess(Env* env) {
  const char* d = std::getenv("MAESTRO_DB_DOCKERENV");
  const char* m = std::getenv("MAESTRO_DB_MOUNTINFO");
  return ContainerProbe(env, d && *d ? d : "/.dockerenv", m && *m ? m : "/proc/self/mountinfo");
}

const MountEntry* ContainerProbe::MountOf(const std::string& path) const {
  std::string p = ResolvePath(path);
  const MountEntry* best = nullptr;
  for (const auto& m : mounts_)
    if (IsAtOrUnder(p, m.mount_point) && (!best || m.mount_point.size() >= best->mount_point.size())) best = &m;
  return best;
}

bool ContainerProbe::InWritableLayer(const std::string& path) const {
  if (!in_container_ || !root_is_union_) return false;
  const MountEntry* m = MountOf(path);
  return m && m->mount_point == "/";
}

std::string ContainerProbe::PersistentMountOf(const std::string& path) const {
  const MountEntry* m = MountOf(path);
  return m && m->persistent ? m->mount_point : "";
}

}  // namespace maestro
