#include "snapshot/reader_lock.h"

#include "snapshot/rclone_backend.h"
#include "snapshot/repo_access.h"
#include "util/env.h"

namespace maestro {

namespace {

// Read from other hosts too (reader_lock.h): the lock is an object there.
bool IsRemote(const Backend& b) { return IsRcloneSpec(b.Location()); }

RemoteLockOptions RemoteOptions(RemoteLockMode mode, double wait_seconds, int64_t poll_micros) {
  RemoteLockOptions o;
  o.mode = mode;
  o.wait_seconds = wait_seconds;
  o.poll_micros = poll_micros;
  return o;
}

}  // namespace

std::string ReaderLock::Path(const std::string& repo_dir) { return JoinPath(repo_dir, "lock.readers"); }

std::unique_ptr<ReaderLock> ReaderLock::Unheld(const Status& why) {
  return std::unique_ptr<ReaderLock>(new ReaderLock(nullptr, nullptr,
                                                    "reading without the readers' lock (" + why.message() +
                                                        "): a prune running now may remove data this command reads"));
}

Result<std::unique_ptr<ReaderLock>> ReaderLock::Shared(Env* env, const std::string& repo_dir, double wait_seconds,
                                                       int64_t poll_micros) {
  const int64_t deadline = env->NowMicros() + static_cast<int64_t>(wait_seconds * 1e6);
  for (;;) {
    std::unique_ptr<FileLock> lock;
    Status s = env->TryLockFileShared(Path(repo_dir), &lock);
    if (s.ok()) return std::unique_ptr<ReaderLock>(new ReaderLock(std::move(lock), nullptr, ""));
    if (!s.IsBusy())
      return Unheld(s);
    if (env->NowMicros() >= deadline)
      return Status::Busy("snapshot repository " + repo_dir + " is collecting garbage (a `snap prune` or `snap delete`)",
                          "retry when it finishes, or pass --lock-wait SECONDS to wait for it; nothing was read");
    env->SleepMicros(poll_micros);
  }
}

Result<std::unique_ptr<ReaderLock>> ReaderLock::Shared(Repository* repo, double wait_seconds, int64_t poll_micros) {
  const RepoFiles* files = RepoFilesOf(repo);
  if (files == nullptr || !IsRemote(*files->backend()))
    return Shared(files ? files->env() : Env::Default(), repo->dir(), wait_seconds, poll_micros);
  Result<std::unique_ptr<RemoteLock>> lock = RemoteLock::Acquire(
      files->backend(), files->env(), RemoteOptions(RemoteLockMode::kReader, wait_seconds, poll_micros));
  if (lock.ok()) return std::unique_ptr<ReaderLock>(new ReaderLock(nullptr, std::move(lock).value(), ""));
  if (lock.status().IsBusy()) return lock.status();
  return Unheld(lock.status());
}

Result<std::unique_ptr<ReaderLock>> ReaderLock::Exclusive(Env* env, const std::string& repo_dir) {
  std::unique_ptr<FileLock> lock;
  Status s = env->TryLockFile(Path(repo_dir), &lock);
  if (s.IsBusy())
    return Status::Busy("a reader (`snap restore --to`, `snap copy` or `snap verify`) is reading " + repo_dir,
                        "no data was collected this time; a `snap prune` after it finishes collects it");
  MAESTRO_RETURN_IF_ERROR(s);
  return std::unique_ptr<ReaderLock>(new ReaderLock(std::move(lock), nullptr, ""));
}

Result<std::unique_ptr<ReaderLock>> ReaderLock::Exclusive(const RepoFiles& files) {
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> local, Exclusive(files.env(), files.dir()));
  if (!IsRemote(*files.backend())) return local;
  MAESTRO_ASSIGN_OR_RETURN(local->remote_,
                           RemoteLock::Acquire(files.backend(), files.env(),
                                               RemoteOptions(RemoteLockMode::kCollector, 0, 100000)));
  return local;
}

}  // namespace maestro
