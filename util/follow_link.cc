#include "util/follow_link.h"

#include <climits>
#include <cstdlib>

namespace maestro {

std::string FollowFinalLink(Env* env, const std::string& p) {
  std::string path = AbsolutePath(p);
  for (int hops = 0; hops < 40; ++hops) {
    FileInfo fi;
    std::string target;
    if (!env->Stat(path, &fi).ok() || !fi.is_symlink || !env->ReadLink(path, &target).ok() || target.empty())
      return path;
    char buf[PATH_MAX];
    if (::realpath(path.c_str(), buf) != nullptr) return std::string(buf);
    // Dangling: where it points, as if that were given (it may be made there).
    path = NormalizePath(target[0] == '/' ? target : JoinPath(DirName(path), target));
  }
  return path;  // a loop of links: the caller's own checks refuse it
}

}  // namespace maestro
