// util/text.h — checks and escapes for strings that come from users or disk.
//
// EscapeForTerminal: what text-mode output prints for a string the user (or a
// damaged file) controls — snapshot labels, paths, hostnames, warnings. The
// string itself is stored and compared as given; only its display changes:
//   \n \r \t          -> "\n" "\r" "\t" (two characters each)
//   other C0, DEL      -> "\xNN"
//   U+0080..U+009F     -> "\u00NN" (C1 controls: some terminals act on them)
//   bytes not UTF-8    -> "\xNN"
// Everything else (printable ASCII, valid UTF-8, backslashes) is kept, so a
// plain label or path prints unchanged. JSON output needs none of this (the
// JSON encoder escapes control characters itself).
//
// IsValidUtf8: well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
//
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace maestro {

std::string EscapeForTerminal(std::string_view s);
bool IsValidUtf8(std::string_view s);

}  // namespace maestro
