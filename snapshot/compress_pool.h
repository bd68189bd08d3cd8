// snapshot/compress_pool.h — worker threads that compress blobs with zstd and
// hand them to a PackWriter.
//
// Submit() blocks while the queue (2 jobs a worker) is full, so blob data in
// flight is bounded by (queue depth + workers) x the largest chunk. The first
// error stops the pool (later jobs are drained unread) and Finish() returns
// it. Submit is called from one producer thread; the destructor joins the
// workers.
#pragma once

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "snapshot/bounded_queue.h"
#include "snapshot/pack_writer.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

// Worker threads for a request of `requested` (0 = the number of cores, at most 8).
unsigned DefaultThreads(int requested);

class CompressPool {
 public:
  CompressPool(PackWriter* sink, unsigned threads);
  ~CompressPool();
  CompressPool(const CompressPool&) = delete;
  CompressPool& operator=(const CompressPool&) = delete;

  // false when the pool has stopped on an error (see status()).
  bool Submit(const Hash128& id, std::string data) { return queue_.Push(Job{id, std::move(data)}); }
  // Waits for every job; the first error.
  Status Finish();
  Status status();

 private:
  struct Job {
    Hash128 id;
    std::string data;
  };
  void Stop();
  void Run();
  void Fail(const Status& s);

  PackWriter* sink_;
  BoundedQueue<Job> queue_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  Status status_;
};

}  // namespace maestro
