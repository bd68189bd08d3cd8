// snapshot/file_saver.h — the third step of Create: reads a file, cuts it into
// content-defined chunks (snapshot/chunker.h), hashes each chunk and the whole
// file, and submits the chunks the repository does not hold yet to the
// compressor pool (restic's FileSaver).
//
// A file that changes while it is read (size, mtime or inode differ before and
// after, or fewer bytes were read than it has) is read again, up to
// kMaxReadTries times; the last read is kept and *consistent says whether it
// is self-consistent. The read buffer is sized by the file (at most 1.5 x the
// largest chunk, grown only when a file is longer than its stat said) and
// reused, so file data in memory does not grow with file size. The chunker
// needs a largest chunk of look-ahead, so each refill of a full buffer moves
// the unread rest (under one largest chunk) to its front and reads at least
// half a largest chunk: at most two bytes moved per byte read, for 2 MiB less
// per reader than a 2 x buffer (issue 14's 64 MiB at 100,000 documents).
//
// ManifestFile::incompressible: a file that has it set when Save starts (an
// earlier snapshot found it incompressible) has its new blobs stored raw with
// no trial; otherwise the pool's trial on the first blob it submits for the
// file is written into it (by a worker: read it only after the pool's Drain or Finish).
//
// Thread safety: one FileSaver per reader thread (snapshot/read_pool.h); the
// savers of one Create share a PendingBlobs, the pool (set_pool: one for the whole Create)
// and the byte counter.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <memory>

#include "snapshot/blob_index.h"
#include "snapshot/chunker.h"
#include "snapshot/compress_pool.h"
#include "snapshot/pending_blobs.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"

namespace maestro {

constexpr int kMaxReadTries = 3;

class FileSaver {
 public:
  // stored, pending, pool, bytes_done (and sealer) must outlive the saver.
  // bytes_done counts the bytes read (a re-read takes back what the read
  // before it added). sealer names the chunks (Sealer::BlobId); null = PlainSealer().
  FileSaver(Env* env, const StoredBlobs& stored, PendingBlobs* pending, CompressPool* pool,
            std::atomic<uint64_t>* bytes_done, const Sealer* sealer = nullptr)
      : env_(env), stored_(stored), pending_(pending), pool_(pool), bytes_done_(bytes_done),
        sealer_(sealer ? sealer : PlainSealer().get()) {}

  // The pool the next Saves submit to (Create sets one for all its batches).
  void set_pool(CompressPool* pool) { pool_ = pool; }

  // Bytes the read buffer holds now (memory, not data): at most 1.5 x the
  // largest chunk whatever the files saved.
  size_t buffer_bytes() const { return cap_; }

  // Reads read_path (source, or the SQLite backup of it in tmp/) into f:
  // chunks, hash, size; and, for a file that is not an SQLite backup, the
  // mode, owner, mtime and inode it had after the read. where ("store/path")
  // names it in messages. *read_bytes: the bytes read, re-reads included.
  Status Save(const std::string& where, const std::string& source, const std::string& read_path, ManifestFile* f,
              uint64_t* read_bytes, bool* consistent);

 private:
  Status ReadOnce(const std::string& read_path, uint64_t size_hint, ManifestFile* f, uint64_t* read_bytes);
  // Fills buf_[start_, start_ + have_) up to its size (or to the end of the
  // file), growing buf_ to FullBuffer() when it is full before the end.
  Status Refill(SequentialFile* in, bool* eof);
  // Makes buf_ hold at least n bytes, exactly n when it grows, keeping the
  // unconsumed bytes (moved to its front).
  void Grow(size_t n);
  size_t FullBuffer() const { return chunker_.params().max_size + chunker_.params().max_size / 2; }

  Env* env_;
  const StoredBlobs& stored_;
  PendingBlobs* pending_;
  CompressPool* pool_;
  std::atomic<uint64_t>* bytes_done_;
  const Sealer* sealer_;
  Chunker chunker_;
  bool known_incompressible_ = false;  // of the file being saved
  bool verdict_asked_ = false;         // its first chunk carries the verdict
  struct FreeCctx {
    void operator()(ZSTD_CCtx* c) const;
  };
  std::unique_ptr<ZSTD_CCtx, FreeCctx> cctx_;  // the verdict on a first chunk already stored
  std::string trial_scratch_;
  // Allocated by the first read (a snapshot of unchanged data reads nothing),
  // grown by Grow only: cap_ is what it holds.
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t start_ = 0, have_ = 0;  // unconsumed bytes: buf_[start_, start_ + have_)
};

}  // namespace maestro
