#include "snapshot/blob_codec.h"

#include <algorithm>
#include <cstring>

namespace maestro {

namespace {
constexpr size_t kMaxRawBlock = 128 * 1024;  // RFC 8878 Block_Maximum_Size
constexpr size_t kFrameHeader = 4 + 1 + 8;   // magic, descriptor, 8-byte Frame_Content_Size

void PutLE(uint64_t v, int bytes, char* p) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
}  // namespace

size_t RawZstdFrameOverhead(size_t n) {
  size_t blocks = n == 0 ? 1 : (n + kMaxRawBlock - 1) / kMaxRawBlock;
  return kFrameHeader + 3 * blocks;
}

void EncodeRawZstdFrame(std::string_view data, std::string* out) {
  out->resize(data.size() + RawZstdFrameOverhead(data.size()));
  char* p = out->data();
  PutLE(0xFD2FB528u, 4, p);  // Magic_Number
  // Frame_Header_Descriptor: Frame_Content_Size_flag 3 (8 bytes),
  // Single_Segment_flag set (no Window_Descriptor: the window is the content
  // size), no checksum, no dictionary.
  p[4] = static_cast<char>(0xE0);
  PutLE(data.size(), 8, p + 5);
  p += kFrameHeader;
  size_t pos = 0;
  do {
    size_t len = std::min(kMaxRawBlock, data.size() - pos);
    bool last = pos + len == data.size();
    // Block_Header: bit 0 Last_Block, bits 1-2 Block_Type (0 = Raw_Block), bits 3-23 Block_Size.
    PutLE((static_cast<uint32_t>(len) << 3) | (last ? 1u : 0u), 3, p);
    if (len > 0) std::memcpy(p + 3, data.data() + pos, len);
    p += 3 + len;
    pos += len;
  } while (pos < data.size());
}

}  // namespace maestro
