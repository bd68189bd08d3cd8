// snapshot/store_totals.h — what one store of a snapshot holds (regular files
// and the bytes of its entries), counted from its listing as it streams by
// (snapshot/listing_reader.h): one tree blob in memory at a time, never the
// listing (issue 14 point 2). For `snap restore --dry-run`, which prints these
// totals before anything is written.
//
// Errors: a missing or damaged tree blob is Corruption naming the snapshot and
// the store, as the restore itself would report it. Reads only; no lock.
// Thread safety: as the repository's readers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "snapshot/repository.h"

namespace maestro {

struct StoreTotals {
  uint64_t files = 0;  // regular files
  uint64_t bytes = 0;  // the size of every entry, as `snap show` sums it
};

// stores: stores of the head of snapshot `id` (Repository::LoadManifestHead) in
// repo; one StoreTotals per store, in that order. The index (or, for another
// Repository, the whole manifest) is read once for all of them.
Result<std::vector<StoreTotals>> CountStoreEntries(Repository* repo, const std::string& id,
                                                   const std::vector<const ManifestStore*>& stores);

}  // namespace maestro
