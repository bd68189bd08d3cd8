// snapshot/run_sorter.h — external merge sort of fixed-size records into a
// sorted table (snapshot/sorted_table.h), one record per key: the one added
// first wins (so index entries added in index-file name order keep LoadIndex's
// rule: the first entry of a blob).
//
// Records are kept in memory up to about memory_budget bytes (plus 4 bytes a
// record while a run is sorted); past it each batch is sorted, its duplicate
// keys dropped (the first kept), and written as a run file in the scratch
// area. Finish merges the runs (earlier runs win a tie) into the table, each
// run read through a buffer of at most 64 KiB, and removes them.
//
// One thread at a time. Errors (a full disk) are returned by Add and Finish;
// the scratch area is the only place written.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "snapshot/scratch_area.h"
#include "snapshot/sorted_table.h"

namespace maestro {

class RunSorter {
 public:
  RunSorter(ScratchArea* area, size_t record_size, size_t memory_budget);
  ~RunSorter();  // removes run files left by a failure
  RunSorter(const RunSorter&) = delete;
  RunSorter& operator=(const RunSorter&) = delete;

  Status Add(const char* rec);
  // Every key once, ascending, into out (opened, not finished). The sorter is
  // empty afterwards.
  Status Finish(TableWriter* out);
  size_t runs() const { return runs_.size(); }

 private:
  // The indexes of buf_'s records by key, the first of each key only.
  std::vector<uint32_t> SortedUnique() const;
  Status SpillRun();
  Status Merge(TableWriter* out);

  ScratchArea* area_;
  const size_t record_size_, budget_;
  std::string buf_;
  std::vector<std::string> runs_;
};

}  // namespace maestro
