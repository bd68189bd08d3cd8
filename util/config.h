// util/config.h — the config file format (`--config FILE`).
//
// An INI-style text file, UTF-8:
//   # comment            ; comment
//   [stores]
//   main = /srv/maestro/data/maestro.db     # absolute, or relative to --root
//   [schedule]
//   snapshot_time = 02:30
// Keys are "section.key" (keys before any section have no prefix). Values are
// the text after '=', trimmed; surrounding double quotes are removed. Unknown
// keys are kept (callers warn about them). A malformed line is InvalidArgument
// naming the file and line number. The decoder is fuzzed (tests/fuzz).
//
// Load refuses, before parsing, with InvalidArgument naming the file: a file
// over kMaxBytes (1 MiB; at most kMaxBytes + 1 bytes are ever read), bytes that
// are not text (a NUL byte, invalid UTF-8), and anything but a regular file or
// a pipe (a directory, a device such as /dev/zero, a socket). A missing file is
// NotFound.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "util/status.h"

namespace maestro {

class Config {
 public:
  static constexpr size_t kMaxBytes = 1u << 20;
  static Result<Config> Parse(const std::string& text, const std::string& origin = "<config>");
  static Result<Config> Load(const std::string& path);

  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  std::string Get(const std::string& key, const std::string& def = "") const;
  Result<int64_t> GetInt(const std::string& key, int64_t def) const;
  Result<bool> GetBool(const std::string& key, bool def) const;
  void Set(const std::string& key, const std::string& value) { values_[key] = value; }
  const std::map<std::string, std::string>& values() const { return values_; }
  const std::string& origin() const { return origin_; }

 private:
  std::map<std::string, std::string> values_;
  std::string origin_;
};

}  // namespace maestro
