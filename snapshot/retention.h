// snapshot/retention.h — which snapshots `snap prune` keeps (restic `forget`
// semantics), as a pure function: no I/O, no clock.
//
// Rules:
//   keep_last N     the N newest snapshots
//   keep_hourly N   the newest snapshot of each of the last N distinct UTC hours
//   keep_daily N    ... UTC days
//   keep_weekly N   ... ISO-8601 weeks (Monday first, UTC)
//   keep_monthly N  ... UTC months
//   keep_yearly N   ... UTC years
// "The last N distinct buckets" are the N newest buckets that hold a snapshot,
// not the last N calendar periods: a snapshot a year old is still the daily
// keeper of its day when fewer than N newer days have snapshots. Each rule is
// applied independently; a snapshot kept by any rule is kept, with the reasons
// of every rule that keeps it. Snapshots created at the same microsecond are
// ordered by id (newest = greatest id).
//
// With no rule at all (every N is 0) ApplyRetention refuses with
// InvalidArgument: a prune never deletes every snapshot by accident.
// A negative N is InvalidArgument too.
#pragma once

#include <string>
#include <vector>

#include "snapshot/repository.h"
#include "util/status.h"

namespace maestro {

struct RetentionPolicy {
  int keep_last = 0;
  int keep_hourly = 0;
  int keep_daily = 0;
  int keep_weekly = 0;
  int keep_monthly = 0;
  int keep_yearly = 0;
  bool empty() const {
    return keep_last == 0 && keep_hourly == 0 && keep_daily == 0 && keep_weekly == 0 && keep_monthly == 0 &&
           keep_yearly == 0;
  }
  // "keep-last 3, keep-daily 7"
  std::string Describe() const;
};

struct KeptSnapshot {
  SnapshotInfo info;
  // One per rule that keeps it, e.g. "last snapshot #1", "daily snapshot for 2025-08-08",
  // "weekly snapshot for 2025-W32", "monthly snapshot for 2025-08", "hourly snapshot for 2025-08-08T14".
  std::vector<std::string> reasons;
};

struct RetentionDecision {
  std::vector<KeptSnapshot> keep;     // newest first
  std::vector<SnapshotInfo> remove;   // newest first
};

// snapshots in any order; the result holds every input exactly once.
Result<RetentionDecision> ApplyRetention(const std::vector<SnapshotInfo>& snapshots, const RetentionPolicy& policy);

}  // namespace maestro
