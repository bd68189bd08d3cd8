// engine/schedule/schedule.h — the scheduled service: when the nightly snapshot and the
// consistency monitor are due, what to catch up after downtime, and the state
// file that remembers the last runs. `maestro-db schedule run` is a thin shell
// around Scheduler; docs/schedule.md documents every config key.
//
// Words:
//   job        one unit of scheduled work, a function behind JobFn: recover,
//              snapshot, prune (always after a snapshot), monitor. The real jobs
//              are in engine/schedule/schedule_jobs.h; tests plug in fakes.
//   slot       a moment the nightly snapshot is meant to run: snapshot_time
//              (local time, process TZ) of each day.
//   tick       how often the loop wakes at the latest to look for due work; a
//              failed or skipped job is retried at the next tick.
//   state      <repo>/schedule-state.json: per job the last successful run, the
//              last attempt and its outcome. Written with WriteFileDurably after
//              every job, so a crash leaves the old or the new state, never a mix.
//
// Due rules (anacron / systemd Persistent=true):
//   snapshot   due when no successful run happened since the latest slot at or
//              before now (and that slot is after the service was first started
//              on this repository). However many nights were missed, ONE run
//              catches up; the next is at the next slot.
//   prune      due when a snapshot succeeded after the last successful prune.
//   monitor    due when now >= last successful run + monitor_interval (and at
//              once on the first start).
//   drill      (off by default) due drill_interval after the last attempt, once
//              a scheduled snapshot exists; restores `latest` into scratch.
//   copy       (only with copy_to) due when a scheduled snapshot succeeded after
//              the last successful copy, after prune; a failed copy (an
//              unreachable remote) is retried with a bounded backoff: copy_retry_min
//              after the first failure, doubling, at most copy_retry_max.
//   stale      not a job: after the jobs of a tick, a copy that has not succeeded
//              for longer than copy_max_age (counted from the first start while
//              it never did) is logged as an "error" line (what: copy_stale) and
//              sent to [notify]; again every copy_max_age while it stays stale.
//              The monitor's job_end line carries the same verdict ("offsite").
//
// Notify ([notify] command, engine/schedule/schedule_notify.h): every failed job and the
// staleness are sent to a user command as one JSON object on its stdin; its
// failure is logged and never changes the job's outcome.
//   recover    runs first at start; until it succeeds no other job runs (it is
//              retried every tick and the failure is logged each time).
//
// Time: every clock read and sleep goes through the Env given to the Scheduler
// (Env::NowMicros / SleepMicros); a test passes its own clock
// (tests/support/clock_env.h), there is no test-only config key.
//
// Stopping: the caller sets `stop` (a signal handler does). A running job is
// never interrupted: it sees the flag in JobContext and may end early between
// durable steps (a transaction commits or rolls back); the loop then exits.
//
// Thread safety: a Scheduler is driven by one thread. EventLog may be shared.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "util/config.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

// Settings of the service, from the config file's [schedule] section.
// Defaults are the ones documented in docs/schedule.md.
struct ScheduleConfig {
  bool snapshot_enabled = true;        // schedule.snapshot
  int snapshot_hour = 2;               // schedule.snapshot_time = HH:MM (local time)
  int snapshot_minute = 30;
  bool prune_enabled = true;           // schedule.prune
  int keep_last = 0;                   // schedule.keep_last
  int keep_hourly = 0;                 // schedule.keep_hourly
  int keep_daily = 7;                  // schedule.keep_daily
  int keep_weekly = 4;                 // schedule.keep_weekly
  int keep_monthly = 6;                // schedule.keep_monthly
  int keep_yearly = 0;                 // schedule.keep_yearly
  bool monitor_enabled = true;         // schedule.monitor
  int64_t monitor_interval_s = 3600;   // schedule.monitor_interval (minutes, or "90m", "2h")
  bool monitor_repair = true;          // schedule.monitor_repair: run cleanup --all
  bool monitor_repair_while_live = false;  // schedule.monitor_repair_while_live
  bool drill_enabled = false;          // schedule.drill: a restore drill (engine/stores/drill.h) of the latest snapshot
  int64_t drill_interval_s = 7 * 86400;  // schedule.drill_interval (a duration: 7d, 168h)
  std::string drill_scratch;           // schedule.drill_scratch ("" = $TMPDIR or /tmp)
  int64_t failed_stale_after_s = 24 * 3600;     // schedule.failed_after
  int64_t stuck_processing_after_s = 2 * 3600;  // schedule.stuck_after
  int64_t lock_wait_s = 600;           // schedule.lock_wait: wait for the repo lock, then skip
  int64_t tick_s = 60;                 // schedule.tick
  std::string log_path;                // schedule.log ("" = stdout)
  // Off-site copies (docs/schedule.md "Off-site copies").
  std::string copy_to;                 // schedule.copy_to: a --repo spec (rclone:REMOTE:PATH or a folder); "" = off
  bool copy_prune = true;              // schedule.copy_prune: thin the target after each copy
  int copy_keep_last = 0, copy_keep_hourly = 0, copy_keep_daily = 0;  // schedule.copy_keep_*: the target's
  int copy_keep_weekly = 0, copy_keep_monthly = 0, copy_keep_yearly = 0;  // retention (default: the keep_* above)
  int64_t copy_max_age_s = 48 * 3600;  // schedule.copy_max_age: stale after this without a successful copy (0 = never)
  int64_t copy_retry_min_s = 60;       // schedule.copy_retry_min: first retry after a failed copy
  int64_t copy_retry_max_s = 3600;     // schedule.copy_retry_max: the doubling backoff stops here
  std::string notify_command;          // notify.command: run by /bin/sh with the event JSON on stdin
  int64_t notify_timeout_s = 30;       // notify.timeout: killed after this (real time)

  bool copy_enabled() const { return !copy_to.empty(); }
  // The wait before the retry that follows `failures` consecutive failed copies.
  int64_t CopyRetryDelaySeconds(int64_t failures) const;

  // Reads [schedule]; InvalidArgument names the file, key and accepted form.
  static Result<ScheduleConfig> FromConfig(const Config& config);
  // Every key FromConfig reads, "schedule.x" / "notify.x" (for unknown-key warnings and docs).
  static const std::vector<std::string>& Keys();
};

// Local-time slot arithmetic (process TZ; DST gaps resolved by mktime).
// The latest HH:MM at or before t, and the first strictly after t.
int64_t LatestSlotAtOrBefore(int64_t t_micros, int hour, int minute);
int64_t NextSlotAfter(int64_t t_micros, int hour, int minute);
// "02:30" -> (2, 30); InvalidArgument otherwise.
Status ParseTimeOfDay(const std::string& text, int* hour, int* minute);

// One JSON object per line: {"ts": ISO-8601 of the scheduler clock, "event": ..., ...}.
// Writes to a FILE* it does not own (stdout) or to a file it opens for append.
// Every line is flushed at once. Thread-safe. Write errors are ignored (a full
// disk must not stop the service; the jobs themselves report ENOSPC).
class EventLog {
 public:
  EventLog(Env* clock, FILE* out) : clock_(clock), out_(out) {}
  ~EventLog();
  static Result<std::unique_ptr<EventLog>> OpenFile(Env* clock, const std::string& path);
  void Emit(const std::string& event, nlohmann::json fields = nlohmann::json::object());
  // Every line written so far (kept for tests and --once summaries).
  std::vector<nlohmann::json> lines() const;

 private:
  Env* clock_;
  FILE* out_;
  bool owned_ = false;
  mutable std::mutex mu_;
  std::vector<nlohmann::json> lines_;
};

enum class JobKind { kRecover = 0, kSnapshot, kPrune, kMonitor, kDrill, kCopy };
const char* JobName(JobKind k);
Result<JobKind> ParseJobName(const std::string& name);

// What a job gets. A job fills `details` with what it did (snapshot id, issues
// found/repaired...); the scheduler logs them in the job_end line.
struct JobContext {
  Env* env;
  const ScheduleConfig& config;
  EventLog& log;
  const std::atomic<bool>& stop;  // set by SIGTERM/SIGINT: end between durable steps
  int64_t started_micros = 0;
  nlohmann::json details = nlohmann::json::object();
};
// OK = done. Busy = the repository lock was not free within lock_wait: logged as
// skipped, retried at the next tick. Any other error: logged, retried next tick.
using JobFn = std::function<Status(JobContext&)>;

struct Jobs {
  JobFn recover, snapshot, prune, monitor, drill, copy;  // a null function counts as "nothing to do"
};

// Sends scheduler events to the user's [notify] command (engine/schedule/schedule_notify.h);
// null = no notifications. Must never throw or block for long.
using NotifyFn = std::function<void(const nlohmann::json& event)>;

struct JobState {
  std::optional<int64_t> last_success;   // start time of the last successful run
  std::optional<int64_t> last_attempt;
  std::string last_outcome;              // ok, failed, skipped
  std::string last_error;
  int64_t consecutive_failures = 0;
};

struct ScheduleState {
  int64_t first_start = 0;  // the first time a service ran on this repository
  JobState snapshot, prune, monitor, drill, copy;
  // The creation time of the newest snapshot on the copy target, as the last
  // successful copy saw it (a copy job reports it in details "offsite_newest").
  std::optional<int64_t> offsite_newest;
  std::optional<int64_t> stale_notified;  // when the staleness was last logged and notified
  nlohmann::json ToJson() const;
  static Result<ScheduleState> FromJson(const nlohmann::json& j);
};

inline constexpr const char* kScheduleStateFile = "schedule-state.json";

class Scheduler {
 public:
  // env: clock + file system for the state file (not owned, outlives this).
  // state_path: normally <repo>/schedule-state.json; its directory must exist.
  Scheduler(Env* env, ScheduleConfig config, Jobs jobs, EventLog* log, std::string state_path);

  // Loads the state (a missing file = first start; an unreadable one is logged
  // and replaced), logs "start", runs recover. Only fails if the state cannot
  // be written at all.
  Status Start();

  // Runs every job due now, in order snapshot -> prune -> monitor. Returns the
  // first job failure (the others still run), OK if all ran or nothing was due.
  // stop (may be null): once set, the running job ends between durable steps
  // and no further job starts.
  Status RunDue(const std::atomic<bool>* stop = nullptr);

  // Runs one job now whatever the schedule (snapshot is followed by prune
  // unless stop is set meanwhile).
  Status RunNow(JobKind kind, const std::atomic<bool>* stop = nullptr);

  // The service loop: RunDue, sleep until the next due time or tick, repeat,
  // until stop is set (or the clock passes `until`, for tests). Job failures
  // never end the loop. Logs "stop" on the way out.
  Status Run(const std::atomic<bool>& stop, std::optional<int64_t> until = std::nullopt);

  // Longest single sleep (virtual micros); the loop re-checks `stop` after
  // each. Default: 200 ms of real time at the configured time scale.
  void set_sleep_slice_micros(int64_t us) { sleep_slice_us_ = us; }

  bool snapshot_due(int64_t now) const;
  bool prune_due() const;
  bool monitor_due(int64_t now) const;
  // drill: enabled, a scheduled snapshot succeeded, and drill_interval passed
  // since the last ATTEMPT (a drill restores a full copy: a failed one waits
  // for the next interval instead of every tick).
  bool drill_due(int64_t now) const;
  // copy: configured, a scheduled snapshot succeeded after the last successful
  // copy, and the backoff after failed attempts has passed.
  bool copy_due(int64_t now) const;
  // The copy has not succeeded for longer than copy_max_age (see "stale").
  bool copy_stale(int64_t now) const;
  // What the monitor line and `schedule status` say about the off-site copy:
  // target, last success, newest off-site snapshot and its age, stale, error.
  static nlohmann::json OffsiteHealth(const ScheduleConfig& config, const ScheduleState& state, int64_t now);
  // Where failed jobs and staleness are sent (set before Start).
  void set_notify(NotifyFn fn) { notify_ = std::move(fn); }
  // When the loop next has something to do (not counting retries).
  int64_t NextDueMicros(int64_t now) const;
  const ScheduleState& state() const { return state_; }
  bool recovered() const { return recovered_; }

 private:
  Status RunDueUntil(const std::atomic<bool>& stop);
  Status RunJob(JobKind kind, const JobFn& fn, JobState* st, const std::atomic<bool>& stop);
  Status TryRecover(const std::atomic<bool>& stop);
  Status SaveState();
  void CheckCopyStaleness(int64_t now);
  void Notify(const char* job, const std::string& outcome, const std::string& message, nlohmann::json extra = {});

  Env* env_;
  ScheduleConfig config_;
  Jobs jobs_;
  EventLog* log_;
  std::string state_path_;
  ScheduleState state_;
  bool recovered_ = false;
  int64_t sleep_slice_us_;
  std::atomic<bool> never_stop_{false};
  NotifyFn notify_;
};

}  // namespace maestro
