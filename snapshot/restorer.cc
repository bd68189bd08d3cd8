#include "snapshot/restorer.h"

#include <unistd.h>

#include <set>

#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"
#include "snapshot/progress_throttle.h"

namespace maestro {

namespace {

// Gives a restored entry its recorded owner, permission bits and mtime, in that
// order: chown may clear mode bits, and neither changes the mtime. A symlink's
// mode is not set (chmod would follow it).
Status GiveBackMetadata(Env* env, const std::string& path, const ManifestFile& f, MetadataReport* report) {
  MAESTRO_RETURN_IF_ERROR(RestoreOwner(env, path, f.uid, f.gid, report));
  if (f.type != ManifestFile::Type::kSymlink) MAESTRO_RETURN_IF_ERROR(env->Chmod(path, RestorableMode(f.mode, report)));
  return env->SetMtime(path, f.mtime_ns);
}

// Writes the entries of one store of a manifest under a staging path.
class StoreRestorer {
 public:
  StoreRestorer(Env* env, BlobReader* reader, const RestoreOptions& opts, const Manifest& m, const ManifestStore& st,
                std::string stage)
      : env_(env), reader_(reader), opts_(opts), snap_(m.info.id), st_(st), stage_(std::move(stage)),
        throttle_(env, opts.progress) {
    for (const auto& f : st.files)
      if (f.type == ManifestFile::Type::kFile) {
        prog_.files_total++;
        prog_.bytes_total += f.size;
      }
  }

  Status Run() {
    if (!st_.is_directory) return RestoreFileStore();
    MAESTRO_RETURN_IF_ERROR(env_->CreateDir(stage_, 0700));
    const ManifestFile* root_entry = nullptr;
    for (const auto& f : st_.files) {
      if (f.path.empty()) {
        if (f.type != ManifestFile::Type::kDir) return Refuse(f, "the store root must be a directory");
        root_entry = &f;
        continue;
      }
      MAESTRO_RETURN_IF_ERROR(RestoreEntry(f));
    }
    // Directory modes and mtimes last, deepest first: writing children changes them.
    for (auto it = dir_entries_.rbegin(); it != dir_entries_.rend(); ++it) {
      std::string path = JoinPath(stage_, (*it)->path);
      if (opts_.sync) MAESTRO_RETURN_IF_ERROR(env_->SyncDir(path));
      MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(env_, path, **it, opts_.metadata));
    }
    if (opts_.sync) MAESTRO_RETURN_IF_ERROR(env_->SyncDir(stage_));
    if (root_entry) MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(env_, stage_, *root_entry, opts_.metadata));
    throttle_.Report(prog_, true);
    return Status::OK();
  }

 private:
  Status Refuse(const ManifestFile& f, const std::string& why) const {
    return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ": refusing manifest path '" + f.path + "': " + why,
                              "the manifest is damaged or hand-made; run `maestro-db snap verify " + snap_ + "`");
  }

  std::string Describe(const ManifestFile& f) const { return f.path.empty() ? "the store file" : "file " + f.path; }

  Status RestoreFileStore() {
    if (st_.files.size() != 1 || !st_.files[0].path.empty() || st_.files[0].type != ManifestFile::Type::kFile)
      return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ": a file store must hold exactly one file");
    MAESTRO_RETURN_IF_ERROR(WriteFile(st_.files[0], stage_));
    prog_.files_done++;
    throttle_.Report(prog_, true);
    return Status::OK();
  }

  // One entry of a directory store, its parents checked (or made) first.
  Status RestoreEntry(const ManifestFile& f) {
    if (!IsSafeRelativePath(f.path) || NormalizePath(f.path) != f.path || f.path.find("//") != std::string::npos)
      return Refuse(f, "not a plain relative path inside the store");
    std::string parent = f.path.find('/') == std::string::npos ? "" : f.path.substr(0, f.path.rfind('/'));
    if (!dirs_.count(parent)) MAESTRO_RETURN_IF_ERROR(MakeParents(f, parent));
    std::string path = JoinPath(stage_, f.path);
    FileInfo fi;
    switch (f.type) {
      case ManifestFile::Type::kDir:
        MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
        if (fi.exists && !(fi.is_dir && dirs_.count(f.path))) return Refuse(f, "it already exists and is not a directory");
        if (!fi.exists) MAESTRO_RETURN_IF_ERROR(env_->CreateDir(path, 0700));
        dirs_.insert(f.path);
        dir_entries_.push_back(&f);
        return Status::OK();
      case ManifestFile::Type::kSymlink:
        MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
        if (fi.exists) return Refuse(f, "it is listed twice");
        MAESTRO_RETURN_IF_ERROR(env_->Symlink(f.link_target, path));
        return GiveBackMetadata(env_, path, f, opts_.metadata);  // lchown, lutimes
      case ManifestFile::Type::kFile:
        MAESTRO_RETURN_IF_ERROR(WriteFile(f, path));
        prog_.files_done++;
        throttle_.Report(prog_);
        return Status::OK();
    }
    return Status::OK();
  }

  // Parents come before children in a manifest; a missing parent is only
  // accepted if no entry of that name exists (then it is made here). The
  // directories this restore made are the only parents a path may go through,
  // so no component can be a symlink (or anything else) leading out of stage.
  Status MakeParents(const ManifestFile& f, const std::string& parent) {
    size_t start = 0;
    while (true) {
      size_t slash = parent.find('/', start);
      std::string acc = parent.substr(0, slash);
      if (!dirs_.count(acc)) {
        FileInfo fi;
        MAESTRO_RETURN_IF_ERROR(env_->Stat(JoinPath(stage_, acc), &fi));
        if (fi.exists) return Refuse(f, "its parent '" + acc + "' is not a directory made by this restore");
        MAESTRO_RETURN_IF_ERROR(env_->CreateDir(JoinPath(stage_, acc), 0700));
        dirs_.insert(acc);
      }
      if (slash == std::string::npos) return Status::OK();
      start = slash + 1;
    }
  }

  Status WriteFile(const ManifestFile& f, const std::string& path) {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env_->Stat(path, &fi));
    if (fi.exists)
      return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ": manifest lists " + Describe(f) +
                                " twice; refusing to overwrite");
    std::unique_ptr<WritableFile> out;
    MAESTRO_RETURN_IF_ERROR(env_->NewWritableFile(path, &out, 0600));
    Hasher128 whole;
    uint64_t total = 0;
    for (const auto& c : f.chunks) {
      Status s = reader_->Read(c, &data_);
      if (!s.ok()) return s.Annotate("snapshot " + snap_ + ", store " + st_.name + ", " + Describe(f));
      whole.Update(data_);
      total += data_.size();
      MAESTRO_RETURN_IF_ERROR(out->Append(data_));
      prog_.bytes_done += data_.size();
      prog_.current = st_.name + "/" + f.path;
      throttle_.Report(prog_);
    }
    if (total != f.size || whole.Digest() != f.hash)
      return Status::Corruption("snapshot " + snap_ + ", store " + st_.name + ", " + Describe(f) +
                                ": restored content does not match the whole-file hash in the manifest");
    if (opts_.sync) MAESTRO_RETURN_IF_ERROR(out->Sync());
    MAESTRO_RETURN_IF_ERROR(out->Close());
    return GiveBackMetadata(env_, path, f, opts_.metadata);
  }

  Env* env_;
  BlobReader* reader_;
  const RestoreOptions& opts_;
  const std::string& snap_;
  const ManifestStore& st_;
  const std::string stage_;
  Progress prog_;
  ProgressThrottle throttle_;
  std::string data_;
  std::set<std::string> dirs_ = {""};              // made by this restore
  std::vector<const ManifestFile*> dir_entries_;  // their modes and mtimes are set last
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

}  // namespace

Status RestoreStore(const RepoFiles& files, const std::string& id, const std::string& store, const std::string& target,
                    const RestoreOptions& opts) {
  Env* env = files.env();
  BlobIndex idx;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(files, &idx, /*strict=*/false, nullptr, nullptr));
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, LoadManifest(files, id, &idx));
  MAESTRO_ASSIGN_OR_RETURN(const ManifestStore* st, FindStore(m, id, store));
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(target, &fi));
  if (fi.exists)
    return Status::InvalidArgument("restore target " + target + " already exists", "restore into a path that does not exist yet");
  std::string parent = DirName(NormalizePath(target));
  if (!parent.empty()) MAESTRO_RETURN_IF_ERROR(env->CreateDirs(parent));
  BlobReader reader(files, &idx);
  std::string stage = target + ".restore-tmp-" + std::to_string(getpid());
  MAESTRO_RETURN_IF_ERROR(env->RemoveTree(stage));
  // What could not be given back is reported only for a store that was restored.
  MetadataReport not_given_back;
  RestoreOptions o = opts;
  o.metadata = &not_given_back;
  Status s = StoreRestorer(env, &reader, o, m, *st, stage).Run();
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
