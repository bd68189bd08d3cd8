// snapshot/read_pool.h — runs the reading step of Create on several threads,
// so one file's open, read, chunking and hashing overlap another's, and on a
// cold page cache several reads are in flight at once (one reader thread left
// a core idle and the disk at queue depth one).
//
// Run(n, work, tick) calls work(i, slot) once for every i in [0, n), i taken
// in increasing order by `readers` threads; slot (0..readers-1) names the
// thread, so work can keep one scratch object per thread. tick() runs on the
// calling thread about every kTickMs while work runs (progress callbacks stay
// on the caller's thread, as CreateOptions promises). The first error stops
// the run: items not yet begun are skipped, the threads are joined, and Run
// returns it. work must be safe to call from several threads at once.
#pragma once

#include <cstddef>
#include <functional>

#include "util/status.h"

namespace maestro {

// Reader threads beside `threads` compressor threads: as many (at least two),
// so a reader waiting on the disk leaves the cores busy. Each holds a read
// buffer of up to 2 x the largest chunk: 3 readers measured no faster than 2
// on 2 cores and 13 MiB larger.
unsigned DefaultReaders(unsigned threads);

class ReadPool {
 public:
  static constexpr int kTickMs = 50;
  explicit ReadPool(unsigned readers) : readers_(readers == 0 ? 1 : readers) {}
  Status Run(size_t n, const std::function<Status(size_t i, unsigned slot)>& work, const std::function<void()>& tick);

 private:
  unsigned readers_;
};

}  // namespace maestro
