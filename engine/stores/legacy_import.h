// engine/stores/legacy_import.h — `snap import-legacy`: the copies the original tool
// wrote (seed guide "Backup and Recovery"; in <root>/backups by default)
//   maestro.db.<stamp>.backup        -> store main
//   metadata.db.<stamp>.backup       -> store ai
//   vector_store_<stamp>_backup/     -> store vector
// with <stamp> = "YYYYmmdd_HHMMSS" (read as UTC), become one snapshot per stamp:
// trigger "legacy", label "legacy backup <stamp>", created at the stamp's time,
// holding only the stores that stamp has. The stores it lacks are not in the
// manifest at all (not "absent"), so restoring it in place never touches them.
//
// Contract: each SQLite copy (main, ai, and the vector copy's chroma.sqlite3)
// passes PRAGMA integrity_check before anything of its stamp is imported; a
// stamp with a failing copy is reported (refused, with the reason) and skipped.
// A main or ai copy with no -wal/-journal beside it is kept byte for byte (it
// restores identical to the copy); the vector copy's chroma.sqlite3, like any
// SQLite file in a directory store, goes through the online backup API (the
// same database, not the same bytes). A stamp already imported (a snapshot with its legacy label) is skipped, so
// running twice imports nothing new. The copies are only read, never changed.
// The caller holds the repository lock for a real run; a dry run only reads.
#pragma once

#include <string>
#include <vector>

#include "engine/stores/layout.h"
#include "snapshot/repository.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

inline constexpr char kLegacyTrigger[] = "legacy";

struct LegacyImportItem {
  std::string stamp;
  std::vector<std::string> stores;  // the stores the stamp has
  std::vector<std::string> files;   // the copies, absolute
  // "imported", "would import", "already imported" or "refused".
  std::string action;
  std::string snapshot_id;  // imported or already imported
  std::string reason;       // refused: which copy and why
};

// Finds the stamps in dir (sorted) and imports each into repo (dry_run: checks
// and reports only; repo may then be null: no repository yet). layout gives the stores' live paths (recorded as where
// restore puts them). NotFound if dir does not exist.
Status ImportLegacyBackups(Env* env, Repository* repo, const Layout& layout, const std::string& dir, bool dry_run,
                           std::vector<LegacyImportItem>* out);

}  // namespace maestro
