// snapshot/upgrade.h — `snap upgrade`: a format-3 repository becomes format 4.
//
// Sound because a format-4 reader reads every object by its own version (a
// version-1 pack or index, a version-1..3 manifest beside version-4 ones), so
// nothing old is rewritten: the repository is checked (every manifest and
// index file decodes; a damaged one stops the upgrade with nothing changed,
// pointing at `snap repair`), then the config is rewritten with
// format_version=4 and encryption=none, durably and in one step
// (Backend::Put: temp file, fsync, rename). That rewrite is the commit point:
// a kill before it leaves format 3, after it format 4; both are whole. From
// then on writers write version-4 objects only. Writers only (under the lock).
//
// A remote repository (rclone:REMOTE:PATH, under its lease lock) writes no
// object but the config either, but may not replace it in one step (SFTP and
// WebDAV write it in place; an object store does publish it whole): the
// format-3 config is first kept in the local scratch (upgrade/config.format3),
// and a failed upload puts it back. A kill during the config's own upload
// can leave it partial or missing (every other object is untouched): the next
// remote writer (OpenWriter, under the lease lock) puts the kept one back
// first (PutBackConfigOfInterruptedUpgrade), so `snap upgrade` run again
// finds format 3 and finishes. The kept copy is removed once the format-4
// config has been read back.
#pragma once

#include <string>

#include "snapshot/backend.h"
#include "snapshot/format.h"
#include "snapshot/repo_files.h"
#include "util/env.h"

namespace maestro {

// Where the upgrade of a remote keeps its format-3 config: <scratch>/upgrade/config.format3.
std::string KeptFormat3ConfigPath(const std::string& scratch);

// For a remote writer holding the lease lock, before it reads the config:
// when scratch holds a kept format-3 config, the remote's config is missing or
// does not decode, and the remote still holds manifests or index files, the
// kept one is put back (*restored true); when the config is whole the kept
// copy is stale and removed. Otherwise nothing is written. Errors:
// the backend's (a config that cannot be read for another reason is left alone).
Status PutBackConfigOfInterruptedUpgrade(Env* env, Backend* backend, const std::string& scratch, bool* restored);

// *cfg is the repository's config; on OK it is the format-4 one written.
// Already format 4: OK, nothing written.
Status UpgradeRepository(const RepoFiles& files, RepoConfig* cfg);

}  // namespace maestro
