#include "snapshot/restorer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <functional>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"
#include "snapshot/listing_reader.h"
#include "snapshot/progress_throttle.h"
#include "snapshot/restore_writers.h"
#include "snapshot/tree.h"

namespace maestro {

namespace {

using EntryFn = std::function<Status(ManifestFile&)>;

// One store's listing, from the first entry to the last or (Backwards) from
// the last to the first, one tree blob in memory at a time (format 4; formats
// 1-3: the manifest's own list). Listing order puts parents before children,
// so backwards every folder comes after everything inside it.
class Listing {
 public:
  Listing(const RepoFiles& files, const BlobIndex* idx, const ManifestStore& st, std::string what)
      : files_(files), idx_(idx), st_(st), what_(std::move(what)) {}

  Status Forwards(const EntryFn& fn) const {
    ListingReader r(files_, idx_, st_, what_);
    ManifestFile f;
    while (r.Next(&f)) MAESTRO_RETURN_IF_ERROR(fn(f));
    return r.status();
  }

  Status Backwards(const EntryFn& fn) const {
    if (!st_.has_root) {
      for (auto it = st_.files.rbegin(); it != st_.files.rend(); ++it) {
        ManifestFile f = *it;
        MAESTRO_RETURN_IF_ERROR(fn(f));
      }
      return Status::OK();
    }
    BlobReader reader(files_, idx_);
    std::string plain;
    MAESTRO_RETURN_IF_ERROR(reader.Read(st_.root, &plain).Annotate(what_));
    MAESTRO_ASSIGN_OR_RETURN(std::vector<Hash128> trees, DecodeTreeRoot(plain, what_));
    std::vector<ManifestFile> buf;
    for (auto t = trees.rbegin(); t != trees.rend(); ++t) {
      buf.clear();
      MAESTRO_RETURN_IF_ERROR(reader.Read(*t, &plain).Annotate(what_));
      MAESTRO_RETURN_IF_ERROR(DecodeTreeBlob(plain, what_ + " (tree blob " + t->Hex() + ")", &buf));
      for (auto it = buf.rbegin(); it != buf.rend(); ++it) MAESTRO_RETURN_IF_ERROR(fn(*it));
    }
    return Status::OK();
  }

 private:
  const RepoFiles& files_;
  const BlobIndex* idx_;
  const ManifestStore& st_;
  const std::string what_;
};

// Writes the entries of one store of a snapshot under a staging path, in
// three passes over its listing, so that nothing is held per entry:
//   1. count (the progress totals; a missing or damaged tree blob fails here,
//      before any file is written);
//   2. every entry in listing order: folders and symlinks made, each file
//      created empty and handed to the writer threads (restore_writers.h),
//      which fill it while the listing goes on; of the folders only the chain
//      from the store root to the current one is kept (listing order is depth
//      first), every other parent is checked on disk;
//   3. backwards: each folder's fsync, mode, owner and mtime, after everything
//      inside it was written (deepest first, as writing children changes them).
class StoreRestorer {
 public:
  StoreRestorer(Env* env, RestoreWriters* writers, const Listing& listing, const RestoreOptions& opts,
                const std::string& snap, const ManifestStore& st, std::string stage)
      : env_(env), writers_(writers), listing_(listing), opts_(opts), snap_(snap), st_(st), stage_(std::move(stage)),
        throttle_(env, opts.progress) {}

  Status Run() {
    uint64_t entries = 0;
    MAESTRO_RETURN_IF_ERROR(listing_.Forwards([&](ManifestFile& f) {
      entries++;
      if (f.type == ManifestFile::Type::kFile) {
        prog_.files_total++;
        prog_.bytes_total += f.size;
      }
      return Status::OK();
    }));
    if (!st_.is_directory) return RestoreFileStore(entries);
    MAESTRO_RETURN_IF_ERROR(env_->CreateDir(stage_, 0700));
    open_.assign(1, "");
    MAESTRO_RETURN_IF_ERROR(listing_.Forwards([&](ManifestFile& f) {
      if (!f.path.empty()) return RestoreEntry(f);
      return f.type == ManifestFile::Type::kDir ? Status::OK() : Refuse(f, "the store root must be a directory");
    }));
    MAESTRO_RETURN_IF_ERROR(writers_->Finish([this] { Tick(); }));
    MAESTRO_RETURN_IF_ERROR(FinishFolders());
    ReportWritten();
    throttle_.Report(prog_, true);
    return Status::OK();
  }

 private:
  // Pass 3: folders' fsync and metadata, deepest first; the store root last.
  Status FinishFolders() {
    bool have_root = false;
    ManifestFile root_entry;
    MAESTRO_RETURN_IF_ERROR(listing_.Backwards([&](ManifestFile& f) {
      if (f.type != ManifestFile::Type::kDir) return Status::OK();
      if (f.path.empty()) {
        if (!have_root) root_entry = std::move(f);  // the last one listed, as before
        have_root = true;
        return Status::OK();
      }
      return FinishFolder(JoinPath(stage_, f.path), f);
    }));
    if (have_root) return FinishFolder(stage_, root_entry);
    return opts_.sync ? env_->SyncDir(stage_) : Status::OK();
  }

  // Metadata first, so the folder's fsync makes its mode and mtime durable too.
  // A folder its owner may not read (no u+r, not root) could not be opened for
  // that fsync after the chmod: it is synced first, its metadata left unsynced.
  Status FinishFolder(const std::string& path, const ManifestFile& f) {
    if (!opts_.sync) return GiveBackMetadata(env_, path, f, opts_.metadata);
    if ((f.mode & S_IRUSR) == 0 && ::geteuid() != 0) {
      MAESTRO_RETURN_IF_ERROR(env_->SyncDir(path));
      return GiveBackMetadata(env_, path, f, opts_.metadata);
    }
    MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(env_, path, f, opts_.metadata));
    return env_->SyncDir(path);
  }

  Status Refuse(const ManifestFile& f, const std::string& why) const {
    return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ": refusing manifest path '" + f.path + "': " + why,
                              "the manifest is damaged or hand-made; run `maestro-db snap verify " + snap_ + "`");
  }

  std::string Describe(const ManifestFile& f) const { return f.path.empty() ? "the store file" : "file " + f.path; }

  Status RestoreFileStore(uint64_t entries) {
    ManifestFile only;
    MAESTRO_RETURN_IF_ERROR(listing_.Forwards([&](ManifestFile& f) {
      only = std::move(f);
      return Status::OK();
    }));
    if (entries != 1 || !only.path.empty() || only.type != ManifestFile::Type::kFile)
      return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ": a file store must hold exactly one file");
    MAESTRO_RETURN_IF_ERROR(StartFile(std::move(only), stage_));
    MAESTRO_RETURN_IF_ERROR(writers_->Finish([this] { Tick(); }));
    ReportWritten();
    throttle_.Report(prog_, true);
    return Status::OK();
  }

  // One entry of a directory store, its parents checked (or made) first.
  Status RestoreEntry(ManifestFile& f) {
    if (!IsSafeRelativePath(f.path) || NormalizePath(f.path) != f.path || f.path.find("//") != std::string::npos)
      return Refuse(f, "not a plain relative path inside the store");
    std::string parent = f.path.find('/') == std::string::npos ? "" : f.path.substr(0, f.path.rfind('/'));
    MAESTRO_RETURN_IF_ERROR(EnterParent(f, parent));
    std::string path = JoinPath(stage_, f.path);
    FileInfo fi;
    switch (f.type) {
      case ManifestFile::Type::kDir:
        MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
        // A folder on disk under the fresh stage was made by this restore (listed twice, or made as a parent).
        if (fi.exists && !fi.is_dir) return Refuse(f, "it already exists and is not a directory");
        if (!fi.exists) MAESTRO_RETURN_IF_ERROR(env_->CreateDir(path, 0700));
        open_.push_back(f.path);
        return Status::OK();
      case ManifestFile::Type::kSymlink:
        MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
        if (fi.exists) return Refuse(f, "it is listed twice");
        MAESTRO_RETURN_IF_ERROR(env_->Symlink(f.link_target, path));
        return GiveBackMetadata(env_, path, f, opts_.metadata);  // lchown, lutimes
      case ManifestFile::Type::kFile:
        MAESTRO_RETURN_IF_ERROR(StartFile(std::move(f), path));
        Tick();
        return Status::OK();
    }
    return Status::OK();
  }

  // Relative paths: "" is the store root, every path is inside it.
  static bool IsInside(const std::string& path, const std::string& dir) { return dir.empty() || IsAtOrUnder(path, dir); }

  // Makes parent the innermost open folder. Parents come before children in a
  // listing: the folders left are closed; a parent not on the chain is checked
  // on disk, component by component: one this restore made (a real folder
  // under the fresh stage) is entered, a missing one is made (a listing need
  // not name every folder), anything else (a file, a symlink leading out of
  // the stage) is refused, so no path goes anywhere but into folders made here.
  Status EnterParent(const ManifestFile& f, const std::string& parent) {
    while (open_.size() > 1 && !IsInside(parent, open_.back())) open_.pop_back();
    while (open_.back() != parent) {
      const std::string& top = open_.back();
      size_t start = top.empty() ? 0 : top.size() + 1;
      std::string acc = parent.substr(0, parent.find('/', start));
      FileInfo fi;
      MAESTRO_RETURN_IF_ERROR(env_->Stat(JoinPath(stage_, acc), &fi));
      if (!fi.exists) {
        MAESTRO_RETURN_IF_ERROR(env_->CreateDir(JoinPath(stage_, acc), 0700));
      } else if (!fi.is_dir) {
        return Refuse(f, "its parent '" + acc + "' is not a directory made by this restore");
      }
      open_.push_back(std::move(acc));
    }
    return Status::OK();
  }

  // Creates the file empty (here, in listing order, so "listed twice" and a
  // path under a file are found as one thread would) and hands it over.
  Status StartFile(ManifestFile&& f, const std::string& path) {
    RestoreWriters::File file;
    // Exclusive: one call both creates it and finds an entry already there.
    Status s = env_->NewExclusiveFile(path, &file.out, 0600);
    if (s.err_no() == EEXIST)
      return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ": manifest lists " + Describe(f) +
                                " twice; refusing to overwrite");
    MAESTRO_RETURN_IF_ERROR(s);
    file.what = "snapshot " + snap_ + ", store " + st_.name + ", " + Describe(f);
    file.path = path;
    prog_.current = st_.name + "/" + f.path;
    file.f = std::move(f);
    return writers_->Add(std::move(file));
  }

  // The writers' counts into the progress (on this thread: the callback's).
  void ReportWritten() {
    prog_.files_done = writers_->files_done();
    prog_.bytes_done = writers_->bytes_done();
  }
  void Tick() {
    ReportWritten();
    throttle_.Report(prog_);
  }

  Env* env_;
  RestoreWriters* writers_;
  const Listing& listing_;
  const RestoreOptions& opts_;
  const std::string& snap_;
  const ManifestStore& st_;
  const std::string stage_;
  Progress prog_;
  ProgressThrottle throttle_;
  std::vector<std::string> open_;  // the folders from the store root ("") to the current one
};

// The store of the manifest, or why it cannot be restored.
Result<const ManifestStore*> FindStore(const Manifest& m, const std::string& id, const std::string& store) {
  const ManifestStore* st = nullptr;
  for (const auto& s : m.stores)
    if (s.name == store) st = &s;
  if (!st) return Status::NotFound("snapshot " + id + " has no store named " + store);
  if (!st->present) return Status::NotFound("store " + store + " was absent in snapshot " + id);
  return st;
}

class SnapshotRestoreImpl final : public SnapshotRestore {
 public:
  explicit SnapshotRestoreImpl(const RepoFiles& files) : files_(files) {}

  Status Load(const std::string& id) {
    MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &idx_, /*strict=*/false, nullptr, nullptr));
    // The head only: a format-4 listing is read from its tree blobs as it is written.
    MAESTRO_ASSIGN_OR_RETURN(head_, LoadManifestHead(files_, id));
    id_ = id;
    return Status::OK();
  }

  Status RestoreStore(const std::string& store, const std::string& target, const RestoreOptions& opts) override;

 private:
  const RepoFiles& files_;
  BlobIndex idx_;
  Manifest head_;
  std::string id_;
};

}  // namespace

Result<std::unique_ptr<SnapshotRestore>> OpenSnapshotRestore(const RepoFiles& files, const std::string& id) {
  auto r = std::make_unique<SnapshotRestoreImpl>(files);
  MAESTRO_RETURN_IF_ERROR(r->Load(id));
  return std::unique_ptr<SnapshotRestore>(std::move(r));
}

Status RestoreStore(const RepoFiles& files, const std::string& id, const std::string& store, const std::string& target,
                    const RestoreOptions& opts) {
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotRestore> r, OpenSnapshotRestore(files, id));
  return r->RestoreStore(store, target, opts);
}

Status SnapshotRestoreImpl::RestoreStore(const std::string& store, const std::string& target,
                                         const RestoreOptions& opts) {
  Env* env = files_.env();
  MAESTRO_ASSIGN_OR_RETURN(const ManifestStore* st, FindStore(head_, id_, store));
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(target, &fi));
  if (fi.exists)
    return Status::InvalidArgument("restore target " + target + " already exists", "restore into a path that does not exist yet");
  std::string parent = DirName(NormalizePath(target));
  // Durably with sync: the folders made here hold the restore once it is renamed in.
  if (!parent.empty()) MAESTRO_RETURN_IF_ERROR(opts.sync ? env->CreateDirsDurably(parent) : env->CreateDirs(parent));
  Listing listing(files_, &idx_, *st, "snapshot " + id_ + ", listing of store " + st->name);
  std::string stage = target + ".restore-tmp-" + std::to_string(getpid());
  MAESTRO_RETURN_IF_ERROR(env->RemoveTree(stage));
  // What could not be given back is reported only for a store that was restored.
  MetadataReport not_given_back, of_files;  // of_files: the writer threads'
  RestoreOptions o = opts;
  o.metadata = &not_given_back;
  Status s;
  {
    RestoreWriters writers(files_, &idx_, DefaultRestoreWriters(opts.threads), opts.sync, &of_files);
    s = StoreRestorer(env, &writers, listing, o, head_.info.id, *st, stage).Run();
  }  // every writer stopped before the stage may be removed
  not_given_back.Merge(of_files);
  if (s.ok()) s = env->Rename(stage, target);
  if (s.ok() && opts.sync && !parent.empty()) s = env->SyncDir(parent);
  if (!s.ok()) {
    env->RemoveTree(stage).IgnoreError("best-effort cleanup of the staged copy; the error returned is the restore's");
    return s;
  }
  if (opts.metadata) opts.metadata->Merge(not_given_back);
  return Status::OK();
}

}  // namespace maestro
