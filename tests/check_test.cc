// tests/check_test.cc — `check` finds exactly what the demo planted, scopes
// (--user, --document) and the age rules with an injected `now`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "engine/stores/check.h"
#include "tools/demo/demo.h"
#include "tests/test_util.h"
#include "util/time_util.h"

using namespace maestro;
using namespace maestro::testing;
using nlohmann::json;

namespace {

const char* kNow = "2025-08-08T12:00:00Z";

using IssueKey = std::tuple<std::string, std::string, std::string>;  // doc, store, kind

IssueKey Key(const json& i) {
  return {i["doc_id"].get<std::string>(), i["store"].get<std::string>(), i["kind"].get<std::string>()};
}

std::set<IssueKey> Keys(const json& issues) {
  std::set<IssueKey> out;
  for (const auto& i : issues) out.insert(Key(i));
  return out;
}

json RunJson(const std::vector<std::string>& args, int expect_rc) {
  CliResult r = RunCli(args);
  EXPECT_EQ(r.exit_code, expect_rc) << r.err;
  return json::parse(r.out);
}

class CheckDemo : public ::testing::Test {
 protected:
  void Create(bool inconsistent) {
    std::vector<std::string> args = {"--json", "demo", "create", root(), "--documents", "120", "--users", "3",
                                     "--chunks-per-doc", "3", "--pdf-kib", "2", "--seed", "11", "--now", kNow};
    if (inconsistent) args.push_back("--inconsistent");
    demo_ = RunJson(args, 0);
  }
  std::string root() const { return dir_.Sub("root"); }
  json Check(std::vector<std::string> extra, int rc, const std::string& now = kNow) {
    std::vector<std::string> args = {"--root", root(), "--json", "check", "--now", now};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunJson(args, rc);
  }
  TempDir dir_;
  json demo_;
};

}  // namespace

TEST_F(CheckDemo, ConsistentDemoHasNoIssues) {
  Create(false);
  json rep = Check({}, 0);
  EXPECT_TRUE(rep["consistent"]);
  EXPECT_TRUE(rep["issues"].empty()) << rep["issues"].dump(1);
  EXPECT_EQ(rep["summary"]["documents_checked"], 120);
}

TEST_F(CheckDemo, FindsExactlyThePlantedIssuesAndEveryKindAtLeastTwice) {
  Create(true);
  json rep = Check({}, 1);
  EXPECT_FALSE(rep["consistent"]);
  EXPECT_EQ(Keys(rep["issues"]), Keys(demo_["planted"]));
  for (IssueKind k : AllIssueKinds())
    EXPECT_GE(rep["summary"]["issues_by_kind"][IssueKindName(k)].get<int>(), 2) << IssueKindName(k);
  for (const auto& i : rep["issues"]) {
    EXPECT_FALSE(i["repair"].get<std::string>().empty());
    EXPECT_FALSE(i["detail"].get<std::string>().empty());
    bool orphan = std::string(i["kind"]).find("orphan") != std::string::npos || i["kind"] == "files_only";
    EXPECT_EQ(i["user_id"].is_null(), orphan) << i.dump();
  }
}

TEST_F(CheckDemo, UserScopeReportsOnlyThatUsersDocumentsAndNoOrphans) {
  Create(true);
  json all = Check({}, 1);
  std::set<IssueKey> expected;
  for (const auto& i : all["issues"])
    if (!i["user_id"].is_null() && i["user_id"] == 2) expected.insert(Key(i));
  ASSERT_FALSE(expected.empty());
  json rep = Check({"--user", "2"}, 1);
  EXPECT_EQ(Keys(rep["issues"]), expected);
  EXPECT_FALSE(rep["summary"]["orphans_checked"]);
}

TEST_F(CheckDemo, DocumentScopeChecksOneDocumentOfItsOwner) {
  Create(true);
  json all = Check({}, 1);
  std::string doc;
  int64_t user = 0;
  std::set<IssueKey> expected;
  for (const auto& i : all["issues"])
    if (i["kind"] == "failed_stale_with_leftovers") {
      doc = i["doc_id"];
      user = i["user_id"];
      break;
    }
  ASSERT_FALSE(doc.empty());
  for (const auto& i : all["issues"])
    if (i["doc_id"] == doc) expected.insert(Key(i));
  json rep = Check({"--user", std::to_string(user), "--document", doc}, 1);
  EXPECT_EQ(Keys(rep["issues"]), expected);
  EXPECT_EQ(rep["summary"]["documents_checked"], 1);

  // The same document under another user: not found (exit 3), one JSON error.
  CliResult other = RunCli({"--root", root(), "--json", "check", "--user", std::to_string(user + 1), "--document", doc});
  EXPECT_EQ(other.exit_code, 3);
  EXPECT_NE(json::parse(other.out)["error"]["message"].get<std::string>().find(doc), std::string::npos);
  // An id in no store: not found.
  EXPECT_EQ(RunCli({"--root", root(), "check", "--user", "1", "--document", "00000000"}).exit_code, 3);
  // --document without --user is a usage error.
  EXPECT_EQ(RunCli({"--root", root(), "check", "--document", doc}).exit_code, 2);
}

TEST_F(CheckDemo, DocumentScopeFindsAnOrphanId) {
  Create(true);
  std::string orphan;
  for (const auto& p : demo_["planted"])
    if (p["kind"] == "vector_orphan") orphan = p["doc_id"];
  ASSERT_FALSE(orphan.empty());
  json rep = Check({"--user", "1", "--document", orphan}, 1);
  ASSERT_FALSE(rep["issues"].empty());
  for (const auto& i : rep["issues"]) EXPECT_EQ(i["doc_id"], orphan);
}

TEST_F(CheckDemo, AgeRulesMeasureFromTheInjectedNow) {
  Create(true);
  // Three hours later, every processing document of the demo is stuck, and the
  // failed documents with leftovers of 2-3 h ago are not yet stale.
  auto base = ParseTime(kNow);
  ASSERT_TRUE(base.ok());
  json later = Check({}, 1, FormatIso8601(*base + 3LL * 3600 * 1000000));
  json now = Check({}, 1);
  EXPECT_GT(later["summary"]["issues_by_kind"]["stuck_processing"].get<int>(),
            now["summary"]["issues_by_kind"]["stuck_processing"].get<int>());
  EXPECT_EQ(later["summary"]["issues_by_kind"]["failed_with_leftovers"],
            now["summary"]["issues_by_kind"]["failed_with_leftovers"]);
  // Two days later, every failed document with leftovers is stale.
  json days = Check({}, 1, FormatIso8601(*base + 48LL * 3600 * 1000000));
  EXPECT_EQ(days["summary"]["issues_by_kind"]["failed_with_leftovers"], 0);
  EXPECT_EQ(days["summary"]["issues_by_kind"]["failed_stale_with_leftovers"].get<int>(),
            now["summary"]["issues_by_kind"]["failed_stale_with_leftovers"].get<int>() +
                now["summary"]["issues_by_kind"]["failed_with_leftovers"].get<int>());
}

TEST_F(CheckDemo, TextOutputNamesEveryIssueAndExitsOne) {
  Create(true);
  CliResult r = RunCli({"--root", root(), "check", "--now", kNow});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  for (const auto& p : demo_["planted"]) EXPECT_NE(r.out.find(p["doc_id"].get<std::string>()), std::string::npos);
  EXPECT_NE(r.out.find("issues ("), std::string::npos);
}

TEST(IssueKinds, NamesAreStableSnakeCaseAndRoundTrip) {
  std::set<std::string> names;
  for (IssueKind k : AllIssueKinds()) {
    std::string n = IssueKindName(k);
    for (char c : n) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << n;
    auto back = ParseIssueKind(n);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, k);
    EXPECT_FALSE(std::string(IssueKindRepair(k)).empty());
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumIssueKinds));
  EXPECT_EQ(std::string(IssueKindName(IssueKind::kFilesOnly)), "files_only");
  EXPECT_EQ(std::string(IssueKindName(IssueKind::kMainDbOnly)), "main_db_only");
}
