#include "engine/stores/hnsw_check.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "engine/stores/chroma.h"
#include "util/env.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

constexpr size_t kWindow = 1 << 20;

// Reads a file through a 1 MiB window (sequential scans cost one pread per MiB).
class WindowReader {
 public:
  Status Open(Env* env, const std::string& path, uint64_t size) {
    size_ = size;
    return env->NewRandomAccessFile(path, &file_);
  }
  // Copies n bytes at off into out; false when they lie beyond the file.
  Result<bool> Read(uint64_t off, size_t n, char* out) {
    if (off + n > size_) return false;
    if (off < start_ || off + n > start_ + buf_.size()) {
      start_ = off;
      buf_.resize(static_cast<size_t>(std::min<uint64_t>(std::max(kWindow, n), size_ - off)));
      size_t got = 0;
      MAESTRO_RETURN_IF_ERROR(file_->ReadAt(off, buf_.size(), buf_.data(), &got));
      if (got < n) return false;
      buf_.resize(got);
    }
    std::memcpy(out, buf_.data() + (off - start_), n);
    return true;
  }

 private:
  std::unique_ptr<RandomAccessFile> file_;
  uint64_t size_ = 0, start_ = 0;
  std::string buf_;
};

std::string N(uint64_t v) { return std::to_string(v); }

struct FileCheck {
  Env* env;
  std::string dir;
  std::vector<HnswFinding>* out;
  void Add(const std::string& file, const std::string& detail) { out->push_back({"", "", file, detail}); }
  // Opens dir/file; records a finding and returns false when it is missing or unreadable.
  bool Open(const std::string& file, WindowReader* r, uint64_t* size) {
    FileInfo fi;
    Status st = env->Stat(JoinPath(dir, file), &fi);
    if (!st.ok() || !fi.exists || !fi.is_regular) {
      Add(file, st.ok() ? "missing (or not a regular file)" : st.ToString());
      return false;
    }
    *size = fi.size;
    st = r->Open(env, JoinPath(dir, file), fi.size);
    if (!st.ok()) Add(file, st.ToString());
    return st.ok();
  }
};

// data_level0.bin: cur records, each with a level-0 link count <= maxM0; counts deleted marks.
void CheckData(FileCheck& fc, const HnswHeader& h, HnswSegmentSummary* sum) {
  WindowReader r;
  uint64_t size = 0;
  if (!fc.Open(kHnswDataFile, &r, &size)) return;
  const uint64_t need = h.cur_element_count * h.size_data_per_element;
  if (size < need) {
    fc.Add(kHnswDataFile, N(size) + " bytes, but the header's " + N(h.cur_element_count) + " elements of " +
                              N(h.size_data_per_element) + " bytes need " + N(need) +
                              " (truncated: an interrupted flush?)");
    return;
  }
  for (uint64_t i = 0; i < h.cur_element_count; ++i) {
    unsigned char head[4];
    auto got = r.Read(i * h.size_data_per_element + h.offset_level0, 4, reinterpret_cast<char*>(head));
    if (!got.ok() || !*got) {
      fc.Add(kHnswDataFile, "cannot read element " + N(i) + (got.ok() ? "" : ": " + got.status().ToString()));
      return;
    }
    const uint64_t links = head[0] | (static_cast<uint64_t>(head[1]) << 8);
    if (links > h.max_m0) {
      fc.Add(kHnswDataFile, "element " + N(i) + " claims " + N(links) + " level-0 links (at most " + N(h.max_m0) + ")");
      return;
    }
    if (head[2] & 0x01) ++sum->deleted;
  }
}

// length.bin: cur finite, non-negative floats.
void CheckLengths(FileCheck& fc, const HnswHeader& h) {
  WindowReader r;
  uint64_t size = 0;
  if (!fc.Open(kHnswLengthFile, &r, &size)) return;
  if (size < h.cur_element_count * 4) {
    fc.Add(kHnswLengthFile, N(size) + " bytes, but the header's " + N(h.cur_element_count) + " elements need " +
                                N(h.cur_element_count * 4) + " (truncated)");
    return;
  }
  for (uint64_t i = 0; i < h.cur_element_count; ++i) {
    float v = 0;
    auto got = r.Read(i * 4, 4, reinterpret_cast<char*>(&v));
    if (!got.ok() || !*got) {
      fc.Add(kHnswLengthFile, "cannot read element " + N(i));
      return;
    }
    if (!std::isfinite(v) || v < 0) {
      fc.Add(kHnswLengthFile, "element " + N(i) + "'s vector length is " + std::to_string(v) +
                                  " (garbage: a norm is finite and >= 0)");
      return;
    }
  }
}

// link_lists.bin: the walk over cur elements must end exactly at the file's end.
void CheckLinks(FileCheck& fc, const HnswHeader& h) {
  WindowReader r;
  uint64_t size = 0;
  if (!fc.Open(kHnswLinksFile, &r, &size)) return;
  const uint64_t per_level = h.links_per_level_bytes();
  uint64_t at = 0;
  for (uint64_t i = 0; i < h.cur_element_count; ++i) {
    uint32_t len = 0;
    auto got = r.Read(at, 4, reinterpret_cast<char*>(&len));
    if (!got.ok() || !*got) {
      fc.Add(kHnswLinksFile, N(size) + " bytes end inside element " + N(i) + " of " + N(h.cur_element_count) +
                                 " (truncated)");
      return;
    }
    if (len % per_level != 0 || static_cast<int64_t>(len / per_level) > h.max_level) {
      fc.Add(kHnswLinksFile, "element " + N(i) + " at byte " + N(at) + " has a " + N(len) +
                                 "-byte link list: not a whole number of " + N(per_level) +
                                 "-byte levels up to max level " + std::to_string(h.max_level));
      return;
    }
    at += 4 + len;
    if (at > size) {
      fc.Add(kHnswLinksFile, N(size) + " bytes end inside element " + N(i) + "'s link list (truncated)");
      return;
    }
  }
  if (at != size)
    fc.Add(kHnswLinksFile, N(size) + " bytes, but the link lists of " + N(h.cur_element_count) + " elements take " +
                               N(at) + " (" + N(size - at) + " bytes beyond them: oversized)");
}

}  // namespace

std::vector<HnswFinding> CheckHnswSegmentFiles(Env* env, const std::string& segment_dir, HnswSegmentSummary* summary) {
  std::vector<HnswFinding> out;
  FileCheck fc{env, segment_dir, &out};
  const std::string header_path = JoinPath(segment_dir, kHnswHeaderFile);
  FileInfo fi;
  Status st = env->Stat(header_path, &fi);
  if (st.ok() && (!fi.exists || !fi.is_regular)) st = Status::NotFound("missing (or not a regular file)");
  if (st.ok() && fi.size != kHnswHeaderSize)
    st = Status::BadStore(N(fi.size) + " bytes, an hnswlib header is " + N(kHnswHeaderSize));
  std::string bytes;
  if (st.ok()) st = env->ReadFileToString(header_path, &bytes);
  if (!st.ok()) {
    fc.Add(kHnswHeaderFile, st.message());
    return out;
  }
  auto h = DecodeHnswHeader(bytes);
  if (!h.ok()) {
    fc.Add(kHnswHeaderFile, h.status().message());
    return out;
  }
  const std::string problem = HnswHeaderProblem(*h);
  if (!problem.empty()) {
    fc.Add(kHnswHeaderFile, problem);
    return out;
  }
  summary->elements = static_cast<int64_t>(h->cur_element_count);
  CheckData(fc, *h, summary);
  CheckLengths(fc, *h);
  CheckLinks(fc, *h);
  return out;
}

}  // namespace maestro
