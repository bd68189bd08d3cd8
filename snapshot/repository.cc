// snapshot/repository.cc — the snapshot repository (contract: repository.h,
// bytes on disk: docs/repository-format.md, codecs: format.h).
//
// Layout of <repo>:
//   config               format version + repository id (text, checksummed)
//   snapshots/<id>       one manifest per snapshot: the commit point
//   index/<hash>.idx     blob id -> pack, offset, lengths (one file per create/GC)
//   packs/<hash>.pack    blobs back to back, named by the XXH3-128 of the file
//   tmp/                 SQLite backups and packs being written (cleared by writers)
//   lock, lock.holder    the writer lock (snapshot/repo_lock.h)
//
// Create pipeline: the calling thread plans (walks, stats, SQLite backups), then
// reads + chunks + hashes; N worker threads compress with zstd and append to
// the current pack under a mutex. Queues are bounded, so file data in flight is
// bounded by (queue depth + workers) x max chunk size, whatever the data size.
// What grows with the number of files is kept small: the plan is the new
// manifest itself (no per-file source/read paths), the parent is held as
// ParentFile (96 bytes a file, its paths and chunk lists moved, not copied),
// and the stored blobs as a sorted id list: under 0.5 KiB a file at peak.
#include "snapshot/repository.h"

#include <unistd.h>
#include <zstd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "snapshot/chunker.h"
#include "snapshot/format.h"
#include "util/crash_point.h"
#include "util/sqlite.h"
#include "util/time_util.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(snap_after_pack, "snap.after_pack");
MAESTRO_DECLARE_CRASH_POINT(snap_after_index, "snap.after_index");
MAESTRO_DECLARE_CRASH_POINT(snap_before_manifest, "snap.before_manifest");
MAESTRO_DECLARE_CRASH_POINT(snap_after_manifest, "snap.after_manifest");
MAESTRO_DECLARE_CRASH_POINT(snap_after_delete, "snap.after_delete");
MAESTRO_DECLARE_CRASH_POINT(gc_after_new_pack, "gc.after_new_pack");
MAESTRO_DECLARE_CRASH_POINT(gc_after_new_packs, "gc.after_new_packs");
MAESTRO_DECLARE_CRASH_POINT(gc_after_index, "gc.after_index");
MAESTRO_DECLARE_CRASH_POINT(gc_before_delete_packs, "gc.before_delete_packs");
MAESTRO_DECLARE_CRASH_POINT(gc_after_delete_packs, "gc.after_delete_packs");

namespace {

constexpr uint64_t kPackTargetSize = 16u << 20;
constexpr int kZstdLevel = 3;
constexpr int kMaxReadTries = 3;
constexpr int64_t kProgressIntervalMicros = 100000;

struct HashKey {
  size_t operator()(const Hash128& h) const { return static_cast<size_t>(h.lo ^ (h.hi * 0x9e3779b97f4a7c15ULL)); }
};
using BlobIndex = std::unordered_map<Hash128, IndexEntry, HashKey>;

bool EndsWith(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
bool IsTempName(const std::string& name) { return name.find(".tmp-") != std::string::npos; }
// "YYYYmmdd_HHMMSS" with an optional "_N" (N >= 2): the names NewId gives.
bool IsSnapshotIdName(const std::string& name) {
  if (name.size() < 15 || name[8] != '_') return false;
  for (size_t i = 0; i < 15; ++i)
    if (i != 8 && !isdigit(static_cast<unsigned char>(name[i]))) return false;
  if (name.size() == 15) return true;
  if (name.size() < 17 || name[15] != '_') return false;
  for (size_t i = 16; i < name.size(); ++i)
    if (!isdigit(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string RandomHex128() {
  std::random_device rd;
  Hash128 h;
  h.hi = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  h.lo = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return h.Hex();
}

unsigned DefaultThreads(int requested) {
  if (requested > 0) return static_cast<unsigned>(requested);
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 2 : std::min(hc, 8u);
}

std::string ZstdErrorText(size_t code) { return ZSTD_getErrorName(code); }

// Hands freed heap pages back to the system. Create frees large transient
// buffers (the decoded parent manifest, per-directory listings) whose pages
// glibc would otherwise keep resident behind the long-lived file lists.
void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Calls the user's progress callback at most every 100 ms (and once at the end).
class ProgressThrottle {
 public:
  ProgressThrottle(Env* env, const ProgressFn& fn) : env_(env), fn_(fn) {}
  void Report(const Progress& p, bool force = false) {
    if (!fn_) return;
    int64_t now = env_->NowMicros();
    if (!force && now - last_ < kProgressIntervalMicros) return;
    last_ = now;
    fn_(p);
  }

 private:
  Env* env_;
  const ProgressFn& fn_;
  int64_t last_ = 0;
};

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t cap) : cap_(cap) {}
  // false when the queue was closed (the consumer side failed).
  bool Push(T v) {
    std::unique_lock<std::mutex> l(mu_);
    not_full_.wait(l, [&] { return closed_ || q_.size() < cap_; });
    if (closed_) return false;
    q_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  bool Pop(T* v) {
    std::unique_lock<std::mutex> l(mu_);
    not_empty_.wait(l, [&] { return closed_ || !q_.empty(); });
    if (q_.empty()) return false;
    *v = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<T> q_;
  size_t cap_;
  bool closed_ = false;
};

// Appends compressed blobs to pack files; thread-safe. A pack is published
// (fsync, rename into packs/, fsync of packs/) once it reaches the target size
// or at Finish. Entries become visible through entries() only for published
// packs, so an index never names a pack that is not durable.
class PackSink {
 public:
  PackSink(Env* env, std::string packs_dir, std::string tmp_dir, std::string crash_point)
      : env_(env), packs_dir_(std::move(packs_dir)), tmp_dir_(std::move(tmp_dir)), crash_point_(std::move(crash_point)) {}

  Status Add(const Hash128& id, uint32_t raw_len, std::string_view stored) {
    std::unique_ptr<OpenPack> full;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!cur_) {
        auto p = std::make_unique<OpenPack>();
        p->tmp_path = JoinPath(tmp_dir_, "pack-" + std::to_string(getpid()) + "-" + std::to_string(seq_++) + ".tmp-pack");
        MAESTRO_RETURN_IF_ERROR(env_->NewWritableFile(p->tmp_path, &p->file, 0600));
        std::string hdr = EncodePackHeader();
        MAESTRO_RETURN_IF_ERROR(p->file->Append(hdr));
        p->hasher.Update(hdr);
        p->size = hdr.size();
        cur_ = std::move(p);
      }
      std::string hdr = EncodeBlobHeader(id, raw_len, static_cast<uint32_t>(stored.size()));
      MAESTRO_RETURN_IF_ERROR(cur_->file->Append(hdr));
      MAESTRO_RETURN_IF_ERROR(cur_->file->Append(stored));
      cur_->hasher.Update(hdr);
      cur_->hasher.Update(stored);
      IndexEntry e;
      e.blob = id;
      e.offset = cur_->size + kBlobHeaderSize;
      e.stored_len = static_cast<uint32_t>(stored.size());
      e.raw_len = raw_len;
      e.stored_check = Xxh64(stored);
      cur_->entries.push_back(e);
      cur_->size += hdr.size() + stored.size();
      if (cur_->size >= kPackTargetSize) full = std::move(cur_);
    }
    if (full) return Seal(std::move(full));
    return Status::OK();
  }

  Status Finish() {
    std::unique_ptr<OpenPack> last;
    {
      std::lock_guard<std::mutex> l(mu_);
      last = std::move(cur_);
    }
    if (last) return Seal(std::move(last));
    return Status::OK();
  }

  std::vector<IndexEntry> entries() {
    std::lock_guard<std::mutex> l(mu_);
    return entries_;
  }
  // Moves the entries out (no copy; the sink is done).
  std::vector<IndexEntry> TakeEntries() {
    std::lock_guard<std::mutex> l(mu_);
    return std::move(entries_);
  }
  uint64_t stored_bytes() {
    std::lock_guard<std::mutex> l(mu_);
    return stored_bytes_;
  }
  std::vector<Hash128> packs() {
    std::lock_guard<std::mutex> l(mu_);
    return packs_;
  }

 private:
  struct OpenPack {
    std::unique_ptr<WritableFile> file;
    std::string tmp_path;
    Hasher128 hasher;
    uint64_t size = 0;
    std::vector<IndexEntry> entries;
  };

  Status Seal(std::unique_ptr<OpenPack> p) {
    MAESTRO_RETURN_IF_ERROR(p->file->Sync());
    MAESTRO_RETURN_IF_ERROR(p->file->Close());
    Hash128 name = p->hasher.Digest();
    MAESTRO_RETURN_IF_ERROR(env_->Rename(p->tmp_path, JoinPath(packs_dir_, name.Hex() + ".pack")));
    MAESTRO_RETURN_IF_ERROR(env_->SyncDir(packs_dir_));
    MaybeCrash(crash_point_.c_str());
    std::lock_guard<std::mutex> l(mu_);
    for (auto& e : p->entries) {
      e.pack = name;
      entries_.push_back(e);
    }
    stored_bytes_ += p->size;
    packs_.push_back(name);
    return Status::OK();
  }

  Env* env_;
  std::string packs_dir_, tmp_dir_, crash_point_;
  std::mutex mu_;
  std::unique_ptr<OpenPack> cur_;
  uint64_t seq_ = 0;
  std::vector<IndexEntry> entries_;
  std::vector<Hash128> packs_;
  uint64_t stored_bytes_ = 0;
};

// A pool of compressor threads feeding a PackSink. Submit() blocks when the
// queue is full (bounded memory). The first error stops the pool; Finish()
// returns it.
class CompressPool {
 public:
  CompressPool(PackSink* sink, unsigned threads) : sink_(sink), queue_(threads * 2) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
  }
  ~CompressPool() { Stop(); }

  bool Submit(const Hash128& id, std::string data) { return queue_.Push(Job{id, std::move(data)}); }

  Status Finish() {
    Stop();
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }
  Status status() {
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }

 private:
  struct Job {
    Hash128 id;
    std::string data;
  };
  void Stop() {
    queue_.Close();
    for (auto& t : workers_)
      if (t.joinable()) t.join();
  }
  void Run() {
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
        s = Status::Internal("zstd compression failed: " + ZstdErrorText(n));
      } else {
        s = sink_->Add(job.id, static_cast<uint32_t>(job.data.size()), std::string_view(out.data(), n));
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu_);
        if (status_.ok()) status_ = s;
        queue_.Close();
      }
    }
    ZSTD_freeCCtx(cctx);
  }

  PackSink* sink_;
  BoundedQueue<Job> queue_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  Status status_;
};

// Reads blobs back: checks the blob header, the stored bytes' checksum, the
// decompressed length and the XXH3-128 of the result. Keeps a few packs open.
class BlobReader {
 public:
  BlobReader(Env* env, std::string packs_dir, const BlobIndex* index)
      : env_(env), packs_dir_(std::move(packs_dir)), index_(index), dctx_(ZSTD_createDCtx()) {}
  ~BlobReader() { ZSTD_freeDCtx(dctx_); }

  Status Read(const Hash128& id, std::string* out) {
    auto it = index_->find(id);
    if (it == index_->end())
      return Status::Corruption("blob " + id.Hex() + " is missing from the repository index");
    return ReadEntry(it->second, out);
  }

  Status ReadEntry(const IndexEntry& e, std::string* out) {
    std::string pack_path = JoinPath(packs_dir_, e.pack.Hex() + ".pack");
    RandomAccessFile* f = nullptr;
    MAESTRO_RETURN_IF_ERROR(OpenPack(e.pack, pack_path, &f));
    uint64_t pack_size = 0;
    MAESTRO_RETURN_IF_ERROR(PackSize(e.pack, pack_path, &pack_size));
    // Checked against the pack's size before any read or allocation, without
    // adding (an offset near 2^63 or 2^64 must neither wrap nor reach pread).
    if (e.offset < kPackHeaderSize + kBlobHeaderSize || e.offset > pack_size || e.stored_len > pack_size - e.offset)
      return Status::Corruption("index entry for blob " + e.blob.Hex() + " points outside pack " + pack_path +
                                " (offset " + std::to_string(e.offset) + ", " + std::to_string(e.stored_len) +
                                " bytes; the pack has " + std::to_string(pack_size) + ")");
    buf_.resize(kBlobHeaderSize + e.stored_len);
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(f->ReadAt(e.offset - kBlobHeaderSize, buf_.size(), buf_.data(), &got));
    if (got != buf_.size())
      return Status::Corruption("pack " + pack_path + " is truncated: blob " + e.blob.Hex() + " runs past its end");
    if (!BlobHeaderMatches(buf_.data(), e))
      return Status::Corruption("pack " + pack_path + ": blob header of " + e.blob.Hex() + " does not match the index");
    std::string_view stored(buf_.data() + kBlobHeaderSize, e.stored_len);
    if (Xxh64(stored) != e.stored_check)
      return Status::Corruption("pack " + pack_path + ": stored bytes of blob " + e.blob.Hex() + " are damaged");
    return Decode(e, stored, out, pack_path);
  }

  Status Decode(const IndexEntry& e, std::string_view stored, std::string* out, const std::string& pack_path) {
    out->resize(e.raw_len);
    size_t n = ZSTD_decompressDCtx(dctx_, out->data(), out->size(), stored.data(), stored.size());
    if (ZSTD_isError(n) || n != e.raw_len)
      return Status::Corruption("pack " + pack_path + ": blob " + e.blob.Hex() + " does not decompress" +
                                (ZSTD_isError(n) ? " (" + ZstdErrorText(n) + ")" : std::string(" to its length")));
    if (Xxh128(*out) != e.blob)
      return Status::Corruption("pack " + pack_path + ": blob " + e.blob.Hex() + " content hash mismatch");
    return Status::OK();
  }

 private:
  Status OpenPack(const Hash128& pack, const std::string& path, RandomAccessFile** f) {
    auto it = open_.find(pack);
    if (it == open_.end()) {
      if (open_.size() >= 32) open_.clear();
      std::unique_ptr<RandomAccessFile> file;
      Status s = env_->NewRandomAccessFile(path, &file);
      if (s.IsNotFound()) return Status::Corruption("pack " + path + " is missing", s.message());
      MAESTRO_RETURN_IF_ERROR(s);
      it = open_.emplace(pack, std::move(file)).first;
    }
    *f = it->second.get();
    return Status::OK();
  }

  // The pack's size, looked up once per pack (packs are immutable once named).
  Status PackSize(const Hash128& pack, const std::string& path, uint64_t* size) {
    auto it = sizes_.find(pack);
    if (it == sizes_.end()) {
      FileInfo fi;
      MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
      if (!fi.exists) return Status::Corruption("pack " + path + " is missing");
      it = sizes_.emplace(pack, fi.size).first;
    }
    *size = it->second;
    return Status::OK();
  }

  Env* env_;
  std::string packs_dir_;
  const BlobIndex* index_;
  ZSTD_DCtx* dctx_;
  std::string buf_;
  std::map<Hash128, std::unique_ptr<RandomAccessFile>> open_;
  std::map<Hash128, uint64_t> sizes_;
};

// Blob ids the repository already holds, sorted: Create only asks "is it
// stored?", so 16 bytes a blob instead of a hash-map node with its IndexEntry.
class StoredBlobs {
 public:
  explicit StoredBlobs(std::vector<Hash128> sorted_unique) : ids_(std::move(sorted_unique)) {}
  bool count(const Hash128& h) const { return std::binary_search(ids_.begin(), ids_.end(), h); }
  void clear() { std::vector<Hash128>().swap(ids_); }

 private:
  std::vector<Hash128> ids_;
};

// What Create needs to reuse a parent snapshot's (non-SQLite) file unread:
// 96 bytes instead of a ManifestFile's 176 (no type, mode, link target or
// fingerprint). Path and chunk list are moved out of the parent manifest.
struct ParentFile {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  Hash128 hash;
  std::vector<Hash128> chunks;
};

// The parent snapshot's files of one kind by (store, path), sorted by path.
// Several parent stores of one name are merged and the last of equal paths
// wins, as with a map assigned in manifest order.
template <typename T>
class ParentFiles {
 public:
  void Reserve(const std::string& store, size_t n) {
    auto& v = by_store_[store];
    v.reserve(v.size() + n);
  }
  void Add(const std::string& store, T f) { by_store_[store].push_back(std::move(f)); }
  void Sort() {
    for (auto& [name, v] : by_store_)
      std::stable_sort(v.begin(), v.end(), [](const T& a, const T& b) { return a.path < b.path; });
  }
  const T* Find(const std::string& store, std::string_view path) const {
    auto st = by_store_.find(store);
    if (st == by_store_.end()) return nullptr;
    const auto& v = st->second;
    auto it = std::upper_bound(v.begin(), v.end(), path, [](std::string_view p, const T& f) { return p < std::string_view(f.path); });
    if (it == v.begin() || (it - 1)->path != path) return nullptr;
    return &*(it - 1);
  }
  void clear() { by_store_.clear(); }

 private:
  std::map<std::string, std::vector<T>> by_store_;
};

class RepositoryImpl final : public Repository {
 public:
  RepositoryImpl(Env* env, std::string dir, RepoConfig cfg) : env_(env), dir_(std::move(dir)), cfg_(std::move(cfg)) {}

  const std::string& dir() const override { return dir_; }

  Result<SnapshotInfo> Create(const std::vector<SnapshotSource>& sources, const CreateOptions& opts) override;
  Result<std::vector<SnapshotInfo>> List() override;
  Result<RepoScan> Scan() override;
  Result<Manifest> LoadManifest(const std::string& id) override;
  Result<std::string> ResolveId(const std::string& spec) override;
  Status RestoreStore(const std::string& id, const std::string& store, const std::string& target,
                      const RestoreOptions& opts) override;
  Result<VerifyReport> Verify(const std::vector<std::string>& ids, bool read_data) override;  // retries VerifyOnce
  Status DeleteSnapshots(const std::vector<std::string>& ids) override;
  Result<GcStats> RemoveUnreferencedData(bool dry_run) override;
  Result<RepairReport> Repair(bool dry_run) override;

 private:
  std::string Sub(const char* name) const { return JoinPath(dir_, name); }
  std::string PackPath(const Hash128& p) const { return JoinPath(Sub("packs"), p.Hex() + ".pack"); }

  Status EnsureLayout();
  // Loads every index file. Damaged (undecodable) files are skipped and
  // reported in *bad; without bad, strict makes the first one an error.
  // strict: a file that cannot be read is an I/O error; else it is in *bad too.
  Status LoadIndex(BlobIndex* idx, bool strict, std::vector<std::pair<std::string, Status>>* bad,
                   std::vector<std::string>* files);
  // LoadIndex's walk: calls fn with the decoded entries of each index file, in name order.
  Status ForEachIndexFile(bool strict, std::vector<std::pair<std::string, Status>>* bad, std::vector<std::string>* files,
                          const std::function<void(std::vector<IndexEntry>&)>& fn);
  // Snapshot ids in snapshots/ (names of the id form); other names go to *foreign.
  Result<std::vector<std::string>> ListIds(std::vector<std::string>* foreign = nullptr);
  // Appends to *foreign the files of index/ and packs/ the repository never writes.
  Status ListForeignData(std::vector<std::string>* foreign);
  // The names in snapshots/, index/ and packs/, hashed: changes whenever a
  // writer publishes or removes a file (names are ids or content hashes).
  Result<Hash128> Generation();
  Result<VerifyReport> VerifyOnce(const std::vector<std::string>& ids, bool read_data);
  // GC's inputs: the blobs readable manifests need; *skipped says why GC must not run.
  Status NeededBlobs(std::unordered_set<Hash128, HashKey>* needed, std::string* skipped);
  // Packs no index names: written by a create that died between its pack and
  // its index ("snap.after_pack"), left by a GC that died before deleting the
  // packs it replaced, or orphaned by a lost index file. Their blobs that no
  // index holds (known() false) are indexed again from the packs' own blob
  // headers, in one new index file, so no blob a manifest may need is ever
  // deleted for want of an index entry. A damaged pack (its name is not the
  // hash of its bytes, or its headers do not parse) is left where it is and
  // named in *damaged; `snap verify` reports what it cannot reach. Writers only.
  // named: every pack some index entry names; *adopted receives the new entries.
  Status AdoptUnindexedPacks(const std::unordered_set<Hash128, HashKey>& named,
                             const std::function<bool(const Hash128&)>& known, std::vector<IndexEntry>* adopted,
                             std::set<std::string>* damaged, bool write = true);
  // Moves a damaged file into <repo>/damaged/<sub>/ under a name not taken yet.
  Status Quarantine(const std::string& path, const char* sub);
  // Removes what an interrupted writer left: tmp/*, "*.tmp-*" files, and packs
  // no blob's chosen index entry uses (after AdoptUnindexedPacks, packs whose
  // blobs are all indexed elsewhere). Writers only (under the repository lock).
  // used_packs: for each blob, the pack of the entry LoadIndex would keep;
  // keep: pack file names never to delete (damaged ones, left for verify).
  Status CleanLeftovers(const std::unordered_set<Hash128, HashKey>& used_packs,
                        const std::set<std::string>& keep = {});
  // Plans straight into m->stores[store_no].files: path, type, mode, mtime,
  // inode, size from the stat, link target, sqlite_backup.
  Status PlanStore(size_t store_no, const SnapshotSource& src, Manifest* m);
  // Special files (FIFO, socket, device) are not data: never opened, named in *warnings.
  Status WalkDir(const std::string& store_name, const std::string& root, const std::string& rel,
                 std::vector<ManifestFile>* files, std::vector<std::string>* warnings);
  Result<std::string> NewId(int64_t now);

  Env* env_;
  std::string dir_;
  RepoConfig cfg_;
  // During Create: the parent snapshot's non-SQLite files by (store, path).
  const ParentFiles<ParentFile>* parent_files_ = nullptr;
};

// ---------------------------------------------------------------- open

Status RepositoryImpl::EnsureLayout() {
  for (const char* d : {"snapshots", "index", "packs", "tmp"}) MAESTRO_RETURN_IF_ERROR(env_->CreateDir(Sub(d), 0700));
  return Status::OK();
}

}  // namespace

// A repository is only made in a folder that is missing, empty, or holds
// nothing but what a repository's own first writers leave before its config
// (its folders, in creation order; the lock; the journal; the schedule's
// files; temporary files): any other file would be mixed with the repository
// and its tmp/ and *.tmp-* files deleted by the next writer.
Status CheckFolderForNewRepository(Env* env, const std::string& dir) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(dir, &fi));
  if (!fi.exists) return Status::OK();
  const std::string hint = "a repository must be made in an empty folder (or be a maestro-db repository): pass "
                           "--repo with a new or empty folder; nothing in " + dir + " was changed";
  if (!fi.is_dir) return Status::BadStore("--repo " + dir + " exists and is not a folder", hint);
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env->ListDir(dir, &entries));
  static const std::set<std::string> ours = {"snapshots", "index", "packs", "tmp", "lock", "lock.holder",
                                             "journal", "schedule.log", "schedule-state.json"};
  std::set<std::string> names;
  for (const auto& e : entries) names.insert(e.name);
  for (const auto& n : names) {
    bool own = ours.count(n) && !(n == "tmp" && !names.count("snapshots"));
    if (!own && !IsTempName(n))
      return Status::BadStore("--repo " + dir + " is not empty and is not a maestro-db repository (it holds '" + n +
                                  "' and no repository config)", hint);
  }
  return Status::OK();
}

Result<std::unique_ptr<Repository>> Repository::Open(Env* env, const std::string& dir, bool create_if_missing) {
  std::string cfg_path = JoinPath(dir, "config");
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(cfg_path, &fi));
  if (!fi.exists) {
    if (!create_if_missing)
      return Status::NotFound("no snapshot repository at " + dir + " (no config file)",
                              "pass --repo DIR, or run `maestro-db snap create` to make one");
    MAESTRO_RETURN_IF_ERROR(CheckFolderForNewRepository(env, dir));
    MAESTRO_RETURN_IF_ERROR(env->CreateDirs(dir, 0700));
    for (const char* d : {"snapshots", "index", "packs", "tmp"}) MAESTRO_RETURN_IF_ERROR(env->CreateDir(JoinPath(dir, d), 0700));
    RepoConfig c;
    c.repository_id = RandomHex128();
    MAESTRO_RETURN_IF_ERROR(WriteFileDurably(env, cfg_path, EncodeConfig(c), 0600));
    MAESTRO_RETURN_IF_ERROR(env->SyncDir(DirName(NormalizePath(dir))));
  }
  std::string text;
  MAESTRO_RETURN_IF_ERROR(env->ReadFileToString(cfg_path, &text));
  MAESTRO_ASSIGN_OR_RETURN(RepoConfig cfg, DecodeConfig(text, "repository config " + cfg_path));
  return std::unique_ptr<Repository>(new RepositoryImpl(env, dir, std::move(cfg)));
}

namespace {

// ---------------------------------------------------------------- index & listing

Status RepositoryImpl::LoadIndex(BlobIndex* idx, bool strict, std::vector<std::pair<std::string, Status>>* bad,
                                 std::vector<std::string>* files) {
  idx->clear();
  return ForEachIndexFile(strict, bad, files, [&](std::vector<IndexEntry>& v) {
    for (auto& ie : v) idx->emplace(ie.blob, ie);
  });
}

Status RepositoryImpl::ForEachIndexFile(bool strict, std::vector<std::pair<std::string, Status>>* bad,
                                        std::vector<std::string>* files,
                                        const std::function<void(std::vector<IndexEntry>&)>& fn) {
  std::vector<DirEntry> entries;
  Status ls = env_->ListDir(Sub("index"), &entries);
  if (ls.IsNotFound()) return Status::OK();
  MAESTRO_RETURN_IF_ERROR(ls);
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  for (const auto& e : entries) {
    if (IsTempName(e.name) || !EndsWith(e.name, ".idx")) continue;
    std::string path = JoinPath(Sub("index"), e.name);
    if (files) files->push_back(path);
    std::string bytes;
    Status s = env_->ReadFileToString(path, &bytes);
    if (!s.ok() && strict) {
      // Could not read it (I/O error, vanished): nothing says it is damaged.
      Status io = s.IsNotFound() ? Status::IoError(s.message()) : s;
      return io.Annotate("reading index file " + path + " of the repository; nothing was changed, retry");
    }
    Result<std::vector<IndexEntry>> r = s.ok() ? DecodeIndex(bytes, "index file " + path) : Result<std::vector<IndexEntry>>(s);
    if (!r.ok()) {
      if (strict && !bad)
        return r.status().Annotate("the repository index is damaged; run `maestro-db snap verify` to see what it affects");
      if (bad) bad->emplace_back(path, r.status());
      continue;
    }
    fn(*r);
  }
  return Status::OK();
}

Result<std::vector<std::string>> RepositoryImpl::ListIds(std::vector<std::string>* foreign) {
  std::vector<DirEntry> entries;
  Status ls = env_->ListDir(Sub("snapshots"), &entries);
  std::vector<std::string> ids;
  if (ls.IsNotFound()) return ids;
  MAESTRO_RETURN_IF_ERROR(ls);
  for (const auto& e : entries) {
    if (IsTempName(e.name)) continue;
    if (!e.is_dir && IsSnapshotIdName(e.name)) {
      ids.push_back(e.name);
    } else if (foreign) {
      foreign->push_back(JoinPath(Sub("snapshots"), e.name));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Status RepositoryImpl::ListForeignData(std::vector<std::string>* foreign) {
  for (const char* d : {"index", "packs"}) {
    const std::string ext = std::string(".") + (d[0] == 'i' ? "idx" : "pack");
    std::vector<DirEntry> entries;
    Status ls = env_->ListDir(Sub(d), &entries);
    if (ls.IsNotFound()) continue;
    MAESTRO_RETURN_IF_ERROR(ls);
    for (const auto& e : entries) {
      Hash128 h;
      bool ours = !e.is_dir && EndsWith(e.name, ext) && Hash128::FromHex(e.name.substr(0, e.name.size() - ext.size()), &h);
      if (!ours && !IsTempName(e.name)) foreign->push_back(JoinPath(Sub(d), e.name));
    }
  }
  std::sort(foreign->begin(), foreign->end());
  return Status::OK();
}

Result<Hash128> RepositoryImpl::Generation() {
  Hasher128 h;
  for (const char* d : {"snapshots", "index", "packs"}) {
    std::vector<DirEntry> entries;
    Status ls = env_->ListDir(Sub(d), &entries);
    if (!ls.IsNotFound()) MAESTRO_RETURN_IF_ERROR(ls);
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    h.Update(d);
    for (const auto& n : names) h.Update(std::string_view(n.c_str(), n.size() + 1));
  }
  return h.Digest();
}

Result<Manifest> RepositoryImpl::LoadManifest(const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.')
    return Status::InvalidArgument("bad snapshot id '" + id + "'");
  std::string path = JoinPath(Sub("snapshots"), id);
  std::string bytes;
  Status s = env_->ReadFileToString(path, &bytes);
  if (s.IsNotFound()) return Status::NotFound("snapshot " + id + " does not exist in " + dir_, "see `maestro-db snap list`");
  MAESTRO_RETURN_IF_ERROR(s);
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, DecodeManifest(bytes, "manifest of snapshot " + id + " (" + path + ")"));
  if (m.info.id != id) return Status::Corruption("manifest " + path + " names snapshot " + m.info.id + ", not " + id);
  return m;
}

Result<std::vector<SnapshotInfo>> RepositoryImpl::List() {
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, Scan());
  return std::move(scan.snapshots);
}

Result<RepoScan> RepositoryImpl::Scan() {
  RepoScan out;
  MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListIds(&out.foreign));
  for (const auto& id : ids) {
    Result<Manifest> m = LoadManifest(id);
    if (m.ok()) {
      out.snapshots.push_back(std::move(m->info));
    } else if (m.status().IsCorruption()) {
      out.damaged.push_back({id, JoinPath(Sub("snapshots"), id), m.status().message()});
    } else if (!m.status().IsNotFound()) {  // NotFound: deleted since listed
      return m.status();
    }
  }
  std::stable_sort(out.snapshots.begin(), out.snapshots.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.created_micros != b.created_micros ? a.created_micros < b.created_micros : a.id < b.id;
  });
  MAESTRO_RETURN_IF_ERROR(ListForeignData(&out.foreign));
  return out;
}

Result<std::string> RepositoryImpl::ResolveId(const std::string& spec) {
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, Scan());
  const std::vector<SnapshotInfo>& all = scan.snapshots;
  std::vector<std::string> ids;  // readable then damaged
  for (const auto& i : all) ids.push_back(i.id);
  for (const auto& d : scan.damaged) ids.push_back(d.id);
  if (ids.empty()) return Status::NotFound("the repository " + dir_ + " holds no snapshots", "create one with `maestro-db snap create`");
  if (spec == "latest") {
    // A damaged newest is named (loading it fails), never silently replaced by an older one.
    std::string best = all.empty() ? "" : all.back().id;
    for (const auto& d : scan.damaged) best = std::max(best, d.id);
    return best;
  }
  std::vector<std::string> matches;
  for (const auto& id : ids) {
    if (id == spec) return id;
    if (!spec.empty() && id.compare(0, spec.size(), spec) == 0) matches.push_back(id);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.size() > 1) {
    std::string list;
    for (size_t k = 0; k < matches.size() && k < 5; ++k) list += (k ? ", " : "") + matches[k];
    if (matches.size() > 5) list += ", ...";
    return Status::InvalidArgument("snapshot '" + spec + "' is ambiguous: it matches " + std::to_string(matches.size()) +
                                   " snapshots (" + list + ")", "give more characters of the id");
  }
  Result<int64_t> t = ParseTime(spec);
  if (!t.ok())
    return Status::NotFound("no snapshot matches '" + spec + "'",
                            "give a full id, a unique prefix, 'latest' or an ISO-8601 time; see `maestro-db snap list`");
  const SnapshotInfo* best = nullptr;
  // Times are read to the second, as ids are: "at or before 04:06:19" includes a
  // snapshot taken at 04:06:19.5 (id ..._040619).
  const int64_t end_of_second = *t + 999999;
  for (const auto& i : all)
    if (i.created_micros <= end_of_second) best = &i;
  if (!best)
    return Status::NotFound("no readable snapshot was taken at or before " + FormatIso8601(*t),
                            all.empty() ? "see `maestro-db snap list`" : "the oldest is " + all.front().id);
  return best->id;
}

Result<std::string> RepositoryImpl::NewId(int64_t now) {
  std::string base = FormatStamp(now);
  std::string id = base;
  for (int n = 2;; ++n) {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(JoinPath(Sub("snapshots"), id), &fi));
    if (!fi.exists) return id;
    id = base + "_" + std::to_string(n);
  }
}

Status RepositoryImpl::AdoptUnindexedPacks(const std::unordered_set<Hash128, HashKey>& named,
                                           const std::function<bool(const Hash128&)>& known,
                                           std::vector<IndexEntry>* adopted, std::set<std::string>* damaged,
                                           bool write) {
  std::vector<DirEntry> entries;
  Status ls = env_->ListDir(Sub("packs"), &entries);
  if (ls.IsNotFound()) return Status::OK();
  MAESTRO_RETURN_IF_ERROR(ls);
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  std::unordered_set<Hash128, HashKey> seen;  // a blob in two unindexed packs is adopted once
  for (const auto& e : entries) {
    Hash128 h;
    if (IsTempName(e.name) || !EndsWith(e.name, ".pack") || !Hash128::FromHex(e.name.substr(0, e.name.size() - 5), &h) ||
        named.count(h))
      continue;
    std::string path = JoinPath(Sub("packs"), e.name), bytes;
    MAESTRO_RETURN_IF_ERROR(env_->ReadFileToString(path, &bytes).Annotate("reading unindexed pack " + path));
    Result<std::vector<IndexEntry>> blobs = Status::Corruption("pack " + path + ": its name is not the hash of its bytes");
    if (Xxh128(bytes) == h) blobs = DecodePack(bytes, h, "pack " + path);
    if (!blobs.ok()) {
      damaged->insert(e.name);
      continue;
    }
    for (const auto& ie : *blobs)
      if (!known(ie.blob) && seen.insert(ie.blob).second) adopted->push_back(ie);
  }
  if (adopted->empty() || !write) return Status::OK();
  std::string bytes = EncodeIndex(*adopted);
  return WriteFileDurably(env_, JoinPath(Sub("index"), Xxh128(bytes).Hex() + ".idx"), bytes, 0600)
      .Annotate("indexing the blobs of unindexed packs");
}

Status RepositoryImpl::CleanLeftovers(const std::unordered_set<Hash128, HashKey>& used,
                                      const std::set<std::string>& keep) {
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env_->ListDir(Sub("tmp"), &entries));
  for (const auto& e : entries) MAESTRO_RETURN_IF_ERROR(env_->RemoveTree(JoinPath(Sub("tmp"), e.name)));
  for (const char* d : {"snapshots", "index", ""}) {
    std::string dir = *d ? Sub(d) : dir_;
    MAESTRO_RETURN_IF_ERROR(env_->ListDir(dir, &entries));
    for (const auto& e : entries)
      if (IsTempName(e.name) && !e.is_dir && e.name.rfind("lock", 0) != 0) MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(dir, e.name)));
  }
  // After AdoptUnindexedPacks, a pack no chosen entry uses holds only blobs that
  // are indexed in other packs (or is damaged, and kept).
  MAESTRO_RETURN_IF_ERROR(env_->ListDir(Sub("packs"), &entries));
  for (const auto& e : entries) {
    Hash128 h;
    std::string path = JoinPath(Sub("packs"), e.name);
    if (IsTempName(e.name)) {
      MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(path));
    } else if (EndsWith(e.name, ".pack") && Hash128::FromHex(e.name.substr(0, e.name.size() - 5), &h) && !used.count(h) &&
               !keep.count(e.name)) {
      MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(path));
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------- create: planning

bool IsSkippedCompanion(const std::string& name, const std::set<std::string>& sqlite_names) {
  for (const char* suf : {"-wal", "-shm", "-journal"}) {
    if (EndsWith(name, suf) && sqlite_names.count(name.substr(0, name.size() - std::strlen(suf)))) return true;
  }
  return false;
}

Status RepositoryImpl::WalkDir(const std::string& store_name, const std::string& root, const std::string& rel,
                               std::vector<ManifestFile>* files, std::vector<std::string>* warnings) {
  std::string abs = rel.empty() ? root : JoinPath(root, rel);
  std::vector<std::pair<DirEntry, FileInfo>> stats;
  {
    std::vector<DirEntry> entries;
    MAESTRO_RETURN_IF_ERROR(env_->ListDir(abs, &entries));
    std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    stats.reserve(entries.size());
    for (auto& e : entries) {
      FileInfo fi;
      MAESTRO_RETURN_IF_ERROR(env_->Stat(JoinPath(abs, e.name), &fi));
      if (!fi.exists) continue;  // removed since the listing
      stats.emplace_back(std::move(e), fi);
    }
  }
  std::set<std::string> sqlite_names;
  std::string rel_path;
  for (const auto& [e, fi] : stats) {
    if (!fi.is_regular || fi.size < 512) continue;
    rel_path = rel.empty() ? e.name : rel + "/" + e.name;
    const ParentFile* p = parent_files_ ? parent_files_->Find(store_name, rel_path) : nullptr;
    bool unchanged = p && p->size == fi.size && p->mtime_ns == fi.mtime_ns && p->inode == fi.inode;
    if (!unchanged && LooksLikeSqlite(JoinPath(abs, e.name))) sqlite_names.insert(e.name);
  }
  for (const auto& [e, fi] : stats) {
    if (e.name == "chroma.lock" || IsSkippedCompanion(e.name, sqlite_names)) continue;
    if (!fi.is_symlink && !fi.is_dir && !fi.is_regular) {
      warnings->push_back(store_name + "/" + (rel.empty() ? e.name : rel + "/" + e.name) + ": a " +
                          (fi.special ? fi.special : "special file") + ", not captured (a restore does not recreate it)");
      continue;
    }
    ManifestFile f;
    f.path = rel.empty() ? e.name : rel + "/" + e.name;
    f.mode = fi.mode;
    f.uid = fi.uid;
    f.gid = fi.gid;
    f.mtime_ns = fi.mtime_ns;
    f.inode = fi.inode;
    if (fi.is_symlink) {
      f.type = ManifestFile::Type::kSymlink;
      MAESTRO_RETURN_IF_ERROR(env_->ReadLink(JoinPath(abs, e.name), &f.link_target));
      files->push_back(std::move(f));
    } else if (fi.is_dir) {
      f.type = ManifestFile::Type::kDir;
      std::string sub = f.path;
      files->push_back(std::move(f));
      MAESTRO_RETURN_IF_ERROR(WalkDir(store_name, root, sub, files, warnings));
    } else {
      f.type = ManifestFile::Type::kFile;
      f.size = fi.size;
      f.sqlite_backup = sqlite_names.count(e.name) > 0;
      files->push_back(std::move(f));
    }
  }
  return Status::OK();
}

Status RepositoryImpl::PlanStore(size_t store_no, const SnapshotSource& src, Manifest* m) {
  ManifestStore& st = m->stores[store_no];
  FileInfo fi;
  if (st.present) MAESTRO_RETURN_IF_ERROR(env_->Stat(src.path, &fi));
  if (!st.present || !fi.exists) {
    st.present = false;  // a store that vanished is recorded as absent: restoring it makes it absent
    return Status::OK();
  }
  if (src.is_directory) {
    if (!fi.is_dir && !(fi.is_symlink && env_->DirExists(src.path)))
      return Status::BadStore("store " + src.store + ": " + src.path + " is not a directory");
    ManifestFile root;
    root.type = ManifestFile::Type::kDir;
    root.path = "";
    root.mode = fi.is_symlink ? 0755 : fi.mode;
    root.mtime_ns = fi.is_symlink ? 0 : fi.mtime_ns;
    if (!fi.is_symlink) root.uid = fi.uid, root.gid = fi.gid;
    st.files.push_back(std::move(root));
    return WalkDir(src.store, src.path, "", &st.files, &m->info.warnings);
  }
  if (fi.is_dir) return Status::BadStore("store " + src.store + ": " + src.path + " is a directory, expected an SQLite file");
  if (fi.special)  // never opened: a FIFO would block the read, a device never ends
    return Status::BadStore("store " + src.store + ": " + src.path + " is a " + fi.special + ", not an SQLite file",
                            "nothing was read; remove it or point [stores] " + src.store + " at the real database");
  ManifestFile f;
  f.type = ManifestFile::Type::kFile;
  f.path = "";
  f.mode = fi.mode;  // the live file's: an SQLite backup's read of its copy keeps these
  f.uid = fi.uid;
  f.gid = fi.gid;
  f.mtime_ns = fi.mtime_ns;
  f.inode = fi.inode;
  f.size = fi.size;
  // A file store that is not (yet) an SQLite database (empty, garbage) is kept as it is.
  f.sqlite_backup = !src.plain_copy && fi.size >= 512 && LooksLikeSqlite(src.path);
  st.files.push_back(std::move(f));
  return Status::OK();
}

// Opens the read transaction a backup copies from: after this, the source's
// content is fixed for this connection (a SHARED lock in rollback mode, a WAL
// read mark in WAL mode) until the connection is closed. Waits out writers.
Status BeginRead(Db& db, const std::string& path) {
  int64_t waited_ms = 0;
  while (true) {
    Status s = db.Exec("BEGIN");
    if (s.ok()) s = db.QueryInt("SELECT count(*) FROM sqlite_master").status();
    if (s.ok()) return s;
    int rc = sqlite3_errcode(db.raw());
    db.Exec("ROLLBACK").IgnoreError("ends a failed BEGIN, if it began; the BEGIN's error is returned");
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= 60000)
      return s.Annotate("opening a read transaction on " + path);
    sqlite3_sleep(20);
    waited_ms += 20;
  }
}

// The fingerprint of an SQLite source (see ManifestFile::source_fingerprint),
// taken while the caller holds the read transaction it will copy: any commit
// after that changes the -wal (WAL mode) or the database file (rollback mode,
// checkpoints), so a later equal fingerprint means the same logical content.
// The -shm is left out: readers write their read marks into it. Returns "" when
// a timestamp is within racy_margin_ns of now (or in the future).
Result<std::string> SqliteFingerprint(Env* env, const std::string& path, int64_t racy_margin_ns) {
  std::string fp = "v1";
  bool racy = false;
  int64_t now_ns = env->NowMicros() * 1000;
  for (const char* suffix : {"", "-wal", "-journal"}) {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env->Stat(path + suffix, &fi));
    fp += std::string(" ") + (*suffix ? suffix + 1 : "db") + "=";
    if (!fi.exists) {
      fp += "-";
      continue;
    }
    fp += std::to_string(fi.dev) + ":" + std::to_string(fi.inode) + ":" + std::to_string(fi.size) + ":" +
          std::to_string(fi.mtime_ns) + ":" + std::to_string(fi.ctime_ns);
    if (now_ns - std::max(fi.mtime_ns, fi.ctime_ns) < racy_margin_ns) racy = true;
  }
  return racy ? std::string() : fp;
}

// Removes the files it names when destroyed (SQLite backups in tmp/).
struct TempFiles {
  Env* env;
  std::vector<std::string> paths;
  ~TempFiles() {
    for (const auto& p : paths) env->RemoveFile(p).IgnoreError("temporary SQLite backups; tmp/ is cleaned by the next writer");
  }
};

// ---------------------------------------------------------------- create

Result<SnapshotInfo> RepositoryImpl::Create(const std::vector<SnapshotSource>& sources, const CreateOptions& opts) {
  MAESTRO_RETURN_IF_ERROR(EnsureLayout());
  // Create only needs to know which blobs are stored (and CleanLeftovers which
  // packs the index names): no BlobIndex with an IndexEntry per blob.
  std::unique_ptr<StoredBlobs> stored_blobs;
  {
    std::vector<std::pair<Hash128, Hash128>> blob_pack;  // in index-file order, as LoadIndex sees them
    std::unordered_set<Hash128, HashKey> named;
    // A damaged index file is skipped: the packs only it names are indexed again below.
    std::vector<std::pair<std::string, Status>> bad_index;
    MAESTRO_RETURN_IF_ERROR(ForEachIndexFile(/*strict=*/true, &bad_index, nullptr, [&](std::vector<IndexEntry>& v) {
      for (const auto& ie : v) blob_pack.emplace_back(ie.blob, ie.pack), named.insert(ie.pack);
    }));
    // The first entry of a blob is the one LoadIndex keeps: only its pack counts as used.
    std::stable_sort(blob_pack.begin(), blob_pack.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    blob_pack.erase(std::unique(blob_pack.begin(), blob_pack.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
                    blob_pack.end());
    std::vector<IndexEntry> adopted;
    std::set<std::string> damaged;
    MAESTRO_RETURN_IF_ERROR(AdoptUnindexedPacks(
        named,
        [&](const Hash128& b) {
          return std::binary_search(blob_pack.begin(), blob_pack.end(), std::make_pair(b, Hash128()),
                                    [](const auto& x, const auto& y) { return x.first < y.first; });
        },
        &adopted, &damaged));
    if (!adopted.empty()) {
      for (const auto& ie : adopted) blob_pack.emplace_back(ie.blob, ie.pack);
      std::sort(blob_pack.begin(), blob_pack.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    std::unordered_set<Hash128, HashKey> used_packs;
    std::vector<Hash128> ids;
    ids.reserve(blob_pack.size());
    for (const auto& [blob, pack] : blob_pack) {
      ids.push_back(blob);
      used_packs.insert(pack);
    }
    std::vector<std::pair<Hash128, Hash128>>().swap(blob_pack);
    MAESTRO_RETURN_IF_ERROR(CleanLeftovers(used_packs, damaged));
    stored_blobs = std::make_unique<StoredBlobs>(std::move(ids));
  }
  const StoredBlobs& idx = *stored_blobs;

  // The newest snapshot is the parent: files with unchanged size, mtime and
  // inode reuse its chunk lists without being read.
  ParentFiles<ParentFile> parent_files;
  // SQLite files with a fingerprint: reused when the fingerprint is unchanged.
  ParentFiles<ManifestFile> parent_sqlite;
  // Files per store name in the parent: the size to reserve for this snapshot's lists.
  std::map<std::string, size_t> parent_counts;
  {
    Manifest parent;
    MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListIds());
    int64_t newest = INT64_MIN;
    // Ids start with their UTC second, so only ids of the newest second (the
    // "_N" suffixes sort out of order) can be the newest snapshot.
    std::string newest_second = ids.empty() ? "" : ids.back().substr(0, 15);
    for (const auto& id : ids) {
      if (id.compare(0, 15, newest_second) != 0) continue;
      Result<Manifest> pm = LoadManifest(id);
      if (pm.ok() && pm->info.created_micros >= newest) {
        newest = pm->info.created_micros;
        parent = std::move(pm).value();
      }
    }
    // Kept in the compact form only, store by store (each store's list is freed
    // once converted): the parent is held through the whole snapshot.
    for (auto& st : parent.stores) {
      parent_counts[st.name] += st.files.size();
      parent_files.Reserve(st.name, st.files.size());
      for (auto& f : st.files)
        if (f.type == ManifestFile::Type::kFile && !f.sqlite_backup)
          parent_files.Add(st.name, ParentFile{std::move(f.path), f.size, f.mtime_ns, f.inode, f.hash, std::move(f.chunks)});
        else if (f.type == ManifestFile::Type::kFile && !f.source_fingerprint.empty())
          parent_sqlite.Add(st.name, std::move(f));
      std::vector<ManifestFile>().swap(st.files);
    }
    parent_files.Sort();
    parent_sqlite.Sort();
  }
  ReleaseFreedMemory();  // the decoded parent manifest and its bytes
  parent_files_ = &parent_files;
  struct ClearParent {
    const ParentFiles<ParentFile>** p;
    ~ClearParent() { *p = nullptr; }
  } clear_parent{&parent_files_};

  int64_t now = opts.created_micros != 0 ? opts.created_micros : env_->NowMicros();
  Manifest m;
  m.format_version = kManifestFormatVersion;
  MAESTRO_ASSIGN_OR_RETURN(m.info.id, NewId(now));
  m.info.created_micros = now;
  m.info.label = opts.label;
  m.info.trigger = opts.trigger.empty() ? "manual" : opts.trigger;
  m.info.hostname = HostName();

  // Plan: walk every store (stat only), then take every SQLite backup back to
  // back so the databases are captured as close to one moment as possible.
  // The plan is the new manifest itself (m.stores[k].files, in walk order); the
  // source of a file is derived from its store root and relative path.
  auto source_of = [&](size_t k, const ManifestFile& f) {
    return f.path.empty() ? sources[k].path : JoinPath(sources[k].path, f.path);
  };
  // SQLite files (a few): what to read, or reused from the parent unread.
  struct SqliteState {
    bool reused = false;
    std::string read_path;  // the backup in tmp/
  };
  std::map<std::pair<size_t, size_t>, SqliteState> sqlite_state;  // by (store, file)
  for (size_t k = 0; k < sources.size(); ++k) {
    ManifestStore st;
    st.name = sources[k].store;
    st.original_path = sources[k].recorded_path.empty() ? sources[k].path : sources[k].recorded_path;
    st.is_directory = sources[k].is_directory;
    st.present = sources[k].present;
    // The parent's file count (plus a little growth) is the best guess: no
    // regrowth, with an old and a new array at once, while the parent is held.
    auto pc = parent_counts.find(st.name);
    size_t guess = pc == parent_counts.end() ? 0 : pc->second;
    if (guess > 0) st.files.reserve(guess + guess / 64 + 16);
    m.stores.push_back(std::move(st));
    MAESTRO_RETURN_IF_ERROR(PlanStore(k, sources[k], &m).Annotate("snapshot of store " + sources[k].store));
  }
  ReleaseFreedMemory();  // the walk's directory listings
  TempFiles temps{env_, {}};
  int n_backup = 0;
  auto all_indexed = [&](const std::vector<Hash128>& chunks) {
    return std::all_of(chunks.begin(), chunks.end(), [&](const Hash128& c) { return idx.count(c) > 0; });
  };
  for (size_t k = 0; k < m.stores.size(); ++k)
    for (size_t j = 0; j < m.stores[k].files.size(); ++j) {
      ManifestFile& file = m.stores[k].files[j];
      if (!file.sqlite_backup) continue;
      SqliteState& state = sqlite_state[{k, j}];
      const std::string& store_name = m.stores[k].name;
      const std::string source = source_of(k, file);
      std::string what = "online backup of store " + store_name + " file " + source;
      Result<Db> opened = Db::OpenReadOnly(source, 10000);
      if (!opened.ok()) return opened.status().Annotate(what);
      Db src = std::move(opened).value();
      MAESTRO_RETURN_IF_ERROR(BeginRead(src, source).Annotate(what));
      Result<std::string> fp = SqliteFingerprint(env_, source, opts.racy_margin_ms * 1000000);
      if (!fp.ok()) return fp.status().Annotate(what);
      file.source_fingerprint = std::move(fp).value();
      const ManifestFile* pf = parent_sqlite.Find(store_name, file.path);
      if (!file.source_fingerprint.empty() && pf && pf->source_fingerprint == file.source_fingerprint &&
          all_indexed(pf->chunks)) {
        // Same database content as the parent's backup: nothing to copy.
        file.size = pf->size;
        file.hash = pf->hash;
        file.chunks = pf->chunks;
        state.reused = true;
        continue;
      }
      std::string tmp = JoinPath(Sub("tmp"), m.info.id + "-" + std::to_string(n_backup++) + ".sqlite");
      temps.paths.push_back(tmp);
      // Not fsynced: the copy only lives in tmp/ until its chunks are in packs,
      // and packs are what is made durable (saves an fsync of the database).
      MAESTRO_RETURN_IF_ERROR(SqliteBackup(src, tmp, /*durable=*/false).Annotate(what));
      FileInfo bi;
      MAESTRO_RETURN_IF_ERROR(env_->Stat(tmp, &bi));
      state.read_path = tmp;
      file.size = bi.size;
    }

  Progress prog;
  for (const auto& st : m.stores)
    for (const auto& f : st.files)
      if (f.type == ManifestFile::Type::kFile) {
        prog.files_total++;
        prog.bytes_total += f.size;
      }
  ProgressThrottle throttle(env_, opts.progress);

  PackSink sink(env_, Sub("packs"), Sub("tmp"), "snap.after_pack");
  Status failure;
  {
    CompressPool pool(&sink, DefaultThreads(opts.threads));
    std::unordered_set<Hash128, HashKey> pending;
    Chunker chunker;
    const size_t max_chunk = chunker.params().max_size;
    std::string buf;  // allocated by the first read: a snapshot of unchanged data reads nothing

    // Reads one file once: chunks, hashes, queues new blobs. Fills *f.
    auto read_once = [&](size_t store, const std::string& read_path, ManifestFile* f, uint64_t* read_bytes) -> Status {
      std::unique_ptr<SequentialFile> in;
      MAESTRO_RETURN_IF_ERROR(env_->NewSequentialFile(read_path, &in));
      if (buf.empty()) buf.resize(2 * max_chunk);
      Hasher128 whole;
      f->chunks.clear();
      size_t start = 0, have = 0;  // unconsumed bytes: buf[start, start + have)
      bool eof = false;
      uint64_t total = 0;
      while (true) {
        if (!eof && have < max_chunk) {
          // Compact only when refilling: at most one move per max_chunk consumed.
          if (start > 0) {
            std::memmove(buf.data(), buf.data() + start, have);
            start = 0;
          }
          while (!eof && have < buf.size()) {
            size_t got = 0;
            MAESTRO_RETURN_IF_ERROR(in->Read(buf.size() - have, buf.data() + have, &got));
            if (got == 0) eof = true;
            have += got;
          }
        }
        if (have == 0) break;
        size_t cut = chunker.FindCut(reinterpret_cast<const uint8_t*>(buf.data() + start), have);
        std::string_view chunk(buf.data() + start, cut);
        Hash128 h = Xxh128(chunk);
        whole.Update(chunk);
        f->chunks.push_back(h);
        if (!idx.count(h) && pending.insert(h).second) {
          if (!pool.Submit(h, std::string(chunk))) return pool.status();
        }
        total += cut;
        prog.bytes_done += cut;
        prog.current = m.stores[store].name + "/" + f->path;
        throttle.Report(prog);
        start += cut;
        have -= cut;
      }
      f->hash = whole.Digest();
      f->size = total;
      *read_bytes = total;
      return Status::OK();
    };

    for (size_t k = 0; k < m.stores.size() && failure.ok(); ++k) {
      for (size_t j = 0; j < m.stores[k].files.size(); ++j) {
        ManifestFile& f = m.stores[k].files[j];
        if (f.type != ManifestFile::Type::kFile) continue;
        std::string where = m.stores[k].name + "/" + f.path;
        const std::string source = source_of(k, f);
        const std::string* read_path = &source;  // or the SQLite backup in tmp/
        if (f.sqlite_backup) {
          const SqliteState& state = sqlite_state.at({k, j});
          if (state.reused) {
            prog.files_done++;
            prog.bytes_done += f.size;
            throttle.Report(prog);
            continue;
          }
          read_path = &state.read_path;
        }
        const ParentFile* pf = f.sqlite_backup ? nullptr : parent_files.Find(m.stores[k].name, f.path);
        if (pf) {
          const ParentFile& p = *pf;
          FileInfo now_fi;
          failure = env_->Stat(source, &now_fi);
          if (!failure.ok()) break;
          bool all_there = all_indexed(p.chunks);
          if (now_fi.is_regular && now_fi.size == p.size && now_fi.mtime_ns == p.mtime_ns && now_fi.inode == p.inode &&
              p.inode != 0 && all_there) {
            f.size = p.size;
            f.hash = p.hash;
            f.chunks = p.chunks;
            f.mode = now_fi.mode;
            f.uid = now_fi.uid;
            f.gid = now_fi.gid;
            prog.files_done++;
            prog.bytes_done += p.size;
            throttle.Report(prog);
            continue;
          }
        }
        bool consistent = false;
        for (int attempt = 0; attempt < kMaxReadTries && !consistent; ++attempt) {
          FileInfo before, after;
          failure = env_->Stat(*read_path, &before);
          if (!failure.ok()) break;
          if (!before.exists) {
            failure = Status::NotFound("store " + where + ": " + source + " vanished while the snapshot was taken",
                                       "run the snapshot again");
            break;
          }
          uint64_t got = 0;
          uint64_t done_before = prog.bytes_done;
          failure = read_once(k, *read_path, &f, &got);
          if (!failure.ok()) break;
          m.info.read_bytes += got;
          failure = env_->Stat(*read_path, &after);
          if (!failure.ok()) break;
          consistent = after.exists && before.size == after.size && before.mtime_ns == after.mtime_ns &&
                       before.inode == after.inode && got == after.size;
          // An SQLite read is of the backup copy in tmp/: its mode, owner and
          // mtime are the copy's, so the live file's from the plan are kept.
          if (!f.sqlite_backup) {
            f.mode = after.mode;
            f.uid = after.uid;
            f.gid = after.gid;
            f.mtime_ns = after.mtime_ns;
            f.inode = after.inode;
          }
          if (!consistent && attempt + 1 < kMaxReadTries) prog.bytes_done = done_before;
        }
        if (!failure.ok()) {
          failure = failure.Annotate("snapshot " + m.info.id + ", store " + where);
          break;
        }
        if (!consistent) m.info.warnings.push_back(where + ": changed while being read (" + std::to_string(kMaxReadTries) +
                                                   " tries); the snapshot holds the last read");
        prog.files_done++;
        throttle.Report(prog);
      }
    }
    Status ps = pool.Finish();
    if (failure.ok()) failure = ps;
  }
  if (failure.ok()) failure = sink.Finish();
  if (!failure.ok()) return failure;
  throttle.Report(prog, true);

  // The parent and the stored-blob list are no longer needed: free them before
  // the index and manifest are encoded (the peak of memory use).
  parent_files.clear();
  parent_sqlite.clear();
  stored_blobs.reset();
  ReleaseFreedMemory();

  // Index, then the manifest: the commit point.
  uint64_t stored = sink.stored_bytes();
  {
    std::vector<IndexEntry> fresh = sink.TakeEntries();
    if (!fresh.empty()) {
      std::string bytes = EncodeIndex(fresh);
      stored += bytes.size();
      MAESTRO_RETURN_IF_ERROR(
          WriteFileDurably(env_, JoinPath(Sub("index"), Xxh128(bytes).Hex() + ".idx"), bytes, 0600));
    }
  }
  MAESTRO_CRASH_POINT("snap.after_index");

  for (const auto& st : m.stores) {
    if (!st.present) continue;
    m.info.stores.push_back(st.name);
    for (const auto& f : st.files)
      if (f.type == ManifestFile::Type::kFile) {
        m.info.files++;
        m.info.logical_bytes += f.size;
      }
  }
  m.info.stored_bytes = stored;
  std::string mbytes = EncodeManifest(m);
  MAESTRO_CRASH_POINT("snap.before_manifest");
  std::string mpath = JoinPath(Sub("snapshots"), m.info.id);
  Status published = WriteFileDurably(env_, mpath, mbytes, 0600);
  if (!published.ok()) {
    // The rename may have happened before the directory fsync failed: a
    // snapshot reported as failed must not be listed (the id is new, so this
    // removes nothing else).
    env_->RemoveFile(mpath).IgnoreError("best effort; the write error is returned and the id is new");
    return published;
  }
  MAESTRO_CRASH_POINT("snap.after_manifest");
  return m.info;
}

// ---------------------------------------------------------------- restore

// Gives a restored entry its recorded owner, permission bits and mtime, in that
// order: chown may clear mode bits, and neither changes the mtime. A symlink's
// mode is not set (chmod would follow it).
Status GiveBackMetadata(Env* env, const std::string& path, const ManifestFile& f, MetadataReport* report) {
  MAESTRO_RETURN_IF_ERROR(RestoreOwner(env, path, f.uid, f.gid, report));
  if (f.type != ManifestFile::Type::kSymlink) MAESTRO_RETURN_IF_ERROR(env->Chmod(path, RestorableMode(f.mode, report)));
  return env->SetMtime(path, f.mtime_ns);
}

// Writes one store into a fresh staging path beside target, then renames it
// into place; the staging path is removed on any failure.
class StoreRestorer {
 public:
  StoreRestorer(Env* env, BlobReader* reader, const RestoreOptions& opts, std::string snap, std::string store)
      : env_(env), reader_(reader), opts_(opts), snap_(std::move(snap)), store_(std::move(store)) {}

  Status WriteFile(const ManifestFile& f, const std::string& path, Progress* prog, ProgressThrottle* throttle) {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
    if (fi.exists)
      return Status::Corruption("snapshot " + snap_ + ", store " + store_ + ": manifest lists " + Describe(f) +
                                " twice; refusing to overwrite");
    std::unique_ptr<WritableFile> out;
    MAESTRO_RETURN_IF_ERROR(env_->NewWritableFile(path, &out, 0600));
    Hasher128 whole;
    uint64_t total = 0;
    for (const auto& c : f.chunks) {
      Status s = reader_->Read(c, &data_);
      if (!s.ok()) return s.Annotate("snapshot " + snap_ + ", store " + store_ + ", " + Describe(f));
      whole.Update(data_);
      total += data_.size();
      MAESTRO_RETURN_IF_ERROR(out->Append(data_));
      prog->bytes_done += data_.size();
      prog->current = store_ + "/" + f.path;
      throttle->Report(*prog);
    }
    if (total != f.size || whole.Digest() != f.hash)
      return Status::Corruption("snapshot " + snap_ + ", store " + store_ + ", " + Describe(f) +
                                ": restored content does not match the whole-file hash in the manifest");
    if (opts_.sync) MAESTRO_RETURN_IF_ERROR(out->Sync());
    MAESTRO_RETURN_IF_ERROR(out->Close());
    return GiveBackMetadata(env_, path, f, opts_.metadata);
  }

  std::string Describe(const ManifestFile& f) const { return f.path.empty() ? "the store file" : "file " + f.path; }

 private:
  Env* env_;
  BlobReader* reader_;
  const RestoreOptions& opts_;
  std::string snap_, store_;
  std::string data_;
};

Status RestoreInto(Env* env, BlobReader* reader, const Manifest& m, const ManifestStore& st, const std::string& stage,
                   const RestoreOptions& opts) {
  const std::string& snap = m.info.id;
  StoreRestorer w(env, reader, opts, snap, st.name);
  Progress prog;
  for (const auto& f : st.files)
    if (f.type == ManifestFile::Type::kFile) {
      prog.files_total++;
      prog.bytes_total += f.size;
    }
  ProgressThrottle throttle(env, opts.progress);
  auto refuse = [&](const ManifestFile& f, const std::string& why) {
    return Status::Corruption("snapshot " + snap + ", store " + st.name + ": refusing manifest path '" + f.path + "': " + why,
                              "the manifest is damaged or hand-made; run `maestro-db snap verify " + snap + "`");
  };

  if (!st.is_directory) {
    if (st.files.size() != 1 || !st.files[0].path.empty() || st.files[0].type != ManifestFile::Type::kFile)
      return Status::Corruption("snapshot " + snap + ", store " + st.name + ": a file store must hold exactly one file");
    MAESTRO_RETURN_IF_ERROR(w.WriteFile(st.files[0], stage, &prog, &throttle));
    prog.files_done++;
    throttle.Report(prog, true);
    return Status::OK();
  }

  MAESTRO_RETURN_IF_ERROR(env->CreateDir(stage, 0700));
  // Directories this restore created: the only parents a path may go through,
  // so no component can be a symlink (or anything else) leading out of stage.
  std::set<std::string> dirs = {""};
  std::vector<const ManifestFile*> dir_entries;
  const ManifestFile* root_entry = nullptr;
  for (const auto& f : st.files) {
    if (f.path.empty()) {
      if (f.type != ManifestFile::Type::kDir) return refuse(f, "the store root must be a directory");
      root_entry = &f;
      continue;
    }
    if (!IsSafeRelativePath(f.path) || NormalizePath(f.path) != f.path || f.path.find("//") != std::string::npos)
      return refuse(f, "not a plain relative path inside the store");
    std::string parent = f.path.find('/') == std::string::npos ? "" : f.path.substr(0, f.path.rfind('/'));
    if (!dirs.count(parent)) {
      // Parents come before children in a manifest; a missing parent is only
      // accepted if no entry of that name exists (then it is made here).
      std::string acc;
      size_t start = 0;
      while (true) {
        size_t slash = parent.find('/', start);
        acc = parent.substr(0, slash);
        if (!dirs.count(acc)) {
          FileInfo fi;
          MAESTRO_RETURN_IF_ERROR(env->Stat(JoinPath(stage, acc), &fi));
          if (fi.exists) return refuse(f, "its parent '" + acc + "' is not a directory made by this restore");
          MAESTRO_RETURN_IF_ERROR(env->CreateDir(JoinPath(stage, acc), 0700));
          dirs.insert(acc);
        }
        if (slash == std::string::npos) break;
        start = slash + 1;
      }
    }
    std::string path = JoinPath(stage, f.path);
    switch (f.type) {
      case ManifestFile::Type::kDir: {
        FileInfo fi;
        MAESTRO_RETURN_IF_ERROR(env->Stat(path, &fi));
        if (fi.exists && !(fi.is_dir && dirs.count(f.path))) return refuse(f, "it already exists and is not a directory");
        if (!fi.exists) MAESTRO_RETURN_IF_ERROR(env->CreateDir(path, 0700));
        dirs.insert(f.path);
        dir_entries.push_back(&f);
        break;
      }
      case ManifestFile::Type::kSymlink: {
        FileInfo fi;
        MAESTRO_RETURN_IF_ERROR(env->Stat(path, &fi));
        if (fi.exists) return refuse(f, "it is listed twice");
        MAESTRO_RETURN_IF_ERROR(env->Symlink(f.link_target, path));
        MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(env, path, f, opts.metadata));  // lchown, lutimes
        break;
      }
      case ManifestFile::Type::kFile:
        MAESTRO_RETURN_IF_ERROR(w.WriteFile(f, path, &prog, &throttle));
        prog.files_done++;
        throttle.Report(prog);
        break;
    }
  }
  // Directory modes and mtimes last, deepest first: writing children changes them.
  for (auto it = dir_entries.rbegin(); it != dir_entries.rend(); ++it) {
    std::string path = JoinPath(stage, (*it)->path);
    if (opts.sync) MAESTRO_RETURN_IF_ERROR(env->SyncDir(path));
    MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(env, path, **it, opts.metadata));
  }
  if (opts.sync) MAESTRO_RETURN_IF_ERROR(env->SyncDir(stage));
  if (root_entry) MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(env, stage, *root_entry, opts.metadata));
  throttle.Report(prog, true);
  return Status::OK();
}

Status RepositoryImpl::RestoreStore(const std::string& id, const std::string& store, const std::string& target,
                                    const RestoreOptions& opts) {
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, LoadManifest(id));
  const ManifestStore* st = nullptr;
  for (const auto& s : m.stores)
    if (s.name == store) st = &s;
  if (!st) return Status::NotFound("snapshot " + id + " has no store named " + store);
  if (!st->present) return Status::NotFound("store " + store + " was absent in snapshot " + id);
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env_->Stat(target, &fi));
  if (fi.exists)
    return Status::InvalidArgument("restore target " + target + " already exists",
                                   "restore into a path that does not exist yet");
  std::string parent = DirName(NormalizePath(target));
  if (!parent.empty()) MAESTRO_RETURN_IF_ERROR(env_->CreateDirs(parent));
  BlobIndex idx;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(&idx, /*strict=*/false, nullptr, nullptr));
  BlobReader reader(env_, Sub("packs"), &idx);
  std::string stage = target + ".restore-tmp-" + std::to_string(getpid());
  MAESTRO_RETURN_IF_ERROR(env_->RemoveTree(stage));
  // What could not be given back is reported only for a store that was restored.
  MetadataReport not_given_back;
  RestoreOptions o = opts;
  o.metadata = &not_given_back;
  Status s = RestoreInto(env_, &reader, m, *st, stage, o);
  if (s.ok()) s = env_->Rename(stage, target);
  if (s.ok() && opts.sync && !parent.empty()) s = env_->SyncDir(parent);
  if (!s.ok()) {
    env_->RemoveTree(stage).IgnoreError("best-effort cleanup of the staged copy; the error returned is the restore's");
    return s;
  }
  if (opts.metadata) opts.metadata->Merge(not_given_back);
  return Status::OK();
}

// ---------------------------------------------------------------- verify

Result<VerifyReport> RepositoryImpl::Verify(const std::vector<std::string>& ids, bool read_data) {
  constexpr int kTries = 6;
  Result<VerifyReport> rep = VerifyReport();
  for (int attempt = 1; attempt <= kTries; ++attempt) {
    MAESTRO_ASSIGN_OR_RETURN(Hash128 before, Generation());
    rep = VerifyOnce(ids, read_data);
    // A manifest deleted since the ids were resolved is NotFound: changed, too.
    if (rep.ok() && rep->ok()) return rep;
    MAESTRO_ASSIGN_OR_RETURN(Hash128 after, Generation());
    if (before == after) return rep;  // nothing changed while it ran: what it found is there
    env_->SleepMicros(20000 * attempt);
  }
  if (rep.ok())
    rep->warnings.push_back("the repository kept changing while it was verified (" + std::to_string(kTries) +
                            " tries, a writer is running): run `maestro-db snap verify` again when it is quiet");
  return rep;
}

Result<VerifyReport> RepositoryImpl::VerifyOnce(const std::vector<std::string>& ids_in, bool read_data) {
  VerifyReport rep;
  std::vector<std::string> ids;
  if (ids_in.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(ids, ListIds(&rep.warnings));
    MAESTRO_RETURN_IF_ERROR(ListForeignData(&rep.warnings));
    for (auto& w : rep.warnings) w += ": not a file this repository writes; ignored";
  } else {
    for (const auto& spec : ids_in) {
      MAESTRO_ASSIGN_OR_RETURN(std::string id, ResolveId(spec));
      ids.push_back(id);
    }
  }
  BlobIndex idx;
  std::vector<std::pair<std::string, Status>> bad_index;
  std::vector<std::string> index_files;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(&idx, /*strict=*/false, &bad_index, &index_files));
  for (const auto& [path, st] : bad_index) rep.problems.push_back({"", "", path, st.message()});

  // Which snapshot files use each blob (to name what a damaged blob affects).
  struct Use {
    std::string snap, store, path;
  };
  std::unordered_map<Hash128, std::vector<Use>, HashKey> uses;
  for (const auto& id : ids) {
    Result<Manifest> m = LoadManifest(id);
    rep.snapshots_checked++;
    if (!m.ok()) {
      rep.problems.push_back({id, "", JoinPath(Sub("snapshots"), id), m.status().message()});
      continue;
    }
    for (const auto& st : m->stores)
      for (const auto& f : st.files)
        for (const auto& c : f.chunks) {
          auto& v = uses[c];
          if (v.empty() || v.back().snap != id || v.back().path != f.path || v.back().store != st.name)
            v.push_back({id, st.name, f.path});
        }
  }
  auto report_blob = [&](const Hash128& blob, const std::string& detail) {
    for (const auto& u : uses[blob]) rep.problems.push_back({u.snap, u.store, u.path, detail});
  };

  // Blobs grouped by pack.
  std::map<Hash128, std::vector<const IndexEntry*>> by_pack;
  for (const auto& [blob, users] : uses) {
    auto it = idx.find(blob);
    if (it == idx.end()) {
      report_blob(blob, "blob " + blob.Hex() + " is missing from the repository index");
      continue;
    }
    by_pack[it->second.pack].push_back(&it->second);
  }
  BlobReader decoder(env_, Sub("packs"), &idx);
  std::string pack_bytes, raw;
  for (auto& [pack, entries] : by_pack) {
    std::string path = PackPath(pack);
    FileInfo fi;
    Status s = env_->Stat(path, &fi);
    if (!s.ok() || !fi.exists) {
      for (const IndexEntry* e : entries) report_blob(e->blob, "pack " + path + " is missing");
      continue;
    }
    if (!read_data) {
      for (const IndexEntry* e : entries) {
        rep.blobs_checked++;
        if (e->offset > fi.size || e->stored_len > fi.size - e->offset)
          report_blob(e->blob, "pack " + path + " is too short for blob " + e->blob.Hex() + " (truncated?)");
      }
      continue;
    }
    s = env_->ReadFileToString(path, &pack_bytes);
    if (!s.ok()) {
      for (const IndexEntry* e : entries) report_blob(e->blob, "pack " + path + " cannot be read: " + s.message());
      continue;
    }
    rep.bytes_read += pack_bytes.size();
    if (Xxh128(pack_bytes) != pack)
      rep.problems.push_back({"", "", path, "pack content does not match its name (XXH3-128): the file is damaged"});
    if (pack_bytes.size() < kPackHeaderSize || pack_bytes.compare(0, kPackHeaderSize, EncodePackHeader()) != 0)
      rep.problems.push_back({"", "", path, "pack header is damaged"});
    for (const IndexEntry* e : entries) {
      rep.blobs_checked++;
      // Compared without adding: a crafted offset near 2^64 must not wrap the sum.
      if (e->offset < kBlobHeaderSize || e->offset > pack_bytes.size() || e->stored_len > pack_bytes.size() - e->offset) {
        report_blob(e->blob, "pack " + path + " is too short for blob " + e->blob.Hex());
        continue;
      }
      const char* h = pack_bytes.data() + e->offset - kBlobHeaderSize;
      if (!BlobHeaderMatches(h, *e)) {
        report_blob(e->blob, "pack " + path + ": header of blob " + e->blob.Hex() + " does not match the index");
        continue;
      }
      std::string_view stored(pack_bytes.data() + e->offset, e->stored_len);
      if (Xxh64(stored) != e->stored_check) {
        report_blob(e->blob, "pack " + path + ": blob " + e->blob.Hex() + " is damaged (checksum mismatch)");
        continue;
      }
      Status ds = decoder.Decode(*e, stored, &raw, path);
      if (!ds.ok()) report_blob(e->blob, ds.message());
    }
  }
  return rep;
}

// ---------------------------------------------------------------- delete & GC

Status RepositoryImpl::DeleteSnapshots(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (id.empty() || id.find('/') != std::string::npos || id[0] == '.')
      return Status::InvalidArgument("bad snapshot id '" + id + "'");
    if (!env_->FileExists(JoinPath(Sub("snapshots"), id)))
      return Status::NotFound("snapshot " + id + " does not exist in " + dir_, "see `maestro-db snap list`");
  }
  for (const auto& id : ids) {
    MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(Sub("snapshots"), id)));
    MAESTRO_RETURN_IF_ERROR(env_->SyncDir(Sub("snapshots")));
    MAESTRO_CRASH_POINT("snap.after_delete");
  }
  return Status::OK();
}

// A blob is only removable when we know for sure that no snapshot needs it: a
// damaged manifest may reference any blob, so while one is there, GC skips.
Status RepositoryImpl::NeededBlobs(std::unordered_set<Hash128, HashKey>* needed, std::string* skipped) {
  MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, ListIds());
  for (const auto& id : ids) {
    Result<Manifest> m = LoadManifest(id);
    if (m.status().IsCorruption()) {
      *skipped = "the manifest of snapshot " + id + " is damaged (" + m.status().message() +
                 "): it may reference any blob, so no data was removed; run `maestro-db snap repair` (or `snap delete " +
                 id + "`), then `maestro-db snap prune` frees what only deleted snapshots held";
      return Status::OK();
    }
    if (!m.ok()) return m.status().Annotate("not removing any data while a manifest is unreadable");
    for (const auto& st : m->stores)
      for (const auto& f : st.files)
        for (const auto& c : f.chunks) needed->insert(c);
  }
  return Status::OK();
}

Result<GcStats> RepositoryImpl::RemoveUnreferencedData(bool dry_run) {
  GcStats stats;
  if (!dry_run) MAESTRO_RETURN_IF_ERROR(EnsureLayout());
  std::unordered_set<Hash128, HashKey> needed;
  MAESTRO_RETURN_IF_ERROR(NeededBlobs(&needed, &stats.skipped));
  BlobIndex idx;
  std::vector<std::string> old_index_files;
  std::vector<std::pair<std::string, Status>> bad_index;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(&idx, /*strict=*/true, &bad_index, &old_index_files));
  if (!bad_index.empty() && stats.skipped.empty())
    stats.skipped = "index file " + bad_index.front().first + " is damaged (" + bad_index.front().second.message() +
                    "): it may be the only one naming some blobs, so no data was removed; run `maestro-db snap repair`";
  if (!stats.skipped.empty()) return stats;
  std::set<std::string> damaged;
  if (!dry_run) {
    // Index again what unindexed packs hold before deciding what is unreferenced.
    // (A pack named only by duplicate entries LoadIndex dropped counts as unnamed
    // here: it is read, found to add nothing, and deleted below as before.)
    std::unordered_set<Hash128, HashKey> named;
    for (const auto& [blob, e] : idx) named.insert(e.pack);
    std::vector<IndexEntry> adopted;
    MAESTRO_RETURN_IF_ERROR(
        AdoptUnindexedPacks(named, [&](const Hash128& b) { return idx.count(b) > 0; }, &adopted, &damaged));
    if (!adopted.empty()) {  // rare: load again, the new index file included
      idx.clear();
      old_index_files.clear();
      MAESTRO_RETURN_IF_ERROR(LoadIndex(&idx, /*strict=*/true, nullptr, &old_index_files));
    }
  }
  if (!dry_run) {
    std::unordered_set<Hash128, HashKey> used;
    for (const auto& [blob, e] : idx) used.insert(e.pack);
    MAESTRO_RETURN_IF_ERROR(CleanLeftovers(used, damaged));
  }

  // Per pack: how many of its (chosen) index entries are still needed.
  struct PackUse {
    uint64_t needed = 0, unneeded = 0, unneeded_bytes = 0;
  };
  std::map<Hash128, PackUse> packs;
  for (const auto& [blob, e] : idx) {
    PackUse& u = packs[e.pack];
    if (needed.count(blob)) {
      u.needed++;
    } else {
      u.unneeded++;
      u.unneeded_bytes += e.stored_len + kBlobHeaderSize;
      stats.blobs_removed++;
    }
  }
  std::set<Hash128> rewrite, drop;
  for (const auto& [pack, u] : packs) {
    if (u.unneeded == 0) continue;
    if (u.needed == 0) {
      drop.insert(pack);
    } else {
      rewrite.insert(pack);
    }
    stats.bytes_freed += u.unneeded_bytes;
  }
  stats.packs_rewritten = rewrite.size();
  stats.packs_removed = drop.size() + rewrite.size();
  if (dry_run || (rewrite.empty() && drop.empty())) return stats;

  // 1. Copy the needed blobs of partly-used packs into new packs (durable).
  PackSink sink(env_, Sub("packs"), Sub("tmp"), "gc.after_new_pack");
  BlobReader reader(env_, Sub("packs"), &idx);
  std::string raw;
  for (const auto& [blob, e] : idx) {
    if (!rewrite.count(e.pack) || !needed.count(blob)) continue;
    // Re-read and check: a damaged blob must not be laundered into a new pack.
    MAESTRO_RETURN_IF_ERROR(reader.ReadEntry(e, &raw).Annotate("garbage collection"));
    std::string stored(e.stored_len, '\0');
    std::unique_ptr<RandomAccessFile> f;
    MAESTRO_RETURN_IF_ERROR(env_->NewRandomAccessFile(PackPath(e.pack), &f));
    size_t got = 0;
    MAESTRO_RETURN_IF_ERROR(f->ReadAt(e.offset, e.stored_len, stored.data(), &got));
    if (got != e.stored_len || Xxh64(stored) != e.stored_check)
      return Status::Corruption("garbage collection: pack " + PackPath(e.pack) + " changed while being read");
    MAESTRO_RETURN_IF_ERROR(sink.Add(blob, e.raw_len, stored));
  }
  MAESTRO_RETURN_IF_ERROR(sink.Finish());
  MAESTRO_CRASH_POINT("gc.after_new_packs");

  // 2. One new index holding every kept entry; published before anything goes.
  std::vector<IndexEntry> kept;
  for (const auto& [blob, e] : idx)
    if (needed.count(blob) && !rewrite.count(e.pack) && !drop.count(e.pack)) kept.push_back(e);
  for (const auto& e : sink.entries()) kept.push_back(e);
  std::string new_index_path;
  if (!kept.empty()) {
    std::string bytes = EncodeIndex(kept);
    new_index_path = JoinPath(Sub("index"), Xxh128(bytes).Hex() + ".idx");
    MAESTRO_RETURN_IF_ERROR(WriteFileDurably(env_, new_index_path, bytes, 0600));
  }
  MAESTRO_CRASH_POINT("gc.after_index");

  // 3. Old index files, then the packs nothing names any more.
  for (const auto& p : old_index_files)
    if (p != new_index_path) MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(p));
  MAESTRO_RETURN_IF_ERROR(env_->SyncDir(Sub("index")));
  MAESTRO_CRASH_POINT("gc.before_delete_packs");
  for (const auto& p : drop) MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(PackPath(p)));
  for (const auto& p : rewrite) MAESTRO_RETURN_IF_ERROR(env_->RemoveFile(PackPath(p)));
  MAESTRO_RETURN_IF_ERROR(env_->SyncDir(Sub("packs")));
  MAESTRO_CRASH_POINT("gc.after_delete_packs");
  return stats;
}

// ---------------------------------------------------------------- repair

Status RepositoryImpl::Quarantine(const std::string& path, const char* sub) {
  std::string dir = JoinPath(JoinPath(dir_, "damaged"), sub);
  MAESTRO_RETURN_IF_ERROR(env_->CreateDirs(dir, 0700));
  std::string to = JoinPath(dir, BaseName(path));
  for (int n = 2; env_->FileExists(to); ++n) to = JoinPath(dir, BaseName(path) + "." + std::to_string(n));
  MAESTRO_RETURN_IF_ERROR(env_->Rename(path, to).Annotate("moving damaged " + path + " to " + dir));
  MAESTRO_RETURN_IF_ERROR(env_->SyncDir(dir));
  return env_->SyncDir(DirName(path));
}

Result<RepairReport> RepositoryImpl::Repair(bool dry_run) {
  RepairReport rep;
  if (!dry_run) MAESTRO_RETURN_IF_ERROR(EnsureLayout());
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, Scan());
  rep.foreign = std::move(scan.foreign);
  rep.quarantined = std::move(scan.damaged);
  BlobIndex idx;
  std::vector<std::pair<std::string, Status>> bad;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(&idx, /*strict=*/true, &bad, nullptr));
  for (const auto& [path, st] : bad) rep.quarantined.push_back({"", path, st.message()});
  // Damaged files aside first: an index made again from a pack can have the
  // very bytes (and so the name) the damaged file had before its damage. A
  // kill before the new index is published leaves packs no index names, which
  // every writer indexes again (AdoptUnindexedPacks) before it deletes anything.
  if (!dry_run)
    for (const auto& d : rep.quarantined) MAESTRO_RETURN_IF_ERROR(Quarantine(d.path, d.id.empty() ? "index" : "snapshots"));
  std::unordered_set<Hash128, HashKey> named;
  for (const auto& [blob, e] : idx) named.insert(e.pack);
  std::vector<IndexEntry> adopted;
  std::set<std::string> damaged_packs;
  MAESTRO_RETURN_IF_ERROR(AdoptUnindexedPacks(
      named, [&](const Hash128& b) { return idx.count(b) > 0; }, &adopted, &damaged_packs, !dry_run));
  std::set<Hash128> packs;
  for (const auto& e : adopted) packs.insert(e.pack);
  rep.blobs_reindexed = adopted.size();
  rep.packs_reindexed = packs.size();
  for (const auto& p : damaged_packs) rep.damaged_packs.push_back(JoinPath(Sub("packs"), p));
  return rep;
}

}  // namespace

}  // namespace maestro
