// tests/compose_util.h — a MAESTRO Docker Compose install on disk, for the
// compose and app-control suites (issue 16 points 1-3).
//
// No Docker daemon runs on the machines these tests run on. The tests therefore
// put a stand-in `docker` (a shell script) first on PATH; it records every call,
// one line each, in <tmp>/docker.log and answers:
//   docker info ...           exit 1 ("Cannot connect to the Docker daemon"), or,
//                             when <tmp>/fake-docker/daemon exists, its content
//                             (the docker root) and exit 0
//   docker volume inspect ... the content of <tmp>/fake-docker/volumes/<name>
//                             (a mount point), else exit 1 "no such volume"
//   docker compose ... stop   exit 0; kills the pid in <tmp>/fake-docker/kill-on-stop
//                             if that file exists (the "app" holding a store)
//   docker compose ... start  exit 0
//   <tmp>/fake-docker/fail-<verb> makes `compose <verb>` exit 1.
// The install: a checkout folder whose name Compose must normalise, its
// docker-compose.yml written from ../shared/maestro-layout.md ("How it is
// deployed": services backend, doc-processor, frontend; ./maestro_backend/data at
// /app/data, the named volume maestro-data at /app/ai_researcher/data, ./reports
// and two model caches), the main database in the bind mount and the rest in
// <docker root>/volumes/<project>_maestro-data/_data (MAESTRO_DB_DOCKER_ROOT).
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/reliability_util.h"
#include "tests/test_util.h"

namespace maestro::testing {

// MAESTRO's compose file; `ai_volume` is the volume line of the data mount.
inline std::string MaestroComposeYaml(const std::string& top = "",
                                      const std::string& ai_volume = "- maestro-data:/app/ai_researcher/data") {
  std::string data = "      " + ai_volume + "\n"
                     "      - ./maestro_backend/data:/app/data\n"
                     "      - ./reports:/app/reports\n"
                     "      - ./models/huggingface:/root/.cache/huggingface\n"
                     "      - ./models/torch:/root/.cache/torch\n";
  return top +
         "services:\n"
         "  backend:\n"
         "    build: ./maestro_backend\n"
         "    container_name: maestro-backend\n"
         "    working_dir: /app\n"
         "    ports:\n"
         "      - \"8001:8000\"\n"
         "    volumes:\n" + data +
         "  doc-processor:\n"
         "    build: ./maestro_backend\n"
         "    container_name: maestro-doc-processor\n"
         "    command: python -u services/background_document_processor.py\n"
         "    volumes:\n" + data +
         "  frontend:\n"
         "    build: ./maestro_frontend\n"
         "    container_name: maestro-frontend\n"
         "    ports:\n"
         "      - \"3030:3000\"\n"
         "volumes:\n"
         "  maestro-data:\n";
}

class ComposeInstallFixture {
 public:
  // folder: the checkout's name (normalised by Compose into the project name).
  explicit ComposeInstallFixture(const std::string& folder = "Maestro.Checkout_2") {
    checkout_ = tmp_.Sub(folder);
    docker_root_ = tmp_.Sub("docker-root");
    fake_ = tmp_.Sub("fake-docker");
    std::filesystem::create_directories(checkout_ + "/maestro_backend/data");
    std::filesystem::create_directories(fake_ + "/volumes");
    std::filesystem::create_directories(tmp_.Sub("bin"));
    WriteFile(tmp_.Sub("bin/docker"), StandIn());
    ::chmod(tmp_.Sub("bin/docker").c_str(), 0755);
  }

  // The demo data split as Compose keeps it: main in the bind mount, the rest in the volume.
  void PopulateVolume(const std::string& project) {
    std::string stage = tmp_.Sub("stage");
    reliability::MakeSmallDemo(stage, 4);
    namespace fs = std::filesystem;
    fs::rename(stage + "/data/maestro.db", checkout_ + "/maestro_backend/data/maestro.db");
    std::string vol = VolumeData(project);
    fs::create_directories(DirName(vol));
    std::string ai = fs::exists(stage + "/ai_researcher/data") ? stage + "/ai_researcher/data"
                                                               : stage + "/maestro_backend/ai_researcher/data";
    fs::rename(ai, vol);
    fs::remove_all(stage);
  }
  std::string VolumeData(const std::string& project) const {
    return docker_root_ + "/volumes/" + project + "_maestro-data/_data";
  }
  void WriteCompose(const std::string& yaml, const std::string& name = "docker-compose.yml") {
    WriteFile(checkout_ + "/" + name, yaml);
  }
  // The environment for RunCli: the stand-in first on PATH, the docker root, no inherited project name.
  std::vector<std::string> Env(std::vector<std::string> extra = {}) const {
    const char* path = std::getenv("PATH");
    std::vector<std::string> e = {"PATH=" + tmp_.Sub("bin") + ":" + (path ? path : "/usr/bin:/bin"),
                                  "MAESTRO_DB_DOCKER_ROOT=" + docker_root_, "COMPOSE_PROJECT_NAME=",
                                  "FAKE_DOCKER_DIR=" + fake_, "FAKE_DOCKER_LOG=" + tmp_.Sub("docker.log")};
    e.insert(e.end(), extra.begin(), extra.end());
    return e;
  }
  std::string DockerLog() const {
    return std::filesystem::exists(tmp_.Sub("docker.log")) ? ReadFile(tmp_.Sub("docker.log")) : "";
  }
  const std::string& checkout() const { return checkout_; }
  const std::string& docker_root() const { return docker_root_; }
  const std::string& fake() const { return fake_; }
  const TempDir& tmp() const { return tmp_; }

 private:
  static std::string StandIn() {
    return "#!/bin/sh\n"
           "# stand-in docker for the tests: no Docker daemon runs on these machines\n"
           "echo \"$*\" >> \"$FAKE_DOCKER_LOG\"\n"
           "case \"$1\" in\n"
           "  info)\n"
           "    if [ -f \"$FAKE_DOCKER_DIR/daemon\" ]; then cat \"$FAKE_DOCKER_DIR/daemon\"; exit 0; fi\n"
           "    echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock' >&2; exit 1 ;;\n"
           "  volume)\n"
           "    for last in \"$@\"; do :; done\n"
           "    if [ -f \"$FAKE_DOCKER_DIR/volumes/$last\" ]; then cat \"$FAKE_DOCKER_DIR/volumes/$last\"; exit 0; fi\n"
           "    echo \"Error response from daemon: get $last: no such volume\" >&2; exit 1 ;;\n"
           "  compose)\n"
           "    for a in \"$@\"; do case \"$a\" in stop|start) verb=$a ;; esac; done\n"
           "    if [ -f \"$FAKE_DOCKER_DIR/fail-$verb\" ]; then echo \"compose $verb failed\" >&2; exit 1; fi\n"
           "    if [ \"$verb\" = stop ] && [ -f \"$FAKE_DOCKER_DIR/kill-on-stop\" ]; then\n"
           "      kill \"$(cat \"$FAKE_DOCKER_DIR/kill-on-stop\")\" 2>/dev/null; fi\n"
           "    exit 0 ;;\n"
           "esac\n"
           "exit 0\n";
  }

  TempDir tmp_;
  std::string checkout_, docker_root_, fake_;
};

}  // namespace maestro::testing
