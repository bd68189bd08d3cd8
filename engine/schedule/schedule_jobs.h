// engine/schedule/schedule_jobs.h — the real jobs of the scheduled service, wired to the
// engine APIs (no shelling out to the binary, no copy of their logic):
//   recover   an unfinished transaction in the journal is finished first
//             (engine/txn/recover.h: rolled back without a commit record, forward with one)
//   snapshot  Repository::Create of every present store, trigger "scheduled",
//             label "nightly" (engine/stores/snapshot_sources.h picks the sources)
//   prune     restic-style retention (snapshot/retention.h) with the keep_* of
//             the config over the "scheduled" snapshots only (manual and pre-*
//             snapshots are left to `snap prune`), then unreferenced data is removed
//   monitor   RunCheck (engine/stores/check.h) with the configured ages; with
//             monitor_repair a `cleanup --all` transaction (engine/txn/cleanup.h)
//             for orphans, stale failed documents and stuck processing ones
//
// Locking: every job that writes the repository or the stores takes the
// repository lock (snapshot/repo_lock.h) first. When a manual command holds it,
// the job logs "lock_busy" with action "wait" and polls for up to lock_wait
// (action "skip" and a Busy result when lock_wait is 0 or runs out; the
// scheduler retries at the next tick). A stop request ends the wait at once.
//
// Jobs that only read the repository for long (copy's source, the drill)
// take the readers' lock instead (LockForReadingInJob below).
//
// Stopping: a job checks JobContext::stop between its durable steps only: a
// snapshot is published or not (never partial, see snapshot/repository.h), a
// transaction commits or rolls back inside RunTransaction; the monitor does not
// start its cleanup once stop is set.
//
// Thread safety: the returned Jobs are called from the scheduler's thread.
#pragma once

#include <memory>
#include <string>

#include "engine/stores/layout.h"
#include "engine/schedule/schedule.h"
#include "snapshot/open_writer.h"
#include "snapshot/reader_lock.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

// The real jobs for one install. layout is copied.
Jobs MakeScheduleJobs(const Layout& layout);

// Makes sure the repository directory exists (opening or creating the
// repository) so the state file and the lock have a home. Failure names the
// directory and says to check --repo / [repo] path.
Status PrepareScheduleRepository(Env* env, const Layout& layout);

// CheckStorePaths (engine/stores/store_paths.h), then OpenWriter (snapshot/open_writer.h)
// for job `job`: takes the repository lock,
// waiting up to ctx.config.lock_wait_s (a stop request ends the wait) and
// logging what it does (see above), then opens or creates the repository under
// it. Busy when it gives up.
Result<WriterSession> OpenWriterForJob(JobContext& ctx, const Layout& layout, const char* job);

// The readers' lock (snapshot/reader_lock.h) of repo for job `job`, which
// only reads it for long (copy's source, the drill): a garbage collection (a
// `snap prune` from the command line) then skips instead of removing packs
// under it. Waits ctx.config.lock_wait_s for a running collection (none once
// stop is set), then Busy (the job is skipped and retried). A lock that
// cannot be made is a "lock_notice" event line, and the job runs without it.
Result<std::unique_ptr<ReaderLock>> LockForReadingInJob(JobContext& ctx, Repository* repo, const char* job);

}  // namespace maestro
