// tests/remote_txn_test.cc — the transactions and the schedule of an install
// whose repository is remote (issue 15 point 1, cli/remote_txn.h): the journal
// and the pre-image go to a LOCAL repository, so a rollback never needs the
// network, and the pre-image is copied to the remote after the commit (a copy
// that fails is a warning naming the command to run). Also encrypted remotes in
// the disaster-recovery restore and the scheduled copy (point 2). Against a
// real sshd on 127.0.0.1 (tests/sftp_server.h), reached through rclone's sftp
// backend; skipped, with the reason printed, when sshd or rclone is missing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/sftp_server.h"
#include "tests/store_digest.h"
#include "tests/test_util.h"
#include "util/env.h"

namespace maestro::testing {
namespace {

const std::vector<std::string> kFastKdf = {"--kdf-ops", "1", "--kdf-mem-kib", "8"};

nlohmann::json Json(const CliResult& r) { return nlohmann::json::parse(r.out, nullptr, false); }

class RemoteTxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(dir_.Sub("ssh").c_str(), 0700);
    server_ = SftpServer::Start(dir_.Sub("ssh"), /*append_only=*/false, &skip_);
    if (server_ == nullptr) GTEST_SKIP() << "no SFTP server for the remote-transaction suite: " << skip_;
    env_ = server_->RcloneEnv("t");
    root_ = dir_.Sub("root");
  }

  void MakeDemo(const std::string& root, int documents = 12) {
    CliResult demo = RunCli({"demo", "create", root, "--documents", std::to_string(documents)});
    ASSERT_EQ(demo.exit_code, 0) << demo.err;
  }
  std::string served_repo() const { return dir_.Sub("served/repo"); }
  std::string remote() const { return "rclone:t:" + served_repo(); }
  std::string local_repo() const { return root_ + "/backups/maestro-db"; }

  // maestro-db --root root_ --repo REMOTE ARGS..., with the remote's rclone settings.
  CliResult OnRemote(std::vector<std::string> args, std::vector<std::string> more_env = {}) {
    std::vector<std::string> all = {"--root", root_, "--repo", remote()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<std::string> env = env_;
    env.insert(env.end(), more_env.begin(), more_env.end());
    return RunCli(all, env);
  }
  // The remote's snapshot ids (empty when it holds no repository).
  std::vector<std::string> RemoteIds(const std::vector<std::string>& more_env = {}) {
    std::vector<std::string> env = env_;
    env.insert(env.end(), more_env.begin(), more_env.end());
    CliResult r = RunCli({"--repo", remote(), "--json", "snap", "list"}, env);
    std::vector<std::string> ids;
    auto j = Json(r);
    if (r.exit_code == 0 && j.is_array())
      for (const auto& s : j) ids.push_back(s["id"]);
    return ids;
  }
  std::string PasswordFile(const std::string& name, const std::string& text) {
    std::string p = dir_.Sub(name + ".pw");
    WriteFile(p, text);
    ::chmod(p.c_str(), 0600);
    return p;
  }

  TempDir dir_;
  std::string skip_, root_;
  std::unique_ptr<SftpServer> server_;
  std::vector<std::string> env_;
};

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST_F(RemoteTxnTest, ResetJournalsInTheLocalRepositoryAndCopiesThePreImageToTheRemote) {
  MakeDemo(root_);
  const auto before = StoreDigest(root_);
  CliResult r = OnRemote({"--yes", "--json", "reset"}, {"MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = Json(r);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["outcome"], "committed");
  const std::string pre = j["snapshot"];
  EXPECT_EQ(j["remote_copy"]["copied"], true) << r.out;
  EXPECT_EQ(j["remote_copy"]["to"], remote());
  EXPECT_NE(StoreDigest(root_), before) << "reset emptied the stores";
  // The pre-image is in both: the local repository (which holds the journal) and the remote.
  CliResult local = RunCli({"--root", root_, "--json", "snap", "list"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  ASSERT_EQ(Json(local).size(), 1u) << local.out;
  EXPECT_EQ(Json(local)[0]["id"], pre);
  EXPECT_EQ(Json(local)[0]["trigger"], "pre-reset");
  EXPECT_EQ(RemoteIds(), std::vector<std::string>{pre});
  // The remote's copy alone brings the install back (the local repository gone).
  Sh("rm -rf '" + root_ + "/backups'");
  CliResult back = OnRemote({"--yes", "snap", "restore", pre}, {"MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(back.exit_code, 0) << back.err << back.out;
  EXPECT_EQ(StoreDigest(root_), before);
}

// A crash before the commit, then the network gone: recover rolls it back from
// the local pre-image, and nothing of it ever reached the remote.
TEST_F(RemoteTxnTest, ResetKilledHalfWayIsRolledBackWithTheRemoteDown) {
  MakeDemo(root_);
  const auto before = StoreDigest(root_);
  CliResult crashed = OnRemote({"--yes", "reset"}, {"MAESTRO_DB_CRASH_AT=store.after_aside"});
  ASSERT_EQ(crashed.exit_code, -9) << "killed at the crash point: " << crashed.err;
  EXPECT_NE(StoreDigest(root_), before) << "a store is aside: half-changed";
  server_->Kill();
  // Another transaction on the remote repository is refused by the local journal.
  CliResult refused = OnRemote({"--yes", "reset"});
  EXPECT_EQ(refused.exit_code, 6) << refused.err;
  EXPECT_NE(refused.err.find("recover"), std::string::npos) << refused.err;
  CliResult rec = OnRemote({"--json", "recover"}, {"MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err << rec.out;
  EXPECT_EQ(Json(rec)["outcome"], "rolled_back") << rec.out;
  EXPECT_EQ(StoreDigest(root_), before) << "every store as before the reset";
  FileInfo fi;
  ASSERT_TRUE(Env::Default()->Stat(served_repo(), &fi).ok());
  EXPECT_FALSE(fi.exists) << "the remote was never written";
}

// The remote holds what an unfinished restore in place from it still needs
// (recover rolls it forward by reading that snapshot again), so every writer
// of the remote is refused by the install's local journal, as a writer of a
// local repository is, and the remote is left exactly as it was; after
// `recover` they run again.
TEST_F(RemoteTxnTest, WritersOfTheRemoteAreRefusedWhileARestoreFromItIsUnfinished) {
  MakeDemo(root_);
  for (int i = 0; i < 2; ++i) {
    CliResult made = OnRemote({"-q", "snap", "create"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    if (i == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // distinct ids
  }
  const std::vector<std::string> ids = RemoteIds();
  ASSERT_EQ(ids.size(), 2u);
  CliResult crashed = OnRemote({"--yes", "snap", "restore", ids[0]}, {"MAESTRO_DB_CRASH_AT=store.after_aside"});
  ASSERT_EQ(crashed.exit_code, -9) << "killed at the crash point: " << crashed.err;
  const std::string files_before = Sh("cd '" + served_repo() + "' && find . -type f ! -path './locks/*' | sort");
  const std::vector<std::vector<std::string>> writers = {{"snap", "delete", ids[0]},
                                                         {"snap", "prune", "--keep-last", "1"},
                                                         {"snap", "repair"},
                                                         {"snap", "upgrade"},
                                                         {"snap", "create"},
                                                         {"snap", "import-legacy"}};
  for (const auto& w : writers) {
    std::vector<std::string> args = {"--yes"};
    args.insert(args.end(), w.begin(), w.end());
    CliResult refused = OnRemote(args);
    EXPECT_EQ(refused.exit_code, 6) << w[1] << ": " << refused.err;
    EXPECT_NE(refused.err.find("--repo " + remote() + " recover"), std::string::npos) << w[1] << ": " << refused.err;
    EXPECT_NE(refused.err.find(local_repo()), std::string::npos) << w[1] << " names the journal's place: " << refused.err;
  }
  EXPECT_EQ(RemoteIds(), ids) << "the remote's listing as it was";
  EXPECT_EQ(Sh("cd '" + served_repo() + "' && find . -type f ! -path './locks/*' | sort"), files_before)
      << "nothing on the remote changed";
  CliResult listed = OnRemote({"snap", "list"});
  EXPECT_EQ(listed.exit_code, 0) << "readers still run: " << listed.err;
  EXPECT_NE(listed.err.find("warning: an unfinished transaction"), std::string::npos) << listed.err;

  CliResult rec = OnRemote({"--json", "recover"}, {"MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err << rec.out;
  CliResult del = OnRemote({"snap", "delete", ids[0]});
  ASSERT_EQ(del.exit_code, 0) << "recovered: the writers run again: " << del.err;
  EXPECT_EQ(RemoteIds(), std::vector<std::string>{ids[1]});
}

// The commit stands when the copy to the remote fails: a warning with the
// command to run, exit 0; that command then puts the pre-image there.
TEST_F(RemoteTxnTest, CopyFailingAfterTheCommitIsAWarningWithTheCommandThatFinishesIt) {
  MakeDemo(root_);
  server_->Kill();
  CliResult r = OnRemote({"--yes", "--json", "migrate", "down", "--store", "main", "--to", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  auto j = Json(r);
  ASSERT_TRUE(j.is_object()) << r.out;
  const std::string pre = j["snapshot_id"];
  EXPECT_EQ(j["remote_copy"]["copied"], false) << r.out;
  const std::string retry = j["remote_copy"]["retry"];
  EXPECT_EQ(retry, "maestro-db --repo " + local_repo() + " snap copy " + pre + " --to " + remote());
  EXPECT_NE(r.err.find("warning: the transaction is committed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(retry), std::string::npos) << r.err;
  CliResult status = OnRemote({"--json", "migrate", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(Json(status)["stores"]["main"]["current"], 1) << status.out;
  ASSERT_TRUE(server_->Restart());
  CliResult again = RunCli({"--repo", local_repo(), "snap", "copy", pre, "--to", remote()}, env_);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(RemoteIds(), std::vector<std::string>{pre});
  // And migrate up on the remote repository: its pre-image goes there at once.
  CliResult up = OnRemote({"--yes", "--json", "migrate", "up"});
  ASSERT_EQ(up.exit_code, 0) << up.err << up.out;
  EXPECT_EQ(Json(up)["remote_copy"]["copied"], true) << up.out;
  EXPECT_TRUE(Contains(RemoteIds(), Json(up)["snapshot_id"])) << up.out;
}

TEST_F(RemoteTxnTest, PreImageRepoTakesTheJournalAndIsRefusedWhereItCannotApply) {
  MakeDemo(root_);
  const auto before = StoreDigest(root_);
  const std::string pre_dir = dir_.Sub("pre-images");
  CliResult local = RunCli({"--root", root_, "--yes", "reset", "--pre-image-repo", pre_dir});
  EXPECT_EQ(local.exit_code, 2) << local.err;
  EXPECT_NE(local.err.find("--pre-image-repo is only for a remote repository"), std::string::npos) << local.err;
  CliResult remote_pre = OnRemote({"--yes", "cleanup", "--all", "--pre-image-repo", "rclone:t:" + dir_.Sub("x")});
  EXPECT_EQ(remote_pre.exit_code, 2) << remote_pre.err;
  EXPECT_NE(remote_pre.err.find("must be a local folder"), std::string::npos) << remote_pre.err;
  EXPECT_EQ(StoreDigest(root_), before) << "a refused command changes nothing";
  FileInfo fi;
  ASSERT_TRUE(Env::Default()->Stat(pre_dir, &fi).ok());
  EXPECT_FALSE(fi.exists);
  ASSERT_TRUE(Env::Default()->Stat(local_repo(), &fi).ok());
  EXPECT_FALSE(fi.exists);

  // Given with a remote: the journal and pre-image go there, not to <root>/backups.
  CliResult r = OnRemote({"--yes", "--json", "reset", "--pre-image-repo", pre_dir}, {"MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string pre = Json(r)["snapshot"];
  CliResult listed = RunCli({"--repo", pre_dir, "--json", "snap", "list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(Json(listed)[0]["id"], pre);
  ASSERT_TRUE(Env::Default()->Stat(local_repo(), &fi).ok());
  EXPECT_FALSE(fi.exists) << "--pre-image-repo given: the default local repository is not made";
  EXPECT_EQ(RemoteIds(), std::vector<std::string>{pre});
}

// `schedule` with a remote --repo is "local + copy": the nightly snapshot in
// the local repository, then the copy job to the remote; status reports it.
TEST_F(RemoteTxnTest, ScheduleWithARemoteRepoSnapshotsLocallyThenCopiesToTheRemote) {
  MakeDemo(root_);
  WriteFile(dir_.Sub("s.ini"), "[schedule]\nmonitor = off\n");
  auto run = [&](const char* job) {
    return OnRemote({"--config", dir_.Sub("s.ini"), "schedule", "run", "--now", job});
  };
  CliResult snap = run("snapshot");
  ASSERT_EQ(snap.exit_code, 0) << snap.err << snap.out;
  CliResult copy = run("copy");
  ASSERT_EQ(copy.exit_code, 0) << copy.err << copy.out;
  CliResult local = RunCli({"--root", root_, "--json", "snap", "list"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  ASSERT_EQ(Json(local).size(), 1u) << local.out;
  EXPECT_EQ(Json(local)[0]["trigger"], "scheduled");
  EXPECT_EQ(RemoteIds(), std::vector<std::string>{Json(local)[0]["id"]});
  CliResult status = OnRemote({"--config", dir_.Sub("s.ini"), "--json", "schedule", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(Json(status)["offsite"]["target"], remote()) << status.out;
  EXPECT_TRUE(Json(status)["offsite"]["newest"].is_string()) << status.out;
  CliResult unit = OnRemote({"--config", dir_.Sub("s.ini"), "schedule", "install", "--systemd", "--print"});
  ASSERT_EQ(unit.exit_code, 0) << unit.err;
  EXPECT_NE(unit.out.find("\"--repo\" \"" + remote() + "\""), std::string::npos) << unit.out;

  // copy_to naming another target beside a remote --repo is ambiguous: refused, nothing run.
  WriteFile(dir_.Sub("other.ini"), "[schedule]\nmonitor = off\ncopy_to = rclone:t:" + dir_.Sub("else") + "\n");
  CliResult both = OnRemote({"--config", dir_.Sub("other.ini"), "schedule", "run", "--now", "snapshot"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_NE(both.err.find("schedule.copy_to"), std::string::npos) << both.err;
  CliResult after = RunCli({"--root", root_, "--json", "snap", "list"});
  EXPECT_EQ(Json(after).size(), 1u) << "no snapshot was taken: " << after.out;
}

// Point 2: disaster recovery from an ENCRYPTED remote, in place and --to, the
// password from MAESTRO_DB_PASSWORD_FILE; a wrong one is exit 10 and writes nothing.
TEST_F(RemoteTxnTest, RestoreFromAnEncryptedRemoteInPlaceAndToADirectory) {
  const std::string pw = PasswordFile("pw", "offsite secret\n");
  std::vector<std::string> init = {"--repo", remote(), "--password-file", pw, "snap", "init", "--encrypt"};
  init.insert(init.end(), kFastKdf.begin(), kFastKdf.end());
  ASSERT_EQ(RunCli(init, env_).exit_code, 0);
  const std::string old_root = dir_.Sub("old");
  MakeDemo(old_root);
  CliResult made = RunCli({"--root", old_root, "--repo", remote(), "--password-file", pw, "-q", "snap", "create"}, env_);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string id = made.out.substr(0, made.out.find('\n'));
  const auto before = StoreDigest(old_root);
  Sh("rm -rf '" + old_root + "'");

  CliResult wrong = OnRemote({"--yes", "snap", "restore", id}, {"MAESTRO_DB_PASSWORD_FILE=" + PasswordFile("bad", "no")});
  EXPECT_EQ(wrong.exit_code, 10) << wrong.err;
  for (const auto& [store, digest] : StoreDigest(root_)) EXPECT_EQ(digest, "absent") << store;

  const std::string to = dir_.Sub("out");
  CliResult plain_files = OnRemote({"snap", "restore", id, "--to", to}, {"MAESTRO_DB_PASSWORD_FILE=" + pw});
  ASSERT_EQ(plain_files.exit_code, 0) << plain_files.err;
  // Plain files, one folder per store under --to: every markdown and metadata file is there.
  size_t files = 0;
  for (const auto& [path, digest] : before)
    if (path.rfind("markdown/", 0) == 0 || path.rfind("metadata/", 0) == 0) {
      FileInfo fi;
      ASSERT_TRUE(Env::Default()->Stat(to + "/" + path, &fi).ok());
      EXPECT_TRUE(fi.exists) << path << ": " << Sh("find '" + to + "' -maxdepth 2 | head");
      ++files;
    }
  EXPECT_GT(files, 10u);

  CliResult in_place = OnRemote({"--yes", "--json", "snap", "restore", id},
                                {"MAESTRO_DB_PASSWORD_FILE=" + pw, "MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(in_place.exit_code, 0) << in_place.err << in_place.out;
  EXPECT_EQ(StoreDigest(root_), before);
  EXPECT_TRUE(Json(in_place)["remote_copy"].is_null()) << "a fresh machine's empty pre-image stays local";
  EXPECT_EQ(RemoteIds({"MAESTRO_DB_PASSWORD_FILE=" + pw}), std::vector<std::string>{id});
}

// Point 2: the scheduled copy to an encrypted remote, the password from
// MAESTRO_DB_PASSWORD_FILE (the local repository is made encrypted with it too).
TEST_F(RemoteTxnTest, ScheduledCopyToAnEncryptedRemoteWithThePasswordFromTheEnvironment) {
  const std::string pw = PasswordFile("pw", "offsite secret\n");
  std::vector<std::string> init = {"--repo", remote(), "--password-file", pw, "snap", "init", "--encrypt"};
  init.insert(init.end(), kFastKdf.begin(), kFastKdf.end());
  ASSERT_EQ(RunCli(init, env_).exit_code, 0);
  MakeDemo(root_);
  WriteFile(dir_.Sub("s.ini"), "[schedule]\nmonitor = off\ncopy_to = " + remote() + "\n");
  std::vector<std::string> env = env_;
  env.push_back("MAESTRO_DB_PASSWORD_FILE=" + pw);
  for (const char* job : {"snapshot", "copy"}) {
    CliResult r = RunCli({"--root", root_, "--config", dir_.Sub("s.ini"), "schedule", "run", "--now", job}, env);
    ASSERT_EQ(r.exit_code, 0) << job << ": " << r.err << r.out;
  }
  CliResult local = RunCli({"--root", root_, "--json", "snap", "list"}, env);
  ASSERT_EQ(local.exit_code, 0) << local.err;
  ASSERT_EQ(Json(local).size(), 1u) << local.out;
  EXPECT_EQ(RemoteIds({"MAESTRO_DB_PASSWORD_FILE=" + pw}), std::vector<std::string>{Json(local)[0]["id"]});
  CliResult verify = RunCli({"--repo", remote(), "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  CliResult no_pw = RunCli({"--repo", remote(), "snap", "list"}, env_);
  EXPECT_EQ(no_pw.exit_code, 2) << "encrypted: no password, no terminal: " << no_pw.err;
}

}  // namespace
}  // namespace maestro::testing
