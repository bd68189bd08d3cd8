// snapshot/rclone_backend.cc — Backend over `rclone serve restic` (see the header).
#include "snapshot/rclone_backend.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "snapshot/object_check.h"
#include "snapshot/rclone_server.h"
#include "util/env.h"
#include "util/text.h"

namespace maestro {

namespace {

std::mutex g_notices_mu;
std::function<void(const std::string&)> g_notices;  // guarded by g_notices_mu: SetRcloneNotices

std::function<void(const std::string&)> ProcessRcloneNotices() {
  std::lock_guard<std::mutex> l(g_notices_mu);
  return g_notices;
}

constexpr size_t kSpoolInMemory = 8u << 20;
constexpr char kListV2[] = "application/vnd.x.restic.rest.v2";

std::string TargetOf(ObjectKind kind, const std::string& name) {
  if (kind == ObjectKind::kConfig) return "/config";
  return "/" + std::string(ObjectKindFolder(kind)) + "/" + PercentEncode(name);
}

// A writer's pieces: memory first, then an unlinked file in $TMPDIR. Its
// errors name the object it holds and the folder (the spool file has no name).
class Spool {
 public:
  explicit Spool(std::string what) : what_(std::move(what)) {}
  ~Spool() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(std::string_view data) {
    if (fd_ < 0 && mem_.size() + data.size() <= kSpoolInMemory) {
      mem_.append(data);
      return Status::OK();
    }
    if (fd_ < 0) MAESTRO_RETURN_IF_ERROR(SpillToFile());
    return WriteAll(data);
  }
  uint64_t size() const { return fd_ < 0 ? mem_.size() : file_size_; }
  Status ReadAt(uint64_t off, size_t n, char* buf, size_t* got) const {
    if (fd_ < 0) {
      *got = off >= mem_.size() ? 0 : std::min<size_t>(n, mem_.size() - off);
      if (*got > 0) std::memcpy(buf, mem_.data() + off, *got);
      return Status::OK();
    }
    ssize_t r;
    do {
      r = ::pread(fd_, buf, n, static_cast<off_t>(off));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return PosixError("read the upload spool of " + what_ + " (an unlinked file in " + dir_ + ")", errno);
    *got = static_cast<size_t>(r);
    return Status::OK();
  }

 private:
  Status SpillToFile() {
    const char* tmp = ::getenv("TMPDIR");
    dir_ = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) return PosixError("make the upload spool file of " + what_ + " in " + dir_ + " ($TMPDIR)", errno);
    std::string held;
    held.swap(mem_);
    return WriteAll(held);
  }
  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      ssize_t w = ::write(fd_, data.data(), data.size());
      if (w < 0 && errno == EINTR) continue;
      if (w < 0)
        return PosixError("write the upload spool of " + what_ + " (an unlinked file in " + dir_ + ", $TMPDIR)", errno);
      data.remove_prefix(static_cast<size_t>(w));
      file_size_ += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }
  const std::string what_;  // the object: "packs/<name>"
  std::string dir_;         // where the spool file is, once it is one
  std::string mem_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
};

class RcloneBackendImpl;

// A response and the server that gave it (asked for rclone's reason on refusals).
struct Answer : HttpResponse {
  std::shared_ptr<RcloneServer> server;
};

class RcloneWriter : public ObjectWriter {
 public:
  RcloneWriter(RcloneBackendImpl* b, ObjectKind kind, std::string name)
      : b_(b), kind_(kind), name_(std::move(name)), spool_(ObjectPath(kind_, name_)) {}
  Status Append(std::string_view data) override { return spool_.Append(data); }
  Status Commit() override;

 private:
  RcloneBackendImpl* b_;
  ObjectKind kind_;
  std::string name_;
  Spool spool_;
  bool committed_ = false;
};

class RcloneBackendImpl : public RcloneBackend {
 public:
  RcloneBackendImpl(std::string remote, const RcloneBackendOptions& opts)
      : pool_(std::move(remote), opts), parallel_uploads_(ParallelUploads(opts)), notice_(opts.notice) {}

  Status StartNow() {
    std::shared_ptr<RcloneServer> s;
    return pool_.Get(&s);
  }

  std::string Location() const override { return pool_.location(); }
  pid_t ServerPid() const override { return const_cast<RcloneServerPool&>(pool_).CurrentPid(); }

  Status Put(ObjectKind kind, const std::string& name, std::string_view data) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    HttpBodyReader reader = [data](uint64_t off, size_t n, char* buf, size_t* got) {
      *got = off >= data.size() ? 0 : std::min<size_t>(n, data.size() - off);
      if (*got > 0) std::memcpy(buf, data.data() + off, *got);
      return Status::OK();
    };
    return Upload(kind, name, data.size(), reader);
  }

  // The first upload into a folder runs alone: rclone creates the folder then,
  // and several creations at once fail on some remotes (WebDAV: "mkParentDir
  // failed: 423 Locked").
  Status Upload(ObjectKind kind, const std::string& name, uint64_t size, const HttpBodyReader& reader) {
    return OneAtFirst(kind, [&] { return UploadOnce(kind, name, size, reader); });
  }
  Status OneAtFirst(ObjectKind kind, const std::function<Status()>& upload) {
    size_t k = static_cast<size_t>(kind);
    if (folder_ready_[k].load()) return upload();
    std::lock_guard<std::mutex> l(folder_mu_[k]);
    Status st = upload();
    if (st.ok()) folder_ready_[k] = true;
    return st;
  }

  Status UploadOnce(ObjectKind kind, const std::string& name, uint64_t size, const HttpBodyReader& reader) {
    Answer r;
    MAESTRO_RETURN_IF_ERROR(Call("upload", kind, name, "POST", TargetOf(kind, name), {}, size, reader, &r));
    if (r.status == 200) return Status::OK();
    return Refused("upload", kind, name, r, "the remote may be full, read-only or unreachable from rclone");
  }

  // rclone reads the file itself (rc operations/copyfile: the path `rclone
  // copy` takes, without the file's bytes passing through this process and a
  // loopback HTTP upload). Only for a file the host's file system holds
  // (Env::SharesHostFiles: not a test Env's), and only when the child serves
  // its rc API; *done false otherwise, and when rclone answers the copy with
  // an error: then the caller sends the file through the restic API, whose
  // answer names the cause as ever. A failed exchange (the child died, the
  // link was cut) is returned as any request's is (RcloneServerPool::Explain).
  Status CopyLocalFile(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path, bool* done) {
    *done = false;
    if (kind == ObjectKind::kConfig || !env->SharesHostFiles()) return Status::OK();
    std::shared_ptr<RcloneServer> s;
    MAESTRO_RETURN_IF_ERROR(pool_.Get(&s));
    if (s->rc == nullptr) {
      NoteSlowUpload("rclone did not announce its remote-control API (\"Serving remote control on\")");
      return Status::OK();
    }
    const std::string abs = AbsolutePath(local_path);
    // rclone is told the path in JSON, which holds UTF-8 only: another path
    // goes through the restic API.
    if (!IsValidUtf8(abs)) {
      NoteSlowUpload("the local path " + EscapeForTerminal(abs) + " is not UTF-8, which rclone's rc API cannot be told");
      return Status::OK();
    }
    const nlohmann::json body = {{"srcFs", DirName(abs)}, {"srcRemote", BaseName(abs)}, {"dstFs", pool_.remote()},
                                 {"dstRemote", std::string(ObjectKindFolder(kind)) + "/" + name}};
    const std::string request = body.dump();
    HttpResponse r;
    Status st = OneAtFirst(kind, [&] {
      Status t = s->rc->Do("POST", "/operations/copyfile", {{"Content-Type", "application/json"}}, request, &r);
      if (!t.ok()) return pool_.Explain(*s, t, "upload " + ObjectPath(kind, name));
      return r.status == 200 ? Status::OK() : Status::IoError("rc copyfile: HTTP " + std::to_string(r.status));
    });
    if (!st.ok() && r.status == 0) return st;  // no answer: the exchange failed
    *done = st.ok();
    if (!st.ok()) NoteSlowUpload("rclone answered operations/copyfile of " + ObjectPath(kind, name) + " with HTTP " +
                                 std::to_string(r.status) + RcError(r.body));
    return Status::OK();
  }

  // rc's error body is {"error": "...", ...}: ": <error>", or "" without one.
  static std::string RcError(const std::string& body) {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].is_string()) return "";
    return ": " + j["error"].get<std::string>();
  }

  // The slow path (a local file streamed through the restic API, not read by
  // rclone itself), said once per backend, so a slow upload has its reason.
  void NoteSlowUpload(const std::string& why) {
    if (slow_noted_.exchange(true)) return;
    const std::string line = Location() + ": " + why +
                             "; files on this machine are streamed to rclone through its restic API instead of read "
                             "by rclone itself (operations/copyfile): the same bytes arrive, more slowly";
    if (notice_) {
      notice_(line);
      return;
    }
    std::function<void(const std::string&)> sink = ProcessRcloneNotices();
    if (sink) sink(line);
  }

  // rclone reads the file itself where it can (CopyLocalFile); else the file
  // is sent as it is (pread through env), not copied into a spool first.
  // PutFile is Backend's: this, then the local file removed.
  Status PutCopyOf(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env->Stat(local_path, &fi));
    if (!fi.exists || !fi.is_regular) return Status::Internal(local_path + ": no file to upload as " + ObjectPath(kind, name));
    bool done = false;
    MAESTRO_RETURN_IF_ERROR(CopyLocalFile(kind, name, env, local_path, &done));
    if (done) return Status::OK();
    std::unique_ptr<RandomAccessFile> in;
    MAESTRO_RETURN_IF_ERROR(env->NewRandomAccessFile(local_path, &in));
    const uint64_t size = fi.size;
    HttpBodyReader reader = [&in, &local_path, size](uint64_t off, size_t n, char* buf, size_t* got) {
      MAESTRO_RETURN_IF_ERROR(in->ReadAt(off, n, buf, got));
      if (*got == 0 && off < size) return Status::IoError(local_path + " shrank while it was being uploaded");
      return Status::OK();
    };
    return Upload(kind, name, size, reader);
  }

  int ParallelPuts() const override { return parallel_uploads_; }

  Status NewWriter(ObjectKind kind, const std::string& name, std::unique_ptr<ObjectWriter>* out) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    *out = std::make_unique<RcloneWriter>(this, kind, name);
    return Status::OK();
  }

  Status Get(ObjectKind kind, const std::string& name, std::string* out) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    Answer r;
    MAESTRO_RETURN_IF_ERROR(Call("read", kind, name, "GET", TargetOf(kind, name), {}, 0, nullptr, &r));
    if (r.status == 404) return MissingOrUnreadable(kind, name, r, nullptr);
    if (r.status != 200) return NotFoundOr("read", kind, name, r);
    MAESTRO_RETURN_IF_ERROR(CheckObjectBytes(kind, name, r.body, Location()));
    *out = std::move(r.body);
    return Status::OK();
  }

  Status ReadAt(ObjectKind kind, const std::string& name, uint64_t offset, size_t n, std::string* out) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    out->clear();
    if (n == 0) {
      ObjectInfo info;
      return Stat(kind, name, &info);
    }
    n = std::min<size_t>(n, size_t{1} << 30);  // the client's body limit; no object read is larger
    HttpHeaders h = {{"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + n - 1)}};
    Answer r;
    MAESTRO_RETURN_IF_ERROR(Call("read", kind, name, "GET", TargetOf(kind, name), h, 0, nullptr, &r));
    if (r.status == 416) return Status::OK();  // offset at or past the end
    if (r.status == 200) {                     // the server ignored the range
      if (offset < r.body.size()) *out = r.body.substr(offset, n);
      return Status::OK();
    }
    if (r.status == 404) return MissingOrUnreadable(kind, name, r, &offset);
    if (r.status != 206) return NotFoundOr("read", kind, name, r);
    if (r.body.size() > n) return Status::IoError(Location() + ": " + ObjectPath(kind, name) + ": rclone sent more bytes than asked");
    *out = std::move(r.body);
    return Status::OK();
  }

  Status Stat(ObjectKind kind, const std::string& name, ObjectInfo* info) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    Answer r;
    MAESTRO_RETURN_IF_ERROR(Call("stat", kind, name, "HEAD", TargetOf(kind, name), {}, 0, nullptr, &r));
    if (r.status != 200) return NotFoundOr("stat", kind, name, r);
    info->name = kind == ObjectKind::kConfig ? "config" : name;
    info->size = std::strtoull(r.Header("content-length").c_str(), nullptr, 10);
    return Status::OK();
  }

  Status List(ObjectKind kind, std::vector<ObjectInfo>* out) override {
    out->clear();
    if (kind == ObjectKind::kConfig) {
      ObjectInfo info;
      Status st = Stat(kind, "config", &info);
      if (st.IsNotFound()) return Status::OK();
      MAESTRO_RETURN_IF_ERROR(st);
      out->push_back(info);
      return Status::OK();
    }
    Answer r;
    std::string target = "/" + std::string(ObjectKindFolder(kind)) + "/";
    MAESTRO_RETURN_IF_ERROR(Call("list", kind, "", "GET", target, {{"Accept", kListV2}}, 0, nullptr, &r));
    if (r.status != 200) return Refused("list", kind, "", r, "check that the remote path is readable");
    return ParseListing(kind, r.body, out);
  }

  Status Remove(ObjectKind kind, const std::string& name) override {
    MAESTRO_RETURN_IF_ERROR(CheckObjectName(kind, name));
    Answer r;
    MAESTRO_RETURN_IF_ERROR(Call("delete", kind, name, "DELETE", TargetOf(kind, name), {}, 0, nullptr, &r));
    if (r.status == 200 || r.status == 404) return Status::OK();
    return Refused("delete", kind, name, r,
                   "append-only target? (SFTP `internal-sftp -P remove`, object lock, rclone --append-only); "
                   "the object was left as it was")
        .MarkRefused();
  }

 private:
  Status Call(const char* op, ObjectKind kind, const std::string& name, const std::string& method,
              const std::string& target, const HttpHeaders& headers, uint64_t size, const HttpBodyReader& reader,
              Answer* r) {
    std::shared_ptr<RcloneServer>& s = r->server;
    MAESTRO_RETURN_IF_ERROR(pool_.Get(&s));
    Status st = reader ? s->client->DoWithReader(method, target, headers, size, reader, r)
                       : s->client->Do(method, target, headers, "", r);
    std::string what = std::string(op) + " " + (name.empty() ? std::string(ObjectKindFolder(kind)) + "/" : ObjectPath(kind, name));
    if (!st.ok()) return pool_.Explain(*s, st, what);
    return Status::OK();
  }

  // rclone answers 404 to a GET whenever it cannot open the object (serve.Object),
  // a transient remote error included, and for a range past the end on some
  // remotes: only a HEAD that also says 404 makes it NotFound.
  Status MissingOrUnreadable(ObjectKind kind, const std::string& name, const Answer& r, const uint64_t* offset) {
    ObjectInfo info;
    Status st = Stat(kind, name, &info);
    if (!st.ok()) return st;  // NotFound, or the stat's own error
    if (offset != nullptr && *offset >= info.size) return Status::OK();  // a read at or past the end: empty
    std::string reason = r.server != nullptr ? pool_.ReasonFor(*r.server, ObjectPath(kind, name)) : "";
    return Status::IoError(Location() + ": rclone could not open " + ObjectPath(kind, name) + " (it exists, " +
                           std::to_string(info.size) + " bytes" + (reason.empty() ? "" : "; rclone: " + reason) +
                           "): try again; if it persists, check the remote with `rclone lsl`");
  }

  Status NotFoundOr(const char* op, ObjectKind kind, const std::string& name, const Answer& r) {
    if (r.status == 404) return Status::NotFound(Location() + ": " + ObjectPath(kind, name) + " does not exist");
    return Refused(op, kind, name, r, "");
  }

  Status Refused(const char* op, ObjectKind kind, const std::string& name, const Answer& r,
                 const std::string& hint) {
    std::string path = name.empty() ? std::string(ObjectKindFolder(kind)) : ObjectPath(kind, name);
    std::string reason = r.server != nullptr ? pool_.ReasonFor(*r.server, path) : "";
    std::string msg = Location() + ": the remote refused to " + op + " " + path + " (HTTP " + std::to_string(r.status) +
                      (reason.empty() ? "" : "; rclone: " + reason) + ")";
    if (!hint.empty()) msg += ": " + hint;
    return Status::IoError(msg);
  }

  Status ParseListing(ObjectKind kind, const std::string& body, std::vector<ObjectInfo>* out) {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_array()) return Status::IoError(Location() + ": rclone sent an unreadable listing of " + ObjectKindFolder(kind) + "/");
    for (const auto& e : j) {
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) continue;
      ObjectInfo info;
      info.name = e["name"].get<std::string>();
      if (e.contains("size") && e["size"].is_number_unsigned()) info.size = e["size"].get<uint64_t>();
      if (!CheckObjectName(kind, info.name).ok()) continue;  // a temporary or foreign name
      out->push_back(std::move(info));
    }
    return Status::OK();
  }

  static int ParallelUploads(const RcloneBackendOptions& opts) {
    int n = opts.parallel_uploads;
    const char* env = ::getenv("MAESTRO_DB_RCLONE_UPLOADS");
    if (n <= 0 && env != nullptr && *env != '\0') n = std::atoi(env);
    if (n <= 0) n = kDefaultRcloneUploads;
    return std::min(n, 16);
  }

  RcloneServerPool pool_;
  const int parallel_uploads_;
  const std::function<void(const std::string&)> notice_;
  std::atomic<bool> slow_noted_{false};
  static constexpr size_t kKinds = static_cast<size_t>(ObjectKind::kLock) + 1;
  std::mutex folder_mu_[kKinds];
  std::atomic<bool> folder_ready_[kKinds] = {};

  friend class RcloneWriter;
};

Status RcloneWriter::Commit() {
  if (committed_) return Status::Internal(b_->Location() + ": " + ObjectPath(kind_, name_) + " committed twice");
  HttpBodyReader reader = [this](uint64_t off, size_t n, char* buf, size_t* got) { return spool_.ReadAt(off, n, buf, got); };
  MAESTRO_RETURN_IF_ERROR(b_->Upload(kind_, name_, spool_.size(), reader));
  committed_ = true;
  return Status::OK();
}

}  // namespace

bool IsRcloneSpec(std::string_view spec) { return spec.substr(0, 7) == "rclone:"; }

void SetRcloneNotices(std::function<void(const std::string&)> sink) {
  std::lock_guard<std::mutex> l(g_notices_mu);
  g_notices = std::move(sink);
}

Result<std::unique_ptr<RcloneBackend>> NewRcloneBackend(const std::string& spec, const RcloneBackendOptions& opts) {
  if (!IsRcloneSpec(spec)) return Status::InvalidArgument("not an rclone repository: \"" + spec + "\"");
  std::string remote = spec.substr(7);
  if (remote.empty() || (remote.find(':') == std::string::npos && remote[0] != '/')) {
    return Status::InvalidArgument("\"" + spec + "\" is not rclone:REMOTE:PATH (for example rclone:b2:bucket/maestro, "
                                   "with REMOTE a name from `rclone config` or RCLONE_CONFIG_<NAME>_TYPE; or rclone:/ABSOLUTE/PATH)");
  }
  // rclone's rc API is told every object's folder in JSON, which holds UTF-8
  // only; the bytes of another name would be changed on the way (or refused).
  if (!IsValidUtf8(remote))
    return Status::InvalidArgument("\"" + EscapeForTerminal(spec) + "\" is not UTF-8, and rclone's rc API takes UTF-8 "
                                   "paths only", "rename the remote folder, or give a local folder as --repo");
  auto b = std::make_unique<RcloneBackendImpl>(remote, opts);
  MAESTRO_RETURN_IF_ERROR(b->StartNow());
  return std::unique_ptr<RcloneBackend>(std::move(b));
}

}  // namespace maestro
