// engine/schedule/schedule_drill.h — the scheduled restore drill (schedule.drill = on):
// engine/stores/drill.h's RunDrill on the repository's latest snapshot, in
// schedule.drill_scratch. Reads the repository only, under the readers' lock
// (LockForReadingInJob, engine/schedule/schedule_jobs.h): it runs beside
// writers, and a prune's collection skips while it reads. The job's details
// carry the snapshot id, the counts and each problem; problems end the job
// with Corruption (logged as failed, shown by `schedule status`) and a
// "drill_problems" event line. The scheduler runs it again after
// schedule.drill_interval (Scheduler::drill_due).
#pragma once

#include "engine/stores/layout.h"
#include "engine/schedule/schedule.h"
#include "util/status.h"

namespace maestro {

Status DrillJob(const Layout& layout, JobContext& ctx);

}  // namespace maestro
