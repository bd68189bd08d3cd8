// snapshot/prune.h — the prune sequence, in one place for every caller
// (`snap prune` in cli/snap_cmd.cc, the scheduled prune job in
// engine/schedule/schedule_jobs.cc): choose the snapshots a retention policy keeps
// (snapshot/retention.h), delete the others' manifests, then remove the data no
// listed snapshot references any more (Repository::RemoveUnreferencedData).
//
// The caller holds the repository lock for a real run; a dry run only reads
// (it may run without the lock).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "snapshot/repository.h"
#include "snapshot/retention.h"
#include "util/status.h"

namespace maestro {

// Which snapshots the policy applies to. Snapshots it rejects are neither kept
// nor removed: they are left alone and do not appear in the decision. Null = all.
using PruneFilter = std::function<bool(const SnapshotInfo&)>;

struct PruneOptions {
  PruneFilter filter;
  // Decide and count, change nothing. GC is run in its dry-run mode, so it counts
  // only data that is unreferenced already; what the snapshots to remove alone
  // hold is freed (and counted) by the real run.
  bool dry_run = false;
  // The share of the repository's bytes the collection may leave unused
  // (Repository::RemoveUnreferencedData; `snap prune --max-unused`).
  double max_unused = kDefaultMaxUnused;
};

// Filled step by step, so a caller still sees how far a failed prune got.
struct PruneResult {
  bool decided = false;                 // decision is set (the policy was applied)
  RetentionDecision decision;           // over the snapshots the filter accepts, newest first
  std::vector<std::string> remove_ids;  // ids of decision.remove, newest first
  // The failure came from removing unreferenced data (a real run: after the
  // manifests of remove_ids were deleted; running prune again retries it).
  bool gc_failed = false;
  GcStats gc;                           // set on success
};

// Lists the snapshots, applies policy to those filter accepts, deletes the
// manifests of the rest (real run only, and only if there are any), then runs
// GC (always, so a GC a previous prune could not finish is retried). Errors are
// returned unannotated: each caller says how the user retries. An empty policy
// is InvalidArgument (from ApplyRetention) before anything is changed.
Status Prune(Repository& repo, const RetentionPolicy& policy, const PruneOptions& opts, PruneResult* out);

}  // namespace maestro
