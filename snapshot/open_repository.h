// snapshot/open_repository.h — the one way a command opens (or makes) a
// repository, encrypted or not: the config is read first; an encrypted one
// (config `encryption=` any scheme but "none": snapshot/sealer.h
// kEncryption*) gets its password from a PasswordSource, its master key from
// the key files (snapshot/keys.h), and the Repository is handed
// EncryptingSealer(master, scheme) (snapshot/sealer.h). A scheme whose cipher
// this CPU cannot run (AES-256-GCM without AES-NI) is refused before any
// password is asked for.
// An unencrypted one is handed PlainSealer() and no password is asked for.
//
// Making a repository (InitRepository, `snap init [--encrypt]`, and the first
// writer of a missing one through OpenRepository with create_if_missing):
//   - encrypted: the first key file (CreateFirstKey), then the repository's
//     folders, then the config LAST: the config is the commit point, so a
//     crash before it leaves no repository, only a keys/ folder that the
//     next init with the same password reuses (another password: refused,
//     naming the folder). A config that exists already is never touched.
//   - create_if_missing with a password given without a prompt (a password
//     file or variable: PasswordSource::Given) makes an ENCRYPTED repository;
//     with none given, an unencrypted one (as before encryption existed). A
//     user who set a password is never handed a repository in clear.
//
// Failure: WrongPassword (exit 10) when no key file opens, with nothing in
// the repository read beyond the config and keys/, and nothing written;
// Corruption for a damaged config or key file; InvalidArgument when a
// password is needed and none can be had (the source names the flags and
// variables that give one), or for `init` of an existing repository;
// NotFound when there is no repository and !create_if_missing. Every other
// error is the Backend's or Repository::Open's.
//
// Thread safety: one call at a time per PasswordSource (it may prompt).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "snapshot/backend.h"
#include "snapshot/crypto.h"
#include "snapshot/format.h"
#include "snapshot/keys.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

// Where an encrypted repository's password comes from (cli/password.h is the
// commands' one: --password-file, MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_PASSWORD,
// a prompt on a terminal). Implementations may cache what they read.
class PasswordSource {
 public:
  virtual ~PasswordSource() = default;
  // True when a password was given without asking (a file, a variable).
  virtual bool Given() const = 0;
  // The password of the existing repository at `where` (may prompt once).
  virtual Result<SecretString> Current(const std::string& where) = 0;
  // The password for a repository being made at `where`: the given one when
  // Given(), else asked twice on a terminal.
  virtual Result<SecretString> ForNewRepository(const std::string& where) = 0;
};

// The process's source: the one main() registers (null = none: encrypted
// repositories are refused, naming the ways to give a password). Writers that
// are not handed a source (transactions, scheduled jobs, recover) use it.
void SetProcessPasswordSource(PasswordSource* source);
PasswordSource* ProcessPasswordSource();

// An unlocked repository's sealer, and its keys when encrypted.
struct RepositoryKeys {
  std::shared_ptr<const Sealer> sealer;
  std::string scheme = "none";         // the config's encryption=
  std::optional<OpenedKeys> keys;      // encrypted only
  std::vector<std::string> warnings;   // damaged/foreign key files seen on the way
};

// The config backend holds: NotFound when there is none.
Result<RepoConfig> ReadRepositoryConfig(Backend* backend);

// The sealer for the repository backend holds, whose config is cfg. null
// password = ProcessPasswordSource().
Result<RepositoryKeys> UnlockRepository(Backend* backend, const RepoConfig& cfg, PasswordSource* password);

struct OpenRepositoryOptions {
  bool create_if_missing = false;
  PasswordSource* password = nullptr;  // null = ProcessPasswordSource()
  KdfParams kdf;                       // Argon2id limits of a first key file
  // Keys UnlockRepository gave already (a writer unlocks before it locks, so
  // a wrong password or a slow prompt never holds the lock); null = unlock here.
  const RepositoryKeys* unlocked = nullptr;
};

struct OpenedRepository {
  std::unique_ptr<Repository> repo;
  RepositoryKeys keys;
  bool created = false;
};

// Opens the repository `spec` names: a local folder, or rclone:REMOTE:PATH
// (snapshot/open_backend.h; local scratch in RemoteScratchDir).
Result<OpenedRepository> OpenRepository(Env* env, const std::string& spec, const OpenRepositoryOptions& opts);

struct InitOptions {
  bool encrypt = false;
  // The config's encryption= of an encrypted one (snapshot/sealer.h; the
  // default is XChaCha20-Poly1305 with keyed-XXH3 ids). Checked before
  // anything is written: AES-256-GCM on a CPU without AES-NI is refused.
  std::string encryption = std::string(kDefaultEncryption);
  KdfParams kdf;
  PasswordSource* password = nullptr;  // encrypt only; null = ProcessPasswordSource()
};

// Makes a new, empty repository at spec. InvalidArgument (nothing changed)
// when spec holds a repository config already; BadStore when a local folder
// holds other files (CheckFolderForNewRepository).
Result<OpenedRepository> InitRepository(Env* env, const std::string& spec, const InitOptions& opts);

}  // namespace maestro
