#include "snapshot/compress_pool.h"

#include <zstd.h>

#include <algorithm>

namespace maestro {

namespace {
constexpr int kZstdLevel = 3;
}  // namespace

unsigned DefaultThreads(int requested) {
  if (requested > 0) return static_cast<unsigned>(requested);
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 2 : std::min(hc, 8u);
}

CompressPool::CompressPool(PackWriter* sink, unsigned threads) : sink_(sink), queue_(threads * 2) {
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
}

CompressPool::~CompressPool() { Stop(); }

Status CompressPool::Finish() {
  Stop();
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

Status CompressPool::status() {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

void CompressPool::Stop() {
  queue_.Close();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

void CompressPool::Fail(const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (status_.ok()) status_ = s;
  queue_.Close();
}

void CompressPool::Run() {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  Job job;
  while (queue_.Pop(&job)) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!status_.ok()) continue;  // drain after a failure
    }
    out.resize(ZSTD_compressBound(job.data.size()));
    size_t n = ZSTD_compressCCtx(cctx, out.data(), out.size(), job.data.data(), job.data.size(), kZstdLevel);
    Status s;
    if (ZSTD_isError(n)) {
      s = Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    } else {
      s = sink_->Add(job.id, static_cast<uint32_t>(job.data.size()), std::string_view(out.data(), n));
    }
    if (!s.ok()) Fail(s);
  }
  ZSTD_freeCCtx(cctx);
}

}  // namespace maestro
