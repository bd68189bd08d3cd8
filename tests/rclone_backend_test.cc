// tests/rclone_backend_test.cc — the rclone backend (snapshot/rclone_backend.h)
// against real servers on 127.0.0.1 started here: OpenSSH's sshd with
// internal-sftp (plain and append-only), reached through rclone's sftp
// backend configured by RCLONE_CONFIG_* variables. The conformance suite
// (tests/backend_conformance.h) plus faults: the server killed mid-upload,
// the rclone child killed, a full remote (tmpfs), a flipped byte, deletes
// refused. Skipped, with the reason printed, when sshd or rclone is missing.
#include <gtest/gtest.h>
#include <iostream>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "snapshot/object_check.h"
#include "snapshot/open_backend.h"
#include "snapshot/rclone_backend.h"
#include "tests/backend_conformance.h"
#include "tests/sftp_server.h"
#include "tests/test_util.h"
#include "tests/webdav_server.h"
#include "util/hash.h"

namespace maestro::testing {
namespace {

// Short waits so that a fault shows up in seconds, not rclone's default minutes.
RcloneBackendOptions TestOptions(const std::vector<std::string>& env) {
  RcloneBackendOptions o;
  o.extra_env = env;
  o.extra_args = {"--contimeout", "5s", "--timeout", "15s", "--low-level-retries", "1"};
  o.start_timeout_ms = 20000;
  o.io_timeout_ms = 30000;
  return o;
}

std::string HashName(const std::string& data, const char* ext) { return Xxh128(data).Hex() + ext; }

// One sshd for the conformance cases (they do not hurt it).
class RcloneSftpFixture : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ::mkdir((dir_->path() + "/ssh").c_str(), 0700);
    server_ = SftpServer::Start(dir_->path() + "/ssh", /*append_only=*/false, &skip_).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "no SFTP server for the rclone suite: " << skip_;
  }
  std::unique_ptr<Backend> MakeBackend() {
    std::string repo = dir_->path() + "/repo" + std::to_string(counter_++);
    auto b = NewRcloneBackend("rclone:t:" + repo, TestOptions(server_->RcloneEnv("t")));
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::unique_ptr<Backend>(std::move(b).value()) : nullptr;
  }

 private:
  static TempDir* dir_;
  static SftpServer* server_;
  static std::string skip_;
  static int counter_;
};
TempDir* RcloneSftpFixture::dir_ = nullptr;
SftpServer* RcloneSftpFixture::server_ = nullptr;
std::string RcloneSftpFixture::skip_;
int RcloneSftpFixture::counter_ = 0;

INSTANTIATE_BACKEND_CONFORMANCE(RcloneSftp, RcloneSftpFixture);

// The same contract through a second kind of server: rclone serve webdav.
class RcloneWebDavFixture : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = WebDavServer::Start(dir_->path() + "/served", &skip_).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "no WebDAV server for the rclone suite: " << skip_;
  }
  std::unique_ptr<Backend> MakeBackend() {
    auto b = NewRcloneBackend("rclone:w:repo" + std::to_string(counter_++), TestOptions(server_->RcloneEnv("w")));
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::unique_ptr<Backend>(std::move(b).value()) : nullptr;
  }

 private:
  static TempDir* dir_;
  static WebDavServer* server_;
  static std::string skip_;
  static int counter_;
};
TempDir* RcloneWebDavFixture::dir_ = nullptr;
WebDavServer* RcloneWebDavFixture::server_ = nullptr;
std::string RcloneWebDavFixture::skip_;
int RcloneWebDavFixture::counter_ = 0;

INSTANTIATE_BACKEND_CONFORMANCE(RcloneWebDav, RcloneWebDavFixture);

// Each fault case gets its own server (they kill it).
class RcloneFaultTest : public ::testing::Test {
 protected:
  void StartServer(bool append_only) {
    ::mkdir(dir_.Sub("ssh").c_str(), 0700);
    std::string why;
    server_ = SftpServer::Start(dir_.Sub("ssh"), append_only, &why);
    if (server_ == nullptr) GTEST_SKIP() << "no SFTP server for the rclone suite: " << why;
  }
  std::unique_ptr<RcloneBackend> Open(const std::string& repo, std::vector<std::string> extra_args = {}) {
    RcloneBackendOptions o = TestOptions(server_->RcloneEnv("t"));
    o.extra_args.insert(o.extra_args.end(), extra_args.begin(), extra_args.end());
    auto b = NewRcloneBackend("rclone:t:" + repo, o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  std::unique_ptr<Backend> OpenBackendThroughTheFactory(const std::string& repo) {
    auto b = OpenBackend(Env::Default(), "rclone:t:" + repo, TestOptions(server_->RcloneEnv("t")));
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  static uint64_t FileSize(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  // Waits (bounded) until path on the server's disk holds at least n bytes.
  static bool WaitForBytes(const std::string& path, uint64_t n) {
    for (int i = 0; i < 3000; ++i) {
      if (FileSize(path) >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  TempDir dir_;
  std::unique_ptr<SftpServer> server_;
};

TEST_F(RcloneFaultTest, UploadKilledWithTheServerIsAbsentOrDetectedAndTheRetrySucceeds) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string repo = dir_.Sub("repo");
  auto b = Open(repo, {"--bwlimit", "4M"});  // slow enough to be cut mid-way
  ASSERT_NE(b, nullptr);
  std::string data = RandomBytes(12 << 20, 7);
  std::string name = HashName(data, ".pack");
  Status put;
  std::thread uploader([&] { put = b->Put(ObjectKind::kPack, name, data); });
  ASSERT_TRUE(WaitForBytes(repo + "/packs/" + name, 1 << 20)) << "the upload never started";
  server_->Kill();
  uploader.join();
  ASSERT_FALSE(put.ok()) << "a Put cut mid-way must not report success";
  EXPECT_TRUE(put.IsIoError()) << put.ToString();
  EXPECT_NE(put.message().find("rclone:t:" + repo), std::string::npos) << put.ToString();
  uint64_t left = FileSize(repo + "/packs/" + name);
  EXPECT_LT(left, data.size()) << "the cut upload cannot be whole";

  ASSERT_TRUE(server_->Restart());
  std::string got;
  Status get = b->Get(ObjectKind::kPack, name, &got);
  if (left == 0 && !std::ifstream(repo + "/packs/" + name)) {
    EXPECT_TRUE(get.IsNotFound()) << get.ToString();
  } else {
    EXPECT_TRUE(get.IsCorruption()) << "a partial pack must be detected by its name: " << get.ToString();
    EXPECT_NE(get.message().find("partial upload"), std::string::npos) << get.ToString();
  }
  ASSERT_TRUE(b->Put(ObjectKind::kPack, name, data).ok());
  ASSERT_TRUE(b->Get(ObjectKind::kPack, name, &got).ok());
  EXPECT_EQ(got, data);
}

TEST_F(RcloneFaultTest, KilledRcloneChildIsNamedThenRestartedOnTheNextCall) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string repo = dir_.Sub("repo");
  auto b = Open(repo);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->Put(ObjectKind::kManifest, "20260101_000000", "m").ok());
  pid_t first = b->ServerPid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string got;
  Status st = b->Get(ObjectKind::kManifest, "20260101_000000", &got);
  ASSERT_FALSE(st.ok()) << "the call that finds rclone dead says so";
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_NE(st.message().find("rclone:t:" + repo), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("killed by signal 9"), std::string::npos) << st.ToString();
  ASSERT_TRUE(b->Get(ObjectKind::kManifest, "20260101_000000", &got).ok()) << "the next call restarts it";
  EXPECT_EQ(got, "m");
  EXPECT_NE(b->ServerPid(), first);
  EXPECT_GT(b->ServerPid(), 0);
}

TEST_F(RcloneFaultTest, RcloneKilledMidUploadFailsThePutAndTheRetrySucceeds) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string repo = dir_.Sub("repo");
  auto b = Open(repo, {"--bwlimit", "4M"});
  ASSERT_NE(b, nullptr);
  std::string data = RandomBytes(8 << 20, 9);
  std::string name = HashName(data, ".idx");
  std::unique_ptr<ObjectWriter> w;
  ASSERT_TRUE(b->NewWriter(ObjectKind::kIndex, name, &w).ok());
  for (size_t off = 0; off < data.size(); off += 1 << 20) ASSERT_TRUE(w->Append(data.substr(off, 1 << 20)).ok());
  Status commit;
  std::thread t([&] { commit = w->Commit(); });
  ASSERT_TRUE(WaitForBytes(repo + "/index/" + name, 1 << 20));
  ASSERT_EQ(::kill(b->ServerPid(), SIGKILL), 0);
  t.join();
  ASSERT_FALSE(commit.ok());
  EXPECT_NE(commit.message().find("killed by signal 9"), std::string::npos) << commit.ToString();
  std::string got;
  Status get = b->Get(ObjectKind::kIndex, name, &got);  // starts a new rclone
  EXPECT_TRUE(get.IsNotFound() || get.IsCorruption()) << get.ToString();
  ASSERT_TRUE(b->Put(ObjectKind::kIndex, name, data).ok());
  ASSERT_TRUE(b->Get(ObjectKind::kIndex, name, &got).ok());
  EXPECT_EQ(got, data);
}

// rclone's own configuration reaches the child: a config file named by
// RCLONE_CONFIG, and RCLONE_CONFIG_* variables of this process's environment.
TEST_F(RcloneFaultTest, RclonesConfigFileAndInheritedVariablesReachTheChild) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string conf = "[viafile]\n";
  for (const std::string& kv : server_->RcloneEnv("x")) {
    std::string key = kv.substr(std::string("RCLONE_CONFIG_X_").size(), kv.find('=') - 16);
    for (char& c : key) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
    conf += key + " = " + kv.substr(kv.find('=') + 1) + "\n";
  }
  WriteFile(dir_.Sub("rclone.conf"), conf);
  RcloneBackendOptions o = TestOptions({"RCLONE_CONFIG=" + dir_.Sub("rclone.conf")});
  auto by_file = NewRcloneBackend("rclone:viafile:" + dir_.Sub("repo"), o);
  ASSERT_TRUE(by_file.ok()) << by_file.status().ToString();
  ASSERT_TRUE((*by_file)->Put(ObjectKind::kManifest, "20260101_000000", "via file").ok());

  ::setenv("RCLONE_CONFIG_VIAENV_TYPE", "alias", 1);  // an alias remote of the file's remote
  ::setenv("RCLONE_CONFIG_VIAENV_REMOTE", ("viafile:" + dir_.Sub("repo")).c_str(), 1);
  auto by_env = NewRcloneBackend("rclone:viaenv:", o);
  ::unsetenv("RCLONE_CONFIG_VIAENV_TYPE");
  ::unsetenv("RCLONE_CONFIG_VIAENV_REMOTE");
  ASSERT_TRUE(by_env.ok()) << by_env.status().ToString();
  std::string got;
  ASSERT_TRUE((*by_env)->Get(ObjectKind::kManifest, "20260101_000000", &got).ok());
  EXPECT_EQ(got, "via file");
}

// A writer bigger than the 8 MiB kept in memory spills to $TMPDIR and still
// arrives whole, under a name nothing shows before Commit.
TEST_F(RcloneFaultTest, LargeWriterSpillsToDiskAndArrivesWhole) {
  StartServer(false);
  if (server_ == nullptr) return;
  auto b = OpenBackendThroughTheFactory(dir_.Sub("repo"));
  ASSERT_NE(b, nullptr);
  std::string data = RandomBytes(20 << 20, 17);
  std::string name = HashName(data, ".pack");
  std::unique_ptr<ObjectWriter> w;
  ASSERT_TRUE(b->NewWriter(ObjectKind::kPack, name, &w).ok());
  for (size_t off = 0; off < data.size(); off += 3 << 20) ASSERT_TRUE(w->Append(data.substr(off, 3 << 20)).ok());
  ObjectInfo info;
  EXPECT_TRUE(b->Stat(ObjectKind::kPack, name, &info).IsNotFound()) << "visible before Commit";
  ASSERT_TRUE(w->Commit().ok());
  ASSERT_TRUE(b->Stat(ObjectKind::kPack, name, &info).ok());
  EXPECT_EQ(info.size, data.size());
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, name, &got).ok());  // checks the name's hash too
  EXPECT_EQ(got, data);
}

// A pack finished in the local tmp/ (PutFile) is streamed as it is: no copy of
// it goes to a spool in $TMPDIR first (so a $TMPDIR that cannot hold one does
// not matter), it arrives whole and the local file is gone afterwards.
TEST_F(RcloneFaultTest, PutFileStreamsTheLocalPackWithoutASpoolCopy) {
  StartServer(false);
  if (server_ == nullptr) return;
  auto b = OpenBackendThroughTheFactory(dir_.Sub("repo"));
  ASSERT_NE(b, nullptr);
  std::string data = RandomBytes(20 << 20, 29);  // over the 8 MiB a spool keeps in memory
  std::string name = HashName(data, ".pack");
  std::string local = dir_.Sub("pack.tmp-pack");
  WriteFile(local, data);
  const char* old_tmp = ::getenv("TMPDIR");
  std::string saved = old_tmp != nullptr ? old_tmp : "";
  ::setenv("TMPDIR", dir_.Sub("no-such-folder").c_str(), 1);  // a spool file cannot be made there
  Status st = b->PutFile(ObjectKind::kPack, name, Env::Default(), local);
  if (old_tmp != nullptr) ::setenv("TMPDIR", saved.c_str(), 1);
  else ::unsetenv("TMPDIR");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(FileSize(local), 0u) << "the local file is still there";
  EXPECT_NE(::access(local.c_str(), F_OK), 0);
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, name, &got).ok());  // checks the name's hash too
  EXPECT_EQ(got, data);
}

// A file on this machine is handed to rclone (rc operations/copyfile) without
// a word; when rclone serves no rc API (--rc=false after ours) it is streamed
// through the restic API instead, and that slower path is said once per
// backend, with its reason, however many files take it.
TEST_F(RcloneFaultTest, LocalFileStreamedBecauseRcloneHasNoRcApiIsSaidOnce) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::mutex mu;
  std::vector<std::string> notices;
  auto collect = [&](const std::string& line) {
    std::lock_guard<std::mutex> l(mu);
    notices.push_back(line);
  };
  for (bool rc : {true, false}) {
    RcloneBackendOptions o = TestOptions(server_->RcloneEnv("t"));
    if (!rc) o.extra_args.push_back("--rc=false");
    o.notice = collect;
    const std::string repo = dir_.Sub(rc ? "with-rc" : "without-rc");
    auto b = NewRcloneBackend("rclone:t:" + repo, o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    for (int i = 0; i < 2; ++i) {
      std::string data = RandomBytes(300000, 40 + i);
      std::string name = HashName(data, ".pack");
      std::string local = dir_.Sub("local-" + std::to_string(i) + ".tmp-pack");
      WriteFile(local, data);
      Status st = (*b)->PutFile(ObjectKind::kPack, name, Env::Default(), local);
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::string got;
      ASSERT_TRUE((*b)->Get(ObjectKind::kPack, name, &got).ok());
      EXPECT_EQ(got, data);
    }
    if (rc) {
      EXPECT_TRUE(notices.empty()) << "the fast path is silent: " << notices[0];
    }
  }
  ASSERT_EQ(notices.size(), 1u) << "said once for the two files";
  EXPECT_NE(notices[0].find("rclone:t:" + dir_.Sub("without-rc")), std::string::npos) << notices[0];
  EXPECT_NE(notices[0].find("remote-control API"), std::string::npos) << notices[0];
  EXPECT_NE(notices[0].find("operations/copyfile"), std::string::npos) << notices[0];
}

// A writer past the in-memory spool with $TMPDIR a full tmpfs: the write
// fails naming the object and the folder the spool is in, not just the errno.
TEST_F(RcloneFaultTest, FullSpoolFolderFailsTheWriteNamingTheObjectAndTheFolder) {
  StartServer(false);
  if (server_ == nullptr) return;
  auto b = Open(dir_.Sub("repo"));
  ASSERT_NE(b, nullptr);
  const std::string tmp = dir_.Sub("small-tmp");
  SmallTmpfs tmpfs(tmp, "1m");
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();
  const char* old_tmp = ::getenv("TMPDIR");
  std::string saved = old_tmp != nullptr ? old_tmp : "";
  ::setenv("TMPDIR", tmp.c_str(), 1);
  std::string data = RandomBytes(12 << 20, 43);  // over the 8 MiB a spool keeps in memory
  std::string name = HashName(data, ".pack");
  std::unique_ptr<ObjectWriter> w;
  Status st = b->NewWriter(ObjectKind::kPack, name, &w);
  if (st.ok()) st = w->Append(data);
  if (st.ok()) st = w->Commit();
  if (old_tmp != nullptr) ::setenv("TMPDIR", saved.c_str(), 1);
  else ::unsetenv("TMPDIR");
  ASSERT_FALSE(st.ok()) << "12 MiB cannot fit in a 1 MiB $TMPDIR";
  EXPECT_NE(st.message().find("packs/" + name), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(tmp), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("disk is full"), std::string::npos) << st.ToString();
  ObjectInfo info;
  EXPECT_FALSE(b->Stat(ObjectKind::kPack, name, &info).ok() && info.size == data.size()) << "nothing was sent";
}

TEST_F(RcloneFaultTest, FlippedByteInAHashNamedPackIsCorruption) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string repo = dir_.Sub("repo");
  auto b = Open(repo);
  ASSERT_NE(b, nullptr);
  std::string data = RandomBytes(200000, 11);
  std::string name = HashName(data, ".pack");
  ASSERT_TRUE(b->Put(ObjectKind::kPack, name, data).ok());
  std::string path = repo + "/packs/" + name;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(123456);
    char c = static_cast<char>(data[123456] ^ 0x20);
    f.write(&c, 1);
  }
  std::string got;
  Status st = b->Get(ObjectKind::kPack, name, &got);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_NE(st.message().find("packs/" + name), std::string::npos) << st.ToString();
  // A range read returns the bytes as stored: the blob's own checksum
  // (IndexEntry::stored_check) is the layer that catches it there.
  ASSERT_TRUE(b->ReadAt(ObjectKind::kPack, name, 123450, 10, &got).ok());
  EXPECT_NE(got, data.substr(123450, 10));
}

TEST_F(RcloneFaultTest, AppendOnlyServerRefusesRemoveByNameAndStillTakesPuts) {
  StartServer(/*append_only=*/true);
  if (server_ == nullptr) return;
  std::string repo = dir_.Sub("repo");
  auto b = Open(repo);
  ASSERT_NE(b, nullptr);
  std::string data = RandomBytes(300000, 13);
  std::string name = HashName(data, ".pack");
  ASSERT_TRUE(b->Put(ObjectKind::kPack, name, data).ok());
  std::unique_ptr<ObjectWriter> w;
  ASSERT_TRUE(b->NewWriter(ObjectKind::kManifest, "20260101_000000", &w).ok());
  ASSERT_TRUE(w->Append("manifest").ok());
  ASSERT_TRUE(w->Commit().ok());
  Status st = b->Remove(ObjectKind::kPack, name);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_TRUE(st.IsRefused()) << "typed, so callers need not read the message: " << st.ToString();
  EXPECT_NE(st.message().find("refused to delete packs/" + name), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("permission denied"), std::string::npos) << st.ToString();
  std::string got;
  ASSERT_TRUE(b->Get(ObjectKind::kPack, name, &got).ok());
  EXPECT_EQ(got, data) << "a refused delete leaves the object as it was";
}

// A 4 MiB tmpfs as the SFTP root: the upload that does not fit fails, leaves
// nothing a reader would take for whole, and works once there is room.
TEST_F(RcloneFaultTest, FullRemoteFailsTheUploadCleanlyAndTheRetryWorksOnceThereIsRoom) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string repo = dir_.Sub("full");
  SmallTmpfs tmpfs(repo, "4m");
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();
  auto b = Open(repo);
  ASSERT_NE(b, nullptr);
  std::string filler = RandomBytes(3 << 20, 15);
  ASSERT_TRUE(b->Put(ObjectKind::kPack, "filler.pack", filler).ok());
  std::string data = RandomBytes(2 << 20, 16);
  std::string name = HashName(data, ".pack");
  Status st = b->Put(ObjectKind::kPack, name, data);
  ASSERT_FALSE(st.ok()) << "2 MiB cannot fit in the 1 MiB left";
  EXPECT_NE(st.message().find("refused to upload packs/" + name), std::string::npos) << st.ToString();
  std::string got;
  Status get = b->Get(ObjectKind::kPack, name, &got);
  EXPECT_TRUE(get.IsNotFound() || get.IsCorruption()) << get.ToString();
  ASSERT_TRUE(b->Remove(ObjectKind::kPack, "filler.pack").ok());
  ASSERT_TRUE(b->Put(ObjectKind::kPack, name, data).ok());
  ASSERT_TRUE(b->Get(ObjectKind::kPack, name, &got).ok());
  EXPECT_EQ(got, data);
}

TEST_F(RcloneFaultTest, RestartsAreBoundedThenEveryCallFails) {
  StartServer(false);
  if (server_ == nullptr) return;
  RcloneBackendOptions o = TestOptions(server_->RcloneEnv("t"));
  o.max_restarts = 2;
  auto opened = NewRcloneBackend("rclone:t:" + dir_.Sub("repo"), o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<RcloneBackend> b = std::move(opened).value();
  ObjectInfo info;
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(::kill(b->ServerPid(), SIGKILL), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(b->Stat(ObjectKind::kLock, "x", &info).IsIoError());  // reports the death
    Status next = b->Stat(ObjectKind::kLock, "x", &info);            // restarts, or refuses to
    if (round < 2) {
      EXPECT_TRUE(next.IsNotFound()) << next.ToString();
    } else {
      EXPECT_TRUE(next.IsIoError()) << next.ToString();
      EXPECT_NE(next.message().find("not starting it again"), std::string::npos) << next.ToString();
    }
  }
}

// An rclone: spec is never taken for a local folder called "rclone:…" (a copy
// the user would think is off-site). snap create writes the remote, and one
// rclone cannot reach fails as an I/O error with nothing made locally. A
// transaction journals in the local repository (cli/remote_txn.h): it commits,
// and the copy of its pre-image to the unreachable remote is a warning naming
// the command to run.
TEST(RcloneBackendTest, AnRcloneSpecIsNeverALocalFolderAndAnUnreachableRemoteIsAnIoError) {
  std::string why;
  if (!HaveRclone(&why)) GTEST_SKIP() << why;
  TempDir d;
  std::vector<std::string> env = {"XDG_CACHE_HOME=" + d.Sub(".cache"), "RCLONE_CONFIG=" + d.Sub("none.conf")};
  CliResult r = RunCli({"--root", d.path(), "--repo", "rclone:b2:bucket/maestro", "snap", "create"}, env);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("rclone:b2:bucket/maestro"), std::string::npos) << r.err;
  WriteFile(d.Sub("c.ini"), "[repo]\npath = rclone:b2:bucket/maestro\n");
  r = RunCli({"--root", d.path(), "--config", d.Sub("c.ini"), "snap", "create"}, env);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(Sh("ls -A " + d.path()), "c.ini\n") << "nothing may be created for it";
  r = RunCli({"--root", d.path(), "--repo", "rclone:b2:bucket/maestro", "--yes", "reset"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("snap copy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--to rclone:b2:bucket/maestro"), std::string::npos) << r.err;
  EXPECT_EQ(Sh("find " + d.path() + " -name '*rclone*' | wc -l"), "0\n") << Sh("find " + d.path());
  EXPECT_EQ(Sh("ls -A " + d.path() + "/backups"), "maestro-db\n") << "the journal's local repository";
}

// The readers through a real SFTP server: a repository made locally and
// reached as rclone:t:PATH lists, shows, verifies and restores --to the same;
// a flipped byte on the server fails verify --read-data with exit 4.
TEST_F(RcloneFaultTest, SnapshotReadersAndRestoreToWorkOnARemoteRepository) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string root = dir_.Sub("root");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "20"}).exit_code, 0);
  CliResult made = RunCli({"--root", root, "-q", "snap", "create"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::string local = root + "/backups/maestro-db";
  std::string remote = "rclone:t:" + local;
  std::vector<std::string> env = server_->RcloneEnv("t");
  CliResult here = RunCli({"--repo", local, "--json", "snap", "list"});
  CliResult there = RunCli({"--repo", remote, "--json", "snap", "list"}, env);
  ASSERT_EQ(there.exit_code, 0) << there.err;
  EXPECT_EQ(there.out, here.out);
  CliResult show = RunCli({"--repo", remote, "snap", "show", "latest"}, env);
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("maestro.db"), std::string::npos) << show.out;
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;

  CliResult restore = RunCli({"--repo", remote, "snap", "restore", "latest", "--to", dir_.Sub("out")}, env);
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(TreeDigest(dir_.Sub("out/pdfs")), TreeDigest(root + "/ai_researcher/data/raw_pdfs"))
      << "restore --to from the remote brings the files back exactly";
  // In place is a transaction: its journal and pre-image go to a local repository (tests/dr_test.cc).
  CliResult in_place = RunCli({"--root", root, "--repo", remote, "--yes", "snap", "restore", "latest",
                               "--pre-image-repo", dir_.Sub("pre")}, env);
  EXPECT_EQ(in_place.exit_code, 0) << in_place.err;

  std::string pack = Sh("ls " + local + "/packs | head -1");
  ASSERT_FALSE(pack.empty());
  pack.pop_back();
  {
    std::fstream f(local + "/packs/" + pack, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(100);
    f.write(&c, 1);
  }
  verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 4) << verify.err << verify.out;
}

// Writers keep several packs uploading at once on a remote (Backend::ParallelPuts):
// the option, else $MAESTRO_DB_RCLONE_UPLOADS, else the default; at most 16.
TEST(RcloneBackendTest, ParallelUploadsComeFromTheOptionThenTheEnvironmentThenTheDefault) {
  std::string why;
  if (!HaveRclone(&why)) GTEST_SKIP() << why;
  TempDir dir;
  auto uploads = [&](int option) {
    RcloneBackendOptions o = TestOptions({});
    o.parallel_uploads = option;
    auto b = NewRcloneBackend("rclone:" + dir.Sub("repo"), o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? (*b)->ParallelPuts() : -1;
  };
  ::unsetenv("MAESTRO_DB_RCLONE_UPLOADS");
  EXPECT_EQ(uploads(0), kDefaultRcloneUploads);
  EXPECT_GT(kDefaultRcloneUploads, 1);
  ::setenv("MAESTRO_DB_RCLONE_UPLOADS", "5", 1);
  EXPECT_EQ(uploads(0), 5);
  EXPECT_EQ(uploads(2), 2);
  ::setenv("MAESTRO_DB_RCLONE_UPLOADS", "99", 1);
  EXPECT_EQ(uploads(0), 16);
  ::unsetenv("MAESTRO_DB_RCLONE_UPLOADS");
  EXPECT_EQ(NewLocalBackend(Env::Default(), dir.Sub("local"))->ParallelPuts(), 1);
}

TEST(RcloneBackendTest, MalformedSpecIsRefusedWithTheForm) {
  auto b = NewRcloneBackend("rclone:nocolon");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(b.status().message().find("rclone:REMOTE:PATH"), std::string::npos) << b.status().ToString();
}

// rclone's rc API takes paths in JSON (UTF-8 only): a remote folder named
// otherwise was made by `snap init`, then `snap create` aborted on it
// (std::terminate). Refused up front, nothing made.
TEST(RcloneBackendTest, ARemotePathThatIsNotUtf8IsRefusedBeforeRcloneStarts) {
  TempDir d;
  const std::string folder = d.Sub("repo-\xff");
  auto b = NewRcloneBackend("rclone::local:" + folder);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(b.status().message().find("not UTF-8"), std::string::npos) << b.status().ToString();
  EXPECT_NE(b.status().message().find("\\xff"), std::string::npos) << "the byte shown escaped";
  EXPECT_FALSE(Env::Default()->DirExists(folder));
}

TEST(RcloneBackendTest, UnknownRemoteIsIoErrorWithRclonesOwnWords) {
  std::string why;
  if (!HaveRclone(&why)) GTEST_SKIP() << why;
  TempDir d;
  RcloneBackendOptions o;
  o.extra_env = {"RCLONE_CONFIG=" + d.Sub("empty.conf")};
  auto b = NewRcloneBackend("rclone:nosuchremote:x", o);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.status().IsIoError()) << b.status().ToString();
  EXPECT_NE(b.status().message().find("rclone:nosuchremote:x"), std::string::npos) << b.status().ToString();
  EXPECT_NE(b.status().message().find("didn't find section in config file"), std::string::npos)
      << b.status().ToString();
}

TEST(RcloneBackendTest, MissingRcloneProgramSaysWhatToInstall) {
  RcloneBackendOptions o;
  o.program = "/nonexistent/rclone";
  auto b = NewRcloneBackend("rclone:x:y", o);
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(b.status().IsIoError());
  EXPECT_NE(b.status().message().find("rclone package"), std::string::npos) << b.status().ToString();
}

// RCLONE_* variables meant for other uses of rclone must not change how the
// child serves us (TLS, other credentials, logs elsewhere, append-only...).
TEST(RcloneBackendTest, UnrelatedRcloneVariablesDoNotChangeTheProtocol) {
  std::string why;
  if (!HaveRclone(&why)) GTEST_SKIP() << why;
  TempDir d;
  const std::vector<std::pair<const char*, const char*>> hostile = {
      {"RCLONE_LOG_LEVEL", "ERROR"}, {"RCLONE_VERBOSE", "2"}, {"RCLONE_LOG_FILE", "/nonexistent/log"},
      {"RCLONE_CERT", "/nonexistent/cert"}, {"RCLONE_KEY", "/nonexistent/key"},
      {"RCLONE_HTPASSWD", "/nonexistent/htpasswd"}, {"RCLONE_BASEURL", "/elsewhere"},
      {"RCLONE_APPEND_ONLY", "true"}, {"RCLONE_USE_JSON_LOG", "true"}, {"RCLONE_USER", "someone"}};
  for (const auto& [k, v] : hostile) ::setenv(k, v, 1);
  auto b = NewRcloneBackend("rclone:" + d.Sub("repo"));
  for (const auto& kv : hostile) ::unsetenv(kv.first);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE((*b)->Put(ObjectKind::kPack, "a.pack", "data").ok());
  std::string got;
  ASSERT_TRUE((*b)->Get(ObjectKind::kPack, "a.pack", &got).ok());
  EXPECT_EQ(got, "data");
  EXPECT_TRUE((*b)->Remove(ObjectKind::kPack, "a.pack").ok());
}

TEST(RcloneBackendTest, DestroyingTheBackendStopsTheChild) {
  std::string why;
  if (!HaveRclone(&why)) GTEST_SKIP() << why;
  TempDir d;
  auto b = NewRcloneBackend("rclone:" + d.Sub("repo"));  // a local path is a remote to rclone
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  pid_t pid = (*b)->ServerPid();
  ASSERT_GT(pid, 0);
  b = Status::Aborted("dropped");
  EXPECT_NE(::kill(pid, 0), 0) << "rclone still runs after its backend was destroyed";
}

}  // namespace
}  // namespace maestro::testing
