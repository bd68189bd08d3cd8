// snapshot/parent_files.h — the parent of a new snapshot (the newest one),
// held compactly for the whole of Create so unchanged files are not read.
//
// A non-SQLite file whose size, mtime and inode are unchanged reuses the
// parent's chunk list; an SQLite file whose fingerprint is unchanged reuses
// the parent's backup (ManifestFile::source_fingerprint). Memory: a ParentFile
// is 104 bytes instead of a ManifestFile's 176 (no type, mode, link target or
// fingerprint); paths and chunk lists are moved out of the decoded parent,
// store by store, not copied. One thread.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

struct ParentFile {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  Hash128 hash;
  std::vector<Hash128> chunks;
  bool incompressible = false;  // a changed version is stored raw without a trial
};

// The parent snapshot's files of one kind by (store, path), sorted by path.
// Several parent stores of one name are merged and the last of equal paths
// wins, as with a map assigned in manifest order.
template <typename T>
class ParentFiles {
 public:
  void Reserve(const std::string& store, size_t n) {
    auto& v = by_store_[store];
    v.reserve(v.size() + n);
  }
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
  ParentFiles<ParentFile> files;        // regular files not captured as SQLite
  ParentFiles<ManifestFile> sqlite;     // SQLite files with a fingerprint
  std::map<std::string, size_t> counts; // entries per store name: the size to reserve
  void clear() {
    files.clear();
    sqlite.clear();
  }
};

// Loads the newest readable snapshot into *out (left empty when there is none).
Status LoadParentSnapshot(const RepoFiles& files, ParentSnapshot* out);

}  // namespace maestro
