// cli/reset_cmd.cc — `maestro-db reset`: every store emptied together, as one
// journaled transaction (engine/txn/reset.h). Parsing and printing only.
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/remote_txn.h"
#include "cli/txn_cmd.h"
#include "engine/stores/check.h"
#include "engine/stores/stats.h"
#include "engine/stores/live_check.h"
#include "engine/txn/recover.h"
#include "engine/txn/reset.h"

namespace maestro {

namespace {

// Short summary of the install for reset's confirmation and dry run.
std::vector<std::string> InstallSummary(const Layout& layout) {
  std::vector<std::string> out;
  auto st = CollectStats(layout);
  if (st.ok()) {
    int64_t chunks = 0, files = 0;
    for (const auto& [k, v] : st->chunks_per_collection) chunks += v;
    for (const auto& [k, v] : st->files_per_dir) files += v;
    out.push_back("now: " + std::to_string(st->documents) + " documents, " +
                  (st->users ? std::to_string(*st->users) : std::string("?")) + " users, " +
                  std::to_string(st->processed_documents) + " ai rows, " + std::to_string(chunks) + " chunks, " +
                  std::to_string(files) + " files");
  } else {
    out.push_back("stats unavailable: " + st.status().ToString());
  }
  auto rep = RunCheck(layout, CheckOptions{});
  if (rep.ok())
    out.push_back(rep->consistent() ? "check: consistent"
                                    : "check: " + std::to_string(rep->issues.size() + rep->hnsw.size()) + " issue(s)");
  return out;
}

Status RunReset(CliContext& ctx, bool dry_run, bool force, const std::string& pre_image_repo) {
  MAESTRO_ASSIGN_OR_RETURN(RemoteTxn remote, PrepareRemoteTxn(ctx, pre_image_repo));  // cli/remote_txn.h
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  std::vector<std::string> plan = DescribeReset(layout);
  // Stats and check read every store: only for a person reading the plan, not with --yes.
  std::vector<std::string> summary = dry_run || !ctx.opts.yes ? InstallSummary(layout) : std::vector<std::string>{};
  if (dry_run) {
    if (ctx.json()) {
      ctx.PrintJson({{"dry_run", true}, {"kind", "reset"}, {"plan", plan}, {"summary", summary}});
      return Status::OK();
    }
    ctx.Info("dry run: reset would take a pre-reset snapshot, then:");
    for (const auto& l : plan) ctx.Info("  " + l);
    for (const auto& l : summary) ctx.Info(l);
    return Status::OK();
  }
  MAESTRO_RETURN_IF_ERROR(RefuseMissingComposeVolumes(ctx.install(), AllStoreIds()));
  MAESTRO_ASSIGN_OR_RETURN(AppRun app, ResolveAppRun(ctx, WatchedStoreFiles(layout, AllStoreIds())));
  MAESTRO_RETURN_IF_ERROR(RefuseWhileLive(ctx, layout, AllStoreIds(), force, app));
  if (!ctx.opts.yes) {
    std::string q = "maestro-db reset empties ALL six stores of " + layout.root() +
                    " (a pre-reset snapshot is taken first):";
    if (app.stops()) q += "\n" + DescribeAppRun(app);
    for (const auto& l : plan) q += "\n  " + l;
    for (const auto& l : summary) q += "\n" + l;
    MAESTRO_RETURN_IF_ERROR(ctx.Confirm(q));
  }
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, ctx.env()));
  TxnReport rep;
  Status st = RunTransaction(session->svc, kResetKind, kResetTrigger, app.Args(ResetArgs(layout)),
                             app.Builder(BuildResetPlan), &rep);
  if (!st.ok()) return st;
  nlohmann::json copied = CopyPreImageToRemote(ctx, remote, *session->repo, rep.snapshot_id);
  std::shared_ptr<MetadataReport> not_given_back = session->svc.metadata;
  session.reset();  // the lock: the purge needs none
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    if (remote.active()) j["remote_copy"] = copied;
    ReportMetadataNotes(ctx, *not_given_back, &j);
    ctx.PrintJson(j);
  } else {
    ReportMetadataNotes(ctx, *not_given_back, nullptr);
    PrintReport(ctx, rep);
    if (std::string c = DescribeRemoteCopy(copied); !c.empty()) ctx.Info(c);
    ctx.Info(app.stops() ? "every store is empty; the app was started again"
                         : "every store is empty; restart the app (docker compose down && docker compose up -d)");
  }
  return Status::OK();
}

}  // namespace

void RegisterResetCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto finish = [&ctx, exit_code](const Status& st) { *exit_code = st.ok() ? kExitOk : ctx.Fail(st); };
  // reset
  struct ResetArgsCli {
    bool dry_run = false, force = false;
    std::string pre_image_repo;
  };
  auto ra = std::make_shared<ResetArgsCli>();
  auto* reset = app.add_subcommand(
      "reset",
      "Empty every store together, as one journaled transaction: a verified pre-reset snapshot first,\n"
      "then main and ai recreated with a fresh schema, vector emptied, the file folders emptied.\n"
      "Asks for the word `yes` unless --yes.");
  reset->add_flag("--dry-run", ra->dry_run, "print the plan and change nothing");
  reset->add_flag("--force", ra->force, "run even while another process holds a store file open");
  AddAppFlags(reset, &ctx.app_flags);
  AddPreImageRepoOption(reset, &ra->pre_image_repo);
  reset->callback([ra, finish, &ctx]() { finish(RunReset(ctx, ra->dry_run, ra->force, ra->pre_image_repo)); });
  ctx.MarkWriting(reset);
}

}  // namespace maestro
