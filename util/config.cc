#include "util/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/env.h"
#include "util/text.h"

namespace maestro {

namespace {
std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}
}  // namespace

Result<Config> Config::Parse(const std::string& text, const std::string& origin) {
  Config c;
  c.origin_ = origin;
  std::string section;
  size_t pos = 0;
  int lineno = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    // Strip comments that start a line or follow whitespace.
    for (size_t i = 0; i < line.size(); ++i) {
      if ((line[i] == '#' || line[i] == ';') && (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1])))) {
        line.resize(i);
        break;
      }
    }
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3)
        return Status::InvalidArgument(origin + ":" + std::to_string(lineno) + ": bad section header '" + line + "'");
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos)
      return Status::InvalidArgument(origin + ":" + std::to_string(lineno) + ": expected 'key = value', got '" + line + "'");
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (key.empty()) return Status::InvalidArgument(origin + ":" + std::to_string(lineno) + ": empty key");
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    c.values_[section.empty() ? key : section + "." + key] = value;
  }
  return c;
}

namespace {

// What `path` is, for a refusal: "a directory", "a character device"...
const char* KindOfNonRegular(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

// Reads at most kMaxConfigBytes + 1 bytes: enough to tell "too large" without
// ever holding more (`--config /dev/zero` must not read 2 GiB first).
Status ReadBounded(const std::string& path, std::string* text) {
  std::unique_ptr<SequentialFile> f;
  MAESTRO_RETURN_IF_ERROR(Env::Default()->NewSequentialFile(path, &f));
  text->clear();
  char buf[64 * 1024];
  while (text->size() <= Config::kMaxBytes) {
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(f->Read(std::min(sizeof buf, Config::kMaxBytes + 1 - text->size()), buf, &got));
    if (got == 0) break;
    text->append(buf, got);
  }
  return Status::OK();
}

}  // namespace

Result<Config> Config::Load(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      return Status::NotFound("config file " + path + " does not exist", "check the --config path");
    return Status::IoError("config file " + path + ": " + std::strerror(e)).WithErrno(e);
  }
  // Regular files and pipes (`--config /dev/stdin` fed by a pipe) are read;
  // a directory or device is refused before a byte of it is read.
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    return Status::InvalidArgument("config file " + path + " is " + KindOfNonRegular(st.st_mode) + ", not a text file",
                                   "pass a config file (INI text, see docs/config.md)");
  std::string text;
  Status s = ReadBounded(path, &text);
  if (!s.ok()) return s.Annotate("config file");
  if (text.size() > kMaxBytes)
    return Status::InvalidArgument("config file " + path + " is larger than 1 MiB; it was not read",
                                   "a maestro-db config is a few lines of INI text (docs/config.md)");
  if (auto nul = text.find('\0'); nul != std::string::npos)
    return Status::InvalidArgument("config file " + path + " is not text: NUL byte at offset " + std::to_string(nul),
                                   "a maestro-db config is UTF-8 INI text (docs/config.md)");
  if (!IsValidUtf8(text))
    return Status::InvalidArgument("config file " + path + " is not text: it is not valid UTF-8",
                                   "a maestro-db config is UTF-8 INI text (docs/config.md)");
  return Parse(text, path);
}

std::string Config::Get(const std::string& key, const std::string& def) const {
  auto it = values_.find(key);
  return it == values_.end() ? def : it->second;
}

Result<int64_t> Config::GetInt(const std::string& key, int64_t def) const {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0')
    return Status::InvalidArgument(origin_ + ": " + key + " = '" + it->second + "' is not a whole number");
  if (errno == ERANGE)  // strtoll clamps to LLONG_MIN/MAX and says so only here
    return Status::InvalidArgument(origin_ + ": " + key + " = '" + it->second + "' is too large a number");
  return static_cast<int64_t>(v);
}

Result<bool> Config::GetBool(const std::string& key, bool def) const {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  const std::string& v = it->second;
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return Status::InvalidArgument(origin_ + ": " + key + " = '" + v + "' is not true/false");
}

}  // namespace maestro
