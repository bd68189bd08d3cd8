#include "snapshot/blob_index.h"

#include <cstring>
#include <mutex>

#include "snapshot/run_sorter.h"
#include "snapshot/scratch_area.h"
#include "snapshot/sorted_table.h"
#include "util/coding.h"

namespace maestro {

namespace {

// An IndexEntry as a 64-byte table record: the blob id as the key (big-endian,
// sorted_table.h), then pack (hi, lo), offset, stored_len, raw_len,
// stored_check, type, codec, pack_version, 2 zero bytes; little-endian.
constexpr size_t kRecordSize = 64;
// What a hash-map entry costs: the entry, its key, node and bucket overhead.
constexpr size_t kNodeBytes = sizeof(IndexEntry) + sizeof(Hash128) + 48;

void EncodeRecord(const IndexEntry& e, char* p) {
  std::string tail;
  PutHash128(&tail, e.pack);
  PutFixed64(&tail, e.offset);
  PutFixed32(&tail, e.stored_len);
  PutFixed32(&tail, e.raw_len);
  PutFixed64(&tail, e.stored_check);
  tail.push_back(static_cast<char>(e.type));
  tail.push_back(static_cast<char>(e.codec));
  PutFixed32(&tail, e.pack_version);
  tail.resize(kRecordSize - kTableKeySize, '\0');
  EncodeKey(e.blob, p);
  std::memcpy(p + kTableKeySize, tail.data(), tail.size());
}

IndexEntry DecodeRecord(const char* p) {
  IndexEntry e;
  e.blob = DecodeKey(p);
  p += kTableKeySize;
  e.pack = DecodeHash128(p);
  e.offset = DecodeFixed64(p + 16);
  e.stored_len = DecodeFixed32(p + 24);
  e.raw_len = DecodeFixed32(p + 28);
  e.stored_check = DecodeFixed64(p + 32);
  e.type = static_cast<BlobType>(static_cast<uint8_t>(p[40]));
  e.codec = static_cast<BlobCodec>(static_cast<uint8_t>(p[41]));
  e.pack_version = DecodeFixed32(p + 42);
  return e;
}

std::vector<const IndexEntry*> SortedEntries(const std::unordered_map<Hash128, IndexEntry, HashKey>& map) {
  std::vector<const IndexEntry*> v;
  v.reserve(map.size());
  for (const auto& kv : map) v.push_back(&kv.second);
  std::sort(v.begin(), v.end(), [](const IndexEntry* a, const IndexEntry* b) { return a->blob < b->blob; });
  return v;
}

}  // namespace

// Three states: in memory (map only); building past the budget (sorter; map
// empty); on disk (table, and in map the entries inserted since, none of
// which the table holds). mu guards the lazy step from building to on disk
// and the status; the table has its own lock for its block cache.
struct BlobIndex::Rep {
  Env* env = nullptr;
  std::string scratch_dir;
  size_t budget = kDefaultMemoryBudget;
  std::unordered_map<Hash128, IndexEntry, HashKey> map;
  std::unique_ptr<ScratchArea> area;
  std::unique_ptr<RunSorter> sorter;
  std::unique_ptr<TableReader> table;
  std::mutex mu;
  Status status;

  void Fail(const Status& s) {
    if (status.ok() && !s.ok())
      status = s.Annotate("the repository index's scratch files in " + scratch_dir + " (free space there, then retry)");
  }
  bool OverBudget() const { return env != nullptr && map.size() * kNodeBytes > budget; }
  // Moves the map (and the table, if any) into a new sorter.
  Status StartSorter();
  // Building -> on disk. mu held.
  Status Build();
  const Status& Ready() {  // mu held
    if (sorter && status.ok()) Fail(Build());
    return status;
  }
};

Status BlobIndex::Rep::StartSorter() {
  if (!area) area = std::make_unique<ScratchArea>(env, scratch_dir);
  sorter = std::make_unique<RunSorter>(area.get(), kRecordSize, budget);
  char rec[kRecordSize];
  // The table's entries first: they were there before any map entry.
  if (table) {
    MAESTRO_RETURN_IF_ERROR(table->ForEach([&](const char* r) { return sorter->Add(r); }));
    std::string old = table->path();
    table.reset();
    MAESTRO_RETURN_IF_ERROR(env->RemoveFile(old));
  }
  for (const auto& e : SortedEntries(map)) {
    EncodeRecord(*e, rec);
    MAESTRO_RETURN_IF_ERROR(sorter->Add(rec));
  }
  std::unordered_map<Hash128, IndexEntry, HashKey>().swap(map);
  return Status::OK();
}

Status BlobIndex::Rep::Build() {
  MAESTRO_RETURN_IF_ERROR(area->Open());
  const std::string path = area->NewPath("index");
  TableWriter w;
  MAESTRO_RETURN_IF_ERROR(w.Open(env, path, kRecordSize));
  MAESTRO_RETURN_IF_ERROR(sorter->Finish(&w));
  MAESTRO_RETURN_IF_ERROR(w.Finish(Hash128()));
  sorter.reset();
  auto t = std::make_unique<TableReader>();
  MAESTRO_RETURN_IF_ERROR(t->Open(env, path, kRecordSize));
  table = std::move(t);
  return Status::OK();
}

BlobIndex::BlobIndex() : rep_(std::make_unique<Rep>()) {}
BlobIndex::BlobIndex(Env* env, std::string scratch_dir, size_t memory_budget) : rep_(std::make_unique<Rep>()) {
  SetScratch(env, std::move(scratch_dir), memory_budget);
}
BlobIndex::~BlobIndex() = default;
BlobIndex::BlobIndex(BlobIndex&&) noexcept = default;
BlobIndex& BlobIndex::operator=(BlobIndex&&) noexcept = default;

void BlobIndex::SetScratch(Env* env, std::string scratch_dir, size_t memory_budget) {
  rep_->env = env;
  rep_->scratch_dir = std::move(scratch_dir);
  rep_->budget = memory_budget;
}

bool BlobIndex::has_scratch() const { return rep_->env != nullptr; }

bool BlobIndex::on_disk() const {
  std::lock_guard<std::mutex> l(rep_->mu);
  return rep_->sorter != nullptr || rep_->table != nullptr;
}

bool BlobIndex::Find(const Hash128& id, IndexEntry* out) const {
  Rep& r = *rep_;
  std::lock_guard<std::mutex> l(r.mu);
  if (!r.Ready().ok()) return false;
  auto it = r.map.find(id);
  if (it != r.map.end()) {
    if (out) *out = it->second;
    return true;
  }
  if (!r.table) return false;
  char key[kTableKeySize], rec[kRecordSize];
  EncodeKey(id, key);
  Status s;
  if (!r.table->Find(key, rec, &s)) {
    r.Fail(s);
    return false;
  }
  if (out) *out = DecodeRecord(rec);
  return true;
}

uint64_t BlobIndex::size() const {
  std::lock_guard<std::mutex> l(rep_->mu);
  (void)rep_->Ready();
  return rep_->map.size() + (rep_->table ? rep_->table->count() : 0);
}

Status BlobIndex::ForEach(const std::function<Status(const IndexEntry&)>& fn) const {
  Rep& r = *rep_;
  {
    std::lock_guard<std::mutex> l(r.mu);
    MAESTRO_RETURN_IF_ERROR(r.Ready());
  }
  // Not under mu: fn may look blobs up. The map's entries merge in by id.
  std::vector<const IndexEntry*> extra = SortedEntries(r.map);
  size_t k = 0;
  if (r.table) {
    Status s = r.table->ForEach([&](const char* rec) {
      IndexEntry e = DecodeRecord(rec);
      for (; k < extra.size() && extra[k]->blob < e.blob; ++k) MAESTRO_RETURN_IF_ERROR(fn(*extra[k]));
      return fn(e);
    });
    MAESTRO_RETURN_IF_ERROR(s);
  }
  for (; k < extra.size(); ++k) MAESTRO_RETURN_IF_ERROR(fn(*extra[k]));
  return Status::OK();
}

Status BlobIndex::status() const {
  std::lock_guard<std::mutex> l(rep_->mu);
  return rep_->status;
}

void BlobIndex::Insert(const IndexEntry& e) {
  Rep& r = *rep_;
  std::lock_guard<std::mutex> l(r.mu);
  if (!r.status.ok()) return;
  if (r.sorter) {
    char rec[kRecordSize];
    EncodeRecord(e, rec);
    r.Fail(r.sorter->Add(rec));
    return;
  }
  if (r.table) {
    char key[kTableKeySize], rec[kRecordSize];
    EncodeKey(e.blob, key);
    Status s;
    if (r.table->Find(key, rec, &s) || !s.ok()) return r.Fail(s);
  }
  r.map.emplace(e.blob, e);
  if (r.OverBudget()) r.Fail(r.StartSorter());
}

void BlobIndex::Clear() {
  Rep& r = *rep_;
  std::lock_guard<std::mutex> l(r.mu);
  std::unordered_map<Hash128, IndexEntry, HashKey>().swap(r.map);
  r.sorter.reset();
  r.table.reset();
  r.area.reset();  // removes its folder
  r.status = Status::OK();
}

namespace {

// Visits each index file in name order: decode(bytes, what) delivers its
// entries and is Corruption when it does not decode (see ForEachIndexFile).
Status VisitIndexFiles(const RepoFiles& files, bool strict, BadIndexFiles* bad, std::vector<std::string>* names,
                       const std::function<Status(std::string& bytes, const std::string& what)>& decode) {
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
    if (s.ok()) s = decode(bytes, "index file " + path);
    if (!s.ok()) {
      if (strict && !bad)
        return s.Annotate("the repository index is damaged; run `maestro-db snap verify` to see what it affects");
      if (bad) bad->emplace_back(path, s);
    }
  }
  return Status::OK();
}

}  // namespace

Status ForEachIndexFile(const RepoFiles& files, bool strict, BadIndexFiles* bad, std::vector<std::string>* names,
                        const std::function<void(std::vector<IndexEntry>&)>& fn) {
  return VisitIndexFiles(files, strict, bad, names, [&](std::string& bytes, const std::string& what) {
    Result<std::vector<IndexEntry>> r = DecodeIndex(bytes, what, files.sealer());
    std::string().swap(bytes);  // the file's bytes freed before its entries are used
    if (r.ok()) fn(*r);
    return r.status();
  });
}

Status ForEachIndexEntry(const RepoFiles& files, bool strict, BadIndexFiles* bad, std::vector<std::string>* names,
                         const std::function<void(const IndexEntry&)>& fn) {
  return VisitIndexFiles(files, strict, bad, names, [&](std::string& bytes, const std::string& what) {
    return DecodeIndexEach(bytes, what, files.sealer(), fn);
  });
}

Status LoadIndex(const RepoFiles& files, BlobIndex* idx, bool strict, BadIndexFiles* bad, std::vector<std::string>* names) {
  idx->Clear();
  if (!idx->has_scratch()) idx->SetScratch(files.env(), files.CacheDir(), files.memory_budget());
  MAESTRO_RETURN_IF_ERROR(ForEachIndexEntry(files, strict, bad, names, [&](const IndexEntry& e) { idx->Insert(e); }));
  (void)idx->size();  // builds the on-disk table now, so its errors are reported here
  return idx->status().Annotate("loading the repository index");
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

Status PacksOf(const BlobIndex& idx, HashSet* packs) {
  packs->clear();
  return idx.ForEach([&](const IndexEntry& e) {
    packs->insert(e.pack);
    return Status::OK();
  });
}

HashSet PacksOf(const BlobIndex& idx) {
  HashSet packs;
  (void)PacksOf(idx, &packs);
  return packs;
}

}  // namespace maestro
