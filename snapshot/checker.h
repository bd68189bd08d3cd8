// snapshot/checker.h — `snap verify`: proves snapshots restorable without
// restoring them (restic's checker).
//
// Without read_data: every manifest decodes, every blob it names is in the
// index, and every pack is there and long enough. With read_data: every pack
// a snapshot needs is read whole and its name, header and every blob
// (header, checksum, decompression, content hash) are checked. Each problem
// names the snapshot, store and file it affects.
//
// Reads only; needs no lock. A run that finds problems while the repository's
// names changed (a concurrent create, delete or prune) is run again, a few
// times, so a writer's work is never reported as damage.
#pragma once

#include <string>
#include <vector>

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

Result<VerifyReport> VerifySnapshots(const RepoFiles& files, const std::vector<std::string>& ids, bool read_data);

}  // namespace maestro
