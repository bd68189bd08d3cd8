// tests/encrypted_repo_test.cc — encryption at rest, end to end (issue 15
// point 4): `snap init [--encrypt]`, where a command's password comes from,
// every snapshot command on an encrypted repository, and what someone who
// holds the storage but no password can and cannot do. Real binary, real
// folders, a real rclone child for the remote case; the lowest Argon2id
// limits except where the default is the point.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "snapshot/backend.h"
#include "snapshot/keys.h"
#include "snapshot/open_repository.h"
#include "tests/test_util.h"
#include "util/env.h"
#include "util/hash.h"

namespace maestro {
namespace {

using testing::CliResult;
using testing::ReadFile;
using testing::RunCli;
using testing::Sh;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

const std::vector<std::string> kFast = {"--kdf-ops", "1", "--kdf-mem-kib", "8"};

// A fixed password for the library side of a test.
class FixedPassword final : public PasswordSource {
 public:
  explicit FixedPassword(std::string pw) : pw_(std::move(pw)) {}
  bool Given() const override { return true; }
  Result<SecretString> Current(const std::string&) override { return SecretString(pw_); }
  Result<SecretString> ForNewRepository(const std::string&) override { return SecretString(pw_); }

 private:
  std::string pw_;
};

// Every regular file below dir (relative path -> bytes).
std::map<std::string, std::string> AllFiles(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::string list = Sh("cd '" + dir + "' && find . -type f | sort");
  size_t start = 0;
  while (start < list.size()) {
    size_t nl = list.find('\n', start);
    if (nl == std::string::npos) nl = list.size();
    std::string rel = list.substr(start, nl - start);
    start = nl + 1;
    if (!rel.empty()) out[rel.substr(2)] = ReadFile(dir + "/" + rel.substr(2));
  }
  return out;
}

// Repository files only (not the lock, the journal or scratch).
std::map<std::string, std::string> RepoObjects(const std::string& repo) {
  std::map<std::string, std::string> out;
  for (auto& [path, bytes] : AllFiles(repo)) {
    if (path == "config" || path.rfind("snapshots/", 0) == 0 || path.rfind("index/", 0) == 0 ||
        path.rfind("packs/", 0) == 0 || path.rfind("keys/", 0) == 0)
      out[path] = bytes;
  }
  return out;
}

std::string FirstIn(const std::string& dir) {
  std::string s = Sh("ls '" + dir + "' | head -1");
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

void FlipByte(const std::string& path, long offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(offset);
  f.write(&c, 1);
}

class EncryptedRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    repo_ = tmp_.Sub("repo");
    pw_ = PasswordFile("pw", "correct horse battery staple\n");
  }

  std::string PasswordFile(const std::string& name, const std::string& text) {
    std::string p = tmp_.Sub(name + ".pw");
    WriteFile(p, text);
    ::chmod(p.c_str(), 0600);
    return p;
  }

  // maestro-db --root root_ --repo repo_ --password-file pw ARGS...
  CliResult Snap(std::vector<std::string> args, const std::string& pw = "", const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {"--root", root_, "--repo", repo_};
    if (!pw.empty()) {
      all.push_back("--password-file");
      all.push_back(pw);
    }
    all.push_back("snap");
    all.insert(all.end(), args.begin(), args.end());
    return RunCli(all, env);
  }

  void MakeDemo(int documents = 10) {
    ASSERT_EQ(RunCli({"demo", "create", root_, "--documents", std::to_string(documents)}).exit_code, 0);
  }

  void InitEncrypted() {
    std::vector<std::string> args = {"init", "--encrypt", "--json"};
    args.insert(args.end(), kFast.begin(), kFast.end());
    CliResult r = Snap(args, pw_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["encryption"], "xchacha20poly1305");
  }

  std::string CreateSnapshot(const std::string& pw) {
    CliResult r = Snap({"create", "-q"}, pw);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out;
    if (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  TempDir tmp_;
  std::string root_, repo_, pw_;
};

// ---------------------------------------------------------------- init

TEST_F(EncryptedRepo, InitMakesAnEmptyUnencryptedRepository) {
  CliResult r = Snap({"init", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["encrypted"], false);
  EXPECT_EQ(j["encryption"], "none");
  EXPECT_EQ(ReadFile(repo_ + "/config").find("encryption=xchacha20poly1305"), std::string::npos);
  r = Snap({"list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out).empty());
}

TEST_F(EncryptedRepo, InitEncryptMakesARepositoryOnlyItsPasswordOpens) {
  InitEncrypted();
  EXPECT_NE(ReadFile(repo_ + "/config").find("encryption=xchacha20poly1305"), std::string::npos);
  std::vector<DirEntry> keys;
  ASSERT_TRUE(Env::Default()->ListDir(repo_ + "/keys", &keys).ok());
  EXPECT_EQ(keys.size(), 1u);
  CliResult r = Snap({"list", "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Snap({"list"}, PasswordFile("bad", "not the password"));
  EXPECT_EQ(r.exit_code, 10) << r.err;
}

TEST_F(EncryptedRepo, NoPasswordAndNoTerminalIsExitTwoNamingTheWaysToGiveOne) {
  InitEncrypted();
  CliResult r = Snap({"list"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  for (const char* way : {"--password-file", "MAESTRO_DB_PASSWORD_FILE", "MAESTRO_DB_PASSWORD"})
    EXPECT_NE(r.err.find(way), std::string::npos) << way << " missing from: " << r.err;
  r = Snap({"list"}, "", {"MAESTRO_DB_PASSWORD=correct horse battery staple"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Snap({"list"}, "", {"MAESTRO_DB_PASSWORD_FILE=" + pw_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(EncryptedRepo, SecondInitIsRefusedAndLeavesTheRepositoryAsItWas) {
  MakeDemo(3);
  InitEncrypted();
  CreateSnapshot(pw_);
  auto before = TreeDigest(repo_);
  for (std::vector<std::string> args : {std::vector<std::string>{"init"}, std::vector<std::string>{"init", "--encrypt"}}) {
    CliResult r = Snap(args, pw_);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("exists already"), std::string::npos) << r.err;
  }
  EXPECT_EQ(TreeDigest(repo_), before);
}

TEST_F(EncryptedRepo, InitRefusesAFolderHoldingOtherFiles) {
  WriteFile(repo_ + "/notes.txt", "mine");
  CliResult r = Snap({"init", "--encrypt"}, pw_);
  EXPECT_EQ(r.exit_code, 8) << r.err;
  EXPECT_EQ(AllFiles(repo_).size(), 1u) << "nothing was added to the folder";
}

// A crash between the first key file and the config leaves no repository; the
// next init with the same password finishes it with that key, another
// password is refused and changes nothing.
TEST_F(EncryptedRepo, InitKilledBeforeItsConfigLeavesNoRepositoryAndIsFinishedByTheNextInit) {
  ASSERT_TRUE(Env::Default()->CreateDirs(repo_, 0700).ok());
  auto backend = NewLocalBackend(Env::Default(), repo_);
  KdfParams fast;
  fast.opslimit = KdfParams::kMinOps;
  fast.memlimit = KdfParams::kMinMem;
  auto first = CreateFirstKey(backend.get(), "correct horse battery staple", fast, CurrentKeyMeta(Env::Default()));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  CliResult r = Snap({"list"}, pw_);
  EXPECT_EQ(r.exit_code, 3) << "no config = no repository: " << r.err;
  auto before = TreeDigest(repo_);
  r = Snap({"init", "--encrypt"}, PasswordFile("other", "another password"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(TreeDigest(repo_), before);
  std::vector<std::string> args = {"init", "--encrypt", "--json"};
  args.insert(args.end(), kFast.begin(), kFast.end());
  r = Snap(args, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["key_id"], first->key_id);
}

// The trap: a user who set a password and runs `snap create` with no
// repository yet gets an encrypted one (default Argon2id limits), told so.
TEST_F(EncryptedRepo, CreateWithAPasswordSetAndNoRepositoryMakesItEncrypted) {
  MakeDemo(3);
  CliResult r = Snap({"create"}, "", {"MAESTRO_DB_PASSWORD=set by the user"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ENCRYPTED"), std::string::npos) << r.err;
  EXPECT_NE(ReadFile(repo_ + "/config").find("encryption=xchacha20poly1305"), std::string::npos);
  r = Snap({"list"});
  EXPECT_EQ(r.exit_code, 2) << "no password now: " << r.err;
  r = Snap({"list", "--json"}, "", {"MAESTRO_DB_PASSWORD=set by the user"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
  r = Snap({"key", "list", "--json"}, "", {"MAESTRO_DB_PASSWORD=set by the user"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["keys"][0]["kdf"]["memlimit_kib"], 65536);
}

TEST_F(EncryptedRepo, CreateWithoutAPasswordMakesAnUnencryptedRepositoryAsBefore) {
  MakeDemo(3);
  std::string id = CreateSnapshot("");
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(ReadFile(repo_ + "/config").find("encryption=xchacha20poly1305"), std::string::npos);
  EXPECT_FALSE(Env::Default()->DirExists(repo_ + "/keys"));
  // A password given to an unencrypted repository is not needed, and not asked for.
  CliResult r = Snap({"verify", "--read-data"}, pw_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace maestro
