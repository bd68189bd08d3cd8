#include "tools/demo/demo.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <unistd.h>

#include "engine/stores/chroma.h"
#include "engine/stores/hnsw_format.h"
#include "engine/stores/inventory.h"
#include "engine/stores/layout.h"
#include "engine/migrate/schema.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

constexpr int64_t kSec = 1000000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int kDenseDim = 1024;
constexpr int kSparseDim = 30000;

// splitmix64: deterministic on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t Below(int64_t n) { return n <= 0 ? 0 : static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }
  int64_t Range(int64_t lo, int64_t hi) { return lo + Below(hi - lo + 1); }  // inclusive
  template <typename T, size_t N>
  const T& Pick(const T (&a)[N]) { return a[Below(N)]; }
  void Fill(char* p, size_t n) {
    while (n >= 8) {
      uint64_t v = Next();
      std::memcpy(p, &v, 8);
      p += 8;
      n -= 8;
    }
    if (n) {
      uint64_t v = Next();
      std::memcpy(p, &v, n);
    }
  }
  std::string Hex(int n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < n; ++i) s += d[Next() & 15];
    return s;
  }
  std::string Uuid() {
    std::string h = Hex(32);
    h[12] = '4';
    h[16] = "89ab"[Next() & 3];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
  }

 private:
  uint64_t s_;
};

const char* kWords[] = {
    "neural",      "retrieval",  "augmented", "generation", "transformer", "attention",   "language",
    "models",      "graph",      "learning",  "sparse",     "dense",       "embeddings",  "scaling",
    "laws",        "protein",    "folding",   "climate",    "variability", "ocean",       "carbon",
    "quantum",     "error",      "correction", "reinforcement", "policy",  "gradient",    "optimization",
    "federated",   "privacy",    "causal",    "inference",  "bayesian",    "uncertainty", "robust",
    "evaluation",  "benchmark",  "multilingual", "speech",  "vision",      "segmentation", "diffusion",
    "contrastive", "pretraining", "knowledge", "distillation", "memory",   "efficient",   "survey",
    "clinical",    "trials",     "genomic",   "variants",   "supply",      "chain",       "economics",
    "systematic",  "review",     "meta-analysis", "agents", "planning",    "reasoning",   "tabular"};
const char* kFirst[] = {"Alice", "Bob", "Chen", "Dana", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas",
                        "Kavya", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq"};
const char* kLast[] = {"Smith", "Garcia", "Wang", "Okafor", "Muller", "Rossi", "Kim", "Novak", "Silva",
                       "Haddad", "Ivanova", "Tanaka", "Jensen", "Moreau", "Patel", "Cohen", "Nguyen"};
const char* kJournals[] = {"Nature", "Science", "NeurIPS", "ICML", "ACL", "The Lancet", "PLOS ONE",
                           "Journal of Machine Learning Research", "arXiv preprint", "IEEE TPAMI"};

std::string Timestamp(int64_t micros) {
  time_t secs = static_cast<time_t>(micros / kSec);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%06d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(micros % kSec));
  return buf;
}

std::string Sentence(Rng& r, size_t bytes) {
  std::string s;
  bool cap = true;
  while (s.size() < bytes) {
    std::string w = r.Pick(kWords);
    if (cap) {
      w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
      cap = false;
    }
    s += w;
    if (r.Below(9) == 0) {
      s += ". ";
      cap = true;
    } else {
      s += ' ';
    }
  }
  s.resize(bytes);
  return s;
}

enum Part : unsigned { kAi = 1, kDense = 2, kSparse = 4, kRaw = 8, kMd = 16, kMeta = 32 };
constexpr unsigned kAllParts = kAi | kDense | kSparse | kRaw | kMd | kMeta;

struct Doc {
  std::string id;
  bool in_main = true;
  int64_t user = 1;
  std::string status;
  std::string filename;
  std::string subdir;  // "", word_documents, markdown_files
  int64_t created = 0, updated = 0;
  std::string title;
  std::vector<std::string> authors;
  int year = 2020;
  unsigned parts = 0;
  uint64_t raw_bytes = 0;
  uint64_t text_seed = 0;
  std::string RawName() const { return id + "_" + filename; }
  std::string RawRel() const { return subdir.empty() ? RawName() : subdir + "/" + RawName(); }
};

class DemoWriter {
 public:
  DemoWriter(Env* env, std::string root, const DemoOptions& o) : env_(env), root_(std::move(root)), o_(o), rng_(o.seed * 0x2545F4914F6CDD1DULL + 1) {}

  Result<DemoSummary> Run();

 private:
  std::string P(const std::string& rel) const { return JoinPath(root_, rel); }
  std::string NewId();
  Doc MakeDoc(const std::string& status, int64_t age_created, int64_t updated_after);
  void Plan();
  void Plant(Doc d, std::vector<std::pair<StoreId, IssueKind>> issues);
  Status WriteMain();
  Status WriteAi();
  Status WriteChroma();
  Status WriteHnsw(const std::string& seg_id, int dim, int per_chunk, const std::vector<std::string>& ids);
  Status WriteProcessedFiles();
  Status WriteRawFiles();
  Status WriteFile(const std::string& rel, const std::string& data, int64_t mtime);
  Status FixMtimes(const std::string& dir);
  std::string MetadataJson(const Doc& d) const;

  Env* env_;
  std::string root_;
  DemoOptions o_;
  Rng rng_;
  int64_t now_ = 0;
  std::set<std::string> ids_, filenames_;
  std::vector<Doc> docs_;
  std::vector<PlantedIssue> planted_;
  uint64_t bytes_ = 0;
  int64_t chunks_ = 0;
};

std::string DemoWriter::NewId() {
  while (true) {
    std::string id = rng_.Hex(8);
    if (ids_.insert(id).second) return id;
  }
}

Doc DemoWriter::MakeDoc(const std::string& status, int64_t age_created, int64_t updated_after) {
  Doc d;
  d.id = NewId();
  d.user = 1 + rng_.Below(std::max(1, o_.users));
  d.status = status;
  d.created = now_ - age_created;
  d.updated = d.created + updated_after;
  int nw = static_cast<int>(rng_.Range(3, 6));
  std::string slug;
  for (int i = 0; i < nw; ++i) {
    std::string w = rng_.Pick(kWords);
    d.title += (i ? " " : "") + w;
    slug += (i ? "_" : "") + w;
  }
  d.title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(d.title[0])));
  d.year = static_cast<int>(rng_.Range(2012, 2025));
  for (int i = 0, n = static_cast<int>(rng_.Range(1, 4)); i < n; ++i)
    d.authors.push_back(std::string(rng_.Pick(kFirst)) + " " + rng_.Pick(kLast));
  int64_t kind = rng_.Below(100);
  std::string ext = ".pdf";
  if (kind < 8) {
    d.subdir = kWordSubdir;
    ext = ".docx";
  } else if (kind < 12) {
    d.subdir = kMarkdownUploadSubdir;
    ext = ".md";
  }
  std::string base = slug + "_" + std::to_string(d.year);
  d.filename = base + ext;
  for (int v = 2; !filenames_.insert(d.filename).second; ++v) d.filename = base + "_v" + std::to_string(v) + ext;
  d.text_seed = rng_.Next();
  return d;
}

void DemoWriter::Plan() {
  for (int i = 0; i < o_.documents; ++i) {
    int64_t r = rng_.Below(100);
    Doc d;
    if (r < 84) {
      d = MakeDoc(kStatusCompleted, rng_.Range(1 * kDay, 120 * kDay), rng_.Range(60, 900) * kSec);
      d.parts = kAllParts;
    } else if (r < 90) {
      d = MakeDoc(kStatusFailed, rng_.Range(1 * kHour, 60 * kDay), rng_.Range(30, 600) * kSec);
    } else if (r < 94) {
      d = MakeDoc(kStatusQueued, rng_.Range(60, 1800) * kSec, 0);
      d.parts = kRaw;
    } else if (r < 97) {
      d = MakeDoc(kStatusProcessing, rng_.Range(120, 3000) * kSec, rng_.Range(0, 60) * kSec);
      d.parts = kRaw;
    } else if (r < 99) {
      d = MakeDoc(kStatusPending, rng_.Range(10, 600) * kSec, 0);
      d.parts = kRaw;
    } else {
      d = MakeDoc(kStatusUploading, rng_.Range(5, 120) * kSec, 0);
    }
    docs_.push_back(std::move(d));
  }
  if (!o_.inconsistent) return;

  using K = IssueKind;
  using S = StoreId;
  auto completed = [&](unsigned parts) {
    Doc d = MakeDoc(kStatusCompleted, rng_.Range(2 * kDay, 30 * kDay), 300 * kSec);
    d.parts = parts;
    return d;
  };
  auto failed = [&](unsigned parts, int64_t age) {
    Doc d = MakeDoc(kStatusFailed, age + 120 * kSec, 0);
    d.updated = now_ - age;
    d.parts = parts;
    return d;
  };
  auto orphan = [&](unsigned parts) {
    Doc d = MakeDoc(kStatusCompleted, rng_.Range(2 * kDay, 30 * kDay), 300 * kSec);
    d.in_main = false;
    d.parts = parts;
    return d;
  };
  for (int i = 0; i < 2; ++i) Plant(completed(0), {{S::kMain, K::kMainDbOnly}});
  for (int i = 0; i < 2; ++i) Plant(completed(kAllParts & ~kAi), {{S::kAi, K::kCompletedMissingAi}});
  Plant(completed(kAllParts & ~kDense), {{S::kVector, K::kCompletedMissingChunks}});
  Plant(completed(kAllParts & ~(kDense | kSparse)), {{S::kVector, K::kCompletedMissingChunks}});
  for (int i = 0; i < 2; ++i) Plant(completed(kAllParts & ~kMd), {{S::kMarkdown, K::kCompletedMissingMarkdown}});
  Plant(failed(kAi, 2 * kHour), {{S::kAi, K::kFailedWithLeftovers}});
  Plant(failed(kDense | kSparse | kRaw, 3 * kHour),
        {{S::kVector, K::kFailedWithLeftovers}, {S::kPdfs, K::kFailedWithLeftovers}});
  Plant(failed(kMd | kMeta, 3 * kDay),
        {{S::kMarkdown, K::kFailedStaleWithLeftovers}, {S::kMetadata, K::kFailedStaleWithLeftovers}});
  Plant(failed(kAi | kDense, 30 * kHour),
        {{S::kAi, K::kFailedStaleWithLeftovers}, {S::kVector, K::kFailedStaleWithLeftovers}});
  for (int i = 0; i < 2; ++i) {
    Doc d = MakeDoc(kStatusQueued, rng_.Range(60, 1800) * kSec, 0);
    Plant(d, {{S::kPdfs, K::kMissingRawFile}});
  }
  for (int i = 0; i < 2; ++i) {
    Doc d = MakeDoc(kStatusProcessing, (3 + 2 * i) * kHour, 0);
    d.parts = kRaw;
    Plant(d, {{S::kMain, K::kStuckProcessing}});
  }
  for (int i = 0; i < 2; ++i) Plant(orphan(kAi), {{S::kAi, K::kAiOrphan}});
  Plant(orphan(kDense | kSparse), {{S::kVector, K::kVectorOrphan}});
  Plant(orphan(kSparse), {{S::kVector, K::kVectorOrphan}});
  Plant(orphan(kAi | kRaw), {{S::kAi, K::kAiOrphan}, {S::kPdfs, K::kFileOrphan}});
  Plant(orphan(kDense | kSparse | kMd | kMeta),
        {{S::kVector, K::kVectorOrphan}, {S::kMarkdown, K::kFileOrphan}, {S::kMetadata, K::kFileOrphan}});
  {
    Doc d = orphan(kRaw);
    d.subdir = kWordSubdir;
    d.filename = d.filename.substr(0, d.filename.rfind('.')) + ".docx";
    Plant(d, {{S::kPdfs, K::kFilesOnly}});
  }
  Plant(orphan(kMd | kMeta), {{S::kMarkdown, K::kFilesOnly}, {S::kMetadata, K::kFilesOnly}});
}

void DemoWriter::Plant(Doc d, std::vector<std::pair<StoreId, IssueKind>> issues) {
  for (const auto& [store, kind] : issues) planted_.push_back({d.id, store, kind});
  docs_.push_back(std::move(d));
}

Status DemoWriter::WriteFile(const std::string& rel, const std::string& data, int64_t mtime) {
  std::string path = P(rel);
  MAESTRO_RETURN_IF_ERROR(env_->WriteStringToFile(path, data));
  bytes_ += data.size();
  return env_->SetMtime(path, mtime * 1000);
}

std::string DemoWriter::MetadataJson(const Doc& d) const {
  Rng r(d.text_seed ^ 0xabcdef);
  nlohmann::json j = {{"doc_id", d.id},
                      {"original_filename", d.filename},
                      {"title", d.title},
                      {"authors", d.authors},
                      {"journal_or_source", r.Pick(kJournals)},
                      {"publication_year", d.year},
                      {"abstract", Sentence(r, 300)},
                      {"keywords", {r.Pick(kWords), r.Pick(kWords), r.Pick(kWords)}}};
  return j.dump();
}

Status DemoWriter::WriteMain() {
  const std::string path = P("data/maestro.db");
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(path, true));
  MAESTRO_RETURN_IF_ERROR(CreateFreshSchema(db, StoreId::kMain, now_));
  MAESTRO_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=OFF; BEGIN"));
  Rng r(o_.seed ^ 0x5eed0001);
  const int64_t t0 = now_ - 200 * kDay;
  {
    MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare(
        "INSERT INTO users(id, username, email, hashed_password, full_name, created_at, updated_at, settings,"
        " is_admin, is_active, role, user_type) VALUES(?,?,?,?,?,?,?,?,?,1,?,'individual')"));
    for (int u = 1; u <= std::max(1, o_.users); ++u) {
      std::string first = r.Pick(kFirst), last = r.Pick(kLast);
      std::string uname = u == 1 ? "admin" : first + std::to_string(u);
      std::transform(uname.begin(), uname.end(), uname.begin(), ::tolower);
      std::string hash = "$2b$12$";
      static const char* b64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
      for (int i = 0; i < 53; ++i) hash += b64[r.Below(64)];
      st.Reset();
      st.Bind(1, int64_t{u}).Bind(2, uname).Bind(3, uname + "@example.org").Bind(4, hash)
          .Bind(5, first + " " + last).Bind(6, Timestamp(t0 + u * kHour)).Bind(7, Timestamp(t0 + u * kHour + kDay))
          .Bind(8, std::string(R"({"theme": "dark", "research_parameters": {"initial_research_max_depth": 2}})"))
          .Bind(9, int64_t{u == 1}).Bind(10, std::string(u == 1 ? "admin" : "user"));
      MAESTRO_RETURN_IF_ERROR(st.Run());
    }
  }
  {
    MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare(
        "INSERT INTO documents(id, user_id, original_filename, metadata_, created_at, updated_at,"
        " processing_status, upload_progress, processing_error, file_size, file_path) VALUES(?,?,?,?,?,?,?,?,?,?,?)"));
    MAESTRO_ASSIGN_OR_RETURN(Stmt job, db.Prepare(
        "INSERT INTO document_processing_jobs(id, document_id, user_id, job_type, status, progress, error_message,"
        " created_at, updated_at) VALUES(?,?,?,'process_document',?,?,?,?,?)"));
    for (const Doc& d : docs_) {
      if (!d.in_main) continue;
      const bool failed = d.status == kStatusFailed;
      const bool done = d.status == kStatusCompleted;
      int64_t progress = done || failed ? 100 : d.status == kStatusProcessing ? 40 : d.status == kStatusUploading ? 60 : 0;
      nlohmann::json meta = {{"title", d.title}, {"authors", d.authors}, {"publication_year", d.year}};
      st.Reset();
      st.Bind(1, d.id).Bind(2, d.user).Bind(3, d.filename).Bind(4, meta.dump()).Bind(5, Timestamp(d.created))
          .Bind(6, Timestamp(d.updated)).Bind(7, d.status).Bind(8, progress);
      if (failed) st.Bind(9, std::string("Processing failed: could not extract text from PDF"));
      else st.BindNull(9);
      st.Bind(10, static_cast<int64_t>(d.raw_bytes)).Bind(11, "/app/ai_researcher/data/raw_pdfs/" + d.RawRel());
      MAESTRO_RETURN_IF_ERROR(st.Run());
      job.Reset();
      job.Bind(1, r.Uuid()).Bind(2, d.id).Bind(3, d.user).Bind(4, d.status).Bind(5, progress);
      if (failed) job.Bind(6, std::string("could not extract text"));
      else job.BindNull(6);
      job.Bind(7, Timestamp(d.created)).Bind(8, Timestamp(d.updated));
      MAESTRO_RETURN_IF_ERROR(job.Run());
    }
  }
  {
    MAESTRO_ASSIGN_OR_RETURN(Stmt chat, db.Prepare(
        "INSERT INTO chats(id, user_id, title, created_at, updated_at, chat_type) VALUES(?,?,?,?,?,?)"));
    MAESTRO_ASSIGN_OR_RETURN(Stmt msg, db.Prepare(
        "INSERT INTO messages(id, chat_id, content, role, created_at) VALUES(?,?,?,?,?)"));
    MAESTRO_ASSIGN_OR_RETURN(Stmt mission, db.Prepare(
        "INSERT INTO missions(id, chat_id, user_request, status, mission_context, error_info, created_at,"
        " updated_at) VALUES(?,?,?,'completed','{}',NULL,?,?)"));
    MAESTRO_ASSIGN_OR_RETURN(Stmt log, db.Prepare(
        "INSERT INTO mission_execution_logs(id, mission_id, timestamp, agent_name, action, status,"
        " input_summary, output_summary) VALUES(?,?,?,?,?,'success',?,?)"));
    MAESTRO_ASSIGN_OR_RETURN(Stmt group, db.Prepare(
        "INSERT INTO document_groups(id, user_id, name, description, created_at, updated_at) VALUES(?,?,?,?,?,?)"));
    MAESTRO_ASSIGN_OR_RETURN(Stmt assoc, db.Prepare(
        "INSERT INTO document_group_association(document_id, document_group_id) VALUES(?,?)"));
    const char* agents[] = {"PlanningAgent", "ResearchAgent", "ReflectionAgent", "WritingAgent"};
    for (int u = 1; u <= std::max(1, o_.users); ++u) {
      for (int c = 0, nc = static_cast<int>(r.Range(2, 4)); c < nc; ++c) {
        std::string cid = r.Uuid();
        int64_t at = now_ - r.Range(1 * kDay, 90 * kDay);
        bool research = r.Below(3) != 0;
        chat.Reset();
        chat.Bind(1, cid).Bind(2, int64_t{u}).Bind(3, Sentence(r, 40)).Bind(4, Timestamp(at))
            .Bind(5, Timestamp(at + kHour)).Bind(6, std::string(research ? "research" : "writing"));
        MAESTRO_RETURN_IF_ERROR(chat.Run());
        for (int m = 0, nm = static_cast<int>(r.Range(4, 8)); m < nm; ++m) {
          msg.Reset();
          msg.Bind(1, r.Uuid()).Bind(2, cid).Bind(3, Sentence(r, static_cast<size_t>(r.Range(80, 600))))
              .Bind(4, std::string(m % 2 ? "assistant" : "user")).Bind(5, Timestamp(at + m * kMin));
          MAESTRO_RETURN_IF_ERROR(msg.Run());
        }
        if (research) {
          std::string mid = r.Uuid();
          mission.Reset();
          mission.Bind(1, mid).Bind(2, cid).Bind(3, Sentence(r, 120)).Bind(4, Timestamp(at)).Bind(5, Timestamp(at + kHour));
          MAESTRO_RETURN_IF_ERROR(mission.Run());
          for (int l = 0; l < 4; ++l) {
            log.Reset();
            log.Bind(1, r.Uuid()).Bind(2, mid).Bind(3, Timestamp(at + l * kMin)).Bind(4, std::string(agents[l]))
                .Bind(5, std::string("step")).Bind(6, Sentence(r, 60)).Bind(7, Sentence(r, 90));
            MAESTRO_RETURN_IF_ERROR(log.Run());
          }
        }
      }
      for (int g = 0, ng = static_cast<int>(r.Range(1, 2)); g < ng; ++g) {
        std::string gid = r.Uuid();
        int64_t at = now_ - r.Range(1 * kDay, 90 * kDay);
        group.Reset();
        group.Bind(1, gid).Bind(2, int64_t{u}).Bind(3, Sentence(r, 24)).Bind(4, Sentence(r, 60))
            .Bind(5, Timestamp(at)).Bind(6, Timestamp(at));
        MAESTRO_RETURN_IF_ERROR(group.Run());
        int k = 0;
        for (const Doc& d : docs_) {
          if (!d.in_main || d.user != u || d.status != kStatusCompleted || (k++ % 3) != g) continue;
          assoc.Reset();
          assoc.Bind(1, d.id).Bind(2, gid);
          MAESTRO_RETURN_IF_ERROR(assoc.Run());
        }
      }
    }
    MAESTRO_RETURN_IF_ERROR(db.Exec(
        "INSERT INTO system_settings(id, key, value, updated_at) VALUES"
        "(1, 'max_concurrent_documents', '2', '" + Timestamp(t0) + "'),"
        "(2, 'registration_enabled', 'true', '" + Timestamp(t0) + "')"));
  }
  MAESTRO_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return db.Close();
}

Status DemoWriter::WriteAi() {
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(P("ai_researcher/data/processed/metadata.db"), true));
  MAESTRO_RETURN_IF_ERROR(CreateFreshSchema(db, StoreId::kAi, now_));
  MAESTRO_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=OFF; BEGIN"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt st, db.Prepare(
      "INSERT INTO processed_documents(doc_id, original_filename, processing_timestamp, metadata_json) VALUES(?,?,?,?)"));
  for (const Doc& d : docs_) {
    if (!(d.parts & kAi)) continue;
    st.Reset();
    st.Bind(1, d.id).Bind(2, d.filename).Bind(3, Timestamp(d.updated)).Bind(4, MetadataJson(d));
    MAESTRO_RETURN_IF_ERROR(st.Run());
  }
  MAESTRO_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return db.Close();
}

// Chroma's own schema (as its migrations leave it, 0.5/0.6 era).
const char* kChromaSchema[][3] = {
    {"embeddings_queue", "00001-embeddings.sqlite.sql",
     "CREATE TABLE embeddings_queue (seq_id INTEGER PRIMARY KEY, created_at TIMESTAMP NOT NULL DEFAULT "
     "CURRENT_TIMESTAMP, operation INTEGER NOT NULL, topic TEXT NOT NULL, id TEXT NOT NULL, vector BLOB, "
     "encoding TEXT, metadata TEXT);"},
    {"embeddings_queue", "00002-embeddings-queue-config.sqlite.sql",
     "CREATE TABLE embeddings_queue_config (id INTEGER PRIMARY KEY, config_json_str TEXT);"},
    {"sysdb", "00001-collections.sqlite.sql",
     "CREATE TABLE collections (id TEXT PRIMARY KEY, name TEXT NOT NULL, dimension INTEGER, database_id TEXT "
     "NOT NULL REFERENCES databases(id) ON DELETE CASCADE, config_json_str TEXT, UNIQUE (name, database_id));"
     "CREATE TABLE collection_metadata (collection_id TEXT REFERENCES collections(id) ON DELETE CASCADE, key "
     "TEXT NOT NULL, str_value TEXT, int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY "
     "(collection_id, key));"},
    {"sysdb", "00002-segments.sqlite.sql",
     "CREATE TABLE segments (id TEXT PRIMARY KEY, type TEXT NOT NULL, scope TEXT NOT NULL, collection TEXT "
     "REFERENCES collection(id) NOT NULL);"
     "CREATE TABLE segment_metadata (segment_id TEXT REFERENCES segments(id) ON DELETE CASCADE, key TEXT NOT "
     "NULL, str_value TEXT, int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (segment_id, key));"},
    {"sysdb", "00003-tenants-databases.sqlite.sql",
     "CREATE TABLE tenants (id TEXT PRIMARY KEY, UNIQUE (id));"
     "CREATE TABLE databases (id TEXT PRIMARY KEY, name TEXT NOT NULL, tenant_id TEXT NOT NULL REFERENCES "
     "tenants(id) ON DELETE CASCADE, UNIQUE (tenant_id, name));"},
    {"sysdb", "00004-maintenance-log.sqlite.sql",
     "CREATE TABLE maintenance_log (id INT PRIMARY KEY, timestamp INT NOT NULL, operation TEXT NOT NULL);"},
    {"metadb", "00001-embedding-metadata.sqlite.sql",
     "CREATE TABLE embeddings (id INTEGER PRIMARY KEY, segment_id TEXT NOT NULL, embedding_id TEXT NOT NULL, "
     "seq_id BLOB NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, UNIQUE (segment_id, "
     "embedding_id));"
     "CREATE TABLE embedding_metadata (id INTEGER REFERENCES embeddings(id), key TEXT NOT NULL, string_value "
     "TEXT, int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (id, key));"
     "CREATE TABLE max_seq_id (segment_id TEXT PRIMARY KEY, seq_id BLOB NOT NULL);"},
    {"metadb", "00003-full-text-tokenize.sqlite.sql",
     "CREATE VIRTUAL TABLE embedding_fulltext_search USING fts5(string_value, tokenize='trigram');"},
    {"metadb", "00004-metadata-indices.sqlite.sql",
     "CREATE INDEX embedding_metadata_int_value ON embedding_metadata (key, int_value) WHERE int_value IS NOT NULL;"
     "CREATE INDEX embedding_metadata_float_value ON embedding_metadata (key, float_value) WHERE float_value IS "
     "NOT NULL;"
     "CREATE INDEX embedding_metadata_string_value ON embedding_metadata (key, string_value) WHERE string_value "
     "IS NOT NULL;"},
};

Status DemoWriter::WriteChroma() {
  const std::string dir = P("ai_researcher/data/vector_store");
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(JoinPath(dir, kChromaDbFile), true));
  // Bulk load: no rollback journal (a failed demo is thrown away), a cache
  // large enough for the index pages, and the metadata indexes built after the
  // rows (one sort instead of millions of random B-tree inserts).
  MAESTRO_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=OFF; PRAGMA journal_mode=OFF; PRAGMA cache_size=-262144; BEGIN"));
  MAESTRO_RETURN_IF_ERROR(db.Exec(
      "CREATE TABLE migrations (dir TEXT NOT NULL, version INTEGER NOT NULL, filename TEXT NOT NULL, sql TEXT NOT "
      "NULL, hash TEXT NOT NULL, PRIMARY KEY (dir, version));"
      "CREATE TABLE acquire_write (id INTEGER PRIMARY KEY, lock_status INTEGER NOT NULL);"));
  {
    MAESTRO_ASSIGN_OR_RETURN(Stmt mig, db.Prepare("INSERT INTO migrations VALUES(?,?,?,?,?)"));
    std::map<std::string, int64_t> version;
    for (const auto& m : kChromaSchema) {
      if (std::strstr(m[1], "metadata-indices") == nullptr) MAESTRO_RETURN_IF_ERROR(db.Exec(m[2]));
      int64_t v = ++version[m[0]];
      mig.Reset();
      mig.Bind(1, std::string(m[0])).Bind(2, v).Bind(3, std::string(m[1])).Bind(4, std::string(m[2]))
          .Bind(5, Xxh128(m[2]).Hex());
      MAESTRO_RETURN_IF_ERROR(mig.Run());
    }
  }
  Rng r(o_.seed ^ 0xc4a0a);
  const std::string db_id = "00000000-0000-0000-0000-000000000000";
  MAESTRO_RETURN_IF_ERROR(db.Exec(
      "INSERT INTO tenants VALUES('default_tenant');"
      "INSERT INTO databases VALUES('" + db_id + "', 'default_database', 'default_tenant');"
      "INSERT INTO embeddings_queue_config VALUES(1, '{\"automatically_purge\": true, \"_type\": "
      "\"EmbeddingsQueueConfigurationInternal\"}');"
      "INSERT INTO maintenance_log VALUES(0, " + std::to_string(now_ / kSec - 30 * 86400) + ", 'vacuum');"));

  struct Coll {
    const char* name;
    int dim;
    unsigned part;
    int per_chunk;
  };
  const int dense_per = o_.hnsw_bytes_per_chunk >= 0 ? o_.hnsw_bytes_per_chunk : kDenseDim * 4 + 132 + 8;
  const int sparse_per = o_.hnsw_bytes_per_chunk >= 0 ? o_.hnsw_bytes_per_chunk : 256 * 4 + 132 + 8;
  const Coll colls[] = {{kDenseCollection, kDenseDim, kDense, dense_per},
                        {kSparseCollection, kSparseDim, kSparse, sparse_per}};
  MAESTRO_ASSIGN_OR_RETURN(Stmt coll, db.Prepare("INSERT INTO collections VALUES(?,?,?,?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt cmeta, db.Prepare("INSERT INTO collection_metadata(collection_id, key, str_value) VALUES(?,?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt seg, db.Prepare("INSERT INTO segments VALUES(?,?,?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt emb, db.Prepare(
      "INSERT INTO embeddings(segment_id, embedding_id, seq_id, created_at) VALUES(?,?,?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt em_s, db.Prepare(
      "INSERT INTO embedding_metadata(id, key, string_value) VALUES(?,?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt em_i, db.Prepare(
      "INSERT INTO embedding_metadata(id, key, int_value) VALUES(?,?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt fts, db.Prepare("INSERT INTO embedding_fulltext_search(rowid, string_value) VALUES(?,?)"));
  MAESTRO_ASSIGN_OR_RETURN(Stmt maxseq, db.Prepare("INSERT INTO max_seq_id VALUES(?,?)"));
  int64_t seq = 0;
  for (const Coll& c : colls) {
    const std::string cid = r.Uuid(), vseg = r.Uuid(), mseg = r.Uuid();
    coll.Reset();
    coll.Bind(1, cid).Bind(2, std::string(c.name)).Bind(3, int64_t{c.dim}).Bind(4, db_id)
        .Bind(5, std::string(R"({"hnsw_configuration": {"space": "cosine", "ef_construction": 100, "ef_search": 100, "M": 16, "_type": "HNSWConfigurationInternal"}, "_type": "CollectionConfigurationInternal"})"));
    MAESTRO_RETURN_IF_ERROR(coll.Run());
    cmeta.Reset();
    cmeta.Bind(1, cid).Bind(2, std::string("hnsw:space")).Bind(3, std::string("cosine"));
    MAESTRO_RETURN_IF_ERROR(cmeta.Run());
    seg.Reset();
    seg.Bind(1, vseg).Bind(2, std::string(kHnswSegmentType)).Bind(3, std::string("VECTOR")).Bind(4, cid);
    MAESTRO_RETURN_IF_ERROR(seg.Run());
    seg.Reset();
    seg.Bind(1, mseg).Bind(2, std::string(kSqliteSegmentType)).Bind(3, std::string("METADATA")).Bind(4, cid);
    MAESTRO_RETURN_IF_ERROR(seg.Run());

    std::vector<std::string> ids;
    for (const Doc& d : docs_) {
      if (!(d.parts & c.part)) continue;
      Rng text(d.text_seed);
      for (int n = 0; n < o_.chunks_per_doc; ++n) {
        std::string eid = d.id + "_" + std::to_string(n);
        std::string chunk = Sentence(text, static_cast<size_t>(o_.chunk_bytes));
        emb.Reset();
        emb.Bind(1, mseg).Bind(2, eid).Bind(3, ++seq).Bind(4, Timestamp(d.updated).substr(0, 19));
        MAESTRO_RETURN_IF_ERROR(emb.Run());
        int64_t rowid = sqlite3_last_insert_rowid(db.raw());
        auto s = [&](const char* key, const std::string& v) {
          em_s.Reset();
          em_s.Bind(1, rowid).Bind(2, std::string(key)).Bind(3, v);
          return em_s.Run();
        };
        auto i = [&](const char* key, int64_t v) {
          em_i.Reset();
          em_i.Bind(1, rowid).Bind(2, std::string(key)).Bind(3, v);
          return em_i.Run();
        };
        MAESTRO_RETURN_IF_ERROR(s("doc_id", d.id));
        MAESTRO_RETURN_IF_ERROR(i("chunk_id", n));
        MAESTRO_RETURN_IF_ERROR(i("start_paragraph", 3 * n));
        MAESTRO_RETURN_IF_ERROR(i("end_paragraph", 3 * n + 2));
        MAESTRO_RETURN_IF_ERROR(s("original_filename", d.filename));
        MAESTRO_RETURN_IF_ERROR(s("title", d.title));
        MAESTRO_RETURN_IF_ERROR(i("publication_year", d.year));
        MAESTRO_RETURN_IF_ERROR(s("chroma:document", chunk));
        fts.Reset();
        fts.Bind(1, rowid).Bind(2, chunk);
        MAESTRO_RETURN_IF_ERROR(fts.Run());
        ids.push_back(std::move(eid));
      }
    }
    chunks_ = std::max<int64_t>(chunks_, static_cast<int64_t>(ids.size()));
    for (const std::string* s : {&mseg, &vseg}) {
      maxseq.Reset();
      maxseq.Bind(1, *s).Bind(2, seq);
      MAESTRO_RETURN_IF_ERROR(maxseq.Run());
    }
    MAESTRO_RETURN_IF_ERROR(WriteHnsw(vseg, c.dim, c.per_chunk, ids));
  }
  for (const auto& m : kChromaSchema)
    if (std::strstr(m[1], "metadata-indices") != nullptr) MAESTRO_RETURN_IF_ERROR(db.Exec(m[2]));
  MAESTRO_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return db.Close();
}

// A pickle (protocol 2) of {"dimension", "elements", "id_to_label", "label_to_id",
// "id_to_seq_id"}, the shape of Chroma's PersistentData.
std::string HnswPickle(int dim, const std::vector<std::string>& ids) {
  std::string p = "\x80\x02}(";
  auto str = [&](const std::string& s) {
    p += 'X';
    uint32_t n = static_cast<uint32_t>(s.size());
    p.append(reinterpret_cast<const char*>(&n), 4);
    p += s;
  };
  auto num = [&](int64_t v) {
    p += 'J';
    int32_t n = static_cast<int32_t>(v);
    p.append(reinterpret_cast<const char*>(&n), 4);
  };
  str("dimension");
  num(dim);
  str("elements");
  num(static_cast<int64_t>(ids.size()));
  str("id_to_label");
  p += "}(";
  for (size_t i = 0; i < ids.size(); ++i) {
    str(ids[i]);
    num(static_cast<int64_t>(i + 1));
  }
  p += "u";
  str("label_to_id");
  p += "}(";
  for (size_t i = 0; i < ids.size(); ++i) {
    num(static_cast<int64_t>(i + 1));
    str(ids[i]);
  }
  p += "u";
  str("id_to_seq_id");
  p += "}(";
  for (size_t i = 0; i < ids.size(); ++i) {
    str(ids[i]);
    num(static_cast<int64_t>(i + 1));
  }
  p += "uu.";
  return p;
}

Status DemoWriter::WriteHnsw(const std::string& seg_id, int dim, int per_chunk, const std::vector<std::string>& ids) {
  const std::string dir = P("ai_researcher/data/vector_store/" + seg_id);
  MAESTRO_RETURN_IF_ERROR(env_->CreateDir(dir));
  const uint64_t n = ids.size();
  // A valid hnswlib segment (engine/stores/hnsw_format.h), so that `check` finds it whole:
  // records of per_chunk bytes (at least hnswlib's 140 for M 16), no level-0
  // links, every 16th element one level up; vector bytes random (incompressible).
  const uint64_t min_per = MakeHnswHeader(0, 1).size_data_per_element;
  HnswHeader h = MakeHnswHeader(0, std::max<uint64_t>(n, 1000));
  h.size_data_per_element = std::max<uint64_t>(static_cast<uint64_t>(per_chunk), min_per);
  h.label_offset = h.size_data_per_element - 8;
  h.cur_element_count = n;
  h.max_level = n > 0 ? 1 : -1;
  h.enterpoint_node = n > 0 ? 0 : 0xFFFFFFFFu;
  (void)dim;
  const int64_t mt = now_ - 5 * kMin;
  MAESTRO_RETURN_IF_ERROR(WriteFile(JoinPath(dir, "header.bin").substr(root_.size() + 1), EncodeHnswHeader(h), mt));
  Rng r(Xxh64(seg_id) ^ o_.seed);
  std::unique_ptr<WritableFile> data;
  MAESTRO_RETURN_IF_ERROR(env_->NewWritableFile(JoinPath(dir, "data_level0.bin"), &data));
  std::string buf, lengths, links;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t at = buf.size();
    buf.resize(at + h.size_data_per_element);
    r.Fill(buf.data() + at, buf.size() - at);
    std::memset(buf.data() + at, 0, 4);  // level-0 link count 0, not deleted
    if (buf.size() >= (1 << 20) || i + 1 == n) {
      MAESTRO_RETURN_IF_ERROR(data->Append(buf));
      bytes_ += buf.size();
      buf.clear();
    }
    const float len = 1.0f + static_cast<float>(i % 7) / 8.0f;
    lengths.append(reinterpret_cast<const char*>(&len), sizeof(len));
    const uint32_t list = i % 16 == 0 ? static_cast<uint32_t>(h.links_per_level_bytes()) : 0;
    links.append(reinterpret_cast<const char*>(&list), sizeof(list));
    links.append(list, '\0');
  }
  MAESTRO_RETURN_IF_ERROR(data->Close());
  MAESTRO_RETURN_IF_ERROR(env_->SetMtime(JoinPath(dir, "data_level0.bin"), mt * 1000));
  MAESTRO_RETURN_IF_ERROR(WriteFile(JoinPath(dir, "length.bin").substr(root_.size() + 1), lengths, mt));
  MAESTRO_RETURN_IF_ERROR(WriteFile(JoinPath(dir, "link_lists.bin").substr(root_.size() + 1), links, mt));
  return WriteFile(JoinPath(dir, "index_metadata.pickle").substr(root_.size() + 1), HnswPickle(dim, ids), mt);
}

Status DemoWriter::WriteProcessedFiles() {
  for (const Doc& d : docs_) {
    if (d.parts & kMd) {
      Rng text(d.text_seed);
      std::string md = "# " + d.title + "\n\n**Authors:** ";
      for (size_t i = 0; i < d.authors.size(); ++i) md += (i ? ", " : "") + d.authors[i];
      md += "\n\n";
      for (int n = 0; n < o_.chunks_per_doc; ++n) {
        if (n % 3 == 0) md += "## Section " + std::to_string(n / 3 + 1) + "\n\n";
        md += Sentence(text, static_cast<size_t>(o_.chunk_bytes)) + "\n\n";
      }
      MAESTRO_RETURN_IF_ERROR(WriteFile("ai_researcher/data/processed/markdown/" + d.id + ".md", md, d.updated));
    }
    if (d.parts & kMeta)
      MAESTRO_RETURN_IF_ERROR(
          WriteFile("ai_researcher/data/processed/metadata/" + d.id + ".json", MetadataJson(d), d.updated));
  }
  return Status::OK();
}

std::string Pdf(const std::string& title, uint64_t size, Rng& r) {
  std::string out = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  std::vector<size_t> offsets;
  auto obj = [&](const std::string& body) {
    offsets.push_back(out.size());
    out += std::to_string(offsets.size()) + " 0 obj\n" + body + "\nendobj\n";
  };
  std::string text = "BT /F1 18 Tf 72 720 Td (" + title + ") Tj ET";
  obj("<< /Type /Catalog /Pages 2 0 R >>");
  obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
  obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>");
  obj("<< /Length " + std::to_string(text.size()) + " >>\nstream\n" + text + "\nendstream");
  obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  // An embedded (unreferenced) binary stream brings the file to its size, like
  // the compressed images of a real paper.
  const size_t tail = 200;
  size_t pad = size > out.size() + tail + 64 ? static_cast<size_t>(size) - out.size() - tail - 64 : 16;
  std::string blob(pad, '\0');
  r.Fill(blob.data(), blob.size());
  obj("<< /Length " + std::to_string(pad) + " /Filter /FlateDecode >>\nstream\n" + blob + "\nendstream");
  size_t xref = out.size();
  out += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
  char buf[32];
  for (size_t o : offsets) {
    std::snprintf(buf, sizeof(buf), "%010zu 00000 n \n", o);
    out += buf;
  }
  out += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return out;
}

Status DemoWriter::WriteRawFiles() {
  for (const Doc& d : docs_) {
    if (!(d.parts & kRaw)) continue;
    Rng r(d.text_seed ^ 0x9d9);
    std::string data;
    if (d.subdir == kWordSubdir) {
      data = "PK\x03\x04";
      data.resize(static_cast<size_t>(d.raw_bytes), '\0');
      r.Fill(data.data() + 4, data.size() - 4);
    } else if (d.subdir == kMarkdownUploadSubdir) {
      data = "# " + d.title + "\n\n" + Sentence(r, static_cast<size_t>(d.raw_bytes));
    } else {
      data = Pdf(d.title, d.raw_bytes, r);
    }
    MAESTRO_RETURN_IF_ERROR(WriteFile("ai_researcher/data/raw_pdfs/" + d.RawRel(), data, d.created));
  }
  return Status::OK();
}

// Directories get `now` as mtime, deepest first, so the tree is reproducible.
Status DemoWriter::FixMtimes(const std::string& dir) {
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(env_->ListDir(dir, &entries));
  for (const auto& e : entries)
    if (e.is_dir) MAESTRO_RETURN_IF_ERROR(FixMtimes(JoinPath(dir, e.name)));
  return env_->SetMtime(dir, now_ * 1000);
}

Result<DemoSummary> DemoWriter::Run() {
  Env* env = env_;
  now_ = (o_.now_micros ? o_.now_micros : env->NowMicros()) / kSec * kSec;
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(root_, &fi));
  if (fi.exists) {
    if (!fi.is_dir) return Status::InvalidArgument("demo directory " + root_ + " exists and is not a directory");
    std::vector<DirEntry> entries;
    MAESTRO_RETURN_IF_ERROR(env->ListDir(root_, &entries));
    if (!entries.empty())
      return Status::InvalidArgument("demo directory " + root_ + " is not empty: choose a new directory or remove it");
  }
  if (o_.documents < 0 || o_.users < 1 || o_.chunks_per_doc < 1 || o_.pdf_kib < 1 || o_.chunk_bytes < 16)
    return Status::InvalidArgument(
        "demo: --documents must be >= 0, --users, --chunks-per-doc and --pdf-kib >= 1, --chunk-bytes >= 16");
  for (const char* d : {"data", "ai_researcher/data/processed/markdown", "ai_researcher/data/processed/metadata",
                        "ai_researcher/data/vector_store", "ai_researcher/data/raw_pdfs/word_documents",
                        "ai_researcher/data/raw_pdfs/markdown_files"})
    MAESTRO_RETURN_IF_ERROR(env->CreateDirs(P(d)));

  Plan();
  MAESTRO_RETURN_IF_ERROR(WriteAi());
  MAESTRO_RETURN_IF_ERROR(WriteChroma());
  MAESTRO_RETURN_IF_ERROR(WriteProcessedFiles());

  // Raw file sizes: around --pdf-kib, or what is left of --target-bytes.
  uint64_t raw_files = 0;
  for (const Doc& d : docs_) raw_files += (d.parts & kRaw) ? 1 : 0;
  uint64_t avg = static_cast<uint64_t>(o_.pdf_kib) * 1024;
  if (o_.target_bytes > 0 && raw_files > 0) {
    uint64_t rest = o_.target_bytes > bytes_ ? o_.target_bytes - bytes_ : 0;
    avg = std::max<uint64_t>(rest / raw_files, 2048);
  }
  Rng sizes(o_.seed ^ 0x512e5);
  for (Doc& d : docs_)
    if (d.parts & kRaw) d.raw_bytes = avg / 2 + static_cast<uint64_t>(sizes.Below(static_cast<int64_t>(avg) + 1));
  MAESTRO_RETURN_IF_ERROR(WriteRawFiles());
  MAESTRO_RETURN_IF_ERROR(WriteMain());

  for (const char* f : {"data/maestro.db", "ai_researcher/data/processed/metadata.db",
                        "ai_researcher/data/vector_store/chroma.sqlite3"}) {
    MAESTRO_RETURN_IF_ERROR(env->Stat(P(f), &fi));
    bytes_ += fi.size;
    MAESTRO_RETURN_IF_ERROR(env->SetMtime(P(f), now_ * 1000));
  }
  MAESTRO_RETURN_IF_ERROR(FixMtimes(root_));

  DemoSummary s;
  s.root = root_;
  s.users = o_.users;
  for (const Doc& d : docs_) {
    s.documents += d.in_main ? 1 : 0;
    s.raw_files += (d.parts & kRaw) ? 1 : 0;
  }
  s.chunks = chunks_;
  s.bytes = bytes_;
  s.planted = planted_;
  std::sort(s.planted.begin(), s.planted.end(), [](const PlantedIssue& a, const PlantedIssue& b) {
    return std::make_tuple(a.doc_id, static_cast<int>(a.store), static_cast<int>(a.kind)) <
           std::make_tuple(b.doc_id, static_cast<int>(b.store), static_cast<int>(b.kind));
  });
  return s;
}

}  // namespace

Result<DemoSummary> CreateDemo(Env* env, const std::string& dir, const DemoOptions& opts) {
  std::string root = NormalizePath(dir);
  if (root.empty() || root[0] != '/') {
    char buf[4096];
    if (::getcwd(buf, sizeof(buf))) root = NormalizePath(JoinPath(buf, dir));
  }
  DemoWriter w(env, root, opts);
  return w.Run();
}

}  // namespace maestro
