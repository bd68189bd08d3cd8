#include "snapshot/blob_group.h"

#include <zstd.h>

#include "util/coding.h"

namespace maestro {

void GroupBuilder::Add(const Hash128& id, std::string_view d) {
  ids.push_back(id);
  lens.push_back(static_cast<uint32_t>(d.size()));
  data.append(d.data(), d.size());
}

std::string GroupBuilder::Encode() const {
  std::string s;
  s.reserve(4 + 4 * lens.size() + data.size());
  PutFixed32(&s, static_cast<uint32_t>(lens.size()));
  for (uint32_t n : lens) PutFixed32(&s, n);
  s.append(data);
  return s;
}

Status DecodeGroup(ZSTD_DCtx* dctx, std::string_view frame, const Sealer& sealer, const std::string& what,
                   DecodedGroup* out) {
  // Bounded before allocating: the frame says its size, a damaged one may lie.
  unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size < 4 || size > kGroupMaxPlain)
    return Status::Corruption(what + ": blob group is not a zstd frame of a group's size");
  out->plain.resize(size);
  out->members.clear();
  size_t n = ZSTD_decompressDCtx(dctx, out->plain.data(), out->plain.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size)
    return Status::Corruption(what + ": blob group does not decompress" +
                              (ZSTD_isError(n) ? " (" + std::string(ZSTD_getErrorName(n)) + ")" : std::string()));
  const std::string& p = out->plain;
  uint64_t count = DecodeFixed32(p.data());
  if (count == 0 || 4 + 4 * count > p.size())
    return Status::Corruption(what + ": blob group table does not fit");
  size_t at = 4 + 4 * count;
  for (uint64_t k = 0; k < count; ++k) {
    uint32_t len = DecodeFixed32(p.data() + 4 + 4 * k);
    if (len > p.size() - at) return Status::Corruption(what + ": blob group member runs past its end");
    out->members.push_back({sealer.BlobId(std::string_view(p.data() + at, len)), at, len});
    at += len;
  }
  if (at != p.size()) return Status::Corruption(what + ": blob group has bytes after its members");
  return Status::OK();
}

Status GroupCache::Member(ZSTD_DCtx* dctx, const Sealer& sealer, const Hash128& pack, uint64_t offset,
                          uint64_t check, std::string_view frame, const Hash128& id, uint32_t len,
                          const std::string& what, std::string* out) {
  Slot* slot = nullptr;
  for (Slot& s : slots_)
    if (s.used && s.pack == pack && s.offset == offset && s.check == check) slot = &s;
  if (!slot) {
    slot = &slots_[0];
    for (Slot& s : slots_)
      if (s.used < slot->used) slot = &s;
    slot->used = 0;  // empty until decoded whole
    MAESTRO_RETURN_IF_ERROR(DecodeGroup(dctx, frame, sealer, what, &slot->group));
    slot->pack = pack;
    slot->offset = offset;
    slot->check = check;
  }
  slot->used = ++clock_;
  for (const auto& m : slot->group.members) {
    if (m.id != id) continue;
    if (m.len != len) return Status::Corruption(what + ": blob " + id.Hex() + " in its group is not its length");
    out->assign(slot->group.plain.data() + m.at, m.len);
    return Status::OK();
  }
  return Status::Corruption(what + ": blob group does not hold blob " + id.Hex() + " (content hash mismatch)");
}

}  // namespace maestro
