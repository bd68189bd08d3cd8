#include "snapshot/blob_id_set.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "snapshot/run_sorter.h"
#include "snapshot/scratch_area.h"
#include "snapshot/sorted_table.h"

namespace maestro {

// Up to the budget: a vector, sorted at Seal. Past it: a RunSorter (sorted
// runs in a scratch folder), merged at Seal into a sorted table of 16-byte
// records that Contains reads a block at a time.
struct BlobIdSet::Rep {
  Env* env;
  std::string scratch;
  size_t budget;
  std::vector<Hash128> ids;
  std::unique_ptr<ScratchArea> area;
  std::unique_ptr<RunSorter> sorter;
  std::unique_ptr<TableReader> table;
  bool sealed = false;
  mutable Status status;

  std::string Where() const { return "the blob id set's scratch files in " + scratch + " (free space there, then retry)"; }

  Status Spill() {
    area = std::make_unique<ScratchArea>(env, scratch);
    sorter = std::make_unique<RunSorter>(area.get(), kTableKeySize, budget);
    char key[kTableKeySize];
    for (const auto& id : ids) {
      EncodeKey(id, key);
      MAESTRO_RETURN_IF_ERROR(sorter->Add(key));
    }
    std::vector<Hash128>().swap(ids);
    return Status::OK();
  }

  Status SealTable() {
    // Open first: a path named before the folder exists would be relative
    // (the working directory's), when the sorter never had to write a run.
    MAESTRO_RETURN_IF_ERROR(area->Open());
    const std::string path = area->NewPath("ids");
    TableWriter w;
    MAESTRO_RETURN_IF_ERROR(w.Open(env, path, kTableKeySize));
    MAESTRO_RETURN_IF_ERROR(sorter->Finish(&w));
    MAESTRO_RETURN_IF_ERROR(w.Finish(Hash128()));
    sorter.reset();
    table = std::make_unique<TableReader>();
    return table->Open(env, path, kTableKeySize);
  }
};

BlobIdSet::BlobIdSet(Env* env, std::string scratch_dir, size_t memory_budget)
    : rep_(std::make_unique<Rep>(Rep{env, std::move(scratch_dir), memory_budget, {}, nullptr, nullptr, nullptr, false, {}})) {}
BlobIdSet::~BlobIdSet() {
  if (rep_) {  // the table's file before its folder
    rep_->table.reset();
    rep_->sorter.reset();
  }
}

Status BlobIdSet::Add(const Hash128& id) {
  Rep& r = *rep_;
  if (r.sealed) return Status::Internal("BlobIdSet::Add after Seal");
  MAESTRO_RETURN_IF_ERROR(r.status);
  Status s;
  if (r.sorter) {
    char key[kTableKeySize];
    EncodeKey(id, key);
    s = r.sorter->Add(key);
  } else {
    r.ids.push_back(id);
    if (r.ids.size() * sizeof(Hash128) >= r.budget) {
      // Duplicates first: a set that repeats ids (every snapshot's shared
      // blobs) may fit after all.
      std::sort(r.ids.begin(), r.ids.end());
      r.ids.erase(std::unique(r.ids.begin(), r.ids.end()), r.ids.end());
      if (r.ids.size() * sizeof(Hash128) >= r.budget / 2) s = r.Spill();
    }
  }
  if (!s.ok()) r.status = s.Annotate(r.Where());
  return r.status;
}

Status BlobIdSet::Seal() {
  Rep& r = *rep_;
  MAESTRO_RETURN_IF_ERROR(r.status);
  if (r.sealed) return Status::OK();
  Status s;
  if (r.sorter) {
    s = r.SealTable();
  } else {
    std::sort(r.ids.begin(), r.ids.end());
    r.ids.erase(std::unique(r.ids.begin(), r.ids.end()), r.ids.end());
    r.ids.shrink_to_fit();
  }
  if (!s.ok()) {
    r.status = s.Annotate(r.Where());
    return r.status;
  }
  r.sealed = true;
  return Status::OK();
}

bool BlobIdSet::Contains(const Hash128& id) const {
  const Rep& r = *rep_;
  if (!r.table) return std::binary_search(r.ids.begin(), r.ids.end(), id);
  char key[kTableKeySize], rec[kTableKeySize];
  EncodeKey(id, key);
  Status s;
  bool found = r.table->Find(key, rec, &s);
  if (!s.ok() && r.status.ok()) r.status = s.Annotate(r.Where());
  return found;
}

uint64_t BlobIdSet::size() const { return rep_->table ? rep_->table->count() : rep_->ids.size(); }

Status BlobIdSet::ForEach(const std::function<Status(const Hash128&)>& fn) const {
  const Rep& r = *rep_;
  if (!r.sealed) return Status::Internal("BlobIdSet::ForEach before Seal");
  if (!r.table) {
    for (const auto& id : r.ids) MAESTRO_RETURN_IF_ERROR(fn(id));
    return Status::OK();
  }
  return r.table->ForEach([&](const char* rec) { return fn(DecodeKey(rec)); });
}

Status BlobIdSet::status() const { return rep_->status; }

}  // namespace maestro
