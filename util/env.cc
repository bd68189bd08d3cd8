#include "util/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <climits>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace maestro {

Status PosixError(const std::string& context, int err_number) {
  std::string msg = context + ": " + std::strerror(err_number);
  Status s;
  switch (err_number) {
    case ENOENT: s = Status::NotFound(msg); break;
    case EWOULDBLOCK: s = Status::Busy(msg); break;
    case ENOSPC:
    case EDQUOT:
      s = Status::IoError(msg + " (the disk is full: free space, then run the command again)");
      break;
    case EACCES:
    case EPERM:
      s = Status::IoError(msg + " (run maestro-db as the user that owns the install, as the app's container "
                                "does, or as root; or fix that file's owner and mode)");
      break;
    case ENAMETOOLONG:
      s = Status::IoError(msg + " (a path longer than the system takes, 4096 bytes: move or rename that "
                                "folder to a shorter path)");
      break;
    case EROFS:
      s = Status::IoError(msg + " (the file system is mounted read-only: this command writes there)");
      break;
    default: s = Status::IoError(msg); break;
  }
  s.WithErrno(err_number);
  return s;
}

namespace {

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }
  Status Read(size_t n, char* scratch, size_t* got) override {
    while (true) {
      ssize_t r = ::read(fd_, scratch, n);
      if (r < 0) {
        if (errno == EINTR) continue;
        *got = 0;
        return PosixError("read " + path_, errno);
      }
      *got = static_cast<size_t>(r);
      return Status::OK();
    }
  }

 private:
  std::string path_;
  int fd_;
};

// pread until n bytes or end of file (*got says how many); EINTR retried.
Status PreadFully(int fd, const std::string& path, uint64_t offset, size_t n, char* scratch, size_t* got) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, scratch + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      *got = done;
      return PosixError("read " + path, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  *got = done;
  return Status::OK();
}

// The write, sync and close steps both writable files share.
Status PwriteFully(int fd, const std::string& path, uint64_t offset, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return PosixError("write " + path, errno);
    }
    done += static_cast<size_t>(w);
  }
  return Status::OK();
}

Status SyncFd(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) return PosixError("fsync " + path, errno);
  return Status::OK();
}

Status SyncFdAll(int fd, const std::string& path) {
  if (::fsync(fd) != 0) return PosixError("fsync " + path, errno);
  return Status::OK();
}

// Closes *fd once (-1 after); a second call is OK.
Status CloseFd(int* fd, const std::string& path) {
  if (*fd < 0) return Status::OK();
  int was = *fd;
  *fd = -1;
  if (::close(was) != 0) return PosixError("close " + path, errno);
  return Status::OK();
}

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }
  Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) const override {
    return PreadFully(fd_, path_, offset, n, scratch, got);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { Close().IgnoreError("a destructor cannot report; callers that care Close() first"); }
  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        return PosixError("write " + path_, errno);
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    return Status::OK();
  }
  Status Sync() override { return SyncFd(fd_, path_); }
  Status SyncAll() override { return SyncFdAll(fd_, path_); }
  Status Close() override { return CloseFd(&fd_, path_); }

  bool SetsMetadata() const override { return true; }
  Status SetOwner(uint32_t uid, uint32_t gid) override {
    if (::fchown(fd_, uid, gid) != 0)
      return PosixError("chown " + path_ + " to " + std::to_string(uid) + ":" + std::to_string(gid), errno);
    return Status::OK();
  }
  Status SetMode(uint32_t mode) override {
    if (::fchmod(fd_, mode) != 0) return PosixError("chmod " + path_, errno);
    return Status::OK();
  }
  Status SetMtime(int64_t mtime_ns) override {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = mtime_ns / 1000000000LL;
    ts[1].tv_nsec = mtime_ns % 1000000000LL;
    if (::futimens(fd_, ts) != 0) return PosixError("set mtime " + path_, errno);
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
};

class PosixRandomRWFile final : public RandomRWFile {
 public:
  PosixRandomRWFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomRWFile() override { Close().IgnoreError("a destructor cannot report; callers that care Close() first"); }
  Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) override {
    return PreadFully(fd_, path_, offset, n, scratch, got);
  }
  Status WriteAt(uint64_t offset, std::string_view data) override { return PwriteFully(fd_, path_, offset, data); }
  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return PosixError("truncate " + path_, errno);
    return Status::OK();
  }
  Status Sync() override { return SyncFd(fd_, path_); }
  Status Size(uint64_t* size) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError("stat " + path_, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }
  Status Close() override { return CloseFd(&fd_, path_); }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

// flock()s path (made if missing), not waiting: Busy while another open file
// description holds it in a conflicting mode. A shared lock of a file this
// process may only read goes through a read-only descriptor (flock needs no
// write access).
Status FlockFile(const std::string& path, bool shared, std::unique_ptr<FileLock>* lock) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 && shared && (errno == EACCES || errno == EROFS)) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open lock " + path, errno);
  if (::flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK)
      return Status::Busy("lock " + path + " is held " + (shared ? "exclusively " : "") + "by another process");
    return PosixError("lock " + path, e);
  }
  lock->reset(new PosixFileLock(fd));
  return Status::OK();
}

class PosixEnv final : public Env {
 public:
  Status NewSequentialFile(const std::string& path, std::unique_ptr<SequentialFile>* out) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + path, errno);
    out->reset(new PosixSequentialFile(path, fd));
    return Status::OK();
  }
  Status NewRandomAccessFile(const std::string& path, std::unique_ptr<RandomAccessFile>* out) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + path, errno);
    out->reset(new PosixRandomAccessFile(path, fd));
    return Status::OK();
  }
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out, uint32_t mode) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return PosixError("create " + path, errno);
    out->reset(new PosixWritableFile(path, fd));
    return Status::OK();
  }
  Status NewExclusiveFile(const std::string& path, std::unique_ptr<WritableFile>* out, uint32_t mode) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return PosixError("create " + path, errno);
    out->reset(new PosixWritableFile(path, fd));
    return Status::OK();
  }
  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out, uint32_t mode) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
    if (fd < 0) return PosixError("open " + path, errno);
    out->reset(new PosixWritableFile(path, fd));
    return Status::OK();
  }
  Status NewRandomRWFile(const std::string& path, std::unique_ptr<RandomRWFile>* out, bool create,
                         uint32_t mode) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), mode);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound("open " + path + ": no such file");
      return PosixError("open " + path, errno);
    }
    out->reset(new PosixRandomRWFile(path, fd));
    return Status::OK();
  }
  Status Stat(const std::string& path, FileInfo* info) override {
    struct stat st;
    *info = FileInfo();
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
      return PosixError("stat " + path, errno);
    }
    info->exists = true;
    info->is_dir = S_ISDIR(st.st_mode);
    info->is_regular = S_ISREG(st.st_mode);
    info->is_symlink = S_ISLNK(st.st_mode);
    info->special = S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ? "socket" : S_ISCHR(st.st_mode) ? "character device"
                    : S_ISBLK(st.st_mode) ? "block device" : nullptr;
    info->size = static_cast<uint64_t>(st.st_size);
    info->mode = st.st_mode & 07777;
    info->mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    info->ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
    info->inode = st.st_ino;
    info->dev = st.st_dev;
    info->uid = st.st_uid;
    info->gid = st.st_gid;
    return Status::OK();
  }
  Status ListDir(const std::string& dir, std::vector<DirEntry>* entries) override {
    entries->clear();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return PosixError("list " + dir, errno);
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      DirEntry de;
      de.name = name;
      unsigned char t = e->d_type;
      if (t == DT_UNKNOWN) {
        struct stat st;
        if (::lstat(JoinPath(dir, name).c_str(), &st) == 0) {
          de.is_dir = S_ISDIR(st.st_mode);
          de.is_symlink = S_ISLNK(st.st_mode);
        }
      } else {
        de.is_dir = t == DT_DIR;
        de.is_symlink = t == DT_LNK;
      }
      entries->push_back(std::move(de));
    }
    ::closedir(d);
    return Status::OK();
  }
  Status CreateDir(const std::string& dir, uint32_t mode) override {
    if (::mkdir(dir.c_str(), mode) != 0) {
      if (errno == EEXIST) {
        struct stat st;
        if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::OK();
        return Status::IoError("mkdir " + dir + ": exists and is not a directory");
      }
      return PosixError("mkdir " + dir, errno);
    }
    return Status::OK();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return PosixError("remove " + path, errno);
    return Status::OK();
  }
  Status RemoveDir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return PosixError("rmdir " + dir, errno);
    return Status::OK();
  }
  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename " + from + " -> " + to, errno);
    return Status::OK();
  }
  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open dir " + dir, errno);
    int rc = ::fsync(fd);
    int e = errno;
    ::close(fd);
    if (rc != 0) return PosixError("fsync dir " + dir, e);
    return Status::OK();
  }
  Status ReadLink(const std::string& path, std::string* target) override {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
    if (n < 0) return PosixError("readlink " + path, errno);
    target->assign(buf, static_cast<size_t>(n));
    return Status::OK();
  }
  Status Symlink(const std::string& target, const std::string& path) override {
    if (::symlink(target.c_str(), path.c_str()) != 0) return PosixError("symlink " + path, errno);
    return Status::OK();
  }
  Status SetMtime(const std::string& path, int64_t mtime_ns) override {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = mtime_ns / 1000000000LL;
    ts[1].tv_nsec = mtime_ns % 1000000000LL;
    if (::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      return PosixError("set mtime " + path, errno);
    return Status::OK();
  }
  Status Chmod(const std::string& path, uint32_t mode) override {
    if (::chmod(path.c_str(), mode) != 0) return PosixError("chmod " + path, errno);
    return Status::OK();
  }
  Status Chown(const std::string& path, uint32_t uid, uint32_t gid) override {
    if (::lchown(path.c_str(), uid, gid) != 0)
      return PosixError("chown " + path + " to " + std::to_string(uid) + ":" + std::to_string(gid), errno);
    return Status::OK();
  }
  Status TryLockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return FlockFile(path, /*shared=*/false, lock);
  }
  Status TryLockFileShared(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return FlockFile(path, /*shared=*/true, lock);
  }
  bool SharesHostFiles() const override { return true; }
  void PrefetchFile(const std::string& path) override {
    // O_NONBLOCK: a path that became a FIFO since it was listed must not block the open.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    ::close(fd);
  }
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void SleepMicros(int64_t us) override { std::this_thread::sleep_for(std::chrono::microseconds(us)); }
};

}  // namespace

Status WritableFile::SetOwner(uint32_t, uint32_t) { return Status::Internal("this file cannot set its owner"); }
Status WritableFile::SetMode(uint32_t) { return Status::Internal("this file cannot set its mode"); }
Status WritableFile::SetMtime(int64_t) { return Status::Internal("this file cannot set its mtime"); }

Status Env::NewExclusiveFile(const std::string& path, std::unique_ptr<WritableFile>* out, uint32_t mode) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(Stat(path, &fi));
  if (fi.exists) return PosixError("create " + path, EEXIST);
  return NewWritableFile(path, out, mode);
}

Status Env::NewRandomRWFile(const std::string& path, std::unique_ptr<RandomRWFile>*, bool, uint32_t) {
  return Status::Internal("open " + path + ": this Env has no read-write files at any offset");
}

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

Status Env::CreateDirsDurably(const std::string& dir, uint32_t mode) {
  if (dir.empty() || dir == "/" || DirExists(dir)) return Status::OK();
  const std::string parent = DirName(dir);
  if (parent != dir) MAESTRO_RETURN_IF_ERROR(CreateDirsDurably(parent, mode));
  MAESTRO_RETURN_IF_ERROR(CreateDir(dir, mode));
  return SyncDir(parent);
}

Status Env::CreateDirs(const std::string& dir, uint32_t mode) {
  if (dir.empty() || DirExists(dir)) return Status::OK();
  std::string parent = DirName(dir);
  if (!parent.empty() && parent != dir) MAESTRO_RETURN_IF_ERROR(CreateDirs(parent, mode));
  return CreateDir(dir, mode);
}

Status Env::RemoveTree(const std::string& path) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(Stat(path, &fi));
  if (!fi.exists) return Status::OK();
  if (!fi.is_dir) return RemoveFile(path);
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(ListDir(path, &entries));
  for (const auto& e : entries) {
    std::string p = JoinPath(path, e.name);
    if (e.is_dir && !e.is_symlink) {
      MAESTRO_RETURN_IF_ERROR(RemoveTree(p));
    } else {
      MAESTRO_RETURN_IF_ERROR(RemoveFile(p));
    }
  }
  return RemoveDir(path);
}

Status Env::ReadFileToString(const std::string& path, std::string* out) {
  out->clear();
  std::unique_ptr<SequentialFile> f;
  MAESTRO_RETURN_IF_ERROR(NewSequentialFile(path, &f));
  std::string buf(1 << 16, '\0');
  while (true) {
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(f->Read(buf.size(), buf.data(), &got));
    if (got == 0) break;
    out->append(buf.data(), got);
  }
  return Status::OK();
}

Status Env::WriteStringToFile(const std::string& path, std::string_view data, uint32_t mode) {
  std::unique_ptr<WritableFile> f;
  MAESTRO_RETURN_IF_ERROR(NewWritableFile(path, &f, mode));
  MAESTRO_RETURN_IF_ERROR(f->Append(data));
  return f->Close();
}

bool Env::FileExists(const std::string& path) {
  FileInfo fi;
  return Stat(path, &fi).ok() && fi.exists;
}

bool Env::DirExists(const std::string& path) {
  FileInfo fi;
  return Stat(path, &fi).ok() && fi.exists && fi.is_dir;
}

Status WriteFileDurably(Env* env, const std::string& path, std::string_view data, uint32_t mode) {
  static std::atomic<uint64_t> counter{0};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  std::unique_ptr<WritableFile> f;
  Status s = env->NewWritableFile(tmp, &f, mode);
  if (s.ok()) s = f->Append(data);
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = f->Close();
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) {
    f.reset();
    env->RemoveFile(tmp).IgnoreError("best-effort cleanup of the temp file; the original file is untouched");
    return s;
  }
  return env->SyncDir(DirName(path));
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (b.front() == '/') return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

std::string DirName(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

bool IsAtOrUnder(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

std::string BaseName(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string AbsolutePath(const std::string& p) {
  if (!p.empty() && p[0] == '/') return NormalizePath(p);
  char buf[PATH_MAX];
  std::string cwd = ::getcwd(buf, sizeof(buf)) ? buf : ".";
  return NormalizePath(JoinPath(cwd, p));
}

std::string NormalizePath(const std::string& path) {
  bool abs = !path.empty() && path[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string p = path.substr(i, j - i);
    if (p.empty() || p == ".") {
    } else if (p == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!abs) parts.push_back("..");
    } else {
      parts.push_back(p);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += "/";
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

bool IsSafeRelativePath(const std::string& rel) {
  if (rel.empty() || rel[0] == '/') return false;
  if (rel.find('\0') != std::string::npos) return false;
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string p = rel.substr(i, j - i);
    if (p == "..") return false;
    i = j + 1;
  }
  return true;
}

}  // namespace maestro
