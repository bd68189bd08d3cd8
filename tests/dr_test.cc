// tests/dr_test.cc — disaster recovery (issue 15 point 6) against a real SFTP
// server on 127.0.0.1 (tests/sftp_server.h: OpenSSH's sshd, reached through
// rclone's sftp backend): the repository lives only in the served folder, the
// machine's install and local repository are deleted, and `snap restore ID` in
// place into a NEW root brings every store back (tests/store_digest.h), with
// the journal and the pre-image in a local repository the restore creates. A
// crash in the middle is rolled back by `recover` from that local pre-image.
// Skipped, with the reason printed, when sshd or rclone is missing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "tests/sftp_server.h"
#include "tests/store_digest.h"
#include "tests/test_util.h"

namespace maestro::testing {
namespace {

class DisasterRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::mkdir(dir_.Sub("ssh").c_str(), 0700);
    server_ = SftpServer::Start(dir_.Sub("ssh"), /*append_only=*/false, &skip_);
    if (server_ == nullptr) GTEST_SKIP() << "no SFTP server for the disaster-recovery suite: " << skip_;
    env_ = server_->RcloneEnv("t");
  }

  // An install at `root` with one snapshot in the served folder; returns its id.
  std::string InstallWithASnapshotOnTheRemote(const std::string& root) {
    CliResult demo = RunCli({"demo", "create", root, "--documents", "20"});
    EXPECT_EQ(demo.exit_code, 0) << demo.err;
    CliResult made = RunCli({"--root", root, "--repo", served_repo(), "--json", "snap", "create", "--label", "before the fire"});
    EXPECT_EQ(made.exit_code, 0) << made.err;
    auto j = nlohmann::json::parse(made.out, nullptr, false);
    return j.is_object() && j.contains("id") ? j["id"].get<std::string>() : "";
  }
  std::string served_repo() const { return dir_.Sub("served/repo"); }
  std::string remote() const { return "rclone:t:" + served_repo(); }

  TempDir dir_;
  std::string skip_;
  std::unique_ptr<SftpServer> server_;
  std::vector<std::string> env_;
};

nlohmann::json Json(const CliResult& r) { return nlohmann::json::parse(r.out, nullptr, false); }

std::vector<std::string> With(std::vector<std::string> env, const std::string& more) {
  env.push_back(more);
  return env;
}

TEST_F(DisasterRecoveryTest, RestoreInPlaceFromTheRemoteIntoANewRootBringsEveryStoreBackExactly) {
  const std::string old_root = dir_.Sub("old");
  const std::string id = InstallWithASnapshotOnTheRemote(old_root);
  ASSERT_FALSE(id.empty());
  const auto before = StoreDigest(old_root);
  ASSERT_GT(before.size(), 6u);
  // The machine is gone: the install and everything under it, its local repository too.
  Sh("rm -rf '" + old_root + "'");

  const std::string new_root = dir_.Sub("new");  // does not exist yet: a fresh machine
  CliResult list = RunCli({"--repo", remote(), "--json", "snap", "list"}, env_);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(id), std::string::npos) << list.out;
  CliResult restore = RunCli({"--root", new_root, "--repo", remote(), "--yes", "--json", "snap", "restore", id},
                             With(env_, "MAESTRO_DB_PURGE=now"));
  ASSERT_EQ(restore.exit_code, 0) << restore.err << restore.out;
  auto rj = Json(restore);
  ASSERT_TRUE(rj.is_object()) << restore.out;
  EXPECT_EQ(rj["outcome"], "committed");
  EXPECT_EQ(rj["restored"], id);
  EXPECT_EQ(rj["source_repo"], remote());
  EXPECT_EQ(rj["pre_image_repo"], new_root + "/backups/maestro-db");

  EXPECT_EQ(StoreDigest(new_root), before) << "every store of the snapshot, byte for byte (rows for SQLite)";
  // The transaction's journal and pre-image are local: recover has nothing to do, the pre-image is listed there.
  CliResult local = RunCli({"--root", new_root, "--json", "snap", "list"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  auto lj = Json(local);
  ASSERT_TRUE(lj.is_array()) << local.out;
  ASSERT_EQ(lj.size(), 1u) << local.out;
  EXPECT_EQ(lj[0]["trigger"], "pre-restore");
  EXPECT_EQ(lj[0]["id"], rj["snapshot"]);
  CliResult journal = RunCli({"--root", new_root, "--json", "journal", "status"});
  EXPECT_EQ(journal.exit_code, 0) << journal.err;
  EXPECT_EQ(Sh("ls -A '" + new_root + "' | grep -c maestro-" ), "0\n") << "no aside/staged leftovers";
  // The remote was only read, and still verifies in full.
  CliResult verify = RunCli({"--repo", remote(), "snap", "verify", "--read-data"}, env_);
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
  CliResult remote_list = RunCli({"--repo", remote(), "--json", "snap", "list"}, env_);
  EXPECT_EQ(remote_list.out, list.out) << "nothing was added to the remote";
  // The restored install is an install: check finds it consistent.
  CliResult check = RunCli({"--root", new_root, "check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// A local install whose configured repository is the remote one: the
// pre-image goes to --pre-image-repo; a crash half-way is rolled back by
// `recover` there (the stores as they were), and the repeated restore succeeds
// and can itself be undone from that pre-image.
TEST_F(DisasterRecoveryTest, CrashedRemoteRestoreIsRolledBackFromTheLocalPreImageThenRedone) {
  const std::string root = dir_.Sub("live");
  const std::string id = InstallWithASnapshotOnTheRemote(root);
  ASSERT_FALSE(id.empty());
  const auto snapshot_state = StoreDigest(root);
  // The install moves on after the snapshot: a document's file changes, one appears.
  WriteFile(root + "/ai_researcher/data/raw_pdfs/late-arrival.pdf", RandomBytes(5000, 7));
  const auto live_state = StoreDigest(root);
  ASSERT_NE(live_state, snapshot_state);
  WriteFile(dir_.Sub("maestro.ini"), "[repo]\npath = " + remote() + "\n");
  const std::string pre = dir_.Sub("pre-images");
  const std::vector<std::string> base = {"--root", root, "--config", dir_.Sub("maestro.ini")};

  auto args = [&](std::vector<std::string> more) {
    std::vector<std::string> a = base;
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  CliResult crashed = RunCli(args({"--yes", "snap", "restore", id, "--pre-image-repo", pre}),
                             With(env_, "MAESTRO_DB_CRASH_AT=store.after_aside"));
  ASSERT_EQ(crashed.exit_code, -9) << "killed at the crash point: " << crashed.err;
  EXPECT_NE(StoreDigest(root), live_state) << "a store is aside: the install is half-changed";

  // Another writer from the remote refuses while the local journal has it unfinished.
  CliResult refused = RunCli(args({"--yes", "snap", "restore", id, "--pre-image-repo", pre}), env_);
  EXPECT_EQ(refused.exit_code, 6) << refused.err;
  EXPECT_NE(refused.err.find("recover"), std::string::npos) << refused.err;

  CliResult rec = RunCli({"--root", root, "--repo", pre, "--json", "recover"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err << rec.out;
  EXPECT_EQ(Json(rec)["outcome"], "rolled_back") << rec.out;
  EXPECT_EQ(StoreDigest(root), live_state) << "rolled back: every store as before the restore";

  CliResult redo = RunCli(args({"--yes", "--json", "snap", "restore", id, "--pre-image-repo", pre}),
                          With(env_, "MAESTRO_DB_PURGE=now"));
  ASSERT_EQ(redo.exit_code, 0) << redo.err << redo.out;
  EXPECT_EQ(StoreDigest(root), snapshot_state);
  const std::string pre_image = Json(redo)["snapshot"].get<std::string>();
  EXPECT_FALSE(Sh("ls -A '" + root + "/backups' 2>/dev/null").find("maestro-db") != std::string::npos)
      << "--pre-image-repo given: the default local repository is not made";

  // Undo from the local pre-image: the live state comes back.
  CliResult undo = RunCli({"--root", root, "--repo", pre, "--yes", "snap", "restore", pre_image},
                          {"MAESTRO_DB_PURGE=now"});
  ASSERT_EQ(undo.exit_code, 0) << undo.err;
  EXPECT_EQ(StoreDigest(root), live_state);
}

// `recover --resume` of a remote restore killed before its commit stages the
// stores again from the remote the journal names (source_repo), then commits.
// Without the remote's rclone settings the resume fails naming the remote and
// rolls back (the stores as before: absent on this new machine).
TEST_F(DisasterRecoveryTest, ResumedRemoteRestoreReadsTheJournaledRemoteAgainAndCommits) {
  const std::string old_root = dir_.Sub("old");
  const std::string id = InstallWithASnapshotOnTheRemote(old_root);
  ASSERT_FALSE(id.empty());
  const auto before = StoreDigest(old_root);
  Sh("rm -rf '" + old_root + "'");
  const std::string new_root = dir_.Sub("new");
  auto crash = [&]() {
    CliResult crashed = RunCli({"--root", new_root, "--repo", remote(), "--yes", "snap", "restore", id},
                               With(env_, "MAESTRO_DB_CRASH_AT=store.after_stage:2"));
    ASSERT_EQ(crashed.exit_code, -9) << crashed.err;
  };
  crash();  // main is staged and swapped in, ai staged: half-restored
  CliResult offline = RunCli({"--root", new_root, "recover", "--resume"});
  EXPECT_NE(offline.exit_code, 0);
  EXPECT_NE(offline.err.find("opening " + remote()), std::string::npos) << offline.err;
  for (const auto& [store, digest] : StoreDigest(new_root)) EXPECT_EQ(digest, "absent") << store;

  crash();
  CliResult rec = RunCli({"--root", new_root, "--json", "recover", "--resume"}, env_);
  ASSERT_EQ(rec.exit_code, 0) << rec.err << rec.out;
  EXPECT_EQ(Json(rec)["outcome"], "committed") << rec.out;
  EXPECT_EQ(StoreDigest(new_root), before);
}

// The whole story through the scheduled service: the nightly snapshot and its
// off-site copy (schedule.copy_to, the real copier and remote writer) put the
// install on the remote; the machine is lost; the remote brings it back.
TEST_F(DisasterRecoveryTest, WhatTheScheduledCopyPutOnTheRemoteRestoresTheLostInstall) {
  const std::string old_root = dir_.Sub("old");
  ASSERT_EQ(RunCli({"demo", "create", old_root, "--documents", "15"}).exit_code, 0);
  WriteFile(dir_.Sub("s.ini"), "[schedule]\nmonitor = off\ncopy_to = " + remote() + "\ncopy_keep_last = 3\n");
  const std::vector<std::string> svc = {"--root", old_root, "--config", dir_.Sub("s.ini"), "schedule", "run", "--now"};
  auto with = [&](const char* job) {
    std::vector<std::string> a = svc;
    a.push_back(job);
    return a;
  };
  CliResult snap = RunCli(with("snapshot"), env_);
  ASSERT_EQ(snap.exit_code, 0) << snap.err << snap.out;
  CliResult copy = RunCli(with("copy"), env_);
  ASSERT_EQ(copy.exit_code, 0) << copy.err << copy.out;
  bool copied = false;  // the job_end line of the copy: ok, one snapshot sent
  for (size_t pos = 0, nl; (nl = copy.out.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    auto line = nlohmann::json::parse(copy.out.substr(pos, nl - pos), nullptr, false);
    if (line.is_object() && line["event"] == "job_end" && line["job"] == "copy")
      copied = line["outcome"] == "ok" && line["copied"].size() == 1u;
  }
  EXPECT_TRUE(copied) << copy.out;
  CliResult status = RunCli({"--root", old_root, "--config", dir_.Sub("s.ini"), "--json", "schedule", "status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  auto sj = Json(status);
  ASSERT_TRUE(sj.is_object()) << status.out;
  EXPECT_TRUE(sj["offsite"]["newest"].is_string()) << status.out;
  EXPECT_EQ(sj["offsite"]["stale"], false);
  CliResult local = RunCli({"--root", old_root, "--json", "snap", "list"});
  auto lj = Json(local);
  ASSERT_TRUE(lj.is_array() && lj.size() == 1u) << local.out;
  const std::string id = lj[0]["id"];
  const auto before = StoreDigest(old_root);
  Sh("rm -rf '" + old_root + "'");

  const std::string new_root = dir_.Sub("new");
  CliResult restore = RunCli({"--root", new_root, "--repo", remote(), "--yes", "snap", "restore", id}, env_);
  ASSERT_EQ(restore.exit_code, 0) << restore.err << restore.out;
  EXPECT_EQ(StoreDigest(new_root), before);
  CliResult verify = RunCli({"--repo", remote(), "snap", "verify", "--read-data"}, env_);
  EXPECT_EQ(verify.exit_code, 0) << verify.err << verify.out;
}

TEST_F(DisasterRecoveryTest, PreImageRepoMustBeLocalAndOnlyForARemoteSource) {
  const std::string root = dir_.Sub("r");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "3"}).exit_code, 0);
  CliResult local = RunCli({"--root", root, "--yes", "snap", "restore", "latest", "--pre-image-repo", dir_.Sub("p")});
  EXPECT_EQ(local.exit_code, 2) << local.err;
  EXPECT_NE(local.err.find("--pre-image-repo"), std::string::npos) << local.err;
  CliResult remote_pre = RunCli({"--root", root, "--repo", remote(), "--yes", "snap", "restore", "latest",
                                 "--pre-image-repo", "rclone:t:/elsewhere"}, env_);
  EXPECT_EQ(remote_pre.exit_code, 2) << remote_pre.err;
  EXPECT_NE(remote_pre.err.find("must be a local folder"), std::string::npos) << remote_pre.err;
  EXPECT_FALSE(Sh("ls -A '" + dir_.path() + "'").find("\np\n") != std::string::npos);
}

}  // namespace
}  // namespace maestro::testing
