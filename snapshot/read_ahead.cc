#include "snapshot/read_ahead.h"

#include "snapshot/plan_file.h"

namespace maestro {

ReadAhead::ReadAhead(Env* env, const std::vector<uint64_t>& sizes, std::function<std::string(size_t)> path_of)
    : env_(env), before_(sizes.size() + 1, 0), path_of_(std::move(path_of)) {
  for (size_t i = 0; i < sizes.size(); ++i) before_[i + 1] = before_[i] + (sizes[i] < kMinBytes ? 0 : sizes[i]);
}

void ReadAhead::Advance(size_t i) {
  std::vector<size_t> todo;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (hinted_ <= i) hinted_ = i + 1;  // entry i itself is being read now
    while (hinted_ + 1 < before_.size() && before_[hinted_ + 1] - before_[i + 1] <= kWindowBytes) {
      if (before_[hinted_ + 1] > before_[hinted_]) todo.push_back(hinted_);  // worth hinting
      hinted_++;
    }
  }
  for (size_t k : todo) env_->PrefetchFile(path_of_(k));  // outside the lock: each is an open and a close
}

PlanAhead::PlanAhead(Env* env, std::string plan_path, const std::vector<uint64_t>& planned, std::vector<size_t> order,
                     std::function<std::string(size_t, const ManifestFile&)> path_of, const std::atomic<uint64_t>* done)
    : env_(env), plan_path_(std::move(plan_path)), planned_(planned), order_(std::move(order)),
      path_of_(std::move(path_of)), done_(done), thread_([this] { Run(); }) {}

PlanAhead::~PlanAhead() {
  stop_ = true;
  thread_.join();
}

bool PlanAhead::WaitForRoom(uint64_t hinted) {
  // Polled: a hint is worth a few milliseconds' delay, a condition variable
  // in every reader's byte count is not.
  while (!stop_ && hinted > done_->load() + ReadAhead::kWindowBytes) env_->SleepMicros(2000);
  return !stop_;
}

void PlanAhead::Run() {
  uint64_t hinted = 0;
  for (size_t k : order_) {
    // Each store from its own start in the plan: the order need not be the plan's.
    PlanReader plan(env_, plan_path_);
    uint64_t before = 0;
    for (size_t j = 0; j < k; ++j) before += planned_[j];
    if (!plan.Open().ok() || !plan.Skip(before).ok()) return;
    for (uint64_t n = 0; n < planned_[k]; ++n) {
      ManifestFile f;
      if (stop_ || !plan.Next(&f)) return;
      if (f.type != ManifestFile::Type::kFile || f.sqlite_backup || f.size < ReadAhead::kMinBytes) continue;
      hinted += f.size;
      if (!WaitForRoom(hinted)) return;
      env_->PrefetchFile(path_of_(k, f));
    }
  }
}

}  // namespace maestro
