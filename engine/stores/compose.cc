#include "engine/stores/compose.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

#include "util/subprocess.h"

namespace maestro {

namespace {

const char* const kHint = "nothing was read or changed; fix the compose file, or pass --no-compose and name the "
                          "stores in a config file ([stores], docs/config.md)";

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = s.find_first_not_of(" \t");
  return i == std::string::npos ? "" : s.substr(i);
}

bool ValidProjectName(const std::string& s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9'))) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

// COMPOSE_PROJECT_NAME from dir/.env ("" when absent): KEY=VALUE lines, `export `
// prefix, # comments, optional quotes, as Compose's dotenv reader accepts them.
std::string DotEnvProjectName(Env* io, const std::string& dir) {
  std::string text;
  if (!io->ReadFileToString(JoinPath(dir, ".env"), &text).ok()) return "";
  std::string found;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = Trim(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    if (Trim(line.substr(0, eq)) != "COMPOSE_PROJECT_NAME") continue;
    std::string v = Trim(line.substr(eq + 1));
    if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'') && v.back() == v[0]) v = v.substr(1, v.size() - 2);
    else if (size_t hash = v.find(" #"); hash != std::string::npos) v = Trim(v.substr(0, hash));
    found = v;  // the last assignment wins
  }
  return found;
}

std::string Get(const ComposeEnv& env, const std::string& k) {
  auto it = env.vars.find(k);
  return it == env.vars.end() ? "" : it->second;
}

// Asks docker, once, whether a daemon answers and where its root is.
class DockerProbe {
 public:
  DockerProbe(Env* io, const ComposeEnv& env) : io_(io), env_(env) {}

  void Init() {
    if (probed_) return;
    probed_ = true;
    ProcessOptions o;
    o.timeout_ms = env_.docker_timeout_ms;
    auto r = RunProcess({env_.docker, "info", "--format", "{{.DockerRootDir}}"}, o);
    daemon_ = r.ok() && r->ok();
    std::string answered = daemon_ ? Trim(r->out) : "";
    root_ = Get(env_, "MAESTRO_DB_DOCKER_ROOT");
    root_from_ = "MAESTRO_DB_DOCKER_ROOT";
    if (root_.empty() && !answered.empty() && answered[0] == '/') {
      root_ = answered;
      root_from_ = "docker info";
    }
    if (root_.empty()) {
      root_ = "/var/lib/docker";
      root_from_ = "the default";
    }
  }

  // Host path of volume `name` and why.
  ComposeStore Where(const std::string& name) {
    Init();
    std::string computed = JoinPath(JoinPath(JoinPath(root_, "volumes"), name), "_data");
    if (!daemon_) {
      bool exists = io_->DirExists(DirName(computed));
      return {computed,
              "no Docker daemon answered `docker info`, so its place under the docker root " + root_ + " (" +
                  root_from_ + ")" + (exists ? "" : "; the volume does not exist there"),
              exists ? "" : name};
    }
    ProcessOptions o;
    o.timeout_ms = env_.docker_timeout_ms;
    auto r = RunProcess({env_.docker, "volume", "inspect", "--format", "{{.Mountpoint}}", name}, o);
    std::string mp = r.ok() && r->ok() ? Trim(r->out) : "";
    if (!mp.empty() && mp[0] == '/') return {NormalizePath(mp), "`docker volume inspect " + name + "`", ""};
    return {computed,
            "the volume does not exist (`docker volume inspect " + name + "`: " +
                (r.ok() ? r->Describe() : r.status().ToString()) + ")",
            name};
  }

  bool daemon() const { return daemon_; }
  const std::string& root() const { return root_; }

 private:
  Env* io_;
  const ComposeEnv& env_;
  bool probed_ = false, daemon_ = false;
  std::string root_, root_from_;
};

struct Covering {
  const ComposeService* service = nullptr;
  const ComposeMount* mount = nullptr;
  std::string rest;  // the part of the container path below the mount's target
};

// The deepest mount of any service over container path `inside` (each service
// with its own working dir); InvalidArgument when services disagree.
Result<std::optional<Covering>> FindCovering(const ComposeFile& f, const std::string& rel,
                                             std::vector<std::string>* users) {
  std::optional<Covering> best;
  for (const auto& svc : f.services) {
    std::string inside = NormalizePath(JoinPath(svc.working_dir.empty() ? "/app" : svc.working_dir, rel));
    const ComposeMount* deepest = nullptr;
    for (const auto& m : svc.mounts) {
      std::string t = NormalizePath(m.target);
      if (IsAtOrUnder(inside, t) && (!deepest || t.size() > NormalizePath(deepest->target).size())) deepest = &m;
    }
    if (!deepest) continue;
    std::string t = NormalizePath(deepest->target);
    Covering c{&svc, deepest, inside.size() > t.size() ? inside.substr(t.size() + (t == "/" ? 0 : 1)) : ""};
    if (best && (best->mount->source != c.mount->source || best->mount->type != c.mount->type || best->rest != c.rest))
      return Status::InvalidArgument(
          "compose file " + f.path + ": services " + best->service->name + " and " + svc.name + " mount different " +
              "things at " + inside + " (" + best->mount->source + " and " + c.mount->source + ")",
          "maestro-db cannot tell which holds the data; name the stores in a config file ([stores], docs/config.md)");
    if (users && std::find(users->begin(), users->end(), svc.name) == users->end()) users->push_back(svc.name);
    if (!best) best = c;
  }
  return best;
}

struct Mapped {
  ComposeStore where;
  bool reachable = true;
};

Mapped HostPathOf(const Covering& c, const ComposeFile& f, const ComposeInstall& inst, const ComposeEnv& env,
                  DockerProbe* docker) {
  const ComposeMount& m = *c.mount;
  std::string mounted = m.source + " at " + m.target;
  if (m.type == "bind") {
    std::string src = m.source;
    if (src[0] == '~') src = Get(env, "HOME") + src.substr(1);
    std::string host = src[0] == '/' ? NormalizePath(src) : NormalizePath(JoinPath(inst.dir, src));
    return {{c.rest.empty() ? host : JoinPath(host, c.rest),
             "service " + c.service->name + " bind-mounts " + mounted + " (relative to " + inst.dir + ")", ""},
            true};
  }
  if (m.type != "volume" || m.source.empty())
    return {{"",
             "service " + c.service->name + " keeps " + m.target + " in " +
                 (m.type == "volume" ? "an anonymous volume" : "a " + m.type + " mount") +
                 ", which the host cannot reach",
             ""},
            false};
  auto decl = f.volumes.find(m.source);
  std::string name = decl != f.volumes.end() && !decl->second.name.empty() ? decl->second.name
                     : decl != f.volumes.end() && decl->second.external ? m.source
                                                                         : inst.project + "_" + m.source;
  ComposeStore w = docker->Where(name);
  std::string host = w.path;
  return {{c.rest.empty() ? host : JoinPath(host, c.rest),
           "service " + c.service->name + " mounts volume " + m.source + " (" + name + ") at " + m.target +
               "; found through " + w.why,
           w.missing_volume},
          true};
}

}  // namespace

ComposeEnv ComposeEnv::FromProcess() {
  ComposeEnv e;
  for (const char* k : {"COMPOSE_PROJECT_NAME", "MAESTRO_DB_DOCKER_ROOT", "HOME"})
    if (const char* v = std::getenv(k)) e.vars[k] = v;
  return e;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ComposeInstall::AppCommand(const std::string& verb) const {
  std::string cmd = "docker compose -f " + ShellQuote(file) + " " + verb;
  for (const auto& s : services) cmd += " " + ShellQuote(s);
  return cmd;
}

std::string NormalizeComposeProjectName(const std::string& folder) {
  std::string out;
  for (char c : folder) {
    char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-') out += l;
  }
  size_t first = out.find_first_not_of("_-");
  return first == std::string::npos ? "" : out.substr(first);
}

Status ComposeProjectName(Env* io, const ComposeFile& file, const std::string& dir, const ComposeEnv& env, std::string* name,
                          std::string* from) {
  std::string env_name = Get(env, "COMPOSE_PROJECT_NAME");
  std::string dotenv = env_name.empty() ? DotEnvProjectName(io, dir) : "";
  if (!env_name.empty()) *from = "COMPOSE_PROJECT_NAME in the environment";
  else if (!dotenv.empty()) *from = "COMPOSE_PROJECT_NAME in " + JoinPath(dir, ".env");
  else if (!file.project_name.empty()) *from = "the top-level name: of " + file.path;
  std::string explicit_name = !env_name.empty() ? env_name : !dotenv.empty() ? dotenv : file.project_name;
  if (!explicit_name.empty()) {
    if (!ValidProjectName(explicit_name))
      return Status::InvalidArgument("project name '" + explicit_name + "' (" + *from + ") is not valid for Compose",
                                     "Compose refuses it too: use lower-case letters, digits, - and _, starting "
                                     "with a letter or digit");
    *name = explicit_name;
    return Status::OK();
  }
  *name = NormalizeComposeProjectName(BaseName(dir));
  *from = "the folder name '" + BaseName(dir) + "', normalised as Compose does";
  if (name->empty())
    return Status::InvalidArgument("the folder name '" + BaseName(dir) + "' gives no Compose project name",
                                   "set COMPOSE_PROJECT_NAME (in the environment or " + JoinPath(dir, ".env") + ")");
  return Status::OK();
}

Result<ComposeInstall> ResolveComposeInstall(Env* io, const std::string& dir_in, const ComposeEnv& env) {
  ComposeInstall inst;
  inst.dir = NormalizePath(dir_in);
  if (!io->DirExists(inst.dir))
    return Status::NotFound("compose folder " + inst.dir + " does not exist", "check --compose / MAESTRO_COMPOSE_DIR");
  inst.file = FindComposeFile(io, inst.dir);
  if (inst.file.empty())
    return Status::NotFound("no compose file in " + inst.dir +
                                " (looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml)",
                            "pass --compose with the folder of MAESTRO's docker-compose.yml");
  MAESTRO_ASSIGN_OR_RETURN(ComposeFile f, ReadComposeFile(io, inst.file));
  MAESTRO_RETURN_IF_ERROR(ComposeProjectName(io, f, inst.dir, env, &inst.project, &inst.project_from));
  DockerProbe docker(io, env);
  for (StoreId id : AllStores()) {
    std::optional<Mapped> chosen;
    for (const auto& rel : CandidatePaths(id)) {
      MAESTRO_ASSIGN_OR_RETURN(auto cover, FindCovering(f, rel, &inst.services));
      if (!cover) continue;
      Mapped m = HostPathOf(*cover, f, inst, env, &docker);
      if (!m.reachable) {
        inst.notes.push_back(std::string("store ") + StoreName(id) + ": " + m.where.why);
        continue;
      }
      m.where.why = "/app/" + rel + ": " + m.where.why;
      bool exists = io->FileExists(m.where.path);
      if (!chosen || exists) chosen = m;
      if (exists) break;
    }
    if (chosen) inst.stores[id] = chosen->where;
  }
  if (inst.stores.empty())
    return Status::InvalidArgument("compose file " + inst.file + ": no service mounts /app/data or " +
                                       "/app/ai_researcher/data, where MAESTRO keeps its data",
                                   std::string("is it MAESTRO's compose file? ") + kHint);
  inst.daemon = docker.daemon();
  inst.docker_root = docker.root();
  return inst;
}

}  // namespace maestro
