#include "snapshot/pending_blobs.h"

#include <algorithm>
#include <cstring>

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

// One on-disk run: a sorted table whose file goes when the last user lets go
// (a claim may still be reading a run a merge replaced).
struct PendingBlobs::Run {
  std::shared_ptr<TableReader> table;
  int level = 0;
};

PendingBlobs::PendingBlobs() = default;

PendingBlobs::PendingBlobs(Env* env, std::string scratch_dir, size_t memory_budget)
    : env_(env), scratch_dir_(std::move(scratch_dir)), budget_(memory_budget) {
  // Room for every id the vector holds before it spills, reserved once:
  // folds then merge in place, with no second copy (pages untouched until used).
  settled_.reserve(budget_ / 2 / sizeof(Hash128) + budget_ / 4 / kClaimBytes + 2);
}

PendingBlobs::~PendingBlobs() = default;

bool PendingBlobs::InMemory(const Hash128& h) const {
  return recent_.count(h) != 0 || std::binary_search(settled_.begin(), settled_.end(), h);
}

bool PendingBlobs::OnDisk(const Hash128& h, std::unique_lock<std::mutex>* l) {
  char key[kTableKeySize], rec[kTableKeySize];
  EncodeKey(h, key);
  std::vector<std::shared_ptr<TableReader>> tables;
  for (const auto& r : runs_) tables.push_back(r.table);
  l->unlock();  // a block read: other claims go on meanwhile
  bool found = false;
  Status err;
  for (const auto& t : tables) {
    Status s;
    if (t->Find(key, rec, &s)) {
      found = true;
      break;
    }
    if (!s.ok() && err.ok()) err = s;
  }
  l->lock();
  if (!err.ok() && status_.ok()) status_ = err.Annotate("the pending blob set's scratch table");
  return found;  // an unreadable run: submitted again, stored twice at worst
}

bool PendingBlobs::Claim(const Hash128& h) {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    if (InMemory(h)) return false;
    if (runs_.empty() || !MayBeInTable(h)) break;
    const uint64_t gen = generation_;
    if (OnDisk(h, &l)) return false;
    // Ids moved into runs while the lock was let go (h among them, claimed
    // meanwhile?): look again; else memory is all that may have gained h.
    if (gen == generation_) {
      if (InMemory(h)) return false;
      break;
    }
  }
  recent_.insert(h);
  if (env_ != nullptr && recent_.size() * kClaimBytes > budget_ / 4) Fold();
  return true;
}

void PendingBlobs::Fold() {
  std::vector<Hash128> add(recent_.begin(), recent_.end());
  HashSet().swap(recent_);
  std::sort(add.begin(), add.end());
  // Merged from the back, in place (settled_ and add are disjoint: a claim is
  // made only for an id Claim did not find).
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

Result<std::shared_ptr<TableReader>> PendingBlobs::OpenRun(const std::string& path) {
  Env* env = env_;
  std::shared_ptr<TableReader> t(new TableReader(), [env, path](TableReader* r) {
    delete r;
    (void)env->RemoveFile(path);  // else removed with the scratch folder
  });
  Status s = t->Open(env_, path, kTableKeySize);
  if (!s.ok()) return s;
  return t;
}

Status PendingBlobs::Spill() {
  if (!area_) area_ = std::make_unique<ScratchArea>(env_, scratch_dir_);
  MAESTRO_RETURN_IF_ERROR(area_->Open());
  const std::string path = area_->NewPath("pending");
  TableWriter w;
  Status s = w.Open(env_, path, kTableKeySize);
  char key[kTableKeySize];
  for (size_t k = 0; s.ok() && k < settled_.size(); ++k) {
    EncodeKey(settled_[k], key);
    s = w.Add(key);
  }
  if (s.ok()) s = w.Finish(Hash128());
  Result<std::shared_ptr<TableReader>> t = s.ok() ? OpenRun(path) : Result<std::shared_ptr<TableReader>>(s);
  if (!t.ok()) {
    (void)env_->RemoveFile(path);  // the runs and settled_ still hold every id
    return t.status();
  }
  runs_.push_back(Run{std::move(t).value(), 0});
  generation_++;
  if (filter_.empty()) filter_.assign(std::max<size_t>(1, budget_ / 4 / sizeof(uint64_t)), 0);
  for (const auto& id : settled_) AddToFilter(id);  // the older runs' ids are in it already
  settled_.clear();  // its capacity is kept for the next ids
  spills_++;
  // A failed merge leaves the runs as they were: every id is still in one.
  while (runs_.size() >= kFanIn && runs_[runs_.size() - kFanIn].level == runs_.back().level)
    MAESTRO_RETURN_IF_ERROR(MergeNewest());
  return Status::OK();
}

Status PendingBlobs::MergeNewest() {
  const size_t first = runs_.size() - kFanIn;
  struct Cursor {
    const TableReader* t = nullptr;
    uint64_t block = 0;
    std::string recs;
    size_t off = 0;
  };
  std::vector<Cursor> cur;
  for (size_t i = first; i < runs_.size(); ++i) {
    cur.emplace_back();
    cur.back().t = runs_[i].table.get();
  }
  // Moves c to its next record; false at its end (or on an error, in *s).
  auto next = [](Cursor& c, Status* s) {
    while (c.off >= c.recs.size()) {
      if (c.block >= c.t->blocks()) return false;
      c.off = 0;
      *s = c.t->ReadRecords(c.block++, &c.recs);
      if (!s->ok()) return false;
    }
    return true;
  };
  const std::string path = area_->NewPath("pending");
  TableWriter w;
  Status s = w.Open(env_, path, kTableKeySize);
  std::vector<size_t> live;  // cursors with a record at off; runs are disjoint: no ties
  for (size_t i = 0; s.ok() && i < cur.size(); ++i)
    if (next(cur[i], &s)) live.push_back(i);
  while (s.ok() && !live.empty()) {
    size_t best = 0;
    for (size_t j = 1; j < live.size(); ++j)
      if (std::memcmp(cur[live[j]].recs.data() + cur[live[j]].off, cur[live[best]].recs.data() + cur[live[best]].off,
                      kTableKeySize) < 0)
        best = j;
    Cursor& c = cur[live[best]];
    s = w.Add(c.recs.data() + c.off);
    c.off += kTableKeySize;
    if (s.ok() && !next(c, &s)) live.erase(live.begin() + static_cast<std::ptrdiff_t>(best));
  }
  if (s.ok()) s = w.Finish(Hash128());
  Result<std::shared_ptr<TableReader>> t = s.ok() ? OpenRun(path) : Result<std::shared_ptr<TableReader>>(s);
  if (!t.ok()) {
    (void)env_->RemoveFile(path);
    return t.status();
  }
  const int level = runs_.back().level + 1;
  runs_.resize(first);  // their files go with their last reader
  runs_.push_back(Run{std::move(t).value(), level});
  generation_++;
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

uint64_t PendingBlobs::on_disk() const {
  uint64_t n = 0;
  for (const auto& r : runs_) n += r.table->count();
  return n;
}

size_t PendingBlobs::runs() const { return runs_.size(); }

}  // namespace maestro
