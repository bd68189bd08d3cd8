// engine/stores/hnsw_format.h — the on-disk layout of one Chroma HNSW segment folder.
//
// Chroma's persistent HNSW index (chroma-core's fork of hnswlib, used by the
// Python era and by the Rust core of chromadb 1.0.x alike) keeps four files per
// VECTOR segment, <vector store>/<segment uuid>/:
//   header.bin       100 bytes, little-endian, no padding, in this order:
//                    int32 persistence version (1), u64 offset_level0,
//                    u64 max_elements, u64 cur_element_count,
//                    u64 size_data_per_element, u64 label_offset, u64 offset_data,
//                    int32 max_level (-1 when empty), u32 enterpoint_node,
//                    u64 maxM, u64 maxM0, u64 M, f64 mult, u64 ef_construction
//   data_level0.bin  one record of size_data_per_element bytes per element slot
//                    (written for max_elements slots at creation): at
//                    offset_level0 a u32 whose low 16 bits count the level-0
//                    links (at most maxM0) and whose third byte holds the
//                    deleted mark (bit 0x01); the links; the vector from
//                    offset_data; the u64 label at label_offset (the last 8 bytes)
//   length.bin       one float32 per slot (the vector's norm; finite, >= 0)
//   link_lists.bin   per element 0..cur_element_count-1, in order: a u32 byte
//                    count (0, or level * (maxM*4 + 4)) and that many bytes
// The Rust core also writes index_metadata.pickle (the id <-> label map); the
// check does not read it. Facts from hnswlib's persistence code and from folders
// chromadb-js-bindings 1.0.5 writes (tests/chroma_real_test.cc).
//
// Pure functions, no I/O; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace maestro {

inline constexpr size_t kHnswHeaderSize = 100;
inline constexpr int32_t kHnswPersistenceVersion = 1;
inline constexpr const char* kHnswHeaderFile = "header.bin";
inline constexpr const char* kHnswDataFile = "data_level0.bin";
inline constexpr const char* kHnswLengthFile = "length.bin";
inline constexpr const char* kHnswLinksFile = "link_lists.bin";

struct HnswHeader {
  int32_t version = kHnswPersistenceVersion;
  uint64_t offset_level0 = 0;
  uint64_t max_elements = 0;
  uint64_t cur_element_count = 0;
  uint64_t size_data_per_element = 0;
  uint64_t label_offset = 0;
  uint64_t offset_data = 0;
  int32_t max_level = -1;
  uint32_t enterpoint_node = 0xFFFFFFFFu;
  uint64_t max_m = 16;
  uint64_t max_m0 = 32;
  uint64_t m = 16;
  double mult = 0.36067376022224085;  // 1 / ln(M) for M = 16
  uint64_t ef_construction = 100;

  // Bytes of one upper-level link list (a count and maxM links).
  uint64_t links_per_level_bytes() const { return max_m * 4 + 4; }
};

// A header for a fresh index of `dim` float32 dimensions (Chroma's defaults:
// M 16, ef_construction 100), the layout hnswlib computes.
HnswHeader MakeHnswHeader(uint64_t dim, uint64_t max_elements);

std::string EncodeHnswHeader(const HnswHeader& h);

// Fails (BadStore, the reason without a path) unless bytes is exactly
// kHnswHeaderSize long. Field values are not judged here (engine/stores/hnsw_check.h).
Result<HnswHeader> DecodeHnswHeader(std::string_view bytes);

// The reason the header's fields cannot describe an hnswlib index, or "" when
// they are coherent (version, offsets, record size, counts, levels).
std::string HnswHeaderProblem(const HnswHeader& h);

}  // namespace maestro
