// util/child_process.h — one long-running helper process (rclone serve) that
// this process starts, watches and stops.
//
// Contract:
//   - Start forks and execs argv[0] (searched in PATH) with this process's
//     environment plus `extra_env` ("K=V", overriding), stdin and stdout on
//     /dev/null, stderr captured line by line by a reader thread (the last
//     `keep_lines` lines are kept for error messages). The child gets its own
//     process group (a terminal's Ctrl-C reaches this process, which stops the
//     child in order) and PR_SET_PDEATHSIG=SIGTERM, so it never outlives this
//     process, even after a kill -9 of it.
//   - A program that cannot be executed is reported by Start itself (IoError
//     naming the program and errno), not as a later exit.
//   - Every wait is bounded: WaitForLine by its timeout, Stop by its grace
//     period (SIGTERM, then SIGKILL), the reader thread by a poll interval.
//   - The destructor stops the child (Stop with a 2 s grace).
//
// Precondition: the process neither ignores SIGCHLD nor reaps children with
// waitpid(-1): either would make the child look dead at once.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "util/status.h"

namespace maestro {

struct ChildOptions {
  std::vector<std::string> argv;       // argv[0]: program name or path
  std::vector<std::string> extra_env;  // "K=V" entries added to (or replacing in) the environment
  size_t keep_lines = 40;              // stderr lines kept for messages
};

class ChildProcess {
 public:
  static Result<std::unique_ptr<ChildProcess>> Start(const ChildOptions& opts);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // True while the child runs (reaps it, without blocking, once it has exited).
  bool Alive();
  // "exited with status 1", "killed by signal 9", or "running".
  std::string ExitDescription();

  // Waits up to timeout_ms for a stderr line for which match returns true and
  // stores it in *line. IoError if the child exits first or the time runs out
  // (the message carries the child's last stderr lines).
  Status WaitForLine(const std::function<bool(const std::string&)>& match, int64_t timeout_ms,
                     std::string* line);

  // The last stderr lines, joined by " | " (for error messages); "(nothing)" if none.
  std::string RecentOutput() const;
  // The last kept stderr lines, oldest first.
  std::vector<std::string> RecentLines() const;
  // The newest kept stderr line that contains needle, "" if none.
  std::string LastLineContaining(const std::string& needle) const;

  // SIGTERM to the child's process group, wait up to grace_ms for the child,
  // then SIGKILL to the group, and reap. Idempotent.
  void Stop(int64_t grace_ms);

 private:
  ChildProcess(pid_t pid, int stderr_fd, size_t keep_lines);
  void ReadLoop();
  void TryReap(bool block);

  const pid_t pid_;
  const int stderr_fd_;
  const size_t keep_lines_;
  std::thread reader_;
  std::once_flag join_once_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;  // guarded by mu_
  uint64_t lines_seen_ = 0;        // guarded by mu_
  bool eof_ = false;               // guarded by mu_
  bool stop_reader_ = false;       // guarded by mu_
  bool reaped_ = false;            // guarded by mu_
  int wait_status_ = 0;            // guarded by mu_
};

}  // namespace maestro
