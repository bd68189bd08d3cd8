// util/status.h — the one error type of maestro-db.
//
// A Status is either OK or carries a Code and a message that tells the story:
// which file, which store, which snapshot, and what the user can do next.
// Named constructors follow leveldb (Status::Corruption(msg, msg2)).
//
// The CLI maps each Code to a process exit status in exactly one place
// (cli/exit_codes.h); the numbers are documented in README.md.
//
// Result<T> carries a value or a non-OK Status. Both are cheap to move and
// are not thread-safe to share mutably (like any value type).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace maestro {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad flag, bad id, bad config: the user must change the call
    kNotFound,         // root, store, snapshot or record that does not exist
    kCorruption,       // bytes on disk fail a checksum or do not decode
    kBusy,             // lock held by another process, store file open by the app
    kUnfinished,       // an unfinished transaction must be recovered first
    kIoError,          // errno from the OS (ENOSPC, EIO, EACCES...)
    kBadStore,         // a store exists but is not what it should be (garbage, missing tables)
    kAborted,          // the user declined a confirmation or a signal stopped the work
    kInternal,         // a bug: an invariant did not hold
    kWrongPassword,    // no key of an encrypted repository opens with the password given
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m, const std::string& m2 = "") { return Status(Code::kInvalidArgument, Join(std::move(m), m2)); }
  static Status NotFound(std::string m, const std::string& m2 = "") { return Status(Code::kNotFound, Join(std::move(m), m2)); }
  static Status Corruption(std::string m, const std::string& m2 = "") { return Status(Code::kCorruption, Join(std::move(m), m2)); }
  static Status Busy(std::string m, const std::string& m2 = "") { return Status(Code::kBusy, Join(std::move(m), m2)); }
  static Status Unfinished(std::string m, const std::string& m2 = "") { return Status(Code::kUnfinished, Join(std::move(m), m2)); }
  static Status IoError(std::string m, const std::string& m2 = "") { return Status(Code::kIoError, Join(std::move(m), m2)); }
  static Status BadStore(std::string m, const std::string& m2 = "") { return Status(Code::kBadStore, Join(std::move(m), m2)); }
  static Status Aborted(std::string m, const std::string& m2 = "") { return Status(Code::kAborted, Join(std::move(m), m2)); }
  static Status Internal(std::string m, const std::string& m2 = "") { return Status(Code::kInternal, Join(std::move(m), m2)); }
  static Status WrongPassword(std::string m, const std::string& m2 = "") { return Status(Code::kWrongPassword, Join(std::move(m), m2)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsIoError() const { return code_ == Code::kIoError; }
  // errno of an IoError (0 if none recorded); lets callers tell ENOSPC apart.
  int err_no() const { return errno_; }
  Status& WithErrno(int e) { errno_ = e; return *this; }
  // A refusal: the other side declined the operation on purpose and left the
  // object as it was (an append-only remote refusing a delete). Typed, so a
  // caller for which the operation was optional goes on without reading the
  // message; Annotate keeps it.
  bool IsRefused() const { return refused_; }
  Status& MarkRefused() { refused_ = true; return *this; }

  // "corruption: <message>"
  std::string ToString() const;
  static const char* CodeName(Code c);

  // Prefix more context: st.Annotate("snapshot 20250101_000000") -> "snapshot ...: <old>".
  Status Annotate(const std::string& context) const;

  // Drops this status on purpose. Status is [[nodiscard]]: a result is checked,
  // or dropped through this call, whose argument says why ignoring it is right
  // (e.g. "best-effort cleanup on an error path: the first error is returned").
  void IgnoreError(const char* why) const { (void)why; }

 private:
  Status(Code c, std::string m) : code_(c), msg_(std::move(m)) {}
  static std::string Join(std::string a, const std::string& b) { return b.empty() ? a : a + ": " + b; }
  Code code_ = Code::kOk;
  std::string msg_;
  int errno_ = 0;
  bool refused_ = false;
};

// Prints "maestro-db: internal error: value() of an error Result: <status>" to
// stderr and aborts: reading an error as a value is a bug, in every build type.
[[noreturn]] void DieOnValueOfError(const Status& s);

// value() (and -> and *) of an error Result aborts through DieOnValueOfError,
// in every build type (not an assert: release builds define NDEBUG). A Result
// built from an OK Status holds no value: it becomes an Internal error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : value_(std::move(v)) {}                  // NOLINT: implicit by design
  Result(Status s) : status_(std::move(s)) {             // NOLINT
    if (status_.ok()) status_ = Status::Internal("a Result was made from an OK Status without a value");
  }
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Drops this result on purpose; `why` says why that is right (see Status).
  void IgnoreError(const char* why) const { status_.IgnoreError(why); }
  T& value() & { CheckOk(); return *value_; }
  const T& value() const& { CheckOk(); return *value_; }
  T&& value() && { CheckOk(); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void CheckOk() const {
    if (!ok()) DieOnValueOfError(status_);
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace maestro

// Return early on error; keeps call sites flat.
#define MAESTRO_RETURN_IF_ERROR(expr)          \
  do {                                         \
    ::maestro::Status _st = (expr);            \
    if (!_st.ok()) return _st;                 \
  } while (0)

#define MAESTRO_CONCAT_INNER(a, b) a##b
#define MAESTRO_CONCAT(a, b) MAESTRO_CONCAT_INNER(a, b)
#define MAESTRO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
// MAESTRO_ASSIGN_OR_RETURN(auto x, Foo());
#define MAESTRO_ASSIGN_OR_RETURN(lhs, expr) \
  MAESTRO_ASSIGN_OR_RETURN_IMPL(MAESTRO_CONCAT(_res_, __LINE__), lhs, expr)
