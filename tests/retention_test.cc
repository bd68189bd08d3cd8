// tests/retention_test.cc — snapshot/retention.h: restic `forget` semantics.
#include "snapshot/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "util/time_util.h"

using namespace maestro;

namespace {

SnapshotInfo Snap(const std::string& iso) {
  auto t = ParseTime(iso);
  EXPECT_TRUE(t.ok()) << iso;
  SnapshotInfo s;
  s.created_micros = t.ok() ? *t : 0;
  s.id = FormatStamp(s.created_micros);
  return s;
}

std::vector<SnapshotInfo> Snaps(const std::vector<std::string>& isos) {
  std::vector<SnapshotInfo> v;
  for (const auto& i : isos) v.push_back(Snap(i));
  return v;
}

std::set<std::string> KeptIds(const RetentionDecision& d) {
  std::set<std::string> s;
  for (const auto& k : d.keep) s.insert(k.info.id);
  return s;
}

std::set<std::string> Ids(const std::vector<std::string>& isos) {
  std::set<std::string> s;
  for (const auto& i : isos) s.insert(Snap(i).id);
  return s;
}

RetentionDecision Apply(const std::vector<SnapshotInfo>& snaps, const RetentionPolicy& p) {
  auto r = ApplyRetention(snaps, p);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : RetentionDecision{};
}

}  // namespace

TEST(RetentionTest, RefusesWithoutAnyKeepRule) {
  auto r = ApplyRetention(Snaps({"2025-08-01T10:00:00Z"}), RetentionPolicy{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("every snapshot"), std::string::npos);
}

TEST(RetentionTest, RefusesNegativeCount) {
  RetentionPolicy p;
  p.keep_daily = -1;
  auto r = ApplyRetention(Snaps({"2025-08-01T10:00:00Z"}), p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--keep-daily"), std::string::npos);
}

TEST(RetentionTest, EmptyRepositoryKeepsAndRemovesNothing) {
  RetentionPolicy p;
  p.keep_last = 3;
  auto d = Apply({}, p);
  EXPECT_TRUE(d.keep.empty());
  EXPECT_TRUE(d.remove.empty());
}

TEST(RetentionTest, KeepLastKeepsTheNewestNWhateverTheInputOrder) {
  auto snaps = Snaps({"2025-08-03T10:00:00Z", "2025-08-01T10:00:00Z", "2025-08-05T10:00:00Z",
                      "2025-08-02T10:00:00Z", "2025-08-04T10:00:00Z"});
  RetentionPolicy p;
  p.keep_last = 2;
  auto d = Apply(snaps, p);
  EXPECT_EQ(KeptIds(d), Ids({"2025-08-05T10:00:00Z", "2025-08-04T10:00:00Z"}));
  ASSERT_EQ(d.keep.size(), 2u);
  EXPECT_EQ(d.keep[0].info.id, Snap("2025-08-05T10:00:00Z").id);  // newest first
  EXPECT_EQ(d.keep[0].reasons, std::vector<std::string>{"last snapshot #1"});
  ASSERT_EQ(d.remove.size(), 3u);
  EXPECT_EQ(d.remove[0].id, Snap("2025-08-03T10:00:00Z").id);
  EXPECT_EQ(d.remove[2].id, Snap("2025-08-01T10:00:00Z").id);
}

TEST(RetentionTest, KeepLastLargerThanCountKeepsAll) {
  RetentionPolicy p;
  p.keep_last = 10;
  auto d = Apply(Snaps({"2025-08-01T10:00:00Z", "2025-08-02T10:00:00Z"}), p);
  EXPECT_EQ(d.keep.size(), 2u);
  EXPECT_TRUE(d.remove.empty());
}

TEST(RetentionTest, KeepDailyKeepsNewestOfEachDay) {
  auto snaps = Snaps({"2025-08-01T08:00:00Z", "2025-08-01T20:00:00Z", "2025-08-02T01:00:00Z",
                      "2025-08-02T23:59:59Z", "2025-08-03T12:00:00Z"});
  RetentionPolicy p;
  p.keep_daily = 2;
  auto d = Apply(snaps, p);
  EXPECT_EQ(KeptIds(d), Ids({"2025-08-03T12:00:00Z", "2025-08-02T23:59:59Z"}));
  EXPECT_EQ(d.remove.size(), 3u);
  EXPECT_EQ(d.keep[1].reasons, std::vector<std::string>{"daily snapshot for 2025-08-02"});
}

TEST(RetentionTest, DaysAreUtcNotLocal) {
  // 23:30 and 00:30 UTC are different UTC days even where local time says otherwise.
  auto snaps = Snaps({"2025-08-01T23:30:00Z", "2025-08-02T00:30:00Z"});
  RetentionPolicy p;
  p.keep_daily = 2;
  EXPECT_EQ(Apply(snaps, p).keep.size(), 2u);
  auto snaps2 = Snaps({"2025-08-02T00:10:00+02:00", "2025-08-01T23:50:00+02:00"});  // both 2025-08-01 UTC
  p.keep_daily = 5;
  auto d = Apply(snaps2, p);
  EXPECT_EQ(d.keep.size(), 1u);
  EXPECT_EQ(d.keep[0].info.id, Snap("2025-08-01T22:10:00Z").id);
}

TEST(RetentionTest, BucketsCountOnlyPeriodsThatHaveSnapshots) {
  // Gaps of weeks between snapshots: keep-daily 3 still keeps three snapshots.
  auto snaps = Snaps({"2025-01-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-06-01T00:00:00Z",
                      "2025-08-01T00:00:00Z"});
  RetentionPolicy p;
  p.keep_daily = 3;
  auto d = Apply(snaps, p);
  EXPECT_EQ(KeptIds(d), Ids({"2025-08-01T00:00:00Z", "2025-06-01T00:00:00Z", "2025-03-01T00:00:00Z"}));
}

TEST(RetentionTest, KeepHourly) {
  auto snaps = Snaps({"2025-08-01T10:05:00Z", "2025-08-01T10:55:00Z", "2025-08-01T11:00:00Z",
                      "2025-08-01T11:30:00Z", "2025-08-01T13:00:00Z"});
  RetentionPolicy p;
  p.keep_hourly = 2;
  auto d = Apply(snaps, p);
  EXPECT_EQ(KeptIds(d), Ids({"2025-08-01T13:00:00Z", "2025-08-01T11:30:00Z"}));
  EXPECT_EQ(d.keep[0].reasons, std::vector<std::string>{"hourly snapshot for 2025-08-01T13"});
}

TEST(RetentionTest, KeepWeeklyUsesIsoWeeksStartingMonday) {
  // 2025-08-03 is a Sunday (ISO week 31), 2025-08-04 a Monday (week 32).
  auto snaps = Snaps({"2025-07-28T09:00:00Z", "2025-08-03T09:00:00Z", "2025-08-04T09:00:00Z",
                      "2025-08-06T09:00:00Z"});
  RetentionPolicy p;
  p.keep_weekly = 2;
  auto d = Apply(snaps, p);
  EXPECT_EQ(KeptIds(d), Ids({"2025-08-06T09:00:00Z", "2025-08-03T09:00:00Z"}));
  EXPECT_EQ(d.keep[1].reasons, std::vector<std::string>{"weekly snapshot for 2025-W31"});
}

TEST(RetentionTest, IsoWeekSpansTheYearBoundary) {
  // 2024-12-30 (Mon) and 2025-01-02 (Thu) are both in ISO week 2025-W01.
  auto snaps = Snaps({"2024-12-30T09:00:00Z", "2025-01-02T09:00:00Z", "2024-12-29T09:00:00Z"});
  RetentionPolicy p;
  p.keep_weekly = 5;
  auto d = Apply(snaps, p);
  EXPECT_EQ(KeptIds(d), Ids({"2025-01-02T09:00:00Z", "2024-12-29T09:00:00Z"}));
  EXPECT_EQ(d.keep[0].reasons, std::vector<std::string>{"weekly snapshot for 2025-W01"});
  EXPECT_EQ(d.keep[1].reasons, std::vector<std::string>{"weekly snapshot for 2024-W52"});
}

TEST(RetentionTest, KeepMonthlyAndYearly) {
  auto snaps = Snaps({"2024-11-15T00:00:00Z", "2024-12-01T00:00:00Z", "2024-12-31T00:00:00Z",
                      "2025-01-10T00:00:00Z", "2025-01-20T00:00:00Z"});
  RetentionPolicy p;
  p.keep_monthly = 2;
  EXPECT_EQ(KeptIds(Apply(snaps, p)), Ids({"2025-01-20T00:00:00Z", "2024-12-31T00:00:00Z"}));
  RetentionPolicy y;
  y.keep_yearly = 5;
  EXPECT_EQ(KeptIds(Apply(snaps, y)), Ids({"2025-01-20T00:00:00Z", "2024-12-31T00:00:00Z"}));
}

TEST(RetentionTest, RulesCombineAndEveryReasonIsListed) {
  // restic's classic example shape: keep-last 2 + keep-daily 3 + keep-monthly 2.
  auto snaps = Snaps({"2025-06-30T12:00:00Z", "2025-07-30T12:00:00Z", "2025-07-31T08:00:00Z",
                      "2025-07-31T18:00:00Z", "2025-08-01T09:00:00Z", "2025-08-01T17:00:00Z"});
  RetentionPolicy p;
  p.keep_last = 2;
  p.keep_daily = 3;
  p.keep_monthly = 2;
  auto d = Apply(snaps, p);
  std::map<std::string, std::vector<std::string>> why;
  for (const auto& k : d.keep) why[k.info.id] = k.reasons;
  EXPECT_EQ(why.size(), 4u);
  EXPECT_EQ(why[Snap("2025-08-01T17:00:00Z").id],
            (std::vector<std::string>{"last snapshot #1", "daily snapshot for 2025-08-01",
                                      "monthly snapshot for 2025-08"}));
  EXPECT_EQ(why[Snap("2025-08-01T09:00:00Z").id], std::vector<std::string>{"last snapshot #2"});
  EXPECT_EQ(why[Snap("2025-07-31T18:00:00Z").id],
            (std::vector<std::string>{"daily snapshot for 2025-07-31", "monthly snapshot for 2025-07"}));
  EXPECT_EQ(why[Snap("2025-07-30T12:00:00Z").id], std::vector<std::string>{"daily snapshot for 2025-07-30"});
  std::set<std::string> removed;
  for (const auto& r : d.remove) removed.insert(r.id);
  EXPECT_EQ(removed, Ids({"2025-07-31T08:00:00Z", "2025-06-30T12:00:00Z"}));
}

TEST(RetentionTest, EveryInputAppearsExactlyOnce) {
  std::vector<SnapshotInfo> snaps;
  int64_t t = 1735689600LL * 1000000;  // 2025-01-01
  for (int i = 0; i < 300; ++i) {
    SnapshotInfo s;
    s.created_micros = t + static_cast<int64_t>(i) * 7919LL * 1000000;  // ~2.2 h apart
    s.id = FormatStamp(s.created_micros);
    snaps.push_back(s);
  }
  RetentionPolicy p;
  p.keep_last = 3;
  p.keep_hourly = 5;
  p.keep_daily = 7;
  p.keep_weekly = 4;
  p.keep_monthly = 12;
  auto d = Apply(snaps, p);
  EXPECT_EQ(d.keep.size() + d.remove.size(), snaps.size());
  std::set<std::string> all;
  for (const auto& k : d.keep) all.insert(k.info.id);
  for (const auto& r : d.remove) all.insert(r.id);
  EXPECT_EQ(all.size(), snaps.size());
  // Newest is always kept; at most last+hourly+daily+weekly+monthly kept.
  EXPECT_EQ(d.keep.front().info.id, snaps.back().id);
  EXPECT_LE(d.keep.size(), 3u + 5 + 7 + 4 + 12);
  EXPECT_GE(d.keep.size(), 7u);  // seven distinct days at least
}

TEST(RetentionTest, SameSecondSnapshotsOrderedById) {
  SnapshotInfo a = Snap("2025-08-01T10:00:00Z"), b = a;
  b.id = a.id + "_2";
  RetentionPolicy p;
  p.keep_daily = 1;
  auto d = Apply({a, b}, p);
  ASSERT_EQ(d.keep.size(), 1u);
  EXPECT_EQ(d.keep[0].info.id, b.id);
}

TEST(RetentionTest, DescribeNamesTheRules) {
  RetentionPolicy p;
  p.keep_last = 3;
  p.keep_weekly = 4;
  EXPECT_EQ(p.Describe(), "keep-last 3, keep-weekly 4");
}
