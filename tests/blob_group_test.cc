// tests/blob_group_test.cc — small blobs compressed in groups
// (snapshot/blob_group.h, issue 14 point 3): a repository of many small files
// stays close to one zstd stream of them, and every reader and writer of
// blobs (restore, verify --read-data, copy plain <-> encrypted, prune's
// repack) keeps its files exact; a damaged group is corruption. Real binary
// on a real demo install of small Markdown/JSON/PDF files.
#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "snapshot/blob_group.h"
#include "snapshot/format.h"
#include "snapshot/sealer.h"
#include "tests/test_util.h"
#include "util/coding.h"
#include "util/env.h"

namespace maestro::testing {
namespace {

const std::vector<std::string> kFast = {"--kdf-ops", "1", "--kdf-mem-kib", "8"};
// The folder stores of small files whose restored bytes must equal the install's.
const std::vector<std::string> kSmallFileDirs = {"ai_researcher/data/raw_pdfs", "ai_researcher/data/processed/markdown",
                                                 "ai_researcher/data/processed/metadata"};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    if (nl > start) out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// Bytes of a repository's objects: packs, index files, manifests.
uint64_t RepoBytes(const std::string& repo) {
  uint64_t n = 0;
  for (const char* dir : {"packs", "index", "snapshots"})
    for (const auto& f : Lines(Sh("find '" + repo + "/" + dir + "' -type f")))
      n += ReadFile(f).size();
  return n;
}

// Every file of the install, in path order, as one zstd-3 stream (what
// `tar | zstd -3` pays, without tar's headers).
uint64_t OneZstdStream(const std::string& root) {
  std::string all;
  for (const auto& f : Lines(Sh("cd '" + root + "' && find . -type f | LC_ALL=C sort"))) all += ReadFile(root + "/" + f);
  std::string z(ZSTD_compressBound(all.size()), '\0');
  size_t n = ZSTD_compress(z.data(), z.size(), all.data(), all.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  return n;
}

std::vector<IndexEntry> IndexEntries(const std::string& repo) {
  std::vector<IndexEntry> out;
  for (const auto& f : Lines(Sh("find '" + repo + "/index' -name '*.idx'"))) {
    auto e = DecodeIndex(ReadFile(f), f);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) out.insert(out.end(), e->begin(), e->end());
  }
  return out;
}

// Group members by where their group is stored.
std::map<std::pair<Hash128, uint64_t>, std::vector<IndexEntry>> Groups(const std::vector<IndexEntry>& entries) {
  std::map<std::pair<Hash128, uint64_t>, std::vector<IndexEntry>> out;
  for (const auto& e : entries)
    if (e.codec == BlobCodec::kGroup) out[{e.pack, e.offset}].push_back(e);
  return out;
}

class BlobGroupRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.Sub("root");
    pw_ = tmp_.Sub("pw");
    WriteFile(pw_, "correct horse battery staple\n");
    CliResult r = RunCli({"-q", "demo", "create", root_, "--users", "2", "--documents", "300", "--chunks-per-doc", "2",
                          "--pdf-kib", "12", "--seed", "42", "--now", "2025-06-01T00:00:00Z"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  CliResult Snap(const std::string& repo, std::vector<std::string> args, bool password = false) {
    std::vector<std::string> all = {"--root", root_, "--repo", repo};
    if (password) {
      all.push_back("--password-file");
      all.push_back(pw_);
    }
    all.push_back("snap");
    all.insert(all.end(), args.begin(), args.end());
    return RunCli(all);
  }

  std::string Create(const std::string& repo, bool password = false) {
    CliResult r = Snap(repo, {"create", "-q"}, password);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out;
    if (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  // The restored small-file stores equal the install's.
  void ExpectRestoresExactly(const std::string& repo, const std::string& id, bool password = false) {
    std::string out = tmp_.Sub("restored-" + std::to_string(restores_++));
    CliResult r = Snap(repo, {"restore", id, "--to", out}, password);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (const auto& d : kSmallFileDirs) EXPECT_EQ(TreeDigest(out + "/" + d), TreeDigest(root_ + "/" + d)) << d;
  }

  void ExpectVerified(const std::string& repo, bool password = false) {
    CliResult r = Snap(repo, {"verify", "--all", "--read-data"}, password);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  TempDir tmp_;
  std::string root_, pw_;
  int restores_ = 0;
};

TEST_F(BlobGroupRepo, ManySmallFilesRepositoryIsWithinThreePercentOfOneZstdStream) {
  std::string repo = tmp_.Sub("repo");
  ASSERT_FALSE(Create(repo).empty());
  const uint64_t ours = RepoBytes(repo), stream = OneZstdStream(root_);
  // Each small file compressed alone was 5% over (issue 14 point 3); the
  // rest is per-blob index and pack-header entries and the listing.
  EXPECT_LE(ours, stream + stream * 3 / 100) << "repository " << ours << " bytes, one zstd stream " << stream;
}

TEST_F(BlobGroupRepo, SmallBlobsAreStoredInSharedGroups) {
  std::string repo = tmp_.Sub("repo");
  ASSERT_FALSE(Create(repo).empty());
  auto groups = Groups(IndexEntries(repo));
  ASSERT_FALSE(groups.empty());
  size_t shared = 0;
  for (const auto& [where, members] : groups) {
    if (members.size() > 1) shared++;
    uint64_t raw = 0;
    for (const auto& m : members) {
      EXPECT_LE(m.raw_len, kGroupMemberMax);
      EXPECT_EQ(m.stored_len, members[0].stored_len);
      EXPECT_EQ(m.stored_check, members[0].stored_check);
      raw += m.raw_len;
    }
    EXPECT_LE(raw, kGroupTarget + kGroupMemberMax);
  }
  EXPECT_GT(shared, groups.size() / 2) << "most groups hold several blobs";
}

TEST_F(BlobGroupRepo, RestoreAndVerifyReadDataOfGroupedRepositoryAreExact) {
  std::string repo = tmp_.Sub("repo");
  std::string id = Create(repo);
  ASSERT_FALSE(id.empty());
  ExpectVerified(repo);
  ExpectRestoresExactly(repo, id);
}

TEST_F(BlobGroupRepo, CopyPlainToEncryptedAndBackKeepsGroupedSnapshotExact) {
  std::string plain = tmp_.Sub("plain"), enc = tmp_.Sub("enc"), back = tmp_.Sub("back");
  std::string id = Create(plain);
  ASSERT_FALSE(id.empty());
  std::vector<std::string> init = {"init", "--encrypt"};
  init.insert(init.end(), kFast.begin(), kFast.end());
  ASSERT_EQ(Snap(enc, init, true).exit_code, 0);
  CliResult r = RunCli({"--repo", plain, "snap", "copy", "--all", "--to", enc, "--to-password-file", pw_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Only the source's password: a password for the target would make it encrypted.
  r = RunCli({"--repo", back, "snap", "copy", "--all", "--from", enc, "--from-password-file", pw_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectVerified(enc, true);
  ExpectVerified(back);
  ExpectRestoresExactly(enc, id, true);
  ExpectRestoresExactly(back, id);
  EXPECT_FALSE(Groups(IndexEntries(back)).empty()) << "the copy back groups its small blobs again";
}

TEST_F(BlobGroupRepo, PruneRepacksGroupsAndKeepsTheLastSnapshotExact) {
  std::string repo = tmp_.Sub("repo");
  ASSERT_FALSE(Create(repo).empty());
  // Half the Markdown files go: their groups hold blobs no snapshot needs after the prune.
  auto md = Lines(Sh("cd '" + root_ + "/ai_researcher/data/processed/markdown' && ls | LC_ALL=C sort"));
  ASSERT_GT(md.size(), 100u);
  for (size_t i = 0; i < md.size(); i += 2)
    ASSERT_TRUE(Env::Default()->RemoveFile(root_ + "/ai_researcher/data/processed/markdown/" + md[i]).ok());
  std::string id = Create(repo);
  ASSERT_FALSE(id.empty());
  uint64_t before = RepoBytes(repo);
  CliResult r = Snap(repo, {"prune", "--keep-last", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(RepoBytes(repo), before) << "the deleted files' blobs are gone";
  EXPECT_FALSE(Groups(IndexEntries(repo)).empty());
  ExpectVerified(repo);
  ExpectRestoresExactly(repo, id);
}

TEST_F(BlobGroupRepo, DamagedGroupIsReportedAsCorruption) {
  std::string repo = tmp_.Sub("repo");
  std::string id = Create(repo);
  ASSERT_FALSE(id.empty());
  const IndexEntry* victim = nullptr;
  auto groups = Groups(IndexEntries(repo));
  for (const auto& [where, members] : groups)
    if (members.size() > 1) victim = &members[0];
  ASSERT_NE(victim, nullptr);
  std::string pack = repo + "/packs/" + victim->pack.Hex() + ".pack";
  {
    std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
    long at = static_cast<long>(victim->offset + victim->stored_len / 2);
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x20);
    f.seekp(at);
    f.write(&c, 1);
  }
  CliResult r = Snap(repo, {"verify", "--all", "--read-data"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  std::string out = tmp_.Sub("restored");
  r = Snap(repo, {"restore", id, "--to", out});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("damaged"), std::string::npos) << r.err;
}

// ------------------------------------------------------------ coding

TEST(BlobGroupCoding, ReaderOfFormatFourRefusesUnknownCodecAndGroupedTrees) {
  EXPECT_TRUE(KnownBlobCoding(0, 0));
  EXPECT_TRUE(KnownBlobCoding(1, 1));
  EXPECT_TRUE(KnownBlobCoding(0, 2));
  EXPECT_FALSE(KnownBlobCoding(1, 2)) << "tree blobs are never grouped";
  EXPECT_FALSE(KnownBlobCoding(0, 3));
  IndexEntry e;
  e.blob = Xxh128("x");
  e.pack = Xxh128("p");
  e.codec = static_cast<BlobCodec>(3);
  e.pack_version = kRepoFormatV4;
  auto bytes = EncodeIndexV4({e}, *PlainSealer());
  ASSERT_TRUE(bytes.ok());
  auto back = DecodeIndex(*bytes, "index x");
  ASSERT_FALSE(back.ok());
  EXPECT_TRUE(back.status().IsCorruption());
  EXPECT_NE(back.status().message().find("unknown type or codec"), std::string::npos) << back.status().ToString();
}

TEST(BlobGroupCoding, GroupWhoseTableDoesNotAddUpIsCorruption) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  auto frame = [](const std::string& plain) {
    std::string z(ZSTD_compressBound(plain.size()), '\0');
    z.resize(ZSTD_compress(z.data(), z.size(), plain.data(), plain.size(), 3));
    return z;
  };
  GroupBuilder g;
  g.Add(Xxh128("hello"), "hello");
  g.Add(Xxh128("world!"), "world!");
  DecodedGroup d;
  ASSERT_TRUE(DecodeGroup(dctx, frame(g.Encode()), *PlainSealer(), "pack p", &d).ok());
  ASSERT_EQ(d.members.size(), 2u);
  EXPECT_EQ(d.members[1].id, Xxh128("world!"));
  std::string bad = g.Encode();
  bad[4] = 9;  // the first member claims 9 bytes: the second runs past the end
  Status s = DecodeGroup(dctx, frame(bad), *PlainSealer(), "pack p", &d);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  std::string more = g.Encode() + "x";  // a byte after the members
  s = DecodeGroup(dctx, frame(more), *PlainSealer(), "pack p", &d);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  ZSTD_freeDCtx(dctx);
}

}  // namespace
}  // namespace maestro::testing
