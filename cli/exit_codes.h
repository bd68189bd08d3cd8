// cli/exit_codes.h — the one place error kinds become process exit codes.
// Documented in README.md ("Exit codes"); scripts depend on them, never renumber.
#pragma once

#include "util/status.h"

namespace maestro {

enum ExitCode : int {
  kExitOk = 0,
  kExitIssuesFound = 1,    // check/verify/migrate validate found problems (the data is readable)
  kExitUsage = 2,          // bad flags or arguments
  kExitNotFound = 3,       // root, store, snapshot or transaction not found
  kExitCorruption = 4,     // repository or journal bytes fail their checksums
  kExitBusy = 5,           // repository lock held, a reader met a running GC, or a store file is open elsewhere
  kExitUnfinished = 6,     // an unfinished transaction: run `maestro-db recover`
  kExitIoError = 7,        // the OS refused (disk full, EIO, permission)
  kExitBadStore = 8,       // a store is not what it should be (garbage, missing tables)
  kExitAborted = 9,        // the user said no, or a signal stopped the work (rolled back)
  kExitWrongPassword = 10, // an encrypted repository: no key opens with the password given
  kExitInternal = 70,      // a bug: please report it
};

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kInvalidArgument: return kExitUsage;
    case Status::Code::kNotFound: return kExitNotFound;
    case Status::Code::kCorruption: return kExitCorruption;
    case Status::Code::kBusy: return kExitBusy;
    case Status::Code::kUnfinished: return kExitUnfinished;
    case Status::Code::kIoError: return kExitIoError;
    case Status::Code::kBadStore: return kExitBadStore;
    case Status::Code::kAborted: return kExitAborted;
    case Status::Code::kInternal: return kExitInternal;
    case Status::Code::kWrongPassword: return kExitWrongPassword;
  }
  return kExitInternal;
}

}  // namespace maestro
