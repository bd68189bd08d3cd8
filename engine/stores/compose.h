// engine/stores/compose.h — where a Docker Compose install keeps its stores on the
// host (issue 16 point 1), and what to stop and start around a transaction.
//
// MAESTRO's compose file (../shared/maestro-layout.md, "How it is deployed")
// gives services `backend` and `doc-processor` the same data: a bind mount
// `./maestro_backend/data:/app/data` (main) and the named volume
// `maestro-data:/app/ai_researcher/data` (ai, vector and the three file folders).
// ResolveComposeInstall reads the compose file of dir (engine/stores/compose_file.h) and
// maps each store's path inside the container (/app/<candidate path>, as
// engine/stores/layout.h lists them; /app is the service's working_dir) to the host:
//   bind mount    its source, relative to dir ("~" is $HOME)
//   named volume  `docker volume inspect` when a Docker daemon answers
//                 (`docker info`); else <docker root>/volumes/<volume>/_data,
//                 docker root = $MAESTRO_DB_DOCKER_ROOT, else what `docker info`
//                 says, else /var/lib/docker. <volume> is the volume's `name:`,
//                 its key when `external: true`, else <project>_<key>.
// The project name, in Compose's order (docs.docker.com, "Specify a project
// name"; the `-p` flag has no counterpart here): COMPOSE_PROJECT_NAME in the
// environment, else in dir/.env, else the compose file's top-level `name:`, else
// dir's folder name normalised as Compose v2 does (lower-cased, characters other
// than a-z 0-9 _ - dropped, leading _ and - dropped). A name from the first three
// must already be valid (Compose refuses it otherwise, and so does this).
// A store whose volume does not exist gets the path it would have: Layout sees it
// as missing, as any absent store. Each mapping carries its reason (for `stats`).
//
// Failure: InvalidArgument (exit 2) naming the file for a bad compose file, for
// two services mounting different sources at one data path, or when no service
// mounts /app/data or /app/ai_researcher/data. Runs `docker` only to read
// (info, volume inspect), each bounded by a timeout; never writes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/stores/compose_file.h"
#include "engine/stores/layout.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

// What the resolution may consult, injectable for tests.
struct ComposeEnv {
  std::map<std::string, std::string> vars;  // COMPOSE_PROJECT_NAME, MAESTRO_DB_DOCKER_ROOT, HOME
  std::string docker = "docker";            // the program asked (found on PATH)
  int64_t docker_timeout_ms = 10000;
  // From the process environment.
  static ComposeEnv FromProcess();
};

struct ComposeStore {
  std::string path;  // on the host
  std::string why;   // "service backend mounts ./maestro_backend/data at /app/data (bind mount)"
  std::string missing_volume;  // the named volume it lies in when that volume does not exist ("" otherwise)
};

struct ComposeInstall {
  std::string dir;           // absolute
  std::string file;          // the compose file read
  std::string project;       // the project name
  std::string project_from;  // "COMPOSE_PROJECT_NAME in the environment", "... in <dir>/.env", ...
  bool daemon = false;       // a Docker daemon answered `docker info`
  std::string docker_root;   // where named volumes live (without a daemon)
  std::vector<std::string> services;  // services mounting the data, file order
  std::map<StoreId, ComposeStore> stores;  // the stores a mount covers
  std::vector<std::string> notes;          // what could not be mapped, in words

  // <dir>/backups: on the host, where a container rebuild cannot lose it.
  std::string DefaultRepo() const { return JoinPath(dir, "backups"); }
  // `docker compose -f '<file>' stop|start <services...>` (shell-quoted).
  std::string AppCommand(const std::string& verb) const;
};

// Compose v2's rule for a folder name (see above).
std::string NormalizeComposeProjectName(const std::string& folder);
// The project name and where it came from (InvalidArgument for an invalid name).
Status ComposeProjectName(Env* io, const ComposeFile& file, const std::string& dir, const ComposeEnv& env, std::string* name,
                          std::string* from);

// io: the file reads (compose file, .env, volume folders); env: the process environment.
Result<ComposeInstall> ResolveComposeInstall(Env* io, const std::string& dir, const ComposeEnv& env);

// Single-quotes s for /bin/sh.
std::string ShellQuote(const std::string& s);

}  // namespace maestro
