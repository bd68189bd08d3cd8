// tests/reliability_store_powercut_test.cc — issue 14 point 7: power cuts that
// reach the stores.
//
// reset, cleanup and in-place restore run in a forked child under a FaultEnv
// whose SQLite opens go through the Env VFS (util/sqlite_env_vfs.h), so SQLite's
// own writes and fsyncs of the main, ai and chroma.sqlite3 databases are seen,
// and dropped, like the engine's. At the nth sync, directory sync or rename the
// power is cut: every byte and directory entry not yet durable is dropped and the
// child _exits on the spot (FaultEnv::ExitOnPowerCut), so nothing runs after the
// cut — not even LMDB's journal writes, which no Env sees. Then `recover` (the
// real unix VFS, as after a reboot: a hot journal is rolled back) must bring
// every store to exactly the pre-image or, when the journal has the commit
// record, exactly the committed state (tests/store_digest.h: rows of every SQLite
// table, bytes of every other file). Cut points: see CutPoints (every one under
// MAESTRO_DB_LONG_TESTS).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "engine/txn/cleanup.h"
#include "engine/stores/layout.h"
#include "engine/txn/recover.h"
#include "engine/txn/reset.h"
#include "engine/txn/restore_txn.h"
#include "tests/reliability_util.h"
#include "tests/store_digest.h"
#include "tests/test_util.h"
#include "tests/support/fault_env.h"
#include "util/sqlite.h"
#include "util/time_util.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using reliability::CaseCounter;
using testing::RunCli;
using testing::StoreDigest;
using testing::TempDir;
using Op = FaultEnv::Op;
using Digest = std::map<std::string, std::string>;

const char* kNow = "2025-08-08T12:00:00Z";
constexpr int kCutExit = 77;
const Op kCutOps[] = {Op::kSync, Op::kSyncDir, Op::kRename};

bool LongTests() { return getenv("MAESTRO_DB_LONG_TESTS") != nullptr; }

// Runs one transaction of `kind` through env. When counts is set (the probe),
// it gets the calls of each op made until the pre-image snapshot was taken.
Status RunKind(const Layout& layout, Env* env, const std::string& kind, const std::string& snap,
               FaultEnv* probe = nullptr, std::map<Op, int>* at_snapshot = nullptr) {
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, env));
  if (probe) {
    auto inner = session->svc.snapshot;
    session->svc.snapshot = [inner, probe, at_snapshot](const std::string& trigger) {
      auto id = inner(trigger);
      for (Op op : kCutOps) (*at_snapshot)[op] = probe->Count(op);
      return id;
    };
  }
  TxnReport rep;
  if (kind == kResetKind)
    return RunTransaction(session->svc, kResetKind, kResetTrigger, ResetArgs(layout), BuildResetPlan, &rep);
  if (kind == kRestoreKind) {
    std::vector<StoreId> all;  // every store (an empty list restores none)
    for (const auto& s : layout.stores()) all.push_back(s.id);
    return RunTransaction(session->svc, kRestoreKind, kRestoreTrigger, RestoreArgs(layout, snap, all),
                          BuildRestorePlan, &rep);
  }
  CleanupOptions o;
  MAESTRO_ASSIGN_OR_RETURN(o.now_micros, ParseTime(kNow));
  MAESTRO_ASSIGN_OR_RETURN(CleanupPlan plan, PlanCleanup(layout, o));
  if (plan.empty()) return Status::Internal("the demo install has nothing to clean up");
  return RunTransaction(session->svc, kCleanupKind, kCleanupTrigger, plan.args, BuildCleanupPlan, &rep);
}

// The transaction in a child that the power cut ends: "cut", "finished" or "failed".
std::string RunUntilThePowerCut(const Layout& layout, const std::string& kind, const std::string& snap, Op op, int n) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    FaultEnv env(Env::Default());
    env.ExitOnPowerCut(kCutExit);
    env.PowerCutAt(op, n);
    Status s = RunKind(layout, &env, kind, snap);
    std::fflush(nullptr);
    ::_exit(s.ok() ? 0 : 3);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return "crashed";
  int code = WEXITSTATUS(status);
  return code == kCutExit ? "cut" : code == 0 ? "finished" : "failed";
}

// `recover` after the reboot, through SQLite's own VFS; whether the newest
// transaction had reached its commit record.
std::string RecoverAfterReboot(const Layout& layout) {
  auto session = OpenTxnSession(layout, Env::Default());
  if (!session.ok()) return "open: " + session.status().ToString();
  TxnReport rep;
  Status s = RecoverTransactions(**session, RecoverMode::kAuto, &rep);
  if (!s.ok()) return "recover: " + s.ToString();
  auto txns = (*session)->svc.journal->Transactions();
  if (!txns.ok()) return "journal: " + txns.status().ToString();
  if (txns->empty()) return "not committed";  // cut before the begin record's first durable step
  if (!txns->back().ended) return "unfinished after recover";
  return txns->back().committed ? "committed" : "not committed";
}

std::string FirstDifference(const Digest& now, const Digest& want) {
  for (const auto& [k, v] : now)
    if (!want.count(k)) return k + " (not expected)";
    else if (want.at(k) != v) return k + " (differs: " + v.substr(0, 200) + " instead of " + want.at(k).substr(0, 200) + ")";
  for (const auto& [k, v] : want)
    if (!now.count(k)) return k + " (missing)";
  return "";
}

// The cut points of op: every one after the pre-image snapshot; inside it
// (reliability_powercut_test's ground) its first and last — every one under
// MAESTRO_DB_LONG_TESTS.
std::vector<int> CutPoints(int in_snapshot, int total) {
  std::vector<int> out;
  for (int n = 1; n <= total; ++n)
    if (LongTests() || n == 1 || n >= in_snapshot) out.push_back(n);
  return out;
}

class StorePowerCutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The model, not the disk, decides what survives: on a tmpfs the real
    // fsyncs cost nothing and the sweep runs in seconds instead of minutes.
    if (!getenv("TMPDIR") && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
    tmpl_ = new TempDir();
    // --inconsistent: cleanup has rows to delete in main, ai and the vector store, and files to move.
    auto r = RunCli({"demo", "create", tmpl_->Sub("install"), "--documents", "4", "--users", "2", "--chunks-per-doc",
                     "2", "--pdf-kib", "2", "--inconsistent", "--now", kNow});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete tmpl_;
    tmpl_ = nullptr;
  }

  std::string Copy(const std::string& from, const std::string& name) {
    std::string root = work_.Sub(name);
    fs::remove_all(root);
    fs::copy(from, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    return root;
  }

  // prepare(root) turns a copy of the template into the state before the
  // transaction and returns the snapshot a restore goes back to.
  void Sweep(const std::string& kind, const std::function<std::string(const std::string&)>& prepare) {
    std::string base = work_.Sub("base");
    fs::remove_all(base);
    fs::copy(tmpl_->Sub("install"), base, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    std::string snap = prepare(base);
    Digest before = StoreDigest(base);
    std::map<Op, int> total, at_snapshot;
    Digest after;
    {
      std::string root = Copy(base, "probe");
      Layout layout = *Layout::Discover(Env::Default(), root, nullptr);
      FaultEnv probe(Env::Default());
      Status s = RunKind(layout, &probe, kind, snap, &probe, &at_snapshot);
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (Op op : kCutOps) total[op] = probe.Count(op);
      after = StoreDigest(root);
      ASSERT_NE(after, before) << kind << " changed nothing: the sweep would prove nothing";
    }
    ASSERT_GT(total[Op::kSync], at_snapshot[Op::kSync]) << "no store fsync after the snapshot";
    CaseCounter counter("power cut reaching the stores (" + kind + ")", "before-or-after");
    int k = 0;
    for (Op op : kCutOps) {
      for (int n : CutPoints(at_snapshot[op], total[op])) {
        std::string where = kind + ": power cut at " + FaultEnv::OpName(op) + " #" + std::to_string(n) + " of " +
                            std::to_string(total[op]) + " (" + std::to_string(at_snapshot[op]) + " in the snapshot)";
        SCOPED_TRACE(where);
        std::string root = Copy(base, "case" + std::to_string(++k));
        Layout layout = *Layout::Discover(Env::Default(), root, nullptr);
        std::string run = RunUntilThePowerCut(layout, kind, snap, op, n);
        EXPECT_EQ(run, "cut") << "the probe's count does not match this run";
        std::string outcome = RecoverAfterReboot(layout);
        Digest now = StoreDigest(root);
        bool good = now == before || (outcome == "committed" && now == after);
        EXPECT_TRUE(good) << "recover (" << outcome << ") left the stores neither before nor after; first difference: "
                          << FirstDifference(now, outcome == "committed" ? after : before);
        counter.Add(good && run == "cut");
        fs::remove_all(root);
      }
    }
    EXPECT_GT(counter.cases(), 10);
  }

  static TempDir* tmpl_;
  TempDir work_;
};

TempDir* StorePowerCutTest::tmpl_ = nullptr;

// The repository exists already (a first snapshot), as on any install past its
// first day: the sweep is about the stores. A first transaction that also
// creates the repository fails today (the disabled test below).
std::string WithRepository(const std::string& root) {
  EXPECT_FALSE(reliability::SnapCreate(root).empty());
  return std::string();
}

TEST_F(StorePowerCutTest, PowerCutAtEveryDurableStepOfResetLeavesEveryStoreBeforeOrAfter) {
  Sweep(kResetKind, WithRepository);
}

TEST_F(StorePowerCutTest, PowerCutAtEveryDurableStepOfCleanupLeavesEveryStoreBeforeOrAfter) {
  Sweep(kCleanupKind, WithRepository);
}

// A reset that makes the repository (no snapshot yet): mkdir -p of
// <root>/backups/maestro-db must fsync <root> too, or a cut loses backups/ —
// journal and pre-image with it — while the stores' renames stay (59 of 74 cut
// points failed before Env::CreateDirsDurably was used by the repository and
// journal openers).
TEST_F(StorePowerCutTest, PowerCutDuringAFirstResetThatCreatesTheRepositoryLeavesBeforeOrAfter) {
  Sweep(kResetKind, [](const std::string&) { return std::string(); });
}

// A reset that returned OK gave each fresh store the mode of the store it
// replaced; a power cut afterwards must not take that back (the fresh SQLite
// file got its chmod and then only an fdatasync, which does not flush it).
TEST_F(StorePowerCutTest, PowerCutRightAfterAResetKeepsTheReplacedStoresModes) {
  std::string root = Copy(tmpl_->Sub("install"), "modes");
  WithRepository(root);
  Layout layout = *Layout::Discover(Env::Default(), root, nullptr);
  auto mode_of = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 ? (st.st_mode & 0777) : 07777u;
  };
  std::map<std::string, uint32_t> want;
  for (const auto& s : layout.stores()) {
    if (!s.present) continue;
    uint32_t m = fs::is_directory(s.path) ? 0750 : 0640;
    ASSERT_EQ(::chmod(s.path.c_str(), m), 0) << s.path;
    want[s.path] = m;
  }
  ASSERT_GE(want.size(), 3u);
  FaultEnv env(Env::Default());
  Status s = RunKind(layout, &env, kResetKind, "");
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  for (const auto& [path, m] : want) EXPECT_EQ(mode_of(path), m) << path << ": mode lost in the power cut";
}

TEST_F(StorePowerCutTest, PowerCutAtEveryDurableStepOfInPlaceRestoreLeavesEveryStoreBeforeOrAfter) {
  Sweep(kRestoreKind, [](const std::string& root) {
    std::string snap = reliability::SnapCreate(root);
    EXPECT_FALSE(snap.empty());
    // Changes after the snapshot in a SQLite store and a file store, for the restore to undo.
    auto layout = Layout::Discover(Env::Default(), root, nullptr);
    EXPECT_TRUE(layout.ok());
    auto db = Db::OpenReadWrite(layout->store(StoreId::kMain).path, false);
    EXPECT_TRUE(db.ok());
    EXPECT_TRUE(db->Exec("DELETE FROM documents WHERE rowid = (SELECT min(rowid) FROM documents)").ok());
    EXPECT_TRUE(db->Close().ok());
    testing::WriteFile(layout->store(StoreId::kMarkdown).path + "/changed.md", "changed after the snapshot\n");
    return snap;
  });
}

}  // namespace
}  // namespace maestro
