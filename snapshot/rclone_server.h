// snapshot/rclone_server.h — the `rclone serve restic` child behind an
// RcloneBackend: starting it, knowing whether it lives, restarting it
// (bounded), and turning a failed exchange into an error that names the remote.
//
// Ownership: RcloneServerPool owns the current RcloneServer through a
// shared_ptr; a request in flight keeps its server alive until it returns, so
// a restart never pulls a connection from under a request.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "snapshot/rclone_backend.h"
#include "util/child_process.h"
#include "util/http_client.h"
#include "util/status.h"

namespace maestro {

struct RcloneServer {
  std::unique_ptr<ChildProcess> child;
  std::unique_ptr<HttpClient> client;  // the restic REST API: every object operation
  // rclone's remote-control API on its own loopback port, same credentials:
  // operations/copyfile, for packs that are files on this machine (rclone
  // reads them itself; docs/remote.md). Null when rclone did not announce it.
  std::unique_ptr<HttpClient> rc;
  int generation = 0;  // 1 for the first start, 2 after a restart...
  bool death_reported = false;  // guarded by RcloneServerPool::mu_
};

class RcloneServerPool {
 public:
  RcloneServerPool(std::string remote, RcloneBackendOptions opts);
  ~RcloneServerPool();

  // The running server. Starts the first one; when the current one has died,
  // the first call to see it gets IoError naming the remote, how rclone ended
  // and its last output, and the next call starts a new one (at most
  // opts.max_restarts times; then every call gets IoError).
  Status Get(std::shared_ptr<RcloneServer>* out);

  // The error for a request on `server` that failed at the transport level:
  // if the child died, says so (how it ended, its last output) and that the
  // next call restarts it; else the transport error, annotated.
  Status Explain(RcloneServer& server, const Status& transport, const std::string& what);

  // The newest line rclone logged about object_path (waits up to 300 ms for
  // it: rclone logs just before it answers), "" if none.
  std::string ReasonFor(const RcloneServer& server, const std::string& object_path) const;

  pid_t CurrentPid();
  const std::string& location() const { return location_; }
  const std::string& remote() const { return remote_; }  // "REMOTE:PATH"

 private:
  Status Start(int generation, std::shared_ptr<RcloneServer>* out);
  // "rclone (pid N) killed by signal 9; its last output: …"
  std::string DeathOf(const RcloneServer& server) const;

  const std::string remote_;    // "REMOTE:PATH" as rclone takes it
  const std::string location_;  // "rclone:REMOTE:PATH"
  const RcloneBackendOptions opts_;
  std::mutex mu_;
  std::shared_ptr<RcloneServer> current_;  // guarded by mu_
  int starts_ = 0;                         // guarded by mu_
};

}  // namespace maestro
