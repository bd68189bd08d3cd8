// snapshot/pack_writer.h — appends compressed blobs to pack files.
//
// The pack's version is the repository's: version 1 (blob headers) in a
// format-3 repository; version 4 in a format-4 one: each blob's bytes are
// Sealer::SealBlob(id, codec output), and the sealed header of every blob's
// entry plus the trailer end the pack. A blob is sealed in the thread that
// Adds it (the compressor pool's workers), outside the writer's lock.
// A pack is built in the local tmp/ (through Env) and published once it
// reaches the target size (16 MiB) or 8192 blobs, or at Finish: fsync, then RepoFiles::PublishPack
// (the local backend renames it into packs/ and fsyncs the folder). Entries
// become visible through entries() only for published packs, so an index
// never names a pack that is not durable. A crash leaves at most a pack file
// in tmp/ (removed by the next writer) or a published pack no index names
// (indexed again by the next writer: snapshot/leftovers.h).
//
// Publishing in the background: a full pack is published on a thread of the
// writer's own while the next one fills, up to Backend::ParallelPuts() at once
// (1 for a local folder: its fsync no longer stalls the compressor that
// filled the pack; more for the rclone backend, whose uploads are worth
// overlapping); Add blocks while that many are in flight (so tmp/ holds at
// most that many packs plus the open one). A failed publish is returned by a
// later Add that closes a pack, or by Finish, which waits for every publish.
// An uploaded pack (ParallelPuts() > 1) is not fsynced locally (its file is
// only read by the upload, then removed); a local one is, before its rename,
// as ever. entries() and stored_bytes() name published packs only; callers
// read them after Finish (or WaitForPublishes).
//
// Index entries in bounded pieces (issue 14 point 2): PublishIndex writes the
// entries of the packs published so far as one index file (immutable; many
// are allowed) and forgets them, so a writer of many blobs calls it every
// kIndexPiece entries instead of holding them all. A crash after it leaves
// indexed packs no manifest names: reused by the next writer, removed by GC.
//
// Thread safety: Add, Finish, PublishIndex and the accessors may be called
// from several threads at once (the compressor pool's workers).
#pragma once

#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/blob_group.h"
#include "snapshot/format.h"
#include "snapshot/repo_files.h"
#include "util/task_group.h"

typedef struct ZSTD_CCtx_s ZSTD_CCtx;

namespace maestro {

class PackWriter {
 public:
  // crash_point: the named crash point passed after each pack is published.
  PackWriter(const RepoFiles& files, std::string crash_point);
  // An unpublished pack is abandoned in tmp/ (cleared by the next writer).
  ~PackWriter();
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  // Appends one blob: encoded is the codec's output (a zstd frame or frames,
  // or the raw bytes themselves), raw_len its decoded length. A format-3
  // repository takes only data blobs in zstd.
  Status Add(const Hash128& id, uint32_t raw_len, std::string_view encoded, BlobCodec codec = BlobCodec::kZstd,
             BlobType type = BlobType::kData);
  // Appends one data blob of at most kGroupMemberMax bytes (its plain
  // bytes) to the open blob group (snapshot/blob_group.h); a group that
  // reaches kGroupTarget is compressed in the calling thread and appended
  // like a blob, one entry per member (codec kGroup). A format-3 repository
  // has no groups: the blob goes in alone, zstd-compressed. Until its group
  // is appended a blob is in no pack (as the open pack's are in no published one).
  // cctx: the caller's zstd context for that (null: one of the thread's own).
  Status AddToGroup(const Hash128& id, std::string_view data, ZSTD_CCtx* cctx = nullptr);
  // True when AddToGroup groups (format 4).
  bool groups() const { return files_.v4(); }
  // Appends the open group, then publishes the last, partly filled pack.
  Status Finish();
  // Waits until every pack sealed so far is published (the open one stays
  // open); the first failed publish.
  Status WaitForPublishes();

  // Publishes a finished pack file that is not this writer's (`snap copy`
  // sending a source pack whole: the caller checked its bytes against name and
  // every blob against its id) as pack `name`, through Backend::PutCopyOf (the
  // file stays), in the background like a full pack of this writer's (Add's
  // limit on uploads in flight applies; a failure is returned as theirs). Its
  // entries (pack set to name) become visible once it is published; the open
  // pack is not touched. size: the file's length, counted in stored_bytes().
  Status AddWholePack(const Hash128& name, uint64_t size, std::vector<IndexEntry> entries, Env* env, std::string path);

  // Entries of published packs a PublishIndex holds at most about.
  static constexpr size_t kIndexPiece = 32768;
  // Checks the packs of one index piece before it is written: every pack its
  // entries name, with the length its publish sent (a copy Stats each on the
  // target: snapshot/copier.h "verified on arrival").
  using PieceCheck = std::function<Status(const std::map<Hash128, uint64_t>& pack_sizes)>;
  // The entries of the packs published since the last PublishIndex, as one
  // index file (none when there are none). With check, the file is written
  // only when check accepts exactly those entries' packs; on its error (or a
  // failed write) they are kept, unindexed, and the error returned.
  Status PublishIndex(const PieceCheck& check = nullptr);
  size_t unindexed();  // entries PublishIndex would write

  std::vector<IndexEntry> entries();  // since the last PublishIndex
  // Moves the entries out (no copy; the writer is done).
  std::vector<IndexEntry> TakeEntries();
  uint64_t stored_bytes();  // bytes of the published packs
  uint64_t index_bytes();   // bytes of the index files PublishIndex wrote

 private:
  struct OpenPack;
  Status StartPack();                 // mu_ held
  std::string TakeSealBuffer();       // one of seal_buffers_, or an empty one
  void KeepSealBuffer(std::string buffer);  // back into seal_buffers_ unless over kKeptSealBufferBytes
  // Appends stored (after hdr, a version-1 blob header or nothing) once, with
  // one entry per member (blob, raw_len, type and codec set; the rest is set here).
  Status Append(std::string_view stored, const std::string& hdr, std::vector<IndexEntry> members);
  Status AddGroup(const GroupBuilder& g, ZSTD_CCtx* cctx);  // compresses, seals and appends one group
  Status FlushGroup();                     // the open group, if any
  Status Seal(std::unique_ptr<OpenPack> p);  // closes p, then publishes it (here or in the background)
  Status Publish(OpenPack* p);               // fsync, PublishPack, its entries visible
  // A pack now on the backend: its entries (pack set to name) and length visible.
  void Published(const Hash128& name, uint64_t size, const std::vector<IndexEntry>& entries);

  const RepoFiles& files_;
  std::string crash_point_;
  std::mutex group_mu_;
  GroupBuilder group_;  // group_mu_
  std::mutex mu_;
  std::unique_ptr<OpenPack> cur_;
  uint64_t seq_ = 0;
  std::vector<IndexEntry> entries_;
  std::map<Hash128, uint64_t> sizes_;  // of the packs entries_ names
  uint64_t stored_bytes_ = 0;
  uint64_t index_bytes_ = 0;
  bool uploaded_ = false;                // a remote's packs: uploaded, not fsynced here
  // Buffers Add seals blobs into (encrypted repositories), one per Add in
  // flight at most, each kept at its size for the next blob: no allocation,
  // page faults or zero-fill per blob (a fresh one was ~5% of an encrypted
  // create's CPU).
  std::vector<std::string> seal_buffers_;
  std::unique_ptr<TaskGroup> uploads_;  // publishes sealed packs. Last: destroyed first
};

}  // namespace maestro
