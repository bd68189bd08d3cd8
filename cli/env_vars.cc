#include "cli/env_vars.h"

#include <cstdlib>
#include <cstring>
#include <set>

#include "util/crash_point.h"

extern char** environ;

namespace maestro {

namespace {

Status CheckCrashAt(const std::string& v) {
  if (v.empty() || v == "list" || IsValidCrashPointSpec(v)) return Status::OK();
  return Status::InvalidArgument("MAESTRO_DB_CRASH_AT='" + v + "' is not a crash point (form: <name>[:<nth>], nth >= 1)",
                                 "list the valid names with `maestro-db debug crash-points`, or unset it");
}

Status CheckPurge(const std::string& v) {
  if (v.empty() || v == "background" || v == "now" || v == "later") return Status::OK();
  return Status::InvalidArgument("MAESTRO_DB_PURGE='" + v + "' is not one of background, now, later",
                                 "nothing was changed; set one of those, or unset it for background");
}

// Set but empty is a mistake (an unset variable in a script): refuse it rather
// than fall through to the next source or a prompt.
Status CheckNotEmpty(const char* name, const std::string& v) {
  if (!v.empty()) return Status::OK();
  return Status::InvalidArgument(std::string(name) + " is set but empty",
                                 "set it (see docs/encryption.md, \"Where the password comes from\"), or unset it");
}

}  // namespace

Status CheckMaestroEnvironment(std::vector<std::string>* warnings) {
  // LONG_TESTS and BIN are read by the test suites and scripts, not by the binary.
  static const std::set<std::string> kKnown = {"MAESTRO_DB_CRASH_AT", "MAESTRO_DB_PURGE", "MAESTRO_DB_LONG_TESTS",
                                               "MAESTRO_DB_BIN", "MAESTRO_DB_PASSWORD", "MAESTRO_DB_PASSWORD_FILE",
                                               "MAESTRO_DB_DOCKER_ROOT", "MAESTRO_DB_DOCKERENV", "MAESTRO_DB_MOUNTINFO",
                                               "MAESTRO_DB_FROM_PASSWORD_FILE", "MAESTRO_DB_TO_PASSWORD_FILE",
                                               // read by the rclone backend (snapshot/rclone_backend.h)
                                               "MAESTRO_DB_RCLONE", "MAESTRO_DB_RCLONE_ARGS", "MAESTRO_DB_RCLONE_UPLOADS"};
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (std::strncmp(*e, "MAESTRO_DB_", 11) != 0 || !eq) continue;
    std::string name(*e, static_cast<size_t>(eq - *e));
    if (!kKnown.count(name) && warnings)
      warnings->push_back(name + " is not a variable this maestro-db reads; it is ignored (known: "
                          "MAESTRO_DB_CRASH_AT, MAESTRO_DB_PURGE, MAESTRO_DB_PASSWORD, MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_FROM_PASSWORD_FILE, "
                          "MAESTRO_DB_TO_PASSWORD_FILE, MAESTRO_DB_DOCKER_ROOT, MAESTRO_DB_RCLONE, MAESTRO_DB_RCLONE_ARGS, "
                          "MAESTRO_DB_RCLONE_UPLOADS)");
  }
  if (const char* v = std::getenv("MAESTRO_DB_CRASH_AT")) MAESTRO_RETURN_IF_ERROR(CheckCrashAt(v));
  if (const char* v = std::getenv("MAESTRO_DB_PURGE")) MAESTRO_RETURN_IF_ERROR(CheckPurge(v));
  // The password's value is never printed; only that it is set is checked here
  // (the file itself is read when a command needs it: cli/password.h).
  if (const char* v = std::getenv("MAESTRO_DB_PASSWORD_FILE"))
    MAESTRO_RETURN_IF_ERROR(CheckNotEmpty("MAESTRO_DB_PASSWORD_FILE", v));
  if (const char* v = std::getenv("MAESTRO_DB_PASSWORD")) MAESTRO_RETURN_IF_ERROR(CheckNotEmpty("MAESTRO_DB_PASSWORD", v));
  for (const char* name : {"MAESTRO_DB_FROM_PASSWORD_FILE", "MAESTRO_DB_TO_PASSWORD_FILE"})
    if (const char* v = std::getenv(name)) MAESTRO_RETURN_IF_ERROR(CheckNotEmpty(name, v));
  if (const char* v = std::getenv("MAESTRO_DB_DOCKER_ROOT"); v && *v && v[0] != '/')
    return Status::InvalidArgument(std::string("MAESTRO_DB_DOCKER_ROOT='") + v + "' is not an absolute path",
                                   "nothing was changed; set it to Docker's root (e.g. /var/lib/docker), or unset it");
  return Status::OK();
}

}  // namespace maestro
