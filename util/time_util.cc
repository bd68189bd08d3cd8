#include "util/time_util.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace maestro {

namespace {
struct tm UtcTm(int64_t micros) {
  time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm t;
  gmtime_r(&secs, &t);
  return t;
}
}  // namespace

std::string FormatStamp(int64_t micros) {
  struct tm t = UtcTm(micros);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02d_%02d%02d%02d", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec);
  return buf;
}

std::string FormatIso8601(int64_t micros) {
  struct tm t = UtcTm(micros);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec);
  return buf;
}

Result<int64_t> ParseTime(const std::string& text) {
  int Y = 0, M = 0, D = 0, h = 0, m = 0, s = 0;
  size_t pos = 0;
  auto bad = [&]() {
    return Status::InvalidArgument("cannot read time '" + text +
                                   "': use ISO-8601 like 2025-08-08T14:30:22Z or a stamp like 20250808_143022");
  };
  auto num = [&](int digits, int* out) {
    if (pos + static_cast<size_t>(digits) > text.size()) return false;
    int v = 0;
    for (int i = 0; i < digits; ++i) {
      char c = text[pos + static_cast<size_t>(i)];
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      v = v * 10 + (c - '0');
    }
    pos += static_cast<size_t>(digits);
    *out = v;
    return true;
  };
  int64_t offset_secs = 0;
  if (text.size() == 15 && text[8] == '_') {  // stamp
    if (!num(4, &Y) || !num(2, &M) || !num(2, &D)) return bad();
    ++pos;
    if (!num(2, &h) || !num(2, &m) || !num(2, &s)) return bad();
  } else {
    if (!num(4, &Y) || pos >= text.size() || text[pos++] != '-' || !num(2, &M) || pos >= text.size() ||
        text[pos++] != '-' || !num(2, &D))
      return bad();
    if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
      ++pos;
      if (!num(2, &h) || pos >= text.size() || text[pos++] != ':' || !num(2, &m)) return bad();
      if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (!num(2, &s)) return bad();
        if (pos < text.size() && text[pos] == '.') {  // fractional seconds: ignored
          ++pos;
          while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
        }
      }
    }
    if (pos < text.size()) {
      char c = text[pos];
      if (c == 'Z' || c == 'z') {
        ++pos;
      } else if (c == '+' || c == '-') {
        ++pos;
        int oh = 0, om = 0;
        if (!num(2, &oh)) return bad();
        if (pos < text.size() && text[pos] == ':') ++pos;
        if (pos < text.size() && !num(2, &om)) return bad();
        offset_secs = (oh * 3600 + om * 60) * (c == '+' ? 1 : -1);
      }
    }
    if (pos != text.size()) return bad();
  }
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return bad();
  struct tm t = {};
  t.tm_year = Y - 1900;
  t.tm_mon = M - 1;
  t.tm_mday = D;
  t.tm_hour = h;
  t.tm_min = m;
  t.tm_sec = s;
  time_t secs = timegm(&t);
  return (static_cast<int64_t>(secs) - offset_secs) * 1000000;
}

namespace {

constexpr int64_t kMaxDurationSeconds = int64_t{100} * 366 * 86400;  // a century

Status TooLong(const std::string& text) {
  return Status::InvalidArgument("duration '" + text + "' is longer than a century (36600d)",
                                 "give a duration such as 24h, 7d or 52w");
}

}  // namespace

Result<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("empty duration: use e.g. 24h, 90m, 7d");
  int64_t total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return Status::InvalidArgument("cannot read duration '" + text + "': use e.g. 24h, 90m, 7d, 1h30m");
    // Bounded before any arithmetic: 20 digits would throw in stoll, and
    // 999999999999999w would overflow int64 (undefined) into a small value.
    size_t first = start;  // leading zeros are no magnitude: 007d is 7d
    while (first + 1 < i && text[first] == '0') ++first;
    if (i - first > 12) return TooLong(text);
    int64_t v = std::stoll(text.substr(start, i - start));
    int64_t mult = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        case 'w': mult = 7 * 86400; break;
        default:
          return Status::InvalidArgument("cannot read duration '" + text + "': units are s, m, h, d, w");
      }
      ++i;
    } else if (any) {
      return Status::InvalidArgument("cannot read duration '" + text + "': a number needs a unit after the first");
    }
    total += v * mult;  // < 10^12 * 7 * 86400 per term, summed over at most text.size() terms
    if (total > kMaxDurationSeconds) return TooLong(text);
    any = true;
  }
  return total;
}

std::string FormatDuration(int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + "s";
  std::string out;
  int64_t d = seconds / 86400, h = (seconds % 86400) / 3600, m = (seconds % 3600) / 60;
  if (d) out += std::to_string(d) + "d";
  if (h) out += std::to_string(h) + "h";
  if (m && !d) out += std::to_string(m) + "m";
  return out.empty() ? "0s" : out;
}

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace maestro
