// engine/txn/restore_txn.h — `snap restore ID` in place, as a journaled transaction.
//
// Plan, per chosen store: "restore.stage.<store>" writes the store of snapshot
// `source` beside it ("<path>.maestro-new-<txn>", same filesystem) through
// Repository::RestoreStore, which checks every hash; "restore.swap.<store>"
// renames the current store (with its -wal/-shm/-journal) aside and the restored
// copy into place. After the commit the asides are deleted. The pre-restore
// snapshot of the current state is taken first, so a restore can itself be
// undone with `snap restore <that id>`. A store absent in `source` is made absent.
//
// Source elsewhere (disaster recovery, issue 15 point 6): with `source_repo`
// (an rclone:REMOTE:PATH spec) the snapshot is read from that repository while
// the journal, the lock and the pre-image snapshot stay in the transaction's own
// LOCAL repository (the layout's repo). The spec is journaled, so a resumed
// restage reads the same remote again; a rollback needs only local things (the
// asides), and `recover` on the local repository finds the pre-image there.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "engine/txn/txn.h"
#include "snapshot/file_meta.h"

namespace maestro {

inline constexpr const char* kRestoreKind = "restore";
inline constexpr const char* kRestoreTrigger = "pre-restore";

// source_repo "" = the snapshot is in the transaction's own repository.
nlohmann::json RestoreArgs(const Layout& layout, const std::string& source_snapshot, const std::vector<StoreId>& stores,
                           const std::string& source_repo = "");
Result<TxnPlan> BuildRestorePlan(const TxnContext& ctx);

// TxnServices::restore_store_from over real repositories: opens the repository a
// spec names for reading (snapshot/open_backend.h) on first use, keeps it for
// the next stores of the same transaction, and restores through it (every hash
// checked). What it could not give back goes to *metadata. Not thread-safe.
std::function<Status(const std::string&, const std::string&, const std::string&, const std::string&)>
RestoreFromOtherRepository(Env* env, std::shared_ptr<MetadataReport> metadata);

}  // namespace maestro
