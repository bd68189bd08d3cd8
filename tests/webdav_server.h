// tests/webdav_server.h — `rclone serve webdav` on 127.0.0.1 as a second kind
// of real remote for the suites (issue 15 point 8), with random credentials,
// and the RCLONE_CONFIG_* variables of an rclone webdav remote of it. Start
// returns null and the reason when rclone is missing. Killed on destruction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "util/child_process.h"

namespace maestro::testing {

class WebDavServer {
 public:
  // Serves the folder root (created if missing).
  static std::unique_ptr<WebDavServer> Start(const std::string& root, std::string* skip_reason);
  std::vector<std::string> RcloneEnv(const std::string& name) const;
  int port() const { return port_; }

 private:
  WebDavServer() = default;
  int port_ = 0;
  std::string pass_obscured_;
  std::unique_ptr<ChildProcess> server_;
};

}  // namespace maestro::testing
