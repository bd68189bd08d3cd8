#include "snapshot/repo_lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "util/time_util.h"

namespace maestro {

namespace {

std::string ThisHost() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\0') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string SelfCommandLine(Env* env) {
  std::string raw;
  if (!env->ReadFileToString("/proc/self/cmdline", &raw).ok() || raw.empty()) return "pid " + std::to_string(::getpid());
  return OneLine(raw);  // NUL-separated arguments become spaces
}

}  // namespace

std::string LockHolder::Describe() const {
  std::string s = "pid " + std::to_string(pid) + " on host " + (host.empty() ? "?" : host);
  if (!command.empty()) s += " (" + command + ")";
  if (since_micros > 0) s += " since " + FormatIso8601(since_micros);
  return s;
}

std::string LockHolder::Encode() const {
  return "pid=" + std::to_string(pid) + "\nhost=" + OneLine(host) + "\nsince=" + std::to_string(since_micros) +
         "\ncommand=" + OneLine(command) + "\n";
}

Result<LockHolder> LockHolder::Decode(const std::string& text) {
  LockHolder h;
  bool have_pid = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), val = line.substr(eq + 1);
    char* end = nullptr;
    if (key == "pid") {
      long v = std::strtol(val.c_str(), &end, 10);
      if (end == val.c_str() || *end != '\0' || v <= 0 || v > 0x7fffffff)
        return Status::Corruption("lock holder record: bad pid '" + val + "'");
      h.pid = static_cast<int>(v);
      have_pid = true;
    } else if (key == "host") {
      h.host = val;
    } else if (key == "since") {
      h.since_micros = std::strtoll(val.c_str(), &end, 10);
    } else if (key == "command") {
      h.command = val;
    }
  }
  if (!have_pid) return Status::Corruption("lock holder record has no pid");
  return h;
}

std::string RepoLock::LockPath(const std::string& repo_dir) { return JoinPath(repo_dir, "lock"); }
std::string RepoLock::HolderPath(const std::string& repo_dir) { return JoinPath(repo_dir, "lock.holder"); }

bool RepoLock::ProcessAlive(int pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) == 0) return true;
  return errno == EPERM;  // exists but belongs to someone else
}

Result<std::optional<LockHolder>> RepoLock::ReadHolder(Env* env, const std::string& repo_dir) {
  std::string text;
  std::string path = HolderPath(repo_dir);
  if (!env->FileExists(path)) return std::optional<LockHolder>();
  Status s = env->ReadFileToString(path, &text);
  if (s.IsNotFound()) return std::optional<LockHolder>();
  if (!s.ok()) return s;
  auto h = LockHolder::Decode(text);
  if (!h.ok()) return h.status().Annotate(path);
  return std::optional<LockHolder>(std::move(h).value());
}

Result<std::unique_ptr<RepoLock>> RepoLock::Acquire(Env* env, const std::string& repo_dir,
                                                    const RepoLockOptions& opts) {
  if (!env->DirExists(repo_dir))
    return Status::NotFound("snapshot repository " + repo_dir + " does not exist",
                            "create it with `maestro-db snap create` or pass --repo");
  const std::string host = ThisHost();
  const int64_t start = env->NowMicros();
  const int64_t deadline = start + static_cast<int64_t>(opts.wait_seconds * 1e6);
  bool announced_wait = false;
  for (;;) {
    std::unique_ptr<FileLock> flock;
    Status s = env->TryLockFile(LockPath(repo_dir), &flock);
    if (s.ok()) {
      // Won. A record still naming another pid belongs to a holder that died
      // holding the lock (the kernel dropped its flock): replace it.
      auto old = ReadHolder(env, repo_dir);
      if (old.ok() && old->has_value() && (*old)->pid != ::getpid() && opts.log) {
        const LockHolder& o = **old;
        bool same_host = o.host == host;
        opts.log("taking over the repository lock of " + o.Describe() + ": " +
                 (same_host && !ProcessAlive(o.pid) ? "that process is no longer running"
                                                    : "it no longer holds the lock"));
      } else if (!old.ok() && opts.log) {
        opts.log("replacing an unreadable lock holder record: " + old.status().message());
      }
      LockHolder me;
      me.pid = ::getpid();
      me.host = host;
      me.command = opts.command.empty() ? SelfCommandLine(env) : OneLine(opts.command);
      me.since_micros = env->NowMicros();
      Status w = WriteFileDurably(env, HolderPath(repo_dir), me.Encode(), 0600);
      if (!w.ok()) return w.Annotate("writing the lock holder record of " + repo_dir);
      return std::unique_ptr<RepoLock>(new RepoLock(env, repo_dir, std::move(flock), std::move(me)));
    }
    if (!s.IsBusy()) return s.Annotate("locking snapshot repository " + repo_dir);

    auto holder = ReadHolder(env, repo_dir);
    std::string who = "another process (its holder record is not written yet)";
    if (holder.ok() && holder->has_value()) {
      who = (*holder)->Describe();
      if ((*holder)->host == host && !ProcessAlive((*holder)->pid))
        who += " [that pid is gone; a child process it started may still hold the lock]";
    }
    int64_t now = env->NowMicros();
    if (now >= deadline || (opts.stop && opts.stop())) {
      std::string waited = opts.wait_seconds > 0
                               ? "after waiting " + FormatDuration(static_cast<int64_t>(opts.wait_seconds)) + ", "
                               : "";
      return Status::Busy("snapshot repository " + repo_dir + " is locked by " + who,
                          waited + "retry when it finishes, or pass --lock-wait SECONDS to wait for it");
    }
    if (!announced_wait && opts.log) {
      opts.log("waiting for the repository lock held by " + who);
      announced_wait = true;
    }
    int64_t nap = opts.poll_micros > 0 ? opts.poll_micros : 100000;
    if (deadline - now < nap) nap = deadline - now;
    env->SleepMicros(nap);
  }
}

Status RepoLock::Release() {
  if (!lock_) return Status::OK();
  // The record goes first: a waiter that sees the flock free but the record
  // still present would otherwise report a takeover of a live process.
  Status s = env_->RemoveFile(HolderPath(repo_dir_));
  lock_.reset();
  return s;
}

RepoLock::~RepoLock() { Release().IgnoreError("the flock goes with the file anyway; a stale record is taken over"); }

}  // namespace maestro
