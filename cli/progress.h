// cli/progress.h — one self-rewriting progress line on stderr for long work
// (snap create, restore; reusable by any command that gets a Progress).
//
//   snap create  412 MiB / 1.0 GiB  1.2k/3.4k files  85 MiB/s  ETA 7s  vector/...
//
// Silent unless enabled (the caller passes ctx.interactive_stderr(): stderr is a
// terminal and neither -q nor --json was given), so pipes, logs and JSON
// consumers never see it. Redraws at most 10 times a second; Finish() clears the
// line. Not thread-safe: call from the thread that runs the work (the
// repository calls ProgressFn from the calling thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "snapshot/repository.h"

namespace maestro {

class ProgressLine {
 public:
  ProgressLine(bool enabled, std::string verb);
  ~ProgressLine();  // Finish()
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void Update(const Progress& p);
  // Clears the line (idempotent).
  void Finish();
  // A ProgressFn bound to this line (null when disabled, so the work skips the calls).
  ProgressFn Callback();

  // The text of one line (no terminal codes); exposed for tests.
  static std::string Render(const std::string& verb, const Progress& p, double elapsed_seconds, size_t width);

 private:
  bool enabled_;
  std::string verb_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
};

}  // namespace maestro
