// cli/cleanup_cmd.cc — `maestro-db cleanup`: what `check` reports, repaired as
// one journaled transaction (engine/txn/cleanup.h). Parsing and printing only.
#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/remote_txn.h"
#include "cli/txn_cmd.h"
#include "engine/stores/check.h"
#include "engine/txn/cleanup.h"
#include "engine/stores/live_check.h"
#include "engine/txn/recover.h"
#include "util/time_util.h"

namespace maestro {

namespace {

struct CleanupArgs {
  std::string document;
  int64_t user = -1;
  bool all = false;
  std::string failed_older_than = "24h";
  std::string stuck_older_than = "2h";
  bool downgrade_incomplete = false;
  bool dry_run = false;
  bool force = false;
  std::string now;
  std::string pre_image_repo;
};

nlohmann::json IssuesJson(const std::vector<Issue>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& i : v)
    a.push_back({{"doc_id", i.doc_id}, {"store", StoreName(i.store)}, {"kind", IssueKindName(i.kind)}, {"detail", i.detail}});
  return a;
}

Status RunCleanup(CliContext& ctx, const CleanupArgs& a) {
  if (!a.all && a.user < 0)
    return Status::InvalidArgument("cleanup needs a scope: --document DOC --user UID, --user UID, or --all");
  if (a.all && (a.user >= 0 || !a.document.empty()))
    return Status::InvalidArgument("--all cannot be combined with --user or --document");
  MAESTRO_ASSIGN_OR_RETURN(RemoteTxn remote, PrepareRemoteTxn(ctx, a.pre_image_repo));  // cli/remote_txn.h
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  CleanupOptions o;
  if (a.user >= 0) o.user_id = a.user;
  o.doc_id = a.document;
  o.downgrade_incomplete = a.downgrade_incomplete;
  MAESTRO_ASSIGN_OR_RETURN(o.failed_older_than_s, ParseDurationSeconds(a.failed_older_than));
  MAESTRO_ASSIGN_OR_RETURN(o.stuck_older_than_s, ParseDurationSeconds(a.stuck_older_than));
  if (!a.now.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(o.now_micros, ParseTime(a.now));
  }
  MAESTRO_ASSIGN_OR_RETURN(CleanupPlan plan, PlanCleanup(layout, o));
  auto print_plan = [&](bool done) {
    for (const auto& l : plan.Describe()) ctx.Info(std::string(done ? "  " : "  would: ") + l);
    for (const auto& i : plan.left)
      ctx.Info("  left alone: " + i.doc_id + " " + IssueKindName(i.kind) + " (" + StoreName(i.store) + "): " +
               (i.kind == IssueKind::kFailedWithLeftovers ? "failed less than --failed-older-than ago"
                                                          : "pass --downgrade-incomplete to mark it failed"));
  };
  if (a.dry_run || plan.empty()) {
    if (ctx.json()) {
      ctx.PrintJson({{"dry_run", a.dry_run}, {"kind", "cleanup"}, {"nothing_to_do", plan.empty()},
                     {"plan", plan.args}, {"repairs", IssuesJson(plan.repaired)}, {"left", IssuesJson(plan.left)}});
      return Status::OK();
    }
    ctx.Info(plan.empty() ? "nothing to clean up" : "dry run: cleanup would take a pre-cleanup snapshot, then:");
    print_plan(false);
    return Status::OK();
  }
  MAESTRO_ASSIGN_OR_RETURN(AppRun app, ResolveAppRun(ctx, WatchedStoreFiles(layout, plan.StoresTouched())));
  MAESTRO_RETURN_IF_ERROR(RefuseWhileLive(ctx, layout, plan.StoresTouched(), a.force, app));
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, ctx.env()));
  TxnReport rep;
  if (app.stops()) ctx.Info(DescribeAppRun(app));
  MAESTRO_RETURN_IF_ERROR(RunTransaction(session->svc, kCleanupKind, kCleanupTrigger, app.Args(plan.args),
                                         app.Builder(BuildCleanupPlan), &rep));
  nlohmann::json copied = CopyPreImageToRemote(ctx, remote, *session->repo, rep.snapshot_id);
  session.reset();
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    j["repaired"] = IssuesJson(plan.repaired);
    j["left"] = IssuesJson(plan.left);
    if (remote.active()) j["remote_copy"] = copied;
    ctx.PrintJson(j);
  } else {
    PrintReport(ctx, rep);
    print_plan(true);
    if (std::string c = DescribeRemoteCopy(copied); !c.empty()) ctx.Info(c);
  }
  return Status::OK();
}

}  // namespace

void RegisterCleanupCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto finish = [&ctx, exit_code](const Status& st) { *exit_code = st.ok() ? kExitOk : ctx.Fail(st); };
  // cleanup
  auto ca = std::make_shared<CleanupArgs>();
  auto* cleanup = app.add_subcommand(
      "cleanup",
      "Repair what `check` reports, as one journaled transaction (pre-cleanup snapshot first):\n"
      "orphan rows, chunks and files removed; failed documents' leftovers removed and the document\n"
      "marked failed; stuck `processing` documents marked failed.");
  auto* user_opt = cleanup->add_option("--user", ca->user, "only this user's documents (users.id)");
  cleanup->add_option("--document", ca->document, "only this document (needs --user)")->needs(user_opt);
  cleanup->add_flag("--all", ca->all, "the whole install, orphans included");
  cleanup->add_option("--failed-older-than", ca->failed_older_than,
                      "clean failed documents last updated longer ago than this (default 24h)");
  cleanup->add_option("--stuck-older-than", ca->stuck_older_than,
                      "mark `processing` documents older than this failed (default 2h)");
  cleanup->add_flag("--downgrade-incomplete", ca->downgrade_incomplete,
                    "mark completed documents that lost a part failed (and remove their remains)");
  cleanup->add_flag("--dry-run", ca->dry_run, "print the plan and change nothing");
  cleanup->add_flag("--force", ca->force, "run even while another process holds a store file open");
  AddAppFlags(cleanup, &ctx.app_flags);
  cleanup->add_option("--now", ca->now, "the time the age rules measure from (ISO-8601; default: now)");
  AddPreImageRepoOption(cleanup, &ca->pre_image_repo);
  cleanup->callback([ca, finish, &ctx]() { finish(RunCleanup(ctx, *ca)); });
  ctx.MarkWriting(cleanup);
}

}  // namespace maestro
