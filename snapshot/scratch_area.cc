#include "snapshot/scratch_area.h"

#include <unistd.h>

#include <atomic>

#include "snapshot/repo_files.h"

namespace maestro {

namespace {
std::atomic<uint64_t> g_areas{0};
const char kPrefix[] = "work-";
}  // namespace

ScratchArea::~ScratchArea() {
  if (dir_.empty()) return;
  (void)env_->RemoveTree(dir_);
  lock_.reset();
  (void)env_->RemoveFile(dir_ + ".lock");
  // The parent too when this was its last area: a cache/ folder left empty in
  // the repository is 4 KiB of directory that du counts as growth of every
  // snapshot that first spilled (issue 14 point 1). Fails, harmlessly, while
  // another area or its lock file is there; Open makes the folder again.
  (void)env_->RemoveDir(parent_);
}

Status ScratchArea::RemoveStale() {
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env_->ListDir(parent_, &entries));
  for (const auto& e : entries) {
    if (e.name.compare(0, sizeof kPrefix - 1, kPrefix) != 0) continue;
    const bool is_lock = EndsWith(e.name, ".lock");
    const std::string dir = JoinPath(parent_, is_lock ? e.name.substr(0, e.name.size() - 5) : e.name);
    if (is_lock && env_->DirExists(dir)) continue;  // seen with its folder
    std::unique_ptr<FileLock> theirs;
    // A live owner's lock is Busy; a folder whose lock file is gone lost its
    // owner mid-removal; a lock file alone, its owner before it made the folder.
    if (env_->FileExists(dir + ".lock") && !env_->TryLockFile(dir + ".lock", &theirs).ok()) continue;
    MAESTRO_RETURN_IF_ERROR(env_->RemoveTree(dir));
    theirs.reset();
    MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(dir + ".lock"));
  }
  return Status::OK();
}

Status ScratchArea::Open() {
  if (!dir_.empty()) return Status::OK();
  const std::string hint = "it needs free space in " + parent_ +
                           " (scratch files of the index, removed afterwards); free some space and retry";
  Status s;
  // Another process's last area removes the parent when it ends (~ScratchArea):
  // between our making it and our lock file appearing in it, it can vanish, so a
  // NotFound there means make it again. Once the lock file is in, it stays.
  for (int attempt = 0;; ++attempt) {
    s = TryOpen();
    if (s.ok() || !s.IsNotFound() || attempt == 4) break;
  }
  if (!s.ok()) return s.Annotate("making a scratch folder; " + hint);
  return Status::OK();
}

Status ScratchArea::TryOpen() {
  Status s = env_->CreateDirs(parent_, 0700);
  if (s.ok()) s = RemoveStale();
  std::string dir = JoinPath(parent_, kPrefix + std::to_string(::getpid()) + "-" + std::to_string(g_areas++) + "-" +
                                          std::to_string(env_->NowMicros()));
  if (s.ok()) s = env_->TryLockFile(dir + ".lock", &lock_);
  if (s.ok()) s = env_->CreateDir(dir, 0700);
  if (!s.ok()) {
    lock_.reset();
    (void)env_->RemoveFile(dir + ".lock");
    return s;
  }
  dir_ = std::move(dir);
  return Status::OK();
}

std::string ScratchArea::NewPath(const std::string& stem) { return JoinPath(dir_, stem + "-" + std::to_string(next_++)); }

}  // namespace maestro
