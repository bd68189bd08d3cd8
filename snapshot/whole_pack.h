// snapshot/whole_pack.h — a source pack that `snap copy` can send as it is.
//
// When both ends seal alike (unencrypted, format 4) and every blob of a source
// pack is one the snapshot being copied needs and the target lacks, the pack
// file itself is a valid target pack under the same name (its name is the
// hash of its bytes; its sealed header is the identity's). Sending it whole
// spares re-reading, re-framing and re-writing every blob into a new pack,
// and lets the backend hand the file to rclone as it is
// (Backend::PutCopyOf, snapshot/rclone_backend.h).
//
// CheckWholePack decides, then proves the file whole before anything is sent:
//   - eligible only when the source keeps the pack as a file on this machine
//     (Backend::LocalFile), the file is a version-4 pack of exactly `blobs`
//     blobs that tile the space before its header with no gap or repeat (so
//     nothing but them is sent), and `wanted` accepts every one;
//   - proved by reading the file once: the XXH3-128 of all its bytes is its
//     name, and every blob passes BlobReader::Decode (stored checksum, seal,
//     decoded length, id recomputed from the content). Any failure there is
//     Corruption naming the pack and the blob, as a blob-by-blob copy gives.
// Nothing is written. Not eligible is *eligible false with OK: the caller
// copies the pack's blobs one by one instead.
// Thread safety: one call at a time per reader.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "snapshot/blob_reader.h"
#include "snapshot/repo_files.h"

namespace maestro {

struct WholePack {
  uint64_t size = 0;                // the file's length
  std::vector<IndexEntry> entries;  // every blob, in offset order (pack set)
  Env* env = nullptr;               // the file, to read through env
  std::string path;
};

Status CheckWholePack(const RepoFiles& files, BlobReader* reader, const Hash128& pack, size_t blobs,
                      const std::function<bool(const IndexEntry&)>& wanted, bool* eligible, WholePack* out);

}  // namespace maestro
