// util/task_group.cc — bounded background tasks (see the header).
#include "util/task_group.h"

#include <algorithm>

namespace maestro {

TaskGroup::TaskGroup(int max_running) : max_running_(static_cast<size_t>(std::max(1, max_running))) {}

TaskGroup::~TaskGroup() {
  (void)Wait();  // the first error was the caller's to read
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

Status TaskGroup::Run(std::function<Status()> task) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return busy_ < max_running_ || !first_error_.ok(); });
  if (!first_error_.ok()) return first_error_;
  queue_.push_back(std::move(task));
  ++busy_;
  if (threads_.size() < busy_) threads_.emplace_back([this] { Work(); });  // one thread per task at once, at most
  l.unlock();
  cv_.notify_all();
  return Status::OK();
}

Status TaskGroup::Wait() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [this] { return busy_ == 0; });
  return first_error_;
}

Status TaskGroup::Wait(std::chrono::milliseconds every, const std::function<void()>& tick) {
  std::unique_lock<std::mutex> l(mu_);
  while (!cv_.wait_for(l, every, [this] { return busy_ == 0; })) {
    if (!tick) continue;
    l.unlock();
    tick();
    l.lock();
  }
  return first_error_;
}

void TaskGroup::Work() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, nothing left
    std::function<Status()> task = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    Status st = task();
    task = nullptr;  // what the task holds goes before the group hears it is done
    l.lock();
    if (!st.ok() && first_error_.ok()) first_error_ = st;
    --busy_;
    cv_.notify_all();
  }
}

}  // namespace maestro
