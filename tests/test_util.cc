#include "tests/test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "util/crash_point.h"
#include "util/env.h"
#include "util/hash.h"

#ifndef MAESTRO_DB_BINARY
#define MAESTRO_DB_BINARY "maestro-db"
#endif

namespace maestro::testing {

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/maestro-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() {
  // Restore permissions a test may have removed, then delete.
  std::string cmd = "chmod -R u+rwx '" + path_ + "' 2>/dev/null; rm -rf '" + path_ + "'";
  if (std::system(cmd.c_str()) != 0) {
  }
}

CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env,
                 const std::string& stdin_text) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe(in_pipe) || pipe(out_pipe) || pipe(err_pipe)) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    // Deterministic: trash is deleted before the command returns (tests of the
    // background purge pass MAESTRO_DB_PURGE=background themselves).
    putenv(strdup("MAESTRO_DB_PURGE=now"));
    for (const auto& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    std::string bin = MAESTRO_DB_BINARY;
    argv.push_back(const_cast<char*>(bin.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (!stdin_text.empty()) {
    ssize_t w = write(in_pipe[1], stdin_text.data(), stdin_text.size());
    (void)w;
  }
  close(in_pipe[1]);
  CliResult r;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.exit_code = -WTERMSIG(status);
  return r;
}

namespace {
void Walk(const std::string& root, const std::string& rel, bool include_mtime, std::map<std::string, std::string>* out) {
  Env* env = Env::Default();
  std::string dir = rel.empty() ? root : root + "/" + rel;
  std::vector<DirEntry> entries;
  if (!env->ListDir(dir, &entries).ok()) return;
  for (const auto& e : entries) {
    std::string r = rel.empty() ? e.name : rel + "/" + e.name;
    std::string p = root + "/" + r;
    FileInfo fi;
    if (Status st = env->Stat(p, &fi); !st.ok()) {
      (*out)[r] = "unreadable: " + st.ToString();  // differs from any digest of a real entry
      continue;
    }
    std::ostringstream d;
    d << (fi.is_dir ? "d" : fi.is_symlink ? "l" : "f") << " mode=" << fi.mode;
    if (include_mtime) d << " mtime=" << fi.mtime_ns;
    if (fi.is_regular) {
      std::string content;
      if (!env->ReadFileToString(p, &content).ok()) content = "\0unreadable";
      d << " size=" << fi.size << " xxh=" << Xxh128(content).Hex();
    } else if (fi.is_symlink) {
      std::string t;
      if (!env->ReadLink(p, &t).ok()) t = "\0unreadable";
      d << " -> " << t;
    }
    (*out)[r] = d.str();
    if (fi.is_dir) Walk(root, r, include_mtime, out);
  }
}
}  // namespace

std::map<std::string, std::string> TreeDigest(const std::string& root, bool include_mtime) {
  std::map<std::string, std::string> out;
  Walk(root, "", include_mtime, &out);
  return out;
}

std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

SmallTmpfs::SmallTmpfs(const std::string& dir, const std::string& size) : dir_(dir) {
  ::mkdir(dir.c_str(), 0700);
  mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  if (!mounted_)
    why_ = std::string("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): ") + std::strerror(errno);
}

SmallTmpfs::~SmallTmpfs() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
}

void WriteFile(const std::string& path, const std::string& content) {
  if (Status st = Env::Default()->CreateDirs(DirName(path)); !st.ok())
    throw std::runtime_error("WriteFile " + path + ": " + st.ToString());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
}

std::string ReadFile(const std::string& path) {
  std::string s;
  Env::Default()->ReadFileToString(path, &s).IgnoreError("tests read a missing file as \"\"");
  return s;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, std::min<size_t>(8, n - i));
  }
  return s;
}

void RunChildUntilCrash(const std::string& point, const std::function<void()>& fn) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    SetCrashPointForTesting(point);
    fn();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << point << " was never reached (exit " << WEXITSTATUS(status) << ")";
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

}  // namespace maestro::testing
