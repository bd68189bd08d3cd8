// snapshot/pending_blobs.h — the blobs one Create has submitted that its
// stored set (StoredBlobs, snapshot/blob_index.h) does not hold: each new blob
// is submitted once, whichever reader meets it first (snapshot/file_saver.h).
//
// Bounded memory (issue 14 point 2): the claims since the last fold are in a
// hash set; past a quarter of memory_budget (about 48 bytes a claim) they are
// folded, under the lock, into a sorted vector (16 bytes an id); past half the
// budget that vector is written as a new run (a sorted table of 16-byte ids,
// snapshot/sorted_table.h, in a private scratch folder made under
// scratch_dir), and freed. Runs merge as a counter in base kFanIn counts:
// when kFanIn runs of one level are the newest, they are merged (k-way, one
// 4 KiB block of each in memory) into one run of the next level. So an id is
// written 1 + log_kFanIn(spills) times at most (each spill used to rewrite
// every earlier id: quadratic in spills), and there are at most kFanIn - 1
// runs a level. A Bloom filter of the runs' ids (a quarter of the budget,
// fixed: about 1 in 3,000 false hits at 300,000 ids and the default budget,
// worse but still correct past millions) spares most claims of a new blob a
// read of the runs; such reads are made outside the lock (a claim rechecks
// what moved meanwhile). So memory stays under about memory_budget (plus
// 64 KiB of block cache a run) whatever the number of new blobs. Without a
// scratch folder (the default constructor: tests) everything stays in memory.
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
  // Runs of one level merged into one of the next.
  static constexpr size_t kFanIn = 8;
  // For tests and reports: ids in the on-disk runs, how often settled ids
  // were spilled, and the runs now on disk.
  uint64_t on_disk() const;
  uint64_t spills() const { return spills_; }
  size_t runs() const;

 private:
  struct Run;
  bool InMemory(const Hash128& h) const;  // mu_ held
  // Whether a run holds h, looked up with mu_ released (l holds it on entry and return).
  bool OnDisk(const Hash128& h, std::unique_lock<std::mutex>* l);
  void AddToFilter(const Hash128& h);
  bool MayBeInTable(const Hash128& h) const;
  void Fold();                   // mu_ held: recent_ into settled_, spilled past the budget
  Status Spill();                // mu_ held: settled_ into a new run, runs merged
  Status MergeNewest();          // mu_ held: the newest kFanIn runs (one level) into one
  Result<std::shared_ptr<TableReader>> OpenRun(const std::string& path);

  Env* env_ = nullptr;
  std::string scratch_dir_;
  size_t budget_ = 0;
  std::mutex mu_;
  HashSet recent_;                // claimed since the last fold
  std::vector<Hash128> settled_;  // sorted; none in the table
  std::unique_ptr<ScratchArea> area_;
  std::vector<Run> runs_;         // oldest (highest level) first
  uint64_t generation_ = 0;       // changes when ids move into runs or runs are merged
  std::vector<uint64_t> filter_;  // Bloom filter of the runs' ids (empty: no run yet)
  uint64_t spills_ = 0;
  Status status_;
};

}  // namespace maestro
