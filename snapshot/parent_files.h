// snapshot/parent_files.h — the parent of a new snapshot (the newest one),
// read in step with Create instead of held (issue 14 point 2).
//
// Only the parent's manifest head is loaded (format 4: each store's root; a
// format-3 head holds its whole listing, as format 3 always did). A store's
// listing is read by a ParentCursor, one tree blob at a time
// (snapshot/listing_reader.h), while Create asks it for paths in listing
// order (tree.h CompareListingPaths): a merge join of the walk and the
// parent, so memory does not grow with the parent's file count.
//
// A non-SQLite file whose size, mtime and inode are unchanged reuses the
// parent's chunk list; an SQLite file whose fingerprint is unchanged reuses
// the parent's backup (ManifestFile::source_fingerprint). Those SQLite
// entries (a few) are set aside in a ParentFiles as a cursor passes them.
// A parent listing that cannot be read, or is out of order, only finds less:
// what is not found is read again, never reused wrongly. One thread.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/listing_reader.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

// The rule that lets a file reuse its parent's chunks unread: the parent has
// it with the same size, mtime and inode.
inline bool SameAsParent(const ManifestFile* p, uint64_t size, int64_t mtime_ns, uint64_t inode) {
  return p && p->size == size && p->mtime_ns == mtime_ns && p->inode == inode;
}

// A few parent entries of one kind by (store, path), sorted by path (call
// Sort after the last Add). Several parent stores of one name are merged and
// the last of equal paths wins, as with a map assigned in manifest order.
template <typename T>
class ParentFiles {
 public:
  void Add(const std::string& store, T f) { by_store_[store].push_back(std::move(f)); }
  void Sort() {
    for (auto& [name, v] : by_store_)
      std::stable_sort(v.begin(), v.end(), [](const T& a, const T& b) { return a.path < b.path; });
  }
  const T* Find(const std::string& store, std::string_view path) const {
    auto st = by_store_.find(store);
    if (st == by_store_.end()) return nullptr;
    const auto& v = st->second;
    auto it = std::upper_bound(v.begin(), v.end(), path,
                               [](std::string_view p, const T& f) { return p < std::string_view(f.path); });
    if (it == v.begin() || (it - 1)->path != path) return nullptr;
    return &*(it - 1);
  }
  void clear() { by_store_.clear(); }

 private:
  std::map<std::string, std::vector<T>> by_store_;
};

struct ParentSnapshot {
  bool present = false;  // false: no readable snapshot yet
  Manifest head;         // the parent's manifest; format 4: roots, no files
  ParentFiles<ManifestFile> sqlite;  // SQLite files with a fingerprint (filled by cursors)
  // The parent's last present store of that name, or null.
  const ManifestStore* Store(const std::string& name) const;
};

// Loads the newest readable snapshot's manifest head into *out (out->present
// false when there is none).
Status LoadParentSnapshot(const RepoFiles& files, ParentSnapshot* out);

// One parent store's listing, read forward as it is asked.
class ParentCursor {
 public:
  // st may be null (no parent, or it lacks the store): nothing is found. idx
  // finds the parent's tree blobs. sqlite (may be null) receives, under
  // store_name, every SQLite entry with a fingerprint the cursor passes.
  // files, idx, st and sqlite must outlive the cursor.
  ParentCursor(const RepoFiles& files, const BlobIndex* idx, const ManifestStore* st, const std::string& store_name,
               ParentFiles<ManifestFile>* sqlite);

  // The parent's entry at path when it is a regular file not captured as
  // SQLite, else null. Paths must be asked in listing order; the entry may be
  // changed (its chunks moved out) by the caller until the next call.
  ManifestFile* Find(std::string_view path);
  // Passes the rest of the listing (so every SQLite entry is set aside).
  void Drain();

 private:
  bool Advance();  // the next entry into cur_; false at the end

  std::unique_ptr<ListingReader> reader_;
  std::string store_name_;
  ParentFiles<ManifestFile>* sqlite_;
  ManifestFile cur_;
  bool have_ = false, started_ = false;
};

}  // namespace maestro
