#include "util/json_text.h"

#include "util/hash.h"
#include "util/text.h"

namespace maestro {

namespace {

constexpr const char* kBytesKey = "maestro_bytes_hex";

// The bytes an encoded string object stands for, or false when j is not one.
bool DecodeBytesObject(const nlohmann::json& j, std::string* out) {
  if (!j.is_object() || j.size() != 1 || !j.contains(kBytesKey)) return false;
  const nlohmann::json& v = j[kBytesKey];
  if (!v.is_string()) return false;
  return HexDecode(v.get_ref<const std::string&>(), out);
}

}  // namespace

std::string JsonText(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json EncodeByteStrings(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (IsValidUtf8(s)) return j;
    return nlohmann::json{{kBytesKey, HexEncode(s)}};
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(EncodeByteStrings(v));
    return out;
  }
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items()) out[k] = EncodeByteStrings(v);
    return out;
  }
  return j;
}

void DecodeByteStrings(nlohmann::json* j) {
  std::string bytes;
  if (DecodeBytesObject(*j, &bytes)) {
    *j = std::move(bytes);
    return;
  }
  if (j->is_array() || j->is_object())
    for (auto& v : *j) DecodeByteStrings(&v);
}

}  // namespace maestro
