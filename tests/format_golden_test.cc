// tests/format_golden_test.cc — the repository's bytes on disk, pinned
// (docs/repository-format.md, docs/format-4.md).
//
// tests/data/format/ holds one small object of every kind and version the
// code reads: config v1 and v4, manifest v1, v2, v3 and v4, index v1 and v4,
// pack v1 and v4, a tree blob and its root. Each seed decodes to the known
// values below, and is re-encoded byte for byte (every kind and version here
// is one the writers still write). tests/data/format3_repo (made by the
// format-3 build, never rewritten) decodes and re-encodes the same way.
// A change in the bytes a decoder accepts, or in the bytes an encoder writes,
// fails here.
//
// The seeds were written by DISABLED_WriteSeeds on this code (the README in
// tests/data/format/ says how); regenerate them only for a deliberate
// format change, and say so in the commit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "snapshot/blob_codec.h"
#include "snapshot/format.h"
#include "snapshot/sealer.h"
#include "snapshot/tree.h"
#include "tests/test_util.h"

namespace maestro {
namespace {

using testing::ReadFile;
using testing::WriteFile;

const std::string kSeeds = std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/data/format";
const std::string kFormat3 = std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/data/format3_repo";
const std::string kManifestId = "20261202_101500";

Hash128 H(uint64_t hi, uint64_t lo) {
  Hash128 h;
  h.hi = hi;
  h.lo = lo;
  return h;
}

RepoConfig GoldenConfig(uint32_t version) {
  RepoConfig c;
  c.format_version = version;
  c.repository_id = "0123456789abcdef0123456789abcdef";
  c.encryption = "none";
  return c;
}

ManifestFile Entry(const std::string& path, ManifestFile::Type type, uint32_t mode, uint64_t size) {
  ManifestFile f;
  f.path = path;
  f.type = type;
  f.mode = mode;
  f.size = size;
  f.mtime_ns = 1764670400123456789LL + static_cast<int64_t>(size);
  f.inode = 4000 + size;
  f.uid = 1000;
  f.gid = 1001;
  return f;
}

ManifestStore Store(const std::string& name, const std::string& path, bool dir, bool present) {
  ManifestStore st;
  st.name = name;
  st.original_path = path;
  st.is_directory = dir;
  st.present = present;
  return st;
}

// Every field each manifest version has: a SQLite file with its fingerprint,
// a folder store of a folder, a file of two chunks and a symlink, an absent store.
std::vector<ManifestStore> GoldenStores() {
  ManifestStore db = Store("main", "/srv/maestro/main.db", false, true);
  ManifestFile f = Entry("", ManifestFile::Type::kFile, 0600, 8192);
  f.sqlite_backup = true;
  f.source_fingerprint = "dev=2049 ino=77 size=8192";
  f.hash = H(0x1111, 0x2222);
  f.chunks = {H(0xa1, 0xb1)};
  db.files.push_back(f);
  ManifestStore docs = Store("markdown", "/srv/maestro/markdown", true, true);
  docs.files.push_back(Entry("sub", ManifestFile::Type::kDir, 040750, 0));
  ManifestFile a = Entry("sub/a.md", ManifestFile::Type::kFile, 0644, 3000);
  a.hash = H(0x3333, 0x4444);
  a.chunks = {H(0xa2, 0xb2), H(0xa3, 0xb3)};
  docs.files.push_back(a);
  ManifestFile link = Entry("sub/link", ManifestFile::Type::kSymlink, 0777, 4);
  link.link_target = "a.md";
  docs.files.push_back(link);
  ManifestStore absent = Store("vector", "/srv/maestro/vector", true, false);
  return {db, docs, absent};
}

// The manifest as `version` holds it: what older versions do not store is
// what their decoder fills in (no fingerprint before 2, unknown owners before 3;
// version 4 has roots instead of files).
Manifest GoldenManifest(uint32_t version) {
  Manifest m;
  m.format_version = version;
  m.info.id = kManifestId;
  m.info.created_micros = 1764670500000000LL;
  m.info.label = "golden";
  m.info.trigger = "manual";
  m.info.hostname = "host-1";
  m.info.files = 4;
  m.info.logical_bytes = 11196;
  m.info.stored_bytes = 1234;
  m.info.warnings = {"markdown/sub/a.md: changed while being read"};
  m.info.stores = {"main", "markdown"};  // the present ones: the decoder's, never written
  m.stores = GoldenStores();
  for (auto& st : m.stores) {
    for (auto& f : st.files) {
      if (version < 2) f.source_fingerprint.clear();
      if (version < 3) f.uid = f.gid = kUnknownOwner;
    }
    if (version >= 4) {
      st.files.clear();
      st.has_root = st.present;
      if (st.present) st.root = H(0x7000 + st.name.size(), 0x8000);
    }
  }
  return m;
}

// Index entries in the order the index keeps them (by pack, then as given).
std::vector<IndexEntry> GoldenIndexEntries(uint32_t version) {
  auto e = [](Hash128 blob, Hash128 pack, uint64_t off, uint32_t stored, uint32_t raw, uint64_t check) {
    IndexEntry x;
    x.blob = blob;
    x.pack = pack;
    x.offset = off;
    x.stored_len = stored;
    x.raw_len = raw;
    x.stored_check = check;
    return x;
  };
  std::vector<IndexEntry> out = {e(H(0xa1, 0xb1), H(0x01, 0x01), 40, 100, 8192, 0x1234567890abcdefULL),
                                 e(H(0xa2, 0xb2), H(0x01, 0x01), 164, 200, 2000, 0x0fedcba987654321ULL),
                                 e(H(0xa3, 0xb3), H(0x02, 0x02), 0, 1000, 1000, 0x5555aaaa5555aaaaULL)};
  if (version >= 4) {  // an upgraded repository: a version-1 pack beside a version-4 one
    out[0].pack_version = kRepoFormatVersion;
    out[1].pack_version = kRepoFormatVersion;
    out[2].pack_version = kRepoFormatV4;
    out[2].type = BlobType::kTree;
    out[2].codec = BlobCodec::kRaw;
  }
  return out;
}

// The blobs of the golden packs: raw bytes, how each is stored in a v4 pack.
struct GoldenBlob {
  std::string raw;
  BlobType type;
  BlobCodec codec;
};
std::vector<GoldenBlob> GoldenBlobs() {
  return {{std::string(3000, 'b') + "\n", BlobType::kData, BlobCodec::kZstd},
          {testing::RandomBytes(700, 7), BlobType::kData, BlobCodec::kRaw},
          {"T tree blob bytes", BlobType::kTree, BlobCodec::kZstd}};
}

// A version-1 pack: header, then per blob its header and a zstd frame (RAW blocks).
std::string EncodeGoldenPackV1() {
  std::string pack = EncodePackHeader();
  for (const auto& b : GoldenBlobs()) {
    std::string frame;
    EncodeRawZstdFrame(b.raw, &frame);
    pack += EncodeBlobHeader(Xxh128(b.raw), static_cast<uint32_t>(b.raw.size()), static_cast<uint32_t>(frame.size()));
    pack += frame;
  }
  return pack;
}

// A version-4 pack: the sealed blobs back to back, then the sealed header and trailer.
std::string EncodeGoldenPackV4() {
  const Sealer& sealer = *PlainSealer();
  std::string pack;
  std::vector<IndexEntry> entries;
  for (const auto& b : GoldenBlobs()) {
    std::string stored = b.raw;
    if (b.codec == BlobCodec::kZstd) EncodeRawZstdFrame(b.raw, &stored);
    IndexEntry e;
    e.blob = sealer.BlobId(b.raw);
    e.type = b.type;
    e.codec = b.codec;
    e.raw_len = static_cast<uint32_t>(b.raw.size());
    auto sealed = sealer.SealBlob(e.blob, stored);
    EXPECT_TRUE(sealed.ok());
    e.offset = pack.size();
    e.stored_len = static_cast<uint32_t>(sealed->size());
    e.stored_check = Xxh64(*sealed);
    e.pack_version = kRepoFormatV4;
    pack += *sealed;
    entries.push_back(e);
  }
  auto tail = EncodePackV4Tail(entries, sealer);
  EXPECT_TRUE(tail.ok());
  return pack + *tail;
}

// A store's listing in tree blobs (one blob and its root at this size).
std::vector<TreeBlob> GoldenTree() {
  ManifestStore st = GoldenStores()[1];
  st.files[1].incompressible = true;
  return SplitStoreTree(&st, *PlainSealer());
}

std::string ManifestV4Bytes() {
  auto b = EncodeManifestV4(GoldenManifest(4), *PlainSealer());
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : std::string();
}

std::string IndexV4Bytes() {
  auto b = EncodeIndexV4(GoldenIndexEntries(4), *PlainSealer());
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : std::string();
}

// Every seed file and the bytes the current encoders make for it.
std::vector<std::pair<std::string, std::string>> EncodedSeeds() {
  std::vector<std::pair<std::string, std::string>> out = {
      {"config.v1", EncodeConfig(GoldenConfig(kRepoFormatVersion))},
      {"config.v4", EncodeConfig(GoldenConfig(kRepoFormatV4))},
      {"manifest.v1", EncodeManifest(GoldenManifest(1))},
      {"manifest.v2", EncodeManifest(GoldenManifest(2))},
      {"manifest.v3", EncodeManifest(GoldenManifest(3))},
      {"manifest.v4", ManifestV4Bytes()},
      {"index.v1", EncodeIndex(GoldenIndexEntries(1))},
      {"index.v4", IndexV4Bytes()},
      {"pack.v1", EncodeGoldenPackV1()},
      {"pack.v4", EncodeGoldenPackV4()}};
  std::vector<TreeBlob> tree = GoldenTree();
  EXPECT_EQ(tree.size(), 2u);
  if (tree.size() == 2) {
    out.push_back({"tree.blob", tree[0].plain});
    out.push_back({"tree.root", tree[1].plain});
  }
  return out;
}

// Every field, one a line: a mismatch shows as a readable diff.
std::string Describe(const Manifest& m) {
  std::ostringstream o;
  const SnapshotInfo& i = m.info;
  o << "version " << m.format_version << "\nid " << i.id << "\ncreated " << i.created_micros << "\nlabel " << i.label
    << "\ntrigger " << i.trigger << "\nhost " << i.hostname << "\nfiles " << i.files << "\nlogical " << i.logical_bytes
    << "\nstored " << i.stored_bytes << "\n";
  for (const auto& w : i.warnings) o << "warning " << w << "\n";
  for (const auto& s : i.stores) o << "present " << s << "\n";
  for (const auto& st : m.stores) {
    o << "store " << st.name << " " << st.original_path << " dir=" << st.is_directory << " present=" << st.present
      << " has_root=" << st.has_root << " root=" << st.root.Hex() << " tree_blobs=" << st.tree_blobs.size() << "\n";
    for (const auto& f : st.files) {
      o << "  '" << f.path << "' type=" << static_cast<int>(f.type) << " mode=" << std::oct << f.mode << std::dec
        << " uid=" << f.uid << " gid=" << f.gid << " size=" << f.size << " mtime=" << f.mtime_ns << " inode=" << f.inode
        << " hash=" << f.hash.Hex() << " link='" << f.link_target << "' sqlite=" << f.sqlite_backup << " fp='"
        << f.source_fingerprint << "' incompressible=" << f.incompressible << " chunks=";
      for (const auto& c : f.chunks) o << c.Hex() << ",";
      o << "\n";
    }
  }
  return o.str();
}

std::string Describe(const std::vector<IndexEntry>& entries) {
  std::ostringstream o;
  for (const auto& e : entries)
    o << e.blob.Hex() << " pack=" << e.pack.Hex() << " off=" << e.offset << " stored=" << e.stored_len
      << " raw=" << e.raw_len << " check=" << std::hex << e.stored_check << std::dec << " type=" << static_cast<int>(e.type)
      << " codec=" << static_cast<int>(e.codec) << " pv=" << e.pack_version << "\n";
  return o.str();
}

std::string Seed(const std::string& name) { return ReadFile(kSeeds + "/" + name); }

// Writes the seeds from the current encoders. Run by hand only, with
// MAESTRO_GOLDEN_OUT=$PWD/tests/data/format and the flags
// --gtest_also_run_disabled_tests --gtest_filter='FormatGolden.DISABLED_WriteSeeds'
// (tests/data/format/README.md).
TEST(FormatGolden, DISABLED_WriteSeeds) {
  const char* out = std::getenv("MAESTRO_GOLDEN_OUT");
  ASSERT_NE(out, nullptr) << "set MAESTRO_GOLDEN_OUT to the folder to write";
  for (const auto& [name, bytes] : EncodedSeeds()) WriteFile(std::string(out) + "/" + name, bytes);
}

TEST(FormatGolden, EncodersWriteTheSeedsByteForByte) {
  for (const auto& [name, bytes] : EncodedSeeds()) {
    const std::string seed = Seed(name);
    ASSERT_FALSE(seed.empty()) << name;
    EXPECT_TRUE(seed == bytes) << name << ": the encoder no longer writes the pinned bytes (" << bytes.size()
                               << " bytes, the seed has " << seed.size() << ")";
  }
}

TEST(FormatGolden, ConfigSeedsDecodeToTheirValues) {
  for (uint32_t v : {kRepoFormatVersion, kRepoFormatV4}) {
    auto c = DecodeConfig(Seed("config.v" + std::to_string(v)), "config");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->format_version, v);
    EXPECT_EQ(c->repository_id, "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(c->encryption, "none");
  }
}

TEST(FormatGolden, ManifestSeedsOfEveryVersionDecodeToTheirValues) {
  for (uint32_t v : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE("manifest v" + std::to_string(v));
    const std::string bytes = Seed("manifest.v" + std::to_string(v));
    auto m = DecodeManifest(bytes, "manifest", *PlainSealer(), kManifestId);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(Describe(*m), Describe(GoldenManifest(v)));
    if (v < 4) {  // the version-1..3 decoder on its own, too
      auto old = DecodeManifest(bytes, "manifest");
      ASSERT_TRUE(old.ok()) << old.status().ToString();
      EXPECT_EQ(Describe(*old), Describe(GoldenManifest(v)));
    }
  }
}

TEST(FormatGolden, IndexSeedsDecodeToTheirValues) {
  for (uint32_t v : {kRepoFormatVersion, kRepoFormatV4}) {
    SCOPED_TRACE("index v" + std::to_string(v));
    auto e = DecodeIndex(Seed("index.v" + std::to_string(v)), "index", *PlainSealer());
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(Describe(*e), Describe(GoldenIndexEntries(v)));
  }
}

// The packs' entries, as each pack describes itself (offsets and lengths pinned).
TEST(FormatGolden, PackSeedsDecodeToTheirValues) {
  const std::vector<GoldenBlob> blobs = GoldenBlobs();
  const std::string v1 = Seed("pack.v1"), v4 = Seed("pack.v4");
  auto e1 = DecodePack(v1, Xxh128(v1), "pack.v1");
  ASSERT_TRUE(e1.ok()) << e1.status().ToString();
  ASSERT_EQ(e1->size(), 3u);
  // A frame of RAW blocks: 13 bytes of frame header and a 3-byte block header around small data.
  const uint64_t off1[] = {40, 40 + 3017 + 24, 40 + 3017 + 24 + 716 + 24};
  for (size_t k = 0; k < 3; ++k) {
    const IndexEntry& e = (*e1)[k];
    EXPECT_EQ(e.blob, Xxh128(blobs[k].raw)) << k;
    EXPECT_EQ(e.offset, off1[k]) << k;
    EXPECT_EQ(e.raw_len, blobs[k].raw.size()) << k;
    EXPECT_EQ(e.stored_len, blobs[k].raw.size() + 16) << k;
    EXPECT_EQ(e.stored_check, Xxh64(std::string_view(v1).substr(e.offset, e.stored_len))) << k;
    EXPECT_EQ(e.pack_version, kRepoFormatVersion);
    EXPECT_EQ(e.type, BlobType::kData);
    EXPECT_EQ(e.codec, BlobCodec::kZstd);
  }
  EXPECT_EQ(v1.size(), off1[2] + (*e1)[2].stored_len);

  auto e4 = DecodePack(v4, Xxh128(v4), "pack.v4", *PlainSealer());
  ASSERT_TRUE(e4.ok()) << e4.status().ToString();
  ASSERT_EQ(e4->size(), 3u);
  const uint64_t off4[] = {0, 3017, 3017 + 700};
  const uint32_t stored4[] = {3017, 700, 17 + 16};
  for (size_t k = 0; k < 3; ++k) {
    const IndexEntry& e = (*e4)[k];
    EXPECT_EQ(e.blob, Xxh128(blobs[k].raw)) << k;
    EXPECT_EQ(e.offset, off4[k]) << k;
    EXPECT_EQ(e.stored_len, stored4[k]) << k;
    EXPECT_EQ(e.raw_len, blobs[k].raw.size()) << k;
    EXPECT_EQ(e.stored_check, Xxh64(std::string_view(v4).substr(e.offset, e.stored_len))) << k;
    EXPECT_EQ(e.pack_version, kRepoFormatV4);
    EXPECT_EQ(e.type, blobs[k].type) << k;
    EXPECT_EQ(e.codec, blobs[k].codec) << k;
  }
  EXPECT_EQ(std::string_view(v4).substr(off4[1], 700), blobs[1].raw);  // stored raw: the bytes themselves
  EXPECT_EQ(v4.substr(v4.size() - 8), std::string(kPackV4Magic, 8));
}

TEST(FormatGolden, TreeSeedsDecodeToTheirListing) {
  ManifestStore want = GoldenStores()[1];
  want.files[1].incompressible = true;
  std::vector<ManifestFile> files;
  ASSERT_TRUE(DecodeTreeBlob(Seed("tree.blob"), "tree.blob", &files).ok());
  ManifestStore got = want;
  got.files = files;
  Manifest a, b;
  a.stores = {got};
  b.stores = {want};
  EXPECT_EQ(Describe(a), Describe(b));
  auto ids = DecodeTreeRoot(Seed("tree.root"), "tree.root");
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), 1u);
  EXPECT_EQ((*ids)[0], Xxh128(Seed("tree.blob")));
}

// The format-3 repository the previous build wrote: every manifest and index
// decodes to what its generator made and re-encodes to the same bytes; its
// packs describe the blobs its index names.
TEST(FormatGolden, Format3RepositoryDecodesToWhatItsGeneratorWroteAndReencodesByteForByte) {
  struct Want {
    const char* id;
    const char* label;
    int64_t created;
  };
  const Want want[] = {{"20231114_221320", "first", 1700000000000000LL}, {"20231114_221500", "second", 1700000100000000LL}};
  for (const auto& w : want) {
    SCOPED_TRACE(w.id);
    const std::string bytes = ReadFile(kFormat3 + "/snapshots/" + w.id);
    auto m = DecodeManifest(bytes, w.id);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->format_version, 3u);
    EXPECT_EQ(m->info.id, w.id);
    EXPECT_EQ(m->info.label, w.label);
    EXPECT_EQ(m->info.created_micros, w.created);
    ASSERT_EQ(m->stores.size(), 4u);
    EXPECT_EQ(m->stores[0].name, "main");
    EXPECT_EQ(m->stores[1].name, "markdown");
    EXPECT_EQ(m->stores[2].name, "pdfs");
    EXPECT_EQ(m->stores[3].name, "vector");
    EXPECT_FALSE(m->stores[3].present);
    EXPECT_EQ(m->info.stores, (std::vector<std::string>{"main", "markdown", "pdfs"}));
    EXPECT_TRUE(m->stores[0].files.at(0).sqlite_backup);
    EXPECT_EQ(m->stores[1].files.size(), 6u);  // the root, a.txt, link, sub, sub/b.md, sub/big.csv
    EXPECT_TRUE(EncodeManifest(*m) == bytes);
  }
  std::vector<IndexEntry> indexed;
  for (const char* name : {"53a518c03a86b701b56e1b6d64898021.idx", "769e79e6528163d3c85ae0ea4370d1c5.idx"}) {
    const std::string bytes = ReadFile(kFormat3 + "/index/" + name);
    auto e = DecodeIndex(bytes, name);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_TRUE(EncodeIndex(*e) == bytes) << name;
    indexed.insert(indexed.end(), e->begin(), e->end());
  }
  std::vector<IndexEntry> packed;
  for (const char* name : {"102274be12412656848f4b711544589c", "9d959544bfed7ff8e7a8661461dc233a"}) {
    const std::string bytes = ReadFile(kFormat3 + "/packs/" + name + ".pack");
    Hash128 id;
    ASSERT_TRUE(Hash128::FromHex(name, &id));
    EXPECT_EQ(Xxh128(bytes), id) << name;
    auto e = DecodePack(bytes, id, name);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    packed.insert(packed.end(), e->begin(), e->end());
  }
  auto by_blob = [](const IndexEntry& a, const IndexEntry& b) { return a.blob < b.blob; };
  std::sort(indexed.begin(), indexed.end(), by_blob);
  std::sort(packed.begin(), packed.end(), by_blob);
  EXPECT_FALSE(indexed.empty());
  EXPECT_EQ(Describe(packed), Describe(indexed));
}

}  // namespace
}  // namespace maestro
