// tests/crash_matrix_test.cc — the crash-point suite (issue 4 point 6).
//
// On a small demo install, for reset, cleanup and in-place restore, once per
// crash point of that command: run maestro-db with MAESTRO_DB_CRASH_AT=<point>
// (it SIGKILLs itself there), run `recover`, then assert that every store is
// either exactly the state before or exactly the state after (StoreDigest: rows
// of every SQLite table, bytes of every other file), that `check` agrees with
// that state, that `snap verify --read-data` passes, that the journal has no
// unfinished transaction and that no *.maestro-aside-* / *.maestro-new-*
// leftovers remain.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/store_digest.h"
#include "util/sqlite.h"
#include "tests/test_util.h"
#include "util/env.h"

namespace maestro {
namespace {

using testing::CliResult;
using testing::RunCli;
using testing::StoreDigest;
using testing::TempDir;

const char* kNow = "2025-08-08T12:00:00Z";

using testing::Sh;

struct Outcome {
  std::map<std::string, std::string> digest;
  std::string check;  // exit code + issue list of `check --json`
};

class CrashMatrix : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmpl_ = new TempDir();
    CliResult r = RunCli({"demo", "create", tmpl_->Sub("install"), "--documents", "16", "--users", "2",
                          "--chunks-per-doc", "2", "--pdf-kib", "2", "--inconsistent", "--now", kNow});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    delete tmpl_;
    tmpl_ = nullptr;
  }

  // A fresh copy of the template install (with its repository, if any).
  std::string FreshInstall(const std::string& name) {
    std::string dst = work_.Sub(name);
    Sh("cp -a '" + tmpl_->Sub("install") + "' '" + dst + "'");
    return dst;
  }

  Outcome Observe(const std::string& root) {
    Outcome o;
    o.digest = StoreDigest(root);
    CliResult c = RunCli({"--root", root, "check", "--now", kNow, "--json"});
    // Only the verdict and the issues; the summary names the root.
    auto pos = c.out.find("\"summary\"");
    o.check = std::to_string(c.exit_code) + ":" + c.out.substr(0, pos);
    return o;
  }

  static std::string Leftovers(const std::string& root) {
    return Sh("find '" + root + "' -name '*.maestro-aside-*' -o -name '*.maestro-new-*' -o -name '*.maestro-trash-*' 2>/dev/null");
  }

  // Runs `cmd` crashing at each point; prepare(root) readies a copy first.
  void RunMatrix(const std::string& label, const std::vector<std::string>& cmd, const std::vector<std::string>& points,
                 const std::function<void(const std::string&)>& prepare) {
    // Reference run: before and after states without a crash.
    std::string ref = FreshInstall(label + "-ref");
    prepare(ref);
    Outcome before = Observe(ref);
    std::vector<std::string> args = {"--root", ref, "-y"};
    args.insert(args.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(args);
    ASSERT_EQ(r.exit_code, 0) << label << ": " << r.err;
    Outcome after = Observe(ref);
    ASSERT_NE(before.digest, after.digest) << label << " changed nothing: the matrix would prove nothing";

    int ran = 0, passed = 0, crashed = 0, rolled_back = 0, rolled_forward = 0;
    for (const auto& point : points) {
      SCOPED_TRACE(label + " crash at " + point);
      ++ran;
      std::string root = FreshInstall(label + "-" + std::to_string(ran));
      prepare(root);
      std::vector<std::string> a = {"--root", root, "-y"};
      a.insert(a.end(), cmd.begin(), cmd.end());
      CliResult c = RunCli(a, {"MAESTRO_DB_CRASH_AT=" + point});
      if (c.exit_code == -9) ++crashed;
      else EXPECT_EQ(c.exit_code, 0) << "point not reached, the command should have succeeded: " << c.err;
      CliResult rec = RunCli({"--root", root, "recover", "--json"});
      ASSERT_EQ(rec.exit_code, 0) << rec.err;
      Outcome now = Observe(root);
      bool is_before = now.digest == before.digest, is_after = now.digest == after.digest;
      EXPECT_TRUE(is_before || is_after) << "stores are neither the state before nor after";
      if (is_before) {
        ++rolled_back;
        EXPECT_EQ(now.check, before.check);
      } else if (is_after) {
        ++rolled_forward;
        EXPECT_EQ(now.check, after.check);
      }
      EXPECT_EQ(Leftovers(root), "");
      CliResult js = RunCli({"--root", root, "journal", "status", "--json"});
      EXPECT_EQ(js.exit_code, 0);
      EXPECT_NE(js.out.find("\"unfinished\": null"), std::string::npos) << js.out;
      CliResult v = RunCli({"--root", root, "snap", "verify", "--read-data"});
      EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
      if (!::testing::Test::HasFailure()) ++passed;
    }
    std::printf("[ crash matrix ] %s: %d cases ran, %d passed (%d crashed: %d rolled back, %d rolled forward)\n",
                label.c_str(), ran, passed, crashed, rolled_back, rolled_forward);
    EXPECT_EQ(passed, ran);
    EXPECT_GT(crashed, ran / 2) << "most points must actually be reached";
  }

  static TempDir* tmpl_;
  TempDir work_;
};
TempDir* CrashMatrix::tmpl_ = nullptr;

const std::vector<std::string> kCommonPoints = {
    "txn.after_begin",     "txn.after_snapshot", "txn.after_intent",      "txn.after_intent:2",
    "txn.after_step",      "txn.after_step:2",   "txn.after_commit",      "txn.after_finish_step",
};

TEST_F(CrashMatrix, ResetEndsBeforeOrAfterAtEveryCrashPoint) {
  std::vector<std::string> points = kCommonPoints;
  for (const char* p : {"store.after_stage", "store.after_stage:2", "store.after_aside", "store.after_aside:3",
                        "txn.after_step:7", "txn.after_step:12", "txn.after_finish_step:6"})
    points.push_back(p);
  RunMatrix("reset", {"reset"}, points, [](const std::string&) {});
}

TEST_F(CrashMatrix, CleanupEndsBeforeOrAfterAtEveryCrashPoint) {
  std::vector<std::string> points = kCommonPoints;
  for (const char* p : {"cleanup.after_file_aside", "txn.after_step:3", "txn.after_step:5", "txn.after_intent:6"})
    points.push_back(p);
  RunMatrix("cleanup", {"cleanup", "--all", "--now", kNow}, points, [](const std::string&) {});
}

TEST_F(CrashMatrix, InPlaceRestoreEndsBeforeOrAfterAtEveryCrashPoint) {
  std::vector<std::string> points = kCommonPoints;
  for (const char* p : {"store.after_stage", "store.after_aside", "store.after_aside:2", "txn.after_step:4"})
    points.push_back(p);
  // Each copy is changed by a cleanup first; `latest` is then its pre-cleanup snapshot,
  // which the restore puts back in place.
  RunMatrix("restore", {"snap", "restore", "latest", "--store", "main", "--store", "pdfs", "--store", "vector"},
            points, [](const std::string& root) {
              ASSERT_EQ(RunCli({"--root", root, "-y", "cleanup", "--all", "--now", kNow}).exit_code, 0);
            });
}

TEST_F(CrashMatrix, CrashDuringRecoveryIsRecoveredByRunningItAgain) {
  std::string root = FreshInstall("rr");
  Outcome before = Observe(root);
  CliResult c = RunCli({"--root", root, "-y", "reset"}, {"MAESTRO_DB_CRASH_AT=txn.after_step:5"});
  ASSERT_EQ(c.exit_code, -9);
  CliResult busy = RunCli({"--root", root, "-y", "cleanup", "--all"});
  EXPECT_EQ(busy.exit_code, 6) << "writing commands refuse while a transaction is unfinished";
  EXPECT_NE(busy.err.find("maestro-db recover"), std::string::npos) << busy.err;
  CliResult ro = RunCli({"--root", root, "stats"});
  EXPECT_EQ(ro.exit_code, 0) << "read-only commands still work";
  EXPECT_NE(ro.err.find("unfinished"), std::string::npos) << "and warn: " << ro.err;
  CliResult r1 = RunCli({"--root", root, "recover", "--rollback"}, {"MAESTRO_DB_CRASH_AT=txn.after_undo:2"});
  ASSERT_EQ(r1.exit_code, -9);
  CliResult r2 = RunCli({"--root", root, "recover"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(Observe(root).digest, before.digest);
  EXPECT_EQ(Leftovers(root), "");
}

TEST_F(CrashMatrix, CleanupLeavesNoIssueOfTheKindsItRepaired) {
  std::string root = FreshInstall("kinds");
  CliResult c = RunCli({"--root", root, "-y", "--json", "cleanup", "--all", "--now", kNow, "--downgrade-incomplete"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto done = nlohmann::json::parse(c.out);
  std::set<std::string> repaired;
  for (const auto& i : done["repaired"]) repaired.insert(i["kind"].get<std::string>());
  EXPECT_GE(repaired.size(), 8u) << "the demo plants every kind";
  CliResult chk = RunCli({"--root", root, "--json", "check", "--now", kNow});
  auto rep = nlohmann::json::parse(chk.out);
  for (const auto& i : rep["issues"])
    EXPECT_EQ(repaired.count(i["kind"].get<std::string>()), 0u) << i.dump();
}

TEST_F(CrashMatrix, CleanupQueuesChromaDeletesWithTopicAndFreshSeqIds) {
  std::string root = FreshInstall("queue");
  std::string chroma = root + "/ai_researcher/data/vector_store/chroma.sqlite3";
  int64_t max_before = 0, chunks_before = 0;
  {
    auto db = Db::OpenReadOnly(chroma);
    ASSERT_TRUE(db.ok());
    max_before = *db->QueryInt("SELECT coalesce(max(seq_id), 0) FROM embeddings_queue");
    chunks_before = *db->QueryInt("SELECT count(*) FROM embeddings");
  }
  ASSERT_EQ(RunCli({"--root", root, "-y", "cleanup", "--all", "--now", kNow}).exit_code, 0);
  auto db = Db::OpenReadOnly(chroma);
  ASSERT_TRUE(db.ok());
  int64_t removed = chunks_before - *db->QueryInt("SELECT count(*) FROM embeddings");
  EXPECT_GT(removed, 0);
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM embeddings_queue WHERE operation = 3 AND seq_id > " +
                          std::to_string(max_before)),
            removed)
      << "one DELETE record per removed chunk, all with new seq ids";
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM embeddings_queue q WHERE operation = 3 AND NOT EXISTS "
                          "(SELECT 1 FROM collections c WHERE q.topic = 'persistent://default/default/' || c.id)"),
            0)
      << "every DELETE names its collection's topic";
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM embedding_metadata WHERE id NOT IN (SELECT id FROM embeddings)"), 0);
}

TEST_F(CrashMatrix, ResetRefusesWhileAnotherProcessHoldsAStoreOpen) {
  std::string root = FreshInstall("live");
  Outcome before = Observe(root);
  int fd = ::open((root + "/data/maestro.db").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  CliResult r = RunCli({"--root", root, "-y", "reset"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(::getpid())), std::string::npos) << r.err;
  EXPECT_EQ(Observe(root).digest, before.digest);
  CliResult forced = RunCli({"--root", root, "-y", "reset", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  ::close(fd);
}

// Trash beside the stores of `root`, one path per line ("" when none).
std::string Trash(const std::string& root) {
  return Sh("find '" + root + "' -maxdepth 4 -name '*.maestro-trash-*' 2>/dev/null | sort");
}

bool WaitUntil(const std::function<bool()>& done, int timeout_s) {
  for (int i = 0; i < timeout_s * 20; ++i) {
    if (done()) return true;
    ::usleep(50000);
  }
  return done();
}

// A process that is gone or a zombie (reparented, not reaped here) has ended.
bool Ended(int pid) {
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return stat.empty() || (close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z');
}

TEST_F(CrashMatrix, BackgroundPurgeDeletesTheOldDataAfterTheCommandReturns) {
  std::string root = FreshInstall("purge");
  ASSERT_EQ(RunCli({"--root", root, "-y", "cleanup", "--all", "--now", kNow}).exit_code, 0);
  // Old trash that a killed purge left: 40,000 files, so the purge is still running
  // when the command has returned.
  ASSERT_EQ(Sh("cd '" + root + "/ai_researcher/data' && mkdir raw_pdfs.maestro-trash-old && cd raw_pdfs.maestro-trash-old"
               " && seq 1 40000 | xargs touch && echo ok"),
            "ok\n");
  // In-place restore: the command that still holds the repository lock when it starts the purge.
  CliResult r = RunCli({"--root", root, "-y", "--json", "snap", "restore", "latest"}, {"MAESTRO_DB_PURGE=background"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["trash"]["mode"], "background") << r.out;
  const int pid = j["trash"]["pid"].get<int>();
  EXPECT_GE(j["trash"]["entries"].size(), 7u) << "the six old stores and the old trash: " << r.out;

  // The purger holds nothing of ours: stdio is /dev/null (RunCli got EOF), and
  // nothing else is open but the trash it walks (not the lock, not the journal).
  std::string fds = Sh("cd /proc/" + std::to_string(pid) + "/fd && for f in *; do [ $f -gt 2 ] && readlink $f; done; "
                       "readlink 0 1 2");
  ASSERT_FALSE(Ended(pid)) << "the purge ended before the command returned: it held the command's output open, "
                              "or it was too quick to inspect and the test would prove nothing";
  std::istringstream lines(fds);
  int stdio = 0;
  for (std::string l; std::getline(lines, l);) {
    if (l == "/dev/null") ++stdio;
    else EXPECT_NE(l.find(".maestro-trash-"), std::string::npos) << "the purger holds " << l;
  }
  EXPECT_EQ(stdio, 3) << fds;
  auto stores = StoreDigest(root);
  CliResult snap = RunCli({"--root", root, "-q", "snap", "create"});
  EXPECT_EQ(snap.exit_code, 0) << "the repository lock is free while the purge runs: " << snap.err;

  ASSERT_TRUE(WaitUntil([&] { return Ended(pid); }, 120)) << "the background purge did not end";
  EXPECT_EQ(Trash(root), "");
  EXPECT_EQ(StoreDigest(root), stores) << "the purge touched only trash";
}

TEST_F(CrashMatrix, KilledPurgeLosesNothingAndRecoverFinishesIt) {
  std::string root = FreshInstall("purgekill");
  Outcome before = Observe(root);
  // The purger (not the reset) reaches purge.after_entry and is SIGKILLed there.
  CliResult r = RunCli({"--root", root, "-y", "--json", "reset"},
                       {"MAESTRO_DB_PURGE=background", "MAESTRO_DB_CRASH_AT=purge.after_entry:2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const int pid = j["trash"]["pid"].get<int>();
  const long entries = static_cast<long>(j["trash"]["entries"].size());
  ASSERT_GE(entries, 6);
  ASSERT_TRUE(WaitUntil([&] { return Ended(pid); }, 60));
  Outcome after = Observe(root);
  EXPECT_NE(after.digest, before.digest);
  std::string left = Trash(root);
  EXPECT_EQ(std::count(left.begin(), left.end(), '\n'), entries - 2) << "two entries purged before the kill: " << left;
  CliResult js = RunCli({"--root", root, "journal", "status", "--json"});
  EXPECT_NE(js.out.find("\"unfinished\": null"), std::string::npos) << "the transaction had ended: " << js.out;
  EXPECT_EQ(static_cast<long>(nlohmann::json::parse(js.out)["trash"].size()), entries - 2)
      << "journal status lists the trash left: " << js.out;
  // Any later purge finishes the job: recover (here), the next transaction, or purge-trash.
  CliResult dry = RunCli({"--root", root, "--json", "purge-trash", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(static_cast<long>(nlohmann::json::parse(dry.out)["entries"].size()), entries - 2);
  EXPECT_EQ(Trash(root), left) << "--dry-run deletes nothing";
  CliResult rec = RunCli({"--root", root, "--json", "recover"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(Trash(root), "");
  EXPECT_EQ(Observe(root).digest, after.digest);
  EXPECT_EQ(Leftovers(root), "");
  CliResult none = RunCli({"--root", root, "purge-trash"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("nothing to purge"), std::string::npos) << none.out;
}

TEST_F(CrashMatrix, EveryWritingCommandIsRefusedWhileATransactionIsUnfinished) {
  std::string root = FreshInstall("refuse");
  ASSERT_EQ(RunCli({"--root", root, "-q", "snap", "create"}).exit_code, 0);
  ASSERT_EQ(RunCli({"--root", root, "-y", "reset"}, {"MAESTRO_DB_CRASH_AT=txn.after_step:3"}).exit_code, -9);
  Outcome before = Observe(root);
  const std::vector<std::vector<std::string>> writing = {
      {"reset"},
      {"reset", "--dry-run"},
      {"cleanup", "--all"},
      {"snap", "create"},
      {"snap", "restore", "latest"},
      {"snap", "delete", "latest"},
      {"snap", "prune", "--keep-last", "1"},
      {"migrate", "up"},
      {"migrate", "down", "--to", "0"},
      {"migrate", "baseline", "--version", "1"},
      {"reset-db", "--force"},
      {"cleanup-all"},
      {"cleanup-user", "1"},
  };
  for (const auto& cmd : writing) {
    std::vector<std::string> a = {"--root", root, "-y"};
    a.insert(a.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(a);
    EXPECT_EQ(r.exit_code, 6) << cmd[0] << " " << (cmd.size() > 1 ? cmd[1] : "") << ": " << r.err;
    EXPECT_NE(r.err.find("maestro-db recover"), std::string::npos) << r.err;
  }
  const std::vector<std::vector<std::string>> reading = {
      {"stats"}, {"snap", "list"}, {"snap", "verify"}, {"journal", "status"}, {"migrate", "status"},
      {"snap", "restore", "latest", "--to", work_.Sub("refuse-out")}, {"purge-trash", "--dry-run"}};
  for (const auto& cmd : reading) {
    std::vector<std::string> a = {"--root", root};
    a.insert(a.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(a);
    EXPECT_NE(r.exit_code, 6) << cmd[0] << " " << (cmd.size() > 1 ? cmd[1] : "") << " is not refused: " << r.err;
  }
  EXPECT_EQ(Observe(root).digest, before.digest);
  ASSERT_EQ(RunCli({"--root", root, "recover"}).exit_code, 0);
}

TEST_F(CrashMatrix, StoreThatIsAMountPointIsRefusedBeforeAnythingChanges) {
  std::string root = FreshInstall("mount");
  std::string pdfs = root + "/ai_researcher/data/raw_pdfs", src = work_.Sub("pdfs-elsewhere");
  ASSERT_EQ(Sh("cp -a '" + pdfs + "' '" + src + "' && echo ok"), "ok\n");
  if (::mount(src.c_str(), pdfs.c_str(), nullptr, MS_BIND, nullptr) != 0)
    GTEST_SKIP() << "cannot bind-mount here (" << std::strerror(errno) << "): needs root or CAP_SYS_ADMIN";
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{pdfs};
  ASSERT_EQ(RunCli({"--root", root, "-q", "snap", "create"}).exit_code, 0) << "snapshots of a mounted store work";
  Outcome before = Observe(root);
  CliResult snaps = RunCli({"--root", root, "--json", "snap", "list"});
  for (const std::vector<std::string>& cmd : std::vector<std::vector<std::string>>{
           {"reset"}, {"reset", "--force"}, {"cleanup", "--all", "--now", kNow}, {"snap", "restore", "latest"}}) {
    std::vector<std::string> a = {"--root", root, "-y"};
    a.insert(a.end(), cmd.begin(), cmd.end());
    CliResult r = RunCli(a);
    SCOPED_TRACE(cmd[0]);
    EXPECT_EQ(r.exit_code, 8) << r.err;
    EXPECT_NE(r.err.find("pdfs (" + pdfs + ")"), std::string::npos) << "names the store: " << r.err;
    EXPECT_NE(r.err.find("mount the parent directory"), std::string::npos) << "says what to do: " << r.err;
  }
  EXPECT_EQ(Observe(root).digest, before.digest);
  EXPECT_EQ(RunCli({"--root", root, "--json", "snap", "list"}).out, snaps.out) << "refused before any snapshot";
  EXPECT_EQ(Leftovers(root), "");
}

}  // namespace
}  // namespace maestro
