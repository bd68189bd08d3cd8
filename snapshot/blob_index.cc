#include "snapshot/blob_index.h"

namespace maestro {

struct BlobIndex::Rep {
  std::unordered_map<Hash128, IndexEntry, HashKey> map;
};

BlobIndex::BlobIndex() : rep_(std::make_unique<Rep>()) {}
BlobIndex::~BlobIndex() = default;
BlobIndex::BlobIndex(BlobIndex&&) noexcept = default;
BlobIndex& BlobIndex::operator=(BlobIndex&&) noexcept = default;

bool BlobIndex::Find(const Hash128& id, IndexEntry* out) const {
  auto it = rep_->map.find(id);
  if (it == rep_->map.end()) return false;
  if (out) *out = it->second;
  return true;
}

uint64_t BlobIndex::size() const { return rep_->map.size(); }

Status BlobIndex::ForEach(const std::function<Status(const IndexEntry&)>& fn) const {
  for (const auto& [blob, e] : rep_->map) MAESTRO_RETURN_IF_ERROR(fn(e));
  return Status::OK();
}

Status BlobIndex::status() const { return Status::OK(); }

void BlobIndex::Insert(const IndexEntry& e) { rep_->map.emplace(e.blob, e); }

void BlobIndex::Clear() { rep_->map.clear(); }

Status ForEachIndexFile(const RepoFiles& files, bool strict, BadIndexFiles* bad, std::vector<std::string>* names,
                        const std::function<void(std::vector<IndexEntry>&)>& fn) {
  std::vector<std::string> all;
  MAESTRO_RETURN_IF_ERROR(files.ListNames(ObjectKind::kIndex, &all));
  for (const auto& name : all) {
    if (!EndsWith(name, ".idx")) continue;
    std::string path = files.ObjectPath(ObjectKind::kIndex, name);
    if (names) names->push_back(name);
    std::string bytes;
    Status s = files.backend()->Get(ObjectKind::kIndex, name, &bytes);
    // A remote's Get is Corruption when the bytes are not what the name
    // promises (a cut upload, snapshot/object_check.h): damaged, like a file
    // that does not decode, not "cannot be read".
    if (!s.ok() && strict && !s.IsCorruption()) {
      // Could not read it (I/O error, vanished): nothing says it is damaged.
      Status io = s.IsNotFound() ? Status::IoError(s.message()) : s;
      return io.Annotate("reading index file " + path + " of the repository; nothing was changed, retry");
    }
    Result<std::vector<IndexEntry>> r = s.ok() ? DecodeIndex(bytes, "index file " + path, files.sealer()) : Result<std::vector<IndexEntry>>(s);
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

Status LoadIndex(const RepoFiles& files, BlobIndex* idx, bool strict, BadIndexFiles* bad, std::vector<std::string>* names) {
  idx->Clear();
  return ForEachIndexFile(files, strict, bad, names, [&](std::vector<IndexEntry>& v) {
    for (auto& ie : v) idx->Insert(ie);
  });
}

Status WriteIndexFile(const RepoFiles& files, const std::vector<IndexEntry>& entries, std::string* name,
                      uint64_t* bytes_written) {
  std::string bytes;
  if (files.v4()) {
    MAESTRO_ASSIGN_OR_RETURN(bytes, EncodeIndexV4(entries, files.sealer()));
  } else {
    bytes = EncodeIndex(entries);
  }
  std::string n = IndexName(Xxh128(bytes));
  MAESTRO_RETURN_IF_ERROR(files.backend()->Put(ObjectKind::kIndex, n, bytes));
  if (name) *name = std::move(n);
  if (bytes_written) *bytes_written = bytes.size();
  return Status::OK();
}

HashSet PacksOf(const BlobIndex& idx) {
  HashSet packs;
  (void)idx.ForEach([&](const IndexEntry& e) {
    packs.insert(e.pack);
    return Status::OK();
  });
  return packs;
}

}  // namespace maestro
