// tests/webdav_server.cc — rclone serve webdav for the remote suites (see the header).
#include "tests/webdav_server.h"

#include <sys/stat.h>

#include <cstdlib>

#include "tests/sftp_server.h"
#include "tests/test_util.h"

namespace maestro::testing {

std::unique_ptr<WebDavServer> WebDavServer::Start(const std::string& root, std::string* why) {
  if (!HaveRclone(why)) return nullptr;
  ::mkdir(root.c_str(), 0700);
  std::unique_ptr<WebDavServer> s(new WebDavServer());
  std::string pass = "pw" + std::to_string(std::rand());
  s->pass_obscured_ = Sh("rclone obscure " + pass);
  while (!s->pass_obscured_.empty() && s->pass_obscured_.back() == '\n') s->pass_obscured_.pop_back();
  ChildOptions co;
  co.argv = {"rclone", "serve", "webdav", root, "--addr", "127.0.0.1:0", "--user", "maestro", "--pass", pass};
  auto child = ChildProcess::Start(co);
  if (!child.ok()) {
    *why = "rclone serve webdav cannot start: " + child.status().ToString();
    return nullptr;
  }
  std::string line;
  Status st = (*child)->WaitForLine(
      [](const std::string& l) { return l.find("WebDav Server started on http://127.0.0.1:") != std::string::npos; },
      20000, &line);
  if (!st.ok()) {
    *why = "rclone serve webdav does not serve: " + st.ToString();
    return nullptr;
  }
  s->port_ = std::atoi(line.c_str() + line.find("127.0.0.1:") + 10);
  s->server_ = std::move(child).value();
  return s;
}

std::vector<std::string> WebDavServer::RcloneEnv(const std::string& name) const {
  std::string p = "RCLONE_CONFIG_" + name + "_";
  for (char& c : p) c = static_cast<char>(::toupper(static_cast<unsigned char>(c)));
  return {p + "TYPE=webdav", p + "URL=http://127.0.0.1:" + std::to_string(port_) + "/", p + "VENDOR=rclone",
          p + "USER=maestro", p + "PASS=" + pass_obscured_};
}

}  // namespace maestro::testing
