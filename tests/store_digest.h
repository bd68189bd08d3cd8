// tests/store_digest.h — a digest of an install's six stores that compares
// logical content: every SQLite database (main, ai, and any SQLite file inside a
// directory store such as chroma.sqlite3) is hashed table by table over its rows
// (sorted, so page layout, free pages and -wal state do not matter); every other
// file by its bytes. -wal/-shm/-journal and chroma.lock are skipped. Columns
// named applied_at (migration history timestamps) are left out so two fresh
// schemas compare equal. Keys: "<store>" for a SQLite store, "<store>/<rel>"
// inside directory stores (a directory itself is a key too, value "dir").
#pragma once

#include <map>
#include <string>

namespace maestro::testing {

std::map<std::string, std::string> StoreDigest(const std::string& root);
// The rows of one SQLite database as a digest (table -> hash).
std::string SqliteRowDigest(const std::string& path);

}  // namespace maestro::testing
