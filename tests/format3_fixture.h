// tests/format3_fixture.h — tests/data/format3_repo, the format-3 repository
// the previous build wrote (its generator: tests/data/format3_repo.README.gen.cc.txt),
// for the suites that read, upgrade or copy it. Header-only.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "snapshot/repository.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro::testing {

inline std::string Format3FixtureDir() { return std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/data/format3_repo"; }

// A writable copy of the fixture at t/name (the checked-in one is never changed).
inline std::string CopyFormat3Fixture(const TempDir& t, const std::string& name = "old") {
  std::string dir = t.Sub(name);
  std::filesystem::copy(Format3FixtureDir(), dir, std::filesystem::copy_options::recursive);
  return dir;
}

// Every file and folder below dir, relative, sorted.
inline std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& [p, d] : TreeDigest(dir, false)) {
    (void)d;
    out.push_back(p);
  }
  return out;
}

// Rows of the generator's table t (-1 when the database does not open).
inline int64_t Rows(const std::string& db_path) {
  auto db = Db::OpenReadOnly(db_path);
  if (!db.ok()) return -1;
  auto n = db->QueryInt("SELECT count(*) FROM t");
  return n.ok() ? *n : -1;
}

// The generator's docs/sub/big.csv.
inline std::string Format3BigCsv() {
  std::string big;
  for (int i = 0; i < 70000; ++i) big += std::to_string(i * 7919 % 100003) + ",";
  return big;
}

// The fixture's two snapshots ("first", "second") restored from repo into
// folders of t, every store checked against what the generator wrote.
inline void ExpectFormat3SnapshotsWhole(Repository* repo, const TempDir& t) {
  auto list = repo->List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::vector<SnapshotInfo> fixture;
  for (const auto& s : *list)
    if (s.label == "first" || s.label == "second") fixture.push_back(s);
  ASSERT_EQ(fixture.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    static int n = 0;  // a fresh folder each call, so one t serves several checks
    const std::string id = fixture[k].id, out = t.Sub("restore-" + std::to_string(++n));
    ASSERT_TRUE(repo->RestoreStore(id, "main", out + "/main.db", {}).ok());
    EXPECT_EQ(Rows(out + "/main.db"), k == 0 ? 3 : 4);
    ASSERT_TRUE(repo->RestoreStore(id, "markdown", out + "/docs", {}).ok());
    EXPECT_EQ(ReadFile(out + "/docs/a.txt"), k == 0 ? "alpha file\n" : "alpha file, changed\n");
    EXPECT_EQ(ReadFile(out + "/docs/sub/b.md"), std::string(3000, 'b') + "\n");
    EXPECT_EQ(ReadFile(out + "/docs/sub/big.csv"), Format3BigCsv());
    char target[64] = {};
    ASSERT_GT(readlink((out + "/docs/link").c_str(), target, sizeof target - 1), 0);
    EXPECT_STREQ(target, "a.txt");
    ASSERT_TRUE(repo->RestoreStore(id, "pdfs", out + "/notes.txt", {}).ok());
    EXPECT_EQ(ReadFile(out + "/notes.txt"), "notes store, a single plain file\n");
    EXPECT_TRUE(repo->RestoreStore(id, "vector", out + "/vector", {}).IsNotFound());  // recorded absent
  }
}

}  // namespace maestro::testing
