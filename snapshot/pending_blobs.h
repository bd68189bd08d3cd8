// snapshot/pending_blobs.h — the blobs one Create has submitted that its
// stored set (StoredBlobs, snapshot/blob_index.h) does not hold: each new blob
// is submitted once, whichever reader meets it first (snapshot/file_saver.h).
//
// Bounded memory (issue 14 point 2): the claims since the last fold are in a
// hash set; past a quarter of memory_budget (about 48 bytes a claim) they are
// folded, under the lock, into a sorted vector (16 bytes an id); past half the
// budget that vector is merged with the on-disk table of the earlier ids (a
// sorted table of 16-byte ids, snapshot/sorted_table.h, in a private scratch
// folder made under scratch_dir) into a new table, and freed. A Bloom filter
// of the table's ids (a quarter of the budget, fixed: about 1 in 3,000 false
// hits at 300,000 ids and the default budget, worse but still correct past
// millions) spares most claims of a new blob a read of the table. So memory
// stays under about memory_budget whatever the number of new blobs; each
// spill rewrites the table (sequential, 16 bytes an id). Without a scratch
// folder (the default constructor: tests) everything stays in memory.
//
// A lookup of the on-disk table that fails (a damaged or unreadable scratch
// file) answers "not claimed": the blob is submitted again, which stores it
// twice (safe: the index keeps one entry); a failed spill keeps the ids in
// memory. Either error is kept and returned by Settle, so Create stops at the
// end of its batch with it. Nothing here is part of the repository: a crash
// leaves at most a scratch folder, removed by the next run.
//
// Thread safety: Claim may be called from several threads at once; Settle
// and status from one thread while no Claim runs.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "snapshot/blob_index.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

class ScratchArea;
class TableReader;

class PendingBlobs {
 public:
  PendingBlobs();  // in memory, no bound
  PendingBlobs(Env* env, std::string scratch_dir, size_t memory_budget);
  ~PendingBlobs();
  PendingBlobs(const PendingBlobs&) = delete;
  PendingBlobs& operator=(const PendingBlobs&) = delete;

  // true for the first caller with h (that caller submits it).
  bool Claim(const Hash128& h);
  // Folds the claims so far in (a batch's end); the first error of a spill
  // or a table lookup since the pending set was made.
  [[nodiscard]] Status Settle();
  Status status();
  // For tests and reports: ids in the on-disk table, and how often it was written.
  uint64_t on_disk() const;
  uint64_t spills() const { return spills_; }

 private:
  bool Known(const Hash128& h);  // mu_ held
  void AddToFilter(const Hash128& h);
  bool MayBeInTable(const Hash128& h) const;
  void Fold();                   // mu_ held: recent_ into settled_, spilled past the budget
  Status Spill();                // mu_ held: settled_ and the table into a new table

  Env* env_ = nullptr;
  std::string scratch_dir_;
  size_t budget_ = 0;
  std::mutex mu_;
  HashSet recent_;                // claimed since the last fold
  std::vector<Hash128> settled_;  // sorted; none in the table
  std::unique_ptr<ScratchArea> area_;
  std::unique_ptr<TableReader> table_;
  std::vector<uint64_t> filter_;  // Bloom filter of the table's ids (empty: no table yet)
  uint64_t spills_ = 0;
  Status status_;
};

}  // namespace maestro
