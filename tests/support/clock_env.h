// tests/support/clock_env.h — the test clocks. The product reads the time only
// through the Env it is given (util/env.h); a test passes one of these instead
// of setting test-only config keys.
//
// ManualClockEnv: the clock only moves when told (or by SleepMicros, which
// advances it at once); every other call goes to the base Env through FaultEnv,
// so faults can be injected as well. Thread-safe.
//
// Also the units and the UTC pinning the clock tests share: kSec..kDay in
// microseconds, T("2025-03-01T02:00:00Z") for an ISO-8601 time, and
// UtcClockTest, a gtest fixture that sets TZ=UTC (slot arithmetic uses local
// time; pinned, the expectations are exact).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>

#include "tests/support/fault_env.h"
#include "util/time_util.h"

namespace maestro {

namespace testing {

constexpr int64_t kSec = 1000000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

// The time iso names, in microseconds since the epoch (a test failure and 0 if unreadable).
inline int64_t T(const std::string& iso) {
  auto t = ParseTime(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return t.ok() ? *t : 0;
}

class UtcClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

}  // namespace testing

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
