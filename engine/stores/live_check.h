// engine/stores/live_check.h — refuse to change stores the running app holds open.
//
// Reset, cleanup and in-place restore call RefuseIfStoresInUse before they take
// their snapshot: it scans /proc (util/proc_scan.h) for processes holding any
// file of the given stores open (a SQLite file with its -wal/-shm/-journal, or
// anything below a directory store). This process is never reported.
//
// Failure: Busy (exit code 5) naming each holder's pid, program and file, and
// what to do: stop the app, or pass --force. With force the holders are returned
// as warnings instead. Processes we may not inspect are not seen (a
// non-root maestro-db cannot see another user's app); the check is a guard, the
// repository lock and the journal are the real protection.
//
// RefuseIfStoresAreMountPoints: a transaction moves a store (or, for cleanup,
// files out of it) aside with rename(2) within the store's parent directory. A
// store that is itself a mount point (a bind-mounted file or directory) cannot be
// moved that way (EBUSY/EXDEV), so such a command is refused before its snapshot,
// naming the store and what to do, instead of failing at its swap and rolling back.
#pragma once

#include <string>
#include <vector>

#include "engine/stores/layout.h"
#include "util/status.h"

namespace maestro {

// The files of `stores` the app may hold: a SQLite store with its -wal/-shm/-journal,
// a directory store as a whole (present stores only).
std::vector<std::string> WatchedStoreFiles(const Layout& layout, const std::vector<StoreId>& stores);

// stores: the stores the command will change. warnings receives one line per
// holder when force is true (may be null).
Status RefuseIfStoresInUse(const Layout& layout, const std::vector<StoreId>& stores, bool force,
                           std::vector<std::string>* warnings);
// The same guard over explicit paths (files, or directories: anything below them).
Status RefuseIfPathsInUse(const std::vector<std::string>& paths, bool force = false,
                          std::vector<std::string>* warnings = nullptr);

// BadStore (exit code 8) naming each present store among `stores` whose path is
// the root of a mount (statx STATX_ATTR_MOUNT_ROOT, which also sees a bind mount
// from the same filesystem; else a different st_dev than its parent).
Status RefuseIfStoresAreMountPoints(const Layout& layout, const std::vector<StoreId>& stores);

}  // namespace maestro
