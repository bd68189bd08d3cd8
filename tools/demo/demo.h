// tools/demo/demo.h — writes a realistic MAESTRO install for demos, tests and
// benchmarks (`maestro-db demo create DIR`).
//
// The install mimics the app's Docker root (/app): data/maestro.db and
// ai_researcher/data/{processed/metadata.db, vector_store/, raw_pdfs/,
// processed/markdown/, processed/metadata/}. main and ai get their schema from
// engine/migrate/schema.h CreateFreshSchema (the schema reset uses); vector is a
// ChromaDB directory with Chroma's own tables, two collections
// (research_papers_dense 1024-d, research_papers_sparse), a VECTOR and a
// METADATA segment each, embeddings "{doc_id}_{n}" with metadata, FTS rows and
// HNSW segment directories whose files are sized like real ones.
//
// Determinism: the same options (seed, now, sizes) give byte-identical files
// with identical mtimes (every file and directory gets an mtime derived from
// `now`), so two runs compare equal with tests/test_util.h TreeDigest.
//
// Consistency: without `inconsistent`, `check` at `now` (and for about an hour
// after: processing documents are at most 50 minutes old) finds nothing. With
// it, at least two cases of every IssueKind are planted and `planted` lists
// exactly the issues check must report (doc id, store, kind).
//
// Failure: DIR must not exist or be an empty directory (InvalidArgument
// otherwise; nothing is written). A failure half-way leaves a partial DIR the
// caller removes; demo data is never written durably (no fsync).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/stores/check.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

struct DemoOptions {
  int users = 3;
  int documents = 50;
  int chunks_per_doc = 6;
  int pdf_kib = 32;           // average raw file size (files vary 0.5x..1.5x)
  uint64_t seed = 1;
  bool inconsistent = false;
  int64_t now_micros = 0;     // the install's "now"; 0 = wall clock
  // When > 0, raw file sizes are scaled so the install totals about this many
  // bytes (overrides pdf_kib; other stores keep their natural sizes).
  uint64_t target_bytes = 0;
  int chunk_bytes = 400;      // text per chunk
  // Bytes per chunk in each HNSW data_level0.bin (at least 140, hnswlib's record for
  // M 16 with no vector); -1 = like Chroma
  // (dense: 1024*4 + links + label = 4236; sparse: sized as 256-d = 1164).
  int hnsw_bytes_per_chunk = -1;
};

struct PlantedIssue {
  std::string doc_id;
  StoreId store;
  IssueKind kind;
};

struct DemoSummary {
  std::string root;
  int64_t users = 0, documents = 0, chunks = 0;  // chunks per collection
  int64_t raw_files = 0;
  uint64_t bytes = 0;  // total bytes written
  std::vector<PlantedIssue> planted;  // sorted by doc_id, store, kind
};

// Every file is written through env.
Result<DemoSummary> CreateDemo(Env* env, const std::string& dir, const DemoOptions& opts);

}  // namespace maestro
