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
#pragma once

#include "snapshot/format.h"
#include "snapshot/repo_files.h"

namespace maestro {

// *cfg is the repository's config; on OK it is the format-4 one written.
// Already format 4: OK, nothing written.
Status UpgradeRepository(const RepoFiles& files, RepoConfig* cfg);

}  // namespace maestro
