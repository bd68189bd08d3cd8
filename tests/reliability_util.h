// tests/reliability_util.h — helpers shared by the reliability suites
// (tests/reliability_*_test.cc, issue 8): a small demo install driven through
// the real binary, snapshot ids, repository file lists and case counters that
// print the figures docs/reliability.md quotes.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"
#include "util/env.h"

namespace maestro::reliability {

using testing::CliResult;
using testing::RunCli;

inline std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

// A small, deterministic install (a few KiB per store) so sweeps stay fast.
inline void MakeSmallDemo(const std::string& root, int documents = 6) {
  CliResult r = RunCli({"demo", "create", root, "--documents", std::to_string(documents), "--chunks-per-doc", "2",
                        "--pdf-kib", "2", "--users", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// `snap create` through the binary; returns the printed id ("" on failure).
inline std::string SnapCreate(const std::string& root, const std::vector<std::string>& env = {},
                              CliResult* out = nullptr) {
  CliResult r = RunCli({"--root", root, "snap", "create", "-q"}, env);
  if (out) *out = r;
  if (r.exit_code != 0) return "";
  std::string id = Trim(r.out);
  auto nl = id.rfind('\n');
  return nl == std::string::npos ? id : id.substr(nl + 1);
}

// The listed snapshot ids (`snap list --json`), oldest first. With
// no_repo_is_empty, a root whose repository was never finished (no config: a
// first create failed before writing it) lists none instead of failing.
inline std::vector<std::string> ListIds(const std::string& root, bool no_repo_is_empty = false) {
  CliResult r = RunCli({"--root", root, "--json", "snap", "list"});
  if (no_repo_is_empty && r.exit_code == 3 && !Env::Default()->FileExists(root + "/backups/maestro-db/config")) return {};
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> ids;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_array())
    for (const auto& s : j)
      if (s.is_object() && s.contains("id") && s["id"].is_string()) ids.push_back(s["id"].get<std::string>());
  return ids;
}

// Regular files of a repository that hold its data (config, manifests, indexes,
// packs): not the lock file, not the journal.
inline std::vector<std::string> RepoDataFiles(const std::string& repo) {
  std::vector<std::string> out;
  if (Env::Default()->FileExists(repo + "/config")) out.push_back(repo + "/config");
  for (const char* sub : {"snapshots", "index", "packs"}) {
    std::vector<DirEntry> es;
    if (!Env::Default()->ListDir(repo + "/" + sub, &es).ok()) continue;
    for (const auto& e : es)
      if (!e.is_dir && e.name.find(".tmp") == std::string::npos) out.push_back(repo + "/" + sub + "/" + e.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::vector<std::string> FilesUnder(const std::string& repo, const std::string& sub) {
  std::vector<std::string> out;
  for (const auto& f : RepoDataFiles(repo))
    if (f.rfind(repo + "/" + sub + "/", 0) == 0) out.push_back(f);
  return out;
}

// Counts cases of one category and prints "<category>: N cases, M <verb>" at
// the end of the test (the figures docs/reliability.md quotes).
class CaseCounter {
 public:
  CaseCounter(std::string category, std::string verb) : category_(std::move(category)), verb_(std::move(verb)) {}
  ~CaseCounter() {
    std::printf("%s: %d cases, %d %s\n", category_.c_str(), cases_, good_, verb_.c_str());
    std::fflush(stdout);
  }
  void Add(bool good) { ++cases_; if (good) ++good_; }
  int cases() const { return cases_; }
  int good() const { return good_; }

 private:
  std::string category_, verb_;
  int cases_ = 0, good_ = 0;
};

}  // namespace maestro::reliability
