// tests/txn_test.cc — the transaction framework with a fake snapshot service:
// commit, automatic rollback on a failing step, and recovery after a crash at
// every crash point (the child process SIGKILLs itself; the parent recovers).
#include "engine/txn/txn.h"

#include "engine/txn/cleanup.h"
#include "tools/demo/demo.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/store_digest.h"
#include "tests/test_util.h"
#include "util/crash_point.h"

namespace maestro {
namespace {

using testing::ReadFile;
using testing::StoreDigest;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

// A snapshot service that copies the two test stores with cp -a.
struct FakeRepo {
  std::string dir;
  std::vector<StoreRef> stores;
  int snapshots = 0;
  TxnServices Services(std::shared_ptr<Journal> j) {
    TxnServices s;
    s.env = Env::Default();
    s.journal = std::move(j);
    s.snapshot = [this](const std::string&) -> Result<std::string> {
      std::string id = "snap" + std::to_string(++snapshots);
      for (const auto& st : stores) {
        std::string dst = dir + "/" + id + "/" + st.name;
        std::string cmd = "mkdir -p '" + dir + "/" + id + "' && cp -a '" + st.path + "' '" + dst + "'";
        if (std::system(cmd.c_str()) != 0) return Status::IoError("fake snapshot failed");
      }
      return id;
    };
    s.restore_store = [this](const std::string& snap, const std::string& store, const std::string& target) {
      std::string src = dir + "/" + snap + "/" + store;
      if (!Env::Default()->FileExists(src) && !Env::Default()->DirExists(src)) return Status::NotFound("absent");
      std::string cmd = "cp -a '" + src + "' '" + target + "'";
      return std::system(cmd.c_str()) == 0 ? Status::OK() : Status::IoError("fake restore failed");
    };
    return s;
  }
};

class TxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(tmp_.Sub("root/db.sqlite"), "old database");
    WriteFile(tmp_.Sub("root/db.sqlite-wal"), "old wal");
    WriteFile(tmp_.Sub("root/files/a.txt"), "a");
    WriteFile(tmp_.Sub("root/files/sub/b.txt"), "b");
    repo_.dir = tmp_.Sub("snaps");
    repo_.stores = {StoreRef{"db", tmp_.Sub("root/db.sqlite"), true, true},
                    StoreRef{"files", tmp_.Sub("root/files"), false, true}};
    before_ = TreeDigest(tmp_.Sub("root"), false);
  }

  // Replaces db with "new database" and files with an empty directory; step
  // `fail_step` (if >= 0) fails.
  TxnBuilder Builder(int fail_step = -1) {
    return [this, fail_step](const TxnContext& ctx) -> Result<TxnPlan> {
      TxnPlan plan;
      Env* env = ctx.svc->env;
      AddReplaceStoreSteps(&plan, env, "test", repo_.stores[0], ctx.txn_id, [env](const std::string& staged) {
        return env->WriteStringToFile(staged, "new database");
      });
      AddReplaceStoreSteps(&plan, env, "test", repo_.stores[1], ctx.txn_id,
                           [env](const std::string& staged) { return env->CreateDir(staged); });
      if (fail_step >= 0) {
        plan.steps.insert(plan.steps.begin() + fail_step,
                          TxnStep{"test.fail", [] { return Status::IoError("injected ENOSPC"); }, nullptr});
      }
      return plan;
    };
  }

  std::shared_ptr<Journal> OpenJournal() {
    auto j = Journal::Open(Env::Default(), JournalDir(tmp_.Sub("repo")), true);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return *j;
  }

  std::map<std::string, std::string> After() {
    std::map<std::string, std::string> m;
    m["db.sqlite"] = "new database";
    return m;
  }
  // The new stores, with the old ones only as trash: purging it leaves exactly the new stores.
  bool IsAfterState() {
    PurgeStats ps;
    if (!PurgeTrash(Env::Default(), FindTrash(Env::Default(), {tmp_.Sub("root")}), &ps).ok()) return false;
    auto t = TreeDigest(tmp_.Sub("root"), false);
    return t.size() == 2 && t.count("db.sqlite") && t.count("files") &&
           ReadFile(tmp_.Sub("root/db.sqlite")) == "new database";
  }

  TempDir tmp_;
  FakeRepo repo_;
  std::map<std::string, std::string> before_;
};

TEST_F(TxnTest, CommittedTransactionReplacesStoresAndLeavesNoLeftovers) {
  auto j = OpenJournal();
  TxnServices svc = repo_.Services(j);
  TxnReport rep;
  Status st = RunTransaction(svc, "test", "pre-test", {{"x", 1}}, Builder(), &rep);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(rep.outcome, "committed");
  EXPECT_EQ(rep.snapshot_id, "snap1");
  EXPECT_TRUE(IsAfterState());
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("root/db.sqlite-wal"))) << "the old -wal moved aside with its db";
  auto u = j->Unfinished();
  ASSERT_TRUE(u.ok());
  EXPECT_FALSE(u->has_value());
}

TEST_F(TxnTest, CommitMovesTheOldStoresToTrashAndPurgeDeletesOnlyTrash) {
  auto j = OpenJournal();
  TxnServices svc = repo_.Services(j);
  TxnReport rep;
  ASSERT_TRUE(RunTransaction(svc, "test", "pre-test", {}, Builder(), &rep).ok());
  Env* env = Env::Default();
  const std::string id = rep.txn_id;
  // The finishing steps only renamed: the old content is intact, under trash names.
  std::vector<std::string> trash = FindTrash(env, {tmp_.Sub("root")});
  ASSERT_EQ(trash, (std::vector<std::string>{tmp_.Sub("root/db.sqlite.maestro-trash-" + id),
                                             tmp_.Sub("root/db.sqlite.maestro-trash-" + id + "-wal"),
                                             tmp_.Sub("root/files.maestro-trash-" + id)}));
  EXPECT_EQ(ReadFile(trash[0]), "old database");
  EXPECT_EQ(ReadFile(trash[1]), "old wal");
  EXPECT_EQ(ReadFile(trash[2] + "/sub/b.txt"), "b");
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Sub("root"))) {
    std::string name = e.path().filename();
    EXPECT_TRUE(name == "db.sqlite" || name == "files" || name.find(".maestro-trash-") != std::string::npos) << name;
  }

  // Only trash names are purged; a store path is refused and left alone.
  PurgeStats refused;
  Status st = PurgeTrash(env, {tmp_.Sub("root/files")}, &refused);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_TRUE(env->DirExists(tmp_.Sub("root/files")));

  PurgeStats measured, ps;
  ASSERT_TRUE(MeasureTrash(env, trash, &measured).ok());
  EXPECT_EQ(FindTrash(env, {tmp_.Sub("root")}).size(), 3u) << "measuring deletes nothing";
  ASSERT_TRUE(PurgeTrash(env, trash, &ps).ok());
  EXPECT_EQ(ps.entries, 3);
  EXPECT_EQ(ps.files, 4);  // db, wal, a.txt, sub/b.txt
  EXPECT_EQ(ps.bytes, static_cast<int64_t>(std::string("old database").size() + std::string("old wal").size() + 2));
  EXPECT_EQ(measured.files, ps.files);
  EXPECT_EQ(measured.bytes, ps.bytes);
  EXPECT_TRUE(FindTrash(env, {tmp_.Sub("root")}).empty());
  // What a concurrent purge already deleted counts as deleted, not as an error.
  PurgeStats again;
  EXPECT_TRUE(PurgeTrash(env, trash, &again).ok());
  EXPECT_EQ(again.files, 0);
  EXPECT_TRUE(IsAfterState());
}

TEST_F(TxnTest, FailingStepRollsBackEveryEarlierStep) {
  auto j = OpenJournal();
  TxnServices svc = repo_.Services(j);
  TxnReport rep;
  Status st = RunTransaction(svc, "test", "pre-test", {}, Builder(3), &rep);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_NE(st.message().find("rolled back"), std::string::npos) << st.ToString();
  EXPECT_EQ(rep.outcome, "rolled_back");
  EXPECT_EQ(TreeDigest(tmp_.Sub("root"), false), before_);
  EXPECT_EQ(rep.steps_undone.size(), 4u);  // test.fail (intent recorded), stage.files, swap.db, stage.db
}

TEST_F(TxnTest, NewTransactionRefusedWhileAnotherIsUnfinished) {
  auto j = OpenJournal();
  JournalRecord b;
  b.type = RecordType::kBegin;
  b.txn_id = "20250101_000000-abcd";
  b.kind = "test";
  ASSERT_TRUE(j->Append(&b).ok());
  TxnServices svc = repo_.Services(j);
  Status st = RunTransaction(svc, "test", "pre-test", {}, Builder(), nullptr);
  EXPECT_EQ(st.code(), Status::Code::kUnfinished);
  EXPECT_NE(st.message().find("20250101_000000-abcd"), std::string::npos);
  EXPECT_NE(st.message().find("maestro-db recover"), std::string::npos);
  EXPECT_EQ(TreeDigest(tmp_.Sub("root"), false), before_);
}

TEST_F(TxnTest, RollbackOfCommittedTransactionIsRefused) {
  TxnSummary t;
  t.txn_id = "x";
  t.committed = true;
  auto j = OpenJournal();
  TxnServices svc = repo_.Services(j);
  EXPECT_EQ(FinishTransaction(svc, t, RecoverMode::kRollback, Builder(), "pre-test", nullptr).code(),
            Status::Code::kInvalidArgument);
}

// Runs the transaction in a child killed at `point`; returns true if it was killed.
bool RunChildCrashingAt(TxnTest* t, const std::string& point, std::function<void()> body) {
  (void)t;
  pid_t pid = fork();
  if (pid == 0) {
    SetCrashPointForTesting(point);
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

TEST_F(TxnTest, RecoverAfterCrashAtEveryPointLeavesBeforeOrAfterState) {
  const std::vector<std::string> points = {
      "txn.after_begin",   "txn.after_snapshot", "txn.after_intent:1",  "txn.after_intent:3",
      "store.after_stage", "store.after_aside",  "store.after_aside:2", "txn.after_step:2",
      "txn.after_step:4",  "txn.after_commit",   "txn.after_finish_step"};
  int ran = 0;
  for (const auto& point : points) {
    SCOPED_TRACE(point);
    // Fresh stores and journal for each case.
    TearDown();
    std::system(("rm -rf '" + tmp_.Sub("root") + "' '" + tmp_.Sub("repo") + "' '" + tmp_.Sub("snaps") + "'").c_str());
    SetUp();
    bool killed = RunChildCrashingAt(this, point, [this] {
      auto j = OpenJournal();
      TxnServices svc = repo_.Services(j);
      Status st = RunTransaction(svc, "test", "pre-test", {}, Builder(), nullptr);
      _exit(st.ok() ? 0 : 1);
    });
    ASSERT_TRUE(killed);
    for (RecoverMode mode : {RecoverMode::kAuto}) {
      auto j = OpenJournal();
      auto u = j->Unfinished();
      ASSERT_TRUE(u.ok());
      ASSERT_TRUE(u->has_value());
      bool committed = (*u)->committed;
      TxnServices svc = repo_.Services(j);
      TxnReport rep;
      Status st = FinishTransaction(svc, **u, mode, Builder(), "pre-test", &rep);
      ASSERT_TRUE(st.ok()) << st.ToString();
      if (committed) EXPECT_TRUE(IsAfterState());
      else EXPECT_EQ(TreeDigest(tmp_.Sub("root"), false), before_);
      auto again = j->Unfinished();
      ASSERT_TRUE(again.ok());
      EXPECT_FALSE(again->has_value());
    }
    ++ran;
  }
  EXPECT_EQ(ran, static_cast<int>(points.size()));
}

TEST_F(TxnTest, ResumeAfterCrashBeforeCommitFinishesTheTransaction) {
  ASSERT_TRUE(RunChildCrashingAt(this, "store.after_aside", [this] {
    auto j = OpenJournal();
    TxnServices svc = repo_.Services(j);
    Status st = RunTransaction(svc, "test", "pre-test", {}, Builder(), nullptr);
    _exit(st.ok() ? 0 : 1);
  }));
  auto j = OpenJournal();
  auto u = j->Unfinished();
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_FALSE((*u)->committed);
  TxnServices svc = repo_.Services(j);
  ASSERT_TRUE(FinishTransaction(svc, **u, RecoverMode::kResume, Builder(), "pre-test", nullptr).ok());
  EXPECT_TRUE(IsAfterState());
}

TEST_F(TxnTest, CrashDuringRollbackIsRecoveredByRunningItAgain) {
  ASSERT_TRUE(RunChildCrashingAt(this, "txn.after_step:4", [this] {
    auto j = OpenJournal();
    TxnServices svc = repo_.Services(j);
    _exit(RunTransaction(svc, "test", "pre-test", {}, Builder(), nullptr).ok() ? 0 : 1);
  }));
  ASSERT_TRUE(RunChildCrashingAt(this, "txn.after_undo:2", [this] {
    auto j = OpenJournal();
    auto u = j->Unfinished();
    TxnServices svc = repo_.Services(j);
    _exit(FinishTransaction(svc, **u, RecoverMode::kRollback, Builder(), "pre-test", nullptr).ok() ? 0 : 1);
  }));
  auto j = OpenJournal();
  auto u = j->Unfinished();
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->undone.size(), 2u);
  TxnServices svc = repo_.Services(j);
  ASSERT_TRUE(FinishTransaction(svc, **u, RecoverMode::kAuto, Builder(), "pre-test", nullptr).ok());
  EXPECT_EQ(TreeDigest(tmp_.Sub("root"), false), before_);
}

TEST_F(TxnTest, RestoreStoreFromSnapshotIsIdempotent) {
  auto j = OpenJournal();
  TxnServices svc = repo_.Services(j);
  auto snap = svc.snapshot("pre-test");
  ASSERT_TRUE(snap.ok());
  WriteFile(tmp_.Sub("root/files/c.txt"), "changed");
  WriteFile(tmp_.Sub("root/db.sqlite"), "changed db");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(RestoreStoreFromSnapshot(svc, repo_.stores[0], *snap, "t1").ok());
    ASSERT_TRUE(RestoreStoreFromSnapshot(svc, repo_.stores[1], *snap, "t1").ok());
  }
  auto now = TreeDigest(tmp_.Sub("root"), false);
  EXPECT_EQ(ReadFile(tmp_.Sub("root/db.sqlite")), "old database");
  EXPECT_FALSE(Env::Default()->FileExists(tmp_.Sub("root/files/c.txt")));
}

// A failing cleanup rolls back with one restore per store, however many of its
// steps changed that store (two steps change the vector store), and leaves
// every store as it was.
TEST(CleanupRollbackTest, EachStoreIsRestoredOnceAndEverythingIsAsBefore) {
  TempDir tmp;
  const std::string root = tmp.Sub("inst");
  DemoOptions d;
  d.documents = 30;
  d.inconsistent = true;
  d.now_micros = 1754654400000000;  // 2025-08-08T12:00:00Z
  auto demo = CreateDemo(Env::Default(), root, d);
  ASSERT_TRUE(demo.ok()) << demo.status().ToString();
  auto layout = Layout::Discover(Env::Default(), root, nullptr);
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  CleanupOptions co;
  co.now_micros = d.now_micros;
  auto plan = PlanCleanup(*layout, co);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_GT(plan->chunk_docs, 0) << "the demo must leave chunks to delete";
  const auto before = StoreDigest(root);

  FakeRepo repo;
  repo.dir = tmp.Sub("snaps");
  for (const auto& st : layout->stores()) repo.stores.push_back(StoreRef::FromStore(st));
  auto j = Journal::Open(Env::Default(), JournalDir(tmp.Sub("repo")), true);
  ASSERT_TRUE(j.ok());
  TxnServices svc = repo.Services(*j);
  std::map<std::string, int> restores;
  auto inner = svc.restore_store;
  svc.restore_store = [&](const std::string& snap, const std::string& store, const std::string& target) {
    restores[store]++;
    return inner(snap, store, target);
  };
  TxnBuilder failing = [](const TxnContext& ctx) -> Result<TxnPlan> {
    MAESTRO_ASSIGN_OR_RETURN(TxnPlan p, BuildCleanupPlan(ctx));
    p.steps.push_back(TxnStep{"test.fail", [] { return Status::IoError("injected ENOSPC"); }, nullptr});
    return p;
  };
  TxnReport rep;
  Status s = RunTransaction(svc, kCleanupKind, kCleanupTrigger, plan->args, failing, &rep);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(rep.outcome, "rolled_back");
  EXPECT_EQ(restores["vector"], 1);
  for (const auto& [store, n] : restores) EXPECT_EQ(n, 1) << store;
  EXPECT_EQ(StoreDigest(root), before);
}

}  // namespace
}  // namespace maestro
