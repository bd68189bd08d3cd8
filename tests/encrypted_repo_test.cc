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
#include "snapshot/crypto.h"
#include "snapshot/format.h"
#include "snapshot/repo_files.h"
#include "snapshot/keys.h"
#include "snapshot/open_repository.h"
#include "snapshot/sealer.h"
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

void FlipByte(const std::string& path, long offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(offset);
  f.write(&c, 1);
}

// One encrypted scheme (snapshot/sealer.h): the `snap init` arguments that
// make it and the config's encryption= it gets.
struct Scheme {
  std::string name;
  std::vector<std::string> init_args;
  std::string encryption = std::string(kDefaultEncryption);
  bool needs_aes = false;
};

// gtest prints a test's parameter in its name (ctest shows it): the scheme's name, not its bytes.
void PrintTo(const Scheme& s, std::ostream* os) { *os << s.name << " (" << s.encryption << ")"; }

const Scheme kDefaultScheme{"Default", {}, std::string(kEncryptionXChaChaXxh3Ids), false};
const Scheme kFirstScheme{"XChaChaBlake2Ids", {"--blob-ids", "keyed-blake2b"}, std::string(kEncryptionXChaChaBlake2Ids),
                          false};
const Scheme kAesScheme{"AesXxh3Ids", {"--cipher", "aes256gcm"}, std::string(kEncryptionAesXxh3Ids), true};

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

  // An encrypted repository of scheme_ (the default one unless a test says).
  void InitEncrypted() {
    std::vector<std::string> args = {"init", "--encrypt", "--json"};
    args.insert(args.end(), kFast.begin(), kFast.end());
    args.insert(args.end(), scheme_.init_args.begin(), scheme_.init_args.end());
    CliResult r = Snap(args, pw_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto j = nlohmann::json::parse(r.out);
    ASSERT_EQ(j["encryption"], scheme_.encryption);
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
  Scheme scheme_;
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
  auto before = RepoObjects(repo_);
  r = Snap({"init", "--encrypt"}, PasswordFile("other", "another password"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(RepoObjects(repo_), before) << "no key file added, no config";
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

// ---------------------------------------------------------------- schemes

// --cipher and --blob-ids pick the config's encryption=; the default is
// XChaCha20 with keyed-XXH3 ids; a pair no scheme has is refused, nothing made.
TEST_F(EncryptedRepo, InitCipherAndBlobIdsChooseTheSchemeAndBadOnesAreRefused) {
  struct Case {
    std::vector<std::string> args;
    std::string encryption;  // "" = refused with exit 2
  };
  std::vector<Case> cases = {
      {{}, "xchacha20poly1305+keyed-xxh3"},
      {{"--cipher", "xchacha20poly1305"}, "xchacha20poly1305+keyed-xxh3"},
      {{"--blob-ids", "keyed-blake2b"}, "xchacha20poly1305"},
      {{"--cipher", "aes256gcm", "--blob-ids", "keyed-blake2b"}, ""},
      {{"--cipher", "rot13"}, ""},
      {{"--blob-ids", "md5"}, ""},
  };
  if (Aes256GcmAvailable()) cases.push_back({{"--cipher", "aes256gcm"}, "aes256gcm+keyed-xxh3"});
  int n = 0;
  for (const auto& c : cases) {
    repo_ = tmp_.Sub("repo-" + std::to_string(n++));
    std::vector<std::string> args = {"init", "--encrypt", "--json"};
    args.insert(args.end(), kFast.begin(), kFast.end());
    args.insert(args.end(), c.args.begin(), c.args.end());
    CliResult r = Snap(args, pw_);
    if (c.encryption.empty()) {
      EXPECT_EQ(r.exit_code, 2) << c.args[1] << ": " << r.err;
      EXPECT_FALSE(Env::Default()->FileExists(repo_ + "/config")) << c.args[1];
      EXPECT_FALSE(Env::Default()->DirExists(repo_ + "/keys")) << "no key file made: " << c.args[1];
      continue;
    }
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["encryption"], c.encryption);
    EXPECT_NE(ReadFile(repo_ + "/config").find("encryption=" + c.encryption + "\n"), std::string::npos);
  }
  CliResult r = Snap({"init", "--cipher", "aes256gcm"}, pw_);
  EXPECT_EQ(r.exit_code, 2) << "--cipher without --encrypt: " << r.err;
}

// A repository of AES-256-GCM on a CPU that cannot run it: refused before a
// key file or a folder is made, and refused to open (exit 2) before any
// password is asked for, naming AES-NI.
TEST_F(EncryptedRepo, AesRepositoryIsRefusedClearlyWhereTheCpuHasNoAesNi) {
  FixedPassword source("correct horse battery staple");
  InitOptions io;
  io.encrypt = true;
  io.encryption = std::string(kEncryptionAesXxh3Ids);
  io.kdf.opslimit = KdfParams::kMinOps;
  io.kdf.memlimit = KdfParams::kMinMem;
  io.password = &source;
  DisableAes256GcmForTest(true);
  auto made = InitRepository(Env::Default(), repo_, io);
  DisableAes256GcmForTest(false);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().code(), Status::Code::kInvalidArgument) << made.status().ToString();
  EXPECT_NE(made.status().message().find("AES-NI"), std::string::npos) << made.status().message();
  EXPECT_TRUE(AllFiles(repo_).empty()) << "nothing written";
  if (!Aes256GcmAvailable()) GTEST_SKIP() << "the rest needs a CPU that runs AES-256-GCM";
  ASSERT_TRUE(InitRepository(Env::Default(), repo_, io).ok());
  auto before = TreeDigest(repo_);
  OpenRepositoryOptions o;
  o.password = &source;
  DisableAes256GcmForTest(true);
  auto opened = OpenRepository(Env::Default(), repo_, o);
  DisableAes256GcmForTest(false);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kInvalidArgument) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("AES-NI"), std::string::npos) << opened.status().message();
  EXPECT_NE(opened.status().message().find(repo_), std::string::npos) << opened.status().message();
  EXPECT_EQ(TreeDigest(repo_), before);
  EXPECT_TRUE(OpenRepository(Env::Default(), repo_, o).ok()) << "opens where the CPU has AES-NI";
}

// Every encryption= this build knows reads back from a config; any other is
// refused naming the ones it reads (as builds before a scheme refuse it).
TEST(EncryptionScheme, ConfigReadsEveryKnownSchemeAndRefusesAnyOther) {
  for (std::string_view e : {kEncryptionNone, kEncryptionXChaChaBlake2Ids, kEncryptionXChaChaXxh3Ids,
                             kEncryptionAesXxh3Ids}) {
    RepoConfig c;
    c.format_version = kRepoFormatV4;
    c.repository_id = std::string(32, 'a');
    c.encryption = std::string(e);
    auto back = DecodeConfig(EncodeConfig(c), "config");
    ASSERT_TRUE(back.ok()) << e << ": " << back.status().ToString();
    EXPECT_EQ(back->encryption, e);
  }
  RepoConfig c;
  c.format_version = kRepoFormatV4;
  c.repository_id = std::string(32, 'a');
  c.encryption = "aes128ocb+keyed-md5";
  auto back = DecodeConfig(EncodeConfig(c), "config");
  ASSERT_FALSE(back.ok());
  EXPECT_TRUE(back.status().IsCorruption());
  EXPECT_NE(back.status().message().find("is not supported by this build"), std::string::npos);
  EXPECT_NE(back.status().message().find("xchacha20poly1305+keyed-xxh3"), std::string::npos) << back.status().message();
  EXPECT_EQ(std::string(kDefaultEncryption), "xchacha20poly1305+keyed-xxh3");
}

// ---------------------------------------------------------------- end to end

constexpr char kMarker[] = "MARKER-8d1f3a-plaintext-that-must-not-leak";
constexpr char kSecretName[] = "zebra-quokka-7731-secret-name.pdf";

// A demo install with a distinctive file (incompressible, so an unencrypted
// repository stores it raw and the marker would be plain to see) and two
// copies of one more file, in an encrypted repository holding one snapshot.
// Every end-to-end test runs on each scheme: the default (keyed-XXH3 ids),
// the first one (BLAKE2b ids, as repositories made before it have) and
// AES-256-GCM where the CPU runs it.
class EncryptedEndToEnd : public EncryptedRepo, public ::testing::WithParamInterface<Scheme> {
 protected:
  void SetUp() override {
    scheme_ = GetParam();
    if (scheme_.needs_aes && !Aes256GcmAvailable()) GTEST_SKIP() << "no AES-NI on this CPU";
    EncryptedRepo::SetUp();
    MakeDemo(10);
    pdfs_ = root_ + "/ai_researcher/data/raw_pdfs";
    secret_ = testing::RandomBytes(50000, 7) + kMarker + testing::RandomBytes(50000, 8);
    WriteFile(pdfs_ + "/" + kSecretName, secret_);
    twin_ = testing::RandomBytes(30000, 9);
    WriteFile(pdfs_ + "/twin-a.pdf", twin_);
    WriteFile(pdfs_ + "/twin-b.pdf", twin_);
    InitEncrypted();
    first_ = CreateSnapshot(pw_);
    ASSERT_FALSE(first_.empty());
  }

  // The repository through the library, opened with the password.
  Result<OpenedRepository> OpenLib(const std::string& pw = "correct horse battery staple") {
    FixedPassword source(pw);
    OpenRepositoryOptions o;
    o.password = &source;
    return OpenRepository(Env::Default(), repo_, o);
  }

  std::string pdfs_, secret_, twin_, first_;
};

TEST_P(EncryptedEndToEnd, EverySnapshotCommandWorksOnAnEncryptedRepository) {
  WriteFile(pdfs_ + "/added-later.pdf", testing::RandomBytes(20000, 11));
  std::string second = CreateSnapshot(pw_);
  ASSERT_FALSE(second.empty());
  CliResult r = Snap({"list", "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 2u);
  r = Snap({"show", first_}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(kSecretName), std::string::npos) << r.out;
  r = Snap({"diff", first_, second}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("added-later.pdf"), std::string::npos) << r.out;
  r = Snap({"verify", "--read-data"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  r = Snap({"restore", first_, "--to", tmp_.Sub("out")}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(tmp_.Sub("out/ai_researcher/data/raw_pdfs/") + kSecretName) == secret_) << Sh("ls -R " + tmp_.Sub("out") + " | head");
  r = Snap({"prune", "--keep-last", "1"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Snap({"list", "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], second);
  r = Snap({"verify", "--read-data"}, pw_);
  EXPECT_EQ(r.exit_code, 0) << "prune kept what the newest needs: " << r.err << r.out;
  // In place, as a transaction (its pre-restore snapshot goes into the same encrypted repository).
  WriteFile(pdfs_ + "/" + kSecretName, "changed");
  std::vector<std::string> in_place = {"--root", root_, "--repo", repo_, "--password-file", pw_, "--yes",
                                       "snap",   "restore", second};
  r = RunCli(in_place);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(pdfs_ + "/" + kSecretName) == secret_) << "restored in place";
}

// Issue 15 point 4: copies between an encrypted and an unencrypted repository,
// both ways. The ids, times and labels stay; blob ids are re-hashed under the
// target's scheme (keyed BLAKE2b <-> XXH3), and the copy restores identically.
TEST_P(EncryptedEndToEnd, SnapCopyWorksFromEncryptedToPlainAndBackToEncrypted) {
  const std::string plain = tmp_.Sub("plain"), again = tmp_.Sub("again");
  CliResult r = RunCli({"--repo", plain, "snap", "init"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Snap({"copy", "--all", "--to", plain, "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(ReadFile(plain + "/config").find("encryption=none"), std::string::npos);
  r = RunCli({"--repo", plain, "snap", "list", "--json"});  // no password needed
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], first_);
  r = RunCli({"--repo", plain, "snap", "verify", "--read-data"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  r = RunCli({"--root", root_, "--repo", plain, "snap", "restore", first_, "--to", tmp_.Sub("out-plain")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(tmp_.Sub("out-plain/ai_researcher/data/raw_pdfs/") + kSecretName) == secret_);
  // The plaintext of the marker is in the unencrypted copy (a control for the
  // next check), and back into a new encrypted repository it is not.
  std::vector<std::string> init = {"--repo", again, "--password-file", pw_, "snap", "init", "--encrypt"};
  init.insert(init.end(), kFast.begin(), kFast.end());
  ASSERT_EQ(RunCli(init).exit_code, 0);
  r = RunCli({"--repo", plain, "--password-file", pw_, "snap", "copy", "--all", "--to", again});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(ReadFile(again + "/config").find("encryption=xchacha20poly1305"), std::string::npos);
  r = RunCli({"--repo", again, "--password-file", pw_, "snap", "verify", "--read-data"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  r = RunCli({"--root", root_, "--repo", again, "--password-file", pw_, "snap", "restore", first_, "--to",
              tmp_.Sub("out-again")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(tmp_.Sub("out-again/ai_researcher/data/raw_pdfs/") + kSecretName) == secret_);
  std::string all_bytes = Sh("cat $(find '" + again + "' -type f)");
  EXPECT_EQ(all_bytes.find(kMarker), std::string::npos) << "the encrypted copy holds the marker in clear";
  r = RunCli({"--repo", again, "snap", "list"}, {"MAESTRO_DB_PASSWORD=wrong"});
  EXPECT_EQ(r.exit_code, 10) << r.err;
}

// Issue 15 point 3: two encrypted repositories with different passwords.
// Each end of `snap copy` gets its own password file (--from-password-file,
// --to-password-file, or MAESTRO_DB_FROM_/TO_PASSWORD_FILE); a wrong or
// missing one for the target writes nothing there.
TEST_P(EncryptedEndToEnd, SnapCopyBetweenEncryptedRepositoriesWithDifferentPasswords) {
  const std::string other = tmp_.Sub("other"), other_pw = PasswordFile("other", "the other password\n");
  std::vector<std::string> init = {"--repo", other, "--password-file", other_pw, "snap", "init", "--encrypt"};
  init.insert(init.end(), kFast.begin(), kFast.end());
  ASSERT_EQ(RunCli(init).exit_code, 0);
  const auto untouched = testing::TreeDigest(other);
  // One password for both ends (as before): the target does not open with it.
  CliResult r = Snap({"copy", "--all", "--to", other}, pw_);
  EXPECT_EQ(r.exit_code, 10) << r.err;
  r = Snap({"copy", "--all", "--to", other, "--to-password-file", PasswordFile("bad", "not it")}, pw_);
  EXPECT_EQ(r.exit_code, 10) << r.err;
  r = Snap({"copy", "--all", "--to", other, "--to-password-file", tmp_.Sub("missing.pw")}, pw_);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--to-password-file"), std::string::npos) << r.err;
  r = Snap({"copy", "--all", "--to", other}, pw_, {"MAESTRO_DB_TO_PASSWORD_FILE="});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("MAESTRO_DB_TO_PASSWORD_FILE is set but empty"), std::string::npos) << r.err;
  EXPECT_EQ(testing::TreeDigest(other), untouched) << "a refused copy wrote nothing on the target";

  r = Snap({"copy", "--all", "--to", other, "--to-password-file", other_pw, "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["copied"], nlohmann::json::array({first_}));
  r = RunCli({"--repo", other, "--password-file", other_pw, "snap", "verify", "--read-data"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;

  // The other way, the source's password from its variable, into a new
  // repository made with a third password (encrypted because one was given).
  const std::string third = tmp_.Sub("third"), third_pw = PasswordFile("third", "a third password");
  r = RunCli({"--repo", third, "--password-file", third_pw, "snap", "copy", "--all", "--from", other},
             {"MAESTRO_DB_FROM_PASSWORD_FILE=" + other_pw});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.err.find("ENCRYPTED"), std::string::npos) << r.err;
  r = RunCli({"--root", root_, "--repo", third, "--password-file", third_pw, "snap", "restore", first_, "--to",
              tmp_.Sub("out-third")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(tmp_.Sub("out-third/ai_researcher/data/raw_pdfs/") + kSecretName) == secret_);
  EXPECT_EQ(RunCli({"--repo", third, "--password-file", other_pw, "snap", "list"}).exit_code, 10);
  // A password file for an end that is not encrypted is said, not silently dropped.
  const std::string plain = tmp_.Sub("plain");
  ASSERT_EQ(RunCli({"--repo", plain, "snap", "init"}).exit_code, 0);
  r = Snap({"copy", "--all", "--to", plain, "--to-password-file", other_pw}, pw_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("is not encrypted"), std::string::npos) << r.err;
}

TEST_P(EncryptedEndToEnd, BlobIdsAreKeyedYetEqualChunksStillDeduplicate) {
  auto opened = OpenLib();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_TRUE(opened->keys.keys.has_value());
  const MasterKey& master = opened->keys.keys->master;
  auto m = opened->repo->LoadManifest(first_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::map<std::string, std::vector<Hash128>> chunks;
  for (const auto& st : m->stores)
    if (st.name == "pdfs")
      for (const auto& f : st.files) chunks[f.path] = f.chunks;
  ASSERT_FALSE(chunks["twin-a.pdf"].empty());
  EXPECT_EQ(chunks["twin-a.pdf"], chunks["twin-b.pdf"]) << "equal chunks, equal ids: deduplicated";
  ASSERT_EQ(chunks["twin-a.pdf"].size(), 1u) << "30 KB is one chunk";
  Hash128 id = chunks["twin-a.pdf"][0];
  EXPECT_NE(id, Xxh128(twin_)) << "not the unkeyed XXH3-128 anyone can compute";
  if (scheme_.encryption == kEncryptionXChaChaBlake2Ids) {
    EXPECT_EQ(id, KeyedBlobId(master, twin_)) << "the first scheme keeps its ids";
  } else {
    EXPECT_EQ(id, KeyedHashBlobId(master, twin_));
  }
  // The second copy added no blob bytes: a snapshot of one more twin stores almost nothing.
  WriteFile(pdfs_ + "/twin-c.pdf", twin_);
  CliResult r = Snap({"create", "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(nlohmann::json::parse(r.out)["stored_bytes"].get<uint64_t>(), 20000u);
}

TEST_P(EncryptedEndToEnd, WrongPasswordExitsTenAndWritesNothing) {
  auto before = TreeDigest(repo_);
  std::string bad = PasswordFile("bad", "wrong password");
  for (std::vector<std::string> args : {std::vector<std::string>{"create"}, std::vector<std::string>{"list"},
                                        std::vector<std::string>{"prune", "--keep-last", "1"},
                                        std::vector<std::string>{"delete", first_}}) {
    CliResult r = Snap(args, bad);
    EXPECT_EQ(r.exit_code, 10) << args[0] << ": " << r.err;
  }
  std::vector<std::string> reset = {"--root", root_, "--repo", repo_, "--password-file", bad, "--yes", "reset"};
  EXPECT_EQ(RunCli(reset).exit_code, 10);
  EXPECT_EQ(TreeDigest(repo_), before) << "not a byte written, not even the lock's holder file";
}

TEST_P(EncryptedEndToEnd, ForgedManifestWithValidChecksumsIsRejectedByAuthentication) {
  // A forger without the key writes a well-formed format-4 manifest, every
  // checksum right, under a new id; and edits a real one's ciphertext (no
  // unkeyed checksum covers it to recompute).
  Manifest forged;
  forged.format_version = 4;
  forged.info.id = "20300101_000000";
  forged.info.label = "forged";
  auto bytes = EncodeManifestV4(forged, *PlainSealer());
  ASSERT_TRUE(bytes.ok());
  WriteFile(repo_ + "/snapshots/20300101_000000", *bytes);
  CliResult r = Snap({"show", "20300101_000000"}, pw_);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  r = Snap({"list", "--json"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("forged"), std::string::npos) << "never listed: " << r.out;
  ASSERT_EQ(::unlink((repo_ + "/snapshots/20300101_000000").c_str()), 0);

  FlipByte(repo_ + "/snapshots/" + first_, 60);
  r = Snap({"show", first_}, pw_);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  r = Snap({"verify"}, pw_);
  EXPECT_EQ(r.exit_code, 4) << r.err << r.out;
}

TEST_P(EncryptedEndToEnd, ManifestMovedToAnotherIdDoesNotOpen) {
  std::string moved = "20300101_000000";
  WriteFile(repo_ + "/snapshots/" + moved, ReadFile(repo_ + "/snapshots/" + first_));
  CliResult r = Snap({"show", moved}, pw_);
  EXPECT_EQ(r.exit_code, 4) << "the id is bound into the seal: " << r.err;
  r = Snap({"show", first_}, pw_);
  EXPECT_EQ(r.exit_code, 0) << "the original still opens: " << r.err;
}

TEST_P(EncryptedEndToEnd, PackWithAnotherPacksBytesOrAFlippedByteIsRejected) {
  WriteFile(pdfs_ + "/second.pdf", testing::RandomBytes(40000, 12));
  ASSERT_FALSE(CreateSnapshot(pw_).empty());
  std::vector<DirEntry> packs;
  ASSERT_TRUE(Env::Default()->ListDir(repo_ + "/packs", &packs).ok());
  ASSERT_GE(packs.size(), 2u);
  std::string a = repo_ + "/packs/" + packs[0].name, b = repo_ + "/packs/" + packs[1].name;
  std::string a_bytes = ReadFile(a);
  // Swapped: a pack's bytes put under the other's name (no unkeyed check can
  // tell, the blobs are bound to their ids).
  WriteFile(a, ReadFile(b));
  CliResult r = Snap({"verify", "--read-data"}, pw_);
  EXPECT_EQ(r.exit_code, 4) << r.err << r.out;
  WriteFile(a, a_bytes);
  r = Snap({"verify", "--read-data"}, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // A flipped byte inside the first blob: restore refuses and leaves no target.
  FlipByte(a, 40);
  r = Snap({"verify", "--read-data"}, pw_);
  EXPECT_EQ(r.exit_code, 4) << r.err << r.out;
  bool any_failed = false;
  for (const char* id : {"latest", first_.c_str()}) {
    r = Snap({"restore", id, "--to", tmp_.Sub(std::string("out-") + (id[0] == 'l' ? "l" : "f"))}, pw_);
    any_failed = any_failed || r.exit_code == 4;
  }
  EXPECT_TRUE(any_failed) << "one of the two snapshots needs the damaged pack";
}

TEST_P(EncryptedEndToEnd, ForgedIndexFileIsRejectedAsDamage) {
  IndexEntry e;
  e.blob = Xxh128(twin_);
  std::vector<DirEntry> packs;
  ASSERT_TRUE(Env::Default()->ListDir(repo_ + "/packs", &packs).ok());
  ASSERT_FALSE(packs.empty());
  ASSERT_TRUE(ParseObjectName(packs[0].name, "pack", &e.pack));
  e.stored_len = 100;
  e.raw_len = 100;
  e.pack_version = 4;
  auto bytes = EncodeIndexV4({e}, *PlainSealer());
  ASSERT_TRUE(bytes.ok());
  std::string name = Xxh128(*bytes).Hex() + ".idx";
  WriteFile(repo_ + "/index/" + name, *bytes);
  CliResult r = Snap({"verify"}, pw_);
  EXPECT_EQ(r.exit_code, 4) << r.err << r.out;
  EXPECT_NE((r.err + r.out).find(name), std::string::npos) << "names the forged file: " << r.err << r.out;
  r = Snap({"prune", "--keep-last", "1", "--json"}, pw_);
  EXPECT_NE(r.out.find("skipped"), std::string::npos) << "nothing is removed while an index is damaged: " << r.out;
}

TEST_P(EncryptedEndToEnd, TheStorageSeesNeitherContentsNorFileNames) {
  WriteFile(pdfs_ + "/added.pdf", testing::RandomBytes(1000, 13));
  ASSERT_FALSE(CreateSnapshot(pw_).empty());
  auto objects = RepoObjects(repo_);
  ASSERT_GT(objects.size(), 4u);
  const std::string twin_head = twin_.substr(100, 32);
  for (const auto& [path, bytes] : objects) {
    EXPECT_EQ(bytes.find(kMarker), std::string::npos) << "file content in " << path;
    EXPECT_EQ(bytes.find(kSecretName), std::string::npos) << "file name in " << path;
    EXPECT_EQ(bytes.find("zebra-quokka"), std::string::npos) << "part of a file name in " << path;
    EXPECT_EQ(bytes.find(twin_head), std::string::npos) << "file bytes in " << path;
    EXPECT_EQ(bytes.find("raw_pdfs"), std::string::npos) << "a store path in " << path;
  }
  // The same install in an unencrypted repository shows both (the check can see them).
  std::string plain = tmp_.Sub("plain");
  CliResult r = RunCli({"--root", root_, "--repo", plain, "-q", "snap", "create"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool marker_seen = false;
  for (const auto& [path, bytes] : RepoObjects(plain)) marker_seen = marker_seen || bytes.find(kMarker) != std::string::npos;
  EXPECT_TRUE(marker_seen) << "the marker is stored raw in clear";
}

TEST_P(EncryptedEndToEnd, KeyAddListRemovePasswdThenTheNewPasswordOpens) {
  std::string second = PasswordFile("second", "second password");
  std::vector<std::string> add = {"key", "add", "--json", "--new-password-file", second};
  add.insert(add.end(), kFast.begin(), kFast.end());
  CliResult r = Snap(add, pw_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string added = nlohmann::json::parse(r.out)["added"];
  r = Snap({"list", "--json"}, second);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
  r = Snap({"key", "list", "--json"}, second);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["keys"].size(), 2u);
  // passwd: the second password is replaced by a third.
  std::string third = PasswordFile("third", "third password");
  std::vector<std::string> passwd = {"key", "passwd", "--new-password-file", third};
  passwd.insert(passwd.end(), kFast.begin(), kFast.end());
  r = Snap(passwd, second);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Snap({"list"}, second).exit_code, 10);
  // remove the first: only the third opens now, and it reads every snapshot back.
  auto keys = nlohmann::json::parse(Snap({"key", "list", "--json"}, third).out)["keys"];
  std::string first_key;
  for (const auto& k : keys)
    if (!k["current"].get<bool>()) first_key = k["id"];
  ASSERT_FALSE(first_key.empty());
  r = Snap({"key", "remove", first_key.substr(0, 8)}, third);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Snap({"list"}, pw_).exit_code, 10);
  r = Snap({"verify", "--read-data"}, third);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(Snap({"create", "-q"}, third).exit_code, 0);
}

TEST_P(EncryptedEndToEnd, AnEncryptedRemoteIsReadThroughRclone) {
  std::vector<std::string> env = {"RCLONE_CONFIG_L_TYPE=local"};
  std::string remote = "rclone:l:" + repo_;
  CliResult r = RunCli({"--repo", remote, "--password-file", pw_, "--json", "snap", "list"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
  r = RunCli({"--repo", remote, "--password-file", pw_, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  r = RunCli({"--repo", remote, "--password-file", PasswordFile("bad", "nope"), "snap", "list"}, env);
  EXPECT_EQ(r.exit_code, 10) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Schemes, EncryptedEndToEnd, ::testing::Values(kDefaultScheme, kFirstScheme, kAesScheme),
                         [](const ::testing::TestParamInfo<Scheme>& i) { return i.param.name; });

}  // namespace
}  // namespace maestro
