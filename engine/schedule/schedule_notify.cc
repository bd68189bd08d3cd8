#include "engine/schedule/schedule_notify.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "util/json_text.h"

namespace maestro {

namespace {

constexpr size_t kKeepOutput = 4096;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void CloseBoth(int fds[2]) {
  if (fds[0] >= 0) ::close(fds[0]);
  if (fds[1] >= 0) ::close(fds[1]);
}

// The child: stdin from in, stdout+stderr to out, its own process group (so the
// timeout can kill whatever the shell started), every other descriptor closed.
[[noreturn]] void ExecShell(const std::string& command, int in, int out) {
  ::setpgid(0, 0);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  ::closefrom(3);
  ::signal(SIGPIPE, SIG_DFL);
  ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
  ::_exit(127);
}

// Feeds `input` and drains the output until the child closes it or the deadline.
// Returns false on timeout.
bool Pump(int to_child, int from_child, const std::string& input, int64_t deadline, std::string* output) {
  size_t sent = 0;
  if (input.empty()) {
    ::close(to_child);
    to_child = -1;
  }
  for (;;) {
    int64_t left = deadline - NowMs();
    if (left <= 0) {
      if (to_child >= 0) ::close(to_child);
      return false;
    }
    struct pollfd fds[2];
    nfds_t n = 0;
    fds[n++] = {from_child, POLLIN, 0};
    if (to_child >= 0) fds[n++] = {to_child, POLLOUT, 0};
    int r = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left, 200)));
    if (r < 0 && errno != EINTR) return true;
    if (r <= 0) continue;
    if (to_child >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = (fds[1].revents & POLLOUT) ? ::write(to_child, input.data() + sent, input.size() - sent) : -1;
      if (w > 0) sent += static_cast<size_t>(w);
      if (w <= 0 || sent == input.size()) {  // done, or the command stopped reading: EOF either way
        ::close(to_child);
        to_child = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t got = ::read(from_child, buf, sizeof(buf));
      if (got <= 0) {
        if (to_child >= 0) ::close(to_child);
        return true;  // every writer closed it: the command (and what it started) is done with it
      }
      output->append(buf, static_cast<size_t>(got));
      if (output->size() > 2 * kKeepOutput) output->erase(0, output->size() - kKeepOutput);
    }
  }
}

std::string Describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

NotifyResult RunNotifyCommand(const std::string& command, const nlohmann::json& event, int64_t timeout_ms) {
  NotifyResult res;
  const int64_t start = NowMs();
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    res.outcome = std::string("could not start: pipe: ") + std::strerror(errno);
    CloseBoth(in);
    CloseBoth(out);
    return res;
  }
  // Our end of the stdin pipe must not raise SIGPIPE in this process.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &old);
  pid_t pid = ::fork();
  if (pid == 0) ExecShell(command, in[0], out[1]);
  ::close(in[0]);
  ::close(out[1]);
  if (pid < 0) {
    res.outcome = std::string("could not start: fork: ") + std::strerror(errno);
    ::close(in[1]);
    ::close(out[0]);
    ::sigaction(SIGPIPE, &old, nullptr);
    return res;
  }
  ::setpgid(pid, pid);  // also here: no race with the child's own setpgid
  bool finished = Pump(in[1], out[0], JsonText(event) + "\n", start + timeout_ms, &res.output);
  ::close(out[0]);
  if (!finished) ::kill(-pid, SIGKILL);
  int status = 0;
  // Bounded: after the kill (or once the output closed) the child ends at once; a
  // command that closed its output and lives on is killed after the deadline.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (NowMs() >= start + timeout_ms) {
      ::kill(-pid, SIGKILL);
      finished = false;
      ::waitpid(pid, &status, 0);
      break;
    }
    ::usleep(10000);
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  if (res.output.size() > kKeepOutput) res.output.erase(0, res.output.size() - kKeepOutput);
  res.duration_ms = NowMs() - start;
  if (!finished) {
    res.outcome = "timed out after " + std::to_string(timeout_ms / 1000) + "s (killed)";
    return res;
  }
  res.outcome = Describe(status);
  res.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return res;
}

NotifyFn MakeCommandNotifier(const ScheduleConfig& config, EventLog* log) {
  if (config.notify_command.empty()) return nullptr;
  std::string command = config.notify_command;
  int64_t timeout_ms = config.notify_timeout_s * 1000;
  return [command, timeout_ms, log](const nlohmann::json& event) {
    NotifyResult r = RunNotifyCommand(command, event, timeout_ms);
    auto field = [&event](const char* key) {
      auto it = event.find(key);
      return it != event.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    nlohmann::json line = {{"job", field("job")},
                           {"about", field("outcome")},
                           {"outcome", r.outcome},
                           {"duration_ms", r.duration_ms}};
    if (!r.output.empty()) line["output"] = r.output;
    if (!r.ok) line["effect"] = "the job's outcome is unchanged; check notify.command";
    log->Emit(r.ok ? "notify" : "notify_failed", line);
  };
}

}  // namespace maestro
