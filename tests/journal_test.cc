// tests/journal_test.cc — the LMDB journal: durability across reopen, sequence
// numbers, damage detection, map growth, one instance per process.
#include "journal/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::TempDir;

JournalRecord Rec(RecordType t, const std::string& txn, int step = -1) {
  JournalRecord r;
  r.type = t;
  r.txn_id = txn;
  r.step = step;
  if (step >= 0) r.step_name = "step" + std::to_string(step);
  return r;
}

TEST(JournalTest, RecordRoundTripsThroughEncoding) {
  JournalRecord r = Rec(RecordType::kBegin, "t1");
  r.kind = "reset";
  r.args = {{"stores", {"main", "ai"}}};
  r.seq = 42;
  r.time_micros = 123456;
  auto back = DecodeRecord(EncodeRecord(r), 42);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kind, "reset");
  EXPECT_EQ(back->args, r.args);
  EXPECT_EQ(back->time_micros, 123456);
}

// Store paths and file names are bytes: one that is not UTF-8 (a Latin-1
// name) comes back from the journal exactly, in args and in detail, and the
// payload on disk is still UTF-8 JSON.
TEST(JournalTest, PathsThatAreNotUtf8RoundTripByteForByte) {
  JournalRecord r = Rec(RecordType::kBegin, "t1");
  r.kind = "cleanup";
  const std::string latin1 = "/srv/caf\xe9/raw_pdfs", lone = "\xff";
  r.args = {{"stores", {{{"name", "pdfs"}, {"path", latin1}}}}, {"files", {{"pdfs", {"r\xe9sum\xe9.pdf", "ok.pdf"}}}},
            {"lone", lone}, {"look_alike", {{"maestro_bytes_hex", "zz"}}}};
  r.detail = "could not move " + latin1;
  r.seq = 7;
  const std::string bytes = EncodeRecord(r);
  auto back = DecodeRecord(bytes, 7);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->args, r.args);
  EXPECT_EQ(back->args["stores"][0]["path"].get<std::string>(), latin1);
  EXPECT_EQ(back->args["files"]["pdfs"][0].get<std::string>(), "r\xe9sum\xe9.pdf");
  EXPECT_EQ(back->detail, r.detail);
  EXPECT_EQ(bytes.find('\xe9'), std::string::npos) << "the raw byte must not be in the payload";
}

TEST(JournalTest, DecodeRejectsFlippedByteAsCorruption) {
  JournalRecord r = Rec(RecordType::kIntent, "t1", 3);
  r.seq = 7;
  std::string b = EncodeRecord(r);
  for (size_t i = 0; i < b.size(); i += 5) {
    std::string bad = b;
    bad[i] ^= 0x20;
    auto d = DecodeRecord(bad, 7);
    EXPECT_TRUE(d.status().IsCorruption()) << "byte " << i;
  }
  EXPECT_TRUE(DecodeRecord(b.substr(0, 10), 7).status().IsCorruption());
  EXPECT_TRUE(DecodeRecord(b, 8).status().IsCorruption()) << "record under the wrong key";
}

TEST(JournalTest, AppendedRecordsSurviveReopenWithIncreasingSequence) {
  TempDir tmp;
  std::string dir = JournalDir(tmp.Sub("repo"));
  {
    auto j = Journal::Open(Env::Default(), dir, true);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    auto r1 = Rec(RecordType::kBegin, "a");
    auto r2 = Rec(RecordType::kIntent, "a", 0);
    ASSERT_TRUE((*j)->Append(&r1).ok());
    ASSERT_TRUE((*j)->Append(&r2).ok());
    EXPECT_LT(r1.seq, r2.seq);
  }
  auto j = Journal::Open(Env::Default(), dir, false);
  ASSERT_TRUE(j.ok());
  auto r3 = Rec(RecordType::kDone, "a", 0);
  ASSERT_TRUE((*j)->Append(&r3).ok());
  EXPECT_EQ(r3.seq, 3u);
  auto all = (*j)->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  auto tail = (*j)->ReadTail(2);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 2u);
  EXPECT_EQ((*tail)[0].seq, 2u);
  EXPECT_EQ((*tail)[1].seq, 3u);
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(JournalTest, OpenMissingJournalWithoutCreateIsNotFoundAndCreatesNothing) {
  TempDir tmp;
  auto j = Journal::Open(Env::Default(), JournalDir(tmp.Sub("repo")), false);
  EXPECT_TRUE(j.status().IsNotFound());
  EXPECT_FALSE(Env::Default()->DirExists(tmp.Sub("repo")));
}

TEST(JournalTest, SecondOpenInProcessReturnsTheSameInstance) {
  TempDir tmp;
  std::string dir = JournalDir(tmp.path());
  auto a = Journal::Open(Env::Default(), dir, true);
  auto b = Journal::Open(Env::Default(), dir + "/", true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

TEST(JournalTest, DamagedRecordIsReportedNeverSkipped) {
  TempDir tmp;
  auto j = Journal::Open(Env::Default(), JournalDir(tmp.path()), true);
  ASSERT_TRUE(j.ok());
  auto r1 = Rec(RecordType::kBegin, "a");
  ASSERT_TRUE((*j)->Append(&r1).ok());
  auto r2 = Rec(RecordType::kIntent, "a", 0);
  r2.seq = 2;
  std::string bytes = EncodeRecord(r2);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE((*j)->PutRawForTesting(2, bytes).ok());
  auto all = (*j)->ReadAll();
  ASSERT_TRUE(all.status().IsCorruption());
  EXPECT_NE(all.status().message().find("record 2"), std::string::npos) << all.status().message();
  EXPECT_TRUE((*j)->Unfinished().status().IsCorruption());
}

TEST(JournalTest, MapGrowsWhenFull) {
  TempDir tmp;
  auto j = Journal::Open(Env::Default(), JournalDir(tmp.path()), true);
  ASSERT_TRUE(j.ok());
  size_t initial = (*j)->map_size();
  std::string big(64 * 1024, 'x');
  for (int i = 0; i < 40; ++i) {
    auto r = Rec(RecordType::kBegin, "t" + std::to_string(i));
    r.args = {{"blob", big}};
    ASSERT_TRUE((*j)->Append(&r).ok()) << i;
  }
  EXPECT_GT((*j)->map_size(), initial);
  auto all = (*j)->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 40u);
}

TEST(JournalTest, FoldFindsUnfinishedTransactionAndItsProgress) {
  TempDir tmp;
  auto j = Journal::Open(Env::Default(), JournalDir(tmp.path()), true);
  ASSERT_TRUE(j.ok());
  std::vector<JournalRecord> rs = {Rec(RecordType::kBegin, "old"), Rec(RecordType::kEnd, "old"),
                                   Rec(RecordType::kBegin, "new"), Rec(RecordType::kIntent, "new", 0),
                                   Rec(RecordType::kDone, "new", 0), Rec(RecordType::kIntent, "new", 1)};
  rs[1].outcome = "committed";
  rs[2].kind = "reset";
  for (auto& r : rs) ASSERT_TRUE((*j)->Append(&r).ok());
  auto u = (*j)->Unfinished();
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(u->has_value());
  EXPECT_EQ((*u)->txn_id, "new");
  EXPECT_TRUE((*u)->HasIntent(1));
  EXPECT_FALSE((*u)->IsDone(1));
  EXPECT_FALSE((*u)->committed);
  EXPECT_NE((*u)->Describe().find("step1 (not finished)"), std::string::npos) << (*u)->Describe();
}

}  // namespace
}  // namespace maestro
