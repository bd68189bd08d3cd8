#include "cli/password.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <sodium.h>

#include "util/env.h"

namespace maestro {

namespace {

constexpr size_t kMaxPasswordFile = 64 * 1024;

const char* kHowToGive =
    "give it with --password-file FILE, MAESTRO_DB_PASSWORD_FILE=FILE or MAESTRO_DB_PASSWORD, or run on a terminal";

// Drops one trailing "\n" or "\r\n" (what `echo pw > file` adds).
void StripNewline(SecretString* s) {
  std::string_view v = s->view();
  size_t n = v.size();
  if (n && v[n - 1] == '\n') --n;
  if (n && v[n - 1] == '\r') --n;
  if (n == v.size()) return;
  SecretString t(v.substr(0, n));
  *s = t;
}

// The terminal's settings while echo is off, so a Ctrl-C gives the echo back.
struct termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void RestoreEchoAndDie(int sig) {
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Reads one line from the terminal on stdin with echo off; the prompt goes to stderr.
Result<SecretString> PromptOnce(const std::string& prompt) {
  struct termios old_t;
  bool restore = ::tcgetattr(STDIN_FILENO, &old_t) == 0;
  using Handler = void (*)(int);
  Handler old_int = SIG_DFL, old_term = SIG_DFL;
  if (restore) {
    g_saved_termios = old_t;
    g_echo_off = 1;
    old_int = ::signal(SIGINT, RestoreEchoAndDie);
    old_term = ::signal(SIGTERM, RestoreEchoAndDie);
    struct termios t = old_t;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    t.c_lflag |= ECHONL;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
  }
  // The prompt only once echo is off: what is typed after it appears is never
  // shown, and not discarded by the flush above.
  if (::write(STDERR_FILENO, prompt.data(), prompt.size()) < 0) {
    // no stderr: the prompt is lost, the read still works
  }
  SecretString s;
  char c = 0;
  bool got_newline = false;
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (c == '\n') {
      got_newline = true;
      break;
    }
    if (s.size() >= kMaxPasswordFile) break;
    s.Append(c);
  }
  c = 0;
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_t);
    g_echo_off = 0;
    ::signal(SIGINT, old_int);
    ::signal(SIGTERM, old_term);
  }
  if (!got_newline && s.empty()) return Status::Aborted("no password was typed (end of input); nothing was changed");
  if (!s.empty() && s.view().back() == '\r') StripNewline(&s);
  if (s.empty()) return Status::InvalidArgument("an empty password is not accepted; nothing was changed");
  return s;
}

Status NeedTerminal(const std::string& what) {
  if (::isatty(STDIN_FILENO)) return Status::OK();
  return Status::InvalidArgument(what + " is needed and standard input is not a terminal", kHowToGive);
}

}  // namespace

Result<SecretString> ReadPasswordFile(const std::string& path, const std::string& origin,
                                      std::vector<std::string>* warnings) {
  if (path.empty()) return Status::InvalidArgument(origin + " is set to an empty path", kHowToGive);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PosixError("password file " + path + " (" + origin + ")", errno);
  struct stat st;
  if (::fstat(fd, &st) == 0) {
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
      ::close(fd);
      return Status::InvalidArgument("password file " + path + " (" + origin + ") is not a file");
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 077) && warnings)
      warnings->push_back("password file " + path + " is readable by others (mode " +
                          std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                          std::to_string(st.st_mode & 7) + "): chmod 600 it");
  }
  SecretString s;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      sodium_memzero(buf, sizeof buf);
      ::close(fd);
      return PosixError("password file " + path + " (" + origin + ")", e);
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n && s.size() <= kMaxPasswordFile; ++i) s.Append(buf[i]);
    if (s.size() > kMaxPasswordFile) break;
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  if (s.size() > kMaxPasswordFile)
    return Status::InvalidArgument("password file " + path + " (" + origin + ") is over 64 KiB: is it the right file?");
  StripNewline(&s);
  if (s.empty()) return Status::InvalidArgument("password file " + path + " (" + origin + ") is empty");
  return s;
}

Result<SecretString> ReadRepositoryPassword(const std::string& password_file_flag, const std::string& prompt,
                                            std::vector<std::string>* warnings) {
  if (!password_file_flag.empty()) return ReadPasswordFile(password_file_flag, "--password-file", warnings);
  if (const char* f = std::getenv("MAESTRO_DB_PASSWORD_FILE"))
    return ReadPasswordFile(f, "MAESTRO_DB_PASSWORD_FILE", warnings);
  if (const char* p = std::getenv("MAESTRO_DB_PASSWORD")) {
    if (!*p) return Status::InvalidArgument("MAESTRO_DB_PASSWORD is set but empty", kHowToGive);
    return SecretString(p);
  }
  MAESTRO_RETURN_IF_ERROR(NeedTerminal("the repository password"));
  return PromptOnce(prompt);
}

Result<SecretString> ReadNewPassword(const std::string& new_password_file_flag, const std::string& prompt,
                                     std::vector<std::string>* warnings) {
  if (!new_password_file_flag.empty())
    return ReadPasswordFile(new_password_file_flag, "--new-password-file", warnings);
  if (!::isatty(STDIN_FILENO))
    return Status::InvalidArgument("a new password is needed and standard input is not a terminal",
                                   "give it with --new-password-file FILE, or run on a terminal");
  MAESTRO_ASSIGN_OR_RETURN(SecretString first, PromptOnce(prompt));
  MAESTRO_ASSIGN_OR_RETURN(SecretString again, PromptOnce("enter it again: "));
  if (!(first == again)) return Status::InvalidArgument("the two passwords typed differ; nothing was changed");
  return first;
}

bool RepositoryPasswordGiven(const std::string& password_file_flag) {
  return !password_file_flag.empty() || std::getenv("MAESTRO_DB_PASSWORD_FILE") != nullptr ||
         std::getenv("MAESTRO_DB_PASSWORD") != nullptr;
}

bool CliPasswordSource::Given() const { return RepositoryPasswordGiven(*flag_); }

Result<SecretString> CliPasswordSource::Current(const std::string& where) {
  if (cached_) return *cached_;
  std::vector<std::string> warnings;
  Result<SecretString> pw = ReadRepositoryPassword(*flag_, "password for " + where + ": ", &warnings);
  for (const auto& w : warnings) warn_(w);
  if (pw.ok()) cached_ = *pw;
  return pw;
}

Result<SecretString> CliPasswordSource::ForNewRepository(const std::string& where) {
  if (cached_ || Given()) return Current(where);
  MAESTRO_RETURN_IF_ERROR(NeedTerminal("a password for the new encrypted repository"));
  std::vector<std::string> warnings;
  Result<SecretString> pw = ReadNewPassword("", "password for the new repository " + where + ": ", &warnings);
  for (const auto& w : warnings) warn_(w);
  if (pw.ok()) cached_ = *pw;
  return pw;
}

Result<SecretString> FilePasswordSource::Current(const std::string& where) {
  if (file_.empty()) return fallback_->Current(where);
  if (cached_) return *cached_;
  std::vector<std::string> warnings;
  Result<SecretString> pw = ReadPasswordFile(file_, origin_, &warnings);
  for (const auto& w : warnings) warn_(w);
  if (pw.ok()) cached_ = *pw;
  return pw;
}

Result<SecretString> FilePasswordSource::ForNewRepository(const std::string& where) {
  if (file_.empty()) return fallback_->ForNewRepository(where);
  return Current(where);
}

}  // namespace maestro
