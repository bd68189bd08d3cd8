#include "engine/stores/compose_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <yaml-cpp/yaml.h>

#include "util/env.h"
#include "util/text.h"

namespace maestro {

namespace {

constexpr int kMaxFlowDepth = 64;
const char* const kHint = "nothing was read or changed; fix the compose file, or pass --no-compose and name the "
                          "stores in a config file ([stores], docs/config.md)";

Status Bad(const std::string& origin, int line, const std::string& what) {
  return Status::InvalidArgument("compose file " + origin + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what,
                                 kHint);
}

int LineOf(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }

// yaml-cpp recurses once per nesting level: a file of ten thousand '[' must be
// refused before it reaches the parser. Counts flow brackets outside quotes and
// comments, and block nesting by indentation is bounded by the file size.
Status CheckNesting(const std::string& text, const std::string& origin) {
  int depth = 0, line = 1;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    else if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) comment = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxFlowDepth) return Bad(origin, line, "nested deeper than " + std::to_string(kMaxFlowDepth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return Status::OK();
}

Result<std::string> ScalarOf(const YAML::Node& n, const std::string& origin, const std::string& what) {
  if (!n.IsScalar()) return Bad(origin, LineOf(n), what + " is not a plain value");
  return n.Scalar();
}

// "SOURCE:TARGET[:MODE]" or "TARGET" (an anonymous volume).
Result<ComposeMount> ShortMount(const std::string& spec, int line, const std::string& origin) {
  ComposeMount m;
  m.line = line;
  size_t colon = spec.find(':');
  if (colon == std::string::npos) {
    m.type = "volume";
    m.target = spec;
    return m;
  }
  m.source = spec.substr(0, colon);
  std::string rest = spec.substr(colon + 1);
  m.target = rest.substr(0, rest.find(':'));
  if (m.source.empty() || m.target.empty()) return Bad(origin, line, "volume '" + spec + "' has an empty part");
  char c = m.source[0];
  m.type = (c == '.' || c == '/' || c == '~') ? "bind" : "volume";
  return m;
}

Result<ComposeMount> LongMount(const YAML::Node& n, const std::string& origin) {
  ComposeMount m;
  m.line = LineOf(n);
  for (const char* key : {"type", "source", "target"}) {
    if (!n[key]) continue;
    MAESTRO_ASSIGN_OR_RETURN(std::string v, ScalarOf(n[key], origin, std::string("volume ") + key));
    (std::string(key) == "type" ? m.type : std::string(key) == "source" ? m.source : m.target) = v;
  }
  if (m.target.empty()) return Bad(origin, m.line, "a volume in the long syntax has no target");
  if (m.type.empty()) return Bad(origin, m.line, "a volume in the long syntax has no type (bind, volume, tmpfs)");
  return m;
}

Status ReadService(const std::string& name, const YAML::Node& svc, const std::string& origin, ComposeService* out) {
  out->name = name;
  if (svc.IsNull()) return Status::OK();
  if (!svc.IsMap()) return Bad(origin, LineOf(svc), "service '" + name + "' is not a map");
  if (svc["working_dir"]) {
    MAESTRO_ASSIGN_OR_RETURN(out->working_dir, ScalarOf(svc["working_dir"], origin, "working_dir of " + name));
  }
  YAML::Node vols = svc["volumes"];
  if (!vols || vols.IsNull()) return Status::OK();
  if (!vols.IsSequence()) return Bad(origin, LineOf(vols), "volumes of service '" + name + "' is not a list");
  for (const auto& v : vols) {
    Result<ComposeMount> m = v.IsMap() ? LongMount(v, origin)
                             : v.IsScalar() ? ShortMount(v.Scalar(), LineOf(v), origin)
                                            : Result<ComposeMount>(Bad(origin, LineOf(v), "a volume of '" + name +
                                                                                              "' is neither text nor a map"));
    MAESTRO_RETURN_IF_ERROR(m.status());
    if (m->source.find('$') != std::string::npos || m->target.find('$') != std::string::npos)
      return Bad(origin, m->line, "volume '" + m->source + ":" + m->target + "' of service '" + name +
                                      "' uses variable interpolation, which maestro-db does not expand");
    out->mounts.push_back(*m);
  }
  return Status::OK();
}

Status ReadVolumes(const YAML::Node& vols, const std::string& origin, ComposeFile* f) {
  if (!vols || vols.IsNull()) return Status::OK();
  if (!vols.IsMap()) return Bad(origin, LineOf(vols), "the top-level volumes is not a map");
  for (const auto& kv : vols) {
    MAESTRO_ASSIGN_OR_RETURN(std::string key, ScalarOf(kv.first, origin, "a volume key"));
    ComposeVolume v;
    const YAML::Node& def = kv.second;
    if (def.IsMap()) {
      if (def["name"]) {
        MAESTRO_ASSIGN_OR_RETURN(v.name, ScalarOf(def["name"], origin, "name of volume " + key));
      }
      if (def["external"]) {
        const YAML::Node& ext = def["external"];
        // `external: true`, or the old `external: {name: X}`.
        if (ext.IsMap() && ext["name"]) {
          v.external = true;
          MAESTRO_ASSIGN_OR_RETURN(v.name, ScalarOf(ext["name"], origin, "external name of volume " + key));
        } else {
          MAESTRO_ASSIGN_OR_RETURN(std::string e, ScalarOf(ext, origin, "external of volume " + key));
          v.external = e == "true" || e == "True" || e == "yes";
        }
      }
    } else if (!def.IsNull()) {
      return Bad(origin, LineOf(def), "volume '" + key + "' is not a map");
    }
    if (v.name.find('$') != std::string::npos)
      return Bad(origin, LineOf(def), "volume '" + key + "' names itself with a variable, which maestro-db does not expand");
    f->volumes[key] = v;
  }
  return Status::OK();
}

Result<ComposeFile> ParseNode(const YAML::Node& root, const std::string& origin) {
  ComposeFile f;
  f.path = origin;
  if (!root.IsMap()) return Bad(origin, 0, "the file is not a YAML map of services (is it a compose file?)");
  if (root["name"]) {
    MAESTRO_ASSIGN_OR_RETURN(f.project_name, ScalarOf(root["name"], origin, "the top-level name"));
    if (f.project_name.find('$') != std::string::npos)
      return Bad(origin, LineOf(root["name"]), "the top-level name uses a variable, which maestro-db does not expand");
  }
  YAML::Node services = root["services"];
  if (!services || !services.IsMap()) return Bad(origin, 0, "no `services:` map");
  for (const auto& kv : services) {
    MAESTRO_ASSIGN_OR_RETURN(std::string name, ScalarOf(kv.first, origin, "a service name"));
    ComposeService svc;
    MAESTRO_RETURN_IF_ERROR(ReadService(name, kv.second, origin, &svc));
    f.services.push_back(std::move(svc));
  }
  MAESTRO_RETURN_IF_ERROR(ReadVolumes(root["volumes"], origin, &f));
  return f;
}

}  // namespace

std::string FindComposeFile(Env* env, const std::string& dir) {
  for (const char* name : {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}) {
    std::string p = JoinPath(dir, name);
    if (env->FileExists(p)) return p;
  }
  return "";
}

Result<ComposeFile> ParseComposeFile(const std::string& text, const std::string& origin) {
  if (text.find('\0') != std::string::npos) return Bad(origin, 0, "not text: it holds a NUL byte");
  if (!IsValidUtf8(text)) return Bad(origin, 0, "not text: it is not valid UTF-8");
  MAESTRO_RETURN_IF_ERROR(CheckNesting(text, origin));
  try {
    YAML::Node root = YAML::Load(text);
    return ParseNode(root, origin);
  } catch (const YAML::Exception& e) {
    return Bad(origin, e.mark.line >= 0 ? e.mark.line + 1 : 0, "not valid YAML: " + e.msg);
  }
}

Result<ComposeFile> ReadComposeFile(Env* env, const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0)
    return Bad(path, 0, "a symlink that points nowhere");
  if (::stat(path.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) return Status::NotFound("compose file " + path + " does not exist", kHint);
    return Status::IoError("compose file " + path + ": " + std::strerror(e)).WithErrno(e);
  }
  if (!S_ISREG(st.st_mode)) return Bad(path, 0, "not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxComposeBytes) return Bad(path, 0, "larger than 1 MiB; it was not read");
  std::string text;
  Status s = env->ReadFileToString(path, &text);
  if (!s.ok()) return s.Annotate("compose file");
  if (text.size() > kMaxComposeBytes) return Bad(path, 0, "larger than 1 MiB; it was not read");
  return ParseComposeFile(text, path);
}

}  // namespace maestro
