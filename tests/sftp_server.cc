// tests/sftp_server.cc — sshd on loopback for the remote suites (see the header).
#include "tests/sftp_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "tests/test_util.h"

namespace maestro::testing {

namespace {

constexpr char kSshd[] = "/usr/sbin/sshd";

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

std::string CurrentUser() {
  struct passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : "root";
}

}  // namespace

bool HaveRclone(std::string* why) {
  if (Sh("command -v rclone >/dev/null 2>&1 && echo yes") == "yes\n") return true;
  *why = "rclone is not installed (apt-get install rclone; scripts/install-deps.sh does it)";
  return false;
}

std::vector<pid_t> DescendantsOf(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return {};
  while (struct dirent* e = ::readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::string stat = ReadFile(std::string("/proc/") + e->d_name + "/stat");
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    children.emplace(ppid, pid);
  }
  ::closedir(d);
  std::vector<pid_t> out, todo = {root};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    auto range = children.equal_range(p);
    for (auto it = range.first; it != range.second; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

std::unique_ptr<SftpServer> SftpServer::Start(const std::string& work_dir, SftpAccess access, std::string* why) {
  if (::access(kSshd, X_OK) != 0) {
    *why = "sshd is not installed (apt-get install openssh-server; scripts/install-deps.sh does it)";
    return nullptr;
  }
  if (!HaveRclone(why)) return nullptr;
  if (Sh("command -v ssh-keygen >/dev/null 2>&1 && echo yes") != "yes\n") {
    *why = "ssh-keygen is not installed (openssh-client)";
    return nullptr;
  }
  // sshd refuses to start without its privilege-separation folder.
  ::mkdir("/run/sshd", 0755);
  std::unique_ptr<SftpServer> s(new SftpServer());
  s->dir_ = work_dir;
  s->user_ = CurrentUser();
  Sh("ssh-keygen -q -t ed25519 -N '' -f '" + work_dir + "/host_key' && ssh-keygen -q -t ed25519 -N '' -f '" +
     work_dir + "/user_key' && cp '" + work_dir + "/user_key.pub' '" + work_dir + "/authorized_keys'");
  std::string sftp = access == SftpAccess::kAppendOnly ? "internal-sftp -P remove,rmdir,rename"
                     : access == SftpAccess::kReadOnly  ? "internal-sftp -R"
                                                        : "internal-sftp";
  for (int attempt = 0; attempt < 3; ++attempt) {
    s->port_ = FreeLoopbackPort();
    WriteFile(work_dir + "/sshd_config",
              "ListenAddress 127.0.0.1\nPort " + std::to_string(s->port_) + "\nHostKey " + work_dir +
                  "/host_key\nPidFile none\nAuthorizedKeysFile " + work_dir +
                  "/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                  "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nMaxStartups 100\nMaxSessions 100\n"
                  "Subsystem sftp " + sftp + "\nForceCommand " + sftp + "\nLogLevel INFO\n");
    std::string host_pub = ReadFile(work_dir + "/host_key.pub");
    WriteFile(work_dir + "/known_hosts", "[127.0.0.1]:" + std::to_string(s->port_) + " " + host_pub);
    if (s->Launch(why)) return s;
  }
  return nullptr;
}

bool SftpServer::Launch(std::string* why) {
  ChildOptions co;
  co.argv = {kSshd, "-D", "-e", "-f", dir_ + "/sshd_config"};
  auto child = ChildProcess::Start(co);
  if (!child.ok()) {
    *why = "sshd cannot start: " + child.status().ToString();
    return false;
  }
  std::string line;
  Status st = (*child)->WaitForLine([](const std::string& l) { return l.find("Server listening on") != std::string::npos; },
                                    10000, &line);
  if (!st.ok()) {
    *why = "sshd does not serve here: " + st.ToString();
    return false;
  }
  sshd_ = std::move(child).value();
  return true;
}

SftpServer::~SftpServer() { Kill(); }

std::vector<std::string> SftpServer::RcloneEnv(const std::string& name) const {
  std::string p = "RCLONE_CONFIG_" + name + "_";
  for (char& c : p) c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
  return {p + "TYPE=sftp",
          p + "HOST=127.0.0.1",
          p + "PORT=" + std::to_string(port_),
          p + "USER=" + user_,
          p + "KEY_FILE=" + dir_ + "/user_key",
          p + "KNOWN_HOSTS_FILE=" + dir_ + "/known_hosts",
          p + "SHELL_TYPE=none",
          p + "MD5SUM_COMMAND=none",
          p + "SHA1SUM_COMMAND=none"};
}

void SftpServer::Kill() {
  if (sshd_ == nullptr) return;
  for (pid_t p : DescendantsOf(sshd_->pid())) ::kill(p, SIGKILL);
  ::kill(sshd_->pid(), SIGKILL);
  sshd_->Stop(1000);
  sshd_.reset();
}

bool SftpServer::Restart() {
  Kill();
  std::string why;
  return Launch(&why);
}

}  // namespace maestro::testing
