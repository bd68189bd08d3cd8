#include "util/sqlite_env_vfs.h"

#include <sqlite3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

namespace maestro {

namespace {

struct EnvVfs {
  sqlite3_vfs vfs;
  std::string name;
  Env* env;
  sqlite3_vfs* unix_vfs;  // locking, shm, temp files, path names (see the header)
};

// The sqlite3_file SQLite allocates for us (szOsFile): this struct, then room
// for the unix VFS's own file (used for locks and shm of a main database, or
// opened in place for a temporary file).
struct EnvFile {
  sqlite3_file base;
  EnvVfs* owner;
  RandomRWFile* file;   // owned
  sqlite3_file* locks;  // the unix VFS's handle on the same main database, else null
  std::string* path;    // owned
  bool sync_dir;        // a journal/WAL it created: fsync the directory after the first sync
  int lock_level;       // files without `locks` (journals, WAL) are never locked by SQLite
};

constexpr size_t kEnvFileSize = (sizeof(EnvFile) + 15) & ~size_t{15};
constexpr int kThroughEnv = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL | SQLITE_OPEN_SUPER_JOURNAL;

EnvFile* Of(sqlite3_file* f) { return reinterpret_cast<EnvFile*>(f); }
Env* EnvOf(sqlite3_vfs* vfs) { return static_cast<EnvVfs*>(vfs->pAppData)->env; }
sqlite3_vfs* UnixOf(sqlite3_vfs* vfs) { return static_cast<EnvVfs*>(vfs->pAppData)->unix_vfs; }

// The errno of this thread's last failed Env call, for xGetLastError (SQLite
// then reports it as sqlite3_system_errno; util/sqlite.cc names it).
thread_local int t_last_errno = 0;

// The one place a Status from the Env becomes an SQLite I/O code.
int IoCode(const Status& s, int fallback) {
  if (s.ok()) return SQLITE_OK;
  t_last_errno = s.err_no() ? s.err_no() : EIO;
  return s.err_no() == ENOSPC ? SQLITE_FULL : fallback;
}

// A database opened read-only: reads through the Env, writes refused.
class ReadOnlyFile final : public RandomRWFile {
 public:
  ReadOnlyFile(Env* env, std::string path, std::unique_ptr<RandomAccessFile> f)
      : env_(env), path_(std::move(path)), f_(std::move(f)) {}
  Status ReadAt(uint64_t offset, size_t n, char* scratch, size_t* got) override {
    return f_->ReadAt(offset, n, scratch, got);
  }
  Status WriteAt(uint64_t, std::string_view) override { return Status::IoError(path_ + ": opened read-only"); }
  Status Truncate(uint64_t) override { return Status::IoError(path_ + ": opened read-only"); }
  Status Sync() override { return Status::OK(); }
  Status Size(uint64_t* size) override {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(path_, &fi));
    *size = fi.size;
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  Env* env_;
  std::string path_;
  std::unique_ptr<RandomAccessFile> f_;
};

// ------------------------------------------------------------------ file methods

int FileClose(sqlite3_file* pf) {
  EnvFile* f = Of(pf);
  int rc = SQLITE_OK;
  // The unix handle first: it releases its locks (or defers its close while
  // another connection of this process holds some); then the Env's descriptor.
  if (f->locks && f->locks->pMethods) rc = f->locks->pMethods->xClose(f->locks);
  if (f->file) {
    Status s = f->file->Close();
    if (!s.ok() && rc == SQLITE_OK) rc = SQLITE_IOERR_CLOSE;
    delete f->file;
    f->file = nullptr;
  }
  delete f->path;
  f->path = nullptr;
  return rc;
}

int FileRead(sqlite3_file* pf, void* buf, int amt, sqlite3_int64 off) {
  size_t got = 0;
  Status s = Of(pf)->file->ReadAt(static_cast<uint64_t>(off), static_cast<size_t>(amt), static_cast<char*>(buf), &got);
  if (!s.ok()) return IoCode(s, SQLITE_IOERR_READ);
  if (got < static_cast<size_t>(amt)) {
    std::memset(static_cast<char*>(buf) + got, 0, static_cast<size_t>(amt) - got);  // SQLite requires the zeros
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int FileWrite(sqlite3_file* pf, const void* buf, int amt, sqlite3_int64 off) {
  Status s = Of(pf)->file->WriteAt(static_cast<uint64_t>(off),
                                   std::string_view(static_cast<const char*>(buf), static_cast<size_t>(amt)));
  return IoCode(s, SQLITE_IOERR_WRITE);
}

int FileTruncate(sqlite3_file* pf, sqlite3_int64 size) {
  return IoCode(Of(pf)->file->Truncate(static_cast<uint64_t>(size)), SQLITE_IOERR_TRUNCATE);
}

int FileSync(sqlite3_file* pf, int /*flags: FULL or NORMAL, both fdatasync here*/) {
  EnvFile* f = Of(pf);
  Status s = f->file->Sync();
  if (!s.ok()) return IoCode(s, SQLITE_IOERR_FSYNC);
  if (f->sync_dir) {
    // As the unix VFS does: a journal or WAL just created is reachable only once
    // its directory entry is durable.
    Status d = f->owner->env->SyncDir(DirName(*f->path));
    if (!d.ok()) return IoCode(d, SQLITE_IOERR_DIR_FSYNC);
    f->sync_dir = false;
  }
  return SQLITE_OK;
}

int FileSize(sqlite3_file* pf, sqlite3_int64* size) {
  uint64_t n = 0;
  Status s = Of(pf)->file->Size(&n);
  if (!s.ok()) return IoCode(s, SQLITE_IOERR_FSTAT);
  *size = static_cast<sqlite3_int64>(n);
  return SQLITE_OK;
}

int FileLock(sqlite3_file* pf, int level) {
  EnvFile* f = Of(pf);
  if (f->locks) return f->locks->pMethods->xLock(f->locks, level);
  f->lock_level = level;
  return SQLITE_OK;
}

int FileUnlock(sqlite3_file* pf, int level) {
  EnvFile* f = Of(pf);
  if (f->locks) return f->locks->pMethods->xUnlock(f->locks, level);
  f->lock_level = level;
  return SQLITE_OK;
}

int FileCheckReservedLock(sqlite3_file* pf, int* out) {
  EnvFile* f = Of(pf);
  if (f->locks) return f->locks->pMethods->xCheckReservedLock(f->locks, out);
  *out = 0;
  return SQLITE_OK;
}

int FileControl(sqlite3_file* pf, int op, void* arg) {
  EnvFile* f = Of(pf);
  switch (op) {
    case SQLITE_FCNTL_VFSNAME:
      *static_cast<char**>(arg) = sqlite3_mprintf("%s", f->owner->name.c_str());
      return SQLITE_OK;
    case SQLITE_FCNTL_LOCKSTATE:
    case SQLITE_FCNTL_PERSIST_WAL:
    case SQLITE_FCNTL_POWERSAFE_OVERWRITE:
    case SQLITE_FCNTL_HAS_MOVED:
    case SQLITE_FCNTL_TEMPFILENAME:
      // State of the unix handle only; no byte of the file is touched.
      if (f->locks) return f->locks->pMethods->xFileControl(f->locks, op, arg);
      return SQLITE_NOTFOUND;
    default:
      // Size hints, chunk size, mmap: not used, every byte goes through the Env.
      return SQLITE_NOTFOUND;
  }
}

int FileSectorSize(sqlite3_file* pf) {
  EnvFile* f = Of(pf);
  return f->locks ? f->locks->pMethods->xSectorSize(f->locks) : 4096;
}

int FileDeviceCharacteristics(sqlite3_file* pf) {
  EnvFile* f = Of(pf);
  // The FaultEnv model drops whole unsynced writes and never tears a synced
  // sector: powersafe overwrite, as the unix VFS reports by default.
  return f->locks ? f->locks->pMethods->xDeviceCharacteristics(f->locks) : SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

int FileShmMap(sqlite3_file* pf, int page, int size, int extend, void volatile** out) {
  EnvFile* f = Of(pf);
  if (!f->locks) return SQLITE_IOERR_SHMMAP;
  return f->locks->pMethods->xShmMap(f->locks, page, size, extend, out);
}

int FileShmLock(sqlite3_file* pf, int offset, int n, int flags) {
  EnvFile* f = Of(pf);
  if (!f->locks) return SQLITE_IOERR_SHMLOCK;
  return f->locks->pMethods->xShmLock(f->locks, offset, n, flags);
}

void FileShmBarrier(sqlite3_file* pf) {
  EnvFile* f = Of(pf);
  if (f->locks) f->locks->pMethods->xShmBarrier(f->locks);
}

int FileShmUnmap(sqlite3_file* pf, int delete_flag) {
  EnvFile* f = Of(pf);
  if (!f->locks) return SQLITE_OK;
  return f->locks->pMethods->xShmUnmap(f->locks, delete_flag);
}

const sqlite3_io_methods kEnvFileMethods = {
    2,  // iVersion 2: shm, no xFetch/xUnfetch (no mmap)
    FileClose, FileRead, FileWrite, FileTruncate, FileSync, FileSize, FileLock, FileUnlock, FileCheckReservedLock,
    FileControl, FileSectorSize, FileDeviceCharacteristics, FileShmMap, FileShmLock, FileShmBarrier, FileShmUnmap,
    nullptr, nullptr};

// ------------------------------------------------------------------ vfs methods

// The database a journal or WAL belongs to ("x.db-journal" -> "x.db").
std::string DatabaseOf(const std::string& path) {
  for (const char* sfx : {"-journal", "-wal"}) {
    size_t n = std::strlen(sfx);
    if (path.size() > n && path.compare(path.size() - n, n, sfx) == 0) return path.substr(0, path.size() - n);
  }
  return path;
}

Status OpenThroughEnv(Env* env, const std::string& path, int flags, std::unique_ptr<RandomRWFile>* out,
                      bool* read_only) {
  *read_only = (flags & SQLITE_OPEN_READONLY) != 0;
  if (!*read_only) {
    // A journal or WAL gets its database's permission bits (the unix VFS does the same).
    uint32_t mode = 0644;
    FileInfo db;
    if (!(flags & SQLITE_OPEN_MAIN_DB) && env->Stat(DatabaseOf(path), &db).ok() && db.exists) mode = db.mode & 0777;
    Status s = env->NewRandomRWFile(path, out, (flags & SQLITE_OPEN_CREATE) != 0, mode);
    if (s.ok() || !(flags & SQLITE_OPEN_MAIN_DB) || (s.err_no() != EACCES && s.err_no() != EROFS)) return s;
    *read_only = true;  // a database we may not write: read-only, as the unix VFS falls back
  }
  std::unique_ptr<RandomAccessFile> ra;
  MAESTRO_RETURN_IF_ERROR(env->NewRandomAccessFile(path, &ra));
  out->reset(new ReadOnlyFile(env, path, std::move(ra)));
  return Status::OK();
}

int VfsOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* pf, int flags, int* out_flags) {
  EnvVfs* ev = static_cast<EnvVfs*>(vfs->pAppData);
  if (!name || !(flags & kThroughEnv)) return ev->unix_vfs->xOpen(ev->unix_vfs, name, pf, flags, out_flags);
  EnvFile* f = Of(pf);
  std::memset(f, 0, sizeof(EnvFile));
  std::string path(name);
  std::unique_ptr<RandomRWFile> file;
  bool read_only = false;
  Status opened_file = OpenThroughEnv(ev->env, path, flags, &file, &read_only);
  if (!opened_file.ok()) {
    IoCode(opened_file, SQLITE_CANTOPEN);
    return SQLITE_CANTOPEN;
  }
  int opened = read_only ? (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY : flags;
  if (flags & SQLITE_OPEN_MAIN_DB) {
    // The same file once more through the unix VFS, for its locks and -shm only.
    sqlite3_file* locks = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(pf) + kEnvFileSize);
    int unix_out = 0;
    int rc = ev->unix_vfs->xOpen(ev->unix_vfs, name, locks, opened & ~SQLITE_OPEN_CREATE, &unix_out);
    if (rc != SQLITE_OK) {
      if (locks->pMethods) locks->pMethods->xClose(locks);
      file->Close().IgnoreError("the open already failed; its error is returned");
      return rc;
    }
    f->locks = locks;
  }
  f->owner = ev;
  f->file = file.release();
  f->path = new std::string(std::move(path));
  f->sync_dir = (flags & SQLITE_OPEN_CREATE) && (flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL | SQLITE_OPEN_SUPER_JOURNAL));
  if (out_flags) *out_flags = opened;
  f->base.pMethods = &kEnvFileMethods;
  return SQLITE_OK;
}

int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  Env* env = EnvOf(vfs);
  Status s = env->RemoveFile(name);
  if (!s.ok()) return IoCode(s, SQLITE_IOERR_DELETE);
  if (sync_dir) return IoCode(env->SyncDir(DirName(name)), SQLITE_IOERR_DIR_FSYNC);
  return SQLITE_OK;
}

int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  if (flags == SQLITE_ACCESS_READWRITE) return UnixOf(vfs)->xAccess(UnixOf(vfs), name, flags, out);
  FileInfo fi;
  Status s = EnvOf(vfs)->Stat(name, &fi);
  if (!s.ok()) return IoCode(s, SQLITE_IOERR_ACCESS);
  // As the unix VFS: an empty regular file (a journal truncated to zero) is no journal.
  *out = fi.exists && (!fi.is_regular || fi.size > 0);
  return SQLITE_OK;
}

int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return UnixOf(vfs)->xFullPathname(UnixOf(vfs), name, n, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) { return UnixOf(vfs)->xDlOpen(UnixOf(vfs), name); }
void VfsDlError(sqlite3_vfs* vfs, int n, char* msg) { UnixOf(vfs)->xDlError(UnixOf(vfs), n, msg); }
void (*VfsDlSym(sqlite3_vfs* vfs, void* h, const char* sym))(void) { return UnixOf(vfs)->xDlSym(UnixOf(vfs), h, sym); }
void VfsDlClose(sqlite3_vfs* vfs, void* h) { UnixOf(vfs)->xDlClose(UnixOf(vfs), h); }
int VfsRandomness(sqlite3_vfs* vfs, int n, char* out) { return UnixOf(vfs)->xRandomness(UnixOf(vfs), n, out); }
int VfsSleep(sqlite3_vfs* vfs, int us) {
  EnvOf(vfs)->SleepMicros(us);
  return us;
}
int VfsCurrentTime(sqlite3_vfs* vfs, double* t) { return UnixOf(vfs)->xCurrentTime(UnixOf(vfs), t); }
int VfsGetLastError(sqlite3_vfs*, int n, char* msg) {
  if (n > 0 && msg) std::snprintf(msg, static_cast<size_t>(n), "%s", std::strerror(t_last_errno));
  return t_last_errno;
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* t) {
  return UnixOf(vfs)->xCurrentTimeInt64(UnixOf(vfs), t);
}

std::mutex g_mu;
std::map<Env*, EnvVfs*>* g_vfs = new std::map<Env*, EnvVfs*>();  // never freed: SQLite keeps pointers into it

}  // namespace

const char* SqliteEnvVfsName(Env* env) {
  std::lock_guard<std::mutex> l(g_mu);
  auto it = g_vfs->find(env);
  if (it != g_vfs->end()) return it->second->name.c_str();
  if (sqlite3_initialize() != SQLITE_OK) return nullptr;
  sqlite3_vfs* unix_vfs = sqlite3_vfs_find("unix");
  if (!unix_vfs) unix_vfs = sqlite3_vfs_find(nullptr);
  if (!unix_vfs || unix_vfs->iVersion < 2) return nullptr;
  auto ev = std::make_unique<EnvVfs>();
  ev->name = "maestro-env-" + std::to_string(g_vfs->size() + 1);
  ev->env = env;
  ev->unix_vfs = unix_vfs;
  sqlite3_vfs& v = ev->vfs;
  std::memset(&v, 0, sizeof(v));
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(kEnvFileSize) + unix_vfs->szOsFile;
  v.mxPathname = unix_vfs->mxPathname;
  v.zName = ev->name.c_str();
  v.pAppData = ev.get();
  v.xOpen = VfsOpen;
  v.xDelete = VfsDelete;
  v.xAccess = VfsAccess;
  v.xFullPathname = VfsFullPathname;
  v.xDlOpen = VfsDlOpen;
  v.xDlError = VfsDlError;
  v.xDlSym = VfsDlSym;
  v.xDlClose = VfsDlClose;
  v.xRandomness = VfsRandomness;
  v.xSleep = VfsSleep;
  v.xCurrentTime = VfsCurrentTime;
  v.xGetLastError = VfsGetLastError;
  v.xCurrentTimeInt64 = VfsCurrentTimeInt64;
  if (sqlite3_vfs_register(&v, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
  const char* name = ev->name.c_str();
  (*g_vfs)[env] = ev.release();
  return name;
}

int TakeSqliteEnvVfsErrno() {
  int e = t_last_errno;
  t_last_errno = 0;
  return e;
}

Result<const char*> SqliteVfsFor(Env* env) {
  if (!env || env == Env::Default()) return static_cast<const char*>(nullptr);
  const char* name = SqliteEnvVfsName(env);
  if (!name) return Status::Internal("cannot register the SQLite VFS over the test Env (SQLite out of memory?)");
  return name;
}

}  // namespace maestro
