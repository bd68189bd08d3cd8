// tests/compose_test.cc — issue 16 points 1 and 2: a Docker Compose install
// read from its compose file, and a repository that a container rebuild cannot
// lose. No Docker daemon runs on these machines: a stand-in `docker` on PATH
// answers (tests/compose_util.h), and the container is described by injected
// /.dockerenv and /proc/self/mountinfo files (MAESTRO_DB_DOCKERENV, _MOUNTINFO).
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/stores/compose.h"
#include "engine/stores/container.h"
#include "engine/stores/store_paths.h"
#include "tests/compose_util.h"
#include "util/subprocess.h"

namespace maestro {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::ComposeInstallFixture;
using testing::MaestroComposeYaml;
using testing::RunCli;
using testing::TreeDigest;
using testing::WriteFile;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

nlohmann::json StatsJson(const ComposeInstallFixture& f, std::vector<std::string> args,
                         const std::vector<std::string>& env = {}) {
  args.insert(args.end(), {"--json", "stats"});
  CliResult r = RunCli(args, f.Env(env));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

TEST(SubprocessTest, CapturesOutputAndExitStatus) {
  ProcessOptions o;
  auto r = RunShellCommand("echo out; echo err >&2; exit 3", o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_TRUE(Has(r->Describe(), "exit status 3 (err)")) << r->Describe();
  auto missing = RunProcess({"no-such-program-maestro"}, o);
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
}

TEST(SubprocessTest, TimeoutKillsTheCommandAndADaemonItLeavesIsNotWaitedFor) {
  ProcessOptions o;
  o.timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  auto slow = RunShellCommand("sleep 30", o);
  ASSERT_TRUE(slow.ok());
  EXPECT_TRUE(slow->timed_out);
  // A start command that leaves a daemon holding our pipes returns when the shell exits.
  o.timeout_ms = 20000;
  auto daemon = RunShellCommand("sleep 30 & echo $!", o);
  ASSERT_TRUE(daemon.ok());
  EXPECT_EQ(daemon->exit_code, 0);
  EXPECT_FALSE(daemon->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  if (int pid = std::atoi(daemon->out.c_str()); pid > 0) ::kill(pid, SIGKILL);
}

TEST(ComposeProjectNameTest, FolderNamesAreNormalisedAsComposeDoes) {
  EXPECT_EQ(NormalizeComposeProjectName("Maestro.Checkout_2"), "maestrocheckout_2");
  EXPECT_EQ(NormalizeComposeProjectName("maestro"), "maestro");
  EXPECT_EQ(NormalizeComposeProjectName("My Maestro (copy)"), "mymaestrocopy");
  EXPECT_EQ(NormalizeComposeProjectName("_-Lead-in"), "lead-in");
  EXPECT_EQ(NormalizeComposeProjectName("..."), "");
}

TEST(ComposeTest, StoresMapToBindMountAndNamedVolumeWithoutDaemon) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  f.PopulateVolume("maestrocheckout_2");
  auto j = StatsJson(f, {"--compose", f.checkout()});
  EXPECT_EQ(j["stores"]["main"]["path"], f.checkout() + "/maestro_backend/data/maestro.db");
  EXPECT_EQ(j["stores"]["ai"]["path"], f.VolumeData("maestrocheckout_2") + "/processed/metadata.db");
  EXPECT_EQ(j["stores"]["vector"]["path"], f.VolumeData("maestrocheckout_2") + "/vector_store");
  for (const char* s : {"main", "ai", "vector", "pdfs", "markdown", "metadata"}) {
    EXPECT_TRUE(j["stores"][s]["present"].get<bool>()) << s;
    EXPECT_TRUE(Has(j["stores"][s]["found"].get<std::string>(), "compose")) << j["stores"][s];
  }
  EXPECT_TRUE(Has(j["stores"]["main"]["found"], "bind-mounts ./maestro_backend/data at /app/data"));
  EXPECT_TRUE(Has(j["stores"]["ai"]["found"], "no Docker daemon answered")) << j["stores"]["ai"];
  EXPECT_EQ(j["install"]["compose"]["project"], "maestrocheckout_2");
  EXPECT_TRUE(Has(j["install"]["compose"]["project_from"], "folder name")) << j["install"];
  EXPECT_EQ(j["install"]["compose"]["services"], nlohmann::json({"backend", "doc-processor"}));
  EXPECT_GT(j["main"]["documents"].get<int>(), 0);
  // The text form says the same.
  CliResult t = RunCli({"--compose", f.checkout(), "stats"}, f.Env());
  EXPECT_TRUE(Has(t.out, "where:")) << t.out;
  EXPECT_TRUE(Has(t.out, "project maestrocheckout_2")) << t.out;
}

TEST(ComposeTest, ProjectNameComesFromDotEnv) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  WriteFile(f.checkout() + "/.env", "# settings\nexport COMPOSE_PROJECT_NAME=\"fromdotenv\"\nOTHER=1\n");
  f.PopulateVolume("fromdotenv");
  auto j = StatsJson(f, {"--compose", f.checkout()});
  EXPECT_EQ(j["install"]["compose"]["project"], "fromdotenv");
  EXPECT_TRUE(j["stores"]["ai"]["present"].get<bool>()) << j["stores"]["ai"];
}

// Compose's order: the environment, then .env, then the file's top-level name:, then the folder.
TEST(ComposeTest, ProjectNamePrecedenceIsEnvironmentDotEnvNameFolder) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml("name: fromfile\n"));
  WriteFile(f.checkout() + "/.env", "COMPOSE_PROJECT_NAME=fromdotenv\n");
  auto project = [&](const std::vector<std::string>& env) {
    return StatsJson(f, {"--compose", f.checkout()}, env)["install"]["compose"]["project"].get<std::string>();
  };
  EXPECT_EQ(project({"COMPOSE_PROJECT_NAME=fromenv"}), "fromenv");
  EXPECT_EQ(project({}), "fromdotenv");
  fs::remove(f.checkout() + "/.env");
  EXPECT_EQ(project({}), "fromfile");
  f.WriteCompose(MaestroComposeYaml());
  EXPECT_EQ(project({}), "maestrocheckout_2");
  // An explicit name Compose would refuse is refused too (not silently normalised).
  CliResult bad = RunCli({"--compose", f.checkout(), "stats"}, f.Env({"COMPOSE_PROJECT_NAME=Bad.Name"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(Has(bad.err, "Bad.Name")) << bad.err;
}

TEST(ComposeTest, LongVolumeSyntaxIsRead) {
  ComposeInstallFixture f;
  std::string yaml = MaestroComposeYaml("", "- type: volume\n        source: maestro-data\n        target: /app/ai_researcher/data");
  // The bind mount in the long syntax too.
  size_t at = yaml.find("- ./maestro_backend/data:/app/data");
  while (at != std::string::npos) {
    yaml.replace(at, std::string("- ./maestro_backend/data:/app/data").size(),
                 "- type: bind\n        source: ./maestro_backend/data\n        target: /app/data\n        read_only: false");
    at = yaml.find("- ./maestro_backend/data:/app/data");
  }
  f.WriteCompose(yaml);
  f.PopulateVolume("maestrocheckout_2");
  auto j = StatsJson(f, {"--compose", f.checkout()});
  for (const char* s : {"main", "ai", "vector", "pdfs", "markdown", "metadata"})
    EXPECT_TRUE(j["stores"][s]["present"].get<bool>()) << s << ": " << j["stores"][s];
}

TEST(ComposeTest, MissingVolumeMakesItsStoresMissing) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  f.PopulateVolume("maestrocheckout_2");
  fs::remove_all(f.docker_root() + "/volumes");
  auto j = StatsJson(f, {"--compose", f.checkout()});
  EXPECT_TRUE(j["stores"]["main"]["present"].get<bool>());
  for (const char* s : {"ai", "vector", "pdfs", "markdown", "metadata"})
    EXPECT_FALSE(j["stores"][s]["present"].get<bool>()) << s;
  EXPECT_TRUE(Has(j["stores"]["ai"]["found"], "the volume does not exist")) << j["stores"]["ai"];
  // A reset would create the stores in a folder Docker never mounts: refused, nothing written.
  CliResult r = RunCli({"--compose", f.checkout(), "--yes", "reset"}, f.Env());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Has(r.err, "maestrocheckout_2_maestro-data, which does not exist")) << r.err;
  EXPECT_FALSE(fs::exists(f.docker_root() + "/volumes"));
  EXPECT_FALSE(fs::exists(f.checkout() + "/backups")) << "not even the repository is created";
}

TEST(ComposeTest, DaemonAnsweringVolumeInspectIsBelieved) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  f.PopulateVolume("maestrocheckout_2");
  // The daemon says the volume lives elsewhere (another docker root).
  std::string elsewhere = f.tmp().Sub("other-root/volumes/maestrocheckout_2_maestro-data/_data");
  fs::create_directories(DirName(elsewhere));
  fs::rename(f.VolumeData("maestrocheckout_2"), elsewhere);
  WriteFile(f.fake() + "/daemon", f.tmp().Sub("other-root") + "\n");
  WriteFile(f.fake() + "/volumes/maestrocheckout_2_maestro-data", elsewhere + "\n");
  auto j = StatsJson(f, {"--compose", f.checkout()}, {"MAESTRO_DB_DOCKER_ROOT="});
  EXPECT_EQ(j["stores"]["vector"]["path"], elsewhere + "/vector_store");
  EXPECT_TRUE(j["stores"]["vector"]["present"].get<bool>());
  EXPECT_TRUE(Has(j["stores"]["vector"]["found"], "docker volume inspect maestrocheckout_2_maestro-data"));
  EXPECT_TRUE(j["install"]["compose"]["docker_daemon"].get<bool>());
  EXPECT_TRUE(Has(f.DockerLog(), "volume inspect --format {{.Mountpoint}} maestrocheckout_2_maestro-data"))
      << f.DockerLog();
  // A volume the daemon does not know is missing, at the place the daemon's root gives.
  fs::remove(f.fake() + "/volumes/maestrocheckout_2_maestro-data");
  fs::remove_all(DirName(elsewhere));
  auto m = StatsJson(f, {"--compose", f.checkout()}, {"MAESTRO_DB_DOCKER_ROOT="});
  EXPECT_FALSE(m["stores"]["vector"]["present"].get<bool>());
  EXPECT_EQ(m["stores"]["vector"]["path"], elsewhere + "/vector_store");
  EXPECT_TRUE(Has(m["stores"]["vector"]["found"], "the volume does not exist")) << m["stores"]["vector"];
}

TEST(ComposeTest, FoundByItselfWhenRootHoldsTheComposeFile) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  f.PopulateVolume("maestrocheckout_2");
  auto j = StatsJson(f, {"--root", f.checkout()});
  EXPECT_TRUE(j["stores"]["vector"]["present"].get<bool>());
  EXPECT_TRUE(Has(j["install"]["compose"]["found_by"], "in --root")) << j["install"];
  auto env = StatsJson(f, {"--root", f.tmp().path()}, {"MAESTRO_COMPOSE_DIR=" + f.checkout()});
  EXPECT_EQ(env["install"]["compose"]["found_by"], "MAESTRO_COMPOSE_DIR");
  auto off = StatsJson(f, {"--root", f.checkout(), "--no-compose"});
  EXPECT_TRUE(off["install"]["compose"].is_null());
  EXPECT_FALSE(off["stores"]["vector"]["present"].get<bool>());
}

TEST(ComposeTest, ConfigStoresOverrideTheComposeFile) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  f.PopulateVolume("maestrocheckout_2");
  WriteFile(f.tmp().Sub("m.ini"), "[stores]\nmain = " + f.tmp().Sub("elsewhere.db") + "\n");
  auto j = StatsJson(f, {"--compose", f.checkout(), "--config", f.tmp().Sub("m.ini")});
  EXPECT_EQ(j["stores"]["main"]["path"], f.tmp().Sub("elsewhere.db"));
  EXPECT_TRUE(Has(j["stores"]["main"]["found"], "[stores] main")) << j["stores"]["main"];
  EXPECT_TRUE(j["stores"]["ai"]["present"].get<bool>());
}

// A compose file that cannot be read as MAESTRO's is refused before anything runs.
TEST(ComposeTest, BadOrUnsafeComposeFileIsRefusedAndNothingIsTouched) {
  ComposeInstallFixture f;
  f.PopulateVolume("maestrocheckout_2");
  struct Case {
    std::string yaml, expect;
  };
  std::vector<Case> cases = {
      {"services:\n  backend:\n    volumes: [unclosed\n", "not valid YAML"},
      {std::string(5000, '[') + std::string(5000, ']') + "\n", "nested deeper"},
      {"services:\n  backend:\n    volumes:\n      - ${DATA_DIR}:/app/data\n", "interpolation"},
      {"services:\n  backend:\n    volumes: ./maestro_backend/data:/app/data\n", "not a list"},
      {"services:\n  frontend:\n    image: nginx\n", "no service mounts /app/data"},
      {"- just\n- a list\n", "not a YAML map"},
      {"services:\n  backend:\n    volumes:\n      - ./a:/app/data\n  doc-processor:\n    volumes:\n"
       "      - ./b:/app/data\n",
       "mount different things"},
      {std::string("services: {}\n\xff\xfe\n"), "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    f.WriteCompose(c.yaml);
    auto before = TreeDigest(f.tmp().path());
    CliResult r = RunCli({"--compose", f.checkout(), "--yes", "reset"}, f.Env());
    EXPECT_EQ(r.exit_code, 2) << c.expect << ": " << r.err;
    EXPECT_TRUE(Has(r.err, c.expect)) << "expected '" << c.expect << "' in: " << r.err;
    EXPECT_TRUE(Has(r.err, "docker-compose.yml")) << r.err;
    auto after = TreeDigest(f.tmp().path());
    after.erase("docker.log");
    before.erase("docker.log");
    EXPECT_EQ(after, before) << c.expect << ": something changed";
  }
  // Not a regular file: a symlink to a device is never read.
  fs::remove(f.checkout() + "/docker-compose.yml");
  fs::create_symlink("/dev/zero", f.checkout() + "/docker-compose.yml");
  CliResult dev = RunCli({"--compose", f.checkout(), "stats"}, f.Env());
  EXPECT_EQ(dev.exit_code, 2) << dev.err;
  EXPECT_TRUE(Has(dev.err, "not a regular file")) << dev.err;
}

TEST(ComposeTest, ComposeInstallKeepsItsRepositoryInTheCheckout) {
  ComposeInstallFixture f;
  f.WriteCompose(MaestroComposeYaml());
  f.PopulateVolume("maestrocheckout_2");
  CliResult r = RunCli({"--compose", f.checkout(), "snap", "create", "-q"}, f.Env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(f.checkout() + "/backups/config")) << "the repository is <compose dir>/backups";
  auto j = StatsJson(f, {"--compose", f.checkout()});
  EXPECT_EQ(j["repo"]["path"], f.checkout() + "/backups");
}

// ------------------------------------------------------------------ container

// A container like MAESTRO's backend: "/" an overlay (the writable layer), /app/data a bind mount.
struct FakeContainer {
  explicit FakeContainer(const testing::TempDir& tmp) {
    root = tmp.Sub("app");
    reliability::MakeSmallDemo(root, 2);
    // demo create puts main at data/maestro.db, as in the image (/app/data/maestro.db).
    data_mount = ResolvePath(root + "/data");
    WriteFile(tmp.Sub("dockerenv"), "");
    WriteFile(tmp.Sub("mountinfo"),
              "600 500 0:50 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x,upperdir=/y,workdir=/z\n"
              "601 600 0:51 / /proc rw,nosuid - proc proc rw\n"
              "602 600 0:52 / /dev/shm rw - tmpfs shm rw\n"
              "603 600 254:0 /srv/maestro/maestro_backend/data " + data_mount +
                  " rw,relatime - ext4 /dev/vda rw\n"
              "604 600 254:0 /etc/hosts /etc/hosts rw - ext4 /dev/vda rw\n");
    env = {"MAESTRO_DB_DOCKERENV=" + tmp.Sub("dockerenv"), "MAESTRO_DB_MOUNTINFO=" + tmp.Sub("mountinfo")};
  }
  std::string root, data_mount;
  std::vector<std::string> env;
};

TEST(ContainerTest, MountInfoIsParsedWithEscapes) {
  auto m = ParseMountInfo("36 35 98:0 /mnt1 /mnt/my\\040data rw,noatime master:1 - ext3 /dev/root rw\n"
                          "37 35 0:5 / /tmp rw shared:2 - tmpfs tmpfs rw\nbroken line\n");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].mount_point, "/mnt/my data");
  EXPECT_EQ(m[0].fstype, "ext3");
  EXPECT_TRUE(m[0].persistent);
  EXPECT_FALSE(m[1].persistent) << "tmpfs does not outlive the container";
}

TEST(ContainerTest, DefaultRepositoryMovesOntoTheDataMount) {
  testing::TempDir tmp;
  FakeContainer c(tmp);
  CliResult r = RunCli({"--root", c.root, "--json", "stats"}, c.env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["repo"]["path"], c.data_mount + "/backups/maestro-db");
  EXPECT_TRUE(Has(j["repo"]["why"], "persistent mount")) << j["repo"];
  EXPECT_FALSE(Has(r.err, "writable layer")) << r.err;
  CliResult s = RunCli({"--root", c.root, "snap", "create", "-q"}, c.env);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(fs::exists(c.data_mount + "/backups/maestro-db/config"));
  EXPECT_FALSE(fs::exists(c.root + "/backups/maestro-db")) << "nothing may land in the writable layer";
}

TEST(ContainerTest, RepoInTheWritableLayerGetsAWarningSayingWhatToPass) {
  testing::TempDir tmp;
  FakeContainer c(tmp);
  CliResult r = RunCli({"--root", c.root, "--repo", c.root + "/backups", "stats"}, c.env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "writable layer")) << r.err;
  EXPECT_TRUE(Has(r.err, "docker compose down")) << r.err;
  EXPECT_TRUE(Has(r.err, "--repo " + c.data_mount + "/backups/maestro-db")) << r.err;
  // On a mount: no warning.
  CliResult ok = RunCli({"--root", c.root, "--repo", c.data_mount + "/repo", "stats"}, c.env);
  EXPECT_FALSE(Has(ok.err, "writable layer")) << ok.err;
}

TEST(ContainerTest, NothingChangesOutsideAContainer) {
  testing::TempDir tmp;
  FakeContainer c(tmp);
  // No /.dockerenv, and "/" a plain disk: not a container.
  WriteFile(tmp.Sub("plain-mountinfo"), "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
  CliResult r = RunCli({"--root", c.root, "--json", "stats"},
                       {"MAESTRO_DB_DOCKERENV=" + tmp.Sub("absent"), "MAESTRO_DB_MOUNTINFO=" + tmp.Sub("plain-mountinfo")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["repo"]["path"], c.root + "/backups/maestro-db");
  EXPECT_FALSE(Has(r.err, "writable layer")) << r.err;
}

}  // namespace
}  // namespace maestro
