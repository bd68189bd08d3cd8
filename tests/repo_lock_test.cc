// tests/repo_lock_test.cc — snapshot/repo_lock.h: one writer per repository,
// holders named, dead holders taken over.
#include "snapshot/repo_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/test_util.h"

using namespace maestro;
using maestro::testing::TempDir;

namespace {

// A child process that takes the lock, reports on a pipe, then waits for a byte
// on another pipe (or for hold_ms) before exiting normally.
struct LockingChild {
  pid_t pid = -1;
  int ready_fd = -1;
  int release_fd = -1;

  static LockingChild Start(const std::string& repo, const std::string& command, int hold_ms = -1) {
    int ready[2], release[2];
    EXPECT_EQ(pipe(ready), 0);
    EXPECT_EQ(pipe(release), 0);
    LockingChild c;
    c.pid = fork();
    if (c.pid == 0) {
      close(ready[0]);
      close(release[1]);
      RepoLockOptions o;
      o.command = command;
      auto lock = RepoLock::Acquire(Env::Default(), repo, o);
      char ok = lock.ok() ? 'y' : 'n';
      if (write(ready[1], &ok, 1) != 1) _exit(3);
      if (hold_ms >= 0) {
        usleep(static_cast<useconds_t>(hold_ms) * 1000);
      } else {
        char b;
        ssize_t n = read(release[0], &b, 1);
        (void)n;
      }
      _exit(lock.ok() ? 0 : 2);
    }
    close(ready[1]);
    close(release[0]);
    c.ready_fd = ready[0];
    c.release_fd = release[1];
    return c;
  }
  bool WaitReady() {
    char b = 0;
    return read(ready_fd, &b, 1) == 1 && b == 'y';
  }
  int Finish() {
    char b = 'x';
    signal(SIGPIPE, SIG_IGN);  // a timed holder may have exited already
    if (write(release_fd, &b, 1) != 1) { /* child may be gone already */ }
    int st = 0;
    waitpid(pid, &st, 0);
    close(ready_fd);
    close(release_fd);
    return st;
  }
  void Kill9() {
    kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    close(ready_fd);
    close(release_fd);
  }
};

int DeadPid() {
  pid_t p = fork();
  if (p == 0) _exit(0);
  int st = 0;
  waitpid(p, &st, 0);
  return p;
}

std::string Hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

}  // namespace

TEST(RepoLockTest, AcquireWritesHolderRecordAndReleaseRemovesIt) {
  TempDir d;
  RepoLockOptions o;
  o.command = "maestro-db snap create --label x";
  auto lock = RepoLock::Acquire(Env::Default(), d.path(), o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto h = RepoLock::ReadHolder(Env::Default(), d.path());
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(h->has_value());
  EXPECT_EQ((*h)->pid, getpid());
  EXPECT_EQ((*h)->host, Hostname());
  EXPECT_EQ((*h)->command, "maestro-db snap create --label x");
  EXPECT_GT((*h)->since_micros, 0);
  ASSERT_TRUE((*lock)->Release().ok());
  auto after = RepoLock::ReadHolder(Env::Default(), d.path());
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
  EXPECT_TRUE(Env::Default()->FileExists(RepoLock::LockPath(d.path())));  // the flock file stays
}

TEST(RepoLockTest, DefaultCommandIsThisProcessCommandLine) {
  TempDir d;
  auto lock = RepoLock::Acquire(Env::Default(), d.path());
  ASSERT_TRUE(lock.ok());
  EXPECT_NE((*lock)->holder().command.find("repo_lock_test"), std::string::npos) << (*lock)->holder().command;
}

TEST(RepoLockTest, MissingRepositoryIsNotFoundAndNothingIsCreated) {
  TempDir d;
  auto lock = RepoLock::Acquire(Env::Default(), d.Sub("nope"));
  ASSERT_FALSE(lock.ok());
  EXPECT_TRUE(lock.status().IsNotFound());
  EXPECT_FALSE(Env::Default()->DirExists(d.Sub("nope")));
}

TEST(RepoLockTest, SecondWriterInSameProcessIsRefused) {
  TempDir d;
  auto first = RepoLock::Acquire(Env::Default(), d.path());
  ASSERT_TRUE(first.ok());
  auto second = RepoLock::Acquire(Env::Default(), d.path());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy());
  first->reset();
  EXPECT_TRUE(RepoLock::Acquire(Env::Default(), d.path()).ok());
}

TEST(RepoLockTest, WriterInOtherProcessIsRefusedNamingPidHostCommandAndSince) {
  TempDir d;
  auto child = LockingChild::Start(d.path(), "maestro-db snap prune --keep-last 3");
  ASSERT_TRUE(child.WaitReady());
  auto t0 = std::chrono::steady_clock::now();
  auto lock = RepoLock::Acquire(Env::Default(), d.path());
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(lock.ok());
  EXPECT_TRUE(lock.status().IsBusy());
  const std::string& m = lock.status().message();
  EXPECT_NE(m.find("pid " + std::to_string(child.pid)), std::string::npos) << m;
  EXPECT_NE(m.find(Hostname()), std::string::npos) << m;
  EXPECT_NE(m.find("maestro-db snap prune --keep-last 3"), std::string::npos) << m;
  EXPECT_NE(m.find(" since 20"), std::string::npos) << m;
  EXPECT_NE(m.find("--lock-wait"), std::string::npos) << m;
  EXPECT_NE(m.find(d.path()), std::string::npos) << m;
  EXPECT_LT(waited, std::chrono::milliseconds(500));  // default: no waiting
  EXPECT_EQ(child.Finish(), 0);
  EXPECT_TRUE(RepoLock::Acquire(Env::Default(), d.path()).ok());
}

TEST(RepoLockTest, WaitTimeoutMessageSaysHowLongItWaitedAndWho) {
  TempDir d;
  auto child = LockingChild::Start(d.path(), "maestro-db reset --all");
  ASSERT_TRUE(child.WaitReady());
  RepoLockOptions o;
  o.wait_seconds = 1;
  o.poll_micros = 20000;
  std::vector<std::string> logs;
  o.log = [&logs](const std::string& l) { logs.push_back(l); };
  auto t0 = std::chrono::steady_clock::now();
  auto lock = RepoLock::Acquire(Env::Default(), d.path(), o);
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(lock.ok());
  EXPECT_TRUE(lock.status().IsBusy());
  const std::string& m = lock.status().message();
  EXPECT_NE(m.find("after waiting 1s"), std::string::npos) << m;
  EXPECT_NE(m.find("pid " + std::to_string(child.pid)), std::string::npos) << m;
  EXPECT_NE(m.find("maestro-db reset --all"), std::string::npos) << m;
  EXPECT_GE(waited, std::chrono::milliseconds(950));
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("waiting for the repository lock"), std::string::npos);
  child.Finish();
}

TEST(RepoLockTest, WaiterGetsTheLockWhenHolderFinishes) {
  TempDir d;
  auto child = LockingChild::Start(d.path(), "holder", /*hold_ms=*/300);
  ASSERT_TRUE(child.WaitReady());
  RepoLockOptions o;
  o.wait_seconds = 10;
  o.poll_micros = 20000;
  auto lock = RepoLock::Acquire(Env::Default(), d.path(), o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ((*lock)->holder().pid, getpid());
  child.Finish();
}

TEST(RepoLockTest, StaleHolderRecordOfDeadPidIsTakenOverAndReplaced) {
  TempDir d;
  LockHolder stale;
  stale.pid = DeadPid();
  stale.host = Hostname();
  stale.command = "maestro-db snap create";
  stale.since_micros = 1754000000LL * 1000000;
  maestro::testing::WriteFile(RepoLock::HolderPath(d.path()), stale.Encode());
  std::vector<std::string> logs;
  RepoLockOptions o;
  o.log = [&logs](const std::string& l) { logs.push_back(l); };
  auto lock = RepoLock::Acquire(Env::Default(), d.path(), o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("taking over"), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("pid " + std::to_string(stale.pid)), std::string::npos) << logs[0];
  EXPECT_NE(logs[0].find("no longer running"), std::string::npos) << logs[0];
  auto h = RepoLock::ReadHolder(Env::Default(), d.path());
  ASSERT_TRUE(h.ok() && h->has_value());
  EXPECT_EQ((*h)->pid, getpid());
}

TEST(RepoLockTest, LockOfKilledProcessIsTakenOver) {
  TempDir d;
  auto child = LockingChild::Start(d.path(), "maestro-db snap create");
  ASSERT_TRUE(child.WaitReady());
  int dead = child.pid;
  child.Kill9();  // leaves its holder record behind; the kernel drops its flock
  auto left = RepoLock::ReadHolder(Env::Default(), d.path());
  ASSERT_TRUE(left.ok() && left->has_value());
  EXPECT_EQ((*left)->pid, dead);
  std::vector<std::string> logs;
  RepoLockOptions o;
  o.log = [&logs](const std::string& l) { logs.push_back(l); };
  auto lock = RepoLock::Acquire(Env::Default(), d.path(), o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("pid " + std::to_string(dead)), std::string::npos);
  auto h = RepoLock::ReadHolder(Env::Default(), d.path());
  ASSERT_TRUE(h.ok() && h->has_value());
  EXPECT_EQ((*h)->pid, getpid());
}

TEST(RepoLockTest, UnreadableHolderRecordDoesNotBlockAWriter) {
  TempDir d;
  maestro::testing::WriteFile(RepoLock::HolderPath(d.path()), "garbage\n");
  std::vector<std::string> logs;
  RepoLockOptions o;
  o.log = [&logs](const std::string& l) { logs.push_back(l); };
  auto lock = RepoLock::Acquire(Env::Default(), d.path(), o);
  ASSERT_TRUE(lock.ok());
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].find("unreadable"), std::string::npos);
}

TEST(RepoLockTest, HolderRecordRoundTripsAndRejectsGarbage) {
  LockHolder h;
  h.pid = 4242;
  h.host = "box";
  h.command = "maestro-db snap\ndelete x";  // newlines cannot split the record
  h.since_micros = 1754650222000000;
  auto back = LockHolder::Decode(h.Encode());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->host, "box");
  EXPECT_EQ(back->command, "maestro-db snap delete x");
  EXPECT_EQ(back->since_micros, h.since_micros);
  EXPECT_EQ(back->Describe(), "pid 4242 on host box (maestro-db snap delete x) since 2025-08-08T10:50:22Z");
  EXPECT_TRUE(LockHolder::Decode("host=x\n").status().IsCorruption());
  EXPECT_TRUE(LockHolder::Decode("pid=abc\n").status().IsCorruption());
  EXPECT_TRUE(LockHolder::Decode("pid=-5\n").status().IsCorruption());
}
