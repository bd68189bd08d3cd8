// util/child_process.cc — fork/exec of a helper, its stderr reader, its stop.
#include "util/child_process.h"

#include "util/env.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace maestro {

namespace {

std::string EnvKey(const std::string& entry) { return entry.substr(0, entry.find('=')); }

// The child's environment: ours, then each extra entry replacing any earlier
// one of the same name (one entry per name: programs disagree on which of two wins).
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) out.emplace_back(*e);
  for (const std::string& x : extra) {
    bool replaced = false;
    for (std::string& entry : out) {
      if (EnvKey(entry) == EnvKey(x)) {
        entry = x;
        replaced = true;
      }
    }
    if (!replaced) out.push_back(x);
  }
  return out;
}

std::vector<char*> CPointers(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(int stderr_w, pid_t parent, const char* program, char** argv, char** envp) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd >= 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
  }
  ::dup2(stderr_w, 2);
  ::closefrom(3);  // no descriptor of ours (databases, locks, sockets) leaks into the helper
  ::execve(program, argv, envp);
  ::_exit(127);  // Start checked the program first: this is a race with its removal
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const ChildOptions& opts) {
  if (opts.argv.empty()) return Status::InvalidArgument("no program to start");
  std::vector<std::string> args = opts.argv;
  std::vector<std::string> env = MergedEnvironment(opts.extra_env);
  std::vector<char*> argv = CPointers(args);
  std::vector<char*> envp = CPointers(env);
  std::string program = opts.argv[0];  // made absolute below: no PATH search after fork
  // Resolve the program before forking, so a missing program is a clear error
  // from Start rather than a child that exits 127.
  if (opts.argv[0].find('/') == std::string::npos) {
    bool found = false;
    std::string resolved;
    const char* path = ::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (!found && start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string dir = dirs.substr(start, end - start);
      if (!dir.empty() && ::access((dir + "/" + opts.argv[0]).c_str(), X_OK) == 0) {
        found = true;
        resolved = dir + "/" + opts.argv[0];
      }
      start = end + 1;
    }
    if (!found) return Status::IoError("cannot run " + opts.argv[0] + ": not found in PATH");
    program = resolved;
  } else if (::access(opts.argv[0].c_str(), X_OK) != 0) {
    int e = errno;
    return Status::IoError("cannot run " + opts.argv[0] + ": " + std::strerror(e)).WithErrno(e);
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return PosixError("pipe for " + opts.argv[0], errno);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return PosixError("fork for " + opts.argv[0], e);
  }
  if (pid == 0) ExecChild(pipe_fds[1], parent, program.c_str(), argv.data(), envp.data());
  ::close(pipe_fds[1]);
  ::setpgid(pid, pid);  // also done in the child; whichever runs first wins, both are fine
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pipe_fds[0], opts.keep_lines));
}

ChildProcess::ChildProcess(pid_t pid, int stderr_fd, size_t keep_lines)
    : pid_(pid), stderr_fd_(stderr_fd), keep_lines_(keep_lines) {
  reader_ = std::thread([this] { ReadLoop(); });
}

ChildProcess::~ChildProcess() {
  Stop(2000);
  ::close(stderr_fd_);
}

void ChildProcess::ReadLoop() {
  std::string partial;
  char buf[4096];
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_reader_) break;
    }
    struct pollfd p = {stderr_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    ssize_t n = ::read(stderr_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> l(mu_);
    if (n <= 0) {
      if (!partial.empty()) lines_.push_back(partial);
      eof_ = true;
      cv_.notify_all();
      break;
    }
    partial.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      lines_.push_back(partial.substr(0, nl));
      partial.erase(0, nl + 1);
      ++lines_seen_;
      while (lines_.size() > keep_lines_) lines_.pop_front();
    }
    if (partial.size() > 65536) partial.clear();  // a runaway line is not worth keeping
    cv_.notify_all();
  }
}

void ChildProcess::TryReap(bool block) {
  // mu_ held by the caller.
  if (reaped_) return;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    reaped_ = true;
    wait_status_ = r == pid_ ? st : 0;
  }
}

bool ChildProcess::Alive() {
  std::lock_guard<std::mutex> l(mu_);
  TryReap(false);
  return !reaped_;
}

std::string ChildProcess::ExitDescription() {
  std::lock_guard<std::mutex> l(mu_);
  TryReap(false);
  if (!reaped_) return "running";
  if (WIFSIGNALED(wait_status_)) return "killed by signal " + std::to_string(WTERMSIG(wait_status_));
  if (WIFEXITED(wait_status_)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status_));
  return "ended";
}

Status ChildProcess::WaitForLine(const std::function<bool(const std::string&)>& match, int64_t timeout_ms,
                                 std::string* line) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> l(mu_);
  size_t checked_from_seen = 0;  // lines_seen_ value up to which lines were checked
  for (;;) {
    // Check the lines that arrived since the last look (those still kept).
    size_t fresh = static_cast<size_t>(lines_seen_ - checked_from_seen);
    size_t first = lines_.size() > fresh ? lines_.size() - fresh : 0;
    for (size_t i = first; i < lines_.size(); ++i) {
      if (match(lines_[i])) {
        *line = lines_[i];
        return Status::OK();
      }
    }
    checked_from_seen = lines_seen_;
    TryReap(false);
    if (eof_) break;
    if (reaped_) {
      // Exited: its last lines may still be in the pipe. Read on until EOF, for
      // at most 500 ms (a helper it left behind may hold the pipe open).
      auto grace = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
      if (!cv_.wait_until(l, grace, [this] { return eof_; })) break;
      continue;  // EOF came: check the lines that came with it
    }
    if (cv_.wait_until(l, deadline) == std::cv_status::timeout && lines_seen_ == checked_from_seen) {
      l.unlock();
      return Status::IoError("no answer within " + std::to_string(timeout_ms / 1000.0).substr(0, 4) +
                             " s; its output: " + RecentOutput());
    }
  }
  l.unlock();
  // EOF usually means it is exiting: give waitpid a moment to see it (bounded).
  for (int i = 0; i < 50 && Alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return Status::IoError("it " + ExitDescription() + "; its output: " + RecentOutput());
}

std::string ChildProcess::RecentOutput() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const std::string& s : lines_) out += (out.empty() ? "" : " | ") + s;
  return out.empty() ? "(nothing)" : out;
}

std::vector<std::string> ChildProcess::RecentLines() const {
  std::lock_guard<std::mutex> l(mu_);
  return std::vector<std::string>(lines_.begin(), lines_.end());
}

std::string ChildProcess::LastLineContaining(const std::string& needle) const {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = lines_.rbegin(); it != lines_.rend(); ++it) {
    if (it->find(needle) != std::string::npos) return *it;
  }
  return "";
}

void ChildProcess::Stop(int64_t grace_ms) {
  {
    std::unique_lock<std::mutex> l(mu_);
    TryReap(false);
    if (!reaped_) {
      // The whole process group: helpers the child started (an ssh for an
      // sftp remote, a shell's commands) go with it. The group id is still
      // ours: its leader is not reaped yet.
      if (::kill(-pid_, SIGTERM) != 0) ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
      while (!reaped_ && std::chrono::steady_clock::now() < deadline) {
        l.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        l.lock();
        TryReap(false);
      }
      if (!reaped_) {
        if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
        TryReap(true);
      }
    }
    stop_reader_ = true;
  }
  std::call_once(join_once_, [this] {
    if (reader_.joinable()) reader_.join();
  });
}

}  // namespace maestro
