#include "engine/stores/hnsw_format.h"

#include <cstring>

namespace maestro {

namespace {

template <typename T>
void Put(std::string* out, T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86_64 / aarch64: little-endian, as hnswlib writes
  out->append(reinterpret_cast<const char*>(b), sizeof(T));
}

template <typename T>
T Get(std::string_view bytes, size_t* at) {
  T v;
  std::memcpy(&v, bytes.data() + *at, sizeof(T));
  *at += sizeof(T);
  return v;
}

}  // namespace

HnswHeader MakeHnswHeader(uint64_t dim, uint64_t max_elements) {
  HnswHeader h;
  h.max_elements = max_elements;
  h.offset_data = h.max_m0 * 4 + 4;
  h.label_offset = h.offset_data + dim * 4;
  h.size_data_per_element = h.label_offset + 8;
  return h;
}

std::string EncodeHnswHeader(const HnswHeader& h) {
  std::string out;
  out.reserve(kHnswHeaderSize);
  Put(&out, h.version);
  for (uint64_t v : {h.offset_level0, h.max_elements, h.cur_element_count, h.size_data_per_element,
                     h.label_offset, h.offset_data})
    Put(&out, v);
  Put(&out, h.max_level);
  Put(&out, h.enterpoint_node);
  for (uint64_t v : {h.max_m, h.max_m0, h.m}) Put(&out, v);
  Put(&out, h.mult);
  Put(&out, h.ef_construction);
  return out;
}

Result<HnswHeader> DecodeHnswHeader(std::string_view bytes) {
  if (bytes.size() != kHnswHeaderSize)
    return Status::BadStore("header.bin is " + std::to_string(bytes.size()) + " bytes, an hnswlib header is " +
                            std::to_string(kHnswHeaderSize));
  HnswHeader h;
  size_t at = 0;
  h.version = Get<int32_t>(bytes, &at);
  for (uint64_t* f : {&h.offset_level0, &h.max_elements, &h.cur_element_count, &h.size_data_per_element,
                      &h.label_offset, &h.offset_data})
    *f = Get<uint64_t>(bytes, &at);
  h.max_level = Get<int32_t>(bytes, &at);
  h.enterpoint_node = Get<uint32_t>(bytes, &at);
  for (uint64_t* f : {&h.max_m, &h.max_m0, &h.m}) *f = Get<uint64_t>(bytes, &at);
  h.mult = Get<double>(bytes, &at);
  h.ef_construction = Get<uint64_t>(bytes, &at);
  return h;
}

std::string HnswHeaderProblem(const HnswHeader& h) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  if (h.version != kHnswPersistenceVersion)
    return "persistence version " + std::to_string(h.version) + " (hnswlib writes " +
           std::to_string(kHnswPersistenceVersion) + ")";
  if (h.max_m == 0 || h.max_m > 4096 || h.max_m0 == 0 || h.max_m0 > 8192)
    return "maxM " + n(h.max_m) + " / maxM0 " + n(h.max_m0) + " are not an index's link limits";
  if (h.offset_level0 != 0 || h.offset_data != h.max_m0 * 4 + 4)
    return "offset_level0 " + n(h.offset_level0) + " / offset_data " + n(h.offset_data) +
           " do not match maxM0 " + n(h.max_m0) + " (expected 0 / " + n(h.max_m0 * 4 + 4) + ")";
  if (h.label_offset < h.offset_data || h.size_data_per_element != h.label_offset + 8)
    return "element size " + n(h.size_data_per_element) + " does not end with the 8-byte label at " +
           n(h.label_offset);
  if (h.cur_element_count > h.max_elements)
    return "element count " + n(h.cur_element_count) + " exceeds max_elements " + n(h.max_elements);
  if (h.max_level < -1 || h.max_level > 64) return "max level " + std::to_string(h.max_level) + " is out of range";
  if (h.cur_element_count > 0 && (h.max_level < 0 || h.enterpoint_node >= h.cur_element_count))
    return "entry point " + n(h.enterpoint_node) + " / max level " + std::to_string(h.max_level) +
           " do not fit " + n(h.cur_element_count) + " elements";
  return "";
}

}  // namespace maestro
