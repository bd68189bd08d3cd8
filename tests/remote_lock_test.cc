// tests/remote_lock_test.cc — the lease lock over a Backend (snapshot/remote_lock.h):
// on a local folder (fast, every rule) and on an append-only SFTP server through
// rclone (release by tombstone, real remote). The SFTP cases skip, with the
// reason, when sshd or rclone is missing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "snapshot/rclone_backend.h"
#include "snapshot/remote_lock.h"
#include "tests/sftp_server.h"
#include "tests/test_util.h"
#include "util/hash.h"

namespace maestro::testing {
namespace {

std::set<std::string> Names(Backend* b, ObjectKind kind) {
  std::vector<ObjectInfo> list;
  EXPECT_TRUE(b->List(kind, &list).ok());
  std::set<std::string> out;
  for (const ObjectInfo& o : list) out.insert(o.name);
  return out;
}

std::string Host() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof(buf) - 1);
  return buf;
}

RemoteLockOptions Quick() {
  RemoteLockOptions o;
  o.refresher = false;
  o.poll_micros = 20000;
  o.command = "maestro-db test";
  return o;
}

class RemoteLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Env::Default()->CreateDir(tmp_.Sub("repo"), 0700).ok());
    backend_ = NewLocalBackend(Env::Default(), tmp_.Sub("repo"));
  }
  // A lock object as a holder elsewhere would have left it.
  void PutForeignLock(const std::string& name, const std::string& host, int pid, int64_t refreshed, int64_t lease) {
    RemoteLockRecord r;
    r.object = name;
    r.holder.pid = pid;
    r.holder.host = host;
    r.holder.command = "maestro-db snap copy";
    r.holder.since_micros = refreshed;
    r.refreshed_micros = refreshed;
    r.lease_seconds = lease;
    ASSERT_TRUE(backend_->Put(ObjectKind::kLock, name, r.Encode()).ok());
  }
  TempDir tmp_;
  std::unique_ptr<Backend> backend_;
};

TEST_F(RemoteLockTest, AcquireWritesTheHolderAndReleaseRemovesIt) {
  auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  std::vector<RemoteLockRecord> live;
  ASSERT_TRUE(RemoteLock::ListLive(backend_.get(), Env::Default(), &live).ok());
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].holder.pid, ::getpid());
  EXPECT_EQ(live[0].holder.host, Host());
  EXPECT_EQ(live[0].holder.command, "maestro-db test");
  EXPECT_EQ(live[0].lease_seconds, 15 * 60);
  ASSERT_TRUE((*lock)->Release().ok());
  EXPECT_TRUE(Names(backend_.get(), ObjectKind::kLock).empty());
}

TEST_F(RemoteLockTest, SecondAcquireIsBusyNamingTheHolderAndItsLease) {
  auto first = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_TRUE(first.ok());
  RemoteLockOptions o = Quick();
  o.wait_seconds = 0.1;
  auto second = RemoteLock::Acquire(backend_.get(), Env::Default(), o);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid()) + " on host " + Host()),
            std::string::npos) << second.status().ToString();
  EXPECT_NE(second.status().message().find("lease until"), std::string::npos) << second.status().ToString();
  EXPECT_EQ(Names(backend_.get(), ObjectKind::kLock).size(), 1u) << "the refused one leaves nothing behind";
}

TEST_F(RemoteLockTest, WaiterGetsTheLockWhenTheHolderReleases) {
  auto first = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_TRUE(first.ok());
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE((*first)->Release().ok());
  });
  RemoteLockOptions o = Quick();
  o.wait_seconds = 10;
  auto second = RemoteLock::Acquire(backend_.get(), Env::Default(), o);
  releaser.join();
  EXPECT_TRUE(second.ok()) << second.status().ToString();
}

TEST_F(RemoteLockTest, ExpiredLeaseOfAnotherHostIsTakenOverAndNamed) {
  int64_t now = Env::Default()->NowMicros();
  PutForeignLock("00000000000000001-dead", "other-host", 4242, now - 3600LL * 1000000, 900);
  std::vector<std::string> notes;
  RemoteLockOptions o = Quick();
  o.log = [&](const std::string& m) { notes.push_back(m); };
  auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("expired lock of pid 4242 on host other-host"), std::string::npos) << notes[0];
}

TEST_F(RemoteLockTest, LiveLeaseOfAnotherHostBlocksEvenWithAnUnknownPid) {
  PutForeignLock("00000000000000001-live", "other-host", 999999, Env::Default()->NowMicros(), 900);
  auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find("other-host"), std::string::npos) << lock.status().ToString();
}

TEST_F(RemoteLockTest, DeadProcessOfThisHostIsTakenOverAtOnce) {
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  PutForeignLock("00000000000000001-crashed", Host(), gone, Env::Default()->NowMicros(), 900);
  auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  EXPECT_TRUE(lock.ok()) << lock.status().ToString();
}

// A partial lock object (its upload cut) still counts, dated by its name, until
// its lease would have run out; then it is ignored.
TEST_F(RemoteLockTest, PartialLockObjectBlocksUntilItsNamesLeaseRunsOut) {
  int64_t now = Env::Default()->NowMicros();
  char fresh[32], old[32];
  std::snprintf(fresh, sizeof(fresh), "%017lld-aa", static_cast<long long>(now));
  ASSERT_TRUE(backend_->Put(ObjectKind::kLock, fresh, "maestro-db remote lock\npid=12\nhos").ok());
  auto blocked = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(blocked.status().message().find("unreadable lock object"), std::string::npos)
      << blocked.status().ToString();
  ASSERT_TRUE(backend_->Remove(ObjectKind::kLock, fresh).ok());
  std::snprintf(old, sizeof(old), "%017lld-bb", static_cast<long long>(now - 3600LL * 1000000));
  ASSERT_TRUE(backend_->Put(ObjectKind::kLock, old, "maestro-db remote lock\npid=12\nhos").ok());
  auto taken = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  EXPECT_TRUE(taken.ok()) << taken.status().ToString();
}

TEST_F(RemoteLockTest, RefreshReplacesTheObjectAndKeepsTheLockValid) {
  auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_TRUE(lock.ok());
  std::string before = (*lock)->record().object;
  ASSERT_TRUE((*lock)->Refresh().ok());
  EXPECT_NE((*lock)->record().object, before);
  EXPECT_EQ(Names(backend_.get(), ObjectKind::kLock), (std::set<std::string>{(*lock)->record().object}));
  EXPECT_TRUE((*lock)->Valid());
}

TEST_F(RemoteLockTest, BackgroundRefresherRenewsAShortLease) {
  RemoteLockOptions o = Quick();
  o.refresher = true;
  o.lease_seconds = 1;  // refreshed every ~0.33 s
  auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), o);
  ASSERT_TRUE(lock.ok());
  std::string first = (*lock)->record().object;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::vector<RemoteLockRecord> live;
  ASSERT_TRUE(RemoteLock::ListLive(backend_.get(), Env::Default(), &live).ok());
  ASSERT_EQ(live.size(), 1u) << "the lease outlived its first second because it was refreshed";
  EXPECT_NE(live[0].object, first);
  EXPECT_TRUE((*lock)->Valid());
}

// Several contenders at once: never two holders at the same moment.
TEST_F(RemoteLockTest, RacingAcquiresNeverHoldTogether) {
  std::atomic<int> holding{0}, max_holding{0}, wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 3; ++round) {
        RemoteLockOptions o = Quick();
        o.wait_seconds = 30;
        auto lock = RemoteLock::Acquire(backend_.get(), Env::Default(), o);
        if (!lock.ok()) continue;
        int now = ++holding;
        int prev = max_holding.load();
        while (now > prev && !max_holding.compare_exchange_weak(prev, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --holding;
        ++wins;
        EXPECT_TRUE((*lock)->Release().ok());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(max_holding.load(), 1);
  EXPECT_EQ(wins.load(), 12);
}

RemoteLockOptions QuickMode(RemoteLockMode mode, double wait = 0) {
  RemoteLockOptions o = Quick();
  o.mode = mode;
  o.wait_seconds = wait;
  return o;
}

// The remote readers' lock (snapshot/reader_lock.h): readers never block a
// writer or each other, a writer never blocks a reader; only a collector and
// a reader exclude each other.
TEST_F(RemoteLockTest, ReadersBlockOnlyACollectorAndACollectorOnlyReaders) {
  auto writer = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_TRUE(writer.ok());
  auto r1 = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kReader));
  auto r2 = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kReader));
  ASSERT_TRUE(r1.ok()) << "a reader must not wait for a writer: " << r1.status().ToString();
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  auto writer2 = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_FALSE(writer2.ok()) << "the writer lock is still one writer's";
  EXPECT_NE(writer2.status().message().find("is locked by"), std::string::npos) << writer2.status().ToString();
  ASSERT_TRUE((*writer)->Release().ok());
  auto writer3 = RemoteLock::Acquire(backend_.get(), Env::Default(), Quick());
  ASSERT_TRUE(writer3.ok()) << "readers must not block a writer: " << writer3.status().ToString();
  // The writer's collection is refused while a reader reads, naming it, and leaves nothing behind.
  size_t objects = Names(backend_.get(), ObjectKind::kLock).size();
  auto gc = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kCollector));
  ASSERT_FALSE(gc.ok());
  EXPECT_TRUE(gc.status().IsBusy()) << gc.status().ToString();
  EXPECT_NE(gc.status().message().find("a reader is reading"), std::string::npos) << gc.status().ToString();
  EXPECT_NE(gc.status().message().find("pid " + std::to_string(::getpid())), std::string::npos);
  EXPECT_EQ(Names(backend_.get(), ObjectKind::kLock).size(), objects);
  ASSERT_TRUE((*r1)->Release().ok());
  ASSERT_TRUE((*r2)->Release().ok());
  gc = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kCollector));
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  // While it collects, a reader is refused (no wait) or waits for it.
  auto refused = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kReader));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("is collecting garbage"), std::string::npos)
      << refused.status().ToString();
  std::thread done([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE((*gc)->Release().ok());
  });
  auto waited = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kReader, 10));
  done.join();
  EXPECT_TRUE(waited.ok()) << waited.status().ToString();
}

// A reader and a collector starting together: never both proceed.
TEST_F(RemoteLockTest, RacingReaderAndCollectorNeverBothProceed) {
  for (int round = 0; round < 30; ++round) {
    std::atomic<bool> go{false};
    Result<std::unique_ptr<RemoteLock>> reader = Status::Internal("not run");
    Result<std::unique_ptr<RemoteLock>> gc = Status::Internal("not run");
    std::thread a([&] {
      while (!go) {
      }
      reader = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kReader));
    });
    std::thread b([&] {
      while (!go) {
      }
      gc = RemoteLock::Acquire(backend_.get(), Env::Default(), QuickMode(RemoteLockMode::kCollector));
    });
    go = true;
    a.join();
    b.join();
    EXPECT_FALSE(reader.ok() && gc.ok()) << "round " << round << ": a reader read while a collector collected";
    if (reader.ok()) {
      EXPECT_TRUE((*reader)->Release().ok());
    }
    if (gc.ok()) {
      EXPECT_TRUE((*gc)->Release().ok());
    }
    ASSERT_TRUE(Names(backend_.get(), ObjectKind::kLock).empty()) << "round " << round;
  }
}

RemoteLockRecord SampleRecord() {
  RemoteLockRecord r;
  r.object = "o";
  r.holder.pid = 7;
  r.holder.host = "h";
  r.refreshed_micros = 1;
  r.lease_seconds = 60;
  return r;
}

TEST(RemoteLockRecordTest, DecodeRefusesATruncatedOrReChecksummedRecord) {
  RemoteLockRecord r = SampleRecord();
  std::string text = r.Encode();
  EXPECT_TRUE(RemoteLockRecord::Decode("o", text).ok());
  EXPECT_FALSE(RemoteLockRecord::Decode("o", text.substr(0, text.size() - 5)).ok());
  std::string edited = text;
  edited[edited.find("pid=7")+4] = '8';
  EXPECT_FALSE(RemoteLockRecord::Decode("o", edited).ok());
}

// Append-only SFTP through rclone: the remote refuses deletes, so Release
// leaves a tombstone and the next writer still gets the lock at once.
// The mode line round-trips; a writer's record has none (as before modes), and
// an unknown mode is refused. (An older maestro-db skips the line as an
// unknown key, so it reads a reader's or collector's record as a writer's.)
TEST(RemoteLockRecordTest, ModeSurvivesTheRecordAndAnUnknownModeIsRefused) {
  RemoteLockRecord r = SampleRecord();
  r.mode = RemoteLockMode::kReader;
  auto back = RemoteLockRecord::Decode("o", r.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->mode, RemoteLockMode::kReader);
  r.mode = RemoteLockMode::kWriter;
  EXPECT_EQ(r.Encode().find("mode="), std::string::npos) << "a writer's record is as before";
  std::string text = r.Encode();
  std::string body = text.substr(0, text.rfind("checksum=")) + "mode=other\n";
  char sum[32];
  std::snprintf(sum, sizeof(sum), "%016llx", static_cast<unsigned long long>(Xxh64(body)));
  EXPECT_TRUE(RemoteLockRecord::Decode("o", body + "checksum=" + sum + "\n").status().IsCorruption());
}

TEST(RemoteLockSftpTest, AppendOnlyRemoteExcludesARivalAndReleasesByTombstone) {
  TempDir dir;
  ::mkdir(dir.Sub("ssh").c_str(), 0700);
  std::string why;
  auto server = SftpServer::Start(dir.Sub("ssh"), /*append_only=*/true, &why);
  if (server == nullptr) GTEST_SKIP() << "no SFTP server: " << why;
  RcloneBackendOptions ro;
  ro.extra_env = server->RcloneEnv("t");
  auto b = NewRcloneBackend("rclone:t:" + dir.Sub("repo"), ro);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Backend* backend = b->get();
  {
    auto lock = RemoteLock::Acquire(backend, Env::Default(), Quick());
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    auto rival = RemoteLock::Acquire(backend, Env::Default(), Quick());
    ASSERT_FALSE(rival.ok());
    EXPECT_TRUE(rival.status().IsBusy()) << rival.status().ToString();
    EXPECT_NE(rival.status().message().find("rclone:t:"), std::string::npos) << rival.status().ToString();
    ASSERT_TRUE((*lock)->Release().ok());
  }
  std::set<std::string> names = Names(backend, ObjectKind::kLock);
  ASSERT_EQ(names.size(), 2u) << "the lock object stays (no delete) and its tombstone joins it";
  auto again = RemoteLock::Acquire(backend, Env::Default(), Quick());
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

}  // namespace
}  // namespace maestro::testing
