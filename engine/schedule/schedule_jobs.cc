#include "engine/schedule/schedule_jobs.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/stores/check.h"
#include "engine/txn/cleanup.h"
#include "engine/stores/live_check.h"
#include "engine/txn/recover.h"
#include "engine/schedule/schedule_copy.h"
#include "engine/schedule/schedule_drill.h"
#include "engine/stores/snapshot_sources.h"
#include "engine/stores/store_paths.h"
#include "snapshot/prune.h"
#include "snapshot/repository.h"
#include "snapshot/retention.h"

namespace maestro {

namespace {

nlohmann::json CountsByKind(const CheckReport& report) {
  nlohmann::json by_kind = nlohmann::json::object();
  for (const auto& [kind, n] : report.issues_by_kind)
    if (n > 0) by_kind[kind] = n;
  return by_kind;
}

nlohmann::json IssueCounts(const std::vector<Issue>& issues) {
  nlohmann::json by_kind = nlohmann::json::object();
  for (const auto& i : issues) {
    std::string k = IssueKindName(i.kind);
    by_kind[k] = by_kind.contains(k) ? by_kind[k].get<int64_t>() + 1 : 1;
  }
  return by_kind;
}

// Deletes the trash of finished transactions (engine/txn/txn.h) in this process: the
// service is background work already. A failure is logged, not a job failure:
// trash is garbage, and the next run tries again.
void PurgeTrashOf(const Layout& layout, JobContext& ctx, const char* job) {
  std::vector<std::string> trash = FindTrash(ctx.env, layout);
  if (trash.empty()) return;
  PurgeStats ps;
  Status st = PurgeTrash(ctx.env, trash, &ps);
  if (st.ok())
    ctx.log.Emit("trash_purged", {{"job", job}, {"entries", ps.entries}, {"files", ps.files}, {"bytes", ps.bytes}});
  else
    ctx.log.Emit("warning", {{"job", job}, {"message", st.ToString() + "; `maestro-db purge-trash` retries it"}});
}

Status RecoverJob(const Layout& layout, JobContext& ctx) {
  MAESTRO_ASSIGN_OR_RETURN(auto open, FindUnfinishedTransaction(layout, ctx.env));
  if (!open) {
    ctx.details["unfinished"] = false;
    PurgeTrashOf(layout, ctx, "recover");  // what a killed purge left
    return Status::OK();
  }
  ctx.details["unfinished"] = true;
  ctx.details["txn_id"] = open->txn_id;
  ctx.details["kind"] = open->kind;
  ctx.log.Emit("unfinished_transaction", {{"txn_id", open->txn_id}, {"kind", open->kind},
                                          {"committed", open->committed}, {"action", "recovering before any job"}});
  TxnSession session;
  MAESTRO_ASSIGN_OR_RETURN(WriterSession w, OpenWriterForJob(ctx, layout, "recover"));
  session.lock = std::move(w.lock);
  session.repo = std::move(w.repo);
  MAESTRO_ASSIGN_OR_RETURN(session.svc, ServicesOn(session.repo.get(), layout, ctx.env));
  TxnReport rep;
  Status st = RecoverTransactions(session, RecoverMode::kAuto, &rep);
  ctx.details["txn_outcome"] = rep.outcome;
  if (!st.ok())
    return st.Annotate("recovering transaction " + open->txn_id + " (" + open->kind +
                       "); `maestro-db recover` shows and retries it");
  PurgeTrashOf(layout, ctx, "recover");
  return Status::OK();
}

Status SnapshotJob(const Layout& layout, JobContext& ctx) {
  MAESTRO_ASSIGN_OR_RETURN(WriterSession w, OpenWriterForJob(ctx, layout, "snapshot"));
  Repository* repo = w.repo.get();
  CreateOptions co;
  co.trigger = trigger::kScheduled;
  co.label = "nightly";
  // A stop request does not abort Create: the snapshot is published whole
  // (manifest last) or not at all, and finishing it is the clean outcome.
  MAESTRO_ASSIGN_OR_RETURN(SnapshotInfo info, repo->Create(SourcesFor(layout), co));
  ctx.details["snapshot_id"] = info.id;
  ctx.details["files"] = info.files;
  ctx.details["logical_bytes"] = info.logical_bytes;
  ctx.details["stored_bytes"] = info.stored_bytes;
  MAESTRO_ASSIGN_OR_RETURN(VerifyReport vr, repo->Verify({info.id}, false));
  if (!vr.ok())
    return Status::Corruption("the scheduled snapshot " + info.id + " does not verify: " + vr.problems.front().detail,
                              "run `maestro-db snap verify` and check the disk");
  return Status::OK();
}

Status PruneJob(const Layout& layout, JobContext& ctx) {
  RetentionPolicy policy;
  policy.keep_last = ctx.config.keep_last;
  policy.keep_hourly = ctx.config.keep_hourly;
  policy.keep_daily = ctx.config.keep_daily;
  policy.keep_weekly = ctx.config.keep_weekly;
  policy.keep_monthly = ctx.config.keep_monthly;
  policy.keep_yearly = ctx.config.keep_yearly;
  ctx.details["policy"] = policy.Describe();
  MAESTRO_ASSIGN_OR_RETURN(WriterSession w, OpenWriterForJob(ctx, layout, "prune"));
  Repository* repo = w.repo.get();
  // The same sequence as `snap prune` (snapshot/prune.h), but only the
  // service's own snapshots are thinned: a pre-cleanup / pre-reset / manual
  // snapshot is the user's safety net and stays until `snap prune`.
  PruneOptions po;
  po.filter = [](const SnapshotInfo& s) { return s.trigger == trigger::kScheduled; };
  PruneResult pr;
  Status st = Prune(*repo, policy, po, &pr);
  if (pr.decided) {
    ctx.details["kept"] = pr.decision.keep.size();
    ctx.details["removed"] = pr.remove_ids;
  }
  if (!st.ok() && pr.gc_failed)
    return st.Annotate(std::to_string(pr.remove_ids.size()) +
                       " snapshots were deleted but removing their data failed; the next prune retries it");
  MAESTRO_RETURN_IF_ERROR(st);
  ctx.details["bytes_freed"] = pr.gc.bytes_freed;
  if (!pr.gc.skipped.empty()) ctx.details["gc_skipped"] = pr.gc.skipped;  // a damaged file (`snap repair`), or a reader
  return Status::OK();
}

Status MonitorJob(const Layout& layout, JobContext& ctx) {
  CheckOptions opts;
  opts.now_micros = ctx.env->NowMicros();
  opts.failed_stale_after_s = ctx.config.failed_stale_after_s;
  opts.stuck_processing_after_s = ctx.config.stuck_processing_after_s;
  MAESTRO_ASSIGN_OR_RETURN(CheckReport report, RunCheck(layout, opts));
  ctx.details["documents_checked"] = report.documents_checked;
  ctx.details["issues_found"] = report.issues.size() + report.hnsw.size();
  ctx.details["issues_repaired"] = 0;
  if (!report.consistent())
    ctx.log.Emit("issues_found", {{"job", "monitor"}, {"count", report.issues.size() + report.hnsw.size()}, {"by_kind", CountsByKind(report)}});
  if (!ctx.config.monitor_repair || report.consistent()) return Status::OK();

  // Repair as the original monitor did: orphans, failed documents older than
  // failed_after, documents stuck in processing over stuck_after (cleanup --all).
  CleanupOptions co;
  co.now_micros = opts.now_micros;
  co.failed_older_than_s = ctx.config.failed_stale_after_s;
  co.stuck_older_than_s = ctx.config.stuck_processing_after_s;
  MAESTRO_ASSIGN_OR_RETURN(CleanupPlan plan, PlanCleanup(layout, co));
  ctx.details["issues_left"] = plan.left.size();
  if (plan.empty()) return Status::OK();
  if (ctx.stop) {
    ctx.details["repair"] = "not started: stop requested";
    return Status::OK();
  }
  std::vector<std::string> warnings;
  Status live = RefuseIfStoresInUse(layout, plan.StoresTouched(), ctx.config.monitor_repair_while_live, &warnings);
  if (live.IsBusy()) {
    // Not a failure of the monitor: the next interval tries again.
    ctx.details["repair"] = "skipped: the app holds the stores open";
    ctx.log.Emit("repair_skipped", {{"job", "monitor"}, {"reason", live.message()},
                                    {"hint", "stop the app, or set schedule.monitor_repair_while_live = on"}});
    return Status::OK();
  }
  MAESTRO_RETURN_IF_ERROR(live);
  for (const auto& w : warnings) ctx.log.Emit("warning", {{"job", "monitor"}, {"message", w}});

  TxnSession session;
  MAESTRO_ASSIGN_OR_RETURN(WriterSession w, OpenWriterForJob(ctx, layout, "monitor"));
  session.lock = std::move(w.lock);
  session.repo = std::move(w.repo);
  MAESTRO_ASSIGN_OR_RETURN(session.svc, ServicesOn(session.repo.get(), layout, ctx.env));
  // Runs to its end even if stop is set meanwhile: RunTransaction commits, or
  // rolls back on a failed step; it is never abandoned half-way by us.
  TxnReport rep;
  Status st = RunTransaction(session.svc, kCleanupKind, kCleanupTrigger, plan.args, BuildCleanupPlan, &rep);
  ctx.details["txn_id"] = rep.txn_id;
  ctx.details["txn_outcome"] = rep.outcome;
  if (!st.ok()) return st.Annotate("monitor cleanup transaction " + rep.txn_id);
  ctx.details["issues_repaired"] = plan.repaired.size();
  ctx.details["snapshot_id"] = rep.snapshot_id;
  ctx.log.Emit("issues_repaired", {{"job", "monitor"}, {"count", plan.repaired.size()},
                                   {"by_kind", IssueCounts(plan.repaired)}, {"txn_id", rep.txn_id},
                                   {"pre_cleanup_snapshot", rep.snapshot_id}});
  PurgeTrashOf(layout, ctx, "monitor");
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<ReaderLock>> LockForReadingInJob(JobContext& ctx, Repository* repo, const char* job) {
  const double wait = ctx.stop ? 0 : static_cast<double>(std::max<int64_t>(0, ctx.config.lock_wait_s));
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> reading, ReaderLock::Shared(repo, wait, 200000));
  if (!reading->held()) ctx.log.Emit("lock_notice", {{"job", job}, {"notice", reading->note()}});
  return reading;
}

Result<WriterSession> OpenWriterForJob(JobContext& ctx, const Layout& layout, const char* job) {
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));  // before the repository is created or locked
  const std::string& repo_dir = layout.repo();
  WriterOptions wo;
  wo.create = true;
  wo.lock.wait_seconds = ctx.stop ? 0 : static_cast<double>(std::max<int64_t>(0, ctx.config.lock_wait_s));
  wo.lock.poll_micros = 200000;
  wo.lock.command = std::string("maestro-db schedule (") + job + ")";
  wo.lock.stop = [&ctx]() { return ctx.stop.load(); };
  bool waited = false;
  wo.lock.log = [&ctx, &waited, job](const std::string& notice) {
    if (notice.rfind("waiting", 0) == 0) {
      waited = true;
      ctx.log.Emit("lock_busy", {{"job", job}, {"action", "wait"}, {"wait_s", ctx.config.lock_wait_s}, {"holder", notice}});
    } else {
      ctx.log.Emit("lock_notice", {{"job", job}, {"notice", notice}});
    }
  };
  auto w = OpenWriter(ctx.env, repo_dir, wo);
  if (w.ok()) {
    if (waited)
      ctx.log.Emit("lock_acquired", {{"job", job}, {"waited_ms", (ctx.env->NowMicros() - ctx.started_micros) / 1000}});
    return w;
  }
  if (!w.status().IsBusy()) return w.status().Annotate("opening the repository " + repo_dir);
  std::string holder = w.status().message();
  nlohmann::json skip = {{"job", job}, {"action", "skip"}, {"holder", holder}};
  if (waited) skip["reason"] = ctx.stop ? "stop requested" : "lock_wait ran out";
  ctx.log.Emit("lock_busy", skip);
  if (!waited)
    return Status::Busy("skipped " + std::string(job) + ": the repository " + repo_dir + " is locked", holder);
  return Status::Busy("skipped " + std::string(job) + ": the repository " + repo_dir + " stayed locked for " +
                          std::to_string(ctx.config.lock_wait_s) + "s (schedule.lock_wait)",
                      holder);
}

Status PrepareScheduleRepository(Env* env, const Layout& layout) {
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));
  // Made or finished under the lock; a writer holding it proves the
  // repository exists already, which is all the service needs here.
  WriterOptions wo;
  wo.create = true;
  wo.lock.command = "maestro-db schedule (start)";
  auto w = OpenWriter(env, layout.repo(), wo);
  if (!w.ok() && !w.status().IsBusy())
    return w.status().Annotate("cannot open or create the repository " + layout.repo() +
                               "; check --repo or [repo] path in the config");
  return Status::OK();
}

Jobs MakeScheduleJobs(const Layout& layout) {
  Jobs jobs;
  jobs.recover = [layout](JobContext& ctx) { return RecoverJob(layout, ctx); };
  jobs.snapshot = [layout](JobContext& ctx) { return SnapshotJob(layout, ctx); };
  jobs.prune = [layout](JobContext& ctx) { return PruneJob(layout, ctx); };
  jobs.monitor = [layout](JobContext& ctx) { return MonitorJob(layout, ctx); };
  jobs.drill = [layout](JobContext& ctx) { return DrillJob(layout, ctx); };  // engine/schedule/schedule_drill.h
  jobs.copy = MakeCopyJob(layout);  // engine/schedule/schedule_copy.h; runs only with schedule.copy_to
  return jobs;
}

}  // namespace maestro
