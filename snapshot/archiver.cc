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
#include "snapshot/plan_file.h"
#include "snapshot/progress_throttle.h"
#include "snapshot/publish.h"
#include "snapshot/read_ahead.h"
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
// buffers (the stored-blob list's build, per-directory listings) whose pages
// glibc would otherwise keep resident.
void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Step 1: CleanLeftovers needs which packs the index names and Create only
// which blobs are stored, plus where the parent's tree blobs are: all from
// one BlobIndex, bounded in memory (snapshot/blob_index.h: past the
// repository's budget it is on disk).
Status PrepareStoredBlobs(const RepoFiles& files, std::unique_ptr<StoredBlobs>* out, BlobIndex* trees) {
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
  MAESTRO_RETURN_IF_ERROR(idx.ForEach([&](const IndexEntry& e) {
    if (e.type == BlobType::kTree) trees->Insert(e);
    return Status::OK();
  }));
  // The chosen entry of a blob is the one LoadIndex keeps: only its pack counts as used.
  MAESTRO_RETURN_IF_ERROR(CleanLeftovers(files, packs, damaged));
  *out = std::make_unique<StoredBlobs>(std::move(idx));
  return Status::OK();
}

// A run of one store's plan entries, stored and listed together.
struct Batch {
  std::vector<ManifestFile> files;
  std::vector<std::unique_ptr<ManifestFile>> parent;  // the parent's entry of files[i], or null
  std::vector<size_t> sqlite;                         // files[i]'s SQLite capture (SqliteStates), or kNone
  static constexpr size_t kNone = static_cast<size_t>(-1);
  void clear() {
    files.clear();
    parent.clear();
    sqlite.clear();
  }
};

class Archiver {
 public:
  Archiver(const RepoFiles& files, const std::vector<SnapshotSource>& sources, const CreateOptions& opts,
           const CreateLimits& limits)
      : files_(files), env_(files.env()), sources_(sources), opts_(opts), limits_(limits),
        // Every snapshot's tree blobs, one entry each: bounded as the index is.
        trees_(env_, files.CacheDir(), files.memory_budget() / 4), throttle_(env_, opts.progress) {}

  Result<SnapshotInfo> Run() {
    MAESTRO_RETURN_IF_ERROR(files_.EnsureScratch());
    MAESTRO_RETURN_IF_ERROR(PrepareStoredBlobs(files_, &stored_, &trees_));
    MAESTRO_RETURN_IF_ERROR(LoadParentSnapshot(files_, &parent_));
    ReleaseFreedMemory();  // the stored-blob list's build
    MAESTRO_RETURN_IF_ERROR(StartManifest());
    TempFiles temps{env_, {}};
    plan_path_ = JoinPath(files_.TmpDir(), m_.info.id + ".plan");
    temps.paths.push_back(plan_path_);
    MAESTRO_RETURN_IF_ERROR(Plan());
    ReleaseFreedMemory();  // the walk's directory listings
    parent_.sqlite.Sort();
    SqliteCapture capture(env_, files_.TmpDir(), sources_, parent_.sqlite, *stored_, opts_.racy_margin_ms * 1000000);
    PackWriter sink(files_, "snap.after_pack");
    {
      // The captures run beside the storing of the other files (sqlite_capture.h);
      // joined before temps (declared first) removes their copies.
      BackgroundCapture background(&capture, &sqlite_plan_, &sqlite_, &temps);
      capture_ = &background;
      Status stored = StoreAll(&sink);
      if (!stored.ok()) background.Cancel();  // the captures still to come would be thrown away
      Status captured = background.Finish();
      capture_ = nullptr;
      MAESTRO_RETURN_IF_ERROR(captured);
      MAESTRO_RETURN_IF_ERROR(stored);
    }
    MAESTRO_RETURN_IF_ERROR(sink.Finish());
    throttle_.Report(prog_, true);
    stored_.reset();
    trees_.Clear();
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
    sqlite_plan_.info.id = m_.info.id;
    return Status::OK();
  }

  // Step 3. Every store's entries into the plan file, in listing order; its
  // SQLite files (a few) also into sqlite_plan_ for the capture. The parent
  // cursor sets the parent's SQLite entries aside as it passes them.
  Status Plan() {
    PlanWriter plan(env_, plan_path_);
    MAESTRO_RETURN_IF_ERROR(plan.Open());
    StoreWalker walker(env_);
    for (size_t k = 0; k < sources_.size(); ++k) {
      const SnapshotSource& src = sources_[k];
      ManifestStore st;
      st.name = src.store;
      st.original_path = src.recorded_path.empty() ? src.path : src.recorded_path;
      st.is_directory = src.is_directory;
      st.present = src.present;
      m_.stores.push_back(std::move(st));
      sqlite_plan_.stores.emplace_back().name = src.store;
      ParentCursor parent(files_, &trees_, parent_.Store(src.store), src.store, &parent_.sqlite);
      uint64_t n = 0;
      auto emit = [&](ManifestFile&& f) {
        if (f.type == ManifestFile::Type::kFile) {
          prog_.files_total++;
          if (!f.sqlite_backup) planned_bytes_ += f.size;  // an SQLite file: its copy's size, after the capture
        }
        if (f.sqlite_backup) sqlite_plan_.stores[k].files.push_back(f);
        n++;
        return plan.Add(f);
      };
      MAESTRO_RETURN_IF_ERROR(walker.PlanStore(src, &m_.stores.back(), &parent, emit, &m_.info.warnings)
                                  .Annotate("snapshot of store " + src.store));
      parent.Drain();
      planned_.push_back(n);
    }
    return plan.Close();
  }

  // The order step 5 takes the stores in: those with no SQLite file first, so
  // the captures (running beside them) are done before their stores come up
  // (on the demo install the readers waited ~1 s for chroma.sqlite3's, with
  // the next store's files not begun); else the listing's. Each store's
  // listing is its own, so the order changes no listing.
  std::vector<size_t> StoreOrder() const {
    std::vector<size_t> order(m_.stores.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_partition(order.begin(), order.end(), [this](size_t k) { return sqlite_plan_.stores[k].files.empty(); });
    return order;
  }

  // plan, positioned at store k's first entry: as it is when store k comes
  // next in the plan, else opened again and moved there (*at: entries passed).
  Status SeekPlan(size_t k, std::unique_ptr<PlanReader>* plan, uint64_t* at) {
    uint64_t start = 0;
    for (size_t j = 0; j < k; ++j) start += planned_[j];
    if (*plan && *at == start) return Status::OK();
    *plan = std::make_unique<PlanReader>(env_, plan_path_);
    MAESTRO_RETURN_IF_ERROR((*plan)->Open());
    *at = start;
    return (*plan)->Skip(start);
  }

  // Step 5: the plan, store by store (StoreOrder), a batch at a time.
  Status StoreAll(PackWriter* sink) {
    const std::vector<size_t> order = StoreOrder();
    std::unique_ptr<PlanReader> plan;
    uint64_t at = 0;
    // Tree blobs this snapshot stored (one per ~64 KiB of listing), bounded
    // as the data blobs' set is: past its budget, in cache/.
    PendingBlobs added(env_, files_.CacheDir(), files_.memory_budget() / 16);
    BlobHeld held = [this](const Hash128& b) { return stored_->count(b); };
    // Bounded: past half the repository's budget its ids go to cache/ (snapshot/pending_blobs.h).
    PendingBlobs pending(env_, files_.CacheDir(), files_.memory_budget() / 2);
    std::vector<std::unique_ptr<FileSaver>> savers;
    for (unsigned r = 0; r < DefaultReaders(DefaultThreads(opts_.threads)); ++r)
      savers.push_back(std::make_unique<FileSaver>(env_, *stored_, &pending, nullptr, &bytes_done_, &files_.sealer()));
    // One pool for the whole step: its threads and its reused blob buffers
    // (snapshot/blob_buffers.h) last from batch to batch.
    CompressPool pool(sink, DefaultThreads(opts_.threads));
    for (const auto& s : savers) s->set_pool(&pool);
    // No parent: every planned file is read, so the page cache may run ahead
    // across batches and stores (snapshot/read_ahead.h PlanAhead).
    std::unique_ptr<PlanAhead> ahead;
    if (!parent_.present)
      ahead = std::make_unique<PlanAhead>(env_, plan_path_, planned_, order,
                                          [this](size_t k, const ManifestFile& f) { return SourceOf(k, f); }, &bytes_done_);
    for (size_t k : order) {
      MAESTRO_RETURN_IF_ERROR(SeekPlan(k, &plan, &at));
      ManifestStore& st = m_.stores[k];
      std::unique_ptr<ListingWriter> listing;
      if (st.present) listing = std::make_unique<ListingWriter>(files_, sink, held, &added, &st);
      ParentCursor parent(files_, &trees_, parent_.Store(st.name), st.name, nullptr);
      size_t next_sqlite = 0;
      Batch b;
      for (uint64_t n = 0; n < planned_[k];) {
        b.clear();
        for (; n < planned_[k] && b.files.size() < limits_.batch_entries; ++n) {
          ManifestFile f;
          if (!plan->Next(&f))
            return plan->status().ok() ? Status::Internal("the snapshot's plan " + plan_path_ + " ends early") : plan->status();
          at++;
          AddToBatch(std::move(f), &parent, &next_sqlite, &b);
        }
        MAESTRO_RETURN_IF_ERROR(StoreBatch(k, &b, &pool, savers));
        MAESTRO_RETURN_IF_ERROR(pending.Settle().Annotate("snapshot " + m_.info.id));
        for (auto& f : b.files) {
          if (f.type == ManifestFile::Type::kFile) totals_.files++, totals_.logical_bytes += f.size;
          if (listing) MAESTRO_RETURN_IF_ERROR(listing->Add(std::move(f)));
        }
        MAESTRO_RETURN_IF_ERROR(added.Settle().Annotate("snapshot " + m_.info.id));
        if (sink->unindexed() >= PackWriter::kIndexPiece) MAESTRO_RETURN_IF_ERROR(sink->PublishIndex());
      }
      if (listing) MAESTRO_RETURN_IF_ERROR(listing->Finish());
      MAESTRO_RETURN_IF_ERROR(added.Settle().Annotate("snapshot " + m_.info.id));
    }
    MAESTRO_RETURN_IF_ERROR(pool.Finish());
    m_.info.read_bytes += read_bytes_.load();
    return Status::OK();
  }

  // One plan entry into b: an SQLite file is numbered (its reader takes its
  // capture's entry, StoreFile), a regular file takes the parent's entry of
  // its path (the merge join).
  void AddToBatch(ManifestFile&& f, ParentCursor* parent, size_t* next_sqlite, Batch* b) {
    size_t sq = Batch::kNone;
    std::unique_ptr<ManifestFile> p;
    if (f.type == ManifestFile::Type::kFile && f.sqlite_backup) {
      sq = (*next_sqlite)++;
    } else if (f.type == ManifestFile::Type::kFile) {
      if (ManifestFile* pf = parent->Find(f.path)) p = std::make_unique<ManifestFile>(std::move(*pf));
    }
    b->files.push_back(std::move(f));
    b->parent.push_back(std::move(p));
    b->sqlite.push_back(sq);
  }

  // Every file of b read by ReadPool threads (one FileSaver each), compressed
  // by the pool: once it drained, every entry of b is final.
  Status StoreBatch(size_t k, Batch* b, CompressPool* pool, const std::vector<std::unique_ptr<FileSaver>>& savers) {
    Status failure;
    {
      ReadPool readers(static_cast<unsigned>(savers.size()));
      ReadAhead ahead = ReadAheadOf(k, *b);
      current_ = 0;
      auto work = [&](size_t i, unsigned slot) {
        if (b->files[i].type != ManifestFile::Type::kFile) return Status::OK();
        ahead.Advance(i);
        current_ = i;
        return StoreFile(k, b, i, savers[slot].get());
      };
      failure = readers.Run(b->files.size(), work, [&] { ReportProgress(k, *b); });
      Status ps = pool->Drain();
      if (failure.ok()) failure = ps;
      ReportProgress(k, *b);
    }
    // In plan order, whichever reader met them.
    std::sort(changed_.begin(), changed_.end());
    for (const auto& c : changed_) m_.info.warnings.push_back(c.second);
    changed_.clear();
    return failure;
  }

  // What b's readers will read from disk, for the read-ahead: regular files
  // that are neither SQLite copies (just written to tmp/, in the cache) nor
  // likely to be reused from the parent unread (same size, mtime and inode).
  ReadAhead ReadAheadOf(size_t k, const Batch& b) const {
    std::vector<uint64_t> sizes(b.files.size(), 0);
    for (size_t i = 0; i < b.files.size(); ++i) {
      const ManifestFile& f = b.files[i];
      const ManifestFile* p = b.parent[i].get();
      if (f.type != ManifestFile::Type::kFile || f.sqlite_backup) continue;
      if (SameAsParent(p, f.size, f.mtime_ns, f.inode)) continue;
      sizes[i] = f.size;
    }
    return ReadAhead(env_, sizes, [this, k, &b](size_t i) { return SourceOf(k, b.files[i]); });
  }

  // Readers' counters into prog_, on the calling thread (the callback's).
  void ReportProgress(size_t k, const Batch& b) {
    prog_.files_done = files_done_.load();
    prog_.bytes_done = bytes_done_.load();
    prog_.bytes_total = planned_bytes_ + sqlite_bytes_.load();  // a backup counts once its reader has it
    size_t i = current_.load();
    if (i < b.files.size()) prog_.current = m_.stores[k].name + "/" + b.files[i].path;
    throttle_.Report(prog_);
  }

  void FileDone(uint64_t unread_bytes) {
    files_done_++;
    bytes_done_ += unread_bytes;
  }

  // One regular file (b's entry i): reused from the parent or the SQLite
  // capture, else read. Called from reader threads: touches only that entry
  // and the shared counters.
  Status StoreFile(size_t k, Batch* b, size_t i, FileSaver* saver) {
    ManifestFile& f = b->files[i];
    if (f.sqlite_backup) {
      // The capture's entry (fingerprint, size; reused: chunks), once it is made.
      MAESTRO_RETURN_IF_ERROR(capture_->Wait(k, b->sqlite[i]).Annotate("snapshot " + m_.info.id));
      f = sqlite_plan_.stores[k].files[b->sqlite[i]];
      sqlite_bytes_ += f.size;
    }
    const std::string where = m_.stores[k].name + "/" + f.path;
    const std::string source = SourceOf(k, f);
    const std::string* read_path = &source;  // or the SQLite backup in tmp/
    if (f.sqlite_backup) {
      const SqliteState& state = sqlite_.at({k, b->sqlite[i]});
      if (state.reused) {
        FileDone(f.size);
        return Status::OK();
      }
      read_path = &state.read_path;
    } else {
      bool reused = false;
      MAESTRO_RETURN_IF_ERROR(ReuseFromParent(b->parent[i].get(), source, &f, &reused));
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
  Status ReuseFromParent(ManifestFile* p, const std::string& source, ManifestFile* f, bool* reused) {
    if (!p) return Status::OK();
    f->incompressible = p->incompressible;  // changed or not: no trial for a file known not to compress
    FileInfo now_fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(source, &now_fi));
    if (!now_fi.is_regular || !SameAsParent(p, now_fi.size, now_fi.mtime_ns, now_fi.inode) || p->inode == 0 ||
        !stored_->HasAll(p->chunks))
      return Status::OK();
    f->size = p->size;
    f->hash = p->hash;
    f->chunks = std::move(p->chunks);
    f->mode = now_fi.mode;
    f->uid = now_fi.uid;
    f->gid = now_fi.gid;
    *reused = true;
    return Status::OK();
  }

  // Step 6: the last index file, then the manifest: the commit point
  // (snapshot/publish.h, shared with `snap copy`).
  Status Publish(PackWriter* sink) { return PublishSnapshot(files_, sink, &m_, &totals_); }

  const RepoFiles& files_;
  Env* env_;
  const std::vector<SnapshotSource>& sources_;
  const CreateOptions& opts_;
  const CreateLimits limits_;
  std::unique_ptr<StoredBlobs> stored_;
  BlobIndex trees_;  // index entries of tree blobs: the parent's listing is read through it
  ParentSnapshot parent_;
  Manifest m_;  // the stores' names, flags and roots (format 3: and listings); info
  std::string plan_path_;
  std::vector<uint64_t> planned_;  // plan entries per store
  Manifest sqlite_plan_;           // the SQLite files of the plan (a few), per store in plan order
  SqliteStates sqlite_;            // by (store, index in sqlite_plan_): what to read, or reused unread
  BackgroundCapture* capture_ = nullptr;  // fills sqlite_plan_ and sqlite_ during step 5
  uint64_t planned_bytes_ = 0;            // the walk's bytes of regular files that are not SQLite
  std::atomic<uint64_t> sqlite_bytes_{0};  // the backups' bytes, as readers take them
  ListingTotals totals_;
  Progress prog_;
  ProgressThrottle throttle_;
  // Step 5's shared state (reader threads).
  std::atomic<uint64_t> files_done_{0}, bytes_done_{0}, read_bytes_{0};
  std::atomic<size_t> current_{0};
  std::mutex changed_mu_;
  std::vector<std::pair<size_t, std::string>> changed_;  // (entry number in the batch, warning)
};

}  // namespace

Result<SnapshotInfo> CreateSnapshot(const RepoFiles& files, const std::vector<SnapshotSource>& sources,
                                    const CreateOptions& opts, const CreateLimits& limits) {
  CreateLimits l = limits;
  if (l.batch_entries == 0) l.batch_entries = 1;
  return Archiver(files, sources, opts, l).Run();
}

}  // namespace maestro
