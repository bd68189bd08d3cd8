// Fuzz target: the tree blob and root decoders of format 4 (snapshot/tree.h
// DecodeTreeBlob, DecodeTreeRoot). Any input must decode or fail with
// Corruption — no crash, no hang, no allocation the input could not describe.
// Entries that decode survive a round trip: split into tree blobs again
// (SplitStoreTree) and decoded, they are the same entries, field for field.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/sealer.h"
#include "snapshot/tree.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using maestro::ManifestFile;

bool Same(const ManifestFile& a, const ManifestFile& b) {
  return a.path == b.path && a.type == b.type && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid &&
         a.size == b.size && a.mtime_ns == b.mtime_ns && a.hash == b.hash && a.chunks == b.chunks &&
         a.link_target == b.link_target && a.sqlite_backup == b.sqlite_backup && a.inode == b.inode &&
         a.source_fingerprint == b.source_fingerprint && a.incompressible == b.incompressible;
}

void CheckTree(std::string_view in) {
  std::vector<ManifestFile> files;
  maestro::Status st = maestro::DecodeTreeBlob(in, "fuzz", &files);
  if (!st.ok()) {
    maestro::fuzz::Require(st.IsCorruption(), "a bad tree blob must be Corruption");
    return;
  }
  maestro::ManifestStore store;
  store.files = files;
  std::vector<maestro::TreeBlob> blobs = maestro::SplitStoreTree(&store, *maestro::PlainSealer());
  maestro::fuzz::Require(!blobs.empty(), "a split store has a root");
  auto ids = maestro::DecodeTreeRoot(blobs.back().plain, "fuzz root");
  maestro::fuzz::Require(ids.ok() && ids->size() + 1 == blobs.size(), "the root names every tree blob");
  std::vector<ManifestFile> back;
  for (size_t i = 0; i + 1 < blobs.size(); ++i) {
    maestro::fuzz::Require((*ids)[i] == blobs[i].id, "the root names the blobs in order");
    maestro::fuzz::Require(maestro::DecodeTreeBlob(blobs[i].plain, "fuzz", &back).ok(), "a split tree blob decodes");
  }
  bool same = back.size() == files.size();
  for (size_t i = 0; same && i < files.size(); ++i) same = Same(back[i], files[i]);
  maestro::fuzz::Require(same, "DecodeTreeBlob(SplitStoreTree(x)) == x");
}

void CheckRoot(std::string_view in) {
  auto ids = maestro::DecodeTreeRoot(in, "fuzz");
  if (!ids.ok()) maestro::fuzz::Require(ids.status().IsCorruption(), "a bad root must be Corruption");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckTree(in);
  CheckRoot(in);
  return 0;
}
