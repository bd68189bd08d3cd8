#include "snapshot/upgrade.h"

#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "util/crash_point.h"
#include "util/env.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(upgrade_before_config, "upgrade.before_config");
MAESTRO_DECLARE_CRASH_POINT(upgrade_after_config, "upgrade.after_config");

namespace {

// A remote repository (its local folder is a scratch, not the repository)
// may not replace an object in one step: SFTP and WebDAV write the config in
// place, so a cut upload leaves a partial one or none. The format-3 config is
// kept in the scratch first (returned: its path), so it can always be put back.
// A local repository's Put is atomic (temp file, fsync, rename): "" and nothing kept.
Result<std::string> SaveConfigCopy(const RepoFiles& files, const std::string& text) {
  if (files.dir() == files.backend()->Location()) return std::string();
  const std::string path = KeptFormat3ConfigPath(files.dir());
  MAESTRO_RETURN_IF_ERROR(files.env()->CreateDirs(DirName(path), 0700));
  MAESTRO_RETURN_IF_ERROR(WriteFileDurably(files.env(), path, text, 0600)
                              .Annotate("keeping a copy of the format-3 config before the upgrade; nothing was changed"));
  return path;
}

// The format-4 config's upload failed: the format-3 one goes back.
Status PutConfigBack(const RepoFiles& files, const std::string& old_text, const std::string& saved, const Status& why) {
  Status back = files.backend()->Put(ObjectKind::kConfig, "config", old_text);
  if (back.ok())
    return why.Annotate("writing the format-4 config failed and the format-3 one was put back: the repository is "
                        "format 3, as before; run `maestro-db snap upgrade` again");
  return why.Annotate("writing the format-4 config failed, and putting the format-3 one back failed too (" +
                      back.ToString() + "): " +
                      (saved.empty() ? std::string("the repository's config may be missing")
                                     : "every other object is unchanged, and the format-3 config is kept in " + saved +
                                           ": run `maestro-db snap upgrade` again on this machine (it puts that "
                                           "one back first), or copy it to " +
                                           files.ObjectPath(ObjectKind::kConfig, "config") + " (`rclone copyto`)"));
}

}  // namespace

std::string KeptFormat3ConfigPath(const std::string& scratch) { return JoinPath(scratch, "upgrade/config.format3"); }

Status PutBackConfigOfInterruptedUpgrade(Env* env, Backend* backend, const std::string& scratch, bool* restored) {
  *restored = false;
  const std::string kept = KeptFormat3ConfigPath(scratch);
  if (!env->FileExists(kept)) return Status::OK();
  std::string now;
  Status got = backend->Get(ObjectKind::kConfig, "config", &now);
  if (got.ok() && DecodeConfig(now, "config").ok()) {
    // Whole: killed before its upload or after it, the kept copy is of no more use.
    env->RemoveFile(kept).IgnoreError("a stale copy of a config harms nothing");
    return Status::OK();
  }
  if (!got.ok() && !got.IsNotFound() && !got.IsCorruption()) return got;
  std::string text;
  MAESTRO_RETURN_IF_ERROR(env->ReadFileToString(kept, &text));
  Result<RepoConfig> old = DecodeConfig(text, kept);
  if (!old.ok() || old->format_version >= kRepoFormatV4) return Status::OK();  // not ours to put back
  // A remote emptied on purpose is not brought back: only one that still holds the upgrade's objects.
  std::vector<ObjectInfo> manifests, index;
  MAESTRO_RETURN_IF_ERROR(backend->List(ObjectKind::kManifest, &manifests));
  MAESTRO_RETURN_IF_ERROR(backend->List(ObjectKind::kIndex, &index));
  if (manifests.empty() && index.empty()) return Status::OK();
  MAESTRO_RETURN_IF_ERROR(backend->Put(ObjectKind::kConfig, "config", text)
                              .Annotate("putting back the format-3 config an interrupted `snap upgrade` kept in " +
                                        kept));
  *restored = true;
  return Status::OK();
}

Status UpgradeRepository(const RepoFiles& files, RepoConfig* cfg) {
  if (cfg->format_version >= kRepoFormatV4) return Status::OK();
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, ScanSnapshots(files));
  if (!scan.damaged.empty())
    return Status::Corruption("not upgrading: the manifest " + scan.damaged.front().path + " is damaged (" +
                                  scan.damaged.front().reason + "); nothing was changed",
                              "run `maestro-db snap repair`, then `maestro-db snap upgrade` again");
  MAESTRO_RETURN_IF_ERROR(ForEachIndexFile(files, /*strict=*/true, nullptr, nullptr, [](std::vector<IndexEntry>&) {})
                              .Annotate("not upgrading (nothing was changed); run `maestro-db snap repair` first"));
  RepoConfig next = *cfg;
  next.format_version = kRepoFormatV4;
  next.encryption = "none";
  std::string old_text, saved;
  MAESTRO_RETURN_IF_ERROR(files.backend()->Get(ObjectKind::kConfig, "config", &old_text));
  MAESTRO_ASSIGN_OR_RETURN(saved, SaveConfigCopy(files, old_text));
  MAESTRO_CRASH_POINT("upgrade.before_config");
  Status put = files.backend()->Put(ObjectKind::kConfig, "config", EncodeConfig(next));
  if (!put.ok()) return PutConfigBack(files, old_text, saved, put);
  MAESTRO_CRASH_POINT("upgrade.after_config");
  // A backend may keep an object it already has (backend.h): the config is
  // the one object replaced, so read it back.
  std::string text;
  MAESTRO_RETURN_IF_ERROR(files.backend()->Get(ObjectKind::kConfig, "config", &text));
  MAESTRO_ASSIGN_OR_RETURN(RepoConfig now, DecodeConfig(text, "repository config"));
  if (now.format_version != kRepoFormatV4)
    return Status::IoError("the storage at " + files.backend()->Location() + " kept the format-3 config",
                           "upgrade a local copy of the repository instead; the repository is still format 3");
  if (!saved.empty()) files.env()->RemoveFile(saved).IgnoreError("a kept copy of a config that was replaced harms nothing");
  *cfg = next;
  return Status::OK();
}

}  // namespace maestro
