// snapshot/blob_id_set.h — a set of blob ids that may outgrow memory: the
// blobs every snapshot needs (prune), references verify checks, blobs a copy
// skipped. Filled first, then sealed, then queried (issue 14 point 2: nothing
// holds one entry per blob in memory without a bound).
//
// Contract: Add any number of ids (duplicates allowed), then Seal once, then
// Contains and ForEach (sorted, each id once). Past memory_budget bytes of ids
// an implementation may spill sorted runs to files under scratch_dir (local,
// through env; removed by the destructor). Errors (a full disk) are returned
// by Add/Seal/ForEach, and by status() after a Contains that could not read.
// One thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "util/env.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

class BlobIdSet {
 public:
  static constexpr size_t kDefaultMemoryBudget = 8u << 20;  // 8 MiB of ids: 512Ki ids

  BlobIdSet(Env* env, std::string scratch_dir, size_t memory_budget = kDefaultMemoryBudget);
  ~BlobIdSet();
  BlobIdSet(const BlobIdSet&) = delete;
  BlobIdSet& operator=(const BlobIdSet&) = delete;

  Status Add(const Hash128& id);
  Status Seal();
  bool Contains(const Hash128& id) const;
  uint64_t size() const;  // distinct ids, after Seal
  Status ForEach(const std::function<Status(const Hash128&)>& fn) const;
  Status status() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace maestro
