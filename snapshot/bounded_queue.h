// snapshot/bounded_queue.h — a blocking FIFO of at most cap items, so a fast
// producer cannot hold more than cap items in memory ahead of its consumers.
//
// Thread safety: every method may be called from several threads at once.
// Close() wakes every waiter: Push then returns false, Pop drains what is
// left and then returns false.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

namespace maestro {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t cap) : cap_(cap) {}
  // Waits for room; false when the queue was closed (the consumer side
  // failed): v is then left as it was, for the caller to dispose of.
  bool Push(T&& v) {
    std::unique_lock<std::mutex> l(mu_);
    not_full_.wait(l, [&] { return closed_ || q_.size() < cap_; });
    if (closed_) return false;
    q_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  // Waits for an item; false when the queue is closed and empty.
  bool Pop(T* v) {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) return false;
    *v = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> q_;
  size_t cap_;
  bool closed_ = false;
};

}  // namespace maestro
