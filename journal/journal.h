// journal/journal.h — START HERE for journal/: the durable write-ahead log of
// maestro-db's multi-store transactions.
//
// Words:
//   journal      an LMDB environment at <repo>/journal/ (directory mode 0700,
//                files 0600) holding one record per key, keys = sequence numbers
//   record       one durable fact about a transaction: begun, snapshot taken,
//                step intent, step done, commit, step undone, end. Each carries a
//                monotonically increasing sequence number, a format version and an
//                XXH3-64 checksum (format: docs/journal-format.md)
//   transaction  (txn) a kind ("reset", "cleanup", "restore") with arguments and
//                an ordered list of steps, identified by a txn id
//   commit point the commit record: once it is durable the transaction is rolled
//                forward by recovery, never back
//   unfinished   a txn with a begin record and no end record
//
// Durability: Append() returns only after mdb_txn_commit (default sync: fsync of
// the data file), so a record that Append() reported is there after a crash or a
// power cut. A crash during Append() leaves the journal as it was before (LMDB
// commits are atomic).
//
// Damage: a record whose checksum does not match, or that does not decode, makes
// every read fail with Status::Corruption naming the sequence number and the
// journal path; it is never silently skipped or replayed.
//
// Map growth: the map starts small and is doubled (mdb_env_set_mapsize) whenever
// a write hits MDB_MAP_FULL, then the write is retried. Stale reader slots left by
// killed processes are cleared at open (mdb_reader_check).
//
// One open per process: Journal::Open keeps a process-wide registry keyed by the
// directory's real path and hands out the same instance to a second caller
// (LMDB forbids opening one environment twice in a process).
//
// Thread safety: a Journal may be shared between threads; Append/Read serialise
// on an internal mutex. Between processes, writers are serialised by the
// repository lock (snapshot/repo_lock.h) and by LMDB's own writer lock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

inline constexpr uint8_t kJournalFormatVersion = 1;

enum class RecordType : uint8_t {
  kBegin = 1,     // txn_id, kind, args
  kSnapshot = 2,  // txn_id, snapshot_id: the pre-image exists and verified
  kIntent = 3,    // txn_id, step, step_name: about to touch a store
  kDone = 4,      // txn_id, step, step_name: the step finished
  kCommit = 5,    // txn_id: the commit point
  kUndone = 6,    // txn_id, step, step_name: one step rolled back
  kEnd = 7,       // txn_id, outcome ("committed" / "rolled_back")
};
const char* RecordTypeName(RecordType t);

struct JournalRecord {
  uint64_t seq = 0;          // assigned by Append
  uint8_t version = kJournalFormatVersion;
  RecordType type = RecordType::kBegin;
  int64_t time_micros = 0;   // assigned by Append
  std::string txn_id;
  std::string kind;          // kBegin
  nlohmann::json args;       // kBegin: the transaction's arguments (its full plan)
  std::string snapshot_id;   // kSnapshot
  int step = -1;             // kIntent/kDone/kUndone: index into the step list
  std::string step_name;
  std::string outcome;       // kEnd
  std::string detail;        // free text (an error that caused a rollback...)
};

// Byte encoding (docs/journal-format.md). Decode fails with Corruption naming seq.
std::string EncodeRecord(const JournalRecord& r);
Result<JournalRecord> DecodeRecord(std::string_view bytes, uint64_t key_seq);

// What the records of one transaction say, in words a user can act on.
struct TxnSummary {
  std::string txn_id;
  std::string kind;
  nlohmann::json args;
  int64_t begun_micros = 0;
  std::string snapshot_id;            // "" until the snapshot record
  std::vector<int> intents, done, undone;  // step indices, in record order
  std::vector<std::string> step_names;     // index -> name (as recorded)
  bool committed = false;
  bool ended = false;
  std::string outcome;  // when ended
  uint64_t first_seq = 0, last_seq = 0;
  bool HasIntent(int step) const;
  bool IsDone(int step) const;
  bool IsUndone(int step) const;
  // "began 2025-... ; snapshot X; 3 of the steps done, last: reset.swap.ai; not committed"
  std::string Describe() const;
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens (creating when create_if_missing) the journal directory dir.
  // NotFound when missing and !create_if_missing. Returns the process's existing
  // instance for the same directory if there is one.
  static Result<std::shared_ptr<Journal>> Open(Env* env, const std::string& dir, bool create_if_missing);

  const std::string& dir() const { return dir_; }

  // Assigns r->seq and r->time_micros, writes the record durably.
  Status Append(JournalRecord* r);

  // Every record in sequence order (Corruption on a damaged record).
  Result<std::vector<JournalRecord>> ReadAll();
  // The newest limit records, oldest first.
  Result<std::vector<JournalRecord>> ReadTail(size_t limit);
  // Transactions, oldest first, folded from the records.
  Result<std::vector<TxnSummary>> Transactions();
  // The newest transaction without an end record, if any.
  Result<std::optional<TxnSummary>> Unfinished();

  // Current map size (for tests of map growth).
  size_t map_size() const { return map_size_; }
  // Testing only: stores raw bytes under key seq (to simulate damage).
  Status PutRawForTesting(uint64_t seq, std::string_view bytes);

 private:
  Journal(Env* env, std::string dir);
  Status OpenEnv();
  Status WriteWithGrowth(uint64_t seq, std::string_view bytes);
  Result<std::vector<JournalRecord>> ReadRange(size_t limit_tail);

  Env* env_;
  std::string dir_;
  void* env_handle_ = nullptr;  // MDB_env*
  unsigned int dbi_ = 0;
  size_t map_size_ = 0;
  uint64_t next_seq_ = 1;
  std::mutex mu_;
};

// The one helper that turns an LMDB return code into a Status.
Status LmdbError(const std::string& context, int rc);

// Folds records into transactions (pure; exposed for tests).
std::vector<TxnSummary> FoldTransactions(const std::vector<JournalRecord>& records);

// Where the journal of a repository lives.
std::string JournalDir(const std::string& repo_dir);

}  // namespace maestro
