// snapshot/progress_throttle.h — calls a progress callback at most every
// 100 ms (and whenever forced, e.g. once at the end), so a callback that
// prints cannot slow a snapshot or restore of many small files.
// One thread (the caller's); the callback runs on it.
#pragma once

#include <cstdint>

#include "snapshot/repository.h"
#include "util/env.h"

namespace maestro {

class ProgressThrottle {
 public:
  // fn may be null (then Report does nothing); it must outlive the throttle.
  ProgressThrottle(Env* env, const ProgressFn& fn) : env_(env), fn_(fn) {}
  void Report(const Progress& p, bool force = false);

 private:
  Env* env_;
  const ProgressFn& fn_;
  int64_t last_ = 0;
};

}  // namespace maestro
