#include "snapshot/read_ahead.h"

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

}  // namespace maestro
