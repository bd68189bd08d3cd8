// util/sqlite.h — a thin RAII layer over SQLite3.
//
// SqliteError(context, rc, db) is the one place an SQLite return code becomes a
// Status: SQLITE_BUSY/LOCKED -> Busy, SQLITE_NOTADB/CORRUPT -> BadStore,
// SQLITE_FULL/IOERR -> IoError, SQLITE_CANTOPEN -> NotFound or IoError.
//
// Db::OpenReadOnly never creates -wal, -shm or journal files and never changes
// a byte of the database (see its comment). Db/Stmt are single-threaded.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

Status SqliteError(const std::string& context, int rc, sqlite3* db = nullptr);

class Stmt;

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Read-only and side-effect free, even beside a live app:
  //  * a WAL database with a -shm file (someone has it open) is opened mode=ro
  //    and reads the live WAL snapshot;
  //  * a WAL database without -shm/-wal is opened immutable=1, so SQLite
  //    creates no -shm/-wal beside it;
  //  * a rollback-journal database is opened mode=ro.
  // Checks the 16-byte header first: garbage or an empty file is BadStore with
  // the path named. busy_timeout_ms bounds the wait for a writer's lock.
  static Result<Db> OpenReadOnly(const std::string& path, int busy_timeout_ms = 2000);
  // Read-write; creates the file when create is true.
  static Result<Db> OpenReadWrite(const std::string& path, bool create, int busy_timeout_ms = 5000);
  // The same with every file operation of SQLite under env: SQLite's own unix
  // VFS when env is null or Env::Default() (production: its locking is the one
  // the live app shares), the Env VFS (util/sqlite_env_vfs.h) under any other
  // Env, so a test's FaultEnv sees the store's writes and fsyncs.
  static Result<Db> OpenReadWrite(Env* env, const std::string& path, bool create, int busy_timeout_ms = 5000);

  Status Exec(const std::string& sql);  // one or more statements, no results
  Result<Stmt> Prepare(const std::string& sql);
  Result<int64_t> QueryInt(const std::string& sql);  // first column of first row (0 if none)
  Result<bool> TableExists(const std::string& table);
  Result<std::vector<std::string>> Columns(const std::string& table);
  int64_t Changes() const { return sqlite3_changes64(db_); }

  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }
  Status Close();

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* s, sqlite3* db) : s_(s), db_(db) {}
  ~Stmt() { if (s_) sqlite3_finalize(s_); }
  Stmt(Stmt&& o) noexcept : s_(o.s_), db_(o.db_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    if (this != &o) { if (s_) sqlite3_finalize(s_); s_ = o.s_; db_ = o.db_; o.s_ = nullptr; }
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int idx, int64_t v) { sqlite3_bind_int64(s_, idx, v); return *this; }
  Stmt& Bind(int idx, const std::string& v) { sqlite3_bind_text(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); return *this; }
  Stmt& BindBlob(int idx, std::string_view v) { sqlite3_bind_blob(s_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); return *this; }
  Stmt& BindNull(int idx) { sqlite3_bind_null(s_, idx); return *this; }
  Stmt& BindDouble(int idx, double v) { sqlite3_bind_double(s_, idx, v); return *this; }

  // Step: Result true = a row is available, false = done.
  Result<bool> Step();
  Status Run();  // step to completion, ignoring rows
  void Reset() { sqlite3_reset(s_); sqlite3_clear_bindings(s_); }

  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  double Double(int col) const { return sqlite3_column_double(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(s_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  std::string Blob(int col) const {
    const void* b = sqlite3_column_blob(s_, col);
    return b ? std::string(static_cast<const char*>(b), static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int ColumnCount() const { return sqlite3_column_count(s_); }
  sqlite3_stmt* raw() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
};

// Copies a live SQLite database with the online backup API into dst (a new
// file; the caller publishes it). The copy is one consistent snapshot even while
// another process writes. The copy is switched to journal_mode=DELETE so that it
// is a single self-contained file. Never copies the file beside a hot -wal.
Status SqliteBackup(const std::string& src_path, const std::string& dst_path);
// The same from an open source connection (which may already hold the read
// transaction to copy). durable=false: the copy is written with
// synchronous=OFF, for scratch copies that are never the only copy.
Status SqliteBackup(Db& src, const std::string& dst_path, bool durable);

// True if the first 16 bytes are the SQLite header.
bool LooksLikeSqlite(const std::string& path);

}  // namespace maestro
