// snapshot/rclone_backend.h — a repository on any remote rclone reaches
// (S3 and compatibles, B2, GCS, Azure, SFTP, WebDAV...), named as restic
// names it: `rclone:REMOTE:PATH` (docs/remote.md has the protocol).
//
// How: one long-running child, `rclone serve restic REMOTE:PATH --addr
// 127.0.0.1:0`, with random basic-auth credentials handed over in its
// environment (RCLONE_USER, RCLONE_PASS: not on its command line, where other
// local users could read them). The backend reads the port from rclone's
// "Serving restic REST API on http://127.0.0.1:PORT/" line and speaks HTTP/1.1
// to it over loopback (util/http_client.h): POST /<folder>/<name> to put,
// GET (with Range) to read, HEAD to stat, DELETE to remove, GET /<folder>/ for
// the JSON listing. The layout on the remote is the local one
// (ObjectKindFolder), so `rclone copy` of a local repository is a remote one.
// rclone's own config file, RCLONE_CONFIG and RCLONE_CONFIG_* variables reach
// the child unchanged (it inherits this process's environment).
//
// Contract (snapshot/backend.h) and its limits here:
//   - Put/Commit send the whole object in one request with Content-Length;
//     rclone writes it under its final name. Object stores publish it whole;
//     an SFTP or WebDAV remote shows it growing, and a kill of rclone or of
//     the server mid-upload can leave a partial object when rclone cannot
//     delete it (the link is gone, or the target is append-only). Readers
//     detect that: Get checks packs and index files against the hash their
//     name promises (snapshot/object_check.h), and manifests, config, keys and
//     locks carry their own checksums. List may name such a partial object.
//   - A writer's pieces are kept on this machine (memory up to 8 MiB, then an
//     unlinked file in $TMPDIR) and sent at Commit; nothing reaches the remote
//     before Commit, and an abandoned writer sends nothing. PutFile (a pack
//     finished in the local tmp/) and PutCopyOf (a source pack `snap copy`
//     sends whole) have rclone read the file itself: rc operations/copyfile on
//     the same child (`--rc` on its own loopback port, the same one-time
//     credentials in RCLONE_RC_USER/PASS), as `rclone copy` does, when the
//     Env shares the host's files; else, or when rclone answers the copy with
//     an error, the file is streamed through the restic API, with no copy;
//     that slower path is said once per backend (RcloneBackendOptions::notice).
//   - ParallelPuts: writers may keep parallel_uploads packs uploading at once
//     (one connection each to the same child; rclone serves them in parallel).
//   - Remove refused by the remote (append-only SFTP, object lock) returns
//     IoError "the remote refused to delete packs/…" with rclone's reason; the
//     object stays.
//   - A dead child (killed, crashed) fails the call in progress with IoError
//     naming the remote, how it ended and its last output; the next call
//     starts a new one (at most max_restarts times per backend).
//   - Destroying the backend stops the child (SIGTERM, then SIGKILL after 2 s).
//
// Bounded waits: rclone must announce its port within start_timeout_ms; every
// request fails after io_timeout_ms without progress.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/backend.h"
#include "util/status.h"

namespace maestro {

struct RcloneBackendOptions {
  std::string program;                 // "" = $MAESTRO_DB_RCLONE, else "rclone" from PATH
  std::vector<std::string> extra_args; // appended to rclone's arguments, after $MAESTRO_DB_RCLONE_ARGS
  std::vector<std::string> extra_env;  // "K=V" added to the child's environment
  int64_t start_timeout_ms = 60000;
  int64_t io_timeout_ms = 300000;
  int max_restarts = 3;
  // Packs a writer uploads at once (Backend::ParallelPuts); 0 = $MAESTRO_DB_RCLONE_UPLOADS,
  // else kDefaultRcloneUploads. Clamped to 1..16.
  int parallel_uploads = 0;
  // Told once per backend when a file on this machine (PutFile, PutCopyOf)
  // cannot be handed to rclone (rc operations/copyfile) and is streamed
  // through the restic API instead (slower, same bytes): why, and where.
  // Null = the process's sink (SetRcloneNotices), else nothing is said.
  std::function<void(const std::string&)> notice;
};

// The process's sink for RcloneBackendOptions::notice (the CLI's stderr
// warnings, cli/main.cc). Set once, before any backend is made.
void SetRcloneNotices(std::function<void(const std::string&)> sink);

constexpr int kDefaultRcloneUploads = 3;

// True for "rclone:..." (the --repo form that selects this backend).
bool IsRcloneSpec(std::string_view spec);

class RcloneBackend : public Backend {
 public:
  // The running rclone child's pid (0 if none): for status displays and tests.
  virtual pid_t ServerPid() const = 0;
};

// Starts rclone for spec "rclone:REMOTE:PATH" and waits until it serves.
// InvalidArgument for a malformed spec; IoError (with rclone's own words, e.g.
// "didn't find section in config file") when rclone cannot start or serve it.
Result<std::unique_ptr<RcloneBackend>> NewRcloneBackend(const std::string& spec,
                                                        const RcloneBackendOptions& opts = {});

}  // namespace maestro
