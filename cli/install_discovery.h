// cli/install_discovery.h — how the global options find the install: a Docker
// Compose checkout (`--compose DIR`, $MAESTRO_COMPOSE_DIR, or a compose file in
// --root), and where the repository goes so a container rebuild cannot lose it
// (issue 16 points 1 and 2). Called by CliContext::LoadLayout only.
//
// Order of the sources of a store's path: the config file's [stores] entry, else
// the compose mapping (engine/stores/compose.h), else the candidate paths under --root
// (engine/stores/layout.h). Of the repository: --repo, else [repo] path, else
//   compose install  <dir>/backups — unless the folder the container would use
//                    (<host side of /app/data>/backups/maestro-db) already holds
//                    a repository or journal: never lose sight of a journal
//   in a container   the usual default when it lies on a persistent mount; when it
//                    would be in the writable layer, <mount of the main store's
//                    folder>/backups/maestro-db (the bind mount of /app/data)
//   otherwise        DefaultRepo(root) (engine/stores/layout.h).
// A repository given by --repo or [repo] path that lies in a container's writable
// layer is used, with a warning that says why and what to pass instead.
// Everything chosen is explained in InstallInfo (printed by `stats`).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/stores/compose.h"
#include "engine/stores/layout.h"
#include "util/config.h"
#include "util/status.h"

namespace maestro {

struct InstallInfo {
  std::optional<ComposeInstall> compose;
  std::string compose_from;                // "--compose", "MAESTRO_COMPOSE_DIR", "a compose file in --root"
  std::map<std::string, std::string> why;  // store name -> where it was found and why
  std::string repo_why;
  // rclone:REMOTE:PATH when the command's repository is remote: the layout's
  // repo() is then the local default, and this is the one reported.
  std::string remote_repo;
  std::vector<std::string> warnings;       // printed once by LoadLayout
  nlohmann::json ToJson() const;
};

struct InstallOptions {
  std::string compose;      // --compose DIR
  bool no_compose = false;  // --no-compose
};
// Registers --compose DIR and --no-compose on the main app.
void AddInstallOptions(CLI::App& app, InstallOptions* opts);

// The root when neither --root nor $MAESTRO_ROOT gives one: the compose folder of
// --compose or $MAESTRO_COMPOSE_DIR, else the current directory.
std::string DefaultRoot(const InstallOptions& opts);

// Resolves root, config (whose [stores] it completes from the compose file) and
// the repository (--repo as given, "" if none) into a layout, filling *info.
Result<Layout> DiscoverInstall(Env* env, const InstallOptions& opts, const std::string& root, Config* config,
                               const std::string& repo_flag, InstallInfo* info);

// Reset and in-place restore create absent stores: refused (NotFound, exit 3) for
// stores of `ids` that lie in a named volume that does not exist (a wrong project
// name would otherwise fill a folder Docker never mounts).
Status RefuseMissingComposeVolumes(const InstallInfo& info, const std::vector<StoreId>& ids);

// For `stats`: a "where" section, one line per store and one for the repository
// (and the compose project when there is one).
std::vector<std::string> DescribeInstall(const InstallInfo& info, const Layout& layout);
// For `stats --json`: doc["stores"][name]["found"], doc["repo"], doc["install"].
void AddInstallJson(const InstallInfo& info, const Layout& layout, nlohmann::json* doc);

}  // namespace maestro
