#include <gtest/gtest.h>

#include <cerrno>

#include "tests/test_util.h"
#include "util/config.h"
#include "util/env.h"
#include "tests/support/fault_env.h"
#include "util/hash.h"
#include "util/json_text.h"
#include "util/sqlite.h"
#include "util/time_util.h"

using namespace maestro;
using maestro::testing::TempDir;

TEST(StatusTest, AnnotateKeepsCodeAndErrno) {
  Status s = PosixError("write /x", ENOSPC);
  Status a = s.Annotate("snapshot 20250101_000000");
  EXPECT_TRUE(a.IsIoError());
  EXPECT_EQ(a.err_no(), ENOSPC);
  EXPECT_NE(a.message().find("snapshot 20250101_000000: write /x"), std::string::npos);
  EXPECT_NE(a.message().find("disk is full"), std::string::npos);
}

// The errors a user can act on say what to do, and keep their errno.
TEST(StatusTest, PosixErrorsAUserCanFixSayHow) {
  const std::vector<std::pair<int, std::string>> cases = {
      {ENOSPC, "disk is full"}, {EACCES, "owns the install"}, {EPERM, "owns the install"},
      {ENAMETOOLONG, "4096 bytes"}, {EROFS, "read-only"}};
  for (const auto& [err, hint] : cases) {
    Status s = PosixError("open /x", err);
    EXPECT_TRUE(s.IsIoError()) << s.ToString();
    EXPECT_NE(s.message().find(hint), std::string::npos) << s.ToString();
    EXPECT_EQ(s.err_no(), err);
  }
}

TEST(StatusTest, ARefusalIsMarkedAndAnnotateKeepsTheMark) {
  Status plain = Status::IoError("the remote refused to delete packs/x.pack");
  EXPECT_FALSE(plain.IsRefused()) << "the mark is set, never read from the wording";
  Status refused = Status::IoError("permission denied").MarkRefused();
  EXPECT_TRUE(refused.IsRefused());
  EXPECT_TRUE(refused.Annotate("gc").IsRefused());
  EXPECT_TRUE(refused.Annotate("gc").IsIoError());
}

TEST(HashTest, HexRoundTrip) {
  Hash128 h = Xxh128("hello");
  Hash128 back;
  ASSERT_TRUE(Hash128::FromHex(h.Hex(), &back));
  EXPECT_EQ(h, back);
  EXPECT_FALSE(Hash128::FromHex("zz", &back));
  Hasher128 st;
  st.Update("hel");
  st.Update("lo");
  EXPECT_EQ(st.Digest(), h);
}

// JSON of strings from disk: printing never throws (U+FFFD for bad bytes);
// the lossless form gives the same bytes back and leaves UTF-8 as it is.
TEST(JsonTextTest, StringsThatAreNotUtf8PrintWithReplacementAndRoundTripLosslessly) {
  nlohmann::json j = {{"ok", "caf\xc3\xa9"}, {"bad", "a\xff" "b"}, {"list", {"x", "\xc0\xaf"}}, {"n", 3}};
  EXPECT_THROW((void)j.dump(), nlohmann::json::type_error);  // why this header exists
  EXPECT_EQ(JsonText(j["bad"]), "\"a\xef\xbf\xbd" "b\"");
  nlohmann::json enc = EncodeByteStrings(j);
  EXPECT_EQ(enc["ok"], j["ok"]);
  EXPECT_EQ(enc["bad"], (nlohmann::json{{"maestro_bytes_hex", "61ff62"}}));
  EXPECT_NO_THROW((void)enc.dump());
  nlohmann::json back = nlohmann::json::parse(enc.dump());
  DecodeByteStrings(&back);
  EXPECT_EQ(back, j);
  nlohmann::json odd = {{"maestro_bytes_hex", "6"}};  // not an encoded string: kept
  DecodeByteStrings(&odd);
  EXPECT_TRUE(odd.is_object());
}

TEST(PathTest, SafeRelativePathRejectsEscapes) {
  EXPECT_TRUE(IsSafeRelativePath("a/b.txt"));
  EXPECT_FALSE(IsSafeRelativePath("../a"));
  EXPECT_FALSE(IsSafeRelativePath("a/../../b"));
  EXPECT_FALSE(IsSafeRelativePath("/etc/passwd"));
  EXPECT_FALSE(IsSafeRelativePath(""));
  EXPECT_EQ(NormalizePath("/a/./b/../c"), "/a/c");
}

TEST(TimeTest, ParsesIsoAndStamp) {
  auto a = ParseTime("2025-08-08T14:30:22Z");
  auto b = ParseTime("20250808_143022");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(FormatStamp(*a), "20250808_143022");
  EXPECT_EQ(FormatIso8601(*a), "2025-08-08T14:30:22Z");
  auto c = ParseTime("2025-08-08T16:30:22+02:00");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *a);
  EXPECT_FALSE(ParseTime("yesterday").ok());
}

TEST(TimeTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationSeconds("24h"), 86400);
  EXPECT_EQ(*ParseDurationSeconds("1h30m"), 5400);
  EXPECT_EQ(*ParseDurationSeconds("90"), 90);
  EXPECT_FALSE(ParseDurationSeconds("2x").ok());
  EXPECT_FALSE(ParseDurationSeconds("").ok());
  // Too long is refused, never thrown (stoll) or wrapped (int64 overflow).
  EXPECT_EQ(*ParseDurationSeconds("36600d"), int64_t{36600} * 86400);
  EXPECT_EQ(*ParseDurationSeconds("00000000000000000007d"), 7 * 86400);
  for (const char* huge : {"99999999999999999999999d", "999999999999999w", "36601d", "9223372036854775807s",
                           "999999999999s999999999999s"}) {
    auto d = ParseDurationSeconds(huge);
    EXPECT_FALSE(d.ok()) << huge << " gave " << (d.ok() ? *d : 0);
    if (!d.ok()) {
      EXPECT_NE(d.status().message().find("century"), std::string::npos) << d.status().ToString();
    }
  }
}

TEST(ConfigTest, ParsesSectionsAndRejectsGarbage) {
  auto c = Config::Parse("# c\n[stores]\nmain = /x/y.db # trailing\n[schedule]\nsnapshot_time = \"02:30\"\n", "t");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Get("stores.main"), "/x/y.db");
  EXPECT_EQ(c->Get("schedule.snapshot_time"), "02:30");
  auto bad = Config::Parse("[stores]\nthis is not a key value\n", "t.ini");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.ini:2"), std::string::npos);
  // A number too large for int64 is refused, not clamped to its largest value.
  auto n = Config::Parse("[schedule]\nkeep_daily = 99999999999999999999\nkeep_weekly = 4\n", "n.ini");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n->GetInt("schedule.keep_weekly", 0), 4);
  auto huge = n->GetInt("schedule.keep_daily", 0);
  ASSERT_FALSE(huge.ok()) << *huge;
  EXPECT_NE(huge.status().message().find("too large"), std::string::npos) << huge.status().ToString();
}

TEST(EnvTest, WriteFileDurablyReplacesAtomically) {
  TempDir d;
  std::string p = d.Sub("f");
  ASSERT_TRUE(WriteFileDurably(Env::Default(), p, "one").ok());
  ASSERT_TRUE(WriteFileDurably(Env::Default(), p, "two").ok());
  EXPECT_EQ(maestro::testing::ReadFile(p), "two");
  std::vector<DirEntry> e;
  ASSERT_TRUE(Env::Default()->ListDir(d.path(), &e).ok());
  EXPECT_EQ(e.size(), 1u);  // no temp file left behind
}

TEST(FaultEnvTest, InjectedEnospcLeavesOldContent) {
  TempDir d;
  std::string p = d.Sub("f");
  ASSERT_TRUE(WriteFileDurably(Env::Default(), p, "old").ok());
  FaultEnv fenv(Env::Default());
  fenv.FailAt(FaultEnv::Op::kWrite, 1, ENOSPC);
  Status s = WriteFileDurably(&fenv, p, "new");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.err_no(), ENOSPC);
  EXPECT_EQ(maestro::testing::ReadFile(p), "old");
}

TEST(FaultEnvTest, PowerCutDropsUnsyncedFileAndRename) {
  TempDir d;
  std::string p = d.Sub("f");
  ASSERT_TRUE(WriteFileDurably(Env::Default(), p, "old").ok());
  FaultEnv fenv(Env::Default());
  // Cut at the directory fsync: the rename happened but is not durable.
  fenv.PowerCutAt(FaultEnv::Op::kSyncDir, 1);
  EXPECT_FALSE(WriteFileDurably(&fenv, p, "new").ok());
  ASSERT_TRUE(fenv.DropUnsyncedData().ok());
  EXPECT_EQ(maestro::testing::ReadFile(p), "old");
}

TEST(SqliteTest, ReadOnlyOpenOfWalDatabaseCreatesNoSideFiles) {
  TempDir d;
  std::string p = d.Sub("w.db");
  {
    auto db = Db::OpenReadWrite(p, true);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1);").ok());
  }
  auto before = maestro::testing::TreeDigest(d.path());
  {
    auto db = Db::OpenReadOnly(p);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM t"), 1);
  }
  EXPECT_EQ(maestro::testing::TreeDigest(d.path()), before);
}

TEST(SqliteTest, GarbageAndEmptyFilesAreBadStore) {
  TempDir d;
  maestro::testing::WriteFile(d.Sub("g.db"), std::string(4096, 'x'));
  maestro::testing::WriteFile(d.Sub("e.db"), "");
  auto g = Db::OpenReadOnly(d.Sub("g.db"));
  auto e = Db::OpenReadOnly(d.Sub("e.db"));
  auto m = Db::OpenReadOnly(d.Sub("missing.db"));
  EXPECT_EQ(g.status().code(), Status::Code::kBadStore);
  EXPECT_EQ(e.status().code(), Status::Code::kBadStore);
  EXPECT_TRUE(m.status().IsNotFound());
}
