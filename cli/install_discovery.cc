#include "cli/install_discovery.h"

#include <unistd.h>

#include <cstdlib>

#include "engine/stores/container.h"
#include "engine/stores/store_paths.h"
#include "util/env.h"

namespace maestro {

namespace {

// Which compose folder, if any, and why ("" when none).
std::string ComposeDir(Env* env, const InstallOptions& opts, const std::string& root, std::string* from) {
  if (opts.no_compose) return "";
  if (!opts.compose.empty()) {
    *from = "--compose";
    return opts.compose;
  }
  if (const char* e = std::getenv("MAESTRO_COMPOSE_DIR"); e && *e) {
    *from = "MAESTRO_COMPOSE_DIR";
    return e;
  }
  std::string file = FindComposeFile(env, root);
  if (file.empty()) return "";
  *from = "the compose file " + file + " in --root";
  return root;
}

bool HoldsRepository(Env* env, const std::string& dir) {
  return env->FileExists(JoinPath(dir, "config")) || env->DirExists(JoinPath(dir, "journal"));
}

// The repository of a compose install when none is given (see the header).
std::string ComposeRepo(Env* env, const ComposeInstall& inst, std::string* why) {
  auto main = inst.stores.find(StoreId::kMain);
  if (main != inst.stores.end()) {
    std::string container_side = JoinPath(JoinPath(DirName(main->second.path), "backups"), "maestro-db");
    if (HoldsRepository(env, container_side)) {
      *why = "the repository a run inside the container made on the data mount (" + container_side + ")";
      return container_side;
    }
  }
  *why = "the compose install's default: <compose dir>/backups, on the host";
  return inst.DefaultRepo();
}

// Store name -> reason, for stores the compose file does not place.
std::string PlainWhy(const Store& s, const Layout& layout) {
  if (s.from_config) return "the config file's [stores] " + s.name;
  std::string rel = s.rel_path.empty() ? s.path : s.rel_path;
  return s.present ? "found at its default path " + rel + " under --root " + layout.root()
                   : "not found; its first default path under --root is " + rel;
}

Status ApplyCompose(Env* env, const InstallOptions& opts, const std::string& root, Config* config, InstallInfo* info) {
  std::string from;
  std::string dir = ComposeDir(env, opts, root, &from);
  if (dir.empty()) return Status::OK();
  char buf[4096];
  std::string abs = dir[0] == '/' ? dir : JoinPath(::getcwd(buf, sizeof buf) ? buf : ".", dir);
  auto inst = ResolveComposeInstall(env, NormalizePath(abs), ComposeEnv::FromProcess());
  if (!inst.ok()) return inst.status().Annotate("reading the Docker Compose install (" + from + ")");
  info->compose = *inst;
  info->compose_from = from;
  for (const auto& [id, where] : inst->stores) {
    std::string key = std::string("stores.") + StoreName(id);
    if (config->Has(key)) {
      info->why[StoreName(id)] = "the config file's [stores] " + std::string(StoreName(id)) + " (over the compose file)";
      continue;
    }
    config->Set(key, where.path);
    info->why[StoreName(id)] = "compose (" + inst->project + "): " + where.why;
  }
  for (const auto& n : inst->notes) info->warnings.push_back("compose: " + n);
  return Status::OK();
}

// In a container, a default repository in the writable layer moves to a persistent
// mount; a chosen one there gets a warning. Returns the repository to use ("" = keep).
std::string ContainerRepo(const Layout& layout, bool chosen, InstallInfo* info) {
  ContainerProbe probe = ContainerProbe::FromProcess(layout.env());
  if (!probe.in_container() || !probe.InWritableLayer(layout.repo())) return "";
  std::string mount;
  for (StoreId id : {StoreId::kMain, StoreId::kAi, StoreId::kVector})
    if (mount.empty()) mount = probe.PersistentMountOf(DirName(layout.store(id).path));
  std::string suggestion = mount.empty() ? "" : JoinPath(JoinPath(mount, "backups"), "maestro-db");
  if (chosen || suggestion.empty()) {
    info->warnings.push_back(
        "the repository " + layout.repo() + " is in this container's writable layer (under no mount): " +
        "`docker compose down` deletes it with every snapshot and the journal. " +
        (suggestion.empty() ? std::string("Pass --repo DIR on a bind mount or volume (or run maestro-db on the host "
                                          "with --compose)")
                            : "Pass --repo " + suggestion + " (on the mount " + mount + ")"));
    return "";
  }
  info->repo_why = "in a container: on the persistent mount " + mount + " (the default " + layout.repo() +
                   " would be in the container's writable layer)";
  return suggestion;
}

}  // namespace

std::string DefaultRoot(const InstallOptions& opts) {
  if (opts.no_compose) return ".";
  if (!opts.compose.empty()) return opts.compose;
  const char* e = std::getenv("MAESTRO_COMPOSE_DIR");
  return e && *e ? e : ".";
}

void AddInstallOptions(CLI::App& app, InstallOptions* opts) {
  auto* c = app.add_option("--compose", opts->compose,
                           "a Docker Compose checkout: read its compose file for where the stores are on this host "
                           "(default: $MAESTRO_COMPOSE_DIR, or --root when it holds docker-compose.yml)");
  app.add_flag("--no-compose", opts->no_compose, "ignore compose files: find the stores under --root only")->excludes(c);
}

nlohmann::json InstallInfo::ToJson() const {
  nlohmann::json j = {{"stores", why}, {"repo", repo_why}, {"compose", nullptr}};
  if (compose)
    j["compose"] = {{"dir", compose->dir},         {"file", compose->file},
                    {"project", compose->project}, {"project_from", compose->project_from},
                    {"found_by", compose_from},    {"docker_daemon", compose->daemon},
                    {"docker_root", compose->docker_root}, {"services", compose->services}};
  return j;
}

Status RefuseMissingComposeVolumes(const InstallInfo& info, const std::vector<StoreId>& ids) {
  if (!info.compose) return Status::OK();
  for (StoreId id : ids) {
    auto it = info.compose->stores.find(id);
    if (it == info.compose->stores.end() || it->second.missing_volume.empty()) continue;
    return Status::NotFound("store " + std::string(StoreName(id)) + " lies in the Docker volume " +
                                it->second.missing_volume + ", which does not exist (" + it->second.path + ")",
                            "nothing was changed; check the project name (COMPOSE_PROJECT_NAME, " +
                                info.compose->project_from + "), or run `docker compose up -d` once so Docker "
                                "creates the volume");
  }
  return Status::OK();
}

namespace {
// The repository a report names: the remote one when the command's is remote
// (the layout's repo() is then only the local default).
const std::string& ReportedRepo(const InstallInfo& info, const Layout& layout) {
  return info.remote_repo.empty() ? layout.repo() : info.remote_repo;
}
}  // namespace

std::vector<std::string> DescribeInstall(const InstallInfo& info, const Layout& layout) {
  std::vector<std::string> out = {"", "where:"};
  if (info.compose)
    out.push_back("  compose   " + info.compose->file + " (found by " + info.compose_from + "), project " +
                  info.compose->project + " from " + info.compose->project_from);
  for (const auto& s : layout.stores()) {
    auto it = info.why.find(s.name);
    out.push_back("  " + s.name + std::string(s.name.size() < 9 ? 10 - s.name.size() : 1, ' ') +
                  (it == info.why.end() ? "" : it->second));
  }
  out.push_back("  repo      " + ReportedRepo(info, layout) + ": " + info.repo_why);
  return out;
}

void AddInstallJson(const InstallInfo& info, const Layout& layout, nlohmann::json* doc) {
  for (const auto& [name, why] : info.why)
    if (doc->contains("stores") && (*doc)["stores"].contains(name)) (*doc)["stores"][name]["found"] = why;
  (*doc)["repo"] = {{"path", ReportedRepo(info, layout)}, {"why", info.repo_why}};
  (*doc)["install"] = info.ToJson();
}

Result<Layout> DiscoverInstall(Env* env, const InstallOptions& opts, const std::string& root, Config* config,
                               const std::string& repo_flag, InstallInfo* info) {
  MAESTRO_RETURN_IF_ERROR(ApplyCompose(env, opts, root, config, info));
  std::string repo = repo_flag;
  info->repo_why = "--repo";
  if (repo.empty() && config->Has("repo.path")) {
    repo = config->Get("repo.path");
    info->repo_why = "the config file's [repo] path";
  }
  if (repo.empty() && info->compose) repo = ComposeRepo(env, *info->compose, &info->repo_why);
  const bool chosen = !repo.empty();
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, Layout::Discover(env, root, config, repo));
  if (!chosen) info->repo_why = "the default under --root";
  std::string moved = ContainerRepo(layout, chosen, info);
  if (!moved.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(layout, Layout::Discover(env, root, config, moved));
  }
  for (const auto& s : layout.stores())
    if (!info->why.count(s.name)) info->why[s.name] = PlainWhy(s, layout);
  return layout;
}

}  // namespace maestro
