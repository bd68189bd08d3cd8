// Fuzz target: the config-file decoder (util/config.h). Any input must parse or
// fail with a Status — no crash, no hang, no unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "util/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto c = maestro::Config::Parse(text, "fuzz");
  if (c.ok()) {
    for (const auto& [k, v] : c->values()) {
      c->GetInt(k, 0).IgnoreError("fuzzing: any answer is fine, only a crash is not");
      c->GetBool(k, false).IgnoreError("fuzzing: any answer is fine, only a crash is not");
    }
  }
  return 0;
}
