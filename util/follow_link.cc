#include "util/follow_link.h"

#include <climits>
#include <cstdlib>

namespace maestro {

std::string ResolvePath(const std::string& path) {
  std::string head = NormalizePath(path);
  std::string rest;
  for (int i = 0; i < 4096; ++i) {
    char buf[PATH_MAX];
    if (::realpath(head.c_str(), buf)) return NormalizePath(rest.empty() ? std::string(buf) : JoinPath(buf, rest));
    if (head == "/" || head == "." || head.empty()) break;
    rest = rest.empty() ? BaseName(head) : JoinPath(BaseName(head), rest);
    head = DirName(head);
  }
  return NormalizePath(path);
}

bool FollowLinkAt(Env* env, std::string* path, int max_hops) {
  for (int hops = 0; hops <= max_hops; ++hops) {
    FileInfo fi;
    std::string target;
    if (!env->Stat(*path, &fi).ok() || !fi.is_symlink || !env->ReadLink(*path, &target).ok() || target.empty()) {
      if (hops > 0) *path = ResolvePath(*path);
      return true;
    }
    if (hops == max_hops) return false;
    char buf[PATH_MAX];
    if (::realpath(path->c_str(), buf) != nullptr) {
      *path = buf;
      return true;
    }
    // Dangling: where it points, from the link's real folder (it may be made there).
    *path = JoinPath(ResolvePath(DirName(*path)), target);
  }
  return false;
}

std::string FollowFinalLink(Env* env, const std::string& p) {
  std::string path = AbsolutePath(p);
  FollowLinkAt(env, &path);
  return path;
}

}  // namespace maestro
