// cli/env_vars.h — the MAESTRO_DB_* environment variables, checked once at start.
//
// Every MAESTRO_DB_* variable the binary reads is validated before any command
// runs, so a typo is never silently ignored:
//   MAESTRO_DB_CRASH_AT  "" (off), "list", or "<crash point>[:<nth>]" with a
//                        registered name (`maestro-db debug crash-points`)
//   MAESTRO_DB_PURGE     "" or background (default), now, later
//   MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_PASSWORD
//                        an encrypted repository's password (cli/password.h has
//                        the precedence): not empty when set
//   MAESTRO_DB_FROM_PASSWORD_FILE, MAESTRO_DB_TO_PASSWORD_FILE
//                        `snap copy`: the source's / the target's own password
//                        file (cli/password.h): not empty when set
//   MAESTRO_DB_DOCKER_ROOT  "" or an absolute path: Docker's root, for named
//                        volumes when no daemon answers (engine/stores/compose.h)
//   MAESTRO_DB_RCLONE, MAESTRO_DB_RCLONE_ARGS, MAESTRO_DB_RCLONE_UPLOADS
//                        the rclone program, its extra arguments, packs uploaded at
//                        once (snapshot/rclone_backend.h; read there, not checked here)
//   MAESTRO_DB_DOCKERENV, MAESTRO_DB_MOUNTINFO  test hooks: files read instead of
//                        /.dockerenv and /proc/self/mountinfo (engine/stores/container.h)
// A bad value is InvalidArgument (exit 2) naming the variable and what it
// accepts. A MAESTRO_DB_* name the binary does not know gets a warning on
// stderr (it may be meant for another version, or for the test suites:
// MAESTRO_DB_LONG_TESTS is known and accepted).
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace maestro {

// Checks `environ`; returns the first bad value, and appends a warning line per
// unknown MAESTRO_DB_* name to *warnings.
Status CheckMaestroEnvironment(std::vector<std::string>* warnings);

}  // namespace maestro
