// snapshot/remote_lock.cc — lease-based writer lock over a Backend (see the header).
#include "snapshot/remote_lock.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include "util/hash.h"
#include "util/time_util.h"

namespace maestro {

namespace {

constexpr char kMagicLine[] = "maestro-db remote lock\n";
constexpr char kTombstoneSuffix[] = ".released";
constexpr int64_t kDefaultLeaseSeconds = 15 * 60;

std::string ThisHost() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

std::string SelfCommandLine(Env* env) {
  std::string raw;
  if (!env->ReadFileToString("/proc/self/cmdline", &raw).ok() || raw.empty()) return "pid " + std::to_string(::getpid());
  for (char& c : raw)
    if (c == '\0' || c == '\n' || c == '\r') c = ' ';
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  return raw;
}

uint64_t RandomU64() {
  static std::mutex mu;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard<std::mutex> l(mu);
  return gen();
}

std::string NewObjectName(int64_t now_micros) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%017lld-%016llx", static_cast<long long>(now_micros),
                static_cast<unsigned long long>(RandomU64()));
  return buf;
}

// The time in a lock object's name, 0 if the name has none.
int64_t NameMicros(const std::string& name) {
  if (name.size() < 17) return 0;
  int64_t v = 0;
  for (size_t i = 0; i < 17; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

const char* ModeName(RemoteLockMode m) {
  switch (m) {
    case RemoteLockMode::kReader:
      return "reader";
    case RemoteLockMode::kCollector:
      return "collector";
    case RemoteLockMode::kWriter:
      break;
  }
  return "writer";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct LockScan {
  std::vector<RemoteLockRecord> locks;
  std::set<std::string> released;  // names with a tombstone
};

Status Scan(Backend* b, LockScan* out) {
  std::vector<ObjectInfo> list;
  MAESTRO_RETURN_IF_ERROR(b->List(ObjectKind::kLock, &list));
  for (const ObjectInfo& o : list) {
    if (EndsWith(o.name, kTombstoneSuffix)) out->released.insert(o.name.substr(0, o.name.size() - 9));
  }
  for (const ObjectInfo& o : list) {
    if (EndsWith(o.name, kTombstoneSuffix) || out->released.count(o.name)) continue;
    std::string text;
    Status st = b->Get(ObjectKind::kLock, o.name, &text);
    if (st.IsNotFound()) continue;  // released meanwhile
    MAESTRO_RETURN_IF_ERROR(st);
    auto rec = RemoteLockRecord::Decode(o.name, text);
    if (rec.ok()) {
      out->locks.push_back(*rec);
    } else {
      RemoteLockRecord unknown;  // a partial upload: a lock of unknown holder, dated by its name
      unknown.object = o.name;
      unknown.readable = false;
      unknown.refreshed_micros = NameMicros(o.name);
      unknown.lease_seconds = kDefaultLeaseSeconds;
      out->locks.push_back(unknown);
    }
  }
  return Status::OK();
}

// Whether a live lock of mode `other` keeps a lock of mode `self` from being
// taken (the header's "Modes"). An unreadable object may be of any mode: it
// holds off writers and collectors (skipping a GC is safe), not readers.
bool Blocks(RemoteLockMode self, const RemoteLockRecord& other) {
  switch (self) {
    case RemoteLockMode::kWriter:
      return other.mode != RemoteLockMode::kReader;
    case RemoteLockMode::kReader:
      return other.readable && other.mode == RemoteLockMode::kCollector;
    case RemoteLockMode::kCollector:
      return !other.readable || other.mode == RemoteLockMode::kReader;
  }
  return true;
}

bool IsLive(const RemoteLockRecord& r, int64_t now, const std::string& host) {
  if (now >= r.ExpiresMicros()) return false;
  if (r.readable && r.holder.host == host && r.holder.pid > 0 && !RepoLock::ProcessAlive(r.holder.pid)) return false;
  return true;
}

}  // namespace

std::string RemoteLockRecord::Describe() const {
  std::string who = readable ? holder.Describe() : "an unreadable lock object (a partial upload?)";
  return who + ", lease until " + FormatIso8601(ExpiresMicros()) + " (locks/" + object + ")";
}

std::string RemoteLockRecord::Encode() const {
  std::string body = std::string(kMagicLine) + holder.Encode() + "refreshed=" + std::to_string(refreshed_micros) +
                     "\nlease_seconds=" + std::to_string(lease_seconds) + "\n";
  if (mode != RemoteLockMode::kWriter) body += std::string("mode=") + ModeName(mode) + "\n";
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%016llx", static_cast<unsigned long long>(Xxh64(body)));
  return body + "checksum=" + sum + "\n";
}

Result<RemoteLockRecord> RemoteLockRecord::Decode(const std::string& object, const std::string& text) {
  size_t at = text.rfind("checksum=");
  if (text.compare(0, sizeof(kMagicLine) - 1, kMagicLine) != 0 || at == std::string::npos || text.back() != '\n') {
    return Status::Corruption("locks/" + object + ": not a whole lock object");
  }
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%016llx", static_cast<unsigned long long>(Xxh64(std::string_view(text).substr(0, at))));
  if (text.substr(at + 9, 16) != sum) return Status::Corruption("locks/" + object + ": checksum mismatch");
  RemoteLockRecord r;
  r.object = object;
  MAESTRO_ASSIGN_OR_RETURN(r.holder, LockHolder::Decode(text.substr(0, at)));
  for (const char* key : {"\nrefreshed=", "\nlease_seconds="}) {
    size_t k = text.find(key);
    if (k == std::string::npos) return Status::Corruption("locks/" + object + ": no " + std::string(key + 1));
    int64_t v = std::strtoll(text.c_str() + k + std::string(key).size(), nullptr, 10);
    (std::string(key) == "\nrefreshed=" ? r.refreshed_micros : r.lease_seconds) = v;
  }
  if (r.lease_seconds <= 0) return Status::Corruption("locks/" + object + ": bad lease");
  size_t m = text.find("\nmode=");
  if (m != std::string::npos && m < at) {
    std::string name = text.substr(m + 6, text.find('\n', m + 6) - (m + 6));
    if (name == ModeName(RemoteLockMode::kReader)) {
      r.mode = RemoteLockMode::kReader;
    } else if (name == ModeName(RemoteLockMode::kCollector)) {
      r.mode = RemoteLockMode::kCollector;
    } else {
      return Status::Corruption("locks/" + object + ": unknown mode '" + name + "'");
    }
  }
  return r;
}

Status RemoteLock::ListLive(Backend* backend, Env* env, std::vector<RemoteLockRecord>* out) {
  LockScan scan;
  MAESTRO_RETURN_IF_ERROR(Scan(backend, &scan));
  out->clear();
  int64_t now = env->NowMicros();
  std::string host = ThisHost();
  for (const RemoteLockRecord& r : scan.locks)
    if (IsLive(r, now, host)) out->push_back(r);
  return Status::OK();
}

RemoteLock::RemoteLock(Backend* b, Env* env, RemoteLockOptions opts, RemoteLockRecord rec)
    : backend_(b), env_(env), opts_(std::move(opts)), record_(std::move(rec)) {
  last_good_micros_ = record_.refreshed_micros;
  if (opts_.refresher) refresher_ = std::thread([this] { RefreshLoop(); });
}

RemoteLock::~RemoteLock() { Release().IgnoreError("the lease frees the lock if the remote is gone"); }

namespace {

// Removes a lock object; a tombstone when the remote refuses the delete.
Status Withdraw(Backend* b, const std::string& name) {
  Status st = b->Remove(ObjectKind::kLock, name);
  if (st.ok()) return st;
  Status tomb = b->Put(ObjectKind::kLock, name + kTombstoneSuffix, "released\n");
  return tomb.ok() ? Status::OK() : st;
}

Status BusyError(Backend* b, RemoteLockMode self, const std::vector<RemoteLockRecord>& others) {
  const RemoteLockRecord* newest = &others.front();
  for (const RemoteLockRecord& r : others)
    if (r.refreshed_micros > newest->refreshed_micros) newest = &r;
  if (self == RemoteLockMode::kReader)
    return Status::Busy(b->Location() + " is collecting garbage (a `snap prune` or `snap delete`): " +
                            newest->Describe(),
                        "retry when it finishes, or pass --lock-wait SECONDS to wait for it; nothing was read. If "
                        "that host crashed, its lock frees itself when its lease runs out");
  if (self == RemoteLockMode::kCollector)
    return Status::Busy("a reader is reading " + b->Location() + ": " + newest->Describe(),
                        "no data was collected this time; a `snap prune` after it finishes collects it");
  return Status::Busy(b->Location() + " is locked by " + newest->Describe() +
                      ": wait for it (--lock-wait SECONDS); if that host crashed, the lock frees itself when its "
                      "lease runs out, or delete that lock object to free it now");
}

}  // namespace

Result<std::unique_ptr<RemoteLock>> RemoteLock::Acquire(Backend* backend, Env* env, const RemoteLockOptions& opts) {
  const std::string host = ThisHost();
  const int64_t deadline = env->NowMicros() + static_cast<int64_t>(opts.wait_seconds * 1e6);
  RemoteLockRecord own;
  own.holder.pid = static_cast<int>(::getpid());
  own.holder.host = host;
  own.holder.command = opts.command.empty() ? SelfCommandLine(env) : opts.command;
  own.lease_seconds = opts.lease_seconds;
  own.mode = opts.mode;
  std::set<std::string> reported;
  bool told_waiting = false;
  for (;;) {
    LockScan scan;
    MAESTRO_RETURN_IF_ERROR(Scan(backend, &scan));
    int64_t now = env->NowMicros();
    std::vector<RemoteLockRecord> others;
    for (const RemoteLockRecord& r : scan.locks) {
      if (r.object == own.object) continue;
      if (IsLive(r, now, host)) {
        if (Blocks(opts.mode, r)) others.push_back(r);
      } else if (reported.insert(r.object).second) {
        if (opts.log) opts.log("ignoring the expired lock of " + r.Describe());
        Withdraw(backend, r.object).IgnoreError("an expired lock is ignored whether or not it can be removed");
      }
    }
    if (others.empty() && !own.object.empty()) break;  // ours was written and no rival appeared
    if (others.empty()) {
      own.object = NewObjectName(now);
      own.holder.since_micros = own.refreshed_micros = now;
      MAESTRO_RETURN_IF_ERROR(backend->Put(ObjectKind::kLock, own.object, own.Encode()));
      continue;  // look again: a rival may have written its own meanwhile
    }
    bool collided = !own.object.empty();
    if (collided) {
      MAESTRO_RETURN_IF_ERROR(Withdraw(backend, own.object));
      own.object.clear();
    }
    if (now >= deadline) return BusyError(backend, opts.mode, others);
    if (!told_waiting && opts.log) opts.log("waiting for the lock of " + others.front().Describe());
    told_waiting = true;
    int64_t pause = opts.poll_micros;
    if (collided) pause = pause / 2 + static_cast<int64_t>(RandomU64() % static_cast<uint64_t>(pause + 1));
    env->SleepMicros(std::min(pause, std::max<int64_t>(deadline - now, 1000)));
  }
  return std::unique_ptr<RemoteLock>(new RemoteLock(backend, env, opts, std::move(own)));
}

Status RemoteLock::Refresh() {
  std::lock_guard<std::mutex> l(mu_);
  if (released_) return Status::Internal("refresh of a released remote lock");
  RemoteLockRecord next = record_;
  int64_t now = env_->NowMicros();
  next.object = NewObjectName(now);
  next.refreshed_micros = now;
  MAESTRO_RETURN_IF_ERROR(backend_->Put(ObjectKind::kLock, next.object, next.Encode()));
  if (!backend_->Remove(ObjectKind::kLock, record_.object).ok()) unremoved_.push_back(record_.object);
  record_ = std::move(next);
  last_good_micros_ = now;
  return Status::OK();
}

bool RemoteLock::Valid() const {
  return env_->NowMicros() - last_good_micros_.load() < opts_.lease_seconds * 1000000;
}

void RemoteLock::RefreshLoop() {
  const auto interval = std::chrono::microseconds(opts_.lease_seconds * 1000000 / 3);
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    if (cv_.wait_for(l, interval, [this] { return stop_; })) break;
    l.unlock();
    Status st = Refresh();
    if (!st.ok() && opts_.log) opts_.log("could not refresh the remote lock (retrying): " + st.ToString());
    l.lock();
  }
}

void RemoteLock::StopRefresher() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

Status RemoteLock::Release() {
  StopRefresher();
  std::lock_guard<std::mutex> l(mu_);
  if (released_) return Status::OK();
  released_ = true;
  Status first = Withdraw(backend_, record_.object);
  for (const std::string& old : unremoved_) {
    Status st = Withdraw(backend_, old);
    if (first.ok()) first = st;
  }
  return first;
}

}  // namespace maestro
