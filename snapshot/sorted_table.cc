#include "snapshot/sorted_table.h"

#include <algorithm>
#include <cstring>

#include "util/coding.h"

namespace maestro {

namespace {
const char kMagic[] = "MDBSTBL1";
constexpr size_t kFooterSize = 48;
constexpr size_t kBlockBytes = 4096;
constexpr size_t kCheckSize = 8;

void PutBigEndian64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
}  // namespace

void EncodeKey(const Hash128& h, char* out) {
  PutBigEndian64(out, h.hi);
  PutBigEndian64(out + 8, h.lo);
}

Hash128 DecodeKey(const char* p) {
  Hash128 h;
  h.hi = DecodeBigEndian64(p);
  h.lo = DecodeBigEndian64(p + 8);
  return h;
}

Status TableWriter::Open(Env* env, const std::string& path, size_t record_size) {
  path_ = path;
  record_size_ = record_size;
  per_block_ = std::max<size_t>(1, kBlockBytes / record_size);
  count_ = 0;
  block_.clear();
  return env->NewWritableFile(path, &f_, 0600);
}

Status TableWriter::Add(const char* rec) {
  if (count_ > 0 && std::memcmp(rec, last_.data(), kTableKeySize) <= 0)
    return Status::Internal("sorted table " + path_ + ": keys out of order");
  std::memcpy(last_.data(), rec, kTableKeySize);
  block_.append(rec, record_size_);
  ++count_;
  return block_.size() >= per_block_ * record_size_ ? FlushBlock() : Status::OK();
}

Status TableWriter::FlushBlock() {
  if (block_.empty()) return Status::OK();
  PutFixed64(&block_, Xxh64(block_));
  Status s = f_->Append(block_);
  block_.clear();
  return s;
}

Status TableWriter::Finish(const Hash128& tag, bool sync) {
  MAESTRO_RETURN_IF_ERROR(FlushBlock());
  std::string footer(kMagic, 8);
  PutFixed32(&footer, static_cast<uint32_t>(record_size_));
  PutFixed32(&footer, static_cast<uint32_t>(per_block_));
  PutFixed64(&footer, count_);
  PutHash128(&footer, tag);
  PutFixed64(&footer, Xxh64(footer));
  MAESTRO_RETURN_IF_ERROR(f_->Append(footer));
  if (sync) MAESTRO_RETURN_IF_ERROR(f_->Sync());
  return f_->Close();
}

uint64_t TableReader::BlockRecords(uint64_t b) const {
  return std::min<uint64_t>(per_block_, count_ - b * per_block_);
}

Status TableReader::ReadBlock(uint64_t b, std::string* out) const {
  const size_t n = static_cast<size_t>(BlockRecords(b)) * record_size_;
  out->resize(n + kCheckSize);
  size_t got = 0;
  Status s = f_->ReadAt(BlockOffset(b), n + kCheckSize, out->data(), &got);
  if (s.ok() && (got != n + kCheckSize || Xxh64(std::string_view(out->data(), n)) != DecodeFixed64(out->data() + n)))
    s = Status::IoError("local scratch table " + path_ + " is damaged (block " + std::to_string(b) + ")",
                        "it is rebuilt by the next run; retry");
  out->resize(n);
  return s;
}

Status TableReader::Open(Env* env, const std::string& path, size_t record_size) {
  path_ = path;
  auto bad = [&](const std::string& why) { return Status::IoError("local scratch table " + path + " " + why); };
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(path, &fi));
  if (!fi.exists) return Status::NotFound("local scratch table " + path + " does not exist");
  if (fi.size < kFooterSize) return bad("is too short");
  MAESTRO_RETURN_IF_ERROR(env->NewRandomAccessFile(path, &f_));
  char footer[kFooterSize];
  size_t got = 0;
  MAESTRO_RETURN_IF_ERROR(f_->ReadAt(fi.size - kFooterSize, kFooterSize, footer, &got));
  if (got != kFooterSize || std::memcmp(footer, kMagic, 8) != 0 ||
      Xxh64(std::string_view(footer, 40)) != DecodeFixed64(footer + 40))
    return bad("has a damaged footer");
  record_size_ = DecodeFixed32(footer + 8);
  per_block_ = DecodeFixed32(footer + 12);
  count_ = DecodeFixed64(footer + 16);
  tag_ = DecodeHash128(footer + 24);
  if (record_size_ != record_size || per_block_ == 0 || per_block_ > kBlockBytes) return bad("has other records");
  const uint64_t blocks = (count_ + per_block_ - 1) / per_block_;
  if (count_ > fi.size || count_ * record_size_ + blocks * kCheckSize + kFooterSize != fi.size)
    return bad("is not as long as its footer says");
  first_keys_.resize(blocks);
  std::string block;
  std::array<char, kTableKeySize> last{};
  for (uint64_t b = 0; b < blocks; ++b) {
    MAESTRO_RETURN_IF_ERROR(ReadBlock(b, &block));
    for (size_t off = 0; off < block.size(); off += record_size_) {
      if ((b > 0 || off > 0) && std::memcmp(block.data() + off, last.data(), kTableKeySize) <= 0)
        return bad("has keys out of order");
      std::memcpy(last.data(), block.data() + off, kTableKeySize);
    }
    std::memcpy(first_keys_[b].data(), block.data(), kTableKeySize);
  }
  cache_.assign(kCacheBlocks, Slot());
  return Status::OK();
}

bool TableReader::Find(const char* key, char* out, Status* status) const {
  auto it = std::upper_bound(first_keys_.begin(), first_keys_.end(), key,
                             [](const char* k, const std::array<char, kTableKeySize>& f) {
                               return std::memcmp(k, f.data(), kTableKeySize) < 0;
                             });
  if (it == first_keys_.begin()) return false;
  const uint64_t b = static_cast<uint64_t>(it - first_keys_.begin()) - 1;
  std::lock_guard<std::mutex> l(mu_);
  Slot* slot = nullptr;
  for (auto& s : cache_)
    if (s.block == b) slot = &s;
  if (!slot) {
    slot = &*std::min_element(cache_.begin(), cache_.end(), [](const Slot& x, const Slot& y) { return x.used < y.used; });
    slot->block = UINT64_MAX;
    Status s = ReadBlock(b, &slot->bytes);
    if (!s.ok()) {
      *status = s;
      return false;
    }
    slot->block = b;
  }
  slot->used = ++clock_;
  size_t lo = 0, hi = slot->bytes.size() / record_size_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = std::memcmp(slot->bytes.data() + mid * record_size_, key, kTableKeySize);
    if (c == 0) {
      std::memcpy(out, slot->bytes.data() + mid * record_size_, record_size_);
      return true;
    }
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return false;
}

Status TableReader::ForEach(const std::function<Status(const char* rec)>& fn) const {
  std::string block;
  for (uint64_t b = 0; b < first_keys_.size(); ++b) {
    MAESTRO_RETURN_IF_ERROR(ReadBlock(b, &block));
    for (size_t off = 0; off < block.size(); off += record_size_) MAESTRO_RETURN_IF_ERROR(fn(block.data() + off));
  }
  return Status::OK();
}

}  // namespace maestro
