// snapshot/file_meta.h — a file's metadata besides its bytes (mode, owner,
// mtime): the rules by which restore and reset give it back, and the report of
// what they could not.
//
// Rules (docs/repository-format.md, "Restore"):
//   modes   only the permission bits (0777) are ever set: setuid, setgid and
//           sticky (07000) are recorded in a snapshot but never restored, so a
//           snapshot cannot be used to plant a setuid file; each entry that
//           loses such a bit is counted in the report.
//   owners  set with lchown when the manifest knows them (format 3; kUnknownOwner
//           in format 1 and 2 manifests: left as created). Running as root this
//           always applies; otherwise the kernel allows only what an ordinary
//           user may do (keep its own uid, pick one of its groups). A refusal is
//           never an error (the data is restored): it is counted in the report.
//   new     a store (or folder) that did not exist before gets the permission
//           bits of the folder it is created in, never wider than 0755 for a
//           folder or 0644 for a file (nor wider than the umask left them), and
//           that folder's owner when running as root.
//
// Thread safety: the functions are; one MetadataReport per restore or transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

// The uid/gid of an entry whose owner was not recorded (format 1 and 2 manifests).
constexpr uint32_t kUnknownOwner = 0xFFFFFFFFu;
// The mode bits restore and reset set; the rest (07000) is never given back.
constexpr uint32_t kRestorableModeBits = 0777;

// What a restore or reset could not give back. Never an error by itself.
struct MetadataReport {
  uint64_t owners_not_restored = 0;  // entries that keep another owner than recorded
  std::string owners_reason;         // why (the first refusal): "not running as root" or the error
  uint64_t special_bits_dropped = 0; // entries whose setuid/setgid/sticky bit was not restored

  void Merge(const MetadataReport& other);
  // One line per kind, e.g. "owners not restored: not running as root (12 files)";
  // empty when everything was given back.
  std::vector<std::string> Notes() const;
};

// The bits of a recorded mode that restore sets, counting a dropped special bit.
uint32_t RestorableMode(uint32_t recorded, MetadataReport* report);

// The permission bits of a new entry created in a folder of mode parent_mode.
uint32_t NewEntryMode(uint32_t parent_mode, bool is_dir);

// Whether a refused chown (errno) is a limit of the caller's rights, reported in a
// note, rather than an I/O failure: EPERM, and EINVAL (an id the system or the
// user namespace cannot map).
bool IsOwnerRefusal(int err_no);

// Gives path (itself: a symlink is not followed) the owner uid:gid. Nothing to do
// when both are kUnknownOwner. A refusal (IsOwnerRefusal) is counted in *report
// and returns OK; any other failure is returned.
Status RestoreOwner(Env* env, const std::string& path, uint32_t uid, uint32_t gid, MetadataReport* report);
// The same through an open file (WritableFile::SetOwner; its SetsMetadata() must be true).
Status RestoreOwnerOf(WritableFile* file, uint32_t uid, uint32_t gid, MetadataReport* report);

// Gives a store entry created where nothing was (path, a file or a folder) the
// "new" rule above, from the folder that holds it.
Status ApplyNewEntryPolicy(Env* env, const std::string& path, MetadataReport* report);

// Gives path the permission bits (RestorableMode) and owner of `was`, the stat
// of the entry it replaces (reset's fresh stores keep the old store's).
Status ApplyMetadataOf(Env* env, const std::string& path, const FileInfo& was, MetadataReport* report);

}  // namespace maestro
