#include "snapshot/archiver.h"

#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include "snapshot/archive_walk.h"
#include "snapshot/blob_index.h"
#include "snapshot/catalog.h"
#include "snapshot/compress_pool.h"
#include "snapshot/file_saver.h"
#include "snapshot/leftovers.h"
#include "snapshot/pack_writer.h"
#include "snapshot/parent_files.h"
#include "snapshot/progress_throttle.h"
#include "snapshot/publish.h"
#include "snapshot/read_pool.h"
#include "snapshot/sqlite_capture.h"
#include "util/crash_point.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(snap_after_pack, "snap.after_pack");

namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// Hands freed heap pages back to the system. Create frees large transient
// buffers (the decoded parent manifest, per-directory listings) whose pages
// glibc would otherwise keep resident behind the long-lived file lists.
void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Step 1: CleanLeftovers needs which packs the index names and Create only
// which blobs are stored: both from one BlobIndex, bounded in memory
// (snapshot/blob_index.h: past the repository's budget it is on disk).
Status PrepareStoredBlobs(const RepoFiles& files, std::unique_ptr<StoredBlobs>* out) {
  // A damaged index file is skipped: the packs only it names are indexed again below.
  BlobIndex idx;
  BadIndexFiles bad_index;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(files, &idx, /*strict=*/true, &bad_index, nullptr));
  HashSet packs;
  MAESTRO_RETURN_IF_ERROR(PacksOf(idx, &packs));
  std::vector<IndexEntry> adopted;
  std::set<std::string> damaged;
  MAESTRO_RETURN_IF_ERROR(
      AdoptUnindexedPacks(files, packs, [&](const Hash128& b) { return idx.Contains(b); }, &adopted, &damaged));
  for (const auto& ie : adopted) {
    idx.Insert(ie);
    packs.insert(ie.pack);
  }
  MAESTRO_RETURN_IF_ERROR(idx.status().Annotate("loading the repository index"));
  // The chosen entry of a blob is the one LoadIndex keeps: only its pack counts as used.
  MAESTRO_RETURN_IF_ERROR(CleanLeftovers(files, packs, damaged));
  *out = std::make_unique<StoredBlobs>(std::move(idx));
  return Status::OK();
}

class Archiver {
 public:
  Archiver(const RepoFiles& files, const std::vector<SnapshotSource>& sources, const CreateOptions& opts)
      : files_(files), env_(files.env()), sources_(sources), opts_(opts), throttle_(env_, opts.progress) {}

  Result<SnapshotInfo> Run() {
    MAESTRO_RETURN_IF_ERROR(files_.EnsureScratch());
    MAESTRO_RETURN_IF_ERROR(PrepareStoredBlobs(files_, &stored_));
    MAESTRO_RETURN_IF_ERROR(LoadParentSnapshot(files_, &parent_));
    ReleaseFreedMemory();  // the decoded parent manifest and its bytes
    MAESTRO_RETURN_IF_ERROR(StartManifest());
    MAESTRO_RETURN_IF_ERROR(Plan());
    ReleaseFreedMemory();  // the walk's directory listings
    TempFiles temps{env_, {}};
    SqliteCapture capture(env_, files_.TmpDir(), sources_, parent_.sqlite, *stored_, opts_.racy_margin_ms * 1000000);
    MAESTRO_RETURN_IF_ERROR(capture.CaptureAll(&m_, &sqlite_, &temps));
    CountTotals();
    PackWriter sink(files_, "snap.after_pack");
    MAESTRO_RETURN_IF_ERROR(ChunkAndStore(&sink));
    // Format 4: the listing as tree blobs, then every pack is published.
    MAESTRO_RETURN_IF_ERROR(
        StoreListing(files_, &sink, [this](const Hash128& b) { return stored_->count(b); }, &m_));
    throttle_.Report(prog_, true);
    // The parent and the stored-blob list are no longer needed: free them before
    // the index and manifest are encoded (the peak of memory use).
    parent_.clear();
    stored_.reset();
    ReleaseFreedMemory();
    MAESTRO_RETURN_IF_ERROR(Publish(&sink));
    return m_.info;
  }

 private:
  std::string SourceOf(size_t k, const ManifestFile& f) const {
    return f.path.empty() ? sources_[k].path : JoinPath(sources_[k].path, f.path);
  }

  Status StartManifest() {
    int64_t now = opts_.created_micros != 0 ? opts_.created_micros : env_->NowMicros();
    m_.format_version = files_.v4() ? kManifestFormatV4 : kManifestFormatVersion;
    MAESTRO_ASSIGN_OR_RETURN(m_.info.id, NewSnapshotId(files_, now));
    m_.info.created_micros = now;
    m_.info.label = opts_.label;
    m_.info.trigger = opts_.trigger.empty() ? "manual" : opts_.trigger;
    m_.info.hostname = HostName();
    return Status::OK();
  }

  // Step 3. The plan is the new manifest itself (m_.stores[k].files, in walk
  // order); the source of a file is derived from its store root and path.
  Status Plan() {
    StoreWalker walker(env_, &parent_.files);
    for (const SnapshotSource& src : sources_) {
      ManifestStore st;
      st.name = src.store;
      st.original_path = src.recorded_path.empty() ? src.path : src.recorded_path;
      st.is_directory = src.is_directory;
      st.present = src.present;
      // The parent's file count (plus a little growth) is the best guess: no
      // regrowth, with an old and a new array at once, while the parent is held.
      auto pc = parent_.counts.find(st.name);
      size_t guess = pc == parent_.counts.end() ? 0 : pc->second;
      if (guess > 0) st.files.reserve(guess + guess / 64 + 16);
      m_.stores.push_back(std::move(st));
      MAESTRO_RETURN_IF_ERROR(
          walker.PlanStore(src, &m_.stores.back(), &m_.info.warnings).Annotate("snapshot of store " + src.store));
    }
    return Status::OK();
  }

  // After the SQLite capture: a backup's size is its copy's.
  void CountTotals() {
    for (const auto& st : m_.stores)
      for (const auto& f : st.files)
        if (f.type == ManifestFile::Type::kFile) {
          prog_.files_total++;
          prog_.bytes_total += f.size;
        }
  }

  // Step 5: every file of the plan, read by ReadPool threads (one FileSaver
  // each), compressed by the pool's. Entries are numbered across the stores.
  Status ChunkAndStore(PackWriter* sink) {
    std::vector<size_t> first{0};  // number of each store's first entry
    for (const auto& st : m_.stores) first.push_back(first.back() + st.files.size());
    const unsigned threads = DefaultThreads(opts_.threads);
    Status failure;
    {
      CompressPool pool(sink, threads);
      PendingBlobs pending;
      ReadPool readers(DefaultReaders(threads));
      std::vector<std::unique_ptr<FileSaver>> savers;
      for (unsigned r = 0; r < DefaultReaders(threads); ++r)
        savers.push_back(std::make_unique<FileSaver>(env_, *stored_, &pending, &pool, &bytes_done_, &files_.sealer()));
      auto work = [&](size_t i, unsigned slot) {
        size_t k = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
        if (m_.stores[k].files[i - first[k]].type != ManifestFile::Type::kFile) return Status::OK();
        current_ = i;
        return StoreFile(k, i - first[k], i, savers[slot].get());
      };
      failure = readers.Run(first.back(), work, [&] { ReportProgress(first); });
      Status ps = pool.Finish();
      if (failure.ok()) failure = ps;
      ReportProgress(first);
    }
    m_.info.read_bytes += read_bytes_.load();
    // In plan order, whichever reader met them.
    std::sort(changed_.begin(), changed_.end());
    for (const auto& c : changed_) m_.info.warnings.push_back(c.second);
    return failure;
  }

  // Readers' counters into prog_, on the calling thread (the callback's).
  void ReportProgress(const std::vector<size_t>& first) {
    prog_.files_done = files_done_.load();
    prog_.bytes_done = bytes_done_.load();
    size_t i = current_.load();
    size_t k = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), i) - first.begin()) - 1;
    if (k < m_.stores.size()) prog_.current = m_.stores[k].name + "/" + m_.stores[k].files[i - first[k]].path;
    throttle_.Report(prog_);
  }

  void FileDone(uint64_t unread_bytes) {
    files_done_++;
    bytes_done_ += unread_bytes;
  }

  // One regular file (entry number i): reused from the parent or the SQLite
  // capture, else read. Called from reader threads: touches only f and the
  // shared counters.
  Status StoreFile(size_t k, size_t j, size_t i, FileSaver* saver) {
    ManifestFile& f = m_.stores[k].files[j];
    const std::string where = m_.stores[k].name + "/" + f.path;
    const std::string source = SourceOf(k, f);
    const std::string* read_path = &source;  // or the SQLite backup in tmp/
    if (f.sqlite_backup) {
      const SqliteState& state = sqlite_.at({k, j});
      if (state.reused) {
        FileDone(f.size);
        return Status::OK();
      }
      read_path = &state.read_path;
    } else {
      bool reused = false;
      MAESTRO_RETURN_IF_ERROR(ReuseFromParent(m_.stores[k].name, source, &f, &reused));
      if (reused) {
        FileDone(f.size);
        return Status::OK();
      }
    }
    bool consistent = false;
    uint64_t read = 0;
    Status s = saver->Save(where, source, *read_path, &f, &read, &consistent);
    read_bytes_ += read;
    if (!s.ok()) return s.Annotate("snapshot " + m_.info.id + ", store " + where);
    if (!consistent) {
      std::lock_guard<std::mutex> l(changed_mu_);
      changed_.emplace_back(i, where + ": changed while being read (" + std::to_string(kMaxReadTries) +
                                   " tries); the snapshot holds the last read");
    }
    FileDone(0);
    return Status::OK();
  }

  // A file with the parent's size, mtime and inode, all of whose chunks are
  // stored, takes the parent's chunk list unread (and today's mode and owner).
  Status ReuseFromParent(const std::string& store, const std::string& source, ManifestFile* f, bool* reused) {
    const ParentFile* p = parent_.files.Find(store, f->path);
    if (!p) return Status::OK();
    f->incompressible = p->incompressible;  // changed or not: no trial for a file known not to compress
    FileInfo now_fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(source, &now_fi));
    if (!now_fi.is_regular || now_fi.size != p->size || now_fi.mtime_ns != p->mtime_ns || now_fi.inode != p->inode ||
        p->inode == 0 || !stored_->HasAll(p->chunks))
      return Status::OK();
    f->size = p->size;
    f->hash = p->hash;
    f->chunks = p->chunks;
    f->mode = now_fi.mode;
    f->uid = now_fi.uid;
    f->gid = now_fi.gid;
    *reused = true;
    return Status::OK();
  }

  // Step 6: the index, then the manifest: the commit point (snapshot/publish.h,
  // shared with `snap copy`).
  Status Publish(PackWriter* sink) { return PublishSnapshot(files_, sink, &m_); }

  const RepoFiles& files_;
  Env* env_;
  const std::vector<SnapshotSource>& sources_;
  const CreateOptions& opts_;
  std::unique_ptr<StoredBlobs> stored_;
  ParentSnapshot parent_;
  Manifest m_;
  SqliteStates sqlite_;  // SQLite files (a few): what to read, or reused unread
  Progress prog_;
  ProgressThrottle throttle_;
  // Step 5's shared state (reader threads).
  std::atomic<uint64_t> files_done_{0}, bytes_done_{0}, read_bytes_{0};
  std::atomic<size_t> current_{0};
  std::mutex changed_mu_;
  std::vector<std::pair<size_t, std::string>> changed_;  // (entry number, warning)
};

}  // namespace

Result<SnapshotInfo> CreateSnapshot(const RepoFiles& files, const std::vector<SnapshotSource>& sources,
                                    const CreateOptions& opts) {
  return Archiver(files, sources, opts).Run();
}

}  // namespace maestro
