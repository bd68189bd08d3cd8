// snapshot/sorted_table.h — a local file of fixed-size records sorted by a
// 16-byte key (the bounded-memory form of the blob index and of blob id sets,
// issue 14 point 2). Not part of the repository: tables live in a scratch
// folder (snapshot/scratch_area.h) or the local cache/ and are rebuilt when
// damaged, never believed.
//
// Layout: blocks of records_per_block records (the last may be shorter), each
// followed by the XXH3-64 of its bytes; then a 48-byte footer: "MDBSTBL1",
// record size (u32), records per block (u32), record count (u64), a caller's
// tag (16 bytes, e.g. what the table was built from), XXH3-64 of the footer's
// first 40 bytes. Integers little-endian. A record's first 16 bytes are its
// key: a Hash128 big-endian, hi then lo (EncodeKey), so byte order is
// Hash128's order. Keys are strictly ascending (one record per key).
//
// TableReader::Open reads the whole file once and checks every block's
// checksum and the key order, keeping each block's first key in memory (16
// bytes a block); lookups read one block through a small cache and check it
// again. A failed check is IoError naming the file (local scratch damage is
// not repository damage).
//
// Thread safety: TableWriter, one thread. TableReader: Find and ForEach may be
// called from several threads at once (the cache has its own mutex).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/env.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

constexpr size_t kTableKeySize = 16;
void EncodeKey(const Hash128& h, char* out);  // 16 bytes
Hash128 DecodeKey(const char* p);

class TableWriter {
 public:
  // Creates (or truncates) path. 4 KiB of records a block.
  Status Open(Env* env, const std::string& path, size_t record_size);
  // rec: record_size bytes; keys must ascend strictly (else Internal).
  Status Add(const char* rec);
  // Writes the last block and the footer (and fsyncs when sync), then closes.
  Status Finish(const Hash128& tag, bool sync = false);
  uint64_t count() const { return count_; }

 private:
  Status FlushBlock();

  std::unique_ptr<WritableFile> f_;
  std::string path_;
  size_t record_size_ = 0, per_block_ = 0;
  uint64_t count_ = 0;
  std::string block_;
  std::array<char, kTableKeySize> last_{};
};

class TableReader {
 public:
  TableReader() = default;
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  // Opens and checks the whole table (see above); IoError when it is not a
  // well-formed table of record_size records.
  Status Open(Env* env, const std::string& path, size_t record_size);
  // The record whose key is key, into out (record_size bytes); false when
  // none, or when its block could not be read (*status then says why).
  bool Find(const char* key, char* out, Status* status) const;
  // Every record in key order; stops at fn's first error.
  Status ForEach(const std::function<Status(const char* rec)>& fn) const;
  uint64_t count() const { return count_; }
  const Hash128& tag() const { return tag_; }
  const std::string& path() const { return path_; }
  // Block by block, for a merge of several tables that reads each in step:
  // the records of block b (checked), into out.
  uint64_t blocks() const { return first_keys_.size(); }
  Status ReadRecords(uint64_t b, std::string* out) const { return ReadBlock(b, out); }

 private:
  struct Slot {
    uint64_t block = UINT64_MAX;
    uint64_t used = 0;
    std::string bytes;
  };
  static constexpr size_t kCacheBlocks = 16;
  uint64_t BlockOffset(uint64_t b) const { return b * (per_block_ * record_size_ + 8); }
  uint64_t BlockRecords(uint64_t b) const;
  Status ReadBlock(uint64_t b, std::string* out) const;  // read and checked

  std::unique_ptr<RandomAccessFile> f_;
  std::string path_;
  size_t record_size_ = 0, per_block_ = 0;
  uint64_t count_ = 0;
  Hash128 tag_;
  std::vector<std::array<char, kTableKeySize>> first_keys_;
  mutable std::mutex mu_;
  mutable std::vector<Slot> cache_;
  mutable uint64_t clock_ = 0;
};

}  // namespace maestro
