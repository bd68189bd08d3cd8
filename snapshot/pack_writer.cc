#include "snapshot/pack_writer.h"

#include "snapshot/blob_codec.h"
#include "snapshot/blob_index.h"

#include <unistd.h>
#include <zstd.h>

#include <algorithm>

#include "util/crash_point.h"
#include "util/task_group.h"

namespace maestro {

namespace {
constexpr uint64_t kPackTargetSize = 16u << 20;
// A pack of tiny blobs is sealed at this many: its entries (held until it is
// sealed) and its header stay small, and PublishIndex can follow it.
constexpr size_t kPackMaxEntries = 8192;
// A sealing buffer is kept for the next blob up to the largest chunk
// (snapshot/chunker.h) sealed; a larger one (an outsized blob or group) is freed.
constexpr size_t kKeptSealBufferBytes = (4u << 20) + 64;
constexpr int kGroupLevel = 3;  // the level of every blob (compress_pool.cc)

// One zstd frame of data at kGroupLevel with cctx, else a context of this
// thread's (kept: groups are many; a compressor worker passes its own, so
// create holds no second context per worker).
Status CompressGroupFrame(ZSTD_CCtx* cctx, std::string_view data, std::string* out) {
  struct Ctx {
    ZSTD_CCtx* c = nullptr;
    ~Ctx() { ZSTD_freeCCtx(c); }
  };
  thread_local Ctx own;
  if (!cctx) {
    if (!own.c) own.c = ZSTD_createCCtx();
    cctx = own.c;
  }
  out->resize(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compressCCtx(cctx, out->data(), out->size(), data.data(), data.size(), kGroupLevel);
  if (ZSTD_isError(n)) return Status::Internal(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  out->resize(n);
  return Status::OK();
}
}  // namespace

struct PackWriter::OpenPack {
  std::unique_ptr<WritableFile> file;
  std::string tmp_path;
  Hasher128 hasher;
  uint64_t size = 0;
  std::vector<IndexEntry> entries;
};

PackWriter::PackWriter(const RepoFiles& files, std::string crash_point)
    : files_(files), crash_point_(std::move(crash_point)) {
  const int parallel = files_.backend() != nullptr ? files_.backend()->ParallelPuts() : 1;
  // A local pack too is published (fsync, rename, folder fsync) on a thread
  // of its own while the next one fills: the compressor that sealed it used
  // to wait out the fsync (65 of ~9 ms each on the 1 GiB demo install).
  uploads_ = std::make_unique<TaskGroup>(std::max(parallel, 1));
  uploaded_ = parallel > 1;
}

PackWriter::~PackWriter() {
  (void)uploads_->Wait();  // a publish in flight uses this writer: let it end
}

Status PackWriter::StartPack() {
  auto p = std::make_unique<OpenPack>();
  p->tmp_path = JoinPath(files_.TmpDir(), "pack-" + std::to_string(getpid()) + "-" + std::to_string(seq_++) + ".tmp-pack");
  MAESTRO_RETURN_IF_ERROR(files_.env()->NewWritableFile(p->tmp_path, &p->file, 0600));
  if (!files_.v4()) {  // version 4 has no leading header
    std::string hdr = EncodePackHeader();
    MAESTRO_RETURN_IF_ERROR(p->file->Append(hdr));
    p->hasher.Update(hdr);
    p->size = hdr.size();
  }
  cur_ = std::move(p);
  return Status::OK();
}

Status PackWriter::Add(const Hash128& id, uint32_t raw_len, std::string_view encoded, BlobCodec codec, BlobType type) {
  const bool v4 = files_.v4();
  std::string framed;
  if (!v4 && codec == BlobCodec::kRaw && type == BlobType::kData) {
    // Format 3 records no codec: a raw blob goes in as a zstd frame of RAW
    // blocks (snapshot/blob_codec.h), which every reader decodes.
    EncodeRawZstdFrame(encoded, &framed);
    encoded = framed;
    codec = BlobCodec::kZstd;
  }
  if (!v4 && (codec != BlobCodec::kZstd || type != BlobType::kData))
    return Status::Internal("a format-3 pack holds only zstd data blobs");
  if (codec == BlobCodec::kGroup) return Status::Internal("a group member goes into a pack through AddToGroup");
  // Unencrypted, sealing is the identity: the blob goes in as it is, not a copy of it.
  const bool seal = v4 && files_.sealer().encrypted();
  std::string buffer;
  std::string_view stored = encoded;
  if (seal) {
    // Sealed outside the lock, in the caller's thread (the compressor pool's
    // workers), into a buffer kept from an earlier blob.
    buffer = TakeSealBuffer();
    MAESTRO_ASSIGN_OR_RETURN(stored, files_.sealer().SealBlobInto(id, encoded, &buffer));
  }
  IndexEntry e;
  e.blob = id;
  e.raw_len = raw_len;
  e.type = type;
  e.codec = codec;
  Status st = Append(stored, v4 ? std::string() : EncodeBlobHeader(id, raw_len, static_cast<uint32_t>(stored.size())), {e});
  // stored (in buffer) is not read past Append: keep the buffer for the next blob.
  if (seal) KeepSealBuffer(std::move(buffer));
  return st;
}

Status PackWriter::Append(std::string_view stored, const std::string& hdr, std::vector<IndexEntry> members) {
  const bool v4 = files_.v4();
  const uint64_t check = Xxh64(stored);
  std::unique_ptr<OpenPack> full;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!cur_) MAESTRO_RETURN_IF_ERROR(StartPack());
    if (!hdr.empty()) MAESTRO_RETURN_IF_ERROR(cur_->file->Append(hdr));
    MAESTRO_RETURN_IF_ERROR(cur_->file->Append(stored));
    cur_->hasher.Update(hdr);
    cur_->hasher.Update(stored);
    for (IndexEntry& e : members) {  // a group's members share its bytes
      e.offset = cur_->size + hdr.size();
      e.stored_len = static_cast<uint32_t>(stored.size());
      e.stored_check = check;
      e.pack_version = v4 ? kRepoFormatV4 : kRepoFormatVersion;
      cur_->entries.push_back(e);
    }
    cur_->size += hdr.size() + stored.size();
    if (cur_->size >= kPackTargetSize || cur_->entries.size() >= kPackMaxEntries) full = std::move(cur_);
    // stored is not read past here.
  }
  if (full) return Seal(std::move(full));
  return Status::OK();
}

void PackWriter::KeepSealBuffer(std::string buffer) {
  if (buffer.size() > kKeptSealBufferBytes) return;
  std::lock_guard<std::mutex> l(mu_);
  seal_buffers_.push_back(std::move(buffer));
}

std::string PackWriter::TakeSealBuffer() {
  std::lock_guard<std::mutex> l(mu_);
  if (seal_buffers_.empty()) return std::string();
  std::string b = std::move(seal_buffers_.back());
  seal_buffers_.pop_back();
  return b;
}

Status PackWriter::AddToGroup(const Hash128& id, std::string_view data, ZSTD_CCtx* cctx) {
  if (!files_.v4() || data.size() > kGroupMemberMax) {  // format 3 has no groups: the blob alone, in zstd
    std::string z;
    MAESTRO_RETURN_IF_ERROR(CompressGroupFrame(cctx, data, &z));
    return Add(id, static_cast<uint32_t>(data.size()), z);
  }
  GroupBuilder full;
  {
    std::lock_guard<std::mutex> l(group_mu_);
    group_.Add(id, data);
    if (!group_.full()) return Status::OK();
    std::swap(full, group_);
  }
  return AddGroup(full, cctx);
}

Status PackWriter::FlushGroup() {
  GroupBuilder last;
  {
    std::lock_guard<std::mutex> l(group_mu_);
    std::swap(last, group_);
  }
  return last.empty() ? Status::OK() : AddGroup(last, nullptr);
}

// Compressed in the caller's thread (a compressor worker), outside both locks.
Status PackWriter::AddGroup(const GroupBuilder& g, ZSTD_CCtx* cctx) {
  std::string z;
  MAESTRO_RETURN_IF_ERROR(CompressGroupFrame(cctx, g.Encode(), &z));
  const bool seal = files_.sealer().encrypted();
  std::string buffer;
  std::string_view stored = z;
  if (seal) {  // into a kept buffer, as Add seals a blob
    buffer = TakeSealBuffer();
    MAESTRO_ASSIGN_OR_RETURN(stored, files_.sealer().SealBlobInto(kGroupSealId, z, &buffer));
  }
  std::vector<IndexEntry> members(g.ids.size());
  for (size_t k = 0; k < members.size(); ++k) {
    members[k].blob = g.ids[k];
    members[k].raw_len = g.lens[k];
    members[k].type = BlobType::kData;
    members[k].codec = BlobCodec::kGroup;
  }
  Status st = Append(stored, std::string(), std::move(members));
  if (seal) KeepSealBuffer(std::move(buffer));  // stored is not read past Append
  return st;
}

Status PackWriter::Finish() {
  Status gs = FlushGroup();
  std::unique_ptr<OpenPack> last;
  {
    std::lock_guard<std::mutex> l(mu_);
    last = std::move(cur_);
  }
  Status st = last ? Seal(std::move(last)) : Status::OK();
  if (st.ok()) st = gs;
  Status up = WaitForPublishes();
  return st.ok() ? up : st;
}

Status PackWriter::WaitForPublishes() { return uploads_->Wait(); }

Status PackWriter::AddWholePack(const Hash128& name, uint64_t size, std::vector<IndexEntry> entries, Env* env,
                                std::string path) {
  auto publish = [this, name, size, entries = std::move(entries), env, path = std::move(path)]() {
    MAESTRO_RETURN_IF_ERROR(files_.backend()->PutCopyOf(ObjectKind::kPack, PackName(name), env, path));
    MaybeCrash(crash_point_.c_str());
    Published(name, size, entries);
    return Status::OK();
  };
  return uploads_->Run(std::move(publish));
}

std::vector<IndexEntry> PackWriter::entries() {
  std::lock_guard<std::mutex> l(mu_);
  return entries_;
}

std::vector<IndexEntry> PackWriter::TakeEntries() {
  std::lock_guard<std::mutex> l(mu_);
  sizes_.clear();
  return std::move(entries_);
}

Status PackWriter::PublishIndex(const PieceCheck& check) {
  std::vector<IndexEntry> piece;
  std::map<Hash128, uint64_t> sizes;
  {
    std::lock_guard<std::mutex> l(mu_);
    piece.swap(entries_);
    sizes.swap(sizes_);
  }
  if (piece.empty()) return Status::OK();
  uint64_t bytes = 0;
  // The piece and its packs' lengths are taken together, so the check sees
  // exactly what is written (packs published meanwhile by other threads wait
  // for the next piece).
  Status s = check ? check(sizes) : Status::OK();
  if (s.ok()) s = WriteIndexFile(files_, piece, nullptr, &bytes);
  std::lock_guard<std::mutex> l(mu_);
  if (!s.ok()) {  // kept for a later try (the packs stay unindexed until then)
    piece.insert(piece.end(), entries_.begin(), entries_.end());
    entries_.swap(piece);
    sizes_.merge(sizes);
    return s;
  }
  index_bytes_ += bytes;
  return Status::OK();
}

size_t PackWriter::unindexed() {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

uint64_t PackWriter::index_bytes() {
  std::lock_guard<std::mutex> l(mu_);
  return index_bytes_;
}

uint64_t PackWriter::stored_bytes() {
  std::lock_guard<std::mutex> l(mu_);
  return stored_bytes_;
}

Status PackWriter::Seal(std::unique_ptr<OpenPack> p) {
  if (files_.v4()) {
    MAESTRO_ASSIGN_OR_RETURN(std::string tail, EncodePackV4Tail(p->entries, files_.sealer()));
    MAESTRO_RETURN_IF_ERROR(p->file->Append(tail));
    p->hasher.Update(tail);
    p->size += tail.size();
  }
  std::shared_ptr<OpenPack> shared(std::move(p));
  return uploads_->Run([this, shared] { return Publish(shared.get()); });
}

Status PackWriter::Publish(OpenPack* p) {
  // An uploaded pack's local file is only read back: its durability is the upload's.
  if (!uploaded_) MAESTRO_RETURN_IF_ERROR(p->file->Sync());
  MAESTRO_RETURN_IF_ERROR(p->file->Close());
  Hash128 name = p->hasher.Digest();
  MAESTRO_RETURN_IF_ERROR(files_.PublishPack(p->tmp_path, name));
  MaybeCrash(crash_point_.c_str());
  Published(name, p->size, p->entries);
  return Status::OK();
}

void PackWriter::Published(const Hash128& name, uint64_t size, const std::vector<IndexEntry>& entries) {
  std::lock_guard<std::mutex> l(mu_);
  for (IndexEntry e : entries) {
    e.pack = name;
    entries_.push_back(e);
  }
  sizes_[name] = size;
  stored_bytes_ += size;
}

}  // namespace maestro
