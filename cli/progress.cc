#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include "util/time_util.h"

namespace maestro {

namespace {

std::string Count(uint64_t n) {
  char buf[32];
  if (n < 1000) return std::to_string(n);
  if (n < 1000000) {
    std::snprintf(buf, sizeof(buf), "%.1fk", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1fM", static_cast<double>(n) / 1e6);
  }
  return buf;
}

size_t TerminalWidth() {
  struct winsize ws;
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 80;
}

}  // namespace

ProgressLine::ProgressLine(bool enabled, std::string verb)
    : enabled_(enabled), verb_(std::move(verb)), start_(std::chrono::steady_clock::now()) {}

ProgressLine::~ProgressLine() { Finish(); }

std::string ProgressLine::Render(const std::string& verb, const Progress& p, double elapsed, size_t width) {
  std::string s = verb + "  " + FormatBytes(p.bytes_done);
  if (p.bytes_total) s += " / " + FormatBytes(p.bytes_total);
  s += "  " + Count(p.files_done);
  if (p.files_total) s += "/" + Count(p.files_total);
  s += " files";
  if (elapsed > 0.5 && p.bytes_done > 0) {
    double rate = static_cast<double>(p.bytes_done) / elapsed;
    s += "  " + FormatBytes(static_cast<uint64_t>(rate)) + "/s";
    if (p.bytes_total > p.bytes_done && rate > 0) {
      auto eta = static_cast<int64_t>(static_cast<double>(p.bytes_total - p.bytes_done) / rate + 0.5);
      s += "  ETA " + FormatDuration(eta);
    }
  }
  if (!p.current.empty()) s += "  " + p.current;
  if (width > 1 && s.size() > width - 1) s = s.substr(0, width - 1);
  return s;
}

void ProgressLine::Update(const Progress& p) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  bool last = p.bytes_total && p.bytes_done >= p.bytes_total;
  if (drawn_ && !last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = Render(verb_, p, elapsed, TerminalWidth());
  std::fprintf(stderr, "\r\x1b[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Finish() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

ProgressFn ProgressLine::Callback() {
  if (!enabled_) return nullptr;
  return [this](const Progress& p) { Update(p); };
}

}  // namespace maestro
