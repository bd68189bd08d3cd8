#include "engine/schedule/schedule_copy.h"

#include <algorithm>

#include "engine/schedule/schedule_jobs.h"
#include "engine/stores/snapshot_sources.h"
#include "engine/stores/store_paths.h"
#include "snapshot/open_repository.h"
#include "snapshot/open_writer.h"
#include "snapshot/prune.h"
#include "snapshot/rclone_backend.h"
#include "snapshot/reader_lock.h"
#include "snapshot/retention.h"
#include "util/time_util.h"

namespace maestro {

namespace {

// The target, opened for writing (created when missing), with its writer lock:
// a local flock, or the remote's lease lock (snapshot/open_writer.h), waited for
// as the other jobs wait for theirs. `lock`/`remote_lock` live as long as it.
Result<WriterSession> OpenTarget(JobContext& ctx, const std::string& spec) {
  WriterOptions wo;
  wo.create = true;
  wo.lock.wait_seconds = ctx.stop ? 0 : static_cast<double>(std::max<int64_t>(0, ctx.config.lock_wait_s));
  wo.lock.poll_micros = 200000;
  wo.lock.command = "maestro-db schedule (copy)";
  wo.lock.stop = [&ctx]() { return ctx.stop.load(); };
  wo.lock.log = [&ctx](const std::string& notice) {
    ctx.log.Emit("lock_notice", {{"job", "copy"}, {"target", ctx.config.copy_to}, {"notice", notice}});
  };
  auto w = OpenWriter(ctx.env, spec, wo);
  if (!w.ok() && !w.status().IsBusy())
    return w.status().Annotate("the copy target " + spec + " (schedule.copy_to) cannot be reached or opened; " +
                               "the copy is retried with a backoff");
  return w;
}

std::optional<int64_t> Newest(const std::vector<SnapshotInfo>& v) {
  std::optional<int64_t> n;
  for (const auto& s : v) n = std::max(n.value_or(s.created_micros), s.created_micros);
  return n;
}

RetentionPolicy TargetPolicy(const ScheduleConfig& c) {
  RetentionPolicy p;
  p.keep_last = c.copy_keep_last;
  p.keep_hourly = c.copy_keep_hourly;
  p.keep_daily = c.copy_keep_daily;
  p.keep_weekly = c.copy_keep_weekly;
  p.keep_monthly = c.copy_keep_monthly;
  p.keep_yearly = c.copy_keep_yearly;
  return p;
}

Status PruneTarget(JobContext& ctx, Repository& target) {
  RetentionPolicy policy = TargetPolicy(ctx.config);
  ctx.details["target_policy"] = policy.Describe();
  PruneOptions po;
  po.filter = [](const SnapshotInfo& s) { return s.trigger == trigger::kScheduled; };  // as the local prune
  PruneResult pr;
  Status st = Prune(target, policy, po, &pr);
  if (pr.decided) ctx.details["target_removed"] = pr.remove_ids;
  if (!st.ok())
    return st.Annotate("pruning the copy target " + ctx.config.copy_to +
                       " (an append-only target refuses deletes: set schedule.copy_prune = off there)");
  ctx.details["target_bytes_freed"] = pr.gc.bytes_freed;
  return Status::OK();
}

Status CopyJob(const Layout& layout, const CopyStep& step, JobContext& ctx) {
  const std::string& spec = ctx.config.copy_to;
  ctx.details["target"] = spec;
  // Never a target inside a store: a reset would move it to trash with the store.
  if (!IsRcloneSpec(spec)) MAESTRO_RETURN_IF_ERROR(CheckRepositoryPath(layout, spec));
  // Encrypted or not: the one opener, with the process's password source
  // (snapshot/open_repository.h; MAESTRO_DB_PASSWORD_FILE for a service).
  MAESTRO_ASSIGN_OR_RETURN(OpenedRepository opened, OpenRepository(ctx.env, layout.repo(), OpenRepositoryOptions{}));
  std::unique_ptr<Repository> local = std::move(opened.repo);
  // Only read: a prune's collection skips while the copy reads.
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> reading, LockForReadingInJob(ctx, local.get(), "copy"));
  MAESTRO_ASSIGN_OR_RETURN(WriterSession target, OpenTarget(ctx, spec));
  MAESTRO_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> mine, local->List());
  MAESTRO_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> theirs, target.repo->List());
  std::vector<std::string> ids = SnapshotsToCopy(mine, theirs);
  ctx.details["to_copy"] = ids.size();
  if (!ids.empty()) {
    if (ctx.stop) return Status::Aborted("stop requested before the copy started; the next run copies");
    CopyOptions co;
    int64_t last_logged = 0;
    co.progress = [&ctx, &last_logged](const CopyProgress& p) {
      int64_t now = ctx.env->NowMicros();
      if (now - last_logged < 10 * 1000000) return;  // a line per 10 s of (scheduler) time at most
      last_logged = now;
      ctx.log.Emit("copy_progress", {{"job", "copy"}, {"snapshot", p.current}, {"snapshots_done", p.snapshots_done},
                                     {"snapshots_total", p.snapshots_total}, {"bytes_sent", p.bytes_sent}});
    };
    MAESTRO_ASSIGN_OR_RETURN(CopyResult r, step(local.get(), target.repo.get(), ids, co));
    ctx.details["copied"] = r.copied;
    ctx.details["skipped"] = r.skipped;
    ctx.details["bytes_sent"] = r.bytes_sent;
    ctx.details["bytes_skipped"] = r.bytes_skipped;
  }
  if (ctx.config.copy_prune && !ctx.stop) MAESTRO_RETURN_IF_ERROR(PruneTarget(ctx, *target.repo));
  MAESTRO_ASSIGN_OR_RETURN(theirs, target.repo->List());
  ctx.details["target_snapshots"] = theirs.size();
  if (auto n = Newest(theirs)) {
    ctx.details["offsite_newest"] = FormatIso8601(*n);
    ctx.details["offsite_newest_micros"] = *n;
  }
  return Status::OK();
}

}  // namespace

std::vector<std::string> SnapshotsToCopy(const std::vector<SnapshotInfo>& local, const std::vector<SnapshotInfo>& target) {
  std::optional<int64_t> newest = Newest(target);
  std::vector<const SnapshotInfo*> pick;
  for (const auto& s : local)
    if (!newest || s.created_micros > *newest) pick.push_back(&s);
  std::sort(pick.begin(), pick.end(),
            [](const SnapshotInfo* a, const SnapshotInfo* b) { return a->created_micros < b->created_micros; });
  std::vector<std::string> ids;
  for (const auto* s : pick) ids.push_back(s->id);
  return ids;
}

CopyStep DefaultCopyStep() { return CopySnapshots; }  // snapshot/copier.h

JobFn MakeCopyJob(const Layout& layout, CopyStep step) {
  return [layout, step](JobContext& ctx) { return CopyJob(layout, step, ctx); };
}

}  // namespace maestro
