// util/json_text.h — JSON that holds strings from disk, which need not be UTF-8.
//
// nlohmann::json::dump() throws on a string that is not UTF-8: a PDF named in
// Latin-1, an install root made by an older system's tools. Those strings reach
// --json output, the schedule's log, and the journal's payloads (store paths,
// the files a cleanup removes). None of the functions here throws on them:
//
//   JsonText(j, indent)   the text to print or log: bytes that are not UTF-8
//                         become U+FFFD, as Go's encoder (restic --json) does.
//   EncodeByteStrings(j)  lossless, for JSON that is read back (the journal): a
//                         string value that is not UTF-8 becomes the object
//                         {"maestro_bytes_hex": "<its bytes in hex>"}.
//   DecodeByteStrings(j)  the reverse: every such object is the string again,
//                         byte for byte. Anything else is left as it is.
//
// Object keys are not encoded (every caller's keys are names this program
// chose); JsonText still prints a stray one with U+FFFD rather than throwing.
// Pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace maestro {

std::string JsonText(const nlohmann::json& j, int indent = -1);
nlohmann::json EncodeByteStrings(const nlohmann::json& j);
void DecodeByteStrings(nlohmann::json* j);

}  // namespace maestro
