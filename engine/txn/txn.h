// engine/txn/txn.h — journaled multi-store transactions (reset, cleanup, in-place
// restore): START HERE for how maestro-db changes stores safely.
//
// Words:
//   step        one idempotent change to one store, with a do and an undo.
//               Repeating a finished step is harmless; undoing a step that never
//               ran (or was already undone) is harmless.
//   plan        the ordered steps before the commit, plus finishing steps after
//               it (e.g. deleting renamed-aside data). A plan is rebuilt from the
//               transaction's kind and journaled args, so recovery in another
//               process runs exactly the same steps.
//   aside       "<store path>.maestro-aside-<txn id>": where a store (a SQLite file
//               with its -wal/-shm/-journal, or a directory) is renamed to instead
//               of being deleted, in the same directory (same filesystem: rename is
//               atomic and cheap). Rollback before the commit renames it back.
//   staged      "<store path>.maestro-new-<txn id>": new content built beside the
//               store (a fresh schema, a restored snapshot) before it is renamed in.
//   trash       "<store path>.maestro-trash-<txn id>": an aside after the commit.
//               The finishing steps only rename asides to trash (cheap, however big
//               the store); deleting trash is never part of a transaction: it is
//               garbage from the moment it exists (the pre-image is in the verified
//               snapshot), so PurgeTrash() runs after the end record, in the
//               background or later (`maestro-db purge-trash`), and a crash or kill
//               during it loses nothing.
//   commit      the journal's commit record: the single durable fact that decides
//               between rollback (absent) and roll-forward (present).
//
// Sequence of Run(): begin record (kind, args) -> [the plan's before_snapshot steps,
// each intent/do/done] -> snapshot with the kind's trigger,
// verified -> snapshot record -> for each step: intent record (durable), do, done
// record -> commit record -> finishing steps -> end record. A crash point sits
// between every pair of durable actions (names: CrashPointNames(), "txn.*",
// "store.*"). A step that fails before the commit makes Run() roll back at once
// (undo records, end "rolled_back") and return the step's error; if the rollback
// fails too, the transaction stays unfinished and Run() returns Unfinished.
//
// What a crash leaves: the journal tells how far it got; stores may hold
// *.maestro-aside-* / *.maestro-new-* entries. Recover() (engine/txn/recover.h) rolls
// back (no commit record) or forward (commit record) and removes those leftovers.
//
// Locking and threads: the caller holds the repository lock for the whole
// transaction; one transaction runs at a time per repository; not thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "journal/journal.h"
#include "snapshot/file_meta.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

struct TxnStep {
  std::string name;                 // "reset.swap.main"
  std::function<Status()> run;      // idempotent
  std::function<Status()> undo;     // idempotent; may be null (nothing to undo)
};

struct TxnPlan {
  std::vector<TxnStep> steps;   // before the commit, in order
  std::vector<TxnStep> finish;  // after the commit (never undone), idempotent
  // The first before_snapshot steps run (journaled like the others) after the
  // begin record and before the snapshot: stopping the app (engine/txn/app_control.h),
  // so the pre-image is taken at rest. A failing snapshot undoes them.
  size_t before_snapshot = 0;
};

// What transactions need from the snapshot repository, injectable for tests.
struct TxnServices {
  Env* env = nullptr;
  std::shared_ptr<Journal> journal;
  // Creates a snapshot of every store with the trigger ("pre-reset"...), verifies
  // it (Repository::Verify) and returns its id.
  std::function<Result<std::string>(const std::string& trigger)> snapshot;
  // Writes store `store` of snapshot `snap` to target (which must not exist).
  // NotFound when the store was absent in that snapshot.
  std::function<Status(const std::string& snap, const std::string& store, const std::string& target)> restore_store;
  // The same from another repository, named by its --repo spec (an in-place
  // restore whose snapshot is on a remote: engine/txn/restore_txn.h). Null = refused.
  std::function<Status(const std::string& repo_spec, const std::string& snap, const std::string& store,
                       const std::string& target)>
      restore_store_from;
  // What restore_store and reset's fresh stores could not give back (owners when
  // not root...), for the command to print; shared by copies of these services.
  std::shared_ptr<MetadataReport> metadata = std::make_shared<MetadataReport>();
};

// Inputs of a plan builder.
struct TxnContext {
  TxnServices* svc = nullptr;
  std::string txn_id;
  std::string kind;
  nlohmann::json args;
  std::string snapshot_id;  // "" before the snapshot exists (dry runs)
};
using TxnBuilder = std::function<Result<TxnPlan>(const TxnContext&)>;

struct TxnReport {
  std::string txn_id;
  std::string kind;
  std::string snapshot_id;
  std::string outcome;  // "committed", "rolled_back", "unfinished"
  std::vector<std::string> steps_run;
  std::vector<std::string> steps_undone;
};

// A new transaction id: "<UTC stamp>-<4 hex>", e.g. "20250808_143022-3fa1".
std::string NewTxnId(Env* env);

// Runs a new transaction to its end (see the sequence above).
Status RunTransaction(TxnServices& svc, const std::string& kind, const std::string& trigger,
                      const nlohmann::json& args, const TxnBuilder& builder, TxnReport* report);

enum class RecoverMode { kAuto, kRollback, kResume };
// Finishes an unfinished transaction found in the journal: kAuto rolls back
// without a commit record and forward with one. kRollback of a committed
// transaction is refused (InvalidArgument: restore its snapshot instead).
// Recovery is itself journaled and idempotent: a crash during it is recovered
// by running it again.
Status FinishTransaction(TxnServices& svc, const TxnSummary& txn, RecoverMode mode, const TxnBuilder& builder,
                         const std::string& trigger, TxnReport* report);

// ----------------------------------------------------------------- store moves
// Building blocks for steps. `sqlite` = the store is a SQLite file with sidecars
// (-wal, -shm, -journal) that move with it. All are idempotent and fsync the
// parent directory after renames.
std::string AsidePath(const std::string& path, const std::string& txn_id);
std::string StagedPath(const std::string& path, const std::string& txn_id);
std::string TrashPath(const std::string& path, const std::string& txn_id);
// Renames path (+sidecars) to aside unless aside already exists (then it is done).
Status MoveStoreAside(Env* env, const std::string& path, const std::string& aside, bool sqlite);
// Renames staged (+sidecars) to path when staged exists and path does not.
Status PutStoreInPlace(Env* env, const std::string& staged, const std::string& path, bool sqlite);
// Undo of MoveStoreAside(+PutStoreInPlace): if aside exists, whatever is at path
// is removed and aside is renamed back; when the store was not present before,
// whatever is at path is removed.
Status MoveStoreBack(Env* env, const std::string& path, const std::string& aside, bool sqlite, bool was_present);
// Removes a file (+sidecars) or a directory tree; OK if missing.
Status RemoveStoreCopy(Env* env, const std::string& path, bool sqlite);
// Makes a file's data, owner, mode and times, and its directory entry durable.
Status SyncFileAndDir(Env* env, const std::string& path);

// Adds the steps that replace one store by new content:
//   "<prefix>.stage.<store>"  stage(staged path) builds the new content beside the
//                             store (undo: remove it). stage returning NotFound
//                             means "the store is to be absent".
//   "<prefix>.swap.<store>"   moves the store aside and the staged content into
//                             place (undo: MoveStoreBack)
//   finish "<prefix>.drop_aside.<store>" moves the aside to trash (TrashPath) and
//                             removes any staged leftover.
struct StoreRef {
  std::string name;
  std::string path;
  bool sqlite = false;
  bool present = false;
  nlohmann::json ToJson() const;  // decoded, checked, by DecodeStoreRef (engine/txn/txn_args.h)
  static StoreRef FromStore(const Store& s);
};
void AddReplaceStoreSteps(TxnPlan* plan, Env* env, const std::string& prefix, const StoreRef& store,
                          const std::string& txn_id, std::function<Status(const std::string& staged)> stage);

// Puts a store back to its content in snapshot `snap` (restore beside, swap, drop),
// idempotently; used as the undo of steps that change a store in place.
Status RestoreStoreFromSnapshot(TxnServices& svc, const StoreRef& store, const std::string& snap,
                                const std::string& txn_id);

// Leftover "*.maestro-aside-*" / "*.maestro-new-*" / "*.maestro-undo-*" entries beside the stores.
std::vector<std::string> FindTxnLeftovers(Env* env, const Layout& layout);

// "*.maestro-trash-*" entries beside the stores (see "trash" above), or in `dirs`; sorted.
std::vector<std::string> FindTrash(Env* env, const Layout& layout);
std::vector<std::string> FindTrash(Env* env, const std::vector<std::string>& dirs);
struct PurgeStats {
  int64_t entries = 0;  // trash entries removed
  int64_t files = 0;    // files (and symlinks) unlinked inside them
  int64_t bytes = 0;    // their apparent size
};
// Deletes trash entries (files or trees). Safe to run concurrently with another
// purge of the same entries: what vanishes underneath it counts as removed.
// Refuses (InvalidArgument) a path that is not a trash name.
Status PurgeTrash(Env* env, const std::vector<std::string>& entries, PurgeStats* stats);
// Adds up what PurgeTrash would free, without deleting anything.
Status MeasureTrash(Env* env, const std::vector<std::string>& entries, PurgeStats* stats);

}  // namespace maestro
