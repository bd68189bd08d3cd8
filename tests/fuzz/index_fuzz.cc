// Fuzz target: the repository index decoder (snapshot/format.h DecodeIndex) and
// the pack/blob header encoders it pairs with. Any input must decode or fail with
// Corruption; a decoded index re-encodes to an index that decodes to the same
// entries (EncodeIndex groups by pack, so bytes may differ, entries may not),
// and as version 4 to one that decodes to the same entries, field for field.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>

#include "snapshot/format.h"
#include "snapshot/sealer.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/coding.h"

namespace {

using maestro::IndexEntry;

auto Key(const IndexEntry& e) {
  return std::make_tuple(e.pack, e.blob, e.offset, e.stored_len, e.raw_len, e.stored_check);
}
bool Less(const IndexEntry& a, const IndexEntry& b) { return Key(a) < Key(b); }
bool Same(const IndexEntry& a, const IndexEntry& b) { return Key(a) == Key(b); }
bool SameV4(const IndexEntry& a, const IndexEntry& b) {
  return Same(a, b) && a.type == b.type && a.codec == b.codec && a.pack_version == b.pack_version;
}

void Check(const std::string& bytes) {
  auto r = maestro::DecodeIndex(bytes, "fuzz");
  if (!r.ok()) {
    maestro::fuzz::Require(r.status().IsCorruption(), "a bad index must be Corruption");
    return;
  }
  auto r2 = maestro::DecodeIndex(maestro::EncodeIndex(*r), "fuzz");
  maestro::fuzz::Require(r2.ok(), "a re-encoded index decodes");
  auto a = *r, b = *r2;
  std::stable_sort(a.begin(), a.end(), Less);
  std::stable_sort(b.begin(), b.end(), Less);
  maestro::fuzz::Require(a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), Same),
                         "DecodeIndex(EncodeIndex(x)) == x");
  // Version 4 keeps every field (type, codec, the pack's version) and bytes:
  // EncodeIndexV4(DecodeIndex(EncodeIndexV4(x))) == EncodeIndexV4(x).
  const auto& plain = *maestro::PlainSealer();
  auto v4 = maestro::EncodeIndexV4(*r, plain);
  maestro::fuzz::Require(v4.ok(), "a decoded index encodes as v4");
  auto r4 = maestro::DecodeIndex(*v4, "fuzz", plain);
  maestro::fuzz::Require(r4.ok(), "a v4 re-encoded index decodes");
  auto c = *r, d = *r4;
  std::stable_sort(c.begin(), c.end(), Less);
  std::stable_sort(d.begin(), d.end(), Less);
  maestro::fuzz::Require(c.size() == d.size() && std::equal(c.begin(), c.end(), d.begin(), SameV4),
                         "DecodeIndex(EncodeIndexV4(x)) == x, type, codec and pack version included");
  auto v4again = maestro::EncodeIndexV4(*r4, plain);
  maestro::fuzz::Require(v4again.ok() && *v4again == *v4, "EncodeIndexV4 is canonical");
  // The blob header written into a pack for each entry carries exactly its fields.
  for (const auto& e : a) {
    std::string h = maestro::EncodeBlobHeader(e.blob, e.raw_len, e.stored_len);
    maestro::fuzz::Require(h.size() == maestro::kBlobHeaderSize, "blob header size");
    maestro::fuzz::Require(maestro::DecodeHash128(h.data()) == e.blob && maestro::DecodeFixed32(h.data() + 16) == e.raw_len &&
                               maestro::DecodeFixed32(h.data() + 20) == e.stored_len,
                           "blob header round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(std::string(in));
  Check(maestro::fuzz::Reseal(in));
  return 0;
}
