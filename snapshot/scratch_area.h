// snapshot/scratch_area.h — a private folder for one object's scratch files
// (the sorted runs and tables of snapshot/sorted_table.h), made under a
// repository's local cache/ folder the first time it is needed and removed
// with the object.
//
// Each area is "<parent>/work-<pid>-<n>-<micros>" beside a lock file
// "<same>.lock" that its owner holds (Env::TryLockFile) for its whole life.
// Opening an area first removes the folders of owners that are gone (their
// lock is free), so a killed process leaves nothing for longer than until the
// next one. Several processes (a reader beside a writer) each keep their own.
// The last area to end removes the parent folder too, so a repository holds no
// empty cache/ between runs (it would count as repository growth: 4 KiB of
// directory).
// Nothing here is part of the repository: losing the folder loses nothing.
//
// One thread at a time.
#pragma once

#include <memory>
#include <string>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

class ScratchArea {
 public:
  ScratchArea(Env* env, std::string parent) : env_(env), parent_(std::move(parent)) {}
  ~ScratchArea();  // removes the folder, and the parent if left empty (errors are ignored: the next Open removes it)
  ScratchArea(const ScratchArea&) = delete;
  ScratchArea& operator=(const ScratchArea&) = delete;

  // Makes the folder (once; later calls are no-ops). The error names the
  // folder and says what to do (a full or read-only disk).
  Status Open();
  // A new file name inside the folder (after Open), "<stem>-<n>".
  std::string NewPath(const std::string& stem);
  Env* env() const { return env_; }
  const std::string& parent() const { return parent_; }

 private:
  Status TryOpen();  // one attempt of Open, errors not annotated
  Status RemoveStale();

  Env* env_;
  std::string parent_;
  std::string dir_;
  std::unique_ptr<FileLock> lock_;
  uint64_t next_ = 0;
};

}  // namespace maestro
