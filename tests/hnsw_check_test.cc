// tests/hnsw_check_test.cc — `check` reads each HNSW segment and reports
// hnsw_damaged (segment + file) for the damage Chroma is known for: a truncated
// data_level0.bin, a garbage length.bin, an oversized link_lists.bin, an element
// count out of step with chroma.sqlite3, a garbage header. The segments are the
// demo's (laid out as hnswlib writes them, engine/stores/hnsw_format.h); segments a real
// Chroma writes are checked in tests/chroma_real_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/stores/hnsw_check.h"
#include "engine/stores/hnsw_format.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

using namespace maestro;
using namespace maestro::testing;
using nlohmann::json;

namespace {

class HnswCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    CliResult r = RunCli({"demo", "create", root(), "--documents", "30", "--chunks-per-doc", "40", "--pdf-kib", "1",
                          "--now", "2025-08-08T12:00:00Z"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Db db = Db::OpenReadOnly(vector() + "/chroma.sqlite3").value();
    Stmt s = db.Prepare("SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection "
                        "WHERE s.scope = 'VECTOR' AND c.name = 'research_papers_dense'").value();
    ASSERT_TRUE(s.Step().value());
    dense_ = s.Text(0);
  }
  std::string root() const { return dir_.Sub("root"); }
  std::string vector() const { return root() + "/ai_researcher/data/vector_store"; }
  std::string seg(const std::string& f) const { return vector() + "/" + dense_ + "/" + f; }
  HnswHeader Header() const { return DecodeHnswHeader(ReadFile(seg("header.bin"))).value(); }
  // The check's hnsw_damaged issues (exit 1 expected when any).
  json Damaged(int rc) {
    CliResult r = RunCli({"--root", root(), "--json", "check", "--now", "2025-08-08T12:00:00Z"});
    EXPECT_EQ(r.exit_code, rc) << r.err;
    json out = json::array();
    const json rep = json::parse(r.out);
    for (const auto& i : rep["issues"])
      if (i["kind"] == "hnsw_damaged") out.push_back(i);
    return out;
  }
  void ExpectOne(const json& got, const std::string& file, const std::string& words) {
    ASSERT_EQ(got.size(), 1u) << got.dump(1);
    EXPECT_EQ(got[0]["segment"], dense_);
    EXPECT_EQ(got[0]["collection"], "research_papers_dense");
    EXPECT_EQ(got[0]["store"], "vector");
    EXPECT_EQ(got[0]["file"], file);
    EXPECT_NE(got[0]["detail"].get<std::string>().find(words), std::string::npos) << got[0]["detail"];
    EXPECT_NE(got[0]["repair"].get<std::string>().find("snap restore ID --store vector"), std::string::npos);
  }
  TempDir dir_;
  std::string dense_;
};

TEST_F(HnswCheck, WholeDemoSegmentsPass) {
  EXPECT_TRUE(Damaged(0).empty());
  auto rep = CheckHnswStore(Env::Default(), vector());
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  ASSERT_EQ(rep->segments.size(), 2u);
  for (const auto& s : rep->segments) EXPECT_EQ(s.elements, s.embeddings) << s.collection;
}

TEST_F(HnswCheck, TruncatedDataLevel0IsFound) {
  const HnswHeader h = Header();
  ASSERT_EQ(::truncate(seg("data_level0.bin").c_str(), static_cast<off_t>(h.size_data_per_element * 100 + 17)), 0);
  ExpectOne(Damaged(1), "data_level0.bin", "truncated");
}

TEST_F(HnswCheck, GarbageLengthBinIsFound) {
  WriteFile(seg("length.bin"), RandomBytes(Header().cur_element_count * 4, 7));
  ExpectOne(Damaged(1), "length.bin", "garbage");
}

TEST_F(HnswCheck, OversizedLinkListsIsFound) {
  WriteFile(seg("link_lists.bin"), ReadFile(seg("link_lists.bin")) + std::string(1 << 16, '\0'));
  ExpectOne(Damaged(1), "link_lists.bin", "oversized");
}

TEST_F(HnswCheck, ElementCountOutOfStepWithSqliteIsFound) {
  {
    Db db = Db::OpenReadWrite(vector() + "/chroma.sqlite3", false).value();
    ASSERT_TRUE(db.Exec("DELETE FROM embeddings WHERE id IN (SELECT e.id FROM embeddings e JOIN segments s ON "
                        "s.id = e.segment_id JOIN collections c ON c.id = s.collection WHERE "
                        "c.name = 'research_papers_dense' LIMIT 5)").ok());
  }
  ExpectOne(Damaged(1), "header.bin", "only 0 queued operations");
}

TEST_F(HnswCheck, QueuedDeletesAccountForTheDifference) {
  // What cleanup does: rows gone from the metadata segment, DELETEs queued for
  // Chroma to apply at its next start. Not damage.
  CliResult r = RunCli({"--root", root(), "--yes", "cleanup", "--all", "--now", "2025-08-08T12:00:00Z"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    Db db = Db::OpenReadWrite(vector() + "/chroma.sqlite3", false).value();
    // Plant an orphan's removal by hand too: delete 3 rows and queue their DELETEs.
    Stmt s = db.Prepare("SELECT c.id FROM collections c WHERE c.name = 'research_papers_dense'").value();
    ASSERT_TRUE(s.Step().value());
    const std::string coll = s.Text(0);
    ASSERT_TRUE(db.Exec("INSERT INTO embeddings_queue (seq_id, operation, topic, id) SELECT 100000 + e.id, 3, "
                        "'persistent://default/default/" + coll + "', e.embedding_id FROM embeddings e JOIN segments g "
                        "ON g.id = e.segment_id WHERE g.collection = '" + coll + "' LIMIT 3").ok());
    ASSERT_TRUE(db.Exec("DELETE FROM embeddings WHERE id + 100000 IN (SELECT seq_id FROM embeddings_queue)").ok());
  }
  EXPECT_TRUE(Damaged(0).empty());
}

TEST_F(HnswCheck, GarbageOrShortHeaderIsFound) {
  WriteFile(seg("header.bin"), RandomBytes(100, 3));
  ExpectOne(Damaged(1), "header.bin", "");
  WriteFile(seg("header.bin"), "short");
  ExpectOne(Damaged(1), "header.bin", "5 bytes");
}

TEST_F(HnswCheck, MissingLengthBinIsFound) {
  ASSERT_EQ(::unlink(seg("length.bin").c_str()), 0);
  ExpectOne(Damaged(1), "length.bin", "missing");
}

TEST(HnswFormat, HeaderRoundTripsAndKnowsHnswlibsLayout) {
  HnswHeader h = MakeHnswHeader(64, 10000);
  // The values chromadb-js-bindings 1.0.5 wrote for a 64-d cosine collection.
  EXPECT_EQ(h.size_data_per_element, 396u);
  EXPECT_EQ(h.label_offset, 388u);
  EXPECT_EQ(h.offset_data, 132u);
  const std::string b = EncodeHnswHeader(h);
  ASSERT_EQ(b.size(), kHnswHeaderSize);
  auto back = DecodeHnswHeader(b);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->max_elements, 10000u);
  EXPECT_EQ(back->max_level, -1);
  EXPECT_EQ(HnswHeaderProblem(*back), "");
  h.cur_element_count = 20000;
  EXPECT_NE(HnswHeaderProblem(h).find("exceeds max_elements"), std::string::npos);
}

}  // namespace
