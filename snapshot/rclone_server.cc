// snapshot/rclone_server.cc — start, watch and restart `rclone serve restic`.
#include "snapshot/rclone_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "util/env.h"
#include "util/hash.h"

namespace maestro {

namespace {

constexpr char kReadyMarker[] = "Serving restic REST API on http://";
constexpr char kRcMarker[] = "Serving remote control on http://";
// A copyfile request is silent until its upload ends: rclone's own --timeout
// (idle transfer) bounds it, so the client waits at least this long.
constexpr int64_t kRcMinIoTimeoutMs = 3600 * 1000;

// 16 random bytes from the kernel, hex: the child's one-time credentials.
Status RandomToken(std::string* out) {
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("open /dev/urandom", errno);
  char buf[16];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof(buf))) return Status::IoError("read /dev/urandom: short read");
  *out = HexEncode(std::string_view(buf, sizeof(buf)));
  return Status::OK();
}

std::vector<std::string> SplitSpaces(const char* s) {
  std::vector<std::string> out;
  if (s == nullptr) return out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// "2026/12/01 22:58:27 ERROR : packs/x: ..." -> "ERROR : packs/x: ..."
std::string WithoutTimestamp(const std::string& line) {
  if (line.size() > 20 && line[4] == '/' && line[7] == '/' && line[10] == ' ' && line[13] == ':') {
    return line.substr(20);
  }
  return line;
}

// The port from "... <marker>127.0.0.1:PORT/" (marker: kReadyMarker or kRcMarker).
int PortOf(const std::string& line, const char* marker = kReadyMarker) {
  size_t at = line.find(marker);
  if (at == std::string::npos) return 0;
  size_t colon = line.find(':', at + std::char_traits<char>::length(marker));
  if (colon == std::string::npos) return 0;
  return std::atoi(line.c_str() + colon + 1);
}

}  // namespace

RcloneServerPool::RcloneServerPool(std::string remote, RcloneBackendOptions opts)
    : remote_(std::move(remote)), location_("rclone:" + remote_), opts_(std::move(opts)) {}

RcloneServerPool::~RcloneServerPool() = default;

Status RcloneServerPool::Start(int generation, std::shared_ptr<RcloneServer>* out) {
  std::string user, pass;
  MAESTRO_RETURN_IF_ERROR(RandomToken(&user));
  MAESTRO_RETURN_IF_ERROR(RandomToken(&pass));
  const char* env_program = ::getenv("MAESTRO_DB_RCLONE");
  std::string program = !opts_.program.empty() ? opts_.program
                        : (env_program != nullptr && *env_program != '\0') ? env_program : "rclone";
  ChildOptions co;
  // --cache-objects=false: another host may change the remote; never answer from a stale cache.
  // Every serve setting the protocol depends on is given explicitly, so an
  // RCLONE_* variable meant for other rclone uses (RCLONE_CERT, RCLONE_HTPASSWD,
  // RCLONE_LOG_FILE, RCLONE_APPEND_ONLY...) cannot change it behind our back.
  co.argv = {program, "serve", "restic", remote_, "--addr", "127.0.0.1:0", "--cache-objects=false",
             "--cert=", "--key=", "--client-ca=", "--htpasswd=", "--baseurl=", "--append-only=false",
             "--private-repos=false", "--stdio=false", "--log-level", "NOTICE", "--log-file=",
             "--use-json-log=false", "--syslog=false",
             // The remote-control API, for uploads of files on this machine
             // (operations/copyfile): loopback only, the same one-time
             // credentials (RCLONE_RC_USER/PASS below), nothing else served.
             "--rc", "--rc-addr", "127.0.0.1:0", "--rc-no-auth=false", "--rc-serve=false", "--rc-web-gui=false",
             "--rc-files=", "--rc-baseurl=", "--rc-cert=", "--rc-key=", "--rc-client-ca=", "--rc-htpasswd=",
             "--rc-enable-metrics=false",
             // copyfile uploads without a stat of the target first: every name
             // is new or holds the same bytes (backend.h), and a damaged one
             // left by a cut upload must be replaced, not kept for its size.
             "--no-check-dest",
             // No read-ahead buffer: it copies every byte once more inside
             // rclone (16 MiB a transfer by default: with 3 uploads its peak
             // grew from 53 to 117 MiB, and its CPU by a third, on the 1 GiB
             // benchmark). What rclone uploads is a local file, and what the
             // restic API reads is the ranges the backend asks for.
             "--buffer-size=0"};
  for (const std::string& a : SplitSpaces(::getenv("MAESTRO_DB_RCLONE_ARGS"))) co.argv.push_back(a);
  co.argv.insert(co.argv.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  co.extra_env = opts_.extra_env;
  co.extra_env.push_back("RCLONE_VERBOSE=0");  // -v in the environment would clash with --log-level
  co.extra_env.push_back("RCLONE_USER=" + user);
  co.extra_env.push_back("RCLONE_PASS=" + pass);
  co.extra_env.push_back("RCLONE_RC_USER=" + user);
  co.extra_env.push_back("RCLONE_RC_PASS=" + pass);
  auto child = ChildProcess::Start(co);
  if (!child.ok()) {
    return child.status().Annotate(location_ + ": starting rclone (install Debian's rclone package, or set "
                                   "MAESTRO_DB_RCLONE to its path)");
  }
  std::string line;
  Status st = (*child)->WaitForLine([](const std::string& l) { return PortOf(l) > 0; }, opts_.start_timeout_ms, &line);
  if (!st.ok()) {
    return Status::IoError(location_ + ": rclone did not start serving the remote (check the remote's name "
                           "and settings with `rclone lsd " + remote_ + "`)", st.message());
  }
  auto server = std::make_shared<RcloneServer>();
  HttpClientOptions ho;
  ho.port = PortOf(line);
  ho.user = user;
  ho.password = pass;
  ho.io_timeout_ms = opts_.io_timeout_ms;
  server->client = std::make_unique<HttpClient>(ho);
  // rclone starts its rc server before the command, so its line came first.
  const int rc_port = PortOf((*child)->LastLineContaining(kRcMarker), kRcMarker);
  if (rc_port > 0) {
    ho.port = rc_port;
    ho.io_timeout_ms = std::max(opts_.io_timeout_ms, kRcMinIoTimeoutMs);
    server->rc = std::make_unique<HttpClient>(ho);
  }
  server->child = std::move(child).value();
  server->generation = generation;
  *out = std::move(server);
  return Status::OK();
}

Status RcloneServerPool::Get(std::shared_ptr<RcloneServer>* out) {
  std::lock_guard<std::mutex> l(mu_);
  if (current_ != nullptr && current_->child->Alive()) {
    *out = current_;
    return Status::OK();
  }
  if (current_ != nullptr) {
    if (!current_->death_reported) {
      current_->death_reported = true;
      return Status::IoError(location_ + ": " + DeathOf(*current_) + "; the next call starts it again");
    }
    if (starts_ > opts_.max_restarts) {
      return Status::IoError(location_ + ": " + DeathOf(*current_) + "; it was already restarted " +
                             std::to_string(opts_.max_restarts) + " times: not starting it again");
    }
  }
  ++starts_;
  std::shared_ptr<RcloneServer> fresh;
  MAESTRO_RETURN_IF_ERROR(Start(starts_, &fresh));
  current_ = fresh;
  *out = std::move(fresh);
  return Status::OK();
}

std::string RcloneServerPool::DeathOf(const RcloneServer& server) const {
  std::string out;
  std::vector<std::string> lines = server.child->RecentLines();
  size_t shown = 0;
  for (auto it = lines.rbegin(); it != lines.rend() && shown < 4; ++it) {
    std::string l = WithoutTimestamp(*it);
    if (l.find("using defaults") != std::string::npos) continue;  // rclone's note that no config file exists
    out = l + (out.empty() ? "" : " | " + out);
    ++shown;
  }
  return "rclone (pid " + std::to_string(server.child->pid()) + ") " + server.child->ExitDescription() +
         "; its last output: " + (out.empty() ? "(nothing)" : out);
}

Status RcloneServerPool::Explain(RcloneServer& server, const Status& transport, const std::string& what) {
  // The child may be dying right now: give it a moment to be seen dead.
  for (int i = 0; i < 10 && server.child->Alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!server.child->Alive()) {
    {
      std::lock_guard<std::mutex> l(mu_);
      server.death_reported = true;
    }
    return Status::IoError(location_ + ": " + what + ": " + DeathOf(server) + "; the next call starts it again");
  }
  return Status::IoError(location_ + ": " + what + ": " + transport.message());
}

std::string RcloneServerPool::ReasonFor(const RcloneServer& server, const std::string& object_path) const {
  for (int i = 0; i < 15; ++i) {
    std::string line = server.child->LastLineContaining(object_path);
    if (!line.empty()) return WithoutTimestamp(line);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

pid_t RcloneServerPool::CurrentPid() {
  std::lock_guard<std::mutex> l(mu_);
  return current_ != nullptr && current_->child->Alive() ? current_->child->pid() : 0;
}

}  // namespace maestro
