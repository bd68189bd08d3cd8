// snapshot/repo_access.h — the internals of an open Repository, for the parts
// of snapshot/ that work across two repositories (snapshot/copier.h).
//
// RepoFilesOf: the RepoFiles of a repository Repository::Open made (null for
// any other implementation of Repository); valid while the repository lives.
// SealerOf: how that repository names blobs and seals objects (snapshot/sealer.h).
// SetMemoryBudget: the bytes its index and blob id sets keep in memory before
// spilling to its local cache/ (RepoFiles::memory_budget; tests set a tiny one).
// Implemented in repository.cc. Thread safety: as the repository's.
#pragma once

#include <memory>

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"

namespace maestro {

const RepoFiles* RepoFilesOf(Repository* repo);
std::shared_ptr<const Sealer> SealerOf(Repository* repo);
void SetMemoryBudget(Repository* repo, size_t bytes);

}  // namespace maestro
