// snapshot/blob_group.h — small blobs compressed together: one zstd frame for
// a run of them, so a small file keeps the context of its neighbours (issue 14
// point 3: per-file compression of small Markdown/JSON/PDF files loses the
// cross-file repeats a single zstd stream finds).
//
// Words: a *group* is the stored bytes of several data blobs of at most
// kGroupMemberMax bytes each, up to about kGroupTarget bytes together (the
// last member may take it past: at most kGroupTarget + kGroupMemberMax). Its
// plaintext is
//     u32 n   n x u32 member length   the members' bytes back to back
// and it is stored as Sealer::SealBlob(kGroupSealId, one zstd frame of that)
// (docs/repository-format.md "Blob groups"). Every member keeps its own
// index and pack-header entry (codec kGroup): its id and raw_len, and the
// group's offset, stored_len and checksum, shared by all members. A member
// is found by its id: a reader hashes every member once (Sealer::BlobId) and
// keeps the few groups it read last (GroupCache), so reading a group's
// members one after the other decompresses it once.
//
// The id a group is sealed with is a constant: no single blob names a group.
// The AEAD still authenticates every byte; a member is proven by its id.
//
// Thread safety: GroupBuilder and GroupCache are used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/format.h"
#include "snapshot/sealer.h"
#include "util/hash.h"
#include "util/status.h"

typedef struct ZSTD_DCtx_s ZSTD_DCtx;

namespace maestro {

// A data blob of at most this many bytes is stored in a group (format 4).
constexpr size_t kGroupMemberMax = 64 * 1024;
// A group is compressed once its members reach this many bytes.
constexpr size_t kGroupTarget = 128 * 1024;
// A group holds at most this many members (so its table is bounded).
constexpr size_t kGroupMaxMembers = 1024;
// The largest plaintext a reader accepts (damage is refused before allocating).
constexpr size_t kGroupMaxPlain = 4 + 4 * kGroupMaxMembers + kGroupTarget + kGroupMemberMax;
// The id groups are sealed with (no blob has it: it is not a hash of content).
constexpr Hash128 kGroupSealId{0x4d44424752505550ull /* "MDBGRPUP" */, 0x67726f7570763031ull /* "groupv01" */};

// The stored bytes an entry stands for, for counts of bytes (progress, GC's
// bytes freed): its stored_len; for a group member an estimate of its share
// of the group's, stored_len x raw_len / kGroupTarget (members share one range).
inline uint64_t StoredShare(const IndexEntry& e) {
  if (e.codec != BlobCodec::kGroup) return e.stored_len;
  uint64_t share = static_cast<uint64_t>(e.stored_len) * e.raw_len / kGroupTarget;
  return share < e.stored_len ? share : e.stored_len;
}

// Members collected for one group.
struct GroupBuilder {
  std::vector<Hash128> ids;
  std::vector<uint32_t> lens;
  std::string data;
  bool empty() const { return ids.empty(); }
  bool full() const { return data.size() >= kGroupTarget || ids.size() >= kGroupMaxMembers; }
  void Add(const Hash128& id, std::string_view d);
  // The group's plaintext: u32 n, n x u32 length, the members.
  std::string Encode() const;
};

// One decoded group: its plaintext and where each member is in it.
struct DecodedGroup {
  std::string plain;
  struct Member {
    Hash128 id;
    size_t at = 0;
    uint32_t len = 0;
  };
  std::vector<Member> members;
};

// Decompresses one group (the opened, unsealed bytes) and hashes its members.
// Corruption (naming `what`) when it does not decompress, is over the limit,
// or its table does not add up.
Status DecodeGroup(ZSTD_DCtx* dctx, std::string_view frame, const Sealer& sealer, const std::string& what,
                   DecodedGroup* out);

// The last few groups a reader decoded, keyed by where they are stored.
class GroupCache {
 public:
  // The member `id` of the group stored at (pack, offset) with checksum
  // check; frame is its opened bytes, decoded only when the group is not
  // cached. Corruption when the group does not hold id with length len.
  Status Member(ZSTD_DCtx* dctx, const Sealer& sealer, const Hash128& pack, uint64_t offset, uint64_t check,
                std::string_view frame, const Hash128& id, uint32_t len, const std::string& what,
                std::string* out);

 private:
  struct Slot {
    Hash128 pack;
    uint64_t offset = 0, check = 0;
    uint64_t used = 0;  // 0: empty
    DecodedGroup group;
  };
  static constexpr size_t kSlots = 4;
  Slot slots_[kSlots];
  uint64_t clock_ = 0;
};

}  // namespace maestro
