// util/proc_scan.h — who has a file open? (a scan of /proc/*/fd, like fuser).
//
// Used to refuse a reset, cleanup or in-place restore while the app holds a
// store file open. Processes we may not inspect are skipped silently; this
// process is never reported.
#pragma once

#include <string>
#include <vector>

namespace maestro {

struct OpenFileHolder {
  int pid = 0;
  std::string program;  // /proc/<pid>/comm
  std::string path;     // the file it holds
};

// Returns holders of any file equal to, or below (for directories), one of paths:
// one entry per (pid, file), however many descriptors the process has on it.
std::vector<OpenFileHolder> FindOpenFileHolders(const std::vector<std::string>& paths);

}  // namespace maestro
