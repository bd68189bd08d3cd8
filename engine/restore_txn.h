// engine/restore_txn.h — `snap restore ID` in place, as a journaled transaction.
//
// Plan, per chosen store: "restore.stage.<store>" writes the store of snapshot
// `source` beside it ("<path>.maestro-new-<txn>", same filesystem) through
// Repository::RestoreStore, which checks every hash; "restore.swap.<store>"
// renames the current store (with its -wal/-shm/-journal) aside and the restored
// copy into place. After the commit the asides are deleted. The pre-restore
// snapshot of the current state is taken first, so a restore can itself be
// undone with `snap restore <that id>`. A store absent in `source` is made absent.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/layout.h"
#include "engine/txn.h"

namespace maestro {

inline constexpr const char* kRestoreKind = "restore";
inline constexpr const char* kRestoreTrigger = "pre-restore";

nlohmann::json RestoreArgs(const Layout& layout, const std::string& source_snapshot, const std::vector<StoreId>& stores);
Result<TxnPlan> BuildRestorePlan(const TxnContext& ctx);

}  // namespace maestro
