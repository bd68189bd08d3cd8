#include "snapshot/pending_blobs.h"

#include <algorithm>

#include "snapshot/scratch_area.h"
#include "snapshot/sorted_table.h"

namespace maestro {

namespace {
// What a claim costs in the hash set: the id, its node and bucket.
constexpr size_t kClaimBytes = sizeof(Hash128) + 32;
// Bits a table id sets in the filter. Ids are hashes: their halves serve as
// the two hashes of double hashing.
constexpr unsigned kFilterProbes = 4;
}  // namespace

void PendingBlobs::AddToFilter(const Hash128& h) {
  const uint64_t bits = filter_.size() * 64;
  for (unsigned i = 0; i < kFilterProbes; ++i) {
    const uint64_t b = (h.lo + i * (h.hi | 1)) % bits;
    filter_[b / 64] |= uint64_t{1} << (b % 64);
  }
}

bool PendingBlobs::MayBeInTable(const Hash128& h) const {
  const uint64_t bits = filter_.size() * 64;
  for (unsigned i = 0; i < kFilterProbes; ++i) {
    const uint64_t b = (h.lo + i * (h.hi | 1)) % bits;
    if ((filter_[b / 64] & (uint64_t{1} << (b % 64))) == 0) return false;
  }
  return true;
}

PendingBlobs::PendingBlobs() = default;

PendingBlobs::PendingBlobs(Env* env, std::string scratch_dir, size_t memory_budget)
    : env_(env), scratch_dir_(std::move(scratch_dir)), budget_(memory_budget) {
  // Room for every id the vector holds before it spills, reserved once:
  // folds then merge in place, with no second copy (pages untouched until used).
  settled_.reserve(budget_ / 2 / sizeof(Hash128) + budget_ / 4 / kClaimBytes + 2);
}

PendingBlobs::~PendingBlobs() = default;

bool PendingBlobs::Known(const Hash128& h) {
  if (recent_.count(h) != 0 || std::binary_search(settled_.begin(), settled_.end(), h)) return true;
  if (!table_ || !MayBeInTable(h)) return false;
  char key[kTableKeySize], rec[kTableKeySize];
  EncodeKey(h, key);
  Status s;
  if (table_->Find(key, rec, &s)) return true;
  if (!s.ok() && status_.ok()) status_ = s.Annotate("the pending blob set's scratch table");
  return false;  // submitted again: stored twice at worst
}

bool PendingBlobs::Claim(const Hash128& h) {
  std::lock_guard<std::mutex> l(mu_);
  if (Known(h)) return false;
  recent_.insert(h);
  if (env_ != nullptr && recent_.size() * kClaimBytes > budget_ / 4) Fold();
  return true;
}

void PendingBlobs::Fold() {
  std::vector<Hash128> add(recent_.begin(), recent_.end());
  HashSet().swap(recent_);
  std::sort(add.begin(), add.end());
  // Merged from the back, in place (settled_ and add are disjoint: a claim is
  // made only for an id Known did not find).
  size_t i = settled_.size(), j = add.size(), k = i + j;
  settled_.resize(k);
  while (j > 0) {
    if (i > 0 && add[j - 1] < settled_[i - 1]) {
      settled_[--k] = settled_[--i];
    } else {
      settled_[--k] = add[--j];
    }
  }
  if (env_ == nullptr || settled_.size() * sizeof(Hash128) <= budget_ / 2 || !status_.ok()) return;
  Status s = Spill();
  if (!s.ok()) status_ = s.Annotate("the pending blob set's scratch files in " + scratch_dir_ + " (free space there, then retry)");
}

Status PendingBlobs::Spill() {
  if (!area_) area_ = std::make_unique<ScratchArea>(env_, scratch_dir_);
  MAESTRO_RETURN_IF_ERROR(area_->Open());
  const std::string path = area_->NewPath("pending");
  TableWriter w;
  MAESTRO_RETURN_IF_ERROR(w.Open(env_, path, kTableKeySize));
  char key[kTableKeySize];
  size_t k = 0;
  auto put = [&](const Hash128& id) {
    EncodeKey(id, key);
    return w.Add(key);
  };
  Status s;
  if (table_) {
    s = table_->ForEach([&](const char* rec) {
      const Hash128 id = DecodeKey(rec);
      for (; k < settled_.size() && settled_[k] < id; ++k) MAESTRO_RETURN_IF_ERROR(put(settled_[k]));
      return w.Add(rec);
    });
  }
  for (; s.ok() && k < settled_.size(); ++k) s = put(settled_[k]);
  if (s.ok()) s = w.Finish(Hash128());
  auto t = std::make_unique<TableReader>();
  if (s.ok()) s = t->Open(env_, path, kTableKeySize);
  if (!s.ok()) {
    (void)env_->RemoveFile(path);  // the old table and settled_ still hold every id
    return s;
  }
  std::string old = table_ ? table_->path() : std::string();
  table_ = std::move(t);
  if (filter_.empty()) filter_.assign(std::max<size_t>(1, budget_ / 4 / sizeof(uint64_t)), 0);
  for (const auto& id : settled_) AddToFilter(id);  // the table's older ids are in it already
  if (!old.empty()) (void)env_->RemoveFile(old);  // else removed with the scratch folder
  settled_.clear();  // its capacity is kept for the next ids
  spills_++;
  return Status::OK();
}

Status PendingBlobs::Settle() {
  std::lock_guard<std::mutex> l(mu_);
  Fold();
  return status_;
}

Status PendingBlobs::status() {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

uint64_t PendingBlobs::on_disk() const { return table_ ? table_->count() : 0; }

}  // namespace maestro
