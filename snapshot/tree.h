// snapshot/tree.h — a store's listing as deduplicated tree blobs (format 4,
// docs/format-4.md "Metadata as deduplicated blobs").
//
// A store's entries (the fields of a format-3 manifest entry, plus
// `incompressible`; same order: parents before children, names sorted) are
// encoded as one stream and cut by the content-defined chunker
// (snapshot/chunker.h, ~16 KiB average) at the first entry boundary at or
// after each cut, so every tree blob holds whole entries and an unchanged
// listing gives the same blobs: an unchanged snapshot stores no new tree
// blob, and a change moves only the cuts next to it. The store's root is one
// more tree blob: the ids of its tree blobs, in order. Both kinds are stored
// in packs as blobs of type tree, named by Sealer::BlobId.
//
//   tree blob  "T" then whole entries, each:
//     str path, u8 type, u8 flags (bit0 sqlite_backup, bit1 incompressible),
//     u32 mode, u64 size, i64 mtime_ns, u64 inode, u32 uid, u32 gid,
//     sqlite_backup: str source_fingerprint;
//     file: hash whole_file, u32 n_chunks, n x hash;  symlink: str link_target
//   root       "R" u32 n, n x hash (tree blob ids)
//
// Pure functions, thread-safe. Decoders take untrusted bytes: bounds checked,
// Corruption naming `what`.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

struct TreeBlob {
  Hash128 id;
  std::string plain;  // the blob's content (before compression and sealing)
};

// Listing order, of paths relative to a store root: component by component,
// names compared as bytes, so a folder's whole subtree comes right after it
// ("a", "a/b", "a-c": '/' sorts before every byte a name may hold). The order
// Create walks a store in and every listing is stored in. <0, 0, >0.
int CompareListingPaths(std::string_view a, std::string_view b);

// Cuts a listing into tree blobs as its entries come, holding at most one
// largest tree blob (256 KiB) plus one entry of them: the same blobs, in the
// same order, as the whole listing's stream cut at once. Each finished blob
// goes to `out` at once (the caller stores it when the repository lacks it).
// One thread.
class TreeWriter {
 public:
  using BlobFn = std::function<Status(const TreeBlob&)>;
  TreeWriter(const Sealer& sealer, BlobFn out);
  // The next entry of the listing, in listing order.
  Status Add(const ManifestFile& f);
  // The last tree blobs, then the root. Sets st->root, st->has_root and
  // st->tree_blobs (st->files is left alone).
  Status Finish(ManifestStore* st);

 private:
  Status Cut();  // emits one blob from the front of buf_

  const Sealer& sealer_;
  BlobFn out_;
  std::string buf_;             // whole encoded entries not yet in a blob
  std::vector<size_t> ends_;    // their end offsets in buf_, ascending
  std::vector<Hash128> ids_;    // the tree blobs emitted so far
};

// Splits st.files into tree blobs and a root (a TreeWriter fed the whole
// listing). Sets st->root, st->has_root and st->tree_blobs; returns every
// blob, the root last (the caller stores those the repository lacks).
std::vector<TreeBlob> SplitStoreTree(ManifestStore* st, const Sealer& sealer);

// One entry in the tree-blob encoding, and back: the form Create's plan file
// (snapshot/plan_file.h) keeps its entries in. DecodeTreeEntry takes the
// whole of bytes as one entry (Corruption naming `what` otherwise).
void EncodeTreeEntry(const ManifestFile& f, std::string* out);
Status DecodeTreeEntry(std::string_view bytes, const std::string& what, ManifestFile* f);

// The tree blob ids a root lists.
Result<std::vector<Hash128>> DecodeTreeRoot(std::string_view plain, const std::string& what);
// Appends the entries of one tree blob to *files.
Status DecodeTreeBlob(std::string_view plain, const std::string& what, std::vector<ManifestFile>* files);

}  // namespace maestro
