// snapshot/compress_pool.h — worker threads that store blobs, compressed with
// zstd or raw, and hand them to a PackWriter.
//
// A data blob of at most kGroupMemberMax (= kTrialBytes) bytes in a format-4
// repository goes, unless its hint says incompressible, into the pack
// writer's blob group (snapshot/blob_group.h: compressed with its neighbours);
// its verdict is false (TrialSaysIncompressible says the same of it).
// Raw or compressed, decided cheaply per blob: a blob longer than kTrialBytes
// is first trial-compressed on its first kTrialBytes at zstd level 1; when
// that saves under 3% the blob is stored raw (snapshot/blob_codec.h: a zstd
// frame of RAW blocks, a memcpy) and the real compressor is not run on it.
// A shorter blob is compressed outright and stored raw when that saved under
// 3%. A blob submitted with BlobHint::incompressible (its file was found
// incompressible by an earlier snapshot) is stored raw without a trial.
// BlobHint::verdict, when set, receives the blob's trial outcome from a
// worker thread: it must outlive the pool's Drain or Finish, and nothing may read it
// before that returns.
//
// Blob data in flight is bounded by bytes (issue 14 point 2): Submit() waits
// until the blob fits the pool's in-flight budget before it copies it, and a
// worker gives its buffer back (kept for reuse, snapshot/blob_buffers.h) once
// the blob is in the pack writer; so queued and compressing blobs together
// hold at most in_flight_bytes (or one blob, when a blob is larger), whatever
// their sizes and the number of threads. The first error stops the pool
// (later jobs are drained unread) and Drain() and Finish() return it. Submit may be
// called from several producer threads (Create's readers); the destructor
// joins the workers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "snapshot/blob_buffers.h"
#include "snapshot/blob_codec.h"
#include "snapshot/bounded_queue.h"
#include "snapshot/pack_writer.h"
#include "util/hash.h"
#include "util/status.h"

typedef struct ZSTD_CCtx_s ZSTD_CCtx;

namespace maestro {

// Worker threads for a request of `requested` (0 = the number of cores, at most 8).
unsigned DefaultThreads(int requested);

// The per-file verdict, the same whoever computes it: for a blob over
// CompressPool::kTrialBytes the zstd-1 trial on its first kTrialBytes, for a
// shorter one its zstd-3 result; true when that saves under 3%; always false
// for a blob of at most kGroupMemberMax bytes (grouped, never judged alone). cctx and
// scratch are the caller's (one per thread). A file's flag is this verdict on
// its first chunk, so its listing does not depend on which of its blobs the
// repository already held.
bool TrialSaysIncompressible(ZSTD_CCtx* cctx, std::string_view d, std::string* scratch);

struct BlobHint {
  bool incompressible = false;  // store raw, no trial
  bool* verdict = nullptr;      // set by a worker to whether the blob was stored raw
};

// What the pool did, for progress, tests and benchmarks.
struct CompressStats {
  uint64_t trials = 0;      // sample trials run
  uint64_t compressed = 0;  // blobs the real compressor ran on
  uint64_t raw = 0;         // blobs stored raw
  uint64_t grouped = 0;     // blobs handed to the pack writer's group (stored_bytes_out leaves them out)
  uint64_t raw_bytes_in = 0, stored_bytes_out = 0;
};

class CompressPool {
 public:
  static constexpr size_t kTrialBytes = 64 * 1024;
  // Blob bytes queued or being compressed at most: a little over twice the
  // largest chunk (snapshot/chunker.h), so two of them fit, with room.
  static constexpr size_t kDefaultInFlightBytes = 9u << 20;

  CompressPool(PackWriter* sink, unsigned threads, size_t in_flight_bytes = kDefaultInFlightBytes);
  ~CompressPool();
  CompressPool(const CompressPool&) = delete;
  CompressPool& operator=(const CompressPool&) = delete;

  // Queues one blob once its bytes fit the budget: a copy of data (made
  // after the wait), or the string itself. false when the pool has stopped on
  // an error (see status()).
  bool Submit(const Hash128& id, std::string_view data, BlobHint hint = {});
  bool Submit(const Hash128& id, std::string&& data, BlobHint hint = {});
  // Waits until every job submitted so far is in the pack writer (the
  // workers stay, for the next blobs); the first error.
  Status Drain();
  // Waits for every job and stops the workers; the first error.
  Status Finish();
  Status status();
  CompressStats stats() const;

 private:
  struct Job {
    Hash128 id;
    std::string data;
    BlobHint hint;
  };
  struct Worker;
  bool Queue(Job&& job);  // false (and the buffer given back) when the pool stopped
  void JobDone();
  void Stop();
  void Run();
  Status Store(Worker* w, const Job& job);
  void Fail(const Status& s);

  PackWriter* sink_;
  BlobBuffers buffers_;
  BoundedQueue<Job> queue_;  // its count bound is never reached: buffers_ bounds it
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable idle_;  // unfinished_ reached 0
  size_t unfinished_ = 0;         // jobs queued or being stored. mu_
  Status status_;
  std::atomic<uint64_t> trials_{0}, compressed_{0}, raw_{0}, grouped_{0}, bytes_in_{0}, bytes_out_{0};
};

}  // namespace maestro
