// util/subprocess.h — run a program to its end, bounded in time.
//
// Used to ask `docker` where a volume lives (engine/stores/compose.h) and to run the
// app's stop and start commands (engine/txn/app_control.h). The child gets stdin
// from /dev/null, its own process group, and no descriptor of ours beyond
// 0-2 (the repository lock and the journal stay ours). Its stdout is captured
// (capture_stdout, at most kMaxCapture bytes kept) or sent to our stderr, so a
// command's chatter never mixes into a --json document on stdout; its stderr is
// captured for error messages (last kMaxCapture bytes) and, with
// echo_stderr, copied to ours as well.
//
// Failure: a program that cannot be started is NotFound (naming it); a run that
// outlives timeout_ms is killed (SIGTERM to its group, SIGKILL 2 s later) and
// returned with timed_out set. A non-zero exit is not an error here: the caller
// decides (exit_code, signal). Thread-compatible; blocks the caller.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace maestro {

struct ProcessOptions {
  int64_t timeout_ms = 30000;
  bool capture_stdout = true;  // else the child's stdout goes to our stderr
  bool echo_stderr = false;    // also copy the child's stderr to ours
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  std::string out;  // captured stdout (capture_stdout)
  std::string err;  // captured stderr (tail)
  bool ok() const { return exit_code == 0 && !timed_out; }
  // "exit status 3" / "killed by signal 9" / "timed out after 30 s", plus the last stderr line.
  std::string Describe() const;
};

inline constexpr size_t kMaxCapture = 64 * 1024;

// argv[0] is looked up in PATH (posix_spawnp).
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const ProcessOptions& opts);

// Runs `/bin/sh -c command`.
Result<ProcessResult> RunShellCommand(const std::string& command, const ProcessOptions& opts);

}  // namespace maestro
