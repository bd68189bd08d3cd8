// snapshot/open_repository.cc — config first, then the password and the keys,
// then the Repository with its Sealer (see the header).
#include "snapshot/open_repository.h"

#include <atomic>

#include "snapshot/format.h"
#include "snapshot/open_backend.h"

namespace maestro {

namespace {

std::atomic<PasswordSource*> g_process_source{nullptr};

const char* kHowToGivePassword =
    "give the password with --password-file FILE, MAESTRO_DB_PASSWORD_FILE=FILE or MAESTRO_DB_PASSWORD, or run "
    "on a terminal";

PasswordSource* SourceOr(PasswordSource* given) { return given ? given : ProcessPasswordSource(); }

// The backend and the local folder (the repository folder, or a remote's scratch).
struct Place {
  std::unique_ptr<Backend> backend;
  std::string local_dir;
  bool remote = false;
};

Result<Place> PlaceOf(Env* env, const std::string& spec) {
  Place p;
  p.remote = IsRcloneSpec(spec);
  MAESTRO_ASSIGN_OR_RETURN(p.backend, OpenBackend(env, spec));
  if (p.remote) {
    MAESTRO_ASSIGN_OR_RETURN(p.local_dir, RemoteScratchDir(env, spec));
  } else {
    p.local_dir = spec;
  }
  return p;
}

// The first key file, or the one a killed init left (if this password opens it).
Result<OpenedKeys> FirstKeys(Env* env, Backend* backend, std::string_view password, const KdfParams& kdf) {
  std::vector<ObjectInfo> existing;
  MAESTRO_RETURN_IF_ERROR(backend->List(ObjectKind::kKey, &existing));
  if (existing.empty()) return CreateFirstKey(backend, password, kdf, CurrentKeyMeta(env));
  Result<OpenedKeys> keys = OpenKeys(backend, password);
  if (keys.ok() || keys.status().code() != Status::Code::kWrongPassword) return keys;
  return Status::InvalidArgument(
      backend->Location() + "/keys holds key files of a repository creation that did not finish, and none opens "
                            "with this password",
      "give the password it was started with, or remove that keys/ folder to start again; nothing was changed");
}

// Makes the repository: folders and keys first, the config last.
Result<OpenedRepository> MakeRepository(Env* env, const std::string& spec, bool encrypt, const std::string& scheme,
                                        const KdfParams& kdf, PasswordSource* source) {
  if (encrypt) MAESTRO_RETURN_IF_ERROR(kdf.Validate());
  if (encrypt) MAESTRO_RETURN_IF_ERROR(CheckEncryptionUsable(scheme, "a new repository at " + spec));
  const bool remote = IsRcloneSpec(spec);
  if (!remote) MAESTRO_RETURN_IF_ERROR(CheckFolderForNewRepository(env, spec));
  MAESTRO_ASSIGN_OR_RETURN(Place place, PlaceOf(env, spec));
  OpenedRepository out;
  out.created = true;
  out.keys.sealer = PlainSealer();
  if (encrypt) {
    if (source == nullptr)
      return Status::InvalidArgument("an encrypted repository needs a password and none was given",
                                     kHowToGivePassword);
    MAESTRO_ASSIGN_OR_RETURN(SecretString pw, source->ForNewRepository(place.backend->Location()));
    if (!remote) MAESTRO_RETURN_IF_ERROR(env->CreateDirsDurably(spec, 0700));
    MAESTRO_ASSIGN_OR_RETURN(OpenedKeys keys, FirstKeys(env, place.backend.get(), pw.view(), kdf));
    MAESTRO_ASSIGN_OR_RETURN(out.keys.sealer, EncryptingSealer(keys.master, scheme, place.backend->Location()));
    out.keys.scheme = std::string(out.keys.sealer->Scheme());
    out.keys.warnings = keys.warnings;
    out.keys.keys = std::move(keys);
  }
  if (remote) {
    MAESTRO_ASSIGN_OR_RETURN(out.repo, Repository::Open(env, std::move(place.backend), place.local_dir,
                                                        /*create_if_missing=*/true, out.keys.sealer));
  } else {
    // The local folder's layout, then its config (keys/ is already there).
    MAESTRO_ASSIGN_OR_RETURN(out.repo, Repository::Open(env, spec, /*create_if_missing=*/true, out.keys.sealer));
  }
  return out;
}

}  // namespace

void SetProcessPasswordSource(PasswordSource* source) { g_process_source.store(source); }
PasswordSource* ProcessPasswordSource() { return g_process_source.load(); }

Result<RepoConfig> ReadRepositoryConfig(Backend* backend) {
  std::string text;
  Status s = backend->Get(ObjectKind::kConfig, "config", &text);
  if (s.IsNotFound())
    return Status::NotFound("no snapshot repository at " + backend->Location() + " (no config file)",
                            "pass --repo DIR, or make one with `maestro-db snap init` (or `snap create`)");
  MAESTRO_RETURN_IF_ERROR(s);
  return DecodeConfig(text, "repository config " + JoinPath(backend->Location(), "config"));
}

Result<RepositoryKeys> UnlockRepository(Backend* backend, const RepoConfig& cfg, PasswordSource* password) {
  RepositoryKeys out;
  out.scheme = cfg.encryption;
  if (cfg.encryption == "none") {
    out.sealer = PlainSealer();
    return out;
  }
  PasswordSource* source = SourceOr(password);
  const std::string where = backend->Location();
  // A cipher this CPU cannot run is said before a password is asked for.
  MAESTRO_RETURN_IF_ERROR(CheckEncryptionUsable(cfg.encryption, "the repository at " + where));
  if (source == nullptr)
    return Status::InvalidArgument("the repository at " + where + " is encrypted and no password was given",
                                   kHowToGivePassword);
  MAESTRO_ASSIGN_OR_RETURN(SecretString pw, source->Current(where));
  Result<OpenedKeys> keys = OpenKeys(backend, pw.view());
  if (!keys.ok()) {
    if (keys.status().IsNotFound())
      return Status::NotFound("the repository at " + where + " is encrypted but its keys/ folder holds no key file",
                              "restore keys/ from a copy of the repository: without a key file nothing in it opens");
    return keys.status();
  }
  MAESTRO_ASSIGN_OR_RETURN(out.sealer, EncryptingSealer(keys->master, cfg.encryption, "the repository at " + where));
  out.warnings = keys->warnings;
  out.keys = std::move(keys).value();
  return out;
}

Result<OpenedRepository> OpenRepository(Env* env, const std::string& spec, const OpenRepositoryOptions& opts) {
  if (spec.empty()) return Status::InvalidArgument("no repository given", "pass --repo DIR or rclone:REMOTE:PATH");
  PasswordSource* source = SourceOr(opts.password);
  MAESTRO_ASSIGN_OR_RETURN(Place place, PlaceOf(env, spec));
  Result<RepoConfig> cfg = ReadRepositoryConfig(place.backend.get());
  if (cfg.status().IsNotFound() && opts.create_if_missing) {
    // A user who set a password gets an encrypted repository, never one in clear.
    bool encrypt = source != nullptr && source->Given();
    return MakeRepository(env, spec, encrypt, std::string(kDefaultEncryption), opts.kdf, source);
  }
  MAESTRO_RETURN_IF_ERROR(cfg.status());
  OpenedRepository out;
  if (opts.unlocked != nullptr && opts.unlocked->scheme == cfg->encryption) {
    out.keys = *opts.unlocked;
  } else {
    MAESTRO_ASSIGN_OR_RETURN(out.keys, UnlockRepository(place.backend.get(), *cfg, source));
  }
  MAESTRO_ASSIGN_OR_RETURN(out.repo, Repository::Open(env, std::move(place.backend), place.local_dir,
                                                      /*create_if_missing=*/false, out.keys.sealer));
  return out;
}

Result<OpenedRepository> InitRepository(Env* env, const std::string& spec, const InitOptions& opts) {
  if (spec.empty()) return Status::InvalidArgument("no repository given", "pass --repo DIR or rclone:REMOTE:PATH");
  {
    MAESTRO_ASSIGN_OR_RETURN(Place place, PlaceOf(env, spec));
    Result<RepoConfig> cfg = ReadRepositoryConfig(place.backend.get());
    if (cfg.ok())
      return Status::InvalidArgument(
          "a repository exists already at " + place.backend->Location() +
              (cfg->encryption == "none" ? " (unencrypted)" : " (encrypted: " + cfg->encryption + ")"),
          "nothing was changed; pass --repo with a new or empty folder to make another");
    if (!cfg.status().IsNotFound())
      return cfg.status().Annotate("a repository config exists at " + place.backend->Location() +
                                   " and does not read; nothing was changed");
  }
  return MakeRepository(env, spec, opts.encrypt, opts.encryption, opts.kdf, SourceOr(opts.password));
}

}  // namespace maestro
