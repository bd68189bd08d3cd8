#include "snapshot/upgrade.h"

#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "util/crash_point.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(upgrade_before_config, "upgrade.before_config");
MAESTRO_DECLARE_CRASH_POINT(upgrade_after_config, "upgrade.after_config");

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
  MAESTRO_CRASH_POINT("upgrade.before_config");
  MAESTRO_RETURN_IF_ERROR(files.backend()->Put(ObjectKind::kConfig, "config", EncodeConfig(next))
                              .Annotate("writing the format-4 config (the repository is still format 3 unless it was written)"));
  MAESTRO_CRASH_POINT("upgrade.after_config");
  // A backend may keep an object it already has (backend.h): the config is
  // the one object replaced, so read it back.
  std::string text;
  MAESTRO_RETURN_IF_ERROR(files.backend()->Get(ObjectKind::kConfig, "config", &text));
  MAESTRO_ASSIGN_OR_RETURN(RepoConfig now, DecodeConfig(text, "repository config"));
  if (now.format_version != kRepoFormatV4)
    return Status::IoError("the storage at " + files.backend()->Location() + " kept the format-3 config",
                           "upgrade a local copy of the repository instead; the repository is still format 3");
  *cfg = next;
  return Status::OK();
}

}  // namespace maestro
