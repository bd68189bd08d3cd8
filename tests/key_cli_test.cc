// tests/key_cli_test.cc — `snap key list/add/remove/passwd` and where the
// password comes from (cli/password.h), on a real repository folder through
// NewLocalBackend, running the real binary (issue 15 point 4).
//
// The first key and the config are made through the library (as `snap init
// --encrypt` makes them); every key uses the lowest Argon2id limits.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "snapshot/backend.h"
#include "snapshot/format.h"
#include "snapshot/keys.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::CliResult;
using testing::RunCli;
using testing::TempDir;
using testing::WriteFile;

// Runs the binary on a pseudo-terminal: each time the output (since the last
// answer) shows dialog[i].first, types dialog[i].second. Returns the exit code
// (-1 on timeout) and everything the terminal showed.
struct TerminalRun {
  int exit_code = -1;
  std::string screen;
};
TerminalRun RunOnTerminal(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& dialog) {
  TerminalRun out;
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return out;
  if (pid == 0) {
    std::vector<char*> argv;
    std::string bin = MAESTRO_DB_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::unsetenv("MAESTRO_DB_PASSWORD");
    ::unsetenv("MAESTRO_DB_PASSWORD_FILE");
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  size_t step = 0, seen_from = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    struct pollfd p = {master, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal
    out.screen.append(buf, static_cast<size_t>(n));
    if (step < dialog.size() && out.screen.find(dialog[step].first, seen_from) != std::string::npos) {
      seen_from = out.screen.size();
      std::string line = dialog[step].second + "\n";
      if (::write(master, line.data(), line.size()) < 0) break;
      ++step;
    }
  }
  ::close(master);
  int status = 0;
  if (::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

const std::vector<std::string> kFast = {"--kdf-ops", "1", "--kdf-mem-kib", "8"};

class KeyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = tmp_.Sub("repo");
    ASSERT_TRUE(Env::Default()->CreateDirs(repo_, 0700).ok());
    auto backend = NewLocalBackend(Env::Default(), repo_);
    KdfParams fast;
    fast.opslimit = KdfParams::kMinOps;
    fast.memlimit = KdfParams::kMinMem;
    auto made = CreateFirstKey(backend.get(), "first password", fast, CurrentKeyMeta(Env::Default()));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    master_ = made->master;
    first_id_ = made->key_id;
    // The config last, as `snap init --encrypt` writes it: the key commands
    // only work on a repository whose config says it is encrypted.
    RepoConfig cfg;
    cfg.repository_id = std::string(32, 'a');
    cfg.encryption = "xchacha20poly1305";
    ASSERT_TRUE(backend->Put(ObjectKind::kConfig, "config", EncodeConfig(cfg)).ok());
    first_pw_ = PasswordFile("first", "first password\n");
  }

  std::string PasswordFile(const std::string& name, const std::string& text) {
    std::string p = tmp_.Sub(name + ".pw");
    WriteFile(p, text);
    ::chmod(p.c_str(), 0600);
    return p;
  }

  CliResult Key(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {"--repo", repo_, "snap", "key"};
    all.insert(all.end(), args.begin(), args.end());
    return RunCli(all, env);
  }

  // Opens the repository's keys with pw through the library: the master key, or the error.
  Result<OpenedKeys> Open(const std::string& pw) {
    auto backend = NewLocalBackend(Env::Default(), repo_);
    return OpenKeys(backend.get(), pw);
  }

  size_t KeyFiles() {
    std::vector<DirEntry> e;
    EXPECT_TRUE(Env::Default()->ListDir(repo_ + "/keys", &e).ok());
    size_t n = 0;
    for (const auto& d : e) n += d.name.find(".tmp-") == std::string::npos;
    return n;
  }

  TempDir tmp_;
  std::string repo_, first_id_, first_pw_;
  MasterKey master_;
};

TEST_F(KeyCli, ListShowsTheKeyThatOpenedAsCurrent) {
  CliResult r = Key({"list", "--json", "--password-file", first_pw_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["keys"].size(), 1u);
  EXPECT_EQ(j["keys"][0]["id"], first_id_);
  EXPECT_EQ(j["keys"][0]["current"], true);
  EXPECT_EQ(j["keys"][0]["kdf"]["algorithm"], "argon2id");
  EXPECT_EQ(j["keys"][0]["kdf"]["memlimit_kib"], 8);
  r = Key({"list", "--password-file", first_pw_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("* " + first_id_.substr(0, 8)), std::string::npos) << r.out;
}

TEST_F(KeyCli, WrongPasswordExitsTen) {
  CliResult r = Key({"list", "--password-file", PasswordFile("bad", "not it\n")});
  EXPECT_EQ(r.exit_code, 10) << r.err;
  EXPECT_NE(r.err.find("opens with this password"), std::string::npos) << r.err;
  r = Key({"list", "--json"}, {"MAESTRO_DB_PASSWORD=not it"});
  EXPECT_EQ(r.exit_code, 10);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["error"]["exit_code"], 10);
}

TEST_F(KeyCli, AddedPasswordOpensTheSameMasterKey) {
  std::vector<std::string> args = {"add", "--json", "--password-file", first_pw_, "--new-password-file",
                                   PasswordFile("second", "second password")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  CliResult r = Key(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("below the defaults"), std::string::npos) << "weak limits are warned about: " << r.err;
  std::string added = nlohmann::json::parse(r.out)["added"];
  auto one = Open("first password");
  auto two = Open("second password");
  ASSERT_TRUE(one.ok() && two.ok()) << two.status().ToString();
  EXPECT_EQ(one->master, master_);
  EXPECT_EQ(two->master, master_);
  EXPECT_EQ(two->key_id, added);
  EXPECT_EQ(KeyFiles(), 2u);
  // The new one opens the CLI too, and is the current one there.
  r = Key({"list", "--json"}, {"MAESTRO_DB_PASSWORD=second password"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The parsed document is named: a range-for over parse(...)["keys"] reads a destroyed
  // temporary (the loop keeps only the ["keys"] reference alive; ASan's heap-use-after-free).
  const nlohmann::json listed = nlohmann::json::parse(r.out);
  ASSERT_EQ(listed["keys"].size(), 2u) << r.out;
  for (const auto& k : listed["keys"]) EXPECT_EQ(k["current"], k["id"] == added);
}

TEST_F(KeyCli, RemovingTheLastKeyIsRefusedAndKeepsIt) {
  CliResult r = Key({"remove", first_id_.substr(0, 8), "--password-file", first_pw_});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("refusing to remove"), std::string::npos) << r.err;
  EXPECT_EQ(KeyFiles(), 1u);
  EXPECT_TRUE(Open("first password").ok());
}

TEST_F(KeyCli, RemovingAnotherKeyByPrefixRevokesItsPassword) {
  std::vector<std::string> args = {"add", "--json", "--password-file", first_pw_, "--new-password-file",
                                   PasswordFile("second", "second password\n")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  CliResult r = Key(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string added = nlohmann::json::parse(r.out)["added"];
  r = Key({"remove", added.substr(0, 6), "--json", "--password-file", first_pw_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["removed"], added);
  EXPECT_EQ(Open("second password").status().code(), Status::Code::kWrongPassword);
  EXPECT_TRUE(Open("first password").ok());
  r = Key({"remove", "zzzz", "--password-file", first_pw_});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(KeyCli, PasswdReplacesThePassword) {
  std::vector<std::string> args = {"passwd", "--password-file", first_pw_, "--new-password-file",
                                   PasswordFile("new", "new password\n")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  CliResult r = Key(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(KeyFiles(), 1u);
  EXPECT_EQ(Open("first password").status().code(), Status::Code::kWrongPassword);
  auto opened = Open("new password");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->master, master_);
}

TEST_F(KeyCli, PasswdKilledBetweenAddAndRemoveLeavesBothPasswordsWorking) {
  std::vector<std::string> args = {"passwd", "--password-file", first_pw_, "--new-password-file",
                                   PasswordFile("new", "new password\n")};
  args.insert(args.end(), kFast.begin(), kFast.end());
  CliResult r = Key(args, {"MAESTRO_DB_CRASH_AT=key.passwd_after_add"});
  ASSERT_EQ(r.exit_code, -9) << "killed at the crash point: " << r.err;
  EXPECT_EQ(KeyFiles(), 2u);
  auto old_pw = Open("first password");
  auto new_pw = Open("new password");
  ASSERT_TRUE(old_pw.ok() && new_pw.ok());
  EXPECT_EQ(old_pw->master, master_);
  EXPECT_EQ(new_pw->master, master_);
  // Finishing by hand: the old key can go now that another remains.
  r = Key({"remove", first_id_, "--password-file", PasswordFile("new2", "new password")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Open("first password").status().code(), Status::Code::kWrongPassword);
}

TEST_F(KeyCli, FlippedByteInTheKeyFileIsCorruptionNotWrongPassword) {
  std::string path = repo_ + "/keys/" + first_id_;
  std::string bytes = testing::ReadFile(path);
  bytes[bytes.size() - 30] ^= 0x01;
  WriteFile(path, bytes);
  CliResult r = Key({"list", "--password-file", first_pw_});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find(first_id_), std::string::npos) << "names the file: " << r.err;
}

TEST_F(KeyCli, PasswordSourcesFollowTheDocumentedPrecedence) {
  std::string right = first_pw_, wrong = PasswordFile("wrong", "wrong\n");
  // --password-file beats both variables.
  EXPECT_EQ(Key({"list", "--password-file", right},
                {"MAESTRO_DB_PASSWORD_FILE=" + wrong, "MAESTRO_DB_PASSWORD=wrong"}).exit_code, 0);
  EXPECT_EQ(Key({"list", "--password-file", wrong}, {"MAESTRO_DB_PASSWORD_FILE=" + right}).exit_code, 10);
  // MAESTRO_DB_PASSWORD_FILE beats MAESTRO_DB_PASSWORD.
  EXPECT_EQ(Key({"list"}, {"MAESTRO_DB_PASSWORD_FILE=" + right, "MAESTRO_DB_PASSWORD=wrong"}).exit_code, 0);
  EXPECT_EQ(Key({"list"}, {"MAESTRO_DB_PASSWORD_FILE=" + wrong, "MAESTRO_DB_PASSWORD=first password"}).exit_code, 10);
  EXPECT_EQ(Key({"list"}, {"MAESTRO_DB_PASSWORD=first password"}).exit_code, 0);
  // A password file with CRLF, as an editor on another system writes it.
  EXPECT_EQ(Key({"list", "--password-file", PasswordFile("crlf", "first password\r\n")}).exit_code, 0);
}

TEST_F(KeyCli, NoPasswordAndNoTerminalIsAUsageErrorNamingTheWays) {
  CliResult r = Key({"list"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not a terminal"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--password-file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("MAESTRO_DB_PASSWORD_FILE"), std::string::npos) << r.err;
  r = Key({"add", "--password-file", first_pw_});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--new-password-file"), std::string::npos) << r.err;
  EXPECT_EQ(KeyFiles(), 1u);
}

TEST_F(KeyCli, BadPasswordSourcesAreRefusedClearly) {
  CliResult r = Key({"list"}, {"MAESTRO_DB_PASSWORD="});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MAESTRO_DB_PASSWORD is set but empty"), std::string::npos) << r.err;
  r = Key({"list"}, {"MAESTRO_DB_PASSWORD_FILE="});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Key({"list", "--password-file", tmp_.Sub("missing.pw")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.pw"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--password-file"), std::string::npos) << r.err;
  r = Key({"list", "--password-file", PasswordFile("empty", "\n")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;
  std::string open_file = PasswordFile("loose", "first password\n");
  ::chmod(open_file.c_str(), 0644);
  r = Key({"list", "--password-file", open_file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("readable by others"), std::string::npos) << r.err;
}

TEST_F(KeyCli, PromptOnATerminalReadsThePasswordWithoutEcho) {
  TerminalRun t = RunOnTerminal({"--repo", repo_, "snap", "key", "list"},
                                {{"password for " + repo_, "first password"}});
  EXPECT_EQ(t.exit_code, 0) << t.screen;
  EXPECT_NE(t.screen.find("* " + first_id_.substr(0, 8)), std::string::npos) << t.screen;
  EXPECT_EQ(t.screen.find("first password"), std::string::npos) << "echoed: " << t.screen;
}

TEST_F(KeyCli, NewPasswordOnATerminalIsAskedTwiceAndMustMatch) {
  std::vector<std::string> args = {"--repo", repo_, "snap", "key", "add", "--password-file", first_pw_};
  args.insert(args.end(), kFast.begin(), kFast.end());
  TerminalRun t = RunOnTerminal(args, {{"new password", "typed one"}, {"again", "typed two"}});
  EXPECT_EQ(t.exit_code, 2) << t.screen;
  EXPECT_NE(t.screen.find("differ"), std::string::npos) << t.screen;
  EXPECT_EQ(KeyFiles(), 1u);
  t = RunOnTerminal(args, {{"new password", "typed one"}, {"again", "typed one"}});
  EXPECT_EQ(t.exit_code, 0) << t.screen;
  EXPECT_EQ(t.screen.find("typed one"), std::string::npos) << "echoed: " << t.screen;
  auto opened = Open("typed one");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->master, master_);
}

TEST_F(KeyCli, NotAnEncryptedRepositoryIsNotFound) {
  TempDir other;
  CliResult r = RunCli({"--repo", other.path(), "snap", "key", "list", "--password-file", first_pw_});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("no snapshot repository"), std::string::npos) << r.err;
  std::string plain = other.Sub("plain");
  ASSERT_EQ(RunCli({"--repo", plain, "snap", "init"}).exit_code, 0);
  r = RunCli({"--repo", plain, "snap", "key", "list", "--password-file", first_pw_});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("is not encrypted"), std::string::npos) << r.err;
}

// `snap key` reaches a remote repository (rclone:REMOTE:PATH; here rclone's
// local backend, a real rclone child) as it does a folder: list, then add.
TEST_F(KeyCli, KeyCommandsWorkOnARemoteRepository) {
  std::vector<std::string> env = {"RCLONE_CONFIG_L_TYPE=local"};
  std::string remote = "rclone:l:" + repo_;
  CliResult r = RunCli({"--repo", remote, "--json", "snap", "key", "list", "--password-file", first_pw_}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["keys"][0]["id"], first_id_);
  std::vector<std::string> add = {"--repo", remote, "--json", "snap", "key", "add", "--password-file", first_pw_,
                                  "--new-password-file", PasswordFile("remote", "remote password")};
  add.insert(add.end(), kFast.begin(), kFast.end());
  r = RunCli(add, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto two = Open("remote password");
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->master, master_);
  r = RunCli({"--repo", remote, "snap", "key", "list", "--password-file", PasswordFile("bad", "nope")}, env);
  EXPECT_EQ(r.exit_code, 10) << r.err;
}

}  // namespace
}  // namespace maestro
