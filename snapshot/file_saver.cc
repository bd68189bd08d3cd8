#include "snapshot/file_saver.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

namespace maestro {

void FileSaver::FreeCctx::operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }

void FileSaver::Grow(size_t n) {
  if (n <= cap_) return;
  // Exactly n: std::string and std::vector grow to at least twice their old
  // capacity, so 5 MiB grown to 6 MiB would hold 10 MiB. new char[] also
  // leaves the pages untouched until a read fills them.
  std::unique_ptr<char[]> bigger(new char[n]);
  if (have_ > 0) std::memcpy(bigger.get(), buf_.get() + start_, have_);
  buf_ = std::move(bigger);
  cap_ = n;
  start_ = 0;
}

Status FileSaver::Refill(SequentialFile* in, bool* eof) {
  // Compact only when refilling: under one largest chunk moved per refill,
  // which then reads at least half of one (FullBuffer).
  if (start_ > 0) {
    std::memmove(buf_.get(), buf_.get() + start_, have_);
    start_ = 0;
  }
  const size_t full = FullBuffer();
  while (!*eof) {
    if (have_ == cap_) {
      // Longer than its stat said: the chunker needs max_size bytes ahead.
      if (cap_ >= full) break;
      Grow(full);
    }
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(in->Read(cap_ - have_, buf_.get() + have_, &got));
    if (got == 0) *eof = true;
    have_ += got;
  }
  return Status::OK();
}

Status FileSaver::ReadOnce(const std::string& read_path, uint64_t size_hint, ManifestFile* f, uint64_t* read_bytes) {
  std::unique_ptr<SequentialFile> in;
  MAESTRO_RETURN_IF_ERROR(env_->NewSequentialFile(read_path, &in));
  const size_t max_chunk = chunker_.params().max_size;
  // One byte over the size, so a file that did not grow is read to its end in one fill.
  size_t want = static_cast<size_t>(std::min<uint64_t>(FullBuffer(), std::max<uint64_t>(size_hint + 1, 4096)));
  start_ = have_ = 0;
  Grow(want);
  Hasher128 whole;
  f->chunks.clear();
  bool eof = false;
  uint64_t total = 0;
  while (true) {
    if (!eof && have_ < max_chunk) MAESTRO_RETURN_IF_ERROR(Refill(in.get(), &eof));
    if (have_ == 0) break;
    size_t cut = chunker_.FindCut(reinterpret_cast<const uint8_t*>(buf_.get() + start_), have_);
    std::string_view chunk(buf_.get() + start_, cut);
    Hash128 h = sealer_->BlobId(chunk);
    whole.Update(chunk);
    f->chunks.push_back(h);
    // The file's first chunk speaks for it (compress_pool.h), once: a re-read's
    // worker must not write the flag a previous read's worker may be writing.
    const bool first = !known_incompressible_ && !verdict_asked_;
    if (first) verdict_asked_ = true;
    if (!stored_.count(h) && pending_->Claim(h)) {
      BlobHint hint;
      hint.incompressible = known_incompressible_;
      if (first) hint.verdict = &f->incompressible;
      if (!pool_->Submit(h, chunk, hint)) return pool_->status();  // copied once there is room
    } else if (first) {
      if (!cctx_) cctx_.reset(ZSTD_createCCtx());
      f->incompressible = TrialSaysIncompressible(cctx_.get(), chunk, &trial_scratch_);
    }
    total += cut;
    *bytes_done_ += cut;
    start_ += cut;
    have_ -= cut;
  }
  f->hash = whole.Digest();
  f->size = total;
  *read_bytes = total;
  return Status::OK();
}

Status FileSaver::Save(const std::string& where, const std::string& source, const std::string& read_path,
                       ManifestFile* f, uint64_t* read_bytes, bool* consistent) {
  *consistent = false;
  // Read before any blob of this file is submitted: from then on a worker may write it.
  known_incompressible_ = f->incompressible;
  verdict_asked_ = false;
  for (int attempt = 0; attempt < kMaxReadTries && !*consistent; ++attempt) {
    FileInfo before, after;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(read_path, &before));
    if (!before.exists)
      return Status::NotFound("store " + where + ": " + source + " vanished while the snapshot was taken",
                              "run the snapshot again");
    uint64_t got = 0;
    MAESTRO_RETURN_IF_ERROR(ReadOnce(read_path, before.size, f, &got));
    *read_bytes += got;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(read_path, &after));
    *consistent = after.exists && before.size == after.size && before.mtime_ns == after.mtime_ns &&
                  before.inode == after.inode && got == after.size;
    // An SQLite read is of the backup copy in tmp/: its mode, owner and
    // mtime are the copy's, so the live file's from the plan are kept.
    if (!f->sqlite_backup) {
      f->mode = after.mode;
      f->uid = after.uid;
      f->gid = after.gid;
      f->mtime_ns = after.mtime_ns;
      f->inode = after.inode;
    }
    if (!*consistent && attempt + 1 < kMaxReadTries) *bytes_done_ -= got;
  }
  return Status::OK();
}

}  // namespace maestro
