// snapshot/compress_pool.h — worker threads that store blobs, compressed with
// zstd or raw, and hand them to a PackWriter.
//
// Raw or compressed, decided cheaply per blob: a blob longer than kTrialBytes
// is first trial-compressed on its first kTrialBytes at zstd level 1; when
// that saves under 3% the blob is stored raw (snapshot/blob_codec.h: a zstd
// frame of RAW blocks, a memcpy) and the real compressor is not run on it.
// A shorter blob is compressed outright and stored raw when that saved under
// 3%. A blob submitted with BlobHint::incompressible (its file was found
// incompressible by an earlier snapshot) is stored raw without a trial.
// BlobHint::verdict, when set, receives the blob's trial outcome from a
// worker thread: it must outlive the pool's Finish, and nothing may read it
// before Finish returns.
//
// Submit() blocks while the queue (kQueuePerWorker jobs a worker) is full, so
// blob data in flight is bounded by (queue depth + workers) x the largest
// chunk. The first error stops the pool (later jobs are drained unread) and
// Finish() returns it. Submit is called from one producer thread; the
// destructor joins the workers.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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
// shorter one its zstd-3 result; true when that saves under 3%. cctx and
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
  uint64_t raw_bytes_in = 0, stored_bytes_out = 0;
};

class CompressPool {
 public:
  static constexpr size_t kTrialBytes = 64 * 1024;
  static constexpr unsigned kQueuePerWorker = 2;

  CompressPool(PackWriter* sink, unsigned threads);
  ~CompressPool();
  CompressPool(const CompressPool&) = delete;
  CompressPool& operator=(const CompressPool&) = delete;

  // false when the pool has stopped on an error (see status()).
  bool Submit(const Hash128& id, std::string data, BlobHint hint = {}) {
    return queue_.Push(Job{id, std::move(data), hint});
  }
  // Waits for every job; the first error.
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
  void Stop();
  void Run();
  Status Store(Worker* w, const Job& job);
  void Fail(const Status& s);

  PackWriter* sink_;
  BoundedQueue<Job> queue_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  Status status_;
  std::atomic<uint64_t> trials_{0}, compressed_{0}, raw_{0}, bytes_in_{0}, bytes_out_{0};
};

}  // namespace maestro
