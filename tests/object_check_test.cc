// tests/object_check_test.cc — what object names promise (snapshot/object_check.h).
#include <gtest/gtest.h>

#include "snapshot/object_check.h"
#include "tests/test_util.h"
#include "util/hash.h"

namespace maestro::testing {
namespace {

TEST(ObjectCheckTest, HashNamedPackIndexAndKeyMustMatchTheirBytes) {
  std::string data = RandomBytes(10000, 3);
  std::string hex = Xxh128(data).Hex();
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kPack, hex + ".pack", data, "here").ok());
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kIndex, hex + ".idx", data, "here").ok());
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kKey, hex, data, "here").ok());
  std::string partial = data.substr(0, 4096);
  for (auto [kind, name] : {std::pair{ObjectKind::kPack, hex + ".pack"}, std::pair{ObjectKind::kIndex, hex + ".idx"},
                            std::pair{ObjectKind::kKey, hex}}) {
    Status st = CheckObjectBytes(kind, name, partial, "rclone:r:p");
    EXPECT_TRUE(st.IsCorruption()) << name;
    EXPECT_NE(st.message().find("rclone:r:p: " + ObjectPath(kind, name)), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("partial upload"), std::string::npos) << st.ToString();
  }
}

TEST(ObjectCheckTest, OtherNamesPromiseNothing) {
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kPack, "aa.pack", "x", "here").ok());
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kManifest, std::string(32, 'a'), "x", "here").ok());
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kLock, std::string(32, 'a'), "x", "here").ok());
  EXPECT_TRUE(CheckObjectBytes(ObjectKind::kIndex, std::string(32, 'g') + ".idx", "x", "here").ok());
}

TEST(ObjectCheckTest, NamesThatLeaveTheirFolderOrLookTemporaryAreRefused) {
  for (const char* bad : {"", ".", "..", "a/b", "x.tmp-1"}) {
    EXPECT_EQ(CheckObjectName(ObjectKind::kPack, bad).code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(CheckObjectName(ObjectKind::kConfig, "").ok());
  EXPECT_EQ(ObjectPath(ObjectKind::kConfig, ""), "config");
  EXPECT_EQ(ObjectPath(ObjectKind::kManifest, "20260101_000000"), "snapshots/20260101_000000");
}

}  // namespace
}  // namespace maestro::testing
