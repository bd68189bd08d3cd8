#include "snapshot/listing_reader.h"

#include <utility>

#include "snapshot/tree.h"

namespace maestro {

ListingReader::ListingReader(const RepoFiles& files, const BlobIndex* idx, const ManifestStore& st, std::string what)
    : st_(st), what_(std::move(what)), reader_(files, idx) {}

bool ListingReader::Fill() {
  std::string plain;
  if (!started_) {
    started_ = true;
    if (!st_.has_root) return false;
    status_ = reader_.Read(st_.root, &plain).Annotate(what_);
    if (!status_.ok()) return false;
    Result<std::vector<Hash128>> ids = DecodeTreeRoot(plain, what_);
    if (!ids.ok()) {
      status_ = ids.status();
      return false;
    }
    tree_blobs_ = std::move(*ids);
  }
  while (next_tree_ < tree_blobs_.size()) {
    const Hash128& t = tree_blobs_[next_tree_++];
    buf_.clear();
    pos_ = 0;
    status_ = reader_.Read(t, &plain).Annotate(what_);
    if (status_.ok()) status_ = DecodeTreeBlob(plain, what_ + " (tree blob " + t.Hex() + ")", &buf_);
    if (!status_.ok()) return false;
    if (!buf_.empty()) return true;
  }
  return false;
}

bool ListingReader::Next(ManifestFile* f) {
  if (!status_.ok()) return false;
  if (!st_.has_root) {  // formats 1-3: the manifest held the listing
    if (pos_ >= st_.files.size()) return false;
    *f = st_.files[pos_++];
    return true;
  }
  if (pos_ >= buf_.size() && !Fill()) return false;
  *f = std::move(buf_[pos_++]);
  return true;
}

}  // namespace maestro
