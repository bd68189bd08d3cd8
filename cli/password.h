// cli/password.h — where the password of an encrypted repository comes from.
//
// The repository password, first source that is set wins (documented in
// docs/encryption.md and `maestro-db --help`):
//   1. --password-file FILE          (a global option)
//   2. MAESTRO_DB_PASSWORD_FILE=FILE
//   3. MAESTRO_DB_PASSWORD=TEXT      (visible to other users in /proc on some
//                                     systems: prefer a file)
//   4. a prompt on the terminal (standard input is a terminal), without echo
// None of these and standard input not a terminal: InvalidArgument (exit 2)
// naming the three ways to give one. A lower source is never consulted when a
// higher one is set, even if the higher one fails (a missing file is an error,
// not a fallback to the prompt).
//
// `snap copy` between two encrypted repositories with different passwords:
// --from-password-file / --to-password-file (or MAESTRO_DB_FROM_PASSWORD_FILE /
// MAESTRO_DB_TO_PASSWORD_FILE) give one end its own password file
// (FilePasswordSource below); an end without one uses the rules above.
//
// A new password (snap key add, snap key passwd) comes from --new-password-file
// FILE, else a prompt on the terminal asked twice (the two must match).
//
// Password files: the whole file, less one trailing "\n" or "\r\n"; empty is
// refused, over 64 KiB is refused; a file readable by group or others gets a
// warning. Every password is held in a SecretString (wiped when destroyed).
//
// Not thread-safe (touches the terminal's settings); called once per command.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/crypto.h"
#include "snapshot/open_repository.h"
#include "util/status.h"

namespace maestro {

// The repository password by the precedence above. prompt: e.g.
// "password for /app/backups/maestro-db: ". *warnings gets notes (file mode).
Result<SecretString> ReadRepositoryPassword(const std::string& password_file_flag, const std::string& prompt,
                                            std::vector<std::string>* warnings);

// A new password: new_password_file_flag, else the terminal, asked twice.
Result<SecretString> ReadNewPassword(const std::string& new_password_file_flag, const std::string& prompt,
                                     std::vector<std::string>* warnings);

// The password in `path`; `origin` names where the path came from in errors
// ("--password-file", "MAESTRO_DB_PASSWORD_FILE").
Result<SecretString> ReadPasswordFile(const std::string& path, const std::string& origin,
                                      std::vector<std::string>* warnings);

// True when a password is given without a prompt: the flag, or either variable, is set.
bool RepositoryPasswordGiven(const std::string& password_file_flag);

// The commands' PasswordSource (snapshot/open_repository.h) over the rules
// above: reads *password_file_flag when first asked (so it may be registered
// before the command line is parsed) and keeps what it read for the rest of
// the process, so a command that opens its repository twice asks once.
// warn receives notes (file mode). A new repository's password: the given
// one, else the terminal asked twice.
class CliPasswordSource final : public PasswordSource {
 public:
  CliPasswordSource(const std::string* password_file_flag, std::function<void(const std::string&)> warn)
      : flag_(password_file_flag), warn_(std::move(warn)) {}
  bool Given() const override;
  Result<SecretString> Current(const std::string& where) override;
  Result<SecretString> ForNewRepository(const std::string& where) override;

 private:
  const std::string* flag_;
  std::function<void(const std::string&)> warn_;
  std::optional<SecretString> cached_;
};

// The password of one end of `snap copy` when the two repositories have
// different passwords: `file` (--to-password-file / --from-password-file, else
// MAESTRO_DB_TO_PASSWORD_FILE / MAESTRO_DB_FROM_PASSWORD_FILE; `origin` names
// which in errors) when set, else `fallback` (the process's source: the rules
// above). The file is read once and kept, as CliPasswordSource does.
class FilePasswordSource final : public PasswordSource {
 public:
  FilePasswordSource(std::string file, std::string origin, PasswordSource* fallback,
                     std::function<void(const std::string&)> warn)
      : file_(std::move(file)), origin_(std::move(origin)), fallback_(fallback), warn_(std::move(warn)) {}
  bool Given() const override { return !file_.empty() || fallback_->Given(); }
  Result<SecretString> Current(const std::string& where) override;
  Result<SecretString> ForNewRepository(const std::string& where) override;
  bool has_file() const { return !file_.empty(); }
  const std::string& origin() const { return origin_; }

 private:
  std::string file_, origin_;
  PasswordSource* fallback_;
  std::function<void(const std::string&)> warn_;
  std::optional<SecretString> cached_;
};

}  // namespace maestro
