// engine/stores/container.h — is maestro-db running inside a container, and would a
// path there survive `docker compose down`? (issue 16 point 2)
//
// Words:
//   writable layer  the container's own root filesystem (a union mount: overlay,
//                   aufs, fuse-overlayfs): whatever is written there and not under
//                   another mount is gone when the container is removed
//   persistent mount a mount other than "/" whose filesystem is not volatile
//                   (tmpfs, proc, sysfs, devpts, cgroup, overlay, ...): a bind mount
//                   or a named volume, which outlive the container
//
// ContainerProbe reads two files, both injectable so tests can describe any
// container: `/.dockerenv` (Docker creates it in every container) and
// `/proc/self/mountinfo` (the kernel's list of this process's mounts). Running in
// a container means the first exists or "/" is a union mount. A path is in the
// writable layer when we run in a container, the deepest mount over the path is
// "/", and "/" is a union mount. (A container whose "/" is a plain disk, as on
// some VMs, has no writable layer in this sense: nothing is flagged.)
// Reads only; no state beyond the parsed table; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "util/env.h"

namespace maestro {

struct MountEntry {
  std::string mount_point;  // unescaped (\040 -> ' ')
  std::string root;         // the part of the source filesystem mounted there
  std::string fstype;
  bool persistent = false;  // see above
};

class ContainerProbe {
 public:
  // Reads dockerenv_path and mountinfo_path (missing files: no container, no mounts).
  explicit ContainerProbe(Env* env, const std::string& dockerenv_path = "/.dockerenv",
                 const std::string& mountinfo_path = "/proc/self/mountinfo");
  // The probe of this process, honouring the test hooks MAESTRO_DB_DOCKERENV and
  // MAESTRO_DB_MOUNTINFO (paths that replace the two files).
  static ContainerProbe FromProcess(Env* env);

  bool in_container() const { return in_container_; }
  const std::vector<MountEntry>& mounts() const { return mounts_; }
  // The deepest mount over path (resolved through symlinks as far as it exists);
  // nullptr when the table is empty.
  const MountEntry* MountOf(const std::string& path) const;
  bool InWritableLayer(const std::string& path) const;
  // The persistent mount point holding path, or "" when there is none.
  std::string PersistentMountOf(const std::string& path) const;

 private:
  bool in_container_ = false;
  bool root_is_union_ = false;
  std::vector<MountEntry> mounts_;
};

// Parses mountinfo text (proc(5)); malformed lines are skipped.
std::vector<MountEntry> ParseMountInfo(const std::string& text);

}  // namespace maestro
