// cli/key_cmd.cc — `snap key list/add/remove/passwd`: the passwords of an
// encrypted repository (several key files, one master key: snapshot/keys.h).
// Parsing and printing only.
//
// Every subcommand opens the repository's keys with the password
// (cli/password.h: --password-file, MAESTRO_DB_PASSWORD_FILE,
// MAESTRO_DB_PASSWORD, or a prompt) through UnlockRepository
// (snapshot/open_repository.h), on a local folder or an rclone: remote whose
// config says encrypted; no key opening is exit 10. Writers (add, remove,
// passwd) take the repository lock first (snapshot/repo_lock.h; a remote's
// lease lock, snapshot/remote_lock.h), so "never remove the last key" cannot
// race another remove.
#include <iostream>
#include <memory>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/password.h"
#include "snapshot/backend.h"
#include "snapshot/format.h"
#include "snapshot/keys.h"
#include "snapshot/open_backend.h"
#include "snapshot/open_repository.h"
#include "snapshot/open_writer.h"
#include "snapshot/remote_lock.h"
#include "snapshot/repo_lock.h"
#include "util/time_util.h"

namespace maestro {

namespace {

struct KeyArgs {
  std::string new_password_file;
  uint64_t kdf_ops = KdfParams().opslimit;
  uint64_t kdf_mem_kib = KdfParams().memlimit >> 10;
  std::string id;
  double lock_wait = 0;
};

void WarnAll(const CliContext& ctx, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) ctx.Warn(w);
}

Result<KdfParams> ChosenKdf(const CliContext& ctx, const KeyArgs& a) {
  KdfParams p;
  p.opslimit = a.kdf_ops;
  if (a.kdf_mem_kib > (KdfParams::kMaxMem >> 10))
    return Status::InvalidArgument("--kdf-mem-kib " + std::to_string(a.kdf_mem_kib) + " is over 4 GiB");
  p.memlimit = a.kdf_mem_kib << 10;
  MAESTRO_RETURN_IF_ERROR(p.Validate());
  if (p.WeakerThanDefault())
    ctx.Warn("Argon2id limits below the defaults (3 passes, 65536 KiB) make this password faster to guess");
  return p;
}

Result<SecretString> NewPassword(const CliContext& ctx, const KeyArgs& a) {
  std::vector<std::string> warnings;
  auto pw = ReadNewPassword(a.new_password_file, "new password: ", &warnings);
  WarnAll(ctx, warnings);
  return pw;
}

struct Session {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<RepoLock> lock;           // writers of a local repository
  std::unique_ptr<RemoteLock> remote_lock;  // writers of a remote one (declared after backend: released first)
  OpenedKeys keys;
};

// The repository (local or rclone:, cli/context.h RepositorySpec), its lock
// for writers, its config (which must say encrypted) and the keys the
// password opens (snapshot/open_repository.h UnlockRepository).
Result<Session> OpenSession(CliContext& ctx, bool writer, double lock_wait) {
  Session s;
  MAESTRO_ASSIGN_OR_RETURN(std::string spec, ctx.RepositorySpec());
  const bool remote = IsRcloneSpec(spec);
  if (!remote && !Env::Default()->DirExists(spec))
    return Status::NotFound("no snapshot repository at " + spec, "pass --repo DIR");
  MAESTRO_ASSIGN_OR_RETURN(s.backend, OpenBackend(Env::Default(), spec));
  MAESTRO_ASSIGN_OR_RETURN(RepoConfig cfg, ReadRepositoryConfig(s.backend.get()));
  if (cfg.encryption == "none")
    return Status::NotFound("the repository at " + s.backend->Location() + " is not encrypted: it has no passwords",
                            "an encrypted one is made with `maestro-db snap init --encrypt` (docs/encryption.md)");
  if (writer && remote) {
    // "waiting for ..." on stderr, as snap's writers
    MAESTRO_ASSIGN_OR_RETURN(s.remote_lock,
                             AcquireLeaseLock(s.backend.get(), Env::Default(), CliWriterOptions(ctx, lock_wait, false)));
  } else if (writer) {
    RepoLockOptions lo;
    lo.wait_seconds = lock_wait;
    MAESTRO_ASSIGN_OR_RETURN(s.lock, RepoLock::Acquire(ctx.env(), spec, lo));
  }
  MAESTRO_ASSIGN_OR_RETURN(RepositoryKeys unlocked, UnlockRepository(s.backend.get(), cfg, ctx.passwords()));
  WarnAll(ctx, unlocked.warnings);
  s.keys = std::move(*unlocked.keys);
  return s;
}

nlohmann::json KeyJson(const KeyInfo& k) {
  nlohmann::json j = {{"id", k.id}, {"current", k.current}};
  if (!k.damaged.empty()) {
    j["status"] = "damaged";
    j["reason"] = k.damaged;
    return j;
  }
  j["status"] = "ok";
  j["created"] = FormatIso8601(k.meta.created_micros);
  j["host"] = k.meta.host;
  j["user"] = k.meta.user;
  j["kdf"] = {{"algorithm", "argon2id"}, {"opslimit", k.kdf.opslimit}, {"memlimit_kib", k.kdf.memlimit >> 10}};
  return j;
}

Status RunList(CliContext& ctx) {
  MAESTRO_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, false, 0));
  std::vector<std::string> warnings;
  MAESTRO_ASSIGN_OR_RETURN(std::vector<KeyInfo> keys, ListKeys(s.backend.get(), s.keys.key_id, &warnings));
  if (ctx.json()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : keys) arr.push_back(KeyJson(k));
    ctx.PrintJson({{"repository", s.backend->Location()}, {"keys", arr}, {"warnings", warnings}});
    return Status::OK();
  }
  WarnAll(ctx, warnings);
  ctx.Info("  ID        USER            HOST            CREATED               ARGON2ID");
  for (const auto& k : keys) {
    std::string mark = k.current ? "* " : "  ";
    if (!k.damaged.empty()) {
      ctx.Info(mark + k.id.substr(0, 8) + "  DAMAGED: " + k.damaged);
      continue;
    }
    auto pad = [](std::string v, size_t w) { return v.size() >= w ? v + " " : v + std::string(w - v.size(), ' '); };
    ctx.Info(mark + k.id.substr(0, 8) + "  " + pad(k.meta.user, 15) + " " + pad(k.meta.host, 15) + " " +
             pad(FormatIso8601(k.meta.created_micros), 21) + " " + std::to_string(k.kdf.opslimit) + " x " +
             std::to_string(k.kdf.memlimit >> 10) + " KiB");
  }
  ctx.Info("* = the key that opened with this password");
  return Status::OK();
}

Status RunAdd(CliContext& ctx, const KeyArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(KdfParams kdf, ChosenKdf(ctx, a));
  MAESTRO_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, true, a.lock_wait));
  MAESTRO_ASSIGN_OR_RETURN(SecretString pw, NewPassword(ctx, a));
  MAESTRO_ASSIGN_OR_RETURN(std::string id,
                           AddKey(s.backend.get(), s.keys.master, pw.view(), kdf, CurrentKeyMeta(ctx.env())));
  if (ctx.json())
    ctx.PrintJson({{"added", id}});
  else
    ctx.Info("added key " + id + " (" + id.substr(0, 8) + "): the new password opens this repository too");
  return Status::OK();
}

Status RunRemove(CliContext& ctx, const KeyArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, true, a.lock_wait));
  std::string removed;
  MAESTRO_RETURN_IF_ERROR(RemoveKey(s.backend.get(), s.keys, a.id, &removed));
  bool was_current = removed == s.keys.key_id;
  if (ctx.json()) {
    ctx.PrintJson({{"removed", removed}, {"was_current", was_current}});
    return Status::OK();
  }
  ctx.Info("removed key " + removed);
  if (was_current) ctx.Warn("that was the key of the password you gave: it no longer opens this repository");
  return Status::OK();
}

Status RunPasswd(CliContext& ctx, const KeyArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(KdfParams kdf, ChosenKdf(ctx, a));
  MAESTRO_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, true, a.lock_wait));
  MAESTRO_ASSIGN_OR_RETURN(SecretString pw, NewPassword(ctx, a));
  std::string old_id = s.keys.key_id;
  MAESTRO_RETURN_IF_ERROR(ChangePassword(s.backend.get(), &s.keys, pw.view(), kdf, CurrentKeyMeta(ctx.env())));
  if (ctx.json())
    ctx.PrintJson({{"added", s.keys.key_id}, {"removed", old_id}});
  else
    ctx.Info("password changed: key " + s.keys.key_id + " replaces " + old_id);
  return Status::OK();
}

template <typename Fn>
std::function<void()> Command(CliContext& ctx, int* exit_code, Fn fn) {
  return [&ctx, exit_code, fn]() {
    Status s = fn();
    *exit_code = s.ok() ? kExitOk : ctx.Fail(s);
  };
}

void AddWriterOptions(CLI::App* cmd, KeyArgs* a, bool new_password) {
  AddLockWaitOption(cmd, &a->lock_wait,
                    "seconds to wait for another writer to release the repository lock (default 0: fail at once)");
  if (!new_password) return;
  cmd->add_option("--new-password-file", a->new_password_file,
                  "read the new password from FILE (default: ask twice on the terminal)")
      ->type_name("FILE");
  cmd->add_option("--kdf-ops", a->kdf_ops, "Argon2id passes for the new key file (default 3; 1..32)")->type_name("N");
  cmd->add_option("--kdf-mem-kib", a->kdf_mem_kib,
                  "Argon2id memory for the new key file in KiB (default 65536 = 64 MiB; 8..4194304)")
      ->type_name("KIB");
}

}  // namespace

void RegisterKeyCommands(CLI::App& snap, CliContext& ctx, int* exit_code) {
  auto* key = snap.add_subcommand(
      "key",
      "The passwords of an encrypted repository: each key file in <repo>/keys wraps the one master key\n"
      "under one password (Argon2id). Every subcommand needs a current password (--password-file FILE,\n"
      "MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_PASSWORD, or a prompt on the terminal).");
  key->require_subcommand(1);
  key->footer("A wrong password is exit code 10; a damaged or forged key file is exit code 4. See docs/encryption.md.");
  auto a = std::make_shared<KeyArgs>();

  auto* list = key->add_subcommand("list", "List the key files: id, user, host, creation time, Argon2id limits");
  list->callback(Command(ctx, exit_code, [&ctx]() { return RunList(ctx); }));

  auto* add = key->add_subcommand("add", "Add a password: a new key file for the same master key");
  AddWriterOptions(add, a.get(), true);
  add->footer("Example:\n  maestro-db snap key add --password-file old.txt --new-password-file new.txt");
  add->callback(Command(ctx, exit_code, [&ctx, a]() { return RunAdd(ctx, *a); }));

  auto* remove = key->add_subcommand(
      "remove", "Remove a key file (its password no longer opens the repository); never the last one");
  remove->add_option("ID", a->id, "key id or a unique prefix of at least 4 hex characters (`snap key list`)")
      ->required();
  AddWriterOptions(remove, a.get(), false);
  remove->callback(Command(ctx, exit_code, [&ctx, a]() { return RunRemove(ctx, *a); }));

  auto* passwd = key->add_subcommand(
      "passwd", "Change the password: add a key file for the new one, then remove the one that opened");
  AddWriterOptions(passwd, a.get(), true);
  passwd->footer(
      "Crash-safe: the new key file is durable before the old one is removed; interrupted in between,\n"
      "both passwords open the repository (remove the old key with `snap key remove`).");
  passwd->callback(Command(ctx, exit_code, [&ctx, a]() { return RunPasswd(ctx, *a); }));
}

}  // namespace maestro
