// util/time_util.h — timestamps and durations as maestro-db prints and parses them.
#pragma once

#include <cstdint>
#include <string>

#include "util/status.h"

namespace maestro {

// UTC "YYYYmmdd_HHMMSS" (the original tool's backup stamp; the snapshot id).
std::string FormatStamp(int64_t micros);
// UTC ISO-8601 "2025-08-08T14:30:22Z".
std::string FormatIso8601(int64_t micros);
// Accepts "2025-08-08T14:30:22Z", "2025-08-08 14:30:22", "2025-08-08T14:30",
// "2025-08-08", with an optional "Z" or "+HH:MM" offset (no offset = UTC);
// also the stamp form "20250808_143022". Returns micros since the epoch.
Result<int64_t> ParseTime(const std::string& text);
// "90s", "45m", "2h", "7d", "1w", "1h30m"; a bare number is seconds.
Result<int64_t> ParseDurationSeconds(const std::string& text);
std::string FormatDuration(int64_t seconds);  // "2h", "1d3h"...
std::string FormatBytes(uint64_t bytes);       // "1.5 MiB"

}  // namespace maestro
