// tests/sftp_server.h — a real OpenSSH sshd on 127.0.0.1 for the remote
// suites: a throwaway host key and user key, `internal-sftp` only (optionally
// append-only: `-P remove,rmdir,rename`, or read-only: `-R`), and the RCLONE_CONFIG_* variables
// that make an rclone sftp remote of it.
//
// Start returns null and a reason to print with GTEST_SKIP when sshd,
// ssh-keygen or rclone is missing or sshd cannot run here. The server is
// killed (with every session process) when the object is destroyed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "util/child_process.h"

namespace maestro::testing {

// What the account may do: everything, add only (no remove, rmdir or
// rename: an append-only target), or read only (a read-only key, as a
// restore from someone else's bucket has).
enum class SftpAccess { kReadWrite, kAppendOnly, kReadOnly };

class SftpServer {
 public:
  // work_dir: an empty folder for keys, config and logs (the caller owns it).
  static std::unique_ptr<SftpServer> Start(const std::string& work_dir, SftpAccess access, std::string* skip_reason);
  static std::unique_ptr<SftpServer> Start(const std::string& work_dir, bool append_only, std::string* skip_reason) {
    return Start(work_dir, append_only ? SftpAccess::kAppendOnly : SftpAccess::kReadWrite, skip_reason);
  }
  ~SftpServer();

  int port() const { return port_; }
  // RCLONE_CONFIG_<NAME>_* entries for an rclone sftp remote called `name`.
  std::vector<std::string> RcloneEnv(const std::string& name) const;

  // SIGKILL sshd and every process it started (the sessions): the server is gone.
  void Kill();
  // Starts sshd again on the same port with the same keys. False on failure.
  bool Restart();

 private:
  SftpServer() = default;
  bool Launch(std::string* why);

  std::string dir_;
  std::string user_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> sshd_;
};

// True if `rclone` can be run; else *why says what is missing.
bool HaveRclone(std::string* why);

// Every descendant of pid (children, their children...), from /proc.
std::vector<pid_t> DescendantsOf(pid_t pid);

}  // namespace maestro::testing
