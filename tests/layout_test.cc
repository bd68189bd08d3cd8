#include <gtest/gtest.h>

#include "engine/stores/layout.h"
#include "engine/migrate/schema.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

using namespace maestro;
using maestro::testing::TempDir;

TEST(LayoutTest, MissingStoresAreReportedNotErrors) {
  TempDir d;
  auto l = Layout::Discover(Env::Default(), d.path(), nullptr);
  ASSERT_TRUE(l.ok());
  for (const auto& s : l->stores()) EXPECT_FALSE(s.present) << s.name;
  EXPECT_EQ(l->store(StoreId::kMain).path, d.path() + "/maestro_backend/data/maestro.db");
  EXPECT_EQ(l->repo(), d.path() + "/backups/maestro-db");
}

TEST(LayoutTest, FirstExistingCandidateWins) {
  TempDir d;
  maestro::testing::WriteFile(d.Sub("data/maestro.db"), "");
  maestro::testing::WriteFile(d.Sub("maestro_backend/ai_researcher/data/raw_pdfs/x.pdf"), "%PDF");
  auto l = Layout::Discover(Env::Default(), d.path(), nullptr);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->store(StoreId::kMain).path, d.Sub("data/maestro.db"));
  EXPECT_TRUE(l->store(StoreId::kMain).present);
  EXPECT_EQ(l->store(StoreId::kPdfs).path, d.Sub("maestro_backend/ai_researcher/data/raw_pdfs"));
}

TEST(LayoutTest, ConfigOverridesStorePath) {
  TempDir d;
  auto cfg = Config::Parse("[stores]\nmain = elsewhere/m.db\n");
  ASSERT_TRUE(cfg.ok());
  auto l = Layout::Discover(Env::Default(), d.path(), &*cfg);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->store(StoreId::kMain).path, d.Sub("elsewhere/m.db"));
  EXPECT_TRUE(l->store(StoreId::kMain).from_config);
}

TEST(LayoutTest, MissingRootIsNotFound) {
  auto l = Layout::Discover(Env::Default(), "/nonexistent/maestro/root", nullptr);
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(l.status().IsNotFound());
}

TEST(SchemaTest, FreshSchemaHasMaestroTables) {
  TempDir d;
  auto db = Db::OpenReadWrite(d.Sub("m.db"), true);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(CreateFreshSchema(*db, StoreId::kMain, Env::Default()->NowMicros()).ok());
  for (const char* t : {"users", "documents", "chats", "messages", "document_groups", "draft_references"})
    EXPECT_TRUE(*db->TableExists(t)) << t;
}
