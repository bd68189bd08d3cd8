// cli/init_cmd.cc — `snap init [--encrypt [--cipher C] [--blob-ids I]]`: make a new, empty repository
// (snapshot/open_repository.h InitRepository). Parsing and printing only.
//
// A repository that exists is refused (exit 2) and left untouched. Encrypted:
// the password comes as for every command (cli/password.h: --password-file,
// MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_PASSWORD), else it is asked twice on
// the terminal; the first key file is written, then the config last, so a
// crash leaves no half-made repository (a second `snap init --encrypt` with
// the same password finishes it). A local folder is locked while it is made;
// a remote one (rclone:REMOTE:PATH) holds its lease lock (snapshot/remote_lock.h)
// in locks/ meanwhile, so two inits racing never leave two master keys.
#include <memory>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "snapshot/open_backend.h"
#include "snapshot/open_repository.h"
#include "snapshot/open_writer.h"
#include "snapshot/rclone_backend.h"
#include "snapshot/remote_lock.h"
#include "snapshot/repo_lock.h"

namespace maestro {

namespace {

struct InitArgs {
  bool encrypt = false;
  std::string cipher;    // "" = xchacha20poly1305
  std::string blob_ids;  // "" = keyed-xxh3
  uint64_t kdf_ops = KdfParams().opslimit;
  uint64_t kdf_mem_kib = KdfParams().memlimit >> 10;
  double lock_wait = 0;
};

Result<KdfParams> InitKdf(const CliContext& ctx, const InitArgs& a) {
  KdfParams p;
  if (a.kdf_mem_kib > (KdfParams::kMaxMem >> 10))
    return Status::InvalidArgument("--kdf-mem-kib " + std::to_string(a.kdf_mem_kib) + " is over 4 GiB");
  p.opslimit = a.kdf_ops;
  p.memlimit = a.kdf_mem_kib << 10;
  MAESTRO_RETURN_IF_ERROR(p.Validate());
  if (a.encrypt && p.WeakerThanDefault())
    ctx.Warn("Argon2id limits below the defaults (3 passes, 65536 KiB) make this password faster to guess");
  return p;
}

// The lock a new repository is made under: a local folder's flock, or the
// remote's lease lock (declared after its backend, so released before it).
struct InitLock {
  std::unique_ptr<RepoLock> local;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<RemoteLock> remote;
};

Result<InitLock> LockForInit(CliContext& ctx, const std::string& spec, double lock_wait) {
  Env* env = Env::Default();
  InitLock l;
  if (IsRcloneSpec(spec)) {
    MAESTRO_ASSIGN_OR_RETURN(l.backend, OpenBackend(env, spec));
    // A repository there already is refused by InitRepository, with no lock written into it.
    if (ReadRepositoryConfig(l.backend.get()).ok()) return l;
    WriterOptions wo = CliWriterOptions(ctx, lock_wait, true);  // "waiting for ..." on stderr, as snap's writers
    wo.lock.command = "maestro-db snap init";
    MAESTRO_ASSIGN_OR_RETURN(l.remote, AcquireLeaseLock(l.backend.get(), env, wo));
    return l;
  }
  // The folder is checked before the lock file is made in it (as OpenWriter does).
  if (!env->FileExists(JoinPath(spec, "config"))) MAESTRO_RETURN_IF_ERROR(CheckFolderForNewRepository(env, spec));
  MAESTRO_RETURN_IF_ERROR(env->CreateDirs(spec, 0700));
  RepoLockOptions lo;
  lo.wait_seconds = lock_wait;
  lo.command = "maestro-db snap init";
  MAESTRO_ASSIGN_OR_RETURN(l.local, RepoLock::Acquire(env, spec, lo));
  return l;
}

Status RunInit(CliContext& ctx, const InitArgs& a, bool kdf_given) {
  if (kdf_given && !a.encrypt)
    return Status::InvalidArgument("--kdf-ops and --kdf-mem-kib only apply with --encrypt");
  if ((!a.cipher.empty() || !a.blob_ids.empty()) && !a.encrypt)
    return Status::InvalidArgument("--cipher and --blob-ids only apply with --encrypt");
  MAESTRO_ASSIGN_OR_RETURN(std::string encryption, EncryptionFor(a.cipher, a.blob_ids));
  MAESTRO_ASSIGN_OR_RETURN(KdfParams kdf, InitKdf(ctx, a));
  MAESTRO_ASSIGN_OR_RETURN(std::string spec, ctx.RepositorySpec());
  MAESTRO_RETURN_IF_ERROR(ctx.CheckRepositoryOutsideStores(spec));
  // Before the folder or its lock is made (AES-256-GCM needs AES-NI here).
  if (a.encrypt) MAESTRO_RETURN_IF_ERROR(CheckEncryptionUsable(encryption, "a new repository at " + spec));
  Env* env = Env::Default();
  MAESTRO_ASSIGN_OR_RETURN(InitLock lock, LockForInit(ctx, spec, a.lock_wait));
  InitOptions io;
  io.encrypt = a.encrypt;
  io.encryption = encryption;
  io.kdf = kdf;
  io.password = ctx.passwords();
  MAESTRO_ASSIGN_OR_RETURN(OpenedRepository made, InitRepository(env, spec, io));
  for (const auto& w : made.keys.warnings) ctx.Warn(w);
  std::string key_id = made.keys.keys ? made.keys.keys->key_id : "";
  if (ctx.json()) {
    nlohmann::json j = {{"repository", spec}, {"encrypted", a.encrypt}, {"encryption", made.keys.scheme}};
    if (a.encrypt) {
      j["key_id"] = key_id;
      j["kdf"] = {{"algorithm", "argon2id"}, {"opslimit", kdf.opslimit}, {"memlimit_kib", kdf.memlimit >> 10}};
    }
    ctx.PrintJson(j);
    return Status::OK();
  }
  if (!a.encrypt) {
    ctx.Info("made an empty unencrypted repository at " + spec);
    return Status::OK();
  }
  ctx.Info("made an empty encrypted repository at " + spec + " (encryption=" + made.keys.scheme + "; key " +
           key_id.substr(0, 8) +
           ", Argon2id " + std::to_string(kdf.opslimit) + " x " + std::to_string(kdf.memlimit >> 10) + " KiB)");
  ctx.Info("keep the password safe: without it nothing in this repository can be read back "
           "(add a second one with `maestro-db snap key add`)");
  return Status::OK();
}

}  // namespace

void RegisterInitCommand(CLI::App& snap, CliContext& ctx, int* exit_code) {
  auto a = std::make_shared<InitArgs>();
  auto* init = snap.add_subcommand("init", "Make a new, empty repository (--encrypt: encrypted with a password)");
  init->add_flag("--encrypt", a->encrypt,
                 "encrypt every blob, index and manifest (XChaCha20-Poly1305, or --cipher) under a random master key that the "
                 "password wraps (Argon2id)");
  init->add_option("--cipher", a->cipher,
                   "with --encrypt: xchacha20poly1305 (the default; runs on any CPU) or aes256gcm (faster, needs "
                   "AES-NI on every machine that will open the repository)")
      ->type_name("CIPHER");
  init->add_option("--blob-ids", a->blob_ids,
                   "with --encrypt: keyed-xxh3 (the default: keyed BLAKE2b of each chunk's XXH3-128) or "
                   "keyed-blake2b (BLAKE2b of each chunk: slower; the only scheme older builds read)")
      ->type_name("IDS");
  auto* ops = init->add_option("--kdf-ops", a->kdf_ops, "Argon2id passes for the first key file (default 3; 1..32)")
                  ->type_name("N");
  auto* mem = init->add_option("--kdf-mem-kib", a->kdf_mem_kib,
                               "Argon2id memory for the first key file in KiB (default 65536 = 64 MiB)")
                  ->type_name("KIB");
  AddLockWaitOption(init, &a->lock_wait, "seconds to wait for another writer's repository lock (default 0)");
  init->footer(
      "The password: --password-file FILE, MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_PASSWORD, else asked twice on\n"
      "the terminal. A repository that exists already is refused (exit 2) and left as it is.\n"
      "`snap create` with a password set and no repository makes an encrypted one too (docs/encryption.md).\n"
      "Examples:\n  maestro-db --repo /srv/backup snap init --encrypt --password-file ~/.maestro-pw\n"
      "  maestro-db --repo rclone:b2:bucket/maestro snap init --encrypt\n"
      "  maestro-db --repo /srv/backup snap init --encrypt --cipher aes256gcm");
  init->callback([&ctx, exit_code, a, ops, mem]() {
    Status s = RunInit(ctx, *a, ops->count() > 0 || mem->count() > 0);
    *exit_code = s.ok() ? kExitOk : ctx.Fail(s);
  });
}

}  // namespace maestro
