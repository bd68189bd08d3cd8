// Fuzz target: the snapshot manifest decoder (snapshot/format.h DecodeManifest).
// Any input must decode or fail with Corruption — no crash, no hang, no
// allocation the input could not describe. Whatever decodes must survive a round
// trip: DecodeManifest(EncodeManifest(m)) == m (compared through the canonical
// encoding; reserved flag bits of the input are not kept, the checksum guards them).
#include <cstddef>
#include <cstdint>
#include <string>

#include "snapshot/format.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void Check(const std::string& bytes) {
  auto m = maestro::DecodeManifest(bytes, "fuzz");
  if (!m.ok()) {
    maestro::fuzz::Require(m.status().IsCorruption(), "a bad manifest must be Corruption");
    return;
  }
  std::string again = maestro::EncodeManifest(*m);
  auto m2 = maestro::DecodeManifest(again, "fuzz");
  maestro::fuzz::Require(m2.ok(), "a re-encoded manifest decodes");
  maestro::fuzz::Require(maestro::EncodeManifest(*m2) == again, "DecodeManifest(EncodeManifest(m)) == m");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(std::string(in));
  Check(maestro::fuzz::Reseal(in));
  return 0;
}
