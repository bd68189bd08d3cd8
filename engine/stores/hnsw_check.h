// engine/stores/hnsw_check.h — is each HNSW segment of a Chroma directory whole?
//
// Chroma's HNSW files can be damaged while chroma.sqlite3 passes integrity_check:
// a flush interrupted half-way truncates data_level0.bin, length.bin fills with
// garbage, link_lists.bin grows without bound. CheckHnswStore reads every VECTOR
// segment listed in chroma.sqlite3 and checks (layout: engine/stores/hnsw_format.h):
//   header.bin       exactly 100 bytes, coherent fields (HnswHeaderProblem)
//   data_level0.bin  holds cur_element_count records; each record's level-0 link
//                    count is at most maxM0 (its deleted marks are counted)
//   length.bin       holds cur_element_count floats, each finite and >= 0
//   link_lists.bin   the element-by-element walk fits the file exactly (a list
//                    size that is not a whole number of levels, or above
//                    max_level, is damage; bytes beyond the walk: oversized)
//   element count    live elements (written - deleted) against the embeddings of
//                    the collection's METADATA segment in chroma.sqlite3; each
//                    queued operation not yet applied to the index (seq_id above
//                    the VECTOR segment's max_seq_id) may account for one of
//                    difference
// A segment whose folder does not exist is fine while Chroma never flushed it
// (no max_seq_id row: Chroma rebuilds it from the queue); after a flush it is damage.
//
// Each problem is one HnswFinding naming collection, segment and file; the repair
// is always the same: restore the vector store from a snapshot. Reads only
// (chroma.sqlite3 through Db::OpenReadOnly, the segment files by pread in 1 MiB
// windows: a check reads each data_level0.bin once). Thread-compatible.
// Failure: a chroma.sqlite3 that cannot be read (Status naming it); unreadable
// segment files are findings, not errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/stores/hnsw_format.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

inline constexpr const char* kHnswDamagedKind = "hnsw_damaged";
inline constexpr const char* kHnswDamagedRepair =
    "restore the vector store from a snapshot taken before the damage: "
    "maestro-db snap restore ID --store vector (stop the app first; `snap list` shows the IDs)";

struct HnswFinding {
  std::string collection;  // collection name ("" when the segment names none)
  std::string segment;     // the VECTOR segment's id (its folder's name)
  std::string file;        // header.bin, data_level0.bin, length.bin, link_lists.bin, or "" (the folder)
  std::string detail;      // what is wrong, with the numbers
};

struct HnswSegmentSummary {
  std::string collection;
  std::string segment;
  bool folder = false;        // the segment folder exists
  int64_t elements = 0;       // header cur_element_count
  int64_t deleted = 0;        // records marked deleted
  int64_t embeddings = 0;     // rows of the collection's METADATA segment
  int64_t pending = 0;        // queued operations not yet in the index
};

struct HnswCheckReport {
  std::vector<HnswFinding> findings;
  std::vector<HnswSegmentSummary> segments;
  bool ok() const { return findings.empty(); }
};

// vector_dir: the vector store folder (holding chroma.sqlite3). A folder
// without chroma.sqlite3 yields an empty report.
Result<HnswCheckReport> CheckHnswStore(Env* env, const std::string& vector_dir);

// The file-level checks of one segment folder (no chroma.sqlite3 needed);
// summary->elements and ->deleted are filled when the header is readable.
// Returns the findings (collection/segment left to the caller).
std::vector<HnswFinding> CheckHnswSegmentFiles(Env* env, const std::string& segment_dir, HnswSegmentSummary* summary);

}  // namespace maestro
