// snapshot/keys.cc — the keys/ folder of a repository (snapshot/keys.h): make
// the first key, open by trying every key file, add, remove, change password.
#include "snapshot/keys.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>

#include "util/crash_point.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(key_passwd_after_add, "key.passwd_after_add");

namespace {

bool IsKeyName(const std::string& name) {
  Hash128 h;
  return Hash128::FromHex(name, &h);
}

std::string Where(Backend* b, const std::string& name) {
  return b->Location() + "/" + ObjectKindFolder(ObjectKind::kKey) + "/" + name;
}

// The names in keys/ that look like key files, sorted; foreign names go to *warnings.
Status KeyNames(Backend* backend, std::vector<std::string>* names, std::vector<std::string>* warnings) {
  std::vector<ObjectInfo> objects;
  MAESTRO_RETURN_IF_ERROR(backend->List(ObjectKind::kKey, &objects));
  for (const auto& o : objects) {
    if (IsKeyName(o.name))
      names->push_back(o.name);
    else if (warnings)
      warnings->push_back(Where(backend, o.name) + " is not a key file name (32 hex); it is ignored");
  }
  std::sort(names->begin(), names->end());
  return Status::OK();
}

Result<std::string> PutKeyFile(Backend* backend, const MasterKey& master, std::string_view password,
                               const KdfParams& kdf, const KeyMeta& meta) {
  MAESTRO_ASSIGN_OR_RETURN(std::string bytes, EncodeKeyFile(master, password, kdf, meta));
  std::string id = Xxh128(bytes).Hex();
  Status st = backend->Put(ObjectKind::kKey, id, bytes);
  if (!st.ok()) return st.Annotate("writing key file " + Where(backend, id));
  return id;
}

// The user's name from /etc/passwd, read by hand: getpwuid would need glibc's
// NSS libraries at run time, which the static binary for the app's container
// (scripts/build-static.sh) must not. "" when the uid has no line there.
std::string UserNameFromPasswd(Env* env, uid_t uid) {
  std::string passwd;
  if (!env->ReadFileToString("/etc/passwd", &passwd).ok()) return "";
  size_t pos = 0;
  while (pos < passwd.size()) {
    size_t end = passwd.find('\n', pos);
    if (end == std::string::npos) end = passwd.size();
    std::string line = passwd.substr(pos, end - pos);
    pos = end + 1;
    size_t c1 = line.find(':'), c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    size_t c3 = c2 == std::string::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string::npos) continue;
    if (line.substr(c2 + 1, c3 - c2 - 1) == std::to_string(uid)) return line.substr(0, c1);
  }
  return "";
}

}  // namespace

KeyMeta CurrentKeyMeta(Env* env) {
  KeyMeta m;
  m.created_micros = env->NowMicros();
  char host[HOST_NAME_MAX + 1] = {0};
  if (::gethostname(host, sizeof host - 1) == 0) m.host = host;
  m.user = UserNameFromPasswd(env, ::geteuid());
  if (m.user.empty()) {
    const char* u = std::getenv("USER");
    m.user = u ? u : std::to_string(::geteuid());
  }
  return m;
}

Result<OpenedKeys> CreateFirstKey(Backend* backend, std::string_view password, const KdfParams& kdf,
                                  const KeyMeta& meta) {
  std::vector<std::string> names;
  MAESTRO_RETURN_IF_ERROR(KeyNames(backend, &names, nullptr));
  if (!names.empty())
    return Status::InvalidArgument(backend->Location() + " has key files already (" + std::to_string(names.size()) +
                                       "): its master key exists",
                                   "add a password to it with `maestro-db snap key add`");
  OpenedKeys out;
  MAESTRO_ASSIGN_OR_RETURN(out.master, MasterKey::Generate());
  MAESTRO_ASSIGN_OR_RETURN(out.key_id, PutKeyFile(backend, out.master, password, kdf, meta));
  return out;
}

Result<OpenedKeys> OpenKeys(Backend* backend, std::string_view password) {
  if (password.empty()) return Status::InvalidArgument("an empty password opens no repository key");
  OpenedKeys out;
  std::vector<std::string> names;
  MAESTRO_RETURN_IF_ERROR(KeyNames(backend, &names, &out.warnings));
  if (names.empty())
    return Status::NotFound("no key files in " + backend->Location() + "/keys",
                            "this is not an encrypted repository, or its keys/ folder was lost");
  std::vector<std::string> damaged;
  for (const auto& name : names) {
    std::string bytes;
    Status got = backend->Get(ObjectKind::kKey, name, &bytes);
    if (got.IsNotFound()) continue;  // removed since the listing
    if (!got.ok()) return got.Annotate("reading key file " + Where(backend, name));
    auto key = UnwrapKeyFile(name, bytes, password);
    if (key.ok()) {
      out.master = std::move(key).value();
      out.key_id = name;
      for (const auto& d : damaged) out.warnings.push_back(d);
      return out;
    }
    if (key.status().IsCorruption()) {
      damaged.push_back(key.status().message());
      continue;
    }
    if (key.status().code() != Status::Code::kWrongPassword) return key.status();
  }
  if (!damaged.empty()) {
    std::string all;
    for (const auto& d : damaged) all += (all.empty() ? "" : "; ") + d;
    return Status::Corruption("no key file of " + backend->Location() + " opens with this password, and " +
                                  std::to_string(damaged.size()) + " of " + std::to_string(names.size()) +
                                  " are damaged (the key of this password may be one of them)",
                              all);
  }
  return Status::WrongPassword("none of the " + std::to_string(names.size()) + " key files of " +
                                   backend->Location() + " opens with this password",
                               "check the password (--password-file, MAESTRO_DB_PASSWORD_FILE, MAESTRO_DB_PASSWORD)");
}

Result<std::vector<KeyInfo>> ListKeys(Backend* backend, const std::string& current_id,
                                      std::vector<std::string>* warnings) {
  std::vector<std::string> names;
  MAESTRO_RETURN_IF_ERROR(KeyNames(backend, &names, warnings));
  std::vector<KeyInfo> keys;
  for (const auto& name : names) {
    std::string bytes;
    Status got = backend->Get(ObjectKind::kKey, name, &bytes);
    if (got.IsNotFound()) continue;
    if (!got.ok()) return got.Annotate("reading key file " + Where(backend, name));
    KeyInfo info;
    Status st = DecodeKeyFile(name, bytes, &info);
    if (!st.ok()) {
      info = KeyInfo();
      info.id = name;
      info.damaged = st.message();
    }
    info.current = name == current_id;
    keys.push_back(std::move(info));
  }
  std::stable_sort(keys.begin(), keys.end(), [](const KeyInfo& a, const KeyInfo& b) {
    if (a.damaged.empty() != b.damaged.empty()) return a.damaged.empty();
    return a.meta.created_micros < b.meta.created_micros;
  });
  return keys;
}

Result<std::string> AddKey(Backend* backend, const MasterKey& master, std::string_view password,
                           const KdfParams& kdf, const KeyMeta& meta) {
  return PutKeyFile(backend, master, password, kdf, meta);
}

Result<std::string> ResolveKeyId(const std::vector<KeyInfo>& keys, const std::string& id_or_prefix) {
  std::string p = id_or_prefix;
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (p.size() < 4 || p.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Status::InvalidArgument("'" + id_or_prefix + "' is not a key id (at least 4 hex characters)",
                                   "`maestro-db snap key list` shows the ids");
  std::vector<std::string> hits;
  for (const auto& k : keys)
    if (k.id.compare(0, p.size(), p) == 0) hits.push_back(k.id);
  if (hits.empty()) return Status::NotFound("no key file has id " + id_or_prefix, "`maestro-db snap key list` shows them");
  if (hits.size() > 1)
    return Status::InvalidArgument("key id prefix " + id_or_prefix + " is ambiguous (" + std::to_string(hits.size()) +
                                   " keys)", "give more characters");
  return hits[0];
}

Status RemoveKey(Backend* backend, const OpenedKeys& current, const std::string& id_or_prefix,
                 std::string* removed_id) {
  MAESTRO_ASSIGN_OR_RETURN(std::vector<KeyInfo> keys, ListKeys(backend, current.key_id, nullptr));
  MAESTRO_ASSIGN_OR_RETURN(std::string id, ResolveKeyId(keys, id_or_prefix));
  size_t good_others = 0;
  for (const auto& k : keys)
    if (k.id != id && k.damaged.empty()) ++good_others;
  if (good_others == 0) {
    bool is_current = id == current.key_id;
    return Status::InvalidArgument(
        std::string("refusing to remove key ") + id + (is_current ? " (the one in use)" : "") +
            ": no other key file would be left to open the repository",
        "add another password first with `maestro-db snap key add` (or use `snap key passwd` to change it)");
  }
  Status st = backend->Remove(ObjectKind::kKey, id);
  if (!st.ok()) return st.Annotate("removing key file " + Where(backend, id));
  if (removed_id) *removed_id = id;
  return Status::OK();
}

Status ChangePassword(Backend* backend, OpenedKeys* current, std::string_view new_password, const KdfParams& kdf,
                      const KeyMeta& meta) {
  MAESTRO_ASSIGN_OR_RETURN(std::string new_id, PutKeyFile(backend, current->master, new_password, kdf, meta));
  // The new key file is durable: from here both passwords open the repository.
  MAESTRO_CRASH_POINT("key.passwd_after_add");
  const std::string old_id = current->key_id;
  current->key_id = new_id;
  if (new_id == old_id) return Status::OK();  // same bytes: cannot happen (random salt), but never remove it
  Status st = backend->Remove(ObjectKind::kKey, old_id);
  if (!st.ok())
    return st.Annotate("the new password works (key " + new_id + "), but removing the old key file " +
                       Where(backend, old_id) + " failed; remove it with `snap key remove`");
  return Status::OK();
}

}  // namespace maestro
