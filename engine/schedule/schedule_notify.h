// engine/schedule/schedule_notify.h — the [notify] command of the scheduled service: a
// user program (mail, a chat webhook, a dead-man's-switch ping) told about
// every failed job and about a stale off-site copy.
//
// Contract of RunNotifyCommand:
//   - `command` runs as `/bin/sh -c command` with the event as ONE JSON object
//     (job, outcome, message, time, and job-specific fields) on its stdin,
//     followed by a newline and EOF; stdout and stderr are collected (the last
//     4 KiB kept for the log), no other descriptor of ours is inherited.
//   - Bounded: after timeout_ms of real time the command's whole process group
//     gets SIGKILL and the result says "timed out". A command that does not read
//     its stdin cannot block us (SIGPIPE ignored for the write, the pipe closed).
//   - Never throws; the outcome is returned for the caller to log. The caller's
//     job outcome never depends on it.
// Thread safety: reentrant (no shared state); uses fork/exec.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/schedule/schedule.h"

namespace maestro {

struct NotifyResult {
  bool ok = false;          // exited with status 0 within the timeout
  std::string outcome;      // "exited with status 0", "timed out after 30s", "could not start: ..."
  std::string output;       // the tail of its stdout+stderr
  int64_t duration_ms = 0;
};

NotifyResult RunNotifyCommand(const std::string& command, const nlohmann::json& event, int64_t timeout_ms);

// The scheduler's NotifyFn for config.notify_command (null when it is empty):
// runs the command and logs "notify" (ok) or "notify_failed" lines to `log`.
NotifyFn MakeCommandNotifier(const ScheduleConfig& config, EventLog* log);

}  // namespace maestro
