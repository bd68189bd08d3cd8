#include "util/status.h"

#include <cstdio>
#include <cstdlib>

namespace maestro {

const char* Status::CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kCorruption: return "corruption";
    case Code::kBusy: return "busy";
    case Code::kUnfinished: return "unfinished transaction";
    case Code::kIoError: return "I/O error";
    case Code::kBadStore: return "bad store";
    case Code::kAborted: return "aborted";
    case Code::kInternal: return "internal error";
    case Code::kWrongPassword: return "wrong password";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + msg_;
}

Status Status::Annotate(const std::string& context) const {
  if (ok()) return *this;
  Status s(code_, context + ": " + msg_);
  s.errno_ = errno_;
  s.refused_ = refused_;
  return s;
}

void DieOnValueOfError(const Status& s) {
  std::fprintf(stderr, "maestro-db: internal error: value() of an error Result: %s\n", s.ToString().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace maestro
