// util/sqlite_env_vfs.h — a SQLite VFS whose file I/O goes through an Env, so a
// FaultEnv (tests/support/fault_env.h) sees SQLite's writes and fsyncs, and a simulated
// power cut drops a store's unsynced writes as it drops ours (SQLite's own crash
// tests do the same with a VFS under the database: src/test6.c).
//
// What goes through the Env (RandomRWFile, util/env.h):
//   * the main database, its rollback journal, its WAL and a super-journal:
//     open/create (Env::NewRandomRWFile), read, write, truncate, sync, file size;
//   * xDelete (Env::RemoveFile, then Env::SyncDir when SQLite asks for it),
//     xAccess (Env::Stat: a zero-length journal counts as absent, as in the unix
//     VFS), and the directory fsync SQLite's unix VFS does after the first sync
//     of a journal or WAL it created (Env::SyncDir).
// What stays on SQLite's default (unix) VFS, and why:
//   * locking (xLock/xUnlock/xCheckReservedLock) and the WAL index (xShm*): the
//     main database is opened a second time through the unix VFS and those calls
//     go to it, so locks are the real POSIX locks other processes see and the
//     -shm file is the real one. The wal-index holds no durable data (SQLite
//     rebuilds it from the WAL when the first connection opens after a crash).
//   * temporary files (temp databases, statement journals, sort files): opened
//     by the unix VFS in place; they never outlive the connection.
//   * xFullPathname, randomness, sleep, time: no durable effect.
// Limits: the Env holds its own descriptor on the database; closing it drops
// this process's POSIX locks on that file (the POSIX rule), so the VFS is for a
// process whose connections to a file all use it, one after another — the
// power-cut tests. Size hints and mmap are not used (every byte goes through Env).
//
// Decision (issue 14 point 7): production keeps SQLite's own unix VFS (the live
// MAESTRO app opens the same files with it, and its locking is the one proven
// across processes). Db::OpenReadWrite(env, ...) (util/sqlite.h) uses this VFS
// only when env is not Env::Default(), i.e. under a test's FaultEnv.
//
// Thread safety: registration is thread-safe; a connection is single-threaded.
#pragma once

#include <string>

#include "util/env.h"

namespace maestro {

// The name of the VFS over env ("maestro-env-<n>"), registered on first use,
// never as the default VFS and never unregistered (one per distinct Env address;
// an Env at a reused address reuses its entry). env must outlive every
// connection opened with that name.
const char* SqliteEnvVfsName(Env* env);

// The VFS to open a database with under env: nullptr (SQLite's default) when
// env is null or Env::Default(), else SqliteEnvVfsName(env); Internal if it
// cannot be registered.
Result<const char*> SqliteVfsFor(Env* env);

// The errno of this thread's last failed Env call inside the VFS, then 0 (0 if
// none). SQLite does not always pass it on as sqlite3_system_errno (an error
// raised with a message skips it); util/sqlite.cc falls back to this.
int TakeSqliteEnvVfsErrno();

}  // namespace maestro
