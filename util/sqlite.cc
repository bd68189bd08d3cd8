#include "util/sqlite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/sqlite_env_vfs.h"

namespace maestro {

namespace {

// An SQLite return code as a Status kind, with what the user can do next.
Status SqliteStatus(const std::string& msg, int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(msg + " (another process is writing; try again, or stop the app)");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_EMPTY:
    case SQLITE_FORMAT:
      return Status::BadStore(msg);
    case SQLITE_FULL:
      return Status::IoError(msg + " (the disk is full: free space, then run the command again)");
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::IoError(msg);
    case SQLITE_CANTOPEN:
      return Status::IoError(msg);
    case SQLITE_ERROR:
      return Status::BadStore(msg);
    default:
      return Status::Internal(msg);
  }
}

// The OS error behind an I/O failure: what the VFS reported to SQLite, else
// what the Env VFS saw (0 for other codes, or when neither knows).
int SystemErrno(int rc, sqlite3* db) {
  if ((rc & 0xff) != SQLITE_IOERR && (rc & 0xff) != SQLITE_CANTOPEN) return 0;
  int sys = db ? sqlite3_system_errno(db) : 0;
  int env = TakeSqliteEnvVfsErrno();
  return sys > 0 ? sys : env;
}

}  // namespace

Status SqliteError(const std::string& context, int rc, sqlite3* db) {
  std::string msg = context + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  // The OS error behind an I/O failure, as the VFS reported it: named in the
  // message and kept as err_no(), so ENOSPC and EIO can be told apart.
  int sys = (rc & 0xff) == SQLITE_FULL ? ENOSPC : SystemErrno(rc, db);
  if (sys > 0 && (rc & 0xff) != SQLITE_FULL) msg += std::string(" (") + std::strerror(sys) + ")";
  Status s = SqliteStatus(msg, rc);
  if (sys > 0) s.WithErrno(sys);
  return s;
}

namespace {

// Percent-encodes a path for a file: URI.
std::string UriPath(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c == '&' || c == '=' || c < 0x20) {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool ReadHeader(const std::string& path, unsigned char* hdr, size_t n, size_t* got) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  *got = std::fread(hdr, 1, n, f);
  std::fclose(f);
  return true;
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

bool LooksLikeSqlite(const std::string& path) {
  unsigned char hdr[16];
  size_t got = 0;
  if (!ReadHeader(path, hdr, sizeof(hdr), &got) || got < 16) return false;
  return std::memcmp(hdr, "SQLite format 3\0", 16) == 0;
}

Db::~Db() { Close().IgnoreError("a destructor cannot report; callers that care Close() first"); }

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    Close().IgnoreError("replaced by a move; callers that care Close() first");
    db_ = o.db_;
    path_ = std::move(o.path_);
    o.db_ = nullptr;
  }
  return *this;
}

Status Db::Close() {
  if (!db_) return Status::OK();
  int rc = sqlite3_close_v2(db_);
  db_ = nullptr;
  if (rc != SQLITE_OK) return SqliteError("close " + path_, rc);
  return Status::OK();
}

Result<Db> Db::OpenReadOnly(const std::string& path, int busy_timeout_ms) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound(path + ": no such database file");
  if (S_ISDIR(st.st_mode)) return Status::BadStore(path + ": is a directory, expected an SQLite database file");
  if (::access(path.c_str(), R_OK) != 0) return Status::IoError(path + ": permission denied (cannot read the database)");
  if (st.st_size == 0) return Status::BadStore(path + ": empty file, not an SQLite database");
  unsigned char hdr[100];
  size_t got = 0;
  if (!ReadHeader(path, hdr, sizeof(hdr), &got)) return Status::IoError(path + ": cannot read");
  if (got < 100 || std::memcmp(hdr, "SQLite format 3\0", 16) != 0)
    return Status::BadStore(path + ": not an SQLite database (bad header)");
  bool wal = hdr[18] == 2 || hdr[19] == 2;
  std::string uri = "file:" + UriPath(path) + "?mode=ro";
  if (wal && !Exists(path + "-shm")) uri += "&immutable=1";
  Db db;
  db.path_ = path;
  int rc = sqlite3_open_v2(uri.c_str(), &db.db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteError("open " + path, rc, db.db_);
  sqlite3_busy_timeout(db.db_, busy_timeout_ms);
  // Force the header/schema read now so that garbage is reported at open.
  auto n = db.QueryInt("SELECT count(*) FROM sqlite_master");
  if (!n.ok()) return n.status();
  return db;
}

Result<Db> Db::OpenReadWrite(const std::string& path, bool create, int busy_timeout_ms) {
  return OpenReadWrite(nullptr, path, create, busy_timeout_ms);
}

Result<Db> Db::OpenReadWrite(Env* env, const std::string& path, bool create, int busy_timeout_ms) {
  MAESTRO_ASSIGN_OR_RETURN(const char* vfs, SqliteVfsFor(env));
  Db db;
  db.path_ = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, vfs);
  if (rc != SQLITE_OK) return SqliteError("open " + path, rc, db.db_);
  sqlite3_busy_timeout(db.db_, busy_timeout_ms);
  auto n = db.QueryInt("SELECT count(*) FROM sqlite_master");
  if (!n.ok()) return n.status();
  return db;
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    int sys = SystemErrno(rc, db_);
    Status s = SqliteError(path_, rc, nullptr);
    // The OS error behind an I/O failure (the message already has SQLite's words).
    if (sys > 0) m += std::string(" (") + std::strerror(sys) + ")";
    Status out = Status(s).Annotate(m).Annotate("exec");
    if (sys > 0) out.WithErrno(sys);
    return out;
  }
  return Status::OK();
}

Result<Stmt> Db::Prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) return SqliteError(path_ + ": prepare [" + sql.substr(0, 80) + "]", rc, db_);
  return Stmt(s, db_);
}

Result<int64_t> Db::QueryInt(const std::string& sql) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
  MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Int(0) : int64_t{0};
}

Result<bool> Db::TableExists(const std::string& table) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name=?"));
  st.Bind(1, table);
  return st.Step();
}

Result<std::vector<std::string>> Db::Columns(const std::string& table) {
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, Prepare("SELECT name FROM pragma_table_info(?)"));
  st.Bind(1, table);
  std::vector<std::string> cols;
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    cols.push_back(st.Text(0));
  }
  return cols;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(s_);
  return SqliteError(std::string("step [") + (sql ? std::string(sql).substr(0, 80) : "") + "] " +
                         (db_ ? sqlite3_db_filename(db_, "main") : ""),
                     rc, db_);
}

Status Stmt::Run() {
  while (true) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::OK();
  }
}

Status SqliteBackup(const std::string& src_path, const std::string& dst_path) {
  // The source is opened read-only through the normal (non-immutable) path when a
  // live -shm exists, so the backup sees a consistent snapshot of the WAL.
  MAESTRO_ASSIGN_OR_RETURN(Db src, Db::OpenReadOnly(src_path, 10000));
  return SqliteBackup(src, dst_path, /*durable=*/true);
}

Status SqliteBackup(Db& src, const std::string& dst_path, bool durable) {
  const std::string& src_path = src.path();
  MAESTRO_ASSIGN_OR_RETURN(Db dst, Db::OpenReadWrite(dst_path, true));
  if (!durable) MAESTRO_RETURN_IF_ERROR(dst.Exec("PRAGMA synchronous=OFF"));
  sqlite3_backup* b = sqlite3_backup_init(dst.raw(), "main", src.raw(), "main");
  if (!b) return SqliteError("backup " + src_path + " -> " + dst_path, sqlite3_errcode(dst.raw()), dst.raw());
  int rc;
  // Copy everything in one step: a step of -1 holds the read lock for the whole
  // copy, so the result is one consistent point in time.
  do {
    rc = sqlite3_backup_step(b, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  int frc = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return SqliteError("backup " + src_path, rc, dst.raw());
  if (frc != SQLITE_OK) return SqliteError("backup " + src_path, frc, dst.raw());
  // The copy must be one self-contained file: no WAL mode in its header.
  MAESTRO_RETURN_IF_ERROR(dst.Exec("PRAGMA journal_mode=DELETE"));
  return dst.Close();
}

}  // namespace maestro
