// snapshot/keys.h — the key files of an encrypted repository: several
// passwords, one master key (docs/encryption.md "Key files").
//
// Words:
//   key file   an ObjectKind::kKey object, "keys/<id>", a small JSON object:
//              the master key (snapshot/crypto.h) sealed with a key derived
//              from one password by Argon2id, with the derivation's salt and
//              limits, a password check value, and who made it (time, host,
//              user: in clear).
//   key id     the key file's name: 32 hex of the XXH3-128 of its bytes (as
//              packs and index files, docs/format-4.md), so a file whose bytes no longer match its name (a flipped
//              byte, a rename) is detected before any password is tried.
//   current    the key file that opened the repository in this process.
//
// Failure, and how it is told apart:
//   - WrongPassword: no key file opens with the password, and none is damaged.
//   - Corruption: a key file does not decode, its bytes do not match its name,
//     its limits are out of range, or its password check matches while its
//     sealed master key fails authentication (the password is right for it
//     but someone changed it). When no key opens and any file is damaged, the
//     result is Corruption naming it (the right key may be the damaged one).
//   - NotFound: the keys/ folder holds no key file.
//   Every other error is the Backend's, annotated with the key file.
//
// Crash safety: a key file is put whole (Backend::Put) before anything refers
// to it; ChangePassword adds the new key file (durable) before it removes the
// old one, so a crash in between leaves both, and both passwords open the
// repository (crash point "key.passwd_after_add").
//
// Concurrency: readers need nothing. Writers (Add/Remove/ChangePassword) must
// be serialised by the caller (the repository lock): "never remove the last
// key" is checked and then acted on.
//
// Cost: each key file tried costs one Argon2id run with that file's limits
// (the default: 3 passes over 64 MiB, under a second on one core).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/backend.h"
#include "snapshot/crypto.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

// Argon2id limits (crypto_pwhash ALG_ARGON2ID13), stored in each key file.
struct KdfParams {
  uint64_t opslimit = 3;                 // passes
  uint64_t memlimit = 64ull << 20;       // bytes: 64 MiB keeps a run under the 128 MiB budget
  // Bounds a key file may claim (a forged file must not make open run for
  // hours or allocate the machine): opslimit 1..32, memlimit 8 KiB..4 GiB.
  static constexpr uint64_t kMinOps = 1, kMaxOps = 32;
  static constexpr uint64_t kMinMem = 8ull << 10, kMaxMem = 4ull << 30;
  // InvalidArgument naming the bound (for values the user asked for).
  Status Validate() const;
  // True when weaker than the defaults (the CLI warns).
  bool WeakerThanDefault() const;
};

// Who made a key file and when (stored in clear; host and user are at most 255 bytes each).
struct KeyMeta {
  int64_t created_micros = 0;
  std::string host;
  std::string user;
};
// Now (env's clock), this machine's host name, this process's user name.
KeyMeta CurrentKeyMeta(Env* env);

struct KeyInfo {
  std::string id;      // the key file's name
  KeyMeta meta;        // empty when damaged
  KdfParams kdf;
  bool current = false;
  std::string damaged; // "" when the file decodes; else why it does not
};

// A repository whose master key is open.
struct OpenedKeys {
  MasterKey master;
  std::string key_id;                 // the current key file
  std::vector<std::string> warnings;  // damaged or foreign files seen on the way
};

// ---- one key file (pure; docs/encryption.md has the byte layout)
// Runs Argon2id. InvalidArgument for an empty password or out-of-range params.
Result<std::string> EncodeKeyFile(const MasterKey& master, std::string_view password, const KdfParams& kdf,
                                  const KeyMeta& meta);
// Decodes `bytes` named `name` (checks the name, the layout and the bounds)
// into info; Corruption on any mismatch. No password needed.
Status DecodeKeyFile(std::string_view name, std::string_view bytes, KeyInfo* info);
// Opens it with the password: WrongPassword when the password check does not
// match, Corruption when it matches but the sealed master key fails (or the
// file does not decode).
Result<MasterKey> UnwrapKeyFile(std::string_view name, std::string_view bytes, std::string_view password);

// ---- the keys/ folder of a repository, through a Backend
// Makes a new master key and its first key file. InvalidArgument if key files
// exist already (the repository has a master key: use AddKey).
Result<OpenedKeys> CreateFirstKey(Backend* backend, std::string_view password, const KdfParams& kdf,
                                  const KeyMeta& meta);
// Tries every key file (sorted by name) until one opens with the password.
Result<OpenedKeys> OpenKeys(Backend* backend, std::string_view password);
// Every key file, sorted by creation time (damaged ones last); current_id marks
// one. Foreign names (not 32 hex) are skipped with a line in *warnings.
Result<std::vector<KeyInfo>> ListKeys(Backend* backend, const std::string& current_id,
                                      std::vector<std::string>* warnings);
// Adds a key file for another password of the same master key; returns its id.
Result<std::string> AddKey(Backend* backend, const MasterKey& master, std::string_view password,
                           const KdfParams& kdf, const KeyMeta& meta);
// Removes the key file `id_or_prefix` names (a unique prefix of >= 4 hex).
// Refused (InvalidArgument, nothing removed) when it would leave no key file
// that decodes: the last key, or the current one with no other. NotFound if
// nothing matches. *removed_id gets the full id.
Status RemoveKey(Backend* backend, const OpenedKeys& current, const std::string& id_or_prefix,
                 std::string* removed_id);
// Adds a key file for new_password, then removes the current one; on success
// current->key_id is the new file's id. A crash in between leaves both.
Status ChangePassword(Backend* backend, OpenedKeys* current, std::string_view new_password, const KdfParams& kdf,
                      const KeyMeta& meta);

// The full id a unique prefix (>= 4 chars) names among keys; InvalidArgument
// when ambiguous or too short, NotFound when none.
Result<std::string> ResolveKeyId(const std::vector<KeyInfo>& keys, const std::string& id_or_prefix);

}  // namespace maestro
