// snapshot/blob_codec.h — how a blob's stored bytes were made, and the one
// encoder that needs no compressor: a zstd frame of RAW blocks.
//
// Every stored blob is a zstd frame (RFC 8878), so every reader, old or new,
// decodes it with ZSTD_decompress. A blob that does not compress (PDFs are
// deflate streams) is stored as a frame of RAW blocks: the frame header
// (magic, descriptor, content size) then the data itself in blocks of at most
// 128 KiB, each behind a 3-byte block header. Making it is a memcpy; its size
// is the data's plus RawZstdFrameOverhead(n) (13 bytes + 3 per 128 KiB).
// BlobCodec (format.h) is what the writer hands on with each blob: kRaw is the
// bare data; PackWriter stores it so in a format-4 pack (its header records the
// codec) and as a frame of RAW blocks in a format-3 pack, which has no field.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "snapshot/format.h"  // BlobCodec

namespace maestro {


// Bytes EncodeRawZstdFrame adds to n bytes of data.
size_t RawZstdFrameOverhead(size_t n);
// Replaces *out with a valid zstd frame holding data in RAW blocks.
void EncodeRawZstdFrame(std::string_view data, std::string* out);

}  // namespace maestro
