#include "snapshot/progress_throttle.h"

namespace maestro {

namespace {
constexpr int64_t kProgressIntervalMicros = 100000;
}  // namespace

void ProgressThrottle::Report(const Progress& p, bool force) {
  if (!fn_) return;
  int64_t now = env_->NowMicros();
  if (!force && now - last_ < kProgressIntervalMicros) return;
  last_ = now;
  fn_(p);
}

}  // namespace maestro
