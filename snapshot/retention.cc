#include "snapshot/retention.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace maestro {

namespace {

enum class Period { kNone, kHour, kDay, kIsoWeek, kMonth, kYear };

struct Rule {
  const char* flag;    // "keep-daily"
  const char* reason;  // "daily snapshot"
  int count;
  Period period;  // kNone for keep-last: every snapshot is its own bucket
};

// The UTC bucket label of a time; literal formats keep -Wformat-nonliteral quiet.
std::string Bucket(int64_t micros, Period p) {
  time_t secs = static_cast<time_t>(micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000);
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  char buf[64];
  size_t n = 0;
  switch (p) {
    case Period::kNone: return "";
    case Period::kHour: n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H", &tm_utc); break;
    case Period::kDay: n = strftime(buf, sizeof(buf), "%Y-%m-%d", &tm_utc); break;
    case Period::kIsoWeek: n = strftime(buf, sizeof(buf), "%G-W%V", &tm_utc); break;
    case Period::kMonth: n = strftime(buf, sizeof(buf), "%Y-%m", &tm_utc); break;
    case Period::kYear: n = strftime(buf, sizeof(buf), "%Y", &tm_utc); break;
  }
  return std::string(buf, n);
}

}  // namespace

std::string RetentionPolicy::Describe() const {
  std::string s;
  auto add = [&s](const char* name, int n) {
    if (n) s += (s.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(n);
  };
  add("keep-last", keep_last);
  add("keep-hourly", keep_hourly);
  add("keep-daily", keep_daily);
  add("keep-weekly", keep_weekly);
  add("keep-monthly", keep_monthly);
  add("keep-yearly", keep_yearly);
  return s.empty() ? "no keep rule" : s;
}

Result<RetentionDecision> ApplyRetention(const std::vector<SnapshotInfo>& snapshots, const RetentionPolicy& policy) {
  Rule rules[] = {
      {"keep-last", "last snapshot", policy.keep_last, Period::kNone},
      {"keep-hourly", "hourly snapshot for", policy.keep_hourly, Period::kHour},
      {"keep-daily", "daily snapshot for", policy.keep_daily, Period::kDay},
      {"keep-weekly", "weekly snapshot for", policy.keep_weekly, Period::kIsoWeek},
      {"keep-monthly", "monthly snapshot for", policy.keep_monthly, Period::kMonth},
      {"keep-yearly", "yearly snapshot for", policy.keep_yearly, Period::kYear},
  };
  for (const Rule& r : rules)
    if (r.count < 0)
      return Status::InvalidArgument("--" + std::string(r.flag) + " " + std::to_string(r.count) +
                                     ": must be 0 or more");
  if (policy.empty())
    return Status::InvalidArgument(
        "refusing to prune without a keep rule: that would remove every snapshot",
        "give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly "
        "(or delete snapshots by id with `snap delete`)");

  std::vector<SnapshotInfo> sorted = snapshots;
  std::sort(sorted.begin(), sorted.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    if (a.created_micros != b.created_micros) return a.created_micros > b.created_micros;
    return a.id > b.id;
  });

  struct RuleState {
    int left;
    std::string last_bucket;
    bool any = false;
  };
  std::vector<RuleState> state;
  for (const Rule& r : rules) state.push_back({r.count, "", false});

  RetentionDecision out;
  int last_n = 0;
  for (const SnapshotInfo& snap : sorted) {
    std::vector<std::string> reasons;
    for (size_t i = 0; i < std::size(rules); ++i) {
      RuleState& st = state[i];
      if (st.left <= 0) continue;
      if (rules[i].period == Period::kNone) {
        reasons.push_back(std::string(rules[i].reason) + " #" + std::to_string(++last_n));
        --st.left;
        continue;
      }
      // Sorted newest first, so the first snapshot seen in a bucket is that bucket's newest.
      std::string b = Bucket(snap.created_micros, rules[i].period);
      if (st.any && b == st.last_bucket) continue;
      st.any = true;
      st.last_bucket = b;
      --st.left;
      reasons.push_back(std::string(rules[i].reason) + " " + b);
    }
    if (reasons.empty()) {
      out.remove.push_back(snap);
    } else {
      out.keep.push_back({snap, std::move(reasons)});
    }
  }
  return out;
}

}  // namespace maestro
