// snapshot/repair.h — `snap repair`: puts a damaged repository back in a
// state every command accepts, deleting nothing.
//
// Damaged manifests and index files (ones that do not decode) are moved to
// <local folder>/damaged/snapshots/ and damaged/index/ (kept, under a name not
// taken yet: copied there durably, then removed from the repository); then the
// blobs of packs no readable index names are indexed again from their blob
// headers. Damaged packs are left where they are (verify reports what they
// affect). A kill between two steps leaves packs no index names, which every
// writer indexes again before it deletes anything. Writers only (under the
// repository lock); dry_run reports what would be done and changes nothing.
#pragma once

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

Result<RepairReport> RepairRepository(const RepoFiles& files, bool dry_run);

}  // namespace maestro
