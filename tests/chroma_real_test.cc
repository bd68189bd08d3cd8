// tests/chroma_real_test.cc — the vector store's rules against stores a REAL
// Chroma writes and reads: chromadb@3.0.12's `chroma run` with the Rust core of
// chromadb 1.0.x (chromadb-js-bindings-linux-x64-gnu@1.0.5), installed by
// scripts/chroma-setup.sh into <build>/chroma-npm from the npm registry. The
// suite skips, printing why, only when npm or its registry cannot be reached.
//
// A server listens on 127.0.0.1 only, on a free port; every wait is bounded
// (start 90 s, stop 15 s, then SIGKILL) and the server is always stopped (RAII).
// Collections are written like MAESTRO's (research_papers_dense / _sparse,
// hnsw:space=cosine, ids "{doc_id}_{n}", doc_id/chunk_id metadata) through the
// JS client with explicit 64-d embeddings (tests/chroma/maestro_chroma.mjs): no
// embedding function is configured or downloaded. 1,200+ chunks a collection,
// so Chroma flushes its HNSW segments (sync_threshold 1000) and the files the
// check reads are real ones.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "engine/stores/hnsw_check.h"
#include "tests/test_util.h"
#include "util/sqlite.h"

using namespace maestro;
using namespace maestro::testing;
using nlohmann::json;

namespace {

const std::string kNpmDir = MAESTRO_DB_CHROMA_CACHE;
const std::string kClient = std::string(MAESTRO_DB_SOURCE_DIR) + "/tests/chroma/maestro_chroma.mjs";
constexpr int kDim = 64;
const char* kNow = "2025-08-08T12:00:00Z";

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool PortAnswers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// One `chroma run --path DIR` server in its own process group; stopped on destruction.
class ChromaServer {
 public:
  ChromaServer(const std::string& path, const std::string& log) : log_(log) {
    port_ = FreePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string bin = kNpmDir + "/node_modules/.bin/chroma";
      const std::string port = std::to_string(port_);
      ::execlp("node", "node", bin.c_str(), "run", "--path", path.c_str(), "--host", "127.0.0.1", "--port",
               port.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ChromaServer() { Stop(); }
  // Waits (bounded) until the port answers; false when the server died or never answered.
  bool WaitReady(int seconds = 90) {
    for (int i = 0; i < seconds * 10; ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (PortAnswers(port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // SIGTERM to the group, up to 15 s, then SIGKILL. Idempotent.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    for (int i = 0; i < 150; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFile(log_); }

 private:
  std::string log_;
  int port_ = -1;
  pid_t pid_ = -1;
};

class RealChroma : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string out = Sh(std::string(MAESTRO_DB_SOURCE_DIR) + "/scripts/chroma-setup.sh " + kNpmDir +
                               " 2>&1; echo \"rc=$?\"");
    setup_rc_ = out.find("rc=0") != std::string::npos ? 0 : out.find("rc=77") != std::string::npos ? 77 : 1;
    setup_out_ = out;
  }
  void SetUp() override {
    if (setup_rc_ == 77) GTEST_SKIP() << "real Chroma not available: " << setup_out_;
    ASSERT_EQ(setup_rc_, 0) << "scripts/chroma-setup.sh failed:\n" << setup_out_;
  }
  std::string root() const { return dir_.Sub("root"); }
  std::string vector() const { return root() + "/ai_researcher/data/vector_store"; }

  // node tests/chroma/maestro_chroma.mjs CMD PORT DIM ARGS...; its stdout.
  std::string Client(const std::string& cmd, int port, const std::string& args = "") {
    std::string out = Sh("CHROMA_NPM_DIR=" + kNpmDir + " timeout 120 node " + kClient + " " + cmd + " " +
                         std::to_string(port) + " " + std::to_string(kDim) + " " + args + " 2>" + dir_.Sub("client.err"));
    EXPECT_FALSE(out.empty()) << "client " << cmd << " failed: " << ReadFile(dir_.Sub("client.err"));
    return out;
  }
  json Dump() {
    ChromaServer s(vector(), dir_.Sub("chroma.log"));
    EXPECT_TRUE(s.WaitReady()) << s.Log();
    std::string out = Client("dump", s.port());
    s.Stop();
    return out.empty() ? json() : json::parse(out);
  }
  json CheckJson(int rc) {
    CliResult r = RunCli({"--root", root(), "--json", "check", "--now", kNow});
    EXPECT_EQ(r.exit_code, rc) << r.err << r.out;
    return json::parse(r.out);
  }
  void MaestroDb(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"--root", root(), "--yes"};
    full.insert(full.end(), args.begin(), args.end());
    CliResult r = RunCli(full);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }

  // A demo install whose vector store is replaced by one real Chroma writes:
  // every chunked document of the demo gets kPerDoc chunks, plus an orphan.
  void BuildInstall();
  std::set<std::string> expected_ids_;  // what the collections must hold after cleanup
  static constexpr int kPerDoc = 60;
  static constexpr const char* kOrphan = "deadbeef";
  TempDir dir_;
  static inline int setup_rc_ = -1;
  static inline std::string setup_out_;
};

void RealChroma::BuildInstall() {
  CliResult r = RunCli({"demo", "create", root(), "--documents", "40", "--chunks-per-doc", "2", "--pdf-kib", "1",
                        "--now", kNow});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> docs;
  {
    Db db = Db::OpenReadOnly(vector() + "/chroma.sqlite3").value();
    Stmt s = db.Prepare("SELECT DISTINCT string_value FROM embedding_metadata WHERE key = 'doc_id' ORDER BY 1").value();
    while (s.Step().value()) docs.push_back(s.Text(0));
  }
  ASSERT_GE(docs.size() * kPerDoc, 1100u) << "too few chunks for Chroma to flush its HNSW segments";
  ASSERT_EQ(std::system(("rm -rf " + vector() + " && mkdir " + vector()).c_str()), 0);
  std::string specs = std::string(kOrphan) + ":5";
  for (const auto& d : docs) {
    specs += " " + d + ":" + std::to_string(kPerDoc);
    for (int n = 0; n < kPerDoc; ++n) expected_ids_.insert(d + "_" + std::to_string(n));
  }
  ChromaServer s(vector(), dir_.Sub("chroma.log"));
  ASSERT_TRUE(s.WaitReady()) << "chroma run did not start:\n" << s.Log();
  Client("write", s.port(), specs);
  s.Stop();
}

// What Chroma must answer for the install's expected chunks.
void ExpectChromaHolds(const json& dump, const std::set<std::string>& ids) {
  for (const char* c : {"research_papers_dense", "research_papers_sparse"}) {
    ASSERT_TRUE(dump.contains(c) && dump[c].is_object()) << dump.dump().substr(0, 500);
    EXPECT_EQ(dump[c]["count"].get<size_t>(), ids.size()) << c;
    EXPECT_EQ(dump[c]["ids"].get<std::set<std::string>>(), ids) << c;
    for (const auto& [doc, top] : dump[c]["query"].items())
      EXPECT_EQ(top[0], doc + "_0") << c << ": the nearest neighbour of a chunk's own vector is itself";
  }
}

TEST_F(RealChroma, CheckCleanupSnapshotRestoreAndResetKeepAStoreChromaOpens) {
  BuildInstall();
  if (HasFatalFailure()) return;
  // The real segments are flushed and pass the HNSW checks.
  auto hnsw = CheckHnswStore(Env::Default(), vector());
  ASSERT_TRUE(hnsw.ok()) << hnsw.status().ToString();
  ASSERT_EQ(hnsw->segments.size(), 2u);
  for (const auto& s : hnsw->segments) EXPECT_GE(s.elements, 1000) << s.collection << ": not flushed by Chroma";
  EXPECT_TRUE(hnsw->findings.empty()) << hnsw->findings[0].detail;

  // check: exactly the orphan's chunks, no HNSW damage.
  json rep = CheckJson(1);
  ASSERT_EQ(rep["issues"].size(), 1u) << rep["issues"].dump(1);
  EXPECT_EQ(rep["issues"][0]["kind"], "vector_orphan");
  EXPECT_EQ(rep["issues"][0]["doc_id"], kOrphan);

  // cleanup removes the orphan the way Chroma honours (rows + queued DELETEs).
  MaestroDb({"cleanup", "--all", "--now", kNow});
  EXPECT_TRUE(CheckJson(0)["consistent"]);
  MaestroDb({"snap", "create"});
  json after_cleanup = Dump();  // Chroma replays the DELETEs on open
  ExpectChromaHolds(after_cleanup, expected_ids_);
  EXPECT_TRUE(CheckJson(0)["consistent"]) << "after Chroma applied the queue";

  // Damage the real dense segment: found; restoring the vector store repairs it.
  hnsw = CheckHnswStore(Env::Default(), vector());
  ASSERT_TRUE(hnsw.ok());
  const std::string seg = vector() + "/" + hnsw->segments[0].segment;
  ASSERT_EQ(::truncate((seg + "/data_level0.bin").c_str(), 4096), 0);
  json damaged = CheckJson(1);
  ASSERT_EQ(damaged["issues"].size(), 1u) << damaged["issues"].dump(1);
  EXPECT_EQ(damaged["issues"][0]["kind"], "hnsw_damaged");
  EXPECT_EQ(damaged["issues"][0]["file"], "data_level0.bin");
  MaestroDb({"snap", "restore", "latest", "--store", "vector"});
  EXPECT_TRUE(CheckJson(0)["consistent"]);
  ExpectChromaHolds(Dump(), expected_ids_);

  // reset: an empty vector store Chroma opens and fills again; restore brings the chunks back.
  MaestroDb({"reset"});
  {
    ChromaServer s(vector(), dir_.Sub("chroma.log"));
    ASSERT_TRUE(s.WaitReady()) << s.Log();
    json empty = json::parse(Client("dump", s.port()));
    EXPECT_TRUE(empty["research_papers_dense"].is_null()) << empty.dump();
    Client("write", s.port(), "cafe0001:3");
    json refilled = json::parse(Client("dump", s.port()));
    EXPECT_EQ(refilled["research_papers_dense"]["count"], 3);
  }
  MaestroDb({"snap", "restore", "latest", "--store", "vector"});  // the pre-reset snapshot
  ExpectChromaHolds(Dump(), expected_ids_);
}

TEST_F(RealChroma, GarbageLengthAndOversizedLinksInRealSegmentsAreFound) {
  BuildInstall();
  if (HasFatalFailure()) return;
  auto hnsw = CheckHnswStore(Env::Default(), vector());
  ASSERT_TRUE(hnsw.ok());
  ASSERT_EQ(hnsw->segments.size(), 2u);
  const std::string a = vector() + "/" + hnsw->segments[0].segment, b = vector() + "/" + hnsw->segments[1].segment;
  WriteFile(a + "/length.bin", RandomBytes(40000, 5));
  WriteFile(b + "/link_lists.bin", ReadFile(b + "/link_lists.bin") + std::string(4096, '\x7f'));
  auto found = CheckHnswStore(Env::Default(), vector());
  ASSERT_TRUE(found.ok());
  std::set<std::string> files;
  for (const auto& f : found->findings) files.insert(f.segment + "/" + f.file);
  EXPECT_EQ(files, (std::set<std::string>{hnsw->segments[0].segment + "/length.bin",
                                          hnsw->segments[1].segment + "/link_lists.bin"}));
}

}  // namespace
