// engine/live_check.h — refuse to change stores the running app holds open.
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
#pragma once

#include <string>
#include <vector>

#include "engine/layout.h"
#include "util/status.h"

namespace maestro {

// stores: the stores the command will change. warnings receives one line per
// holder when force is true (may be null).
Status RefuseIfStoresInUse(const Layout& layout, const std::vector<StoreId>& stores, bool force,
                           std::vector<std::string>* warnings);

}  // namespace maestro
