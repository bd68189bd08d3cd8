// snapshot/blob_index.h — the repository index: which pack holds each blob
// (index/<hash>.idx files, one per create, GC or repair; docs/repository-format.md).
//
// A blob named by several index files keeps the first entry in index-file name
// order (LoadIndex's choice; every reader and writer makes the same one).
// Index files are immutable: a new one is published (Backend::Put, durable) and
// old ones are removed only by GC after their replacement is durable.
// Functions here are called by one thread at a time per repository.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "snapshot/format.h"
#include "snapshot/repo_files.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

struct HashKey {
  size_t operator()(const Hash128& h) const { return static_cast<size_t>(h.lo ^ (h.hi * 0x9e3779b97f4a7c15ULL)); }
};
using HashSet = std::unordered_set<Hash128, HashKey>;

// Blob id -> its chosen IndexEntry. The one interface every reader and writer
// looks blobs up through, so where the entries live is this class's business
// alone. Building: Insert keeps the first entry of a blob.
//
// Bounded memory (issue 14 point 2): an index given a scratch folder (the
// constructor below, or LoadIndex: the repository's local cache/ folder)
// keeps its entries in a hash map only up to memory_budget bytes (about 128
// bytes an entry: 8 MiB is some 65,000 blobs). Past it the entries go to an
// external merge sort (snapshot/run_sorter.h) and, at the first lookup, into
// a sorted table of 64-byte records in a private scratch folder
// (snapshot/sorted_table.h, snapshot/scratch_area.h): in memory then are 16
// bytes of first key per 64 entries and a 16-block cache. Entries inserted
// after that wait in the map (none is in the table) until they outgrow the
// budget and are merged in. An index without a scratch folder stays in memory.
// A failed scratch write or read (a full disk) makes Find false and status()
// not OK; callers that must tell "no entry" from "could not look" check it.
//
// Thread safety: building (Insert, Clear), one thread. Once built, Find,
// Contains, size and status may be called from several threads at once.
class BlobIndex {
 public:
  static constexpr size_t kDefaultMemoryBudget = 8u << 20;

  BlobIndex();  // in memory, no bound
  // Spills past memory_budget bytes into a folder made under scratch_dir.
  BlobIndex(Env* env, std::string scratch_dir, size_t memory_budget = kDefaultMemoryBudget);
  ~BlobIndex();
  BlobIndex(BlobIndex&&) noexcept;
  BlobIndex& operator=(BlobIndex&&) noexcept;
  BlobIndex(const BlobIndex&) = delete;
  BlobIndex& operator=(const BlobIndex&) = delete;

  // Gives an empty index without one its scratch folder (LoadIndex does).
  void SetScratch(Env* env, std::string scratch_dir, size_t memory_budget);
  bool has_scratch() const;
  // True once the entries are in the on-disk table (for tests and reports).
  bool on_disk() const;

  // The entry of blob id into *out (may be null); false when the index has
  // none, or when an on-disk lookup failed (then status() says why).
  bool Find(const Hash128& id, IndexEntry* out) const;
  bool Contains(const Hash128& id) const { return Find(id, nullptr); }
  uint64_t size() const;
  bool empty() const { return size() == 0; }
  // Every chosen entry once, in blob-id order; stops at fn's first error
  // (or a scratch read's). fn must not Insert.
  Status ForEach(const std::function<Status(const IndexEntry&)>& fn) const;
  // The first error of a scratch write or lookup (OK for an in-memory index).
  Status status() const;

  // Adds e unless its blob already has an entry (the first one wins).
  void Insert(const IndexEntry& e);
  void Clear();

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};
// Index files that do not decode (or, not strict, cannot be read): path and why.
using BadIndexFiles = std::vector<std::pair<std::string, Status>>;

// Calls fn with the decoded entries of each index file, in name order. A file
// that does not decode is skipped and added to *bad; without bad, strict makes
// it an error. strict: a file that cannot be read is an I/O error (nothing says
// it is damaged); else it is in *bad too. *names (may be null) receives the
// name of every index file visited.
Status ForEachIndexFile(const RepoFiles& files, bool strict, BadIndexFiles* bad, std::vector<std::string>* names,
                        const std::function<void(std::vector<IndexEntry>&)>& fn);
// The same, entry by entry: one index file's bytes in memory at a time, no
// vector of its entries (a file that does not decode delivers none).
Status ForEachIndexEntry(const RepoFiles& files, bool strict, BadIndexFiles* bad, std::vector<std::string>* names,
                         const std::function<void(const IndexEntry&)>& fn);
// Every index file's entries, the first of a blob kept. An index without a
// scratch folder gets the repository's (RepoFiles::CacheDir, memory_budget).
Status LoadIndex(const RepoFiles& files, BlobIndex* idx, bool strict, BadIndexFiles* bad,
                 std::vector<std::string>* names);
// Publishes entries as one new index file (version 1 in a format-3
// repository, a sealed version 4 in a format-4 one), named by its hash; *name and
// *bytes_written (either may be null) receive its name and size.
Status WriteIndexFile(const RepoFiles& files, const std::vector<IndexEntry>& entries, std::string* name = nullptr,
                      uint64_t* bytes_written = nullptr);
// The pack of every blob's chosen entry (one entry a pack, not a blob). The
// Status form fails when an on-disk index cannot be read: a caller that
// deletes packs by the answer must use it (the other may miss packs then).
Status PacksOf(const BlobIndex& idx, HashSet* packs);
HashSet PacksOf(const BlobIndex& idx);

// Blob ids the repository already holds: Create only asks "is it stored?".
// Backed by the repository's BlobIndex (bounded, see above), or by a sorted
// vector (tests). count may be called from several threads at once; a
// failed on-disk lookup answers "not stored" (the blob is stored again:
// safe), and status() keeps the error.
class StoredBlobs {
 public:
  explicit StoredBlobs(std::vector<Hash128> sorted_unique) : ids_(std::move(sorted_unique)) {}
  explicit StoredBlobs(BlobIndex idx) : idx_(std::move(idx)), indexed_(true) {}
  bool count(const Hash128& h) const {
    return indexed_ ? idx_.Contains(h) : std::binary_search(ids_.begin(), ids_.end(), h);
  }
  bool HasAll(const std::vector<Hash128>& blobs) const {
    return std::all_of(blobs.begin(), blobs.end(), [&](const Hash128& b) { return count(b); });
  }
  Status status() const { return idx_.status(); }
  void clear() {
    std::vector<Hash128>().swap(ids_);
    idx_.Clear();
  }

 private:
  std::vector<Hash128> ids_;
  BlobIndex idx_;
  bool indexed_ = false;
};

}  // namespace maestro
