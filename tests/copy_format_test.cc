// tests/copy_format_test.cc — `snap copy` between repositories of different
// formats and sealers (snapshot/copier.h, snapshot/publish.h): a copy always
// takes the target's encoding. Format 3 -> 4 gives tree blobs and small
// manifests; format 4 -> 3 gives format-3 manifests and version-1 packs only
// (a blob stored raw is compressed again); a target whose Sealer names blobs
// otherwise gets its own tree blobs. The format-3 side is the real fixture
// tests/data/format3_repo, written by the previous build. Local folders only.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "snapshot/blob_index.h"
#include "snapshot/copier.h"
#include "snapshot/format.h"
#include "snapshot/pack_writer.h"
#include "snapshot/repo_access.h"
#include "snapshot/repository.h"
#include "snapshot/sealer.h"
#include "tests/format3_fixture.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

namespace maestro {
namespace {

using testing::CliResult;
using testing::RandomBytes;
using testing::CopyFormat3Fixture;
using testing::ExpectFormat3SnapshotsWhole;
using testing::Format3BigCsv;
using testing::Names;
using testing::ReadFile;
using testing::Rows;
using testing::RunCli;
using testing::TempDir;
using testing::TreeDigest;
using testing::WriteFile;

std::unique_ptr<Repository> Open(const std::string& dir, bool create = false,
                                 std::shared_ptr<const Sealer> sealer = nullptr) {
  auto r = sealer ? Repository::Open(Env::Default(), dir, create, sealer) : Repository::Open(Env::Default(), dir, create);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// A format-3 repository with no snapshot: the fixture's deleted and collected.
std::string EmptyFormat3(const TempDir& t, const std::string& name) {
  std::string dir = CopyFormat3Fixture(t, name);
  auto repo = Open(dir);
  auto list = repo->List();
  EXPECT_TRUE(list.ok());
  std::vector<std::string> ids;
  for (const auto& s : *list) ids.push_back(s.id);
  EXPECT_TRUE(repo->DeleteSnapshots(ids).ok());
  EXPECT_TRUE(repo->RemoveUnreferencedData(false).ok());
  EXPECT_EQ(repo->format_version(), 1u);
  return dir;
}

std::vector<IndexEntry> IndexEntries(const std::string& repo, const Sealer& sealer) {
  std::vector<IndexEntry> out;
  for (const auto& name : Names(repo + "/index")) {
    auto e = DecodeIndex(ReadFile(repo + "/index/" + name), name, sealer);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) out.insert(out.end(), e->begin(), e->end());
  }
  return out;
}

void ExpectVerified(Repository* repo) {
  auto v = repo->Verify({}, true);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->ok()) << v->problems[0].path << ": " << v->problems[0].detail;
}

std::vector<std::string> Ids(Repository* repo) {
  std::vector<std::string> ids;
  auto l = repo->List();
  EXPECT_TRUE(l.ok());
  if (l.ok())
    for (const auto& s : *l) ids.push_back(s.id);
  return ids;
}

// ------------------------------------------------------------ format 3 -> 4

TEST(CopyFormatTest, Format3SnapshotsCopiedIntoFormat4GetTreeBlobsAndSmallManifests) {
  TempDir t;
  std::string old = CopyFormat3Fixture(t), dst = t.Sub("new");
  CliResult r = RunCli({"--repo", old, "--json", "snap", "copy", "--all", "--to", dst});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto from = Open(old);
  auto to = Open(dst);
  EXPECT_EQ(from->format_version(), 1u) << "the source is only read";
  EXPECT_EQ(to->format_version(), 4u);
  auto src_list = from->List();
  auto dst_list = to->List();
  ASSERT_TRUE(src_list.ok() && dst_list.ok());
  ASSERT_EQ(dst_list->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const SnapshotInfo &a = (*src_list)[i], &b = (*dst_list)[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.created_micros, b.created_micros);
    EXPECT_EQ(a.label, b.label);
    EXPECT_EQ(a.hostname, b.hostname);
    EXPECT_EQ(a.files, b.files);
    EXPECT_EQ(a.logical_bytes, b.logical_bytes);
    auto m = to->LoadManifest(b.id);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->format_version, kManifestFormatV4);
    for (const auto& st : m->stores) EXPECT_EQ(st.has_root, st.present) << st.name;
    // The small manifest holds no entry: the old one held every path.
    std::string small = ReadFile(dst + "/snapshots/" + b.id);
    EXPECT_EQ(small.find("big.csv"), std::string::npos);
    EXPECT_NE(ReadFile(old + "/snapshots/" + a.id).find("big.csv"), std::string::npos);
  }
  std::set<Hash128> trees;
  for (const auto& e : IndexEntries(dst, *PlainSealer())) {
    EXPECT_EQ(e.pack_version, kRepoFormatV4);
    if (e.type == BlobType::kTree) trees.insert(e.blob);
  }
  auto m2 = to->LoadManifest((*dst_list)[1].id);
  ASSERT_TRUE(m2.ok());
  for (const auto& st : m2->stores) {
    if (!st.present) continue;
    EXPECT_TRUE(trees.count(st.root)) << st.name << ": its root is a tree blob of the target";
    for (const auto& tb : st.tree_blobs) EXPECT_TRUE(trees.count(tb)) << st.name;
  }
  ExpectFormat3SnapshotsWhole(to.get(), t);
  ExpectVerified(to.get());
  // A second copy finds both listed and sends nothing.
  CliResult again = RunCli({"--repo", old, "--json", "snap", "copy", "--all", "--to", dst});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto j = nlohmann::json::parse(again.out);
  EXPECT_EQ(j["bytes_sent"].get<uint64_t>(), 0u) << again.out;
  EXPECT_EQ(j["skipped"].size(), 2u) << again.out;
}

// A format-4 manifest cut short on the target (an upload that stopped): not
// listed, so the next copy sends that snapshot again and it is listed whole.
TEST(CopyFormatTest, ManifestCutShortOnAFormat4TargetIsCopiedAgainWhole) {
  TempDir t;
  std::string old = CopyFormat3Fixture(t), dst = t.Sub("new");
  auto fixture = Open(old);
  auto to = Open(dst, true);
  ASSERT_TRUE(fixture && to);
  std::vector<std::string> ids = Ids(fixture.get());
  ASSERT_TRUE(CopySnapshots(fixture.get(), to.get(), ids, {}).ok());
  std::string path = dst + "/snapshots/" + ids[1], whole = ReadFile(path);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(whole.size() / 2)), 0);
  auto scan = to->Scan();
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->incomplete.size(), 1u);
  EXPECT_EQ(Ids(to.get()), std::vector<std::string>{ids[0]});
  auto again = CopySnapshots(fixture.get(), to.get(), ids, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->copied, std::vector<std::string>{ids[1]});
  EXPECT_EQ(again->blobs_sent, 0u) << "its blobs were all there";
  EXPECT_EQ(Ids(to.get()), ids);
  EXPECT_TRUE(to->Scan()->incomplete.empty());
  ExpectFormat3SnapshotsWhole(to.get(), t);
  ExpectVerified(to.get());
}

// ------------------------------------------------------------ format 4 -> 3

// A snapshot in a format-4 repository whose file "raw.bin" is one blob stored
// with codec raw (what the speed branch's choice writes for incompressible data).
SnapshotInfo SnapshotWithARawBlob(Repository* repo, const TempDir& t) {
  std::string data = t.Sub("data-raw");
  std::string raw = RandomBytes(100000, 21);  // under the chunker's minimum: one chunk
  WriteFile(data + "/raw.bin", raw);
  WriteFile(data + "/text.md", "a text beside it\n");
  const RepoFiles& files = *RepoFilesOf(repo);
  EXPECT_TRUE(files.EnsureScratch().ok());
  {
    PackWriter w(files, "");
    EXPECT_TRUE(w.Add(Xxh128(raw), raw.size(), raw, BlobCodec::kRaw).ok());
    EXPECT_TRUE(w.Finish().ok());
    EXPECT_TRUE(WriteIndexFile(files, w.TakeEntries()).ok());
  }
  CreateOptions o;
  o.label = "raw";
  o.racy_margin_ms = 0;
  SnapshotSource src;
  src.store = "markdown";
  src.path = data;
  src.is_directory = true;
  auto s = repo->Create({src}, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : SnapshotInfo{};
}

TEST(CopyFormatTest, Format4SnapshotsCopiedIntoFormat3StayFormat3AndRoundTrip) {
  TempDir t;
  std::string old = CopyFormat3Fixture(t), mid = t.Sub("mid"), back = EmptyFormat3(t, "back");
  auto fixture = Open(old);
  auto v4 = Open(mid, true);
  auto v3 = Open(back);
  ASSERT_TRUE(fixture && v4 && v3);
  ASSERT_EQ(v4->format_version(), 4u);
  auto first = CopySnapshots(fixture.get(), v4.get(), Ids(fixture.get()), {});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  SnapshotInfo raw = SnapshotWithARawBlob(v4.get(), t);
  std::vector<std::string> before = Names(back);

  auto second = CopySnapshots(v4.get(), v3.get(), Ids(v4.get()), {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->copied.size(), 3u);
  auto again = Open(back);  // as a new process sees it
  EXPECT_EQ(again->format_version(), 1u) << "a format-3 repository is written as format 3";
  EXPECT_NE(ReadFile(back + "/config").find("format_version=1\n"), std::string::npos);
  for (const auto& id : Ids(again.get())) {
    auto m = again->LoadManifest(id);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->format_version, kManifestFormatVersion) << id;
    for (const auto& st : m->stores) EXPECT_FALSE(st.has_root) << id << " " << st.name;
  }
  for (const auto& e : IndexEntries(back, *PlainSealer())) {
    EXPECT_EQ(e.pack_version, kRepoFormatVersion);
    EXPECT_EQ(e.type, BlobType::kData) << "no tree blob in a format-3 repository";
    EXPECT_EQ(e.codec, BlobCodec::kZstd) << "the raw blob was compressed for format 3";
  }
  for (const auto& n : Names(back + "/packs"))
    EXPECT_EQ(ReadFile(back + "/packs/" + n).substr(0, 8), std::string(kPackMagic, 8)) << n << ": a version-1 pack";
  // The chunk lists are the fixture's own: the same blob ids throughout.
  for (const auto& id : Ids(fixture.get())) {
    auto a = fixture->LoadManifest(id);
    auto b = again->LoadManifest(id);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->stores.size(), b->stores.size());
    for (size_t i = 0; i < a->stores.size(); ++i) {
      ASSERT_EQ(a->stores[i].files.size(), b->stores[i].files.size());
      for (size_t k = 0; k < a->stores[i].files.size(); ++k)
        EXPECT_EQ(a->stores[i].files[k].chunks, b->stores[i].files[k].chunks);
    }
  }
  ExpectFormat3SnapshotsWhole(again.get(), t);
  ASSERT_TRUE(again->RestoreStore(raw.id, "markdown", t.Sub("raw-out"), {}).ok());
  EXPECT_EQ(ReadFile(t.Sub("raw-out/raw.bin")), RandomBytes(100000, 21));
  ExpectVerified(again.get());
  // And the format-3 copy is still a format-3 repository the old code reads:
  // `snap upgrade` takes it to format 4 like any other.
  ASSERT_TRUE(again->Upgrade().ok());
  ExpectVerified(again.get());
}

// ------------------------------------------------------------ another sealer

// A stand-in for an encrypting sealer (as in format4_test): other blob ids,
// every byte changed. A copy into it re-hashes every chunk, and the listing's
// tree blobs are the target's own (its ids), not the source's.
class XorSealer final : public Sealer {
 public:
  std::string_view Scheme() const override { return "xchacha20poly1305"; }
  Hash128 BlobId(std::string_view p) const override {
    Hash128 h = Xxh128(p);
    h.hi ^= 0x5555;
    return h;
  }
  size_t Overhead() const override { return 1; }
  Result<std::string> SealBlob(const Hash128& id, std::string_view p) const override { return Xor(id.Hex(), p); }
  Status OpenBlob(const Hash128& id, std::string_view s, std::string* p) const override { return Unxor(id.Hex(), s, p); }
  Result<std::string> Seal(ObjectKind k, std::string_view name, std::string_view p) const override {
    return Xor(std::to_string(static_cast<int>(k)) + std::string(name), p);
  }
  Status Open(ObjectKind k, std::string_view name, std::string_view s, std::string* p) const override {
    return Unxor(std::to_string(static_cast<int>(k)) + std::string(name), s, p);
  }

 private:
  static std::string Xor(const std::string& ad, std::string_view p) {
    std::string out(1, static_cast<char>(Xxh64(ad)));
    for (char c : p) out.push_back(static_cast<char>(c ^ 0xA7));
    return out;
  }
  static Status Unxor(const std::string& ad, std::string_view s, std::string* p) {
    if (s.empty() || s[0] != static_cast<char>(Xxh64(ad))) return Status::Corruption("sealed object does not open");
    p->clear();
    for (char c : s.substr(1)) p->push_back(static_cast<char>(c ^ 0xA7));
    return Status::OK();
  }
};

TEST(CopyFormatTest, CopyIntoARepositoryOfAnotherSealerReencodesChunksAndTrees) {
  TempDir t;
  std::string old = CopyFormat3Fixture(t), sealed = t.Sub("sealed");
  auto sealer = std::make_shared<XorSealer>();
  auto fixture = Open(old);
  auto to = Open(sealed, true, sealer);
  ASSERT_TRUE(fixture && to);
  EXPECT_EQ(SealerOf(to.get()).get(), sealer.get()) << "SealerOf gives the repository's own sealer";
  auto r = CopySnapshots(fixture.get(), to.get(), Ids(fixture.get()), {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::set<Hash128> trees;
  for (const auto& e : IndexEntries(sealed, *sealer))
    if (e.type == BlobType::kTree) trees.insert(e.blob);
  for (const auto& id : Ids(fixture.get())) {
    auto a = fixture->LoadManifest(id);
    auto b = to->LoadManifest(id);
    ASSERT_TRUE(a.ok() && b.ok()) << b.status().ToString();
    for (size_t i = 0; i < a->stores.size(); ++i) {
      if (!b->stores[i].present) continue;
      EXPECT_TRUE(trees.count(b->stores[i].root));
      for (size_t k = 0; k < a->stores[i].files.size(); ++k)
        for (size_t c = 0; c < a->stores[i].files[k].chunks.size(); ++c) {
          Hash128 want = a->stores[i].files[k].chunks[c];
          want.hi ^= 0x5555;  // XorSealer's id of the same bytes
          EXPECT_EQ(b->stores[i].files[k].chunks[c], want);
        }
    }
  }
  ExpectFormat3SnapshotsWhole(to.get(), t);
  ExpectVerified(to.get());
  // And back into a format-3 repository: re-hashed to XXH3-128 again.
  auto back = Open(EmptyFormat3(t, "back"));
  auto r2 = CopySnapshots(to.get(), back.get(), Ids(to.get()), {});
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  ExpectFormat3SnapshotsWhole(back.get(), t);
  ExpectVerified(back.get());
}

}  // namespace
}  // namespace maestro
