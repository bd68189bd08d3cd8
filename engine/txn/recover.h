// engine/txn/recover.h — the entry points the CLI uses to run and recover
// transactions against a real repository.
//
// TxnSession bundles what a writing command holds for its whole run: the
// repository lock (snapshot/repo_lock.h), the repository, the journal and the
// TxnServices built on them (snapshot = Repository::Create of all six stores with
// the kind's trigger, then Repository::Verify of that id; restore_store =
// Repository::RestoreStore).
//
// FindUnfinishedTransaction is the cheap check every command runs first: it opens
// the journal only if <repo>/journal exists (creating nothing) and folds its
// records. Read-only commands warn; writing commands refuse with
// UnfinishedError (exit code 6).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/stores/layout.h"
#include "engine/txn/txn.h"
#include "journal/journal.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"

namespace maestro {

struct TxnSession {
  std::unique_ptr<RepoLock> lock;
  std::unique_ptr<Repository> repo;
  TxnServices svc;
};

// Takes the repository lock (Busy naming the holder), then opens or creates the
// repository (OpenWriter, snapshot/open_writer.h) and the journal.
Result<std::unique_ptr<TxnSession>> OpenTxnSession(const Layout& layout, Env* env);

// TxnServices on an already open repository whose lock the caller holds
// (used by `snap restore` in place, which opens and locks the repository itself).
Result<TxnServices> ServicesOn(Repository* repo, const Layout& layout, Env* env);

// nullopt when there is no journal or nothing unfinished; Corruption if damaged.
Result<std::optional<TxnSummary>> FindUnfinishedTransaction(const Layout& layout, Env* env);
// The refusal a writing command returns while `txn` is unfinished.
Status UnfinishedError(const TxnSummary& txn);

// The plan builder and snapshot trigger of a transaction kind (NotFound if unknown).
Result<TxnBuilder> BuilderForKind(const std::string& kind);
std::string TriggerForKind(const std::string& kind);

// Recovers the unfinished transaction, if any. report->outcome is "nothing" when
// there was nothing to do.
Status RecoverTransactions(TxnSession& session, RecoverMode mode, TxnReport* report);

}  // namespace maestro
