#include "snapshot/file_meta.h"

#include <unistd.h>

#include <cerrno>

namespace maestro {

void MetadataReport::Merge(const MetadataReport& other) {
  if (owners_reason.empty()) owners_reason = other.owners_reason;
  owners_not_restored += other.owners_not_restored;
  special_bits_dropped += other.special_bits_dropped;
}

std::vector<std::string> MetadataReport::Notes() const {
  std::vector<std::string> out;
  auto files = [](uint64_t n) { return std::to_string(n) + (n == 1 ? " file" : " files"); };
  if (owners_not_restored > 0)
    out.push_back("owners not restored: " + owners_reason + " (" + files(owners_not_restored) + ")");
  if (special_bits_dropped > 0)
    out.push_back("setuid/setgid/sticky bits not restored (" + files(special_bits_dropped) + ")");
  return out;
}

uint32_t RestorableMode(uint32_t recorded, MetadataReport* report) {
  if ((recorded & 07000) != 0 && report) report->special_bits_dropped++;
  return recorded & kRestorableModeBits;
}

uint32_t NewEntryMode(uint32_t parent_mode, bool is_dir) { return parent_mode & (is_dir ? 0755u : 0644u); }

bool IsOwnerRefusal(int err_no) { return err_no == EPERM || err_no == EINVAL; }

namespace {

// A chown's outcome by the rules above: a refusal is counted, not returned.
Status CountOwnerRefusal(Status s, MetadataReport* report) {
  if (s.ok() || !IsOwnerRefusal(s.err_no())) return s;
  if (report) {
    if (report->owners_reason.empty())
      report->owners_reason = ::geteuid() != 0 ? std::string("not running as root") : s.message();
    report->owners_not_restored++;
  }
  return Status::OK();
}

}  // namespace

Status RestoreOwner(Env* env, const std::string& path, uint32_t uid, uint32_t gid, MetadataReport* report) {
  if (uid == kUnknownOwner && gid == kUnknownOwner) return Status::OK();
  return CountOwnerRefusal(env->Chown(path, uid, gid), report);
}

Status RestoreOwnerOf(WritableFile* file, uint32_t uid, uint32_t gid, MetadataReport* report) {
  if (uid == kUnknownOwner && gid == kUnknownOwner) return Status::OK();
  return CountOwnerRefusal(file->SetOwner(uid, gid), report);
}

Status ApplyNewEntryPolicy(Env* env, const std::string& path, MetadataReport* report) {
  FileInfo now, parent;
  MAESTRO_RETURN_IF_ERROR(env->Stat(path, &now));
  MAESTRO_RETURN_IF_ERROR(env->Stat(DirName(path), &parent));
  if (!now.exists || now.is_symlink || !parent.exists) return Status::OK();
  // Never wider than the umask made it either: only bits are taken away.
  MAESTRO_RETURN_IF_ERROR(env->Chmod(path, now.mode & NewEntryMode(parent.mode, now.is_dir)));
  if (::geteuid() != 0) return Status::OK();  // an ordinary user's new store is its own
  return RestoreOwner(env, path, parent.uid, parent.gid, report);
}

Status ApplyMetadataOf(Env* env, const std::string& path, const FileInfo& was, MetadataReport* report) {
  MAESTRO_RETURN_IF_ERROR(RestoreOwner(env, path, was.uid, was.gid, report));
  return env->Chmod(path, RestorableMode(was.mode, report));
}

}  // namespace maestro
