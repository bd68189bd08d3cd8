#include "snapshot/blob_id_set.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace maestro {

// In memory for now (sorted vector); the on-disk spill past the budget is
// the next step (issue 14 point 2).
struct BlobIdSet::Rep {
  Env* env;
  std::string scratch;
  size_t budget;
  std::vector<Hash128> ids;
  bool sealed = false;
};

BlobIdSet::BlobIdSet(Env* env, std::string scratch_dir, size_t memory_budget)
    : rep_(std::make_unique<Rep>(Rep{env, std::move(scratch_dir), memory_budget, {}, false})) {}
BlobIdSet::~BlobIdSet() = default;

Status BlobIdSet::Add(const Hash128& id) {
  if (rep_->sealed) return Status::Internal("BlobIdSet::Add after Seal");
  rep_->ids.push_back(id);
  return Status::OK();
}

Status BlobIdSet::Seal() {
  std::sort(rep_->ids.begin(), rep_->ids.end());
  rep_->ids.erase(std::unique(rep_->ids.begin(), rep_->ids.end()), rep_->ids.end());
  rep_->sealed = true;
  return Status::OK();
}

bool BlobIdSet::Contains(const Hash128& id) const {
  return std::binary_search(rep_->ids.begin(), rep_->ids.end(), id);
}

uint64_t BlobIdSet::size() const { return rep_->ids.size(); }

Status BlobIdSet::ForEach(const std::function<Status(const Hash128&)>& fn) const {
  for (const auto& id : rep_->ids) MAESTRO_RETURN_IF_ERROR(fn(id));
  return Status::OK();
}

Status BlobIdSet::status() const { return Status::OK(); }

}  // namespace maestro
