// snapshot/local_backend.cc — Backend over a folder on this machine (through Env).
//
// Layout: <dir>/config, <dir>/<kind folder>/<name>. Whole objects are
// published with WriteFileDurably (temp + fsync + rename + dir fsync); a
// writer's pieces go to <dir>/tmp/ and are renamed into place on Commit.
// Temporary names hold ".tmp-" or live in tmp/, and List never returns them.
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <unistd.h>

#include "snapshot/backend.h"

namespace maestro {

const char* ObjectKindFolder(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kConfig: return "";
    case ObjectKind::kKey: return "keys";
    case ObjectKind::kPack: return "packs";
    case ObjectKind::kIndex: return "index";
    case ObjectKind::kManifest: return "snapshots";
    case ObjectKind::kLock: return "locks";
  }
  return "unknown";
}

namespace {

constexpr uint32_t kFileMode = 0600;
constexpr uint32_t kDirMode = 0700;

bool IsTemporaryName(const std::string& name) { return name.find(".tmp-") != std::string::npos; }

// A name must stay inside its folder: one path component, no temp marker.
Status CheckName(ObjectKind kind, const std::string& name) {
  if (kind == ObjectKind::kConfig) return Status::OK();
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || IsTemporaryName(name)) {
    return Status::InvalidArgument("not a repository object name: \"" + name + "\"");
  }
  return Status::OK();
}

std::string UniqueSuffix() {
  static std::atomic<uint64_t> counter{0};
  return ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

class LocalWriter : public ObjectWriter {
 public:
  LocalWriter(Env* env, std::string tmp, std::string final_path, std::unique_ptr<WritableFile> f)
      : env_(env), tmp_(std::move(tmp)), final_(std::move(final_path)), file_(std::move(f)) {}
  ~LocalWriter() override {
    if (committed_) return;
    file_.reset();
    env_->RemoveFile(tmp_).IgnoreError("abandoned writer: the next writer clears tmp/ anyway");
  }
  Status Append(std::string_view data) override { return file_->Append(data); }
  Status Commit() override {
    if (committed_) return Status::Internal("object " + final_ + " committed twice");
    MAESTRO_RETURN_IF_ERROR(file_->Sync());
    MAESTRO_RETURN_IF_ERROR(file_->Close());
    MAESTRO_RETURN_IF_ERROR(env_->Rename(tmp_, final_));
    committed_ = true;
    return env_->SyncDir(DirName(final_));
  }

 private:
  Env* env_;
  std::string tmp_, final_;
  std::unique_ptr<WritableFile> file_;
  bool committed_ = false;
};

class LocalBackend : public Backend {
 public:
  LocalBackend(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  std::string Location() const override { return dir_; }

  Status Put(ObjectKind kind, const std::string& name, std::string_view data) override {
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    MAESTRO_RETURN_IF_ERROR(EnsureFolder(kind));
    return WriteFileDurably(env_, PathOf(kind, name), data, kFileMode);
  }

  Status NewWriter(ObjectKind kind, const std::string& name, std::unique_ptr<ObjectWriter>* out) override {
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    MAESTRO_RETURN_IF_ERROR(EnsureFolder(kind));
    std::string tmp_dir = JoinPath(dir_, "tmp");
    MAESTRO_RETURN_IF_ERROR(env_->CreateDir(tmp_dir, kDirMode));
    std::string tmp = JoinPath(tmp_dir, (kind == ObjectKind::kConfig ? "config" : name) + UniqueSuffix());
    std::unique_ptr<WritableFile> f;
    MAESTRO_RETURN_IF_ERROR(env_->NewWritableFile(tmp, &f, kFileMode));
    *out = std::make_unique<LocalWriter>(env_, tmp, PathOf(kind, name), std::move(f));
    return Status::OK();
  }

  // The scratch file is in the repository's own tmp/ (same file system): a
  // rename publishes it, as Put's own temp file is.
  Status PutFile(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path) override {
    if (env != env_) return Backend::PutFile(kind, name, env, local_path);
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    MAESTRO_RETURN_IF_ERROR(EnsureFolder(kind));
    std::string path = PathOf(kind, name);
    MAESTRO_RETURN_IF_ERROR(env_->Rename(local_path, path));
    return env_->SyncDir(DirName(path));
  }

  Status Get(ObjectKind kind, const std::string& name, std::string* out) override {
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    return env_->ReadFileToString(PathOf(kind, name), out);
  }

  bool LocalFile(ObjectKind kind, const std::string& name, Env** env, std::string* path) const override {
    if (!CheckName(kind, name).ok()) return false;
    *env = env_;
    *path = PathOf(kind, name);
    return true;
  }

  Status ReadAt(ObjectKind kind, const std::string& name, uint64_t offset, size_t n,
                std::string* out) override {
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    std::shared_ptr<RandomAccessFile> f;
    MAESTRO_RETURN_IF_ERROR(OpenForReading(kind, name, &f));
    out->resize(n);
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(f->ReadAt(offset, n, out->data(), &got));
    out->resize(got);
    return Status::OK();
  }

  Status Stat(ObjectKind kind, const std::string& name, ObjectInfo* info) override {
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    FileInfo fi;
    std::string path = PathOf(kind, name);
    MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
    if (!fi.exists) return Status::NotFound(path + " does not exist");
    if (!fi.is_regular) return Status::Corruption(path + " is not a regular file");
    info->name = name;
    info->size = fi.size;
    return Status::OK();
  }

  Status List(ObjectKind kind, std::vector<ObjectInfo>* out) override {
    out->clear();
    if (kind == ObjectKind::kConfig) return ListConfig(out);
    std::string folder = JoinPath(dir_, ObjectKindFolder(kind));
    if (!env_->DirExists(folder)) return Status::OK();  // an older repository without keys/ or locks/
    std::vector<DirEntry> entries;
    MAESTRO_RETURN_IF_ERROR(env_->ListDir(folder, &entries));
    for (const DirEntry& e : entries) {
      if (e.is_dir || e.is_symlink || IsTemporaryName(e.name)) continue;
      FileInfo fi;
      MAESTRO_RETURN_IF_ERROR(env_->Stat(JoinPath(folder, e.name), &fi));
      if (!fi.exists || !fi.is_regular) continue;  // removed meanwhile, or not ours to read
      out->push_back({e.name, fi.size});
    }
    return Status::OK();
  }

  Status Remove(ObjectKind kind, const std::string& name) override { return RemoveMany(kind, {name}); }

  // Every object of a kind is in one folder: unlink them all, then one fsync of
  // that folder makes every removal durable (also those before a failure).
  Status RemoveMany(ObjectKind kind, const std::vector<std::string>& names) override {
    Status s;
    std::string folder;
    for (const auto& name : names) {
      s = RemoveUnsynced(kind, name, &folder);
      if (!s.ok()) break;
    }
    if (folder.empty()) return s;
    Status synced = env_->SyncDir(folder);
    return s.ok() ? synced : s;
  }

 private:
  // Restore and verify read a pack blob by blob: its file stays open (up to
  // kOpenPacks of them) instead of one open() per blob. Packs are immutable
  // under their names; Remove drops the handle first.
  static constexpr size_t kOpenPacks = 32;
  Status OpenForReading(ObjectKind kind, const std::string& name, std::shared_ptr<RandomAccessFile>* out) {
    if (kind == ObjectKind::kPack) {
      std::lock_guard<std::mutex> l(mu_);
      auto it = open_packs_.find(name);
      if (it != open_packs_.end()) {
        *out = it->second;
        return Status::OK();
      }
    }
    std::unique_ptr<RandomAccessFile> f;
    MAESTRO_RETURN_IF_ERROR(env_->NewRandomAccessFile(PathOf(kind, name), &f));
    *out = std::move(f);
    if (kind != ObjectKind::kPack) return Status::OK();
    std::lock_guard<std::mutex> l(mu_);
    if (open_packs_.emplace(name, *out).second) open_order_.push_back(name);
    while (open_order_.size() > kOpenPacks) {
      open_packs_.erase(open_order_.front());
      open_order_.pop_front();
    }
    return Status::OK();
  }
  void ForgetOpenFile(ObjectKind kind, const std::string& name) {
    if (kind != ObjectKind::kPack) return;
    std::lock_guard<std::mutex> l(mu_);
    if (open_packs_.erase(name) == 0) return;
    for (auto it = open_order_.begin(); it != open_order_.end(); ++it)
      if (*it == name) {
        open_order_.erase(it);
        break;
      }
  }

  // Unlinks one object (none: OK); *folder becomes its folder once a file was
  // unlinked there, which the caller must fsync.
  Status RemoveUnsynced(ObjectKind kind, const std::string& name, std::string* folder) {
    MAESTRO_RETURN_IF_ERROR(CheckName(kind, name));
    std::string path = PathOf(kind, name);
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
    if (!fi.exists) return Status::OK();
    ForgetOpenFile(kind, name);
    MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(path));
    *folder = DirName(path);
    return Status::OK();
  }

  std::string PathOf(ObjectKind kind, const std::string& name) const {
    if (kind == ObjectKind::kConfig) return JoinPath(dir_, "config");
    return JoinPath(JoinPath(dir_, ObjectKindFolder(kind)), name);
  }

  // keys/ and locks/ are new folders: an older repository gets them on first use.
  // The repository folder itself is made by Repository::Open (create_if_missing).
  Status EnsureFolder(ObjectKind kind) {
    if (!env_->DirExists(dir_)) return Status::NotFound("repository folder " + dir_ + " does not exist");
    if (kind == ObjectKind::kConfig) return Status::OK();
    std::string folder = JoinPath(dir_, ObjectKindFolder(kind));
    if (env_->DirExists(folder)) return Status::OK();
    MAESTRO_RETURN_IF_ERROR(env_->CreateDir(folder, kDirMode));
    return env_->SyncDir(dir_);
  }

  Status ListConfig(std::vector<ObjectInfo>* out) {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(JoinPath(dir_, "config"), &fi));
    if (fi.exists && fi.is_regular) out->push_back({"config", fi.size});
    return Status::OK();
  }

  Env* env_;
  std::string dir_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<RandomAccessFile>> open_packs_;
  std::deque<std::string> open_order_;  // oldest first
};

}  // namespace

std::unique_ptr<Backend> NewLocalBackend(Env* env, const std::string& dir) {
  return std::make_unique<LocalBackend>(env, dir);
}

}  // namespace maestro
