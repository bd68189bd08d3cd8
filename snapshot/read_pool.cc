#include "snapshot/read_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace maestro {

unsigned DefaultReaders(unsigned threads) { return threads < 2 ? 2 : threads; }

Status ReadPool::Run(size_t n, const std::function<Status(size_t, unsigned)>& work, const std::function<void()>& tick) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable done_cv;
  unsigned running = readers_;
  Status first;
  auto reader = [&](unsigned slot) {
    for (size_t i = next++; i < n && !stop.load(); i = next++) {
      Status s = work(i, slot);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = s;
        stop = true;
      }
    }
    std::lock_guard<std::mutex> l(mu);
    if (--running == 0) done_cv.notify_all();
  };
  std::vector<std::thread> threads;
  threads.reserve(readers_);
  for (unsigned r = 0; r < readers_; ++r) threads.emplace_back(reader, r);
  {
    std::unique_lock<std::mutex> l(mu);
    while (running > 0) {
      done_cv.wait_for(l, std::chrono::milliseconds(kTickMs), [&] { return running == 0; });
      l.unlock();
      tick();
      l.lock();
    }
  }
  for (auto& t : threads) t.join();
  return first;
}

}  // namespace maestro
