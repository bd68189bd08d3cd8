#include "tests/support/fault_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>

namespace maestro {

namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, std::string path, std::unique_ptr<WritableFile> base, uint64_t size)
      : env_(env), path_(std::move(path)), base_(std::move(base)), size_(size) {}
  Status Append(std::string_view data) override {
    MAESTRO_RETURN_IF_ERROR(env_->Before(FaultEnv::Op::kWrite, path_));
    MAESTRO_RETURN_IF_ERROR(base_->Append(data));
    size_ += data.size();
    env_->NoteWritten(path_, size_);
    return Status::OK();
  }
  Status Sync() override {
    MAESTRO_RETURN_IF_ERROR(env_->Before(FaultEnv::Op::kSync, path_));
    MAESTRO_RETURN_IF_ERROR(base_->Sync());
    env_->NoteSynced(path_, size_);
    return Status::OK();
  }
  Status SyncAll() override {
    MAESTRO_RETURN_IF_ERROR(env_->Before(FaultEnv::Op::kSync, path_));
    MAESTRO_RETURN_IF_ERROR(base_->SyncAll());
    env_->NoteSynced(path_, size_);
    env_->NoteMetadataSynced(path_);
    return Status::OK();
  }
  Status Close() override { return base_->Close(); }

  bool SetsMetadata() const override { return base_->SetsMetadata(); }
  Status SetOwner(uint32_t uid, uint32_t gid) override {
    MAESTRO_RETURN_IF_ERROR(env_->BeforeMetadata(path_));
    return base_->SetOwner(uid, gid);
  }
  Status SetMode(uint32_t mode) override {
    MAESTRO_RETURN_IF_ERROR(env_->BeforeMetadata(path_));
    return base_->SetMode(mode);
  }
  Status SetMtime(int64_t mtime_ns) override {
    MAESTRO_RETURN_IF_ERROR(env_->BeforeMetadata(path_));
    return base_->SetMtime(mtime_ns);
  }

 private:
  FaultEnv* env_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
  uint64_t size_;
};

// Writes at any offset; every overwrite of synced bytes is recorded first.
class FaultRandomRWFile final : public RandomRWFile {
 public:
  FaultRandomRWFile(FaultEnv* env, std::string path, std::unique_ptr<RandomRWFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) override {
    return base_->ReadAt(offset, n, scratch, got);
  }
  Status WriteAt(uint64_t offset, std::string_view data) override {
    MAESTRO_RETURN_IF_ERROR(env_->Before(FaultEnv::Op::kWrite, path_));
    MAESTRO_RETURN_IF_ERROR(env_->SaveUndo(path_, base_.get(), offset, data.size()));
    MAESTRO_RETURN_IF_ERROR(base_->WriteAt(offset, data));
    return NoteSize();
  }
  Status Truncate(uint64_t size) override {
    MAESTRO_RETURN_IF_ERROR(env_->Before(FaultEnv::Op::kWrite, path_));
    MAESTRO_RETURN_IF_ERROR(env_->SaveUndo(path_, base_.get(), size, UINT64_MAX - size));
    MAESTRO_RETURN_IF_ERROR(base_->Truncate(size));
    return NoteSize();
  }
  Status Sync() override {
    MAESTRO_RETURN_IF_ERROR(env_->Before(FaultEnv::Op::kSync, path_));
    MAESTRO_RETURN_IF_ERROR(base_->Sync());
    uint64_t size = 0;
    MAESTRO_RETURN_IF_ERROR(base_->Size(&size));
    env_->NoteSynced(path_, size);
    return Status::OK();
  }
  Status Size(uint64_t* size) override { return base_->Size(size); }
  Status Close() override { return base_->Close(); }

 private:
  Status NoteSize() {
    uint64_t size = 0;
    MAESTRO_RETURN_IF_ERROR(base_->Size(&size));
    env_->NoteWritten(path_, size);
    return Status::OK();
  }
  FaultEnv* env_;
  std::string path_;
  std::unique_ptr<RandomRWFile> base_;
};

// Replays an undo log backwards, so the oldest saved bytes (the synced ones) win.
Status PutBackSyncedBytes(const std::string& path, const std::vector<std::pair<uint64_t, std::string>>& undo) {
  if (undo.empty()) return Status::OK();
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status::OK() : PosixError("open " + path, errno);
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
    if (::pwrite(fd, it->second.data(), it->second.size(), static_cast<off_t>(it->first)) !=
        static_cast<ssize_t>(it->second.size())) {
      int e = errno;
      ::close(fd);
      return PosixError("simulated power cut: put back synced bytes of " + path, e);
    }
  }
  ::close(fd);
  return Status::OK();
}

}  // namespace

const char* FaultEnv::OpName(Op op) {
  static const char* names[] = {"create", "write", "sync", "rename", "remove", "mkdir", "syncdir", "lock"};
  return names[static_cast<int>(op)];
}

void FaultEnv::FailAt(Op op, int nth, int err, bool sticky) {
  std::lock_guard<std::mutex> l(mu_);
  faults_.push_back({op, nth, err, sticky, false});
}

void FaultEnv::PowerCutAt(Op op, int nth) {
  std::lock_guard<std::mutex> l(mu_);
  faults_.push_back({op, nth, EIO, true, true});
}

void FaultEnv::ExitOnPowerCut(int code) {
  std::lock_guard<std::mutex> l(mu_);
  exit_code_ = code;
}

bool FaultEnv::frozen() const {
  std::lock_guard<std::mutex> l(mu_);
  return frozen_;
}

void FaultEnv::ClearFaults() {
  std::lock_guard<std::mutex> l(mu_);
  faults_.clear();
  frozen_ = false;
}

int FaultEnv::Count(Op op) const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_[static_cast<int>(op)];
}

void FaultEnv::ResetCounts() {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& c : counts_) c = 0;
}

Status FaultEnv::Before(Op op, const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  int n = ++counts_[static_cast<int>(op)];
  if (frozen_) return PosixError(std::string("power cut (") + OpName(op) + ") " + path, EIO);
  for (const auto& f : faults_) {
    if (f.op != op) continue;
    if (n == f.nth || (f.sticky && n > f.nth)) {
      if (f.power_cut) {
        frozen_ = true;
        if (exit_code_ >= 0) {
          // The machine stops here: what was not durable is gone, nothing more runs.
          Status dropped = DropLocked();
          std::fflush(nullptr);
          ::_exit(dropped.ok() ? exit_code_ : 1);
        }
        return PosixError(std::string("power cut (") + OpName(op) + ") " + path, EIO);
      }
      return PosixError(std::string("injected fault (") + OpName(op) + ") " + path, f.err);
    }
  }
  return Status::OK();
}

void FaultEnv::NoteSynced(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  FileState& st = files_[path];
  st.synced = size;
  st.written = size;
  st.undo.clear();
}

Status FaultEnv::SaveUndo(const std::string& path, RandomRWFile* file, uint64_t offset, uint64_t n) {
  std::lock_guard<std::mutex> l(mu_);
  FileState& st = files_[path];
  if (offset >= st.synced || n == 0) return Status::OK();
  uint64_t end = n > st.synced - offset ? st.synced : offset + n;
  std::string old(static_cast<size_t>(end - offset), '\0');
  size_t got = 0;
  MAESTRO_RETURN_IF_ERROR(file->ReadAt(offset, old.size(), old.data(), &got));
  old.resize(got);  // a file shorter than its synced size (truncated before): nothing more to keep
  if (!old.empty()) st.undo.emplace_back(offset, std::move(old));
  return Status::OK();
}

void FaultEnv::NoteWritten(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  files_[path].written = size;
}

Status FaultEnv::BeforeMetadata(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (frozen_) return PosixError("power cut (metadata) " + path, EIO);
  if (metadata_.count(path)) return Status::OK();  // the durable one is kept already
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(base_->Stat(path, &fi));
  if (fi.exists && !fi.is_symlink) metadata_[path] = {fi.mode, fi.uid, fi.gid, fi.mtime_ns};
  return Status::OK();
}

void FaultEnv::NoteMetadataSynced(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  metadata_.erase(path);
}

Status FaultEnv::SetMtime(const std::string& p, int64_t ns) {
  MAESTRO_RETURN_IF_ERROR(BeforeMetadata(p));
  return base_->SetMtime(p, ns);
}

Status FaultEnv::Chmod(const std::string& p, uint32_t m) {
  MAESTRO_RETURN_IF_ERROR(BeforeMetadata(p));
  return base_->Chmod(p, m);
}

Status FaultEnv::Chown(const std::string& p, uint32_t u, uint32_t g) {
  MAESTRO_RETURN_IF_ERROR(BeforeMetadata(p));
  return base_->Chown(p, u, g);
}

Status FaultEnv::NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* out, uint32_t mode) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kCreate, p));
  bool existed = base_->FileExists(p);
  std::unique_ptr<WritableFile> f;
  MAESTRO_RETURN_IF_ERROR(base_->NewWritableFile(p, &f, mode));
  {
    std::lock_guard<std::mutex> l(mu_);
    FileState& st = files_[p];
    st.synced = 0;  // truncated: old content is gone only once synced, but we model the harsh case
    st.written = 0;
    st.undo.clear();
    st.new_entry = st.new_entry || !existed;
    if (!existed) metadata_.erase(p);
  }
  out->reset(new FaultWritableFile(this, p, std::move(f), 0));
  return Status::OK();
}

Status FaultEnv::NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* out, uint32_t mode) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kCreate, p));
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(base_->Stat(p, &fi));
  std::unique_ptr<WritableFile> f;
  MAESTRO_RETURN_IF_ERROR(base_->NewAppendableFile(p, &f, mode));
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(p);
    if (it == files_.end()) {
      FileState st;
      st.synced = fi.size;
      st.written = fi.size;
      st.new_entry = !fi.exists;
      files_[p] = st;
    }
  }
  out->reset(new FaultWritableFile(this, p, std::move(f), fi.size));
  return Status::OK();
}

Status FaultEnv::NewRandomRWFile(const std::string& p, std::unique_ptr<RandomRWFile>* out, bool create,
                                 uint32_t mode) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(base_->Stat(p, &fi));
  // Opening an existing file changes nothing; creating one is a mutation.
  if (!fi.exists && create) MAESTRO_RETURN_IF_ERROR(Before(Op::kCreate, p));
  std::unique_ptr<RandomRWFile> f;
  MAESTRO_RETURN_IF_ERROR(base_->NewRandomRWFile(p, &f, create, mode));
  {
    std::lock_guard<std::mutex> l(mu_);
    if (files_.find(p) == files_.end()) {
      FileState st;
      st.synced = fi.size;
      st.written = fi.size;
      st.new_entry = !fi.exists;
      files_[p] = st;
    }
  }
  out->reset(new FaultRandomRWFile(this, p, std::move(f)));
  return Status::OK();
}

Status FaultEnv::CreateDir(const std::string& d, uint32_t mode) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kMkdir, d));
  bool existed = base_->DirExists(d);
  MAESTRO_RETURN_IF_ERROR(base_->CreateDir(d, mode));
  if (!existed) {
    std::lock_guard<std::mutex> l(mu_);
    new_dirs_.push_back(d);
  }
  return Status::OK();
}

Status FaultEnv::RemoveFile(const std::string& p) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kRemove, p));
  MAESTRO_RETURN_IF_ERROR(base_->RemoveFile(p));
  std::lock_guard<std::mutex> l(mu_);
  files_.erase(p);
  metadata_.erase(p);
  return Status::OK();
}

Status FaultEnv::RemoveDir(const std::string& d) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kRemove, d));
  return base_->RemoveDir(d);
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kRename, from));
  // Keep the replaced file reachable (a hard link) so a power cut can bring it back.
  std::string saved;
  if (base_->FileExists(to) && !base_->DirExists(to)) {
    static int n = 0;
    saved = to + ".faultenv-saved-" + std::to_string(++n);
    if (::link(to.c_str(), saved.c_str()) != 0) saved.clear();
  }
  Status rs = base_->Rename(from, to);
  if (!rs.ok()) {
    if (!saved.empty()) ::unlink(saved.c_str());
    return rs;
  }
  std::lock_guard<std::mutex> l(mu_);
  MoveTrackedLocked(from, to);
  renames_.push_back({from, to, saved});
  return Status::OK();
}

namespace {

// path at or under from: *out = the same path under to.
bool Rebase(const std::string& path, const std::string& from, const std::string& to, std::string* out) {
  if (!IsAtOrUnder(path, from)) return false;
  *out = to + path.substr(from.size());
  return true;
}

template <typename Map>
void RebaseKeys(Map* m, const std::string& from, const std::string& to) {
  Map moved;
  for (auto it = m->begin(); it != m->end();) {
    std::string now;
    if (Rebase(it->first, from, to, &now)) {
      moved[now] = std::move(it->second);
      it = m->erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [k, v] : moved) (*m)[k] = std::move(v);  // replaces what `to` held
}

}  // namespace

void FaultEnv::MoveTrackedLocked(const std::string& from, const std::string& to) {
  RebaseKeys(&files_, from, to);
  RebaseKeys(&metadata_, from, to);
  for (auto& d : new_dirs_) {
    std::string now;
    if (Rebase(d, from, to, &now)) d = now;
  }
}

Status FaultEnv::SyncDir(const std::string& d) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kSyncDir, d));
  MAESTRO_RETURN_IF_ERROR(base_->SyncDir(d));
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [path, st] : files_)
    if (DirName(path) == d) st.new_entry = false;
  std::vector<PendingRename> keep;
  for (auto& r : renames_) {
    if (DirName(r.to) != d) keep.push_back(r);
    else if (!r.saved.empty()) ::unlink(r.saved.c_str());
  }
  renames_.swap(keep);
  metadata_.erase(d);  // a folder's fsync flushes its own inode too
  std::vector<std::string> dirs;
  for (auto& nd : new_dirs_)
    if (DirName(nd) != d) dirs.push_back(nd);
  new_dirs_.swap(dirs);
  return Status::OK();
}

Status FaultEnv::Symlink(const std::string& t, const std::string& p) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kCreate, p));
  return base_->Symlink(t, p);
}

Status FaultEnv::TryLockFile(const std::string& p, std::unique_ptr<FileLock>* l) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kLock, p));
  return base_->TryLockFile(p, l);
}

Status FaultEnv::TryLockFileShared(const std::string& p, std::unique_ptr<FileLock>* l) {
  MAESTRO_RETURN_IF_ERROR(Before(Op::kLock, p));
  return base_->TryLockFileShared(p, l);
}

Status FaultEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> l(mu_);
  return DropLocked();
}

Status FaultEnv::DropLocked() {
  // Undo non-durable renames, newest first.
  for (auto it = renames_.rbegin(); it != renames_.rend(); ++it) {
    if (base_->FileExists(it->to) && !base_->FileExists(it->from)) {
      base_->Rename(it->to, it->from).IgnoreError("simulated power cut: best-effort undo of a non-durable rename");
      if (!it->saved.empty())
        base_->Rename(it->saved, it->to).IgnoreError("simulated power cut: best-effort undo of a non-durable rename");
      MoveTrackedLocked(it->to, it->from);
    }
  }
  renames_.clear();
  for (auto& [path, st] : files_) {
    if (st.new_entry) {
      base_->RemoveFile(path).IgnoreError("simulated power cut: a file never made durable vanishes if it can");
    } else if (st.written != st.synced || !st.undo.empty()) {
      MAESTRO_RETURN_IF_ERROR(PutBackSyncedBytes(path, st.undo));
      if (::truncate(path.c_str(), static_cast<off_t>(st.synced)) != 0 && errno != ENOENT)
        return PosixError("truncate " + path, errno);
    }
  }
  files_.clear();
  for (auto it = new_dirs_.rbegin(); it != new_dirs_.rend(); ++it)
    base_->RemoveTree(*it).IgnoreError("simulated power cut: a directory never made durable vanishes if it can");
  new_dirs_.clear();
  // Owner first (a chown clears setuid bits), then mode and mtime, as they were at their last fsync.
  for (const auto& [path, was] : metadata_) {
    FileInfo fi;
    if (!base_->Stat(path, &fi).ok() || !fi.exists || fi.is_symlink) continue;
    if (fi.uid != was.uid || fi.gid != was.gid)
      base_->Chown(path, was.uid, was.gid).IgnoreError("simulated power cut: an unsynced owner is lost if it can be");
    base_->Chmod(path, was.mode).IgnoreError("simulated power cut: an unsynced mode is lost");
    base_->SetMtime(path, was.mtime_ns).IgnoreError("simulated power cut: an unsynced mtime is lost");
  }
  metadata_.clear();
  frozen_ = false;
  faults_.clear();
  return Status::OK();
}

}  // namespace maestro
