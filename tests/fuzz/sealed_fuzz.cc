// Fuzz target: opening sealed objects (snapshot/crypto.h Open, OpenBlob).
// Any input must fail with Corruption (nothing but Seal with this key makes an
// object that opens), and the input sealed as a plaintext opens back to itself
// under its name and kind only.
#include <cstddef>
#include <cstdint>
#include <string>

#include "snapshot/crypto.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

const maestro::MasterKey& Key() {
  static const maestro::MasterKey k = [] {
    std::string b;
    for (int i = 0; i < 64; ++i) b.push_back(static_cast<char>(i));
    return maestro::MasterKey::FromBytes(b).value();
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using maestro::ObjectKind;
  std::string in(reinterpret_cast<const char*>(data), size);
  std::string out = "untouched";
  maestro::fuzz::Require(maestro::Open(Key(), ObjectKind::kManifest, "m", in, &out).IsCorruption() &&
                             out == "untouched",
                         "random bytes never open");
  maestro::Hash128 id = maestro::KeyedBlobId(Key(), in);
  maestro::fuzz::Require(maestro::OpenBlob(Key(), id, in, &out).IsCorruption(), "random bytes never open as a blob");
  auto sealed = maestro::Seal(Key(), ObjectKind::kIndex, in, in);
  maestro::fuzz::Require(sealed.ok(), "anything seals");
  maestro::fuzz::Require(maestro::Open(Key(), ObjectKind::kIndex, in, *sealed, &out).ok() && out == in,
                         "Open(Seal(x)) == x");
  maestro::fuzz::Require(maestro::Open(Key(), ObjectKind::kIndex, in + "x", *sealed, &out).IsCorruption(),
                         "another name does not open");
  maestro::fuzz::Require(maestro::Open(Key(), ObjectKind::kPack, in, *sealed, &out).IsCorruption(),
                         "another kind does not open");
  return 0;
}
