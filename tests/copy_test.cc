// tests/copy_test.cc — `snap copy` (snapshot/copier.h, cli/copy_cmd.cc) and the
// writers on remote repositories (snapshot/open_writer.h), against real
// servers on 127.0.0.1 started here: OpenSSH's sshd with internal-sftp (plain
// and append-only, tests/sftp_server.h) and `rclone serve webdav`
// (tests/webdav_server.h). Faults: the rclone child killed and the server
// stopped mid-create and mid-copy, a full remote (a small tmpfs), a flipped
// byte in a remote pack, deletes refused. Cases that need a server skip, with
// the reason printed, when sshd or rclone is missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "snapshot/copier.h"
#include "snapshot/open_backend.h"
#include "snapshot/open_writer.h"
#include "snapshot/repository.h"
#include "tests/sftp_server.h"
#include "tests/test_util.h"
#include "tests/webdav_server.h"
#include "tests/support/fault_env.h"
#include "util/hash.h"

namespace maestro::testing {
namespace {

constexpr uint64_t kMiB = 1 << 20;

RcloneBackendOptions TestOptions(const std::vector<std::string>& env, std::vector<std::string> extra = {}) {
  RcloneBackendOptions o;
  o.extra_env = env;
  o.extra_args = {"--contimeout", "5s", "--timeout", "15s", "--low-level-retries", "1"};
  o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
  o.start_timeout_ms = 20000;
  o.io_timeout_ms = 30000;
  return o;
}

// One snapshot of folder dir as store "pdfs".
SnapshotInfo Snap(Repository* repo, const std::string& dir, const std::string& label) {
  SnapshotSource s;
  s.store = "pdfs";
  s.path = dir;
  s.is_directory = true;
  CreateOptions o;
  o.label = label;
  o.racy_margin_ms = 0;
  auto r = repo->Create({s}, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SnapshotInfo{};
}

std::vector<std::string> Ids(Repository* repo) {
  std::vector<std::string> ids;
  auto l = repo->List();
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  if (l.ok())
    for (const auto& s : *l) ids.push_back(s.id);
  return ids;
}

// Bytes of the packs in dir whose content hashes to their name: the ones that
// arrived whole (a pack still uploading, or cut, does not).
uint64_t WholePackBytes(const std::string& dir) {
  uint64_t whole = 0;
  std::vector<DirEntry> entries;
  if (!Env::Default()->ListDir(dir, &entries).ok()) return 0;
  for (const auto& e : entries) {
    if (e.name.size() != 37 || e.name.substr(32) != ".pack") continue;
    std::string data = ReadFile(dir + "/" + e.name);
    if (Xxh128(data).Hex() == e.name.substr(0, 32)) whole += data.size();
  }
  return whole;
}

// The rclone children of this process (the backends' `rclone serve restic`).
std::vector<pid_t> RcloneChildren() {
  std::vector<pid_t> out;
  for (pid_t p : DescendantsOf(::getpid()))
    if (ReadFile("/proc/" + std::to_string(p) + "/comm") == "rclone\n") out.push_back(p);
  return out;
}

void FlipByte(const std::string& path, long at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x01);
  f.seekp(at);
  f.write(&c, 1);
}

// ------------------------------------------------------------ local only

TEST(CopyTest, CopyKeepsIdTimeLabelTriggerAndSendsOnlyWhatTheTargetLacks) {
  TempDir d;
  WriteFile(d.Sub("data/a"), RandomBytes(3 * kMiB, 1));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  SnapshotInfo s1 = Snap(src->get(), d.Sub("data"), "first");
  WriteFile(d.Sub("data/b"), RandomBytes(2 * kMiB, 2));
  SnapshotInfo s2 = Snap(src->get(), d.Sub("data"), "second");

  CliResult one = RunCli({"--repo", d.Sub("src"), "--json", "snap", "copy", s1.id, "--to", d.Sub("dst")});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto j1 = nlohmann::json::parse(one.out);
  EXPECT_EQ(j1["copied"], nlohmann::json::array({s1.id}));
  CliResult all = RunCli({"--repo", d.Sub("src"), "--json", "snap", "copy", "--all", "--to", d.Sub("dst")});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto j2 = nlohmann::json::parse(all.out);
  EXPECT_EQ(j2["copied"], nlohmann::json::array({s2.id}));
  EXPECT_EQ(j2["skipped"], nlohmann::json::array({s1.id}));
  EXPECT_LT(j2["bytes_sent"].get<uint64_t>(), 3 * kMiB) << "only b's blobs were missing on the target";
  EXPECT_GE(j2["bytes_skipped"].get<uint64_t>(), 3 * kMiB) << "a's blobs were there already";

  auto dst = Repository::Open(Env::Default(), d.Sub("dst"), false);
  ASSERT_TRUE(dst.ok());
  auto got = (*dst)->List();
  ASSERT_TRUE(got.ok() && got->size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const SnapshotInfo& want = i == 0 ? s1 : s2;
    EXPECT_EQ((*got)[i].id, want.id);
    EXPECT_EQ((*got)[i].created_micros, want.created_micros);
    EXPECT_EQ((*got)[i].label, want.label);
    EXPECT_EQ((*got)[i].trigger, want.trigger);
    EXPECT_EQ((*got)[i].hostname, want.hostname);
  }
  CliResult verify = RunCli({"--repo", d.Sub("dst"), "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ASSERT_EQ(RunCli({"--repo", d.Sub("dst"), "snap", "restore", s2.id, "--to", d.Sub("out")}).exit_code, 0);
  EXPECT_EQ(TreeDigest(d.Sub("out/pdfs")), TreeDigest(d.Sub("data")));

  CliResult again = RunCli({"--repo", d.Sub("src"), "--json", "snap", "copy", "--all", "--to", d.Sub("dst")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["bytes_sent"], 0) << "an unchanged copy sends nothing";
}

// The cross-scheme path (every chunk re-hashed under the target's Sealer and
// compressed again, the listing re-encoded), run between two unencrypted
// repositories: the same ids come out, so the copy is the same snapshot.
TEST(CopyTest, RehashedCopyRecomputesEveryIdAndGivesTheSameSnapshot) {
  TempDir d;
  WriteFile(d.Sub("data/a"), RandomBytes(2 * kMiB, 3));
  WriteFile(d.Sub("data/sub/b"), std::string(300000, 'x'));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  auto dst = Repository::Open(Env::Default(), d.Sub("dst"), true);
  ASSERT_TRUE(src.ok() && dst.ok());
  SnapshotInfo s = Snap(src->get(), d.Sub("data"), "x");
  CopyOptions o;
  o.rehash = true;
  auto r = CopySnapshots(src->get(), dst->get(), {s.id}, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto a = (*src)->LoadManifest(s.id);
  auto b = (*dst)->LoadManifest(s.id);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->stores.size(), b->stores.size());
  for (size_t i = 0; i < a->stores.size(); ++i)
    for (size_t k = 0; k < a->stores[i].files.size(); ++k) {
      EXPECT_EQ(a->stores[i].files[k].chunks, b->stores[i].files[k].chunks);
      EXPECT_EQ(a->stores[i].files[k].hash, b->stores[i].files[k].hash);
    }
  auto v = (*dst)->Verify({}, true);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());
}

TEST(CopyTest, UsageErrorsSayWhatToDo) {
  TempDir d;
  CliResult none = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--to", d.Sub("dst")});
  EXPECT_EQ(none.exit_code, 2) << none.err;
  EXPECT_NE(none.err.find("--all"), std::string::npos) << none.err;
  CliResult no_end = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all"});
  EXPECT_EQ(no_end.exit_code, 2) << no_end.err;
  CliResult missing = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all", "--to", d.Sub("dst")});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_FALSE(Env::Default()->DirExists(d.Sub("dst"))) << "no target is made for a missing source";
  CliResult help = RunCli({"snap", "copy", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--from"), std::string::npos);
}

// One repository named twice, through a linked parent folder (/home ->
// /data/home), with a trailing slash, or as rclone:/PATH: refused as the same repository
// (exit 2), not "copied" into itself under two locks, and refused before
// either end is locked or opened: the folder is exactly as it was, without
// even a lock file made.
TEST(CopyTest, TheSameRepositoryThroughALinkedParentFolderIsRefusedBeforeAnythingIsTouched) {
  TempDir d;
  auto src = Repository::Open(Env::Default(), d.Sub("real/repo"), true);
  ASSERT_TRUE(src.ok());
  WriteFile(d.Sub("data/a"), RandomBytes(5000, 3));
  Snap(src->get(), d.Sub("data"), "");
  ASSERT_EQ(::symlink(d.Sub("real").c_str(), d.Sub("link").c_str()), 0);
  const auto before = TreeDigest(d.Sub("real/repo"));
  // rclone:/ABSOLUTE/PATH is rclone's local backend: the same folder (refused before rclone starts).
  for (const std::string& other : {d.Sub("real/repo"), d.Sub("real/repo/"), "rclone:" + d.Sub("real/repo/")}) {
    CliResult same = RunCli({"--repo", d.Sub("link/repo"), "snap", "copy", "--all", "--to", other});
    EXPECT_EQ(same.exit_code, 2) << same.out << same.err;
    EXPECT_NE(same.err.find("same repository"), std::string::npos) << same.err;
    CliResult back = RunCli({"--repo", other, "snap", "copy", "--all", "--from", d.Sub("link/repo")});
    EXPECT_EQ(back.exit_code, 2) << back.out << back.err;
    EXPECT_EQ(TreeDigest(d.Sub("real/repo")), before) << "a lock file or anything else was made";
  }
}

// A flipped byte in a source pack: the snapshot is refused (exit 4) and the
// target does not list it.
TEST(CopyTest, DamagedSourceBlobRefusesThatSnapshot) {
  TempDir d;
  WriteFile(d.Sub("data/a"), RandomBytes(kMiB, 4));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  SnapshotInfo s = Snap(src->get(), d.Sub("data"), "");
  std::string pack = Sh("ls " + d.Sub("src/packs") + " | head -1");
  ASSERT_FALSE(pack.empty());
  pack.pop_back();
  FlipByte(d.Sub("src/packs/" + pack), 4000);
  CliResult r = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all", "--to", d.Sub("dst")});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find(s.id), std::string::npos) << r.err;
  auto dst = Repository::Open(Env::Default(), d.Sub("dst"), false);
  ASSERT_TRUE(dst.ok());
  EXPECT_TRUE(Ids(dst->get()).empty());
}

// The packs of dir/packs (name -> bytes).
std::map<std::string, std::string> Packs(const std::string& repo) {
  std::map<std::string, std::string> out;
  std::vector<DirEntry> entries;
  EXPECT_TRUE(Env::Default()->ListDir(repo + "/packs", &entries).ok());
  for (const auto& e : entries) out[e.name] = ReadFile(repo + "/packs/" + e.name);
  return out;
}

uint64_t Bytes(const std::map<std::string, std::string>& packs) {
  uint64_t n = 0;
  for (const auto& [name, bytes] : packs) n += bytes.size();
  return n;
}

// A source pack whose every blob the target lacks is sent as it is (same
// name, same bytes: snapshot/whole_pack.h), and the copy is whole.
TEST(CopyTest, SourcePackWhoseBlobsTheTargetAllLacksIsSentAsItIs) {
  TempDir d;
  WriteFile(d.Sub("data/big"), RandomBytes(40 * kMiB, 11));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  SnapshotInfo s = Snap(src->get(), d.Sub("data"), "");
  CliResult r = RunCli({"--repo", d.Sub("src"), "--json", "snap", "copy", "--all", "--to", d.Sub("dst")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto from = Packs(d.Sub("src")), to = Packs(d.Sub("dst"));
  int same = 0;
  for (const auto& [name, bytes] : to) {
    auto it = from.find(name);
    if (it == from.end()) continue;
    EXPECT_EQ(it->second, bytes) << name;
    ++same;
  }
  EXPECT_GE(same, 2) << "the two full packs of data blobs were not sent whole";
  EXPECT_LT(Bytes(to), Bytes(from) + kMiB) << "a blob was sent twice";
  CliResult verify = RunCli({"--repo", d.Sub("dst"), "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ASSERT_EQ(RunCli({"--repo", d.Sub("dst"), "snap", "restore", s.id, "--to", d.Sub("out")}).exit_code, 0);
  EXPECT_EQ(TreeDigest(d.Sub("out/pdfs")), TreeDigest(d.Sub("data")));
}

// A source pack holding blobs the target has already goes blob by blob: only
// what the target lacks is sent, never a second copy of a blob it holds.
TEST(CopyTest, SourcePackWithABlobTheTargetHoldsIsNotSentWhole) {
  TempDir d;
  WriteFile(d.Sub("small/a"), RandomBytes(6 * kMiB, 12));
  WriteFile(d.Sub("data/a"), ReadFile(d.Sub("small/a")));
  WriteFile(d.Sub("data/b"), RandomBytes(40 * kMiB, 13));
  auto other = Repository::Open(Env::Default(), d.Sub("other"), true);
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(other.ok() && src.ok());
  Snap(other->get(), d.Sub("small"), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // snapshot ids are to the second
  Snap(src->get(), d.Sub("data"), "");
  ASSERT_EQ(RunCli({"--repo", d.Sub("other"), "snap", "copy", "--all", "--to", d.Sub("dst")}).exit_code, 0);
  const uint64_t before = Bytes(Packs(d.Sub("dst")));
  CliResult r = RunCli({"--repo", d.Sub("src"), "--json", "snap", "copy", "--all", "--to", d.Sub("dst")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["bytes_skipped"].get<uint64_t>(), 6 * kMiB) << "a's blobs were on the target already";
  EXPECT_LT(Bytes(Packs(d.Sub("dst"))) - before, 41 * kMiB) << "a's blobs went again, in a pack sent whole";
  CliResult verify = RunCli({"--repo", d.Sub("dst"), "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A flipped byte inside a pack that would be sent whole: the snapshot is
// refused (exit 4) before that pack is sent, and the target lists nothing.
TEST(CopyTest, DamagedPackThatWouldGoWholeRefusesThatSnapshotAndIsNotSent) {
  TempDir d;
  WriteFile(d.Sub("data/big"), RandomBytes(40 * kMiB, 14));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  SnapshotInfo s = Snap(src->get(), d.Sub("data"), "");
  std::string largest;
  for (const auto& [name, bytes] : Packs(d.Sub("src")))
    if (largest.empty() || bytes.size() > ReadFile(d.Sub("src/packs/" + largest)).size()) largest = name;
  FlipByte(d.Sub("src/packs/" + largest), 5 * kMiB);
  CliResult r = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all", "--to", d.Sub("dst")});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find(s.id), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(largest), std::string::npos) << "the message names the damaged pack: " << r.err;
  EXPECT_EQ(Packs(d.Sub("dst")).count(largest), 0u) << "the damaged pack was sent";
  auto dst = Repository::Open(Env::Default(), d.Sub("dst"), false);
  ASSERT_TRUE(dst.ok());
  EXPECT_TRUE(Ids(dst->get()).empty());
}

// The whole-pack path (snapshot/whole_pack.h) over a damaged source pack:
// `damage` is done to the largest pack of snapshot `bad` (a pack of data
// blobs only, which goes whole when intact; `packs` is every source pack's
// bytes). The copy of both snapshots fails at `bad`, exit `code`, naming it
// and the pack; the target lists nothing; the other snapshot alone copies;
// with the pack put back (the source repaired) the next copy of all succeeds
// and the target verifies and restores.
void CheckCopyOverADamagedWholePack(
    int code, const std::function<void(const std::string&, const std::map<std::string, std::string>&)>& damage) {
  TempDir d;
  WriteFile(d.Sub("data/big"), RandomBytes(40 * kMiB, 21));
  WriteFile(d.Sub("more/small"), RandomBytes(kMiB, 22));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  SnapshotInfo bad = Snap(src->get(), d.Sub("data"), "");
  const auto packs = Packs(d.Sub("src"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // snapshot ids are to the second
  SnapshotInfo good = Snap(src->get(), d.Sub("more"), "");
  std::string largest;
  for (const auto& [name, bytes] : packs)
    if (largest.empty() || bytes.size() > packs.at(largest).size()) largest = name;
  const std::string path = d.Sub("src/packs/" + largest);
  damage(path, packs);
  // A target with one snapshot already (of other data): what it lists must stay.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // its own id
  WriteFile(d.Sub("other/x"), RandomBytes(kMiB, 23));
  {
    auto dst = Repository::Open(Env::Default(), d.Sub("dst"), true);
    ASSERT_TRUE(dst.ok());
    Snap(dst->get(), d.Sub("other"), "");
  }
  CliResult listed_before = RunCli({"--repo", d.Sub("dst"), "--json", "snap", "list"});
  ASSERT_EQ(listed_before.exit_code, 0) << listed_before.err;

  CliResult r = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all", "--to", d.Sub("dst")});
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_NE(r.err.find("snapshot " + bad.id), std::string::npos) << "names the snapshot: " << r.err;
  EXPECT_NE(r.err.find(largest.substr(0, 32)), std::string::npos) << "names the pack: " << r.err;
  EXPECT_NE(r.err.find("nothing of it is listed"), std::string::npos) << r.err;
  EXPECT_EQ(RunCli({"--repo", d.Sub("dst"), "--json", "snap", "list"}).out, listed_before.out)
      << "the target lists what it listed";

  CliResult other = RunCli({"--repo", d.Sub("src"), "snap", "copy", good.id, "--to", d.Sub("dst")});
  ASSERT_EQ(other.exit_code, 0) << "the bad snapshot left out, the copy succeeds: " << other.err;
  WriteFile(path, packs.at(largest));  // the source repaired
  CliResult all = RunCli({"--repo", d.Sub("src"), "--json", "snap", "copy", "--all", "--to", d.Sub("dst")});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  CliResult verify = RunCli({"--repo", d.Sub("dst"), "snap", "verify", "--read-data"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ASSERT_EQ(RunCli({"--repo", d.Sub("dst"), "snap", "restore", bad.id, "--to", d.Sub("out")}).exit_code, 0);
  EXPECT_EQ(TreeDigest(d.Sub("out/pdfs")), TreeDigest(d.Sub("data")));
}

TEST(CopyTest, SourcePackCutShortFailsTheCopyListsNothingAndTheRepairedSourceCopies) {
  CheckCopyOverADamagedWholePack(4, [](const std::string& path, const std::map<std::string, std::string>& packs) {
    WriteFile(path, packs.at(path.substr(path.rfind('/') + 1)).substr(0, 10 * kMiB));
  });
}

TEST(CopyTest, MissingSourcePackFailsTheCopyListsNothingAndTheRepairedSourceCopies) {
  CheckCopyOverADamagedWholePack(4, [](const std::string& path, const std::map<std::string, std::string>&) {
    ASSERT_EQ(::unlink(path.c_str()), 0);
  });
}

// The pack file holds another pack's bytes (a whole, valid pack, but not the
// one its index entries describe).
TEST(CopyTest, SourcePackWhoseBytesDifferFromItsIndexFailsTheCopyAndTheRepairedSourceCopies) {
  CheckCopyOverADamagedWholePack(4, [](const std::string& path, const std::map<std::string, std::string>& packs) {
    const std::string self = path.substr(path.rfind('/') + 1);
    std::string other;
    for (const auto& [name, bytes] : packs)
      if (name != self && (other.empty() || bytes.size() > packs.at(other).size())) other = name;
    ASSERT_FALSE(other.empty());
    WriteFile(path, packs.at(other));
  });
}

// A full disk (a 1 MiB tmpfs) under `snap restore --to` and under `snap
// copy --to`: each fails with exit 7 naming the file it failed on, under that
// disk, and that the disk is full; the copy's target lists nothing.
TEST(CopyTest, RestoreAndCopyOntoAFullDiskNameTheFileTheyFailedOn) {
  TempDir d;
  WriteFile(d.Sub("data/a.pdf"), RandomBytes(3 * kMiB, 31));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  SnapshotInfo s = Snap(src->get(), d.Sub("data"), "");
  const std::string full = d.Sub("full");
  SmallTmpfs tmpfs(full, "1m");
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();
  CliResult restore = RunCli({"--repo", d.Sub("src"), "snap", "restore", s.id, "--to", full + "/out"});
  EXPECT_EQ(restore.exit_code, 7) << restore.err;
  EXPECT_NE(restore.err.find(full + "/out/"), std::string::npos) << "names the file: " << restore.err;
  EXPECT_NE(restore.err.find("a.pdf"), std::string::npos) << "names the file: " << restore.err;
  EXPECT_NE(restore.err.find("disk is full"), std::string::npos) << restore.err;
  CliResult copy = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all", "--to", full + "/dst"});
  EXPECT_EQ(copy.exit_code, 7) << copy.err;
  EXPECT_NE(copy.err.find(full + "/dst/"), std::string::npos) << "names the file: " << copy.err;
  EXPECT_NE(copy.err.find("disk is full"), std::string::npos) << copy.err;
  auto dst = Repository::Open(Env::Default(), full + "/dst", false);
  if (dst.ok()) {
    EXPECT_TRUE(Ids(dst->get()).empty());
  }
}

// A remote whose rclone serves no rc API (--rc=false through
// MAESTRO_DB_RCLONE_ARGS): `snap copy` still arrives whole, and says once on
// stderr that its packs are streamed (the slower path), naming the remote.
TEST(CopyTest, CopyToARemoteWithoutRclonesRcApiSaysOnceThatPacksAreStreamed) {
  if (Sh("command -v rclone").empty()) GTEST_SKIP() << "rclone is not installed";
  TempDir d;
  WriteFile(d.Sub("data/big"), RandomBytes(40 * kMiB, 32));
  auto src = Repository::Open(Env::Default(), d.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  Snap(src->get(), d.Sub("data"), "");
  const std::string remote = "rclone:" + d.Sub("remote");
  CliResult r = RunCli({"--repo", d.Sub("src"), "snap", "copy", "--all", "--to", remote},
                       {"MAESTRO_DB_RCLONE_ARGS=--rc=false", "XDG_CACHE_HOME=" + d.Sub("cache")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t said = 0;
  for (size_t at = r.err.find("operations/copyfile"); at != std::string::npos;
       at = r.err.find("operations/copyfile", at + 1))
    ++said;
  EXPECT_EQ(said, 1u) << r.err;
  EXPECT_NE(r.err.find("warning: " + remote + ": rclone did not announce its remote-control API"), std::string::npos)
      << r.err;
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, {"XDG_CACHE_HOME=" + d.Sub("cache")});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// A clock that can be moved forward (the lease's view of time).
class SkewedEnv : public FaultEnv {
 public:
  explicit SkewedEnv(Env* base) : FaultEnv(base) {}
  int64_t NowMicros() override { return FaultEnv::NowMicros() + skew.load(); }
  std::atomic<int64_t> skew{0};
};

// A writer whose lease ran out without a refresh (the remote unreachable for
// a whole lease, here: the clock moved past it) has lost the lock: its next
// upload fails with Busy, and no snapshot is published beside a new holder.
TEST(RemoteWriterTest, WriterThatLostItsLeaseStopsBeforePublishing) {
  std::string why;
  if (!HaveRclone(&why)) GTEST_SKIP() << why;
  TempDir d;
  ::setenv("XDG_CACHE_HOME", d.Sub("cache").c_str(), 1);  // the remote's local scratch
  WriteFile(d.Sub("data/a"), RandomBytes(200000, 12));
  SkewedEnv env(Env::Default());
  WriterOptions wo;
  wo.create = true;
  wo.lease_seconds = 60;
  const std::string spec = "rclone:" + d.Sub("remote");
  auto w = OpenWriter(&env, spec, wo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  env.skew = 120 * 1000000LL;
  SnapshotSource s;
  s.store = "pdfs";
  s.path = d.Sub("data");
  s.is_directory = true;
  CreateOptions o;
  o.racy_margin_ms = 0;
  auto made = w->repo->Create({s}, o);
  ASSERT_FALSE(made.ok());
  EXPECT_TRUE(made.status().IsBusy()) << made.status().ToString();
  EXPECT_NE(made.status().message().find("lock was lost"), std::string::npos) << made.status().ToString();
  auto reader = OpenRemoteRepositoryForReading(Env::Default(), spec);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_TRUE(Ids(reader->get()).empty());
}

// ------------------------------------------------------------ real servers

class RemoteCopyTest : public ::testing::Test {
 public:
  void StartServer(bool append_only) {
    StartServer(append_only ? SftpAccess::kAppendOnly : SftpAccess::kReadWrite);
  }
  // ssh: the folder (under dir_) of this server's keys and config; a second
  // server over the same folders needs a folder of its own.
  void StartServer(SftpAccess access, const std::string& ssh = "ssh") {
    ::setenv("XDG_CACHE_HOME", dir_.Sub("cache").c_str(), 1);  // the remotes' local scratch
    ::mkdir(dir_.Sub(ssh).c_str(), 0700);
    std::string why;
    server_ = SftpServer::Start(dir_.Sub(ssh), access, &why);
    if (server_ == nullptr) GTEST_SKIP() << "no SFTP server for the copy suite: " << why;
  }
  // The CLI's environment: the remote `t`, short rclone timeouts, a scratch cache.
  std::vector<std::string> CliEnv() const {
    std::vector<std::string> env = server_->RcloneEnv("t");
    env.push_back("MAESTRO_DB_RCLONE_ARGS=--contimeout 5s --timeout 15s --low-level-retries 1");
    env.push_back("XDG_CACHE_HOME=" + dir_.Sub("cache"));
    return env;
  }
  Result<WriterSession> Writer(const std::string& path, std::vector<std::string> extra = {}) {
    WriterOptions wo;
    wo.create = true;
    wo.rclone = TestOptions(server_->RcloneEnv("t"), std::move(extra));
    return OpenWriter(Env::Default(), "rclone:t:" + path, wo);
  }
  std::vector<std::string> RemoteIds(const std::string& path) {
    auto r = OpenRemoteRepositoryForReading(Env::Default(), "rclone:t:" + path, TestOptions(server_->RcloneEnv("t")));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? Ids(r->get()) : std::vector<std::string>{};
  }
  // Waits (bounded, 30 s) until the server's packs/ under path holds at least
  // one pack more than `before` bytes of whole packs (packs upload several at
  // once, so bytes on the server alone do not say one has arrived); returns
  // the bytes of whole packs then, 0 on timeout.
  static uint64_t WaitForAWholePack(const std::string& path, uint64_t before = 0) {
    for (int i = 0; i < 1500; ++i) {
      uint64_t whole = WholePackBytes(path + "/packs");
      if (whole > before) return whole;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  TempDir dir_;
  std::unique_ptr<SftpServer> server_;
};

// Issue 15 point 1's kill test, both ways: the rclone child killed, or the
// server stopped, while `snap create` uploads a remote repository's packs.
// The remote lists what it had before; the next create reuses what arrived.
void KillDuringCreate(RemoteCopyTest* t, SftpServer* server, const std::string& root, const std::string& repo,
                      bool kill_server) {
  WriteFile(root + "/data/small", RandomBytes(100000, 5));
  std::string first;
  {
    auto w = t->Writer(repo);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    first = Snap(w->repo.get(), root + "/data", "before").id;
  }
  WriteFile(root + "/data/big", RandomBytes(40 * kMiB, 6));
  const uint64_t before = WholePackBytes(repo + "/packs");
  uint64_t arrived = 0;
  {
    auto w = t->Writer(repo, {"--bwlimit", "16M"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    Result<SnapshotInfo> cut = Status::Internal("not run");
    std::thread creator([&] {
      SnapshotSource s;
      s.store = "pdfs";
      s.path = root + "/data";
      s.is_directory = true;
      CreateOptions o;
      o.racy_margin_ms = 0;
      cut = w->repo->Create({s}, o);
    });
    arrived = RemoteCopyTest::WaitForAWholePack(repo, before);
    if (kill_server) {
      server->Kill();
    } else {
      for (pid_t p : RcloneChildren()) ::kill(p, SIGKILL);
    }
    creator.join();
    ASSERT_GT(arrived, before) << "no pack of the cut create ever arrived";
    arrived -= before;
    EXPECT_FALSE(cut.ok()) << "a create cut mid-upload must fail";
    if (kill_server) {
      ASSERT_TRUE(server->Restart());
    }
  }
  EXPECT_EQ(t->RemoteIds(repo), std::vector<std::string>{first}) << "nothing half-written is listed";
  auto w = t->Writer(repo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  SnapshotInfo again = Snap(w->repo.get(), root + "/data", "after");
  std::cerr << "[measured] the create after the cut uploaded " << again.stored_bytes << " bytes of "
            << 40 * kMiB + 100000 << " (the cut run's packs that arrived whole were adopted)\n";
  std::cerr << "[measured] " << arrived << " bytes of packs had arrived whole at the cut\n";
  EXPECT_LE(again.stored_bytes, 40 * kMiB + 100000 - arrived + kMiB)
      << "the packs that arrived whole are reused, not uploaded again";
  EXPECT_LT(again.stored_bytes, 40 * kMiB) << "nothing of the cut run was reused";
  EXPECT_GT(again.stored_bytes, 0u);
  auto v = w->repo->Verify({}, true);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->problems.empty()) << v->problems.front().detail;
}

TEST_F(RemoteCopyTest, RcloneKilledDuringCreateListsWhatWasThereAndTheNextCreateReuses) {
  StartServer(false);
  if (server_ == nullptr) return;
  KillDuringCreate(this, server_.get(), dir_.Sub("root"), dir_.Sub("repo"), /*kill_server=*/false);
}

TEST_F(RemoteCopyTest, ServerStoppedDuringCreateListsWhatWasThereAndTheNextCreateReuses) {
  StartServer(false);
  if (server_ == nullptr) return;
  KillDuringCreate(this, server_.get(), dir_.Sub("root"), dir_.Sub("repo"), /*kill_server=*/true);
}

// The server (or the rclone child) killed during a copy to it: the target
// lists what it had, and the re-run completes, sending less than all (what
// arrived is reused).
void KillDuringCopy(RemoteCopyTest* t, bool kill_server) {
  SftpServer* server = t->server_.get();
  const TempDir& dir = t->dir_;
  auto src = Repository::Open(Env::Default(), dir.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  WriteFile(dir.Sub("data/small"), RandomBytes(100000, 7));
  std::string s1 = Snap(src->get(), dir.Sub("data"), "").id;
  WriteFile(dir.Sub("data/big"), RandomBytes(40 * kMiB, 8));
  std::string s2 = Snap(src->get(), dir.Sub("data"), "").id;
  const std::string repo = dir.Sub("target");
  uint64_t before = 0, arrived = 0;
  {
    auto w = t->Writer(repo, {"--bwlimit", "16M"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE(CopySnapshots(src->get(), w->repo.get(), {s1}, {}).ok());
    before = WholePackBytes(repo + "/packs");
    Result<CopyResult> cut = Status::Internal("not run");
    std::thread copier([&] { cut = CopySnapshots(src->get(), w->repo.get(), {s2}, {}); });
    uint64_t whole = RemoteCopyTest::WaitForAWholePack(repo, before);
    if (kill_server) {
      server->Kill();
    } else {
      for (pid_t p : RcloneChildren()) ::kill(p, SIGKILL);
    }
    copier.join();
    ASSERT_GT(whole, before) << "no pack of the cut copy ever arrived";
    arrived = whole - before;
    EXPECT_FALSE(cut.ok());
    if (kill_server) {
      ASSERT_TRUE(server->Restart());
    }
  }
  EXPECT_EQ(t->RemoteIds(repo), std::vector<std::string>{s1});
  auto w = t->Writer(repo);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto again = CopySnapshots(src->get(), w->repo.get(), {s1, s2}, {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->copied, std::vector<std::string>{s2});
  std::cerr << "[measured] the re-run sent " << again->bytes_sent << " bytes, reused " << again->bytes_skipped << "\n";
  EXPECT_EQ(again->skipped, std::vector<std::string>{s1});
  std::cerr << "[measured] " << arrived << " bytes of packs had arrived whole at the cut\n";
  EXPECT_LE(again->bytes_sent, 40 * kMiB - arrived + kMiB) << "the packs that arrived whole are sent again";
  EXPECT_GE(again->bytes_skipped + kMiB, arrived);
  EXPECT_LT(again->bytes_sent, 40 * kMiB) << "nothing of the cut run was reused";
  auto v = w->repo->Verify({}, true);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());
}

TEST_F(RemoteCopyTest, ServerKilledDuringCopyListsWhatWasThereAndTheRerunReuses) {
  StartServer(false);
  if (server_ == nullptr) return;
  KillDuringCopy(this, /*kill_server=*/true);
}

TEST_F(RemoteCopyTest, RcloneKilledDuringCopyListsWhatWasThereAndTheRerunReuses) {
  StartServer(false);
  if (server_ == nullptr) return;
  KillDuringCopy(this, /*kill_server=*/false);
}

// local -> SFTP -> local, and SFTP -> WebDAV (remote to remote), by the CLI.
TEST_F(RemoteCopyTest, CopiesLocalToRemoteRemoteToLocalAndRemoteToRemote) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string why;
  auto webdav = WebDavServer::Start(dir_.Sub("dav"), &why);
  if (webdav == nullptr) GTEST_SKIP() << "no WebDAV server: " << why;
  std::string root = dir_.Sub("root");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "10"}).exit_code, 0);
  ASSERT_EQ(RunCli({"--root", root, "-q", "snap", "create", "--label", "demo"}).exit_code, 0);
  std::vector<std::string> env = CliEnv();
  for (const auto& e : webdav->RcloneEnv("w")) env.push_back(e);
  const std::string local = root + "/backups/maestro-db", sftp = "rclone:t:" + dir_.Sub("offsite"),
                    dav = "rclone:w:copy";
  CliResult up = RunCli({"--repo", local, "snap", "copy", "--all", "--to", sftp}, env);
  ASSERT_EQ(up.exit_code, 0) << up.err;
  CliResult across = RunCli({"--repo", sftp, "snap", "copy", "latest", "--to", dav}, env);
  ASSERT_EQ(across.exit_code, 0) << across.err;
  CliResult down = RunCli({"--repo", dir_.Sub("back"), "snap", "copy", "--all", "--from", dav}, env);
  ASSERT_EQ(down.exit_code, 0) << down.err;
  CliResult here = RunCli({"--repo", local, "--json", "snap", "list"});
  for (const std::string& r : {sftp, dav, dir_.Sub("back")}) {
    CliResult there = RunCli({"--repo", r, "--json", "snap", "list"}, env);
    ASSERT_EQ(there.exit_code, 0) << there.err;
    auto a = nlohmann::json::parse(here.out), b = nlohmann::json::parse(there.out);
    ASSERT_EQ(a.size(), b.size()) << r;
    for (size_t i = 0; i < a.size(); ++i)
      for (const char* k : {"id", "created_micros", "label", "trigger", "hostname", "files", "logical_bytes"})
        EXPECT_EQ(a[i][k], b[i][k]) << r << " " << k;
  }
  CliResult verify = RunCli({"--repo", dav, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  ASSERT_EQ(RunCli({"--repo", dir_.Sub("back"), "snap", "restore", "latest", "--to", dir_.Sub("out")}).exit_code, 0);
  EXPECT_EQ(TreeDigest(dir_.Sub("out/pdfs")), TreeDigest(root + "/ai_researcher/data/raw_pdfs"));
  CliResult same = RunCli({"--repo", sftp, "snap", "copy", "--all", "--to", sftp}, env);
  EXPECT_EQ(same.exit_code, 2) << same.err;
}

// Writers on a remote by the CLI: create, delete, prune and repair work and
// a second writer is refused while the lease lock is held.
TEST_F(RemoteCopyTest, WritersWorkOnARemoteRepositoryUnderItsLeaseLock) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string root = dir_.Sub("root");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "5"}).exit_code, 0);
  std::vector<std::string> env = CliEnv();
  const std::string remote = "rclone:t:" + dir_.Sub("repo");
  for (int i = 0; i < 3; ++i) {
    CliResult c = RunCli({"--root", root, "--repo", remote, "-q", "snap", "create"}, env);
    ASSERT_EQ(c.exit_code, 0) << c.err;
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // distinct ids
  }
  EXPECT_FALSE(Env::Default()->DirExists(root + "/backups")) << "nothing is written locally";
  {
    auto held = Writer(dir_.Sub("repo"));
    ASSERT_TRUE(held.ok());
    CliResult busy = RunCli({"--root", root, "--repo", remote, "snap", "create"}, env);
    EXPECT_EQ(busy.exit_code, 5) << busy.err;
    EXPECT_NE(busy.err.find("pid " + std::to_string(::getpid())), std::string::npos) << busy.err;
  }
  CliResult prune = RunCli({"--repo", remote, "--json", "snap", "prune", "--keep-last", "2"}, env);
  ASSERT_EQ(prune.exit_code, 0) << prune.err;
  CliResult del = RunCli({"--repo", remote, "snap", "delete", "latest"}, env);
  ASSERT_EQ(del.exit_code, 0) << del.err;
  CliResult repair = RunCli({"--repo", remote, "snap", "repair"}, env);
  EXPECT_EQ(repair.exit_code, 0) << repair.err;
  EXPECT_EQ(RemoteIds(dir_.Sub("repo")).size(), 1u);
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// The readers' lock of a remote (snapshot/reader_lock.h): a reader on another
// host holds a `mode=reader` lock object there. A prune meanwhile removes the
// snapshots but no pack or index file; the next prune collects. And a reader
// finding a collection's object waits for it, or exits 5 having written nothing.
TEST_F(RemoteCopyTest, RemotePruneCollectsNothingWhileAnotherHostReadsAndReadersWaitForItsCollection) {
  StartServer(false);
  if (server_ == nullptr) return;
  std::string root = dir_.Sub("root");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "5"}).exit_code, 0);
  std::vector<std::string> env = CliEnv();
  const std::string served = dir_.Sub("repo"), remote = "rclone:t:" + served;
  // Data only the first snapshot has: pruning it down to the second frees a pack.
  const std::string extra = root + "/ai_researcher/data/raw_pdfs/extra_only_in_the_first.pdf";
  WriteFile(extra, RandomBytes(400000, 77));
  ASSERT_EQ(RunCli({"--root", root, "--repo", remote, "-q", "snap", "create"}, env).exit_code, 0);
  ASSERT_EQ(::unlink(extra.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // distinct ids
  ASSERT_EQ(RunCli({"--root", root, "--repo", remote, "-q", "snap", "create"}, env).exit_code, 0);
  auto data = [&] { return std::make_pair(TreeDigest(served + "/packs"), TreeDigest(served + "/index")); };
  std::unique_ptr<Backend> there = NewLocalBackend(Env::Default(), served);  // the served folder, as another host
  RemoteLockOptions lo;
  lo.refresher = false;
  lo.command = "maestro-db snap restore (another host)";
  {
    lo.mode = RemoteLockMode::kReader;
    auto reader = RemoteLock::Acquire(there.get(), Env::Default(), lo);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto before = data();
    CliResult p = RunCli({"--repo", remote, "--json", "snap", "prune", "--keep-last", "1"}, env);
    EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
    EXPECT_NE(p.out.find("skipped"), std::string::npos) << "the JSON does not say GC was skipped: " << p.out;
    EXPECT_EQ(data(), before) << "a pack or index file changed under another host's reader";
    EXPECT_EQ(RemoteIds(served).size(), 1u) << "the snapshot itself is removed";
  }
  auto before = data();
  CliResult again = RunCli({"--repo", remote, "--json", "snap", "prune", "--keep-last", "1"}, env);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(data().first, before.first) << "the next prune collects the first snapshot's pack";
  {
    lo.mode = RemoteLockMode::kCollector;
    lo.command = "maestro-db snap prune (another host)";
    auto gc = RemoteLock::Acquire(there.get(), Env::Default(), lo);
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    const std::string out = dir_.Sub("out");
    CliResult busy = RunCli({"--repo", remote, "snap", "restore", "latest", "--to", out}, env);
    EXPECT_EQ(busy.exit_code, 5) << busy.out << busy.err;
    EXPECT_NE(busy.err.find("collecting garbage"), std::string::npos) << busy.err;
    EXPECT_NE(busy.err.find("another host"), std::string::npos) << "the collector is named: " << busy.err;
    EXPECT_FALSE(Env::Default()->DirExists(out) && !Sh("ls -A '" + out + "'").empty()) << "a refused restore wrote";
    CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
    EXPECT_EQ(verify.exit_code, 5) << "not a false report of damage: " << verify.out << verify.err;
    CliResult copy = RunCli({"--repo", dir_.Sub("back"), "snap", "copy", "--all", "--from", remote}, env);
    EXPECT_EQ(copy.exit_code, 5) << copy.out << copy.err;
  }
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_TRUE(Sh("ls -A '" + served + "/locks' 2>/dev/null").empty()) << "the readers left their lock objects";
}

// internal-sftp -P remove,rmdir,rename: copy and create work; delete and
// prune fail with exit 7 naming the refusal, and the repository is intact.
TEST_F(RemoteCopyTest, AppendOnlyTargetTakesCopyAndCreateAndRefusesDeleteAndPruneCleanly) {
  StartServer(/*append_only=*/true);
  if (server_ == nullptr) return;
  std::string root = dir_.Sub("root");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "5"}).exit_code, 0);
  ASSERT_EQ(RunCli({"--root", root, "-q", "snap", "create"}).exit_code, 0);
  std::vector<std::string> env = CliEnv();
  const std::string remote = "rclone:t:" + dir_.Sub("vault");
  CliResult copy = RunCli({"--root", root, "snap", "copy", "--all", "--to", remote}, env);
  ASSERT_EQ(copy.exit_code, 0) << copy.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CliResult create = RunCli({"--root", root, "--repo", remote, "-q", "snap", "create"}, env);
  ASSERT_EQ(create.exit_code, 0) << create.err;
  std::vector<std::string> before = RemoteIds(dir_.Sub("vault"));
  ASSERT_EQ(before.size(), 2u);
  CliResult del = RunCli({"--repo", remote, "snap", "delete", before.front()}, env);
  EXPECT_EQ(del.exit_code, 7) << del.err;
  EXPECT_NE(del.err.find("refused to delete snapshots/" + before.front()), std::string::npos) << del.err;
  CliResult prune = RunCli({"--repo", remote, "snap", "prune", "--keep-last", "1"}, env);
  EXPECT_EQ(prune.exit_code, 7) << prune.err;
  EXPECT_NE(prune.err.find("refused to delete"), std::string::npos) << prune.err;
  EXPECT_EQ(RemoteIds(dir_.Sub("vault")), before) << "the repository is intact";
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  CliResult copy_again = RunCli({"--root", root, "--json", "snap", "copy", "--all", "--to", remote}, env);
  ASSERT_EQ(copy_again.exit_code, 0) << "the locks released by tombstone do not block: " << copy_again.err;
}

// A read-only account (`internal-sftp -R`, as a read-only bucket key is):
// not even a reader's lock object can be written there, yet the disaster-
// recovery reads work (list, verify --read-data, restore --to, copy --from),
// each saying it reads without the readers' lock; a write fails cleanly and
// the remote holds exactly what it held.
TEST_F(RemoteCopyTest, ReadOnlyRemoteIsStillRestoredVerifiedAndCopiedFromAndRefusesWritesCleanly) {
  StartServer(SftpAccess::kReadWrite);
  if (server_ == nullptr) return;
  std::string root = dir_.Sub("root");
  ASSERT_EQ(RunCli({"demo", "create", root, "--documents", "5"}).exit_code, 0);
  const std::string remote = "rclone:t:" + dir_.Sub("vault");
  ASSERT_EQ(RunCli({"--root", root, "--repo", remote, "-q", "snap", "create"}, CliEnv()).exit_code, 0);
  server_.reset();
  StartServer(SftpAccess::kReadOnly, "ssh-ro");
  if (server_ == nullptr) return;
  std::vector<std::string> env = CliEnv();
  const auto served = TreeDigest(dir_.Sub("vault"));
  const std::string warning = "without the readers' lock";
  CliResult list = RunCli({"--repo", remote, "--json", "snap", "list"}, env);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  ASSERT_EQ(nlohmann::json::parse(list.out).size(), 1u);
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.err.find(warning), std::string::npos) << verify.err;
  CliResult restore = RunCli({"--repo", remote, "snap", "restore", "latest", "--to", dir_.Sub("out")}, env);
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_NE(restore.err.find(warning), std::string::npos) << restore.err;
  EXPECT_EQ(TreeDigest(dir_.Sub("out/pdfs")), TreeDigest(root + "/ai_researcher/data/raw_pdfs"));
  CliResult down = RunCli({"--repo", dir_.Sub("back"), "snap", "copy", "--all", "--from", remote}, env);
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(down.err.find(warning), std::string::npos) << down.err;
  CliResult write = RunCli({"--root", root, "--repo", remote, "-q", "snap", "create"}, env);
  EXPECT_NE(write.exit_code, 0) << write.err;
  EXPECT_EQ(write.err.find("Internal"), std::string::npos) << write.err;
  EXPECT_EQ(TreeDigest(dir_.Sub("vault")), served) << "the read-only remote is as it was";
}

// A small tmpfs as the remote folder: the copy fails cleanly (exit 7), the
// target lists what it had; with room, the re-run completes.
TEST_F(RemoteCopyTest, FullRemoteFailsTheCopyCleanlyAndTheRerunCompletesOnceThereIsRoom) {
  StartServer(false);
  if (server_ == nullptr) return;
  const std::string repo = dir_.Sub("full");
  SmallTmpfs tmpfs(repo, "6m");
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.why();
  auto src = Repository::Open(Env::Default(), dir_.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  WriteFile(dir_.Sub("data/a"), RandomBytes(100000, 9));
  std::string s1 = Snap(src->get(), dir_.Sub("data"), "").id;
  WriteFile(dir_.Sub("data/b"), RandomBytes(12 * kMiB, 10));
  std::string s2 = Snap(src->get(), dir_.Sub("data"), "").id;
  std::vector<std::string> env = CliEnv();
  const std::string remote = "rclone:t:" + repo;
  ASSERT_EQ(RunCli({"--repo", dir_.Sub("src"), "snap", "copy", s1, "--to", remote}, env).exit_code, 0);
  CliResult full = RunCli({"--repo", dir_.Sub("src"), "snap", "copy", "--all", "--to", remote}, env);
  EXPECT_EQ(full.exit_code, 7) << full.err;
  EXPECT_NE(full.err.find("refused to upload"), std::string::npos) << full.err;
  EXPECT_EQ(RemoteIds(repo), std::vector<std::string>{s1});
  ASSERT_EQ(::mount("tmpfs", repo.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0) << std::strerror(errno);
  CliResult rerun = RunCli({"--repo", dir_.Sub("src"), "snap", "copy", "--all", "--to", remote}, env);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(RemoteIds(repo), (std::vector<std::string>{s1, s2}));
}

// A byte flipped in a pack on the server: verify --read-data names the pack
// (exit 4), and a copy from that remote refuses the snapshot (exit 4).
TEST_F(RemoteCopyTest, FlippedByteInARemotePackIsNamedByVerifyAndRefusedByCopy) {
  StartServer(false);
  if (server_ == nullptr) return;
  auto src = Repository::Open(Env::Default(), dir_.Sub("src"), true);
  ASSERT_TRUE(src.ok());
  WriteFile(dir_.Sub("data/a"), RandomBytes(2 * kMiB, 11));
  std::string s = Snap(src->get(), dir_.Sub("data"), "").id;
  std::vector<std::string> env = CliEnv();
  const std::string remote = "rclone:t:" + dir_.Sub("offsite");
  ASSERT_EQ(RunCli({"--repo", dir_.Sub("src"), "snap", "copy", "--all", "--to", remote}, env).exit_code, 0);
  std::string pack = Sh("ls -S " + dir_.Sub("offsite/packs") + " | head -1");  // the largest: data
  ASSERT_FALSE(pack.empty());
  pack.pop_back();
  FlipByte(dir_.Sub("offsite/packs/" + pack), 5000);
  CliResult verify = RunCli({"--repo", remote, "snap", "verify", "--read-data"}, env);
  EXPECT_EQ(verify.exit_code, 4) << verify.out << verify.err;
  EXPECT_NE((verify.out + verify.err).find(pack.substr(0, 32)), std::string::npos) << verify.out << verify.err;
  CliResult copy = RunCli({"--repo", dir_.Sub("back"), "snap", "copy", "--all", "--from", remote}, env);
  EXPECT_EQ(copy.exit_code, 4) << copy.err;
  EXPECT_NE(copy.err.find(s), std::string::npos) << copy.err;
  auto back = Repository::Open(Env::Default(), dir_.Sub("back"), false);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(Ids(back->get()).empty());
}

}  // namespace
}  // namespace maestro::testing
