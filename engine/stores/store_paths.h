// engine/stores/store_paths.h — the paths a writing command touches, checked against
// each other before anything is written (issue 13, points 1 and 5).
//
// Contract:
//   ResolvePath        util/follow_link.h (declared there; this header includes it).
//   ResolveStoreLink   a store path whose last component is a symlink becomes the
//                      (resolved) path it points to, so the store is read, backed up
//                      and restored at its target and the link is kept; a store
//                      that is not a link is returned as given. BadStore on a loop.
//   SpecialFileKind    "FIFO", "socket", "character device", "block device" when
//                      lstat() says path is one, else "" (never opens the path).
//   CheckStorePaths    BadStore (exit 8) naming both paths when the repository or
//                      its journal lies inside a store (or beside it as one of the
//                      store's -wal/.maestro-* names, which transactions move to
//                      trash), a store lies inside the repository, two stores are
//                      nested or equal, or a store is the install root or above
//                      it; and BadStore naming the file when a store is a FIFO,
//                      socket or device. Reads only (lstat/realpath): callers run it
//                      before creating the repository or opening the journal for
//                      writing (the CLI's writing-command gate, OpenTxnSession, the
//                      schedule).
//   CheckRepositoryPath BadStore (exit 8) naming both paths when `repo`, another
//                      repository a command makes or writes (snap copy's target,
//                      snap init's folder), lies inside a store or its family:
//                      a reset would move it to trash with the store. Reads only.
//   CheckRestoreTarget BadStore (exit 8) naming both paths when a `restore --to`
//                      folder lies inside a store of the install (or its family,
//                      as above) or inside the repository: the snapshot's files
//                      would be mixed into the live data, and the next snapshot
//                      would take them in. Reads only; before anything is written.
// Thread-safe; no state.
#pragma once

#include <string>

#include "engine/stores/layout.h"
#include "util/follow_link.h"
#include "util/status.h"

namespace maestro {

Result<std::string> ResolveStoreLink(Env* env, const std::string& path);
std::string SpecialFileKind(Env* env, const std::string& path);
Status CheckStorePaths(const Layout& layout);
Status CheckRepositoryPath(const Layout& layout, const std::string& repo);
Status CheckRestoreTarget(const Layout& layout, const std::string& to);

}  // namespace maestro
