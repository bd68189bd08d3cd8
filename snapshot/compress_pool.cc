#include "snapshot/compress_pool.h"

#include <zstd.h>

#include <algorithm>

namespace maestro {

namespace {
constexpr int kZstdLevel = 3;
constexpr int kTrialLevel = 1;

// Saving under 3% is not worth a decompression on every read.
bool SavesEnough(size_t in, size_t out) { return out < in - in * 3 / 100; }

Status ZstdError(size_t n) {
  return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
}
}  // namespace

struct CompressPool::Worker {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  ~Worker() { ZSTD_freeCCtx(cctx); }
};

unsigned DefaultThreads(int requested) {
  if (requested > 0) return static_cast<unsigned>(requested);
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 2 : std::min(hc, 8u);
}

CompressPool::CompressPool(PackWriter* sink, unsigned threads, size_t in_flight_bytes)
    : sink_(sink), buffers_(in_flight_bytes), queue_(static_cast<size_t>(-1)) {
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
}

CompressPool::~CompressPool() { Stop(); }

bool CompressPool::Submit(const Hash128& id, std::string_view data, BlobHint hint) {
  Job job{id, std::string(), hint};
  if (!buffers_.Take(data, &job.data)) return false;
  return Queue(std::move(job));
}

bool CompressPool::Submit(const Hash128& id, std::string&& data, BlobHint hint) {
  if (!buffers_.Adopt(data)) return false;
  return Queue(Job{id, std::move(data), hint});
}

bool CompressPool::Queue(Job&& job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    unfinished_++;
  }
  if (queue_.Push(std::move(job))) return true;
  buffers_.Give(std::move(job.data));  // Push leaves it on failure
  JobDone();
  return false;
}

void CompressPool::JobDone() {
  std::lock_guard<std::mutex> l(mu_);
  if (--unfinished_ == 0) idle_.notify_all();
}

Status CompressPool::Drain() {
  std::unique_lock<std::mutex> l(mu_);
  idle_.wait(l, [&] { return unfinished_ == 0; });
  return status_;
}

Status CompressPool::Finish() {
  Stop();
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

Status CompressPool::status() {
  std::lock_guard<std::mutex> l(mu_);
  return status_;
}

CompressStats CompressPool::stats() const {
  CompressStats s;
  s.trials = trials_.load();
  s.compressed = compressed_.load();
  s.raw = raw_.load();
  s.grouped = grouped_.load();
  s.raw_bytes_in = bytes_in_.load();
  s.stored_bytes_out = bytes_out_.load();
  return s;
}

void CompressPool::Stop() {
  queue_.Close();
  buffers_.Close();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

void CompressPool::Fail(const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (status_.ok()) status_ = s;
  queue_.Close();
  buffers_.Close();
}

bool TrialSaysIncompressible(ZSTD_CCtx* cctx, std::string_view d, std::string* scratch) {
  // A small blob is judged with its group, never alone (blob_group.h).
  if (d.size() <= kGroupMemberMax) return false;
  const bool trial = d.size() > CompressPool::kTrialBytes;
  const size_t n_in = trial ? CompressPool::kTrialBytes : d.size();
  scratch->resize(ZSTD_compressBound(n_in));
  size_t n = ZSTD_compressCCtx(cctx, scratch->data(), scratch->size(), d.data(), n_in, trial ? kTrialLevel : kZstdLevel);
  return ZSTD_isError(n) || !SavesEnough(n_in, n);
}

// One blob: the trial (unless the hint settles it), then zstd or a raw frame.
Status CompressPool::Store(Worker* w, const Job& job) {
  const std::string& d = job.data;
  if (!job.hint.incompressible && d.size() <= kGroupMemberMax && sink_->groups()) {
    // Compressed with its neighbours: a small file alone loses their context.
    if (job.hint.verdict) *job.hint.verdict = false;
    grouped_++;
    bytes_in_ += d.size();
    return sink_->AddToGroup(job.id, d, w->cctx);
  }
  bool raw = job.hint.incompressible;
  bool verdict = raw;
  if (!raw && d.size() > kTrialBytes) {
    trials_++;
    raw = verdict = TrialSaysIncompressible(w->cctx, d, &w->out);
  }
  size_t stored_len = 0;
  if (!raw) {
    compressed_++;
    w->out.resize(ZSTD_compressBound(d.size()));
    stored_len = ZSTD_compressCCtx(w->cctx, w->out.data(), w->out.size(), d.data(), d.size(), kZstdLevel);
    if (ZSTD_isError(stored_len)) return ZstdError(stored_len);
    // A short blob had no trial: its own result decides (TrialSaysIncompressible's rule).
    raw = !SavesEnough(d.size(), stored_len);
    if (d.size() <= kTrialBytes) verdict = raw;
  }
  if (job.hint.verdict) *job.hint.verdict = verdict;
  bytes_in_ += d.size();
  if (raw) {  // the bare bytes: the pack writer frames them where the format needs it
    raw_++;
    bytes_out_ += d.size();
    return sink_->Add(job.id, static_cast<uint32_t>(d.size()), d, BlobCodec::kRaw);
  }
  bytes_out_ += stored_len;
  return sink_->Add(job.id, static_cast<uint32_t>(d.size()), std::string_view(w->out.data(), stored_len),
                    BlobCodec::kZstd);
}

void CompressPool::Run() {
  Worker w;
  Job job;
  while (queue_.Pop(&job)) {
    bool failed;
    {
      std::lock_guard<std::mutex> l(mu_);
      failed = !status_.ok();  // drain after a failure
    }
    Status s = failed ? Status::OK() : Store(&w, job);
    // Given back before the next wait: a waiting worker holds no buffer.
    buffers_.Give(std::move(job.data));
    job.data = std::string();
    if (!s.ok()) Fail(s);
    JobDone();  // after Fail: Drain returns the error
  }
}

}  // namespace maestro
