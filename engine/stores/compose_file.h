// engine/stores/compose_file.h — the parts of a Docker Compose file maestro-db reads.
//
// Words:
//   compose dir   the folder holding the compose file (Compose's project
//                 directory): relative bind-mount sources are relative to it
//   mount         one entry of a service's `volumes:` list, in the short syntax
//                 ("./maestro_backend/data:/app/data:rw", "maestro-data:/app/x")
//                 or the long one ({type: bind|volume, source:, target:})
//   named volume  a mount whose source is a name, not a path; declared in the
//                 top-level `volumes:` (with an optional `name:` or `external:`)
//
// ReadComposeFile parses with yaml-cpp and keeps only: the top-level `name:`,
// each service's `working_dir` and mounts, and the top-level volumes. It refuses,
// with InvalidArgument naming the file (and the line for YAML errors), before
// anything else runs: a file over 1 MiB, anything but a regular file, bytes that
// are not UTF-8 text, flow nesting deeper than 64 (yaml-cpp recurses per
// level), a YAML syntax error, and shapes Compose itself rejects (services not a
// map, volumes not a list, a long-syntax mount without a target...). A mount
// source that needs variable interpolation (`${DATA}`) is refused too: maestro-db
// does not expand variables, so it would guess a wrong path. Reads only.
// Pure apart from reading the one file; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

struct ComposeMount {
  std::string type;    // "bind", "volume", "tmpfs" (others are kept as written)
  std::string source;  // as written ("" for an anonymous volume or tmpfs)
  std::string target;  // the path inside the container
  int line = 0;        // 1-based line in the compose file
};

struct ComposeService {
  std::string name;
  std::string working_dir;  // "" when not set
  std::vector<ComposeMount> mounts;
};

struct ComposeVolume {
  std::string name;   // explicit `name:` ("" when not set)
  bool external = false;
};

struct ComposeFile {
  std::string path;          // the file read
  std::string project_name;  // top-level `name:` ("" when not set)
  std::vector<ComposeService> services;           // in file order
  std::map<std::string, ComposeVolume> volumes;  // top-level volumes by key
};

inline constexpr size_t kMaxComposeBytes = 1u << 20;

// The compose file of dir, in Compose's order of preference: compose.yaml,
// compose.yml, docker-compose.yaml, docker-compose.yml. "" when none exists.
std::string FindComposeFile(Env* env, const std::string& dir);

// Parses text (origin names it in messages).
Result<ComposeFile> ParseComposeFile(const std::string& text, const std::string& origin);
// Reads and parses path (the refusals above).
Result<ComposeFile> ReadComposeFile(Env* env, const std::string& path);

}  // namespace maestro
