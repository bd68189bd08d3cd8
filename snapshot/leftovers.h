// snapshot/leftovers.h — what an interrupted writer leaves, found and put right
// by the next writer (Create, GC, Repair), always under the repository lock.
//
// A create killed between its pack and its index ("snap.after_pack"), a GC
// killed before it deleted the packs it replaced, or a lost index file leave
// packs no index names. Their blobs are indexed again from the packs' own blob
// headers before anything is deleted, so no blob a manifest may need is ever
// removed for want of an index entry. Then tmp/, temporary names and packs no
// chosen index entry uses are removed.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/repo_files.h"

namespace maestro {

// Indexes again the blobs of packs no index names (named: every pack some
// index entry names) that no index holds (known() false), in one new index
// file (none when !write); *adopted receives the new entries. A damaged pack
// (its name is not the hash of its bytes, or its headers do not parse) is left
// where it is and named in *damaged; `snap verify` reports what it cannot reach.
Status AdoptUnindexedPacks(const RepoFiles& files, const HashSet& named,
                           const std::function<bool(const Hash128&)>& known, std::vector<IndexEntry>* adopted,
                           std::set<std::string>* damaged, bool write = true);

// Removes tmp/*, "*.tmp-*" files, and packs no blob's chosen index entry uses
// (after AdoptUnindexedPacks: packs whose blobs are all indexed elsewhere).
// used_packs: for each blob, the pack of the entry LoadIndex keeps; keep: pack
// names never to delete (damaged ones, left for verify).
Status CleanLeftovers(const RepoFiles& files, const HashSet& used_packs, const std::set<std::string>& keep = {});

}  // namespace maestro
