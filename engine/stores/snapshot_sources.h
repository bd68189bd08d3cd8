// engine/stores/snapshot_sources.h — the one bridge between the engine's stores
// (engine/stores/layout.h) and the snapshot layer (snapshot/repository.h).
//
// SourcesFor turns a discovered Layout into the SnapshotSource list that
// Repository::Create captures; RestoreRelativePath is the reverse mapping that
// `snap restore --to DIR` uses to lay the stores out under DIR as they were
// under the root. Both are pure (no I/O) and thread-safe.
#pragma once

#include <string>
#include <vector>

#include "engine/stores/layout.h"
#include "snapshot/repository.h"

namespace maestro {

// Why a snapshot was taken (SnapshotInfo::trigger / CreateOptions::trigger).
namespace trigger {
inline constexpr char kManual[] = "manual";
inline constexpr char kPreReset[] = "pre-reset";
inline constexpr char kPreCleanup[] = "pre-cleanup";
inline constexpr char kPreRestore[] = "pre-restore";
inline constexpr char kPreMigrate[] = "pre-migrate";
inline constexpr char kScheduled[] = "scheduled";
}  // namespace trigger

// One SnapshotSource per selected store, in StoreId order (stores empty = all
// six). A store that is not present is still listed (present=false) so the
// snapshot records it as absent and restoring makes it absent again.
std::vector<SnapshotSource> SourcesFor(const Layout& layout, const std::vector<StoreId>& stores = {});

// Where a store of a snapshot goes under a restore target directory, relative
// to that directory: the store's original path relative to root when it lay
// under root (e.g. "maestro_backend/data/maestro.db"), else "<store>/<basename>"
// for a SQLite-file store and "<store>" for a directory store.
// root and original_path are absolute, normalised paths; root may be "" (then
// every store goes under its name).
std::string RestoreRelativePath(const std::string& root, const std::string& store,
                                const std::string& original_path, bool is_directory);

}  // namespace maestro
