#include "snapshot/read_ahead.h"

namespace maestro {

ReadAhead::ReadAhead(Env* env, std::vector<uint64_t> sizes, std::function<std::string(size_t)> path_of)
    : env_(env), sizes_(std::move(sizes)), path_of_(std::move(path_of)) {
  before_.resize(sizes_.size() + 1, 0);
  for (size_t i = 0; i < sizes_.size(); ++i) {
    if (sizes_[i] < kMinBytes) sizes_[i] = 0;
    before_[i + 1] = before_[i] + sizes_[i];
  }
}

void ReadAhead::Advance(size_t i) {
  std::vector<size_t> todo;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (hinted_ <= i) hinted_ = i + 1;  // entry i itself is being read now
    while (hinted_ < sizes_.size() && before_[hinted_ + 1] - before_[i + 1] <= kWindowBytes) {
      if (sizes_[hinted_] > 0) todo.push_back(hinted_);
      hinted_++;
    }
  }
  for (size_t k : todo) env_->PrefetchFile(path_of_(k));  // outside the lock: each is an open and a close
}

}  // namespace maestro
