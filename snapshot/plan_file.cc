#include "snapshot/plan_file.h"

#include <algorithm>

#include "snapshot/tree.h"
#include "util/coding.h"

namespace maestro {

namespace {
constexpr size_t kBufferBytes = 64 * 1024;
}  // namespace

Status PlanWriter::Open() { return env_->NewWritableFile(path_, &file_, 0600); }

Status PlanWriter::Add(const ManifestFile& f) {
  std::string e;
  EncodeTreeEntry(f, &e);
  PutFixed32(&buf_, static_cast<uint32_t>(e.size()));
  buf_ += e;
  if (buf_.size() < kBufferBytes) return Status::OK();
  Status s = file_->Append(buf_);
  buf_.clear();
  return s;
}

Status PlanWriter::Close() {
  if (!buf_.empty()) MAESTRO_RETURN_IF_ERROR(file_->Append(buf_));
  buf_.clear();
  return file_->Close();
}

Status PlanReader::Open() { return env_->NewSequentialFile(path_, &file_); }

bool PlanReader::Want(size_t n) {
  while (buf_.size() - pos_ < n && !eof_) {
    buf_.erase(0, pos_);
    pos_ = 0;
    size_t have = buf_.size();
    size_t room = std::max(kBufferBytes, n);
    buf_.resize(have + room);
    size_t got = 0;
    status_ = file_->Read(room, buf_.data() + have, &got);
    buf_.resize(have + got);
    if (!status_.ok()) return false;
    if (got == 0) eof_ = true;
  }
  return buf_.size() - pos_ >= n;
}

bool PlanReader::Next(ManifestFile* f) {
  if (!status_.ok()) return false;
  if (!Want(4)) {
    if (status_.ok() && buf_.size() > pos_) status_ = Status::Corruption("the snapshot's plan " + path_ + " is cut short");
    return false;
  }
  uint32_t len = DecodeFixed32(buf_.data() + pos_);
  if (!Want(4 + static_cast<size_t>(len))) {
    if (status_.ok()) status_ = Status::Corruption("the snapshot's plan " + path_ + " is cut short");
    return false;
  }
  *f = ManifestFile();
  status_ = DecodeTreeEntry(std::string_view(buf_.data() + pos_ + 4, len), "the snapshot's plan " + path_, f);
  pos_ += 4 + len;
  return status_.ok();
}

Status PlanReader::Skip(uint64_t n) {
  for (uint64_t i = 0; i < n && status_.ok(); ++i) {
    if (!Want(4) || !Want(4 + static_cast<size_t>(DecodeFixed32(buf_.data() + pos_)))) {
      if (status_.ok()) status_ = Status::Corruption("the snapshot's plan " + path_ + " is cut short");
      break;
    }
    pos_ += 4 + DecodeFixed32(buf_.data() + pos_);
  }
  return status_;
}

}  // namespace maestro
