#include "snapshot/blob_buffers.h"

namespace maestro {

bool BlobBuffers::Reserve(size_t bytes, std::unique_lock<std::mutex>* l) {
  while (!closed_ && held_ != 0 && held_ + bytes > cap_) {
    if (!kept_.empty()) {  // room instead of a kept buffer
      held_ -= kept_.back().capacity();
      kept_.pop_back();
      continue;
    }
    room_.wait(*l);
  }
  if (closed_) return false;
  held_ += bytes;
  return true;
}

size_t BlobBuffers::SmallestFit(size_t bytes) const {
  size_t best = kept_.size();
  for (size_t i = 0; i < kept_.size(); ++i)
    if (kept_[i].capacity() >= bytes && (best == kept_.size() || kept_[i].capacity() < kept_[best].capacity()))
      best = i;
  return best;
}

bool BlobBuffers::Take(std::string_view data, std::string* out) {
  std::unique_lock<std::mutex> l(mu_);
  while (!closed_) {
    const size_t best = SmallestFit(data.size());
    if (best != kept_.size()) {
      *out = std::move(kept_[best]);
      kept_[best] = std::move(kept_.back());
      kept_.pop_back();
      l.unlock();
      out->assign(data.data(), data.size());  // fits: no allocation
      return true;
    }
    if (held_ == 0 || held_ + data.size() <= cap_) {
      held_ += data.size();
      l.unlock();
      std::string s(data);
      const size_t extra = s.capacity() - data.size();  // the allocator's rounding, counted too
      *out = std::move(s);
      if (extra != 0) {
        std::lock_guard<std::mutex> g(mu_);
        held_ += extra;
      }
      return true;
    }
    if (!kept_.empty()) {  // every kept one is too small: room instead
      held_ -= kept_.back().capacity();
      kept_.pop_back();
      continue;
    }
    room_.wait(l);  // for a buffer back
  }
  return false;
}

bool BlobBuffers::Adopt(const std::string& s) {
  std::unique_lock<std::mutex> l(mu_);
  return Reserve(s.capacity(), &l);
}

void BlobBuffers::Give(std::string&& buf) {
  std::string gone;  // freed outside the lock
  {
    std::lock_guard<std::mutex> l(mu_);
    if (buf.capacity() >= kReuseBytes && !closed_) {
      kept_.push_back(std::move(buf));
    } else {
      held_ -= std::min(held_, buf.capacity());
      gone = std::move(buf);
    }
    room_.notify_all();
  }
}

void BlobBuffers::Close() {
  std::lock_guard<std::mutex> l(mu_);
  closed_ = true;
  room_.notify_all();
}

size_t BlobBuffers::held() {
  std::lock_guard<std::mutex> l(mu_);
  return held_;
}

}  // namespace maestro
