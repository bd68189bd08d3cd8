#include "snapshot/run_sorter.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <queue>

namespace maestro {

namespace {

// One run file read in order through a fixed buffer.
class RunCursor {
 public:
  RunCursor(size_t record_size, size_t buffer_bytes)
      : record_size_(record_size), buf_(std::max(record_size, buffer_bytes / record_size * record_size), '\0') {}
  Status Open(Env* env, const std::string& path) {
    path_ = path;
    return env->NewSequentialFile(path, &f_);
  }
  // Moves to the next record (the first, at the first call); false at the
  // end, or on an error (then status()).
  bool Next() {
    if (started_) pos_ += record_size_;
    started_ = true;
    if (pos_ + record_size_ <= len_) return true;
    size_t keep = len_ > pos_ ? len_ - pos_ : 0;  // a record cut by the buffer's end
    std::memmove(buf_.data(), buf_.data() + pos_, keep);
    len_ = keep;
    pos_ = 0;
    while (len_ < record_size_) {
      size_t got = 0;
      status_ = f_->Read(buf_.size() - len_, buf_.data() + len_, &got);
      if (!status_.ok()) return false;
      if (got == 0) {
        if (len_ != 0) status_ = Status::IoError("scratch run " + path_ + " ends inside a record");
        return false;
      }
      len_ += got;
    }
    return true;
  }
  const char* rec() const { return buf_.data() + pos_; }
  const Status& status() const { return status_; }

 private:
  const size_t record_size_;
  std::string buf_;
  std::unique_ptr<SequentialFile> f_;
  std::string path_;
  size_t pos_ = 0, len_ = 0;
  bool started_ = false;
  Status status_;
};

}  // namespace

RunSorter::RunSorter(ScratchArea* area, size_t record_size, size_t memory_budget)
    : area_(area), record_size_(record_size), budget_(std::max(memory_budget, 64 * record_size)) {}

RunSorter::~RunSorter() {
  for (const auto& r : runs_) (void)area_->env()->RemoveFile(r);
}

Status RunSorter::Add(const char* rec) {
  buf_.append(rec, record_size_);
  return buf_.size() >= budget_ ? SpillRun() : Status::OK();
}

std::vector<uint32_t> RunSorter::SortedUnique() const {
  std::vector<uint32_t> order(buf_.size() / record_size_);
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  const char* base = buf_.data();
  const size_t rs = record_size_;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return std::memcmp(base + a * rs, base + b * rs, kTableKeySize) < 0;
  });
  order.erase(std::unique(order.begin(), order.end(),
                          [&](uint32_t a, uint32_t b) { return std::memcmp(base + a * rs, base + b * rs, kTableKeySize) == 0; }),
              order.end());
  return order;
}

Status RunSorter::SpillRun() {
  if (buf_.empty()) return Status::OK();
  MAESTRO_RETURN_IF_ERROR(area_->Open());
  std::vector<uint32_t> order = SortedUnique();
  std::string path = area_->NewPath("run");
  std::unique_ptr<WritableFile> f;
  MAESTRO_RETURN_IF_ERROR(area_->env()->NewWritableFile(path, &f, 0600));
  runs_.push_back(path);  // removed by the destructor if this fails
  std::string out;
  out.reserve(64 * 1024);
  for (uint32_t i : order) {
    out.append(buf_.data() + static_cast<size_t>(i) * record_size_, record_size_);
    if (out.size() >= 64 * 1024) {
      MAESTRO_RETURN_IF_ERROR(f->Append(out));
      out.clear();
    }
  }
  if (!out.empty()) MAESTRO_RETURN_IF_ERROR(f->Append(out));
  MAESTRO_RETURN_IF_ERROR(f->Close());
  std::string().swap(buf_);
  return Status::OK();
}

Status RunSorter::Finish(TableWriter* out) {
  if (runs_.empty()) {
    std::vector<uint32_t> order = SortedUnique();
    for (uint32_t i : order) MAESTRO_RETURN_IF_ERROR(out->Add(buf_.data() + static_cast<size_t>(i) * record_size_));
    std::string().swap(buf_);
    return Status::OK();
  }
  MAESTRO_RETURN_IF_ERROR(SpillRun());
  Status s = Merge(out);
  for (const auto& r : runs_) {
    Status rm = area_->env()->RemoveFile(r);
    if (s.ok()) s = rm;
  }
  runs_.clear();
  return s;
}

Status RunSorter::Merge(TableWriter* out) {
  const size_t per_run = std::min<size_t>(64 * 1024, std::max<size_t>(4096, budget_ / runs_.size()));
  std::vector<std::unique_ptr<RunCursor>> cur;
  for (const auto& r : runs_) {
    cur.push_back(std::make_unique<RunCursor>(record_size_, per_run));
    MAESTRO_RETURN_IF_ERROR(cur.back()->Open(area_->env(), r));
  }
  // Smallest key first; on a tie the earlier run (added first) first.
  auto later = [&](size_t a, size_t b) {
    int c = std::memcmp(cur[a]->rec(), cur[b]->rec(), kTableKeySize);
    return c != 0 ? c > 0 : a > b;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
  for (size_t k = 0; k < cur.size(); ++k) {
    if (cur[k]->Next()) heap.push(k);
    MAESTRO_RETURN_IF_ERROR(cur[k]->status());
  }
  std::string last;
  while (!heap.empty()) {
    size_t k = heap.top();
    heap.pop();
    if (last.empty() || std::memcmp(cur[k]->rec(), last.data(), kTableKeySize) != 0) {
      MAESTRO_RETURN_IF_ERROR(out->Add(cur[k]->rec()));
      last.assign(cur[k]->rec(), kTableKeySize);
    }
    if (cur[k]->Next()) heap.push(k);
    MAESTRO_RETURN_IF_ERROR(cur[k]->status());
  }
  return Status::OK();
}

}  // namespace maestro
