#include "snapshot/restore_writers.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace maestro {

Status GiveBackMetadata(Env* env, const std::string& path, const ManifestFile& f, MetadataReport* report) {
  MAESTRO_RETURN_IF_ERROR(RestoreOwner(env, path, f.uid, f.gid, report));
  if (f.type != ManifestFile::Type::kSymlink) MAESTRO_RETURN_IF_ERROR(env->Chmod(path, RestorableMode(f.mode, report)));
  return env->SetMtime(path, f.mtime_ns);
}

unsigned DefaultRestoreWriters(int requested) {
  if (requested > 0) return static_cast<unsigned>(requested);
  unsigned hc = std::thread::hardware_concurrency();
  return std::clamp(hc, 2u, 4u);
}

struct RestoreWriters::Slot {
  Slot(const RepoFiles& files, const BlobIndex* idx) : reader(files, idx) {}
  BlobReader reader;
  std::string data;
};

RestoreWriters::RestoreWriters(const RepoFiles& files, const BlobIndex* idx, unsigned threads, bool sync,
                               MetadataReport* metadata)
    : files_(files), idx_(idx), sync_(sync), metadata_(metadata),
      tasks_(std::make_unique<TaskGroup>(static_cast<int>(std::max(1u, threads)))) {}

RestoreWriters::~RestoreWriters() { tasks_.reset(); }  // batches in flight use this object

Status RestoreWriters::Add(File file) {
  pending_bytes_ += file.f.size;
  pending_.push_back(std::move(file));
  if (pending_.size() >= kBatchFiles || pending_bytes_ >= kBatchBytes) return Flush();
  return Status::OK();
}

Status RestoreWriters::Finish(const std::function<void()>& tick) {
  MAESTRO_RETURN_IF_ERROR(Flush());
  return tasks_->Wait(std::chrono::milliseconds(kTickMs), tick);
}

Status RestoreWriters::Flush() {
  if (pending_.empty()) return Status::OK();
  auto batch = std::make_shared<Batch>(std::move(pending_));
  pending_.clear();
  pending_bytes_ = 0;
  return tasks_->Run([this, batch] { return WriteBatch(*batch); });  // dropped (never run) once one failed
}

std::unique_ptr<RestoreWriters::Slot> RestoreWriters::TakeSlot() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!slots_.empty()) {
      std::unique_ptr<Slot> s = std::move(slots_.back());
      slots_.pop_back();
      return s;
    }
  }
  return std::make_unique<Slot>(files_, idx_);
}

void RestoreWriters::GiveBack(std::unique_ptr<Slot> slot) {
  std::lock_guard<std::mutex> l(mu_);
  slots_.push_back(std::move(slot));
}

Status RestoreWriters::WriteBatch(Batch& batch) {
  std::unique_ptr<Slot> slot = TakeSlot();
  MetadataReport report;
  Status s;
  for (File& file : batch) {
    if (failed_.load()) break;  // another batch failed: the restore is over
    s = WriteOne(slot.get(), file, &report);
    file.out.reset();  // closed now: open files stay bounded by the batches in flight
    if (!s.ok()) {
      failed_ = true;
      break;
    }
  }
  GiveBack(std::move(slot));
  if (metadata_) {
    std::lock_guard<std::mutex> l(mu_);
    metadata_->Merge(report);
  }
  return s;
}

Status RestoreWriters::WriteOne(Slot* slot, File& file, MetadataReport* report) {
  const ManifestFile& f = file.f;
  Hasher128 whole;
  uint64_t total = 0;
  for (const auto& c : f.chunks) {
    Status s = slot->reader.Read(c, &slot->data);
    if (!s.ok()) return s.Annotate(file.what);
    whole.Update(slot->data);
    total += slot->data.size();
    MAESTRO_RETURN_IF_ERROR(file.out->Append(slot->data));
    bytes_done_ += slot->data.size();
  }
  if (total != f.size || whole.Digest() != f.hash)
    return Status::Corruption(file.what + ": restored content does not match the whole-file hash in the manifest");
  // Owner, mode and mtime before the sync, which is an fsync: synced before
  // them (or with fdatasync), a power cut after the restore could leave the
  // file with its data but the stage's 0600 mode and the restore's mtime.
  if (file.out->SetsMetadata()) {
    // Through the open file: three path lookups per file saved (a deep
    // folder's path walked three times was a third of a small file's cost).
    MAESTRO_RETURN_IF_ERROR(RestoreOwnerOf(file.out.get(), f.uid, f.gid, report));
    MAESTRO_RETURN_IF_ERROR(file.out->SetMode(RestorableMode(f.mode, report)));
    MAESTRO_RETURN_IF_ERROR(file.out->SetMtime(f.mtime_ns));
  } else {
    MAESTRO_RETURN_IF_ERROR(GiveBackMetadata(files_.env(), file.path, f, report));
  }
  if (sync_) MAESTRO_RETURN_IF_ERROR(file.out->SyncAll());
  MAESTRO_RETURN_IF_ERROR(file.out->Close());
  files_done_++;
  return Status::OK();
}

}  // namespace maestro
