// Fuzz target: the key file decoder (snapshot/keys.h DecodeKeyFile,
// UnwrapKeyFile). Any input, named by its own BLAKE2b-128 (so the name check
// passes and the layout decoder is reached), must decode or fail with
// Corruption; a decoded file whose Argon2id limits are small enough to run
// here is unwrapped: OK, WrongPassword or Corruption only. A file encoded from
// the decoded fields decodes back to the same fields.
#include <cstddef>
#include <cstdint>
#include <string>

#include "snapshot/keys.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void Check(const std::string& bytes) {
  using maestro::Status;
  const std::string name = maestro::Xxh128(bytes).Hex();
  maestro::KeyInfo info;
  Status st = maestro::DecodeKeyFile(name, bytes, &info);
  if (!st.ok()) {
    maestro::fuzz::Require(st.IsCorruption(), "a bad key file must be Corruption");
    return;
  }
  if (info.kdf.opslimit <= 2 && info.kdf.memlimit <= (64u << 10)) {
    auto key = maestro::UnwrapKeyFile(name, bytes, "fuzz");
    maestro::fuzz::Require(key.ok() || key.status().IsCorruption() ||
                               key.status().code() == Status::Code::kWrongPassword,
                           "unwrap is OK, WrongPassword or Corruption");
  }
  maestro::KdfParams small;
  small.opslimit = 1;
  small.memlimit = 8u << 10;
  auto master = maestro::MasterKey::Generate();
  maestro::fuzz::Require(master.ok(), "a master key");
  auto again = maestro::EncodeKeyFile(*master, "fuzz", small, info.meta);
  maestro::fuzz::Require(again.ok(), "the decoded fields encode");
  maestro::KeyInfo back;
  maestro::fuzz::Require(maestro::DecodeKeyFile(maestro::Xxh128(*again).Hex(), *again, &back).ok(),
                         "an encoded key file decodes");
  maestro::fuzz::Require(back.meta.host == info.meta.host && back.meta.user == info.meta.user &&
                             back.meta.created_micros == info.meta.created_micros,
                         "DecodeKeyFile(EncodeKeyFile(x)) keeps the fields");
  auto opened = maestro::UnwrapKeyFile(maestro::Xxh128(*again).Hex(), *again, "fuzz");
  maestro::fuzz::Require(opened.ok() && *opened == *master, "the re-encoded file opens to its master key");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
