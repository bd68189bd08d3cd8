// snapshot/gc.h — removes data no listed snapshot references (restic's prune
// of packs; `snap prune` and `snap delete` call it after removing manifests).
//
// Order, each step durable before the next: (1) the needed blobs of
// partly-used packs are copied into new packs; (2) new index files holding
// every kept entry are published (pieces of at most memory_budget / 144
// entries; the copied blobs' entries are published as their packs are);
// (3) the old index files, then the packs nothing names any more, are removed.
// Memory is bounded (issue 14 point 2): the needed blobs are a BlobIdSet
// filled by streaming each snapshot's listing (snapshot/listing_reader.h),
// the index a BlobIndex, both spilling to the local cache/ past
// RepoFiles::memory_budget; what is held per pack (one entry a pack) is not
// bounded, nor is a format-3 manifest's listing (it is one object). A kill at any moment never loses data
// a listed snapshot needs: at worst a pack no index names is left, indexed
// again by the next writer (snapshot/leftovers.h). While a manifest or an
// index file is damaged nothing is removed (GcStats::skipped says why).
// Writers only (under the repository lock).
#pragma once

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

Result<GcStats> RemoveUnreferencedData(const RepoFiles& files, bool dry_run, double max_unused = kDefaultMaxUnused);

}  // namespace maestro
