// cli/recover_cmd.cc — `maestro-db recover`: an interrupted transaction rolled
// back or forward (engine/txn/recover.h). Exempt from the unfinished-transaction
// gate (it is what the gate points to). Parsing and printing only.
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/remote_txn.h"
#include "cli/txn_cmd.h"
#include "engine/stores/store_paths.h"
#include "engine/txn/recover.h"

namespace maestro {

namespace {

Status RunRecover(CliContext& ctx, RecoverMode mode, const std::string& pre_image_repo) {
  // With a remote repository the journal is in the local one (cli/remote_txn.h).
  MAESTRO_RETURN_IF_ERROR(PrepareRemoteTxn(ctx, pre_image_repo, /*refuse_unfinished=*/false).status());
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));  // recover writes too (exempt from the gate)
  MAESTRO_ASSIGN_OR_RETURN(auto open, FindUnfinishedTransaction(layout, ctx.env()));
  TxnReport rep;
  rep.outcome = "nothing";
  MetadataReport not_given_back;
  if (open) {
    ctx.Detail("recovering: " + open->Describe());
    MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, ctx.env()));
    MAESTRO_RETURN_IF_ERROR(RecoverTransactions(*session, mode, &rep));
    not_given_back = *session->svc.metadata;
  }
  // Also what an earlier purge did not get to (killed, or MAESTRO_DB_PURGE=later).
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  std::vector<std::string> leftovers = FindTxnLeftovers(ctx.env(), layout);
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    j["leftovers"] = leftovers;
    ReportMetadataNotes(ctx, not_given_back, &j);
    ctx.PrintJson(j);
  } else if (!open) {
    ctx.Info("nothing to recover: no unfinished transaction in " + JournalDir(layout.repo()));
  } else {
    ReportMetadataNotes(ctx, not_given_back, nullptr);
    PrintReport(ctx, rep);
  }
  for (const auto& l : leftovers)
    ctx.Warn("leftover from an earlier transaction: " + l + " (no unfinished transaction owns it; remove it by hand once you have checked it)");
  return Status::OK();
}

}  // namespace

void RegisterRecoverCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto finish = [&ctx, exit_code](const Status& st) { *exit_code = st.ok() ? kExitOk : ctx.Fail(st); };
  // recover
  struct RecoverArgs {
    bool rollback = false, resume = false;
    std::string pre_image_repo;
  };
  auto rca = std::make_shared<RecoverArgs>();
  auto* recover = app.add_subcommand(
      "recover",
      "Finish an interrupted transaction: roll it back if its commit record is not durable,\n"
      "otherwise roll it forward. A crash during recover is recovered by running it again.");
  ctx.MarkUngated(recover);  // what the gate's refusal points to
  auto* rb = recover->add_flag("--rollback", rca->rollback, "undo it (only before its commit)");
  recover->add_flag("--resume", rca->resume, "finish it, running the remaining steps")->excludes(rb);
  AddPreImageRepoOption(recover, &rca->pre_image_repo);
  recover->callback([rca, finish, &ctx]() {
    finish(RunRecover(ctx, rca->rollback ? RecoverMode::kRollback : rca->resume ? RecoverMode::kResume : RecoverMode::kAuto,
                      rca->pre_image_repo));
  });
}

}  // namespace maestro
