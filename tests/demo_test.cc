// tests/demo_test.cc — `demo create` writes a realistic, deterministic install.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/stores/chroma.h"
#include "tests/test_util.h"
#include "util/env.h"
#include "util/sqlite.h"

using namespace maestro;
using namespace maestro::testing;
using nlohmann::json;

namespace {

const char* kNow = "2025-08-08T12:00:00Z";

CliResult Demo(const std::string& root, std::vector<std::string> extra) {
  std::vector<std::string> args = {"--json", "demo", "create", root, "--now", kNow};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunCli(args);
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<DirEntry> e;
  EXPECT_TRUE(Env::Default()->ListDir(dir, &e).ok()) << dir;
  std::vector<std::string> out;
  for (const auto& x : e)
    if (!x.is_dir) out.push_back(x.name);
  return out;
}

}  // namespace

TEST(Demo, SameSeedAndNowGiveAnIdenticalTreeMtimesIncluded) {
  TempDir d;
  for (const char* r : {"a", "b"}) {
    CliResult c = Demo(d.Sub(r), {"--documents", "60", "--seed", "9", "--inconsistent", "--pdf-kib", "4"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
  }
  auto a = TreeDigest(d.Sub("a"), true), b = TreeDigest(d.Sub("b"), true);
  EXPECT_GT(a.size(), 100u);
  EXPECT_EQ(a, b);
  CliResult c = Demo(d.Sub("c"), {"--documents", "60", "--seed", "10", "--inconsistent", "--pdf-kib", "4"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(TreeDigest(d.Sub("c"), false), TreeDigest(d.Sub("a"), false));
}

TEST(Demo, RawFilesAreValidPdfsWithACorrectXref) {
  TempDir d;
  ASSERT_EQ(Demo(d.Sub("r"), {"--documents", "30", "--pdf-kib", "3"}).exit_code, 0);
  int pdfs = 0;
  for (const auto& name : List(d.Sub("r/ai_researcher/data/raw_pdfs"))) {
    ASSERT_EQ(name.substr(8, 1), "_") << name;  // {doc_id}_{name}
    if (name.size() < 4 || name.substr(name.size() - 4) != ".pdf") continue;
    std::string pdf = ReadFile(d.Sub("r/ai_researcher/data/raw_pdfs/" + name));
    ASSERT_EQ(pdf.compare(0, 8, "%PDF-1.4"), 0) << name;
    ASSERT_GE(pdf.size(), 1536u);
    EXPECT_EQ(pdf.substr(pdf.size() - 6), "%%EOF\n");
    size_t sx = pdf.rfind("startxref\n");
    ASSERT_NE(sx, std::string::npos);
    size_t off = std::stoul(pdf.substr(sx + 10));
    EXPECT_EQ(pdf.compare(off, 4, "xref"), 0) << name;
    ++pdfs;
  }
  EXPECT_GT(pdfs, 10);
}

TEST(Demo, ChromaHasItsTablesCollectionsSegmentsAndSizedHnswFiles) {
  TempDir d;
  ASSERT_EQ(Demo(d.Sub("r"), {"--documents", "20", "--chunks-per-doc", "4"}).exit_code, 0);
  std::string vs = d.Sub("r/ai_researcher/data/vector_store");
  auto db = Db::OpenReadOnly(vs + "/chroma.sqlite3");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  for (const char* t : {"tenants", "databases", "collections", "collection_metadata", "segments", "segment_metadata",
                        "embeddings", "embedding_metadata", "embedding_fulltext_search", "embeddings_queue",
                        "max_seq_id", "maintenance_log", "migrations"}) {
    auto e = db->TableExists(t);
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(*e) << t;
  }
  auto colls = ReadChromaCollections(*db);
  ASSERT_TRUE(colls.ok());
  ASSERT_EQ(colls->size(), 2u);
  EXPECT_EQ((*colls)[0].name, kDenseCollection);
  EXPECT_EQ((*colls)[0].dimension, 1024);
  EXPECT_EQ((*colls)[1].name, kSparseCollection);
  auto segs = ReadChromaSegments(*db);
  ASSERT_TRUE(segs.ok());
  ASSERT_EQ(segs->size(), 4u);
  int64_t dense_chunks = *db->QueryInt(
      "SELECT count(*) FROM embeddings e JOIN segments s ON s.id = e.segment_id JOIN collections c ON "
      "c.id = s.collection WHERE c.name = 'research_papers_dense'");
  EXPECT_GT(dense_chunks, 0);
  // Every chunk: id {doc_id}_{n}, metadata doc_id and chunk_id agree with it, text present.
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM embeddings e JOIN embedding_metadata m ON m.id = e.id AND "
                          "m.key = 'doc_id' WHERE e.embedding_id NOT LIKE m.string_value || '\\_%' ESCAPE '\\'"),
            0);
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM embedding_metadata WHERE key = 'chroma:document'"),
            *db->QueryInt("SELECT count(*) FROM embeddings"));
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM embedding_fulltext_search WHERE string_value MATCH 'neural'") > 0, true);
  for (const auto& s : *segs) {
    if (s.scope != "VECTOR") continue;
    for (const char* f : {"header.bin", "data_level0.bin", "length.bin", "link_lists.bin", "index_metadata.pickle"}) {
      FileInfo fi;
      ASSERT_TRUE(Env::Default()->Stat(vs + "/" + s.id + "/" + f, &fi).ok());
      EXPECT_TRUE(fi.exists) << s.id << "/" << f;
    }
  }
  const ChromaSegment* dense_vec = nullptr;
  for (const auto& s : *segs)
    if (s.scope == "VECTOR" && s.collection == (*colls)[0].id) dense_vec = &s;
  ASSERT_NE(dense_vec, nullptr);
  FileInfo fi;
  ASSERT_TRUE(Env::Default()->Stat(vs + "/" + dense_vec->id + "/data_level0.bin", &fi).ok());
  EXPECT_EQ(fi.size, static_cast<uint64_t>(dense_chunks) * (1024 * 4 + 132 + 8));
}

TEST(Demo, EveryCompletedDocumentHasItsMarkdownAndMetadata) {
  TempDir d;
  ASSERT_EQ(Demo(d.Sub("r"), {"--documents", "25"}).exit_code, 0);
  auto db = Db::OpenReadOnly(d.Sub("r/data/maestro.db"));
  ASSERT_TRUE(db.ok());
  auto st = db->Prepare("SELECT id FROM documents WHERE processing_status = 'completed'");
  ASSERT_TRUE(st.ok());
  int n = 0;
  while (*st->Step()) {
    std::string id = st->Text(0);
    EXPECT_TRUE(Env::Default()->FileExists(d.Sub("r/ai_researcher/data/processed/markdown/" + id + ".md")));
    json meta = json::parse(ReadFile(d.Sub("r/ai_researcher/data/processed/metadata/" + id + ".json")));
    EXPECT_EQ(meta["doc_id"], id);
    EXPECT_TRUE(meta["authors"].is_array());
    ++n;
  }
  EXPECT_GT(n, 10);
}

TEST(Demo, TargetBytesScalesTheInstall) {
  TempDir d;
  CliResult r = Demo(d.Sub("r"), {"--documents", "40", "--target-bytes", std::to_string(24 << 20)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  uint64_t total = 0;
  for (const auto& [path, digest] : TreeDigest(d.Sub("r"), false)) {
    FileInfo fi;
    ASSERT_TRUE(Env::Default()->Stat(d.Sub("r/" + path), &fi).ok());
    if (fi.is_regular) total += fi.size;
  }
  EXPECT_GT(total, 20u << 20);
  EXPECT_LT(total, 28u << 20);
}

TEST(Demo, RefusesANonEmptyDirectory) {
  TempDir d;
  WriteFile(d.Sub("r/precious.txt"), "keep me");
  CliResult r = RunCli({"demo", "create", d.Sub("r")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("not empty"), std::string::npos);
  EXPECT_EQ(ReadFile(d.Sub("r/precious.txt")), "keep me");
}

TEST(Chroma, DocIdFromEmbeddingIdTakesThePrefixBeforeTheLastUnderscore) {
  EXPECT_EQ(DocIdFromEmbeddingId("7fafabb4_12"), "7fafabb4");
  EXPECT_EQ(DocIdFromEmbeddingId("a_b_3"), "a_b");
  EXPECT_EQ(DocIdFromEmbeddingId("plain"), "plain");
}
