// tests/memory_backend.h — a Backend held in memory, for tests that need to
// reach into stored objects (flip a byte, rename one) and to fail a call on
// purpose. Thread-safe (one mutex). Header-only.
#pragma once

#include <map>
#include <mutex>
#include <utility>

#include "snapshot/backend.h"

namespace maestro::testing {

class MemoryBackend : public Backend {
 public:
  std::string Location() const override { return "mem:"; }

  Status Put(ObjectKind kind, const std::string& name, std::string_view data) override {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_puts_) return Status::IoError("mem: put of " + name + " refused (test)");
    objects_[{kind, name}] = std::string(data);
    return Status::OK();
  }
  Status NewWriter(ObjectKind, const std::string& name, std::unique_ptr<ObjectWriter>*) override {
    return Status::Internal("mem: NewWriter(" + name + ") is not used by these tests");
  }
  Status Get(ObjectKind kind, const std::string& name, std::string* out) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find({kind, name});
    if (it == objects_.end()) return Status::NotFound("mem: no object " + name);
    *out = it->second;
    return Status::OK();
  }
  Status ReadAt(ObjectKind kind, const std::string& name, uint64_t offset, size_t n, std::string* out) override {
    std::string all;
    MAESTRO_RETURN_IF_ERROR(Get(kind, name, &all));
    *out = offset >= all.size() ? std::string() : all.substr(offset, n);
    return Status::OK();
  }
  Status Stat(ObjectKind kind, const std::string& name, ObjectInfo* info) override {
    std::string all;
    MAESTRO_RETURN_IF_ERROR(Get(kind, name, &all));
    info->name = name;
    info->size = all.size();
    return Status::OK();
  }
  Status List(ObjectKind kind, std::vector<ObjectInfo>* out) override {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [k, v] : objects_)
      if (k.first == kind) out->push_back({k.second, v.size()});
    return Status::OK();
  }
  Status Remove(ObjectKind kind, const std::string& name) override {
    std::lock_guard<std::mutex> l(mu_);
    if (fail_removes_) return remove_failure_.Annotate("mem: " + name);
    objects_.erase({kind, name});
    return Status::OK();
  }

  // Test hooks.
  // Remove fails: by default as an append-only target refuses (IsRefused), or with `failure`.
  void FailRemoves(bool on, Status failure = Status::IoError("the server refused to delete it (test)").MarkRefused()) {
    std::lock_guard<std::mutex> l(mu_);
    fail_removes_ = on;
    remove_failure_ = std::move(failure);
  }
  void FailPuts(bool on) { std::lock_guard<std::mutex> l(mu_); fail_puts_ = on; }
  std::string& Raw(ObjectKind kind, const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    return objects_[{kind, name}];
  }
  void Rename(ObjectKind kind, const std::string& from, const std::string& to) {
    std::lock_guard<std::mutex> l(mu_);
    std::string v = std::move(objects_[{kind, from}]);
    objects_.erase({kind, from});
    objects_[{kind, to}] = std::move(v);
  }
  size_t Count(ObjectKind kind) {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    for (const auto& kv : objects_) n += kv.first.first == kind;
    return n;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<ObjectKind, std::string>, std::string> objects_;
  bool fail_removes_ = false;
  Status remove_failure_;
  bool fail_puts_ = false;
};

}  // namespace maestro::testing
