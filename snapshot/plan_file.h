// snapshot/plan_file.h — Create's plan of a snapshot, kept in a file in the
// repository's local tmp/ instead of memory (issue 14 point 2): the walk
// writes every store's entries to it in listing order, the reading step reads
// them back a batch at a time.
//
// Format (private to one Create, never kept): per entry u32 length, then the
// entry in the tree-blob encoding (snapshot/tree.h EncodeTreeEntry). Written
// and read through Env, buffered (64 KiB). Not fsynced: a crash leaves it in
// tmp/, which the next writer clears (snapshot/leftovers.h). One thread each.
#pragma once

#include <memory>
#include <string>

#include "snapshot/repository.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

class PlanWriter {
 public:
  PlanWriter(Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  Status Open();
  Status Add(const ManifestFile& f);
  Status Close();  // writes what is buffered
  const std::string& path() const { return path_; }

 private:
  Env* env_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::string buf_;
};

class PlanReader {
 public:
  PlanReader(Env* env, std::string path) : env_(env), path_(std::move(path)) {}
  Status Open();
  // The next entry into *f; false at the end or on an error (status() says).
  bool Next(ManifestFile* f);
  // Passes over the next n entries unread (a reader that starts at a later
  // store): length prefixes only. Corruption when the plan ends first.
  Status Skip(uint64_t n);
  Status status() const { return status_; }

 private:
  bool Want(size_t n);  // at least n unread bytes buffered; false at the end or on an error

  Env* env_;
  std::string path_;
  std::unique_ptr<SequentialFile> file_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  Status status_;
};

}  // namespace maestro
