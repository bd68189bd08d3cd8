#include "snapshot/reader_lock.h"

#include "util/env.h"

namespace maestro {

std::string ReaderLock::Path(const std::string& repo_dir) { return JoinPath(repo_dir, "lock.readers"); }

Result<std::unique_ptr<ReaderLock>> ReaderLock::Shared(Env* env, const std::string& repo_dir, double wait_seconds,
                                                       int64_t poll_micros) {
  const int64_t deadline = env->NowMicros() + static_cast<int64_t>(wait_seconds * 1e6);
  for (;;) {
    std::unique_ptr<FileLock> lock;
    Status s = env->TryLockFileShared(Path(repo_dir), &lock);
    if (s.ok()) return std::unique_ptr<ReaderLock>(new ReaderLock(std::move(lock), ""));
    if (!s.IsBusy())
      return std::unique_ptr<ReaderLock>(
          new ReaderLock(nullptr, "reading without the readers' lock (" + s.message() +
                                      "): a prune running now may remove data this command reads"));
    if (env->NowMicros() >= deadline)
      return Status::Busy("snapshot repository " + repo_dir + " is collecting garbage (a `snap prune` or `snap delete`)",
                          "retry when it finishes, or pass --lock-wait SECONDS to wait for it; nothing was read");
    env->SleepMicros(poll_micros);
  }
}

Result<std::unique_ptr<ReaderLock>> ReaderLock::Exclusive(Env* env, const std::string& repo_dir) {
  std::unique_ptr<FileLock> lock;
  Status s = env->TryLockFile(Path(repo_dir), &lock);
  if (s.IsBusy())
    return Status::Busy("a reader (`snap restore --to` or `snap copy`) is reading " + repo_dir,
                        "no data was collected this time; a `snap prune` after it finishes collects it");
  MAESTRO_RETURN_IF_ERROR(s);
  return std::unique_ptr<ReaderLock>(new ReaderLock(std::move(lock), ""));
}

}  // namespace maestro
