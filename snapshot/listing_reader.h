// snapshot/listing_reader.h — one store's listing, an entry at a time, holding
// one tree blob at a time (issue 14 point 2: nothing holds one entry per file).
//
// Format 4: the store's root tree blob is read, then each tree blob in order,
// decoded into a small buffer and handed out entry by entry. Formats 1-3: the
// entries are the ManifestStore's own files (the whole listing was in the
// manifest; those repositories are not memory-bounded, docs/format-4.md).
// Entries come in listing order: parents before children, names sorted.
//
// One thread at a time. files, idx and st must outlive the reader.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"
#include "util/status.h"

namespace maestro {

class ListingReader {
 public:
  // what names the listing in errors, e.g. "snapshot X, listing of store main".
  ListingReader(const RepoFiles& files, const BlobIndex* idx, const ManifestStore& st, std::string what);

  // The next entry into *f (moved out of the buffer); false at the end or on
  // an error (then status() is not OK: Corruption for a missing or damaged
  // tree blob, naming `what`).
  bool Next(ManifestFile* f);
  Status status() const { return status_; }
  // The tree blob ids of the listing (format 4; empty before), known once
  // the root was read (after the first Next).
  const std::vector<Hash128>& tree_blobs() const { return tree_blobs_; }

 private:
  bool Fill();  // decodes the next tree blob into buf_

  const ManifestStore& st_;
  std::string what_;
  BlobReader reader_;
  bool started_ = false;
  std::vector<Hash128> tree_blobs_;
  size_t next_tree_ = 0;
  std::vector<ManifestFile> buf_;
  size_t pos_ = 0;
  Status status_;
};

}  // namespace maestro
