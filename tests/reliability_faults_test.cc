// tests/reliability_faults_test.cc — issue 8, full disk and I/O errors.
//
// ENOSPC and EIO are injected (FaultEnv, in-process through the Env* every
// engine API takes) at the Nth write, sync, rename, directory sync and file
// creation of Repository::Create, of a reset and of an in-place restore. Each
// call must fail with a message naming the problem; the stores must be exactly
// as before (TreeDigest), or — when the failure came after the commit record —
// exactly the committed result once `recover` has run; no partial snapshot may
// be listed; and a later run with a healthy disk must succeed. One more test
// fills a real 8 MiB tmpfs through the binary.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "engine/stores/layout.h"
#include "engine/txn/recover.h"
#include "engine/txn/reset.h"
#include "engine/txn/restore_txn.h"
#include "engine/stores/snapshot_sources.h"
#include "snapshot/repository.h"
#include "tests/reliability_util.h"
#include "tests/test_util.h"
#include "tests/support/fault_env.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using reliability::CaseCounter;
using testing::CliResult;
using testing::ReadFile;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;
using Op = FaultEnv::Op;

bool LongTests() { return getenv("MAESTRO_DB_LONG_TESTS") != nullptr; }

// The nth calls to try out of `count`: all of them under MAESTRO_DB_LONG_TESTS,
// else at most `cap` spread evenly, always including the first and the last.
std::vector<int> Positions(int count, int cap = 8) {
  std::vector<int> out;
  if (count <= 0) return out;
  if (LongTests() || count <= cap) {
    for (int n = 1; n <= count; ++n) out.push_back(n);
    return out;
  }
  for (int k = 0; k < cap; ++k) {
    int n = 1 + static_cast<int>(static_cast<int64_t>(k) * (count - 1) / (cap - 1));
    if (out.empty() || out.back() != n) out.push_back(n);
  }
  return out;
}

// The stores of an install (everything under root except the repository), by
// content, type and mode: a rename aside and back changes directory mtimes,
// which is not a change of the data.
std::map<std::string, std::string> StoresDigest(const std::string& root) {
  auto d = TreeDigest(root, /*include_mtime=*/false);
  for (auto it = d.begin(); it != d.end();) it = it->first.rfind("backups", 0) == 0 ? d.erase(it) : std::next(it);
  return d;
}

bool NamesTheError(const Status& s, int err) {
  std::string m = s.ToString();
  return s.err_no() == err || m.find(std::strerror(err)) != std::string::npos ||
         (err == ENOSPC && m.find("disk is full") != std::string::npos);
}

class FaultsTest : public ::testing::Test {
 public:
  void SetUp() override {
    pristine_ = tmp_.Sub("pristine");
    reliability::MakeSmallDemo(pristine_, 4);
  }
  // A fresh copy of the pristine install (the repository included).
  std::string FreshRoot(const std::string& name) {
    std::string root = tmp_.Sub(name);
    fs::remove_all(root);
    fs::copy(pristine_, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    return root;
  }
  Layout LayoutOf(const std::string& root) {
    auto l = Layout::Discover(Env::Default(), root, nullptr);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return *l;
  }
  // Every listed snapshot verifies with read_data (nothing partial is listed).
  ::testing::AssertionResult RepositoryListsOnlyCompleteSnapshots(const std::string& repo_dir, size_t* count) {
    auto r = Repository::Open(Env::Default(), repo_dir, true);
    if (!r.ok()) return ::testing::AssertionFailure() << r.status().ToString();
    auto list = (*r)->List();
    if (!list.ok()) return ::testing::AssertionFailure() << list.status().ToString();
    *count = list->size();
    auto rep = (*r)->Verify({}, true);
    if (!rep.ok()) return ::testing::AssertionFailure() << rep.status().ToString();
    if (!rep->ok())
      return ::testing::AssertionFailure() << rep->problems[0].snapshot_id << " " << rep->problems[0].path << ": "
                                           << rep->problems[0].detail;
    return ::testing::AssertionSuccess();
  }

  TempDir tmp_;
  std::string pristine_;
};

TEST_F(FaultsTest, CreateFailsCleanlyOnEnospcOrEioAtEveryDurableStep) {
  std::string root = FreshRoot("create");
  Layout layout = LayoutOf(root);
  auto sources = SourcesFor(layout);
  auto stores_before = StoresDigest(root);
  std::map<Op, int> counts;
  {
    TempDir t;
    FaultEnv probe(Env::Default());
    auto r = Repository::Open(&probe, t.Sub("repo"), true);
    ASSERT_TRUE(r.ok());
    probe.ResetCounts();
    ASSERT_TRUE((*r)->Create(sources, {}).ok());
    for (Op op : {Op::kCreate, Op::kWrite, Op::kSync, Op::kRename, Op::kSyncDir}) counts[op] = probe.Count(op);
  }
  ASSERT_TRUE(Repository::Open(Env::Default(), layout.repo(), true).ok());
  CaseCounter counter("full disk / I/O error (snap create)", "failed cleanly");
  for (int err : {ENOSPC, EIO}) {
    for (auto [op, count] : counts) {
      for (int n : Positions(count)) {
        SCOPED_TRACE(std::string(FaultEnv::OpName(op)) + " #" + std::to_string(n) + " " + std::strerror(err));
        // Each case starts from an empty repository, as the probe did (a second
        // create of the same data writes almost nothing).
        fs::remove_all(layout.repo());
        ASSERT_TRUE(Repository::Open(Env::Default(), layout.repo(), true).ok());
        FaultEnv env(Env::Default());
        env.FailAt(op, n, err, /*sticky=*/err == ENOSPC);
        auto r = Repository::Open(&env, layout.repo(), false);
        ASSERT_TRUE(r.ok());
        auto info = (*r)->Create(sources, {});
        r->reset();
        size_t listed = 0;
        bool good = !info.ok() && NamesTheError(info.status(), err) && StoresDigest(root) == stores_before;
        EXPECT_FALSE(info.ok());
        if (!info.ok()) {
          EXPECT_TRUE(NamesTheError(info.status(), err)) << info.status().ToString();
        }
        EXPECT_EQ(StoresDigest(root), stores_before);
        auto listed_ok = RepositoryListsOnlyCompleteSnapshots(layout.repo(), &listed);
        EXPECT_TRUE(listed_ok);
        EXPECT_EQ(listed, 0u) << "a failed create left a listed snapshot";
        counter.Add(good && listed_ok && listed == 0);
      }
    }
  }
  EXPECT_GT(counter.cases(), 20);
  fs::remove_all(layout.repo());
  auto repo = Repository::Open(Env::Default(), layout.repo(), true);
  ASSERT_TRUE(repo.ok());
  ASSERT_TRUE((*repo)->Create(sources, {}).ok()) << "a later create on a healthy disk must work";
  size_t listed = 0;
  EXPECT_TRUE(RepositoryListsOnlyCompleteSnapshots(layout.repo(), &listed));
  EXPECT_EQ(listed, 1u);
}

// Runs a reset (or restore of snapshot `snap` in place) through env.
Status RunKind(const Layout& layout, Env* env, const std::string& kind, const std::string& snap) {
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, env));
  TxnReport rep;
  if (kind == kResetKind)
    return RunTransaction(session->svc, kResetKind, kResetTrigger, ResetArgs(layout), BuildResetPlan, &rep);
  return RunTransaction(session->svc, kRestoreKind, kRestoreTrigger, RestoreArgs(layout, snap, {}), BuildRestorePlan,
                        &rep);
}

// Recovers with a healthy disk; returns whether the newest transaction in the
// journal reached its commit record (then the stores must be the "after" state).
std::string RecoverHealthy(const Layout& layout) {
  auto session = OpenTxnSession(layout, Env::Default());
  EXPECT_TRUE(session.ok()) << session.status().ToString();
  if (!session.ok()) return "error";
  TxnReport rep;
  Status s = RecoverTransactions(**session, RecoverMode::kAuto, &rep);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto txns = (*session)->svc.journal->Transactions();
  EXPECT_TRUE(txns.ok()) << txns.status().ToString();
  if (!txns.ok() || txns->empty()) return "no transaction";
  return txns->back().committed ? "committed" : "not committed";
}

void FaultSweepOfTransaction(FaultsTest* t, const std::string& kind, CaseCounter* counter,
                             std::function<std::string(FaultsTest*)> fresh_root,
                             std::function<std::string(const std::string& root)> snap_of,
                             std::function<std::map<std::string, std::string>(const std::string&)> after_digest) {
  std::map<Op, int> counts;
  {
    std::string root = fresh_root(t);
    Layout layout = *Layout::Discover(Env::Default(), root, nullptr);
    FaultEnv probe(Env::Default());
    ASSERT_TRUE(RunKind(layout, &probe, kind, snap_of(root)).ok());
    for (Op op : {Op::kWrite, Op::kSync, Op::kRename, Op::kSyncDir}) counts[op] = probe.Count(op);
  }
  for (int err : {ENOSPC, EIO}) {
    for (auto [op, count] : counts) {
      for (int n : Positions(count, 5)) {
        SCOPED_TRACE(kind + ": " + FaultEnv::OpName(op) + " #" + std::to_string(n) + " " + std::strerror(err));
        std::string root = fresh_root(t);
        Layout layout = *Layout::Discover(Env::Default(), root, nullptr);
        std::string snap = snap_of(root);
        auto before = StoresDigest(root);
        FaultEnv env(Env::Default());
        env.FailAt(op, n, err, /*sticky=*/err == ENOSPC);
        Status s = RunKind(layout, &env, kind, snap);
        bool good = !s.ok() && NamesTheError(s, err);
        EXPECT_FALSE(s.ok());
        if (!s.ok()) {
          EXPECT_TRUE(NamesTheError(s, err)) << s.ToString();
        }
        std::string outcome = RecoverHealthy(layout);
        auto now = StoresDigest(root);
        bool before_or_after = now == before || (outcome == "committed" && now == after_digest(root));
        std::string first_diff;
        for (const auto& [path, dig] : now)
          if (!before.count(path) || before.at(path) != dig) { first_diff = path; break; }
        for (const auto& [path, dig] : before)
          if (first_diff.empty() && !now.count(path)) first_diff = path + " (gone)";
        EXPECT_TRUE(before_or_after) << "stores are neither before nor after (" << outcome << "), first difference: "
                                     << first_diff;
        size_t listed = 0;
        auto complete = t->RepositoryListsOnlyCompleteSnapshots(layout.repo(), &listed);
        EXPECT_TRUE(complete);
        Status again = RunKind(layout, Env::Default(), kind, snap);
        EXPECT_TRUE(again.ok()) << "a later " << kind << " on a healthy disk: " << again.ToString();
        counter->Add(good && before_or_after && complete && again.ok());
      }
    }
  }
}

TEST_F(FaultsTest, ResetFailsCleanlyOnEnospcOrEioAtEveryDurableStep) {
  CaseCounter counter("full disk / I/O error (reset)", "before-or-after and recoverable");
  int k = 0;
  FaultSweepOfTransaction(
      this, kResetKind, &counter, [&k](FaultsTest* t) { return t->FreshRoot("reset" + std::to_string(++k)); },
      [](const std::string&) { return std::string(); },
      [](const std::string& root) {
        // Rolled forward: the file stores must be empty; the digest is then taken as is.
        for (const auto& [p, d] : StoresDigest(root)) {
          (void)d;
          EXPECT_EQ(p.find("raw_pdfs/"), std::string::npos) << "a committed reset left " << p;
        }
        return StoresDigest(root);
      });
  EXPECT_GT(counter.cases(), 10);
}

TEST_F(FaultsTest, InPlaceRestoreFailsCleanlyOnEnospcOrEioAtEveryDurableStep) {
  // The pristine install gets a snapshot, then a change to restore away from.
  std::string base = tmp_.Sub("restore-base");
  fs::copy(pristine_, base, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::string snap = reliability::SnapCreate(base);
  ASSERT_FALSE(snap.empty());
  auto snapshot_state = StoresDigest(base);
  WriteFile(base + "/ai_researcher/data/processed/markdown/changed.md", "changed after the snapshot\n");
  CaseCounter counter("full disk / I/O error (restore in place)", "before-or-after and recoverable");
  int k = 0;
  FaultSweepOfTransaction(
      this, kRestoreKind, &counter,
      [&k, base](FaultsTest* t) {
        std::string root = t->tmp_.Sub("restore" + std::to_string(++k));
        fs::remove_all(root);
        fs::copy(base, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
        return root;
      },
      [snap](const std::string&) { return snap; },
      [](const std::string& root) {
        EXPECT_FALSE(Env::Default()->FileExists(root + "/ai_researcher/data/processed/markdown/changed.md"));
        return StoresDigest(root);
      });
  (void)snapshot_state;
  EXPECT_GT(counter.cases(), 10);
}

TEST(RealFullDiskTest, SnapCreateOnAFullTmpfsExitsSevenAndLeavesNoPartialSnapshot) {
  TempDir t;
  std::string mnt = t.Sub("tmpfs");
  testing::SmallTmpfs tmpfs(mnt, "8m");
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();
  std::string root = t.Sub("root");
  reliability::MakeSmallDemo(root, 4);
  // 12 MiB that zstd cannot shrink: more than the 8 MiB the repository has.
  std::mt19937_64 rng(7);
  std::string noise(12 << 20, '\0');
  for (size_t i = 0; i + 8 <= noise.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&noise[i], &v, 8);
  }
  WriteFile(root + "/ai_researcher/data/raw_pdfs/big_scan.pdf", noise);
  std::string repo = mnt + "/repo";
  auto before = StoresDigest(root);
  CliResult c = RunCli({"--root", root, "--repo", repo, "snap", "create", "-q"});
  EXPECT_EQ(c.exit_code, 7) << c.out << c.err;
  EXPECT_NE(c.err.find("disk is full"), std::string::npos) << c.err;
  EXPECT_EQ(StoresDigest(root), before);
  CliResult l = RunCli({"--root", root, "--repo", repo, "--json", "snap", "list"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(reliability::Trim(l.out), "[]") << "a partial snapshot is listed";
  CliResult v = RunCli({"--root", root, "--repo", repo, "snap", "verify", "--read-data"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Space is freed once the snapshot failed: a smaller snapshot now fits.
  ASSERT_EQ(::unlink((root + "/ai_researcher/data/raw_pdfs/big_scan.pdf").c_str()), 0);
  CliResult again = RunCli({"--root", root, "--repo", repo, "snap", "create", "-q"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  std::printf("full disk (real tmpfs): 1 cases, %d passed\n", ::testing::Test::HasFailure() ? 0 : 1);
}

}  // namespace
}  // namespace maestro
