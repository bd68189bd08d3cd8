#include "util/proc_scan.h"

#include <dirent.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>

namespace maestro {

namespace {
std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf)) return buf;
  return p;
}
bool Covers(const std::string& root, const std::string& file) {
  if (file == root) return true;
  return file.size() > root.size() && file.compare(0, root.size(), root) == 0 && file[root.size()] == '/';
}
}  // namespace

std::vector<OpenFileHolder> FindOpenFileHolders(const std::vector<std::string>& paths) {
  std::vector<std::string> roots;
  for (const auto& p : paths) roots.push_back(RealPath(p));
  std::vector<OpenFileHolder> out;
  int self = ::getpid();
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (struct dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end != '\0' || pid <= 0 || pid == self) continue;
    std::string fd_dir = std::string("/proc/") + e->d_name + "/fd";
    DIR* fds = ::opendir(fd_dir.c_str());
    if (!fds) continue;
    std::set<std::string> held;  // a process holding one file through several fds is one holder of it
    while (struct dirent* f = ::readdir(fds)) {
      if (f->d_name[0] == '.') continue;
      char target[PATH_MAX];
      ssize_t n = ::readlink((fd_dir + "/" + f->d_name).c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      std::string t = target;
      for (const auto& r : roots) {
        if (Covers(r, t)) {
          if (!held.insert(t).second) break;
          OpenFileHolder h;
          h.pid = static_cast<int>(pid);
          h.path = t;
          std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
          std::getline(comm, h.program);
          out.push_back(h);
          break;
        }
      }
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  return out;
}

}  // namespace maestro
