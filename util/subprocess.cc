#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace maestro {

namespace {

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void KeepTail(std::string* s, const char* data, size_t n, bool head) {
  if (head) {
    if (s->size() < kMaxCapture) s->append(data, std::min(n, kMaxCapture - s->size()));
    return;
  }
  s->append(data, n);
  if (s->size() > kMaxCapture) s->erase(0, s->size() - kMaxCapture);
}

struct Pipes {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  ~Pipes() {
    for (int fd : {out[0], out[1], err[0], err[1]})
      if (fd >= 0) ::close(fd);
  }
};

// Reads both pipes until the child has exited and they are drained (a grandchild
// left running, e.g. a daemon a start command launched, may keep them open: it is
// not waited for), or the deadline passes; then kills the group. Returns the
// child's wait status.
int Drain(pid_t pid, Pipes& p, const ProcessOptions& opts, ProcessResult* r) {
  const int64_t deadline = MonotonicMs() + opts.timeout_ms;
  int64_t kill_at = -1;
  int status = 0;
  bool exited = false;
  int reads_after_exit = 0;
  char buf[8192];
  for (;;) {
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (exited && p.out[0] < 0 && p.err[0] < 0) break;
    int64_t now = MonotonicMs();
    if (!exited && !r->timed_out && now >= deadline) {
      r->timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + 2000;
    }
    if (!exited && kill_at >= 0 && now >= kill_at) ::kill(-pid, SIGKILL);  // repeated until it is gone
    struct pollfd fds[2] = {{p.out[0], POLLIN, 0}, {p.err[0], POLLIN, 0}};
    int wait_ms = exited ? 0 : static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(100, (kill_at >= 0 ? kill_at : deadline) - now)));
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (exited && (n == 0 || ++reads_after_exit > 64)) break;  // the child is gone: take what waits, no more
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof(buf));
      if (got <= 0) {
        int& fd = i == 0 ? p.out[0] : p.err[0];
        ::close(fd);
        fd = -1;
        continue;
      }
      if (i == 0 && opts.capture_stdout) KeepTail(&r->out, buf, static_cast<size_t>(got), true);
      if (i == 0 && !opts.capture_stdout) (void)!::write(STDERR_FILENO, buf, static_cast<size_t>(got));
      if (i == 1) {
        KeepTail(&r->err, buf, static_cast<size_t>(got), false);
        if (opts.echo_stderr) (void)!::write(STDERR_FILENO, buf, static_cast<size_t>(got));
      }
    }
  }
  if (!exited)
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  return status;
}

}  // namespace

std::string ProcessResult::Describe() const {
  std::string s = timed_out ? "timed out" : signal ? "killed by signal " + std::to_string(signal)
                                                   : "exit status " + std::to_string(exit_code);
  std::string tail = err;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  size_t nl = tail.find_last_of('\n');
  if (nl != std::string::npos) tail = tail.substr(nl + 1);
  if (tail.size() > 300) tail = tail.substr(tail.size() - 300);
  return tail.empty() ? s : s + " (" + tail + ")";
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const ProcessOptions& opts) {
  if (argv.empty()) return Status::InvalidArgument("RunProcess: no program given");
  Pipes p;
  if (::pipe2(p.out, O_CLOEXEC) != 0 || ::pipe2(p.err, O_CLOEXEC) != 0)
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p.out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p.err[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> cargv;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return Status::NotFound("could not run `" + argv[0] + "`: " + std::strerror(rc),
                            "is it installed and on PATH?");
  ::close(p.out[1]);
  ::close(p.err[1]);
  p.out[1] = p.err[1] = -1;
  ProcessResult r;
  int status = Drain(pid, p, opts, &r);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

Result<ProcessResult> RunShellCommand(const std::string& command, const ProcessOptions& opts) {
  return RunProcess({"/bin/sh", "-c", command}, opts);
}

}  // namespace maestro
