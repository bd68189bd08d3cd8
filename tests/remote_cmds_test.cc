// tests/remote_cmds_test.cc — the commands that take --repo and had no way
// to a remote repository (issue 15 point 1): `stats`, `check`, `journal`,
// `purge-trash`, `snap init [--encrypt]`, `snap key add/remove/passwd`,
// `snap upgrade`, `snap verify --drill`, and `snap create` making a new
// encrypted remote. Each runs against a real sshd on 127.0.0.1
// (tests/sftp_server.h) reached through rclone's sftp backend, with the
// guarantees it has locally: the remote lease lock where it writes, nothing
// half-written, --json as with a local repository. Skipped, with the reason
// printed, when sshd or rclone is missing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "snapshot/backend.h"
#include "snapshot/open_backend.h"
#include "snapshot/remote_lock.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "tests/sftp_server.h"
#include "tests/support/fault_env.h"
#include "tests/test_util.h"
#include "util/env.h"

namespace maestro::testing {
namespace {

const std::vector<std::string> kFastKdf = {"--kdf-ops", "1", "--kdf-mem-kib", "8"};
const std::string kFormat3Fixture = std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/data/format3_repo";

nlohmann::json Json(const CliResult& r) { return nlohmann::json::parse(r.out, nullptr, false); }

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class RemoteCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(dir_.Sub("ssh").c_str(), 0700);
    server_ = SftpServer::Start(dir_.Sub("ssh"), /*append_only=*/false, &skip_);
    if (server_ == nullptr) GTEST_SKIP() << "no SFTP server for the remote-command suite: " << skip_;
    env_ = server_->RcloneEnv("t");
    env_.push_back("XDG_CACHE_HOME=" + dir_.Sub("cache"));  // the remote's local scratch
    root_ = dir_.Sub("root");
  }

  void MakeDemo(int documents = 12) {
    CliResult demo = RunCli({"demo", "create", root_, "--documents", std::to_string(documents)});
    ASSERT_EQ(demo.exit_code, 0) << demo.err;
  }
  std::string served(const std::string& name = "repo") const { return dir_.Sub("served/" + name); }
  std::string remote(const std::string& name = "repo") const { return "rclone:t:" + served(name); }

  // maestro-db [--root root_] --repo REMOTE ARGS..., with the remote's rclone settings.
  CliResult OnRemote(const std::vector<std::string>& args, const std::string& name = "repo", bool with_root = true) {
    std::vector<std::string> all = {"--repo", remote(name)};
    if (with_root) all = Concat({"--root", root_}, all);
    return RunCli(Concat(all, args), env_);
  }
  std::string PasswordFile(const std::string& name, const std::string& text) {
    std::string p = dir_.Sub(name + ".pw");
    WriteFile(p, text);
    ::chmod(p.c_str(), 0600);
    return p;
  }
  std::string Ls(const std::string& dir) { return Sh("ls -A '" + dir + "' 2>/dev/null"); }
  // A live lease lock in the served folder, held by this test process (as another writer would).
  std::unique_ptr<RemoteLock> HoldLock(const std::string& name, std::unique_ptr<Backend>* backend) {
    *backend = NewLocalBackend(Env::Default(), served(name));
    RemoteLockOptions lo;
    lo.refresher = false;
    lo.command = "the test's other writer";
    auto lock = RemoteLock::Acquire(backend->get(), Env::Default(), lo);
    EXPECT_TRUE(lock.ok()) << lock.status().ToString();
    return lock.ok() ? std::move(lock).value() : nullptr;
  }

  TempDir dir_;
  std::string skip_, root_;
  std::unique_ptr<SftpServer> server_;
  std::vector<std::string> env_;
};

// stats and check read the stores, never the repository: with a remote
// --repo they give what they give locally, name the remote as the repository
// (--repo or [repo] path), and the remote is not touched.
TEST_F(RemoteCommandsTest, StatsAndCheckRunOnTheInstallAndNameTheRemoteRepository) {
  MakeDemo();
  CliResult here = RunCli({"--root", root_, "--json", "stats"});
  CliResult there = OnRemote({"--json", "stats"});
  ASSERT_EQ(there.exit_code, 0) << there.err;
  nlohmann::json h = Json(here), t = Json(there);
  ASSERT_TRUE(t.is_object()) << there.out;
  EXPECT_EQ(t["repo"]["path"], remote());
  EXPECT_EQ(t["repo"]["why"], "--repo");
  for (auto* j : {&h, &t}) {
    j->erase("repo");
    (*j)["install"].erase("repo");
  }
  EXPECT_EQ(t, h) << "the stores' figures are the same as with the local repository";
  CliResult text = OnRemote({"stats"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("repo      " + remote() + ": --repo"), std::string::npos) << text.out;

  WriteFile(dir_.Sub("c.ini"), "[repo]\npath = " + remote() + "\n");
  CliResult configured = RunCli({"--root", root_, "--config", dir_.Sub("c.ini"), "--json", "stats"}, env_);
  ASSERT_EQ(configured.exit_code, 0) << configured.err;
  EXPECT_EQ(Json(configured)["repo"]["path"], remote());
  EXPECT_EQ(Json(configured)["repo"]["why"], "the config file's [repo] path");

  CliResult check_here = RunCli({"--root", root_, "--json", "check"});
  CliResult check_there = OnRemote({"--json", "check"});
  ASSERT_EQ(check_there.exit_code, check_here.exit_code) << check_there.err;
  EXPECT_EQ(Json(check_there), Json(check_here));
  EXPECT_EQ(Json(check_there)["consistent"], true) << check_there.out;

  EXPECT_FALSE(std::filesystem::exists(served())) << "the remote was not written";
  EXPECT_EQ(Sh("find '" + root_ + "' -name '*rclone*' | wc -l"), "0\n") << "no folder named rclone:… is made";
}

// init --encrypt on a remote: the first key file, then the config last, under
// the remote's lease lock (released after); the same --json as locally; a
// second init is refused; a held lock refuses it with nothing made.
TEST_F(RemoteCommandsTest, InitEncryptMakesTheKeyThenTheConfigOnTheRemoteUnderItsLeaseLock) {
  const std::string pw = PasswordFile("pw", "remote secret");
  CliResult r = OnRemote(Concat({"--json", "--password-file", pw, "snap", "init", "--encrypt"}, kFastKdf));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j["repository"], remote());
  EXPECT_EQ(j["encrypted"], true);
  EXPECT_EQ(j["encryption"], "xchacha20poly1305+keyed-xxh3");
  EXPECT_EQ(j["kdf"]["opslimit"], 1);
  const std::string key_id = j["key_id"];
  EXPECT_EQ(Ls(served("repo/keys")), key_id + "\n");
  EXPECT_NE(ReadFile(served("repo/config")).find("encryption=xchacha20poly1305"), std::string::npos);
  EXPECT_EQ(Ls(served("repo/locks")), "") << "the lease lock was released";

  CliResult local = RunCli(Concat({"--repo", dir_.Sub("local"), "--json", "--password-file", pw, "snap", "init",
                                   "--encrypt"}, kFastKdf));
  ASSERT_EQ(local.exit_code, 0) << local.err;
  nlohmann::json lj = Json(local);
  for (auto* x : {&j, &lj}) {
    x->erase("repository");
    x->erase("key_id");
  }
  EXPECT_EQ(j, lj) << "the same JSON as a local init";

  CliResult again = OnRemote(Concat({"--password-file", pw, "snap", "init", "--encrypt"}, kFastKdf));
  EXPECT_EQ(again.exit_code, 2) << again.err;
  EXPECT_NE(again.err.find("exists already"), std::string::npos) << again.err;
  EXPECT_EQ(Ls(served("repo/keys")), key_id + "\n") << "a refused init changes nothing";

  // It works as a repository: a snapshot written and read back with the password, refused without it.
  MakeDemo();
  CliResult made = OnRemote({"--password-file", pw, "-q", "snap", "create"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  CliResult verify = OnRemote({"--password-file", pw, "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  EXPECT_EQ(OnRemote({"--password-file", PasswordFile("bad", "nope"), "snap", "list"}).exit_code, 10);

  // Another writer holds the remote's lease lock: init waits for none and makes nothing.
  ::mkdir(served("held").c_str(), 0700);
  std::unique_ptr<Backend> b;
  auto held = HoldLock("held", &b);
  ASSERT_NE(held, nullptr);
  CliResult busy = OnRemote(Concat({"--password-file", pw, "snap", "init", "--encrypt"}, kFastKdf), "held");
  EXPECT_EQ(busy.exit_code, 5) << busy.err;
  EXPECT_NE(busy.err.find(std::to_string(::getpid())), std::string::npos) << "names the holder: " << busy.err;
  EXPECT_EQ(Ls(served("held")), "locks\n") << "no key file, no config";
}

// key add, passwd and remove on a remote: each new key file is written before
// the old one goes, the last key is never removed, and a held lease lock
// refuses a writer with the key files unchanged.
TEST_F(RemoteCommandsTest, KeyPasswdAndRemoveOnARemoteNeverLeaveItWithoutAKey) {
  const std::string one = PasswordFile("one", "first"), two = PasswordFile("two", "second"),
                    three = PasswordFile("three", "third");
  ASSERT_EQ(OnRemote(Concat({"--password-file", one, "snap", "init", "--encrypt"}, kFastKdf)).exit_code, 0);
  CliResult add = OnRemote(Concat({"--json", "--password-file", one, "snap", "key", "add", "--new-password-file", two},
                                  kFastKdf));
  ASSERT_EQ(add.exit_code, 0) << add.err;
  const std::string two_id = Json(add)["added"];
  CliResult passwd = OnRemote(Concat({"--json", "--password-file", two, "snap", "key", "passwd",
                                      "--new-password-file", three}, kFastKdf));
  ASSERT_EQ(passwd.exit_code, 0) << passwd.err;
  EXPECT_EQ(Json(passwd)["removed"], two_id);
  const std::string three_id = Json(passwd)["added"];
  EXPECT_EQ(OnRemote({"--password-file", two, "snap", "key", "list"}).exit_code, 10) << "the old password is gone";
  CliResult list = OnRemote({"--json", "--password-file", three, "snap", "key", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_EQ(Json(list)["keys"].size(), 2u) << list.out;
  std::string one_id;
  const nlohmann::json keys = Json(list)["keys"];
  for (const auto& k : keys)
    if (k["current"] == false) one_id = k["id"];

  CliResult rm = OnRemote({"--json", "--password-file", three, "snap", "key", "remove", one_id.substr(0, 8)});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(Json(rm)["removed"], one_id);
  CliResult last = OnRemote({"--password-file", three, "snap", "key", "remove", three_id});
  EXPECT_EQ(last.exit_code, 2) << last.err;
  EXPECT_NE(last.err.find("no other key file"), std::string::npos) << last.err;
  EXPECT_EQ(Ls(served("repo/keys")), three_id + "\n") << "the last key stays";

  std::unique_ptr<Backend> b;
  auto held = HoldLock("repo", &b);
  ASSERT_NE(held, nullptr);
  CliResult busy = OnRemote(Concat({"--password-file", three, "snap", "key", "add", "--new-password-file", one},
                                   kFastKdf));
  EXPECT_EQ(busy.exit_code, 5) << busy.err;
  EXPECT_EQ(Ls(served("repo/keys")), three_id + "\n") << "a refused writer changes nothing";
  EXPECT_EQ(OnRemote({"--password-file", three, "snap", "key", "list"}).exit_code, 0) << "readers take no lock";
}

// upgrade of a format-3 repository on a remote: under the lease lock, only the
// config is written (the format-3 one kept in the local scratch until the new
// one has been read back); every snapshot reads the same after, verify passes,
// the next snapshot is format 4, and a second upgrade has nothing to do.
TEST_F(RemoteCommandsTest, UpgradeOfAFormat3RemoteRewritesOnlyItsConfigUnderTheLeaseLock) {
  std::filesystem::create_directories(served(""));
  std::filesystem::copy(kFormat3Fixture, served(), std::filesystem::copy_options::recursive);
  const std::string objects_before = Sh("cd '" + served() + "' && find packs index snapshots -type f | sort");
  const std::string config_before = ReadFile(served("repo/config"));
  CliResult list_before = OnRemote({"--json", "snap", "list"});
  ASSERT_EQ(list_before.exit_code, 0) << list_before.err;

  CliResult dry = OnRemote({"--json", "snap", "upgrade", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(Json(dry)["upgraded"], false);
  EXPECT_EQ(Json(dry)["from_format"], 3);
  EXPECT_EQ(ReadFile(served("repo/config")), config_before);

  CliResult run = OnRemote({"--json", "snap", "upgrade"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Json(run), nlohmann::json({{"dry_run", false}, {"from_format", 3}, {"format", 4}, {"upgraded", true}}));
  EXPECT_NE(ReadFile(served("repo/config")).find("format_version=4"), std::string::npos);
  EXPECT_EQ(Sh("cd '" + served() + "' && find packs index snapshots -type f | sort"), objects_before)
      << "no object but the config is written";
  EXPECT_EQ(Ls(served("repo/locks")), "") << "the lease lock was released";
  EXPECT_EQ(Sh("find '" + dir_.Sub("cache") + "' -name 'config.format3*' | wc -l"), "0\n")
      << "the kept format-3 config goes once the new one is read back";
  CliResult list_after = OnRemote({"--json", "snap", "list"});
  EXPECT_EQ(list_after.out, list_before.out);
  CliResult verify = OnRemote({"snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;

  CliResult again = OnRemote({"snap", "upgrade"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find(remote() + " is already format 4"), std::string::npos) << again.out;
  MakeDemo();
  ASSERT_EQ(OnRemote({"-q", "snap", "create"}).exit_code, 0);
  verify = OnRemote({"snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;

  std::unique_ptr<Backend> b;
  auto held = HoldLock("repo", &b);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(OnRemote({"snap", "upgrade"}).exit_code, 5) << "a writer: refused while another holds the lock";
}

// The state a kill during the config's own upload leaves on SFTP: the config
// cut short (rclone killed) or gone (rclone removed the partial file), the
// format-3 one kept in the local scratch. Readers fail; the next `snap
// upgrade` puts the kept one back under the lease lock and upgrades.
TEST_F(RemoteCommandsTest, AnUpgradeCutDuringItsConfigUploadIsFinishedByTheNextRun) {
  for (const std::string how : {"cut", "gone"}) {
    SCOPED_TRACE(how);
    std::filesystem::create_directories(served(""));
    std::filesystem::copy(kFormat3Fixture, served(how), std::filesystem::copy_options::recursive);
    CliResult list_before = OnRemote({"--json", "snap", "list"}, how);
    ASSERT_EQ(list_before.exit_code, 0) << list_before.err;
    // The remote's local scratch, as the binary names it (XDG_CACHE_HOME as in env_).
    ::setenv("XDG_CACHE_HOME", dir_.Sub("cache").c_str(), 1);
    auto dir = RemoteScratchDir(Env::Default(), remote(how));
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    const std::string scratch = *dir;
    const std::string config = ReadFile(served(how + "/config"));
    WriteFile(scratch + "/upgrade/config.format3", config);
    if (how == "cut")
      WriteFile(served(how + "/config"), config.substr(0, config.size() / 2));
    else
      std::filesystem::remove(served(how + "/config"));
    EXPECT_NE(OnRemote({"snap", "list"}, how).exit_code, 0) << "readers do not guess a config";

    CliResult run = OnRemote({"--json", "snap", "upgrade"}, how);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(Json(run)["from_format"], 3) << run.out;
    EXPECT_EQ(Json(run)["upgraded"], true) << run.out;
    EXPECT_NE(ReadFile(served(how + "/config")).find("format_version=4"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(scratch + "/upgrade/config.format3"));
    EXPECT_EQ(OnRemote({"--json", "snap", "list"}, how).out, list_before.out);
  }
}

// A remote-like repository (its local folder a scratch, not the repository)
// whose config upload fails at any rename: the format-3 config is put back
// (or the upgrade went through), never a partial or missing one.
TEST(RemoteUpgradeTest, AFailedConfigUploadPutsTheFormat3ConfigBack) {
  bool put_back_seen = false;
  for (int n = 1; n <= 4; ++n) {
    SCOPED_TRACE(n);
    TempDir t;
    const std::string dir = t.Sub("repo");
    std::filesystem::copy(kFormat3Fixture, dir, std::filesystem::copy_options::recursive);
    const std::string before = ReadFile(dir + "/config");
    FaultEnv env(Env::Default());
    Status st;
    {
      auto repo = Repository::Open(&env, NewLocalBackend(&env, dir), t.Sub("scratch"), false, PlainSealer());
      ASSERT_TRUE(repo.ok()) << repo.status().ToString();
      env.ResetCounts();
      env.FailAt(FaultEnv::Op::kRename, n, EIO);
      st = (*repo)->Upgrade();
    }
    env.ClearFaults();
    auto after = Repository::Open(Env::Default(), NewLocalBackend(Env::Default(), dir), t.Sub("scratch2"), false,
                                  PlainSealer());
    ASSERT_TRUE(after.ok()) << "the config reads after: " << after.status().ToString();
    if (st.ok()) {
      EXPECT_EQ((*after)->format_version(), 4u);
      continue;
    }
    EXPECT_EQ((*after)->format_version(), 1u) << st.ToString();
    EXPECT_EQ(ReadFile(dir + "/config"), before) << st.ToString();
    if (st.message().find("put back") != std::string::npos) put_back_seen = true;
  }
  EXPECT_TRUE(put_back_seen) << "one of the renames was the config's own";
}

// verify --drill restores a remote snapshot into a scratch folder on this
// machine and checks it: the same report as from the local repository, the
// scratch removed; a damaged pack on the server fails the drill.
TEST_F(RemoteCommandsTest, DrillRestoresARemoteSnapshotIntoAScratchFolder) {
  MakeDemo();
  ASSERT_EQ(RunCli({"--root", root_, "-q", "snap", "create"}).exit_code, 0);
  CliResult copy = RunCli({"--root", root_, "snap", "copy", "--all", "--to", remote()}, env_);
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  ::mkdir(dir_.Sub("scratch").c_str(), 0700);
  CliResult here = RunCli({"--root", root_, "--json", "snap", "verify", "--drill", "latest"});
  CliResult there = OnRemote({"--json", "snap", "verify", "--drill", "latest", "--scratch", dir_.Sub("scratch")});
  ASSERT_EQ(there.exit_code, 0) << there.err << there.out;
  EXPECT_EQ(Json(there), Json(here)) << "the same drill report as from the local repository";
  EXPECT_EQ(Json(there)["ok"], true);
  EXPECT_GE(Json(there)["databases_checked"].get<int>(), 2) << there.out;
  EXPECT_EQ(Ls(dir_.Sub("scratch")), "") << "the scratch copy is removed";

  const std::string pack = Sh("cd '" + served("repo/packs") + "' && ls -S | head -1");
  ASSERT_FALSE(pack.empty());
  {
    std::fstream f(served("repo/packs/") + pack.substr(0, pack.size() - 1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x5a');
  }
  CliResult damaged = OnRemote({"--json", "snap", "verify", "--drill", "latest", "--scratch", dir_.Sub("scratch")});
  // 1: a store failed to restore (a problem of the report); 4: the listing itself is damaged.
  EXPECT_TRUE(damaged.exit_code == 1 || damaged.exit_code == 4) << damaged.exit_code << damaged.err << damaged.out;
  if (damaged.exit_code == 1) {
    EXPECT_EQ(Json(damaged)["ok"], false) << damaged.out;
  }
  EXPECT_EQ(Ls(dir_.Sub("scratch")), "");
}

// journal and purge-trash with a remote --repo: the transactions of such an
// install journal in the local repository (cli/remote_txn.h), and that is the
// journal they show; the trash beside the stores is purged as locally.
TEST_F(RemoteCommandsTest, JournalAndPurgeTrashOfARemoteRepositoryAreTheLocalOnes) {
  MakeDemo();
  CliResult reset = RunCli({"--root", root_, "--repo", remote(), "--yes", "reset"},
                           Concat(env_, {"MAESTRO_DB_PURGE=later"}));
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  CliResult status = OnRemote({"--json", "journal", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(Json(status)["exists"], true) << status.out;
  EXPECT_EQ(Json(status)["journal"].get<std::string>().rfind(root_ + "/backups/", 0), 0u) << status.out;
  EXPECT_EQ(Json(status)["last"]["outcome"], "committed") << status.out;
  EXPECT_FALSE(Json(status)["trash"].empty()) << "MAESTRO_DB_PURGE=later left the old stores: " << status.out;
  CliResult log = OnRemote({"--json", "journal", "log"});
  EXPECT_EQ(log.exit_code, 0) << log.err;

  CliResult purge = OnRemote({"--json", "purge-trash"});
  ASSERT_EQ(purge.exit_code, 0) << purge.err;
  EXPECT_FALSE(Json(purge)["entries"].empty()) << purge.out;
  EXPECT_TRUE(Json(OnRemote({"--json", "journal", "status"}))["trash"].empty());
}

// snap create into a remote that holds no repository, with a password given:
// an ENCRYPTED repository is made there (as locally), never one in clear.
TEST_F(RemoteCommandsTest, CreateWithAPasswordOnAnEmptyRemoteMakesItEncrypted) {
  MakeDemo();
  const std::string pw = PasswordFile("pw", "create secret");
  CliResult r = OnRemote({"--password-file", pw, "-q", "snap", "create"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ENCRYPTED"), std::string::npos) << r.err;
  EXPECT_NE(ReadFile(served("repo/config")).find("encryption=xchacha20poly1305"), std::string::npos);
  EXPECT_EQ(Sh("ls '" + served("repo/keys") + "' | wc -l"), "1\n");
  CliResult list = OnRemote({"--json", "--password-file", pw, "snap", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(Json(list).size(), 1u);
  EXPECT_NE(OnRemote({"snap", "list"}, "repo").exit_code, 0) << "no password: not readable";
  // Without a password a new remote is made unencrypted, as before.
  CliResult plain = OnRemote({"-q", "snap", "create"}, "plain");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(ReadFile(served("plain/config")).find("encryption=none"), std::string::npos);
}

}  // namespace
}  // namespace maestro::testing
