// Fuzz target: the pack and blob-header reader of the repository
// (snapshot/blob_reader.cc and checker.cc, through the public API).
//
// DecodePack (the standalone decoder that indexes unindexed packs again) gets the
// pack bytes first. Otherwise a pack is read through the index entries that point
// into it. So each input becomes a tiny repository: a pack file (the
// tail of the input, named by its XXH3-128 as the repository names packs), an
// index describing up to four blobs in it (offsets and lengths from the input;
// when the offset lands inside the pack, the blob header found there supplies
// id and lengths, and the stored-bytes checksum is made to match, so the zstd
// decoder and the hash check are reached), and a manifest whose one file is made
// of those blobs; a well-formed version-4 pack (blobs, then its sealed header
// and trailer) is indexed by its own entries instead. Then Verify(read_data) and RestoreStore must report problems
// as Status — no crash, no out-of-bounds read, no allocation larger than the
// repository could hold (rss limit set by scripts/fuzz.sh).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/format.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "tests/fuzz/fuzz_util.h"
#include "util/coding.h"
#include "util/env.h"

namespace {

using namespace maestro;

std::string Dir() {
  static std::string dir = [] {
    // tmpfs when there is one: each input writes three small files.
    char tmpl[] = "/dev/shm/maestro-pack-fuzz-XXXXXX";
    char tmpl2[] = "/tmp/maestro-pack-fuzz-XXXXXX";
    char* d = mkdtemp(tmpl);
    if (!d) d = mkdtemp(tmpl2);
    if (!d) std::abort();
    return std::string(d);
  }();
  return dir;
}

void Clear(Env* env, const std::string& sub) {
  std::vector<DirEntry> es;
  if (env->ListDir(sub, &es).ok())
    for (const auto& e : es) env->RemoveTree(JoinPath(sub, e.name)).IgnoreError("scratch space; the next input clears it again");
}

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t U8() { if (!n) return 0; --n; return *p++; }
  uint32_t U32() { uint32_t v = 0; for (int i = 0; i < 4; ++i) v |= uint32_t{U8()} << (8 * i); return v; }
  uint64_t U64() { uint64_t v = 0; for (int i = 0; i < 8; ++i) v |= uint64_t{U8()} << (8 * i); return v; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Env* env = Env::Default();
  const std::string repo_dir = Dir() + "/repo";
  static std::unique_ptr<Repository> created = [&] {
    auto r = Repository::Open(env, repo_dir, true);
    if (!r.ok()) std::abort();
    return std::move(r).value();
  }();
  for (const char* sub : {"packs", "index", "snapshots", "tmp"}) Clear(env, JoinPath(repo_dir, sub));
  env->RemoveTree(Dir() + "/out").IgnoreError("scratch space; the next input clears it again");

  Input in{data, size};
  int nblobs = 1 + in.U8() % 4;
  struct Raw { uint64_t offset; uint32_t stored_len, raw_len; } raw[4];
  for (int k = 0; k < nblobs; ++k) raw[k] = {in.U64(), in.U32(), in.U32()};
  std::string pack(reinterpret_cast<const char*>(in.p), in.n);
  Hash128 pack_id = Xxh128(pack);
  // The standalone decoder that re-indexes unindexed packs (AdoptUnindexedPacks):
  // every entry it returns must lie inside the pack.
  // every entry it returns must lie inside the pack: a version-1 pack's after
  // its blob header, a version-4 pack's before its trailing header. A
  // well-formed version-4 pack is then read through its own entries (a v4 index).
  std::vector<IndexEntry> v4;
  if (auto decoded = DecodePack(pack, pack_id, "fuzz pack"); decoded.ok()) {
    for (const auto& e : *decoded) {
      const size_t first = e.pack_version == kRepoFormatV4 ? 0 : kPackHeaderSize + kBlobHeaderSize;
      if (e.offset < first || e.offset > pack.size() || e.stored_len > pack.size() - e.offset) std::abort();
      if (e.pack_version == kRepoFormatV4 && v4.size() < 4) v4.push_back(e);
    }
  }

  Manifest m;
  m.info.id = "20250101_000000";
  m.info.created_micros = 1;
  m.info.trigger = "manual";
  ManifestStore st;
  st.name = "main";
  st.original_path = "/nonexistent/maestro.db";
  ManifestFile f;
  f.path = "";
  std::vector<IndexEntry> entries;
  for (int k = 0; k < nblobs; ++k) {
    IndexEntry e;
    e.pack = pack_id;
    e.offset = raw[k].offset;
    e.stored_len = raw[k].stored_len;
    e.raw_len = raw[k].raw_len;
    e.blob = Xxh128(std::string(1, static_cast<char>(k)));
    if (e.offset >= kBlobHeaderSize && e.offset <= pack.size()) {
      const char* h = pack.data() + e.offset - kBlobHeaderSize;
      e.blob = DecodeHash128(h);
      e.raw_len = DecodeFixed32(h + 16);
      e.stored_len = DecodeFixed32(h + 20);
      if (e.stored_len <= pack.size() - e.offset) e.stored_check = Xxh64(std::string_view(pack).substr(e.offset, e.stored_len));
    }
    entries.push_back(e);
    f.chunks.push_back(e.blob);
    f.size += e.raw_len;
  }
  if (!v4.empty()) {
    entries = v4;
    f.chunks.clear();
    f.size = 0;
    for (const auto& e : entries) {
      f.chunks.push_back(e.blob);
      f.size += e.raw_len;
    }
  }
  st.files.push_back(f);
  m.stores.push_back(st);

  std::string index;
  if (v4.empty()) {
    index = EncodeIndex(entries);
  } else {
    auto sealed = EncodeIndexV4(entries, *PlainSealer());
    fuzz::Require(sealed.ok(), "the entries of a decoded pack encode as a v4 index");
    index = *sealed;
  }
  // Not durably: a fuzz run needs no fsync.
  if (!env->WriteStringToFile(repo_dir + "/packs/" + pack_id.Hex() + ".pack", pack, 0600).ok() ||
      !env->WriteStringToFile(repo_dir + "/index/" + Xxh128(index).Hex() + ".idx", index, 0600).ok() ||
      !env->WriteStringToFile(repo_dir + "/snapshots/" + m.info.id, EncodeManifest(m), 0600).ok())
    std::abort();

  auto repo = Repository::Open(env, repo_dir, false);
  fuzz::Require(repo.ok(), "the fuzz repository opens");
  auto rep = (*repo)->Verify({}, true);
  (void)rep;
  RestoreOptions ro;
  ro.sync = false;
  ro.threads = 1;
  Status s = (*repo)->RestoreStore(m.info.id, "main", Dir() + "/out", ro);
  // A restore that reports success must have written a file; one that fails must not.
  fuzz::Require(s.ok() == env->FileExists(Dir() + "/out"), "restore leaves a target only on success");
  return 0;
}
