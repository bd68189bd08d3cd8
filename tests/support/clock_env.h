// tests/support/clock_env.h — the test clocks. The product reads the time only
// through the Env it is given (util/env.h); a test passes one of these instead
// of setting test-only config keys.
//
// ManualClockEnv: the clock only moves when told (or by SleepMicros, which
// advances it at once); every other call goes to the base Env through FaultEnv,
// so faults can be injected as well. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "tests/support/fault_env.h"

namespace maestro {

class ManualClockEnv : public FaultEnv {
 public:
  ManualClockEnv(Env* base, int64_t now_micros) : FaultEnv(base), now_(now_micros) {}
  int64_t NowMicros() override { return now_.load(); }
  void SleepMicros(int64_t us) override { now_ += us; }
  void Set(int64_t now_micros) { now_ = now_micros; }
  void Advance(int64_t us) { now_ += us; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace maestro
