#include "util/text.h"

#include <cstdint>
#include <cstdio>

namespace maestro {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 if there is none;
// *cp receives its code point.
size_t Utf8SequenceAt(std::string_view s, size_t i, uint32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b = byte(i);
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  size_t n = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
  if (n == 0 || b > 0xf4 || i + n > s.size()) return 0;
  uint32_t v = b & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    v = (v << 6) | (byte(i + k) & 0x3f);
  }
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return n;
}

void AppendHex(std::string* out, const char* prefix, unsigned v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%0*x", prefix, width, v);
  out->append(buf);
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceAt(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string EscapeForTerminal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  uint32_t cp = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceAt(s, i, &cp);
    if (n == 0) {
      AppendHex(&out, "\\x", static_cast<uint8_t>(s[i]), 2);
      ++i;
      continue;
    }
    if (cp == '\n') out += "\\n";
    else if (cp == '\r') out += "\\r";
    else if (cp == '\t') out += "\\t";
    else if (cp < 0x20 || cp == 0x7f) AppendHex(&out, "\\x", cp, 2);
    else if (cp >= 0x80 && cp <= 0x9f) AppendHex(&out, "\\u", cp, 4);
    else out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace maestro
