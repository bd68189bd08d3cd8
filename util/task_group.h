// util/task_group.h — at most N Status-returning tasks running at once, on
// threads of the group's own: for work that mostly waits (a pack writer's
// uploads to a remote, snapshot/pack_writer.h) and may overlap with the
// caller's own work.
//
// Contract:
//   - Run blocks while max_running tasks are running, then starts the task.
//     Once any task has failed, Run starts no more: it returns that first
//     error (the task given is dropped, never run).
//   - Wait blocks until every task started has ended and returns the first
//     error any of them returned, else OK. A failed group stays failed.
//     Wait(every, tick) does the same, calling tick (without the group's
//     lock held) on the waiting thread about every `every` meanwhile.
//   - The destructor waits like Wait (a task in flight is never abandoned:
//     it owns resources of its caller), then stops the threads.
//   - At most max_running threads are ever made (lazily, one per task running
//     at once); max_running < 1 counts as 1.
//
// Thread safety: Run and Wait may be called from several threads at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "util/status.h"

namespace maestro {

class TaskGroup {
 public:
  explicit TaskGroup(int max_running);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  Status Run(std::function<Status()> task);
  Status Wait();
  Status Wait(std::chrono::milliseconds every, const std::function<void()>& tick);

 private:
  void Work();

  const size_t max_running_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<Status()>> queue_;  // guarded by mu_
  size_t busy_ = 0;                            // tasks queued or running; guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  Status first_error_;                         // guarded by mu_
  std::vector<std::thread> threads_;           // guarded by mu_
};

}  // namespace maestro
