// tests/test_util.h — helpers shared by the test suites.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace maestro::testing {

// A fresh directory under $TMPDIR, removed (rm -rf) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

struct CliResult {
  int exit_code = -1;  // -signal if killed by a signal
  std::string out;
  std::string err;
};

// Runs the built maestro-db binary with args (no shell), extra environment
// entries "K=V", and the given stdin text.
CliResult RunCli(const std::vector<std::string>& args, const std::vector<std::string>& env = {},
                 const std::string& stdin_text = "");

// Every file, directory and symlink below root: relative path -> digest of
// (type, size, mode, mtime_ns, content hash). Two equal maps = an unchanged tree.
std::map<std::string, std::string> TreeDigest(const std::string& root, bool include_mtime = true);

// n deterministic pseudo-random (incompressible) bytes from seed.
std::string RandomBytes(size_t n, uint32_t seed);

// Runs cmd with /bin/sh and returns its standard output ("" if it cannot start).
std::string Sh(const std::string& cmd);

// Runs fn in a forked child with the crash point spec armed
// (util/crash_point.h) and expects the child to die of SIGKILL there (a
// gtest failure naming the point when it exits instead).
void RunChildUntilCrash(const std::string& point, const std::function<void()>& fn);

// A small tmpfs mounted on dir (made if missing), `size` as mount's size=
// option ("1m"), unmounted (lazily) when this goes out of scope: a full disk
// for real. Mounting needs root and CAP_SYS_ADMIN; where it is refused,
// mounted() is false and why() says so, for the test's GTEST_SKIP.
class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& dir, const std::string& size);
  ~SmallTmpfs();
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string why_;
};

// Writes a file, creating parent directories.
void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

}  // namespace maestro::testing
