// Fuzz target: the snapshot manifest decoders (snapshot/format.h DecodeManifest),
// versions 1-3 and version 4 (through the PlainSealer).
// Any input must decode or fail with Corruption (a version-4 manifest shorter
// than it declares: Unfinished) — no crash, no hang, no allocation the input
// could not describe. Whatever decodes must survive a round trip:
// DecodeManifest(EncodeManifest(m)) == m, and the same with EncodeManifestV4
// (compared through the canonical encoding; reserved flag bits of the input are
// not kept, the checksum guards them).
#include <cstddef>
#include <cstdint>
#include <string>

#include "snapshot/format.h"
#include "snapshot/sealer.h"
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

// Version 4: the dispatching decoder; a version 1-3 manifest it returns is Check's.
void CheckV4(const std::string& bytes) {
  const auto& plain = *maestro::PlainSealer();
  auto m = maestro::DecodeManifest(bytes, "fuzz", plain, "fuzz");
  if (!m.ok()) {
    maestro::fuzz::Require(m.status().IsCorruption() || m.status().code() == maestro::Status::Code::kUnfinished,
                           "a bad v4 manifest must be Corruption or Unfinished");
    return;
  }
  if (m->format_version != maestro::kManifestFormatV4) return;
  auto again = maestro::EncodeManifestV4(*m, plain);
  maestro::fuzz::Require(again.ok(), "a decoded v4 manifest encodes");
  auto m2 = maestro::DecodeManifest(*again, "fuzz", plain, "fuzz");
  maestro::fuzz::Require(m2.ok(), "a re-encoded v4 manifest decodes");
  auto third = maestro::EncodeManifestV4(*m2, plain);
  maestro::fuzz::Require(third.ok() && *third == *again, "DecodeManifest(EncodeManifestV4(m)) == m");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(std::string(in));
  Check(maestro::fuzz::Reseal(in));
  CheckV4(std::string(in));
  CheckV4(maestro::fuzz::FrameV4Manifest(maestro::fuzz::Reseal(in)));
  // A v4 seed's own body (between its 12-byte prefix and its checksum), framed
  // anew: mutations of a real manifest reach the body decoder.
  if (in.size() >= 20) CheckV4(maestro::fuzz::FrameV4Manifest(maestro::fuzz::Reseal(in.substr(12, in.size() - 20))));
  return 0;
}
