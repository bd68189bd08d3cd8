#include "engine/txn/recover.h"

#include "engine/txn/app_control.h"
#include "engine/txn/cleanup.h"
#include "engine/migrate/migrate.h"
#include "engine/txn/migrate_txn.h"
#include "engine/txn/reset.h"
#include "engine/txn/restore_txn.h"
#include "engine/stores/snapshot_sources.h"
#include "engine/stores/store_paths.h"
#include "snapshot/open_writer.h"

namespace maestro {

Result<TxnServices> ServicesOn(Repository* repo, const Layout& layout, Env* env) {
  TxnServices svc;
  MAESTRO_ASSIGN_OR_RETURN(svc.journal, Journal::Open(env, JournalDir(layout.repo()), true));
  svc.env = env;
  svc.snapshot = [repo, layout](const std::string& trigger) -> Result<std::string> {
    // Rediscover (keeping config overrides): a store may have appeared or vanished
    // since the command started.
    MAESTRO_ASSIGN_OR_RETURN(Layout now, layout.Rediscover());
    CreateOptions opts;
    opts.trigger = trigger;
    opts.label = "taken by maestro-db before a " + trigger.substr(trigger.find('-') + 1);
    MAESTRO_ASSIGN_OR_RETURN(SnapshotInfo info, repo->Create(SourcesFor(now), opts));
    MAESTRO_ASSIGN_OR_RETURN(VerifyReport rep, repo->Verify({info.id}, false));
    if (!rep.ok())
      return Status::Corruption("the " + trigger + " snapshot " + info.id + " does not verify: " +
                                    rep.problems.front().detail,
                                "nothing was changed; run `maestro-db snap verify` and check the disk");
    return info.id;
  };
  svc.restore_store = [repo, report = svc.metadata, opened = std::make_shared<OpenedRestore>()](
                          const std::string& snap, const std::string& store, const std::string& target) {
    RestoreOptions ro;
    ro.metadata = report.get();
    return opened->RestoreStore(repo, snap, store, target, ro);
  };
  svc.restore_store_from = RestoreFromOtherRepository(env, svc.metadata);  // a remote source (engine/txn/restore_txn.h)
  return svc;
}

Result<std::unique_ptr<TxnSession>> OpenTxnSession(const Layout& layout, Env* env) {
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));  // before the repository is created or the journal opened
  auto session = std::make_unique<TxnSession>();
  WriterOptions wo;
  wo.create = true;
  MAESTRO_ASSIGN_OR_RETURN(WriterSession w, OpenWriter(env, layout.repo(), wo));
  session->lock = std::move(w.lock);
  session->repo = std::move(w.repo);
  MAESTRO_ASSIGN_OR_RETURN(session->svc, ServicesOn(session->repo.get(), layout, env));
  return session;
}

Result<std::optional<TxnSummary>> FindUnfinishedTransaction(const Layout& layout, Env* env) {
  std::string dir = JournalDir(layout.repo());
  if (!env->FileExists(JoinPath(dir, "data.mdb"))) return std::optional<TxnSummary>();
  MAESTRO_ASSIGN_OR_RETURN(auto j, Journal::Open(env, dir, false));
  return j->Unfinished();
}

Status UnfinishedError(const TxnSummary& txn) {
  return Status::Unfinished(
      "an unfinished transaction must be recovered first: " + txn.Describe(),
      std::string("run `maestro-db recover` (it will ") + (txn.committed ? "finish it: roll forward" : "roll it back") +
          "), or choose explicitly with `maestro-db recover --rollback` or `maestro-db recover --resume`");
}

Result<TxnBuilder> BuilderForKind(const std::string& kind) {
  if (kind == kResetKind) return TxnBuilder(BuildResetPlan);
  if (kind == kCleanupKind) return TxnBuilder(BuildCleanupPlan);
  if (kind == kRestoreKind) return TxnBuilder(BuildRestorePlan);
  if (kind == kMigrateTxnKind) return TxnBuilder(BuildMigrateTxnPlan);
  return Status::NotFound("unknown transaction kind '" + kind + "' in the journal",
                          "this maestro-db is older than the one that wrote it; use the newer binary");
}

std::string TriggerForKind(const std::string& kind) {
  if (kind == kResetKind) return kResetTrigger;
  if (kind == kCleanupKind) return kCleanupTrigger;
  if (kind == kRestoreKind) return kRestoreTrigger;
  return "pre-" + kind;
}

Status RecoverTransactions(TxnSession& session, RecoverMode mode, TxnReport* report) {
  MAESTRO_ASSIGN_OR_RETURN(auto open, session.svc.journal->Unfinished());
  if (!open) {
    if (report) report->outcome = "nothing";
    return Status::OK();
  }
  MAESTRO_ASSIGN_OR_RETURN(TxnBuilder builder, BuilderForKind(open->kind));
  // A transaction that stopped the app starts it again, whichever way it ends.
  return FinishTransaction(session.svc, *open, mode, WithAppControl(builder), TriggerForKind(open->kind), report);
}

}  // namespace maestro
