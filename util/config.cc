#include "util/config.h"

#include <cctype>
#include <cstdlib>

#include "util/env.h"

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

Result<Config> Config::Load(const std::string& path) {
  std::string text;
  Status s = Env::Default()->ReadFileToString(path, &text);
  if (!s.ok()) return s.Annotate("config file");
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
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0')
    return Status::InvalidArgument(origin_ + ": " + key + " = '" + it->second + "' is not a whole number");
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
