// engine/schedule/schedule_copy.h — the scheduled off-site copy (issue 15 point 7): after
// the nightly snapshot (and its prune), the local repository's new snapshots go
// to schedule.copy_to through the copier (snapshot/copier.h), then the target
// is thinned with the copy_keep_* retention.
//
// Which snapshots: every local snapshot created after the newest one the target
// lists (all of them when the target is empty). Not "every one the target
// lacks": a target that keeps fewer snapshots than this machine would get the
// ones its own prune removed copied back each night.
//
// Steps, each logged: open the local repository (a reader: the copier's source
// needs no lock), open the target for writing (OpenWriter with create: a
// folder's flock or a remote's lease lock, waited for up to lock_wait as the
// other jobs wait for theirs), list it, copy, prune the target's
// `scheduled` snapshots (copy_prune), list it again. details: target, copied,
// skipped, bytes_sent, offsite_newest(_micros) — the scheduler keeps the last
// one in its state for `schedule status` and the staleness check.
//
// Failure: any step's error fails the job (the scheduler retries with its
// backoff and notifies); an unreachable remote is the IoError of the open. A
// copy killed at any point leaves the target listing what it had (the copier's
// contract); the next run resumes.
//
// The copy itself is a CopyStep (DefaultCopyStep() = snapshot/copier.h's
// CopySnapshots), so a test can fail or slow it on purpose.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/stores/layout.h"
#include "engine/schedule/schedule.h"
#include "snapshot/copier.h"
#include "snapshot/repository.h"

namespace maestro {

using CopyStep = std::function<Result<CopyResult>(Repository* from, Repository* to, const std::vector<std::string>& ids,
                                                  const CopyOptions& opts)>;

CopyStep DefaultCopyStep();

// The copy job for one install; layout is copied.
JobFn MakeCopyJob(const Layout& layout, CopyStep step = DefaultCopyStep());

// The snapshots of `local` created after the newest of `target` (all when it is empty), oldest first.
std::vector<std::string> SnapshotsToCopy(const std::vector<SnapshotInfo>& local, const std::vector<SnapshotInfo>& target);

}  // namespace maestro
