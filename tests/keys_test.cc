// tests/keys_test.cc — snapshot/keys.h: key files wrapping one master key
// under several passwords (issue 15 point 4). Argon2id runs with the lowest
// limits (1 pass, 8 KiB) except in the one test that checks the defaults.
#include "snapshot/keys.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "tests/memory_backend.h"
#include "tests/test_util.h"
#include "tests/support/fault_env.h"

namespace maestro {
namespace {

using testing::MemoryBackend;

KdfParams Fast() {
  KdfParams p;
  p.opslimit = KdfParams::kMinOps;
  p.memlimit = KdfParams::kMinMem;
  return p;
}

KeyMeta Meta() {
  KeyMeta m;
  m.created_micros = 1764547200000000;  // 2025-12-01T00:00:00Z
  m.host = "testhost";
  m.user = "tester";
  return m;
}

OpenedKeys First(MemoryBackend* b, const std::string& pw = "correct horse") {
  auto k = CreateFirstKey(b, pw, Fast(), Meta());
  EXPECT_TRUE(k.ok()) << k.status().ToString();
  return k.value();
}

void FlipByte(std::string* s, size_t at) { (*s)[at] = static_cast<char>((*s)[at] ^ 0x40); }

// What someone without the key can do: edit the JSON and rename the file to
// the hash of its new bytes. Returns the new name.
std::string Forge(MemoryBackend* b, const std::string& id, const std::string& from, const std::string& to) {
  std::string bytes = b->Raw(ObjectKind::kKey, id);
  size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  bytes.replace(at, from.size(), to);
  std::string name = Xxh128(bytes).Hex();
  EXPECT_TRUE(b->Remove(ObjectKind::kKey, id).ok());
  EXPECT_TRUE(b->Put(ObjectKind::kKey, name, bytes).ok());
  return name;
}

// The first hex digit of the JSON string field `field`, changed.
std::string HexFieldEdit(const std::string& bytes, const std::string& field, std::string* from) {
  size_t at = bytes.find("\"" + field + "\": \"");
  EXPECT_NE(at, std::string::npos);
  *from = bytes.substr(at, field.size() + 6);
  std::string to = *from;
  to.back() = to.back() == '0' ? '1' : '0';
  return to;
}

TEST(Keys, FirstKeyOpensWithItsPasswordToTheSameMasterKey) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  EXPECT_EQ(b.Count(ObjectKind::kKey), 1u);
  auto opened = OpenKeys(&b, "correct horse");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->master, made.master);
  EXPECT_EQ(opened->key_id, made.key_id);
  EXPECT_TRUE(opened->warnings.empty());
}

TEST(Keys, KeyFileIsJsonNamedByItsContentAndHoldsNoSecretInClear) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  const std::string bytes = b.Raw(ObjectKind::kKey, made.key_id);
  EXPECT_EQ(Xxh128(bytes).Hex(), made.key_id);
  auto j = nlohmann::json::parse(bytes);
  EXPECT_EQ(j["maestro_db_key"], 1);
  EXPECT_EQ(j["kdf"], "argon2id");
  EXPECT_EQ(j["cipher"], "xchacha20poly1305");
  EXPECT_EQ(j["host"], "testhost");
  EXPECT_EQ(j["created"], "2025-12-01T00:00:00Z");
  EXPECT_EQ(j["master_key"].get<std::string>().size(), 160u);
  std::string master_hex;
  for (size_t i = 0; i < 8; ++i) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", made.master.data()[i]);
    master_hex += h;
  }
  EXPECT_EQ(bytes.find(master_hex), std::string::npos);
  EXPECT_EQ(bytes.find("correct horse"), std::string::npos);
  KeyInfo info;
  ASSERT_TRUE(DecodeKeyFile(made.key_id, bytes, &info).ok());
  EXPECT_EQ(info.meta.host, "testhost");
  EXPECT_EQ(info.meta.user, "tester");
  EXPECT_EQ(info.meta.created_micros, Meta().created_micros);
  EXPECT_EQ(info.kdf.opslimit, Fast().opslimit);
  EXPECT_EQ(info.kdf.memlimit, Fast().memlimit);
}

TEST(Keys, WrongPasswordIsWrongPasswordNotCorruption) {
  MemoryBackend b;
  First(&b);
  auto opened = OpenKeys(&b, "Correct horse");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kWrongPassword) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("MAESTRO_DB_PASSWORD"), std::string::npos);
  EXPECT_FALSE(OpenKeys(&b, "").ok());
}

TEST(Keys, TwoPasswordsOpenTheSameMasterKey) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "first");
  auto id = AddKey(&b, made.master, "second", Fast(), Meta());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_NE(*id, made.key_id);
  auto one = OpenKeys(&b, "first");
  auto two = OpenKeys(&b, "second");
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->master, two->master);
  EXPECT_EQ(one->key_id, made.key_id);
  EXPECT_EQ(two->key_id, *id);
  EXPECT_EQ(OpenKeys(&b, "third").status().code(), Status::Code::kWrongPassword);
}

TEST(Keys, SamePasswordTwiceGivesTwoDifferentKeyFiles) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "pw");
  auto id = AddKey(&b, made.master, "pw", Fast(), Meta());
  ASSERT_TRUE(id.ok());
  EXPECT_NE(*id, made.key_id) << "a fresh salt and nonce every time";
}

TEST(Keys, FlippedByteAnywhereInTheOnlyKeyFileIsCorruption) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  const std::string good = b.Raw(ObjectKind::kKey, made.key_id);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    FlipByte(&bad, i);
    b.Raw(ObjectKind::kKey, made.key_id) = bad;
    auto opened = OpenKeys(&b, "correct horse");
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_TRUE(opened.status().IsCorruption()) << "byte " << i << ": " << opened.status().ToString();
  }
}

TEST(Keys, ForgedKeyFileWithItsNameRecomputedIsCorruptionWhenThePasswordMatches) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  std::string from;
  std::string to = HexFieldEdit(b.Raw(ObjectKind::kKey, made.key_id), "master_key", &from);
  Forge(&b, made.key_id, from, to);
  auto opened = OpenKeys(&b, "correct horse");
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("fails authentication"), std::string::npos) << opened.status().message();
}

TEST(Keys, ForgedKeyFileMetadataWithItsNameRecomputedIsCorruption) {
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"testhost", "evilhost"}, {"tester", "victim"}, {"2025-12-01T00:00:00Z", "2025-12-02T00:00:00Z"}}) {
    MemoryBackend b;
    OpenedKeys made = First(&b);
    Forge(&b, made.key_id, from, to);
    auto opened = OpenKeys(&b, "correct horse");
    EXPECT_TRUE(opened.status().IsCorruption()) << from << ": " << opened.status().ToString();
    EXPECT_NE(opened.status().message().find("fails authentication"), std::string::npos) << opened.status().message();
  }
}

TEST(Keys, KeyFileClaimingHugeArgon2LimitsIsRefusedBeforeRunning) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  Forge(&b, made.key_id, "\"opslimit\": 1", "\"opslimit\": 100000000000");
  auto opened = OpenKeys(&b, "correct horse");
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("out of range"), std::string::npos) << opened.status().message();
}

TEST(Keys, KeyFileWithAnUnknownFieldOrVersionIsCorruption) {
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"maestro_db_key\": 1", "\"maestro_db_key\": 2"},
           {"\"kdf\": \"argon2id\"", "\"kdf\": \"scrypt\""},
           {"\"host\":", "\"extra\": 1, \"host\":"},
           {"\"salt\": \"", "\"salt\": \"00"}}) {
    MemoryBackend b;
    OpenedKeys made = First(&b);
    Forge(&b, made.key_id, from, to);
    auto opened = OpenKeys(&b, "correct horse");
    EXPECT_TRUE(opened.status().IsCorruption()) << to << ": " << opened.status().ToString();
  }
}

TEST(Keys, KeyFileMovedToAnotherNameIsCorruption) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  b.Rename(ObjectKind::kKey, made.key_id, std::string(32, 'a'));
  auto opened = OpenKeys(&b, "correct horse");
  EXPECT_TRUE(opened.status().IsCorruption()) << opened.status().ToString();
}

TEST(Keys, DamagedKeyFileDoesNotStopAnotherFromOpening) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "first");
  auto second = AddKey(&b, made.master, "second", Fast(), Meta());
  ASSERT_TRUE(second.ok());
  FlipByte(&b.Raw(ObjectKind::kKey, made.key_id), 40);
  auto opened = OpenKeys(&b, "second");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->master, made.master);
  // The damaged one was tried first only if it sorts first; either way the result is the master key.
  auto with_first = OpenKeys(&b, "first");
  EXPECT_TRUE(with_first.status().IsCorruption()) << "its own key is the damaged one: " << with_first.status().ToString();
}

TEST(Keys, ForeignNamesInKeysAreIgnoredWithAWarning) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  ASSERT_TRUE(b.Put(ObjectKind::kKey, "README", "not a key").ok());
  auto opened = OpenKeys(&b, "correct horse");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->warnings.size(), 1u);
  EXPECT_NE(opened->warnings[0].find("README"), std::string::npos);
}

TEST(Keys, NoKeyFilesIsNotFound) {
  MemoryBackend b;
  auto opened = OpenKeys(&b, "pw");
  EXPECT_TRUE(opened.status().IsNotFound()) << opened.status().ToString();
}

TEST(Keys, CreateFirstKeyRefusesWhenKeysExist) {
  MemoryBackend b;
  First(&b);
  auto again = CreateFirstKey(&b, "other", Fast(), Meta());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalidArgument) << again.status().ToString();
  EXPECT_EQ(b.Count(ObjectKind::kKey), 1u);
}

TEST(Keys, ListKeysShowsEachFileMarksTheCurrentAndTheDamaged) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "first");
  KeyMeta later = Meta();
  later.created_micros += 1000000;
  later.user = "second-user";
  auto second = AddKey(&b, made.master, "second", Fast(), later);
  ASSERT_TRUE(second.ok());
  std::vector<std::string> warnings;
  auto keys = ListKeys(&b, made.key_id, &warnings);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].id, made.key_id);
  EXPECT_TRUE((*keys)[0].current);
  EXPECT_EQ((*keys)[1].meta.user, "second-user");
  EXPECT_FALSE((*keys)[1].current);
  FlipByte(&b.Raw(ObjectKind::kKey, made.key_id), 50);
  keys = ListKeys(&b, "", &warnings);
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE((*keys)[0].damaged.empty());
  EXPECT_FALSE((*keys)[1].damaged.empty()) << "damaged ones are listed last";
}

TEST(Keys, RemovingTheLastKeyIsRefused) {
  MemoryBackend b;
  OpenedKeys made = First(&b);
  std::string removed;
  Status st = RemoveKey(&b, made, made.key_id, &removed);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("snap key add"), std::string::npos);
  EXPECT_EQ(b.Count(ObjectKind::kKey), 1u);
  EXPECT_TRUE(OpenKeys(&b, "correct horse").ok());
}

TEST(Keys, RemovingTheKeyInUseIsRefusedWhenTheOnlyOtherIsDamaged) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "first");
  auto second = AddKey(&b, made.master, "second", Fast(), Meta());
  ASSERT_TRUE(second.ok());
  FlipByte(&b.Raw(ObjectKind::kKey, *second), 40);
  std::string removed;
  EXPECT_EQ(RemoveKey(&b, made, made.key_id, &removed).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(b.Count(ObjectKind::kKey), 2u);
  // The damaged one may go: the current key remains.
  EXPECT_TRUE(RemoveKey(&b, made, *second, &removed).ok());
  EXPECT_EQ(removed, *second);
}

TEST(Keys, RemovingAKeyByPrefixLeavesTheOthersWorking) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "first");
  auto second = AddKey(&b, made.master, "second", Fast(), Meta());
  ASSERT_TRUE(second.ok());
  std::string removed;
  ASSERT_TRUE(RemoveKey(&b, made, second->substr(0, 8), &removed).ok());
  EXPECT_EQ(removed, *second);
  EXPECT_EQ(OpenKeys(&b, "second").status().code(), Status::Code::kWrongPassword);
  EXPECT_TRUE(OpenKeys(&b, "first").ok());
  EXPECT_TRUE(RemoveKey(&b, made, "zz", &removed).code() == Status::Code::kInvalidArgument);
  EXPECT_TRUE(RemoveKey(&b, made, "0000000000", &removed).IsNotFound() ||
              made.key_id.rfind("0000000000", 0) == 0);
}

TEST(Keys, RemovingTheKeyInUseIsAllowedWhenAnotherRemains) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "first");
  ASSERT_TRUE(AddKey(&b, made.master, "second", Fast(), Meta()).ok());
  std::string removed;
  ASSERT_TRUE(RemoveKey(&b, made, made.key_id, &removed).ok());
  EXPECT_EQ(OpenKeys(&b, "first").status().code(), Status::Code::kWrongPassword);
  auto two = OpenKeys(&b, "second");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->master, made.master);
}

TEST(Keys, ChangePasswordReplacesTheKeyFile) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "old");
  std::string old_id = made.key_id;
  ASSERT_TRUE(ChangePassword(&b, &made, "new", Fast(), Meta()).ok());
  EXPECT_NE(made.key_id, old_id);
  EXPECT_EQ(b.Count(ObjectKind::kKey), 1u);
  EXPECT_EQ(OpenKeys(&b, "old").status().code(), Status::Code::kWrongPassword);
  auto opened = OpenKeys(&b, "new");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->master, made.master);
  EXPECT_EQ(opened->key_id, made.key_id);
}

TEST(Keys, ChangePasswordThatCannotRemoveTheOldKeyLeavesBothWorking) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "old");
  b.FailRemoves(true);  // an append-only target, or a crash after the add
  Status st = ChangePassword(&b, &made, "new", Fast(), Meta());
  EXPECT_TRUE(st.IsIoError()) << st.ToString();
  EXPECT_NE(st.message().find("the new password works"), std::string::npos) << st.message();
  EXPECT_EQ(b.Count(ObjectKind::kKey), 2u);
  EXPECT_TRUE(OpenKeys(&b, "old").ok());
  EXPECT_TRUE(OpenKeys(&b, "new").ok());
}

TEST(Keys, ChangePasswordThatCannotAddLeavesTheOldKeyAlone) {
  MemoryBackend b;
  OpenedKeys made = First(&b, "old");
  std::string old_id = made.key_id;
  b.FailPuts(true);
  EXPECT_FALSE(ChangePassword(&b, &made, "new", Fast(), Meta()).ok());
  EXPECT_EQ(made.key_id, old_id);
  b.FailPuts(false);
  EXPECT_TRUE(OpenKeys(&b, "old").ok());
  EXPECT_EQ(b.Count(ObjectKind::kKey), 1u);
}

TEST(Keys, KdfLimitsOutOfRangeAreRefusedWhenAsked) {
  MemoryBackend b;
  KdfParams p = Fast();
  p.opslimit = 0;
  EXPECT_EQ(CreateFirstKey(&b, "pw", p, Meta()).status().code(), Status::Code::kInvalidArgument);
  p = Fast();
  p.memlimit = 1024;
  EXPECT_EQ(CreateFirstKey(&b, "pw", p, Meta()).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(CreateFirstKey(&b, "", Fast(), Meta()).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(b.Count(ObjectKind::kKey), 0u);
}

TEST(Keys, DefaultLimitsAreArgon2idThreePassesOver64MiBAndAreStored) {
  KdfParams d;
  EXPECT_EQ(d.opslimit, 3u);
  EXPECT_EQ(d.memlimit, 64ull << 20);
  EXPECT_FALSE(d.WeakerThanDefault());
  EXPECT_TRUE(Fast().WeakerThanDefault());
  MemoryBackend b;
  auto made = CreateFirstKey(&b, "pw", d, Meta());  // one real-cost run
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  std::vector<std::string> w;
  auto keys = ListKeys(&b, made->key_id, &w);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*keys)[0].kdf.opslimit, 3u);
  EXPECT_EQ((*keys)[0].kdf.memlimit, 64ull << 20);
}

// A key file made once by this build (1 pass, 8 KiB, password "test vector
// password", master key bytes 0..63): a later build must still open it.
TEST(Keys, VersionOneKeyFileStillOpens) {
  const std::string bytes = R"({
  "check": "2bff306d7c9c4ab9e04c17015f7eff2b",
  "cipher": "xchacha20poly1305",
  "created": "2025-12-01T00:00:00Z",
  "host": "kat-host",
  "kdf": "argon2id",
  "maestro_db_key": 1,
  "master_key": "de6122d6d9479322934b96bbf28989910d7a17ad8d08eea14906107887f27e0a66690d8370cfb1d217e3e0da607fffff9614772c899aa6ce77b785b0cd9d4b9c8fa4a2cd03f6d9f398454807d258587c",
  "memlimit": 8192,
  "nonce": "984efd5b862e013d02095973c7ee8e976decb4767e928842",
  "opslimit": 1,
  "salt": "232b18ff16c1a0d7bbf5288dc8ce63bd",
  "user": "kat-user"
}
)";
  const std::string name = "07af2c475e2ff7419d0fb1bc175c9590";
  KeyInfo info;
  ASSERT_TRUE(DecodeKeyFile(name, bytes, &info).ok());
  EXPECT_EQ(info.meta.host, "kat-host");
  EXPECT_EQ(info.meta.user, "kat-user");
  EXPECT_EQ(info.meta.created_micros, 1764547200000000);
  EXPECT_EQ(info.kdf.opslimit, 1u);
  EXPECT_EQ(info.kdf.memlimit, 8192u);
  auto key = UnwrapKeyFile(name, bytes, "test vector password");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  for (size_t i = 0; i < kMasterKeyBytes; ++i) EXPECT_EQ(key->data()[i], i);
  EXPECT_EQ(UnwrapKeyFile(name, bytes, "test vector passwore").status().code(), Status::Code::kWrongPassword);
}

// A power cut at every write, sync, rename, remove and directory sync of
// `passwd` on a real folder (LocalBackend over FaultEnv): afterwards the old
// or the new password opens the same master key, and no key file is damaged.
TEST(Keys, PowerCutAtAnyStepOfChangePasswordLeavesAPasswordThatOpens) {
  using Op = FaultEnv::Op;
  auto run = [](Op op, int nth, int* counts) {
    testing::TempDir dir;
    MasterKey master;
    {
      auto plain = NewLocalBackend(Env::Default(), dir.path());
      auto made = CreateFirstKey(plain.get(), "old", Fast(), Meta());
      EXPECT_TRUE(made.ok());
      master = made->master;
    }
    FaultEnv fenv(Env::Default());
    if (nth > 0) fenv.PowerCutAt(op, nth);
    {
      auto backend = NewLocalBackend(&fenv, dir.path());
      auto opened = OpenKeys(backend.get(), "old");
      EXPECT_TRUE(opened.ok());
      OpenedKeys cur = opened.value();
      ChangePassword(backend.get(), &cur, "new", Fast(), Meta()).IgnoreError("a power cut may fail it: checked below");
    }
    if (counts)
      for (int k = 0; k < static_cast<int>(Op::kCount); ++k) counts[k] = fenv.Count(static_cast<Op>(k));
    EXPECT_TRUE(fenv.DropUnsyncedData().ok());
    auto backend = NewLocalBackend(Env::Default(), dir.path());
    auto old_pw = OpenKeys(backend.get(), "old");
    auto new_pw = OpenKeys(backend.get(), "new");
    EXPECT_TRUE(old_pw.ok() || new_pw.ok()) << FaultEnv::OpName(op) << " #" << nth << ": " << old_pw.status().ToString()
                                            << " / " << new_pw.status().ToString();
    if (old_pw.ok()) {
      EXPECT_EQ(old_pw->master, master);
    }
    if (new_pw.ok()) {
      EXPECT_EQ(new_pw->master, master);
    }
    std::vector<std::string> w;
    auto keys = ListKeys(backend.get(), "", &w);
    ASSERT_TRUE(keys.ok());
    for (const auto& k : *keys) EXPECT_TRUE(k.damaged.empty()) << FaultEnv::OpName(op) << " #" << nth << ": " << k.damaged;
  };
  int counts[static_cast<int>(Op::kCount)] = {0};
  run(Op::kWrite, 0, counts);  // no fault: how many calls of each kind a passwd makes
  int cuts = 0;
  for (Op op : {Op::kCreate, Op::kWrite, Op::kSync, Op::kRename, Op::kRemove, Op::kMkdir, Op::kSyncDir})
    for (int n = 1; n <= counts[static_cast<int>(op)]; ++n, ++cuts) run(op, n, nullptr);
  EXPECT_GE(cuts, 5) << "passwd writes, syncs, renames and removes";
  ::testing::Test::RecordProperty("power_cuts", cuts);
}

TEST(Keys, CurrentKeyMetaNamesThisHostAndUser) {
  KeyMeta m = CurrentKeyMeta(Env::Default());
  EXPECT_FALSE(m.host.empty());
  EXPECT_FALSE(m.user.empty());
  EXPECT_GT(m.created_micros, 0);
}

}  // namespace
}  // namespace maestro
