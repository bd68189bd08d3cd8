// engine/txn/reset.h — `maestro-db reset`: every store emptied together, as one
// journaled transaction (engine/txn/txn.h).
//
// The plan, per store: build the empty replacement beside it
// ("<path>.maestro-new-<txn>": main and ai get a fresh schema from
// engine/migrate/schema.h CreateFreshSchema; vector, pdfs, markdown, metadata an empty
// directory with the old directory's mode), then swap: the store (with its
// -wal/-shm/-journal) is renamed aside and the replacement renamed in. After the
// commit record the asides are deleted. Before it, rollback renames them back.
// The pre-reset snapshot (trigger "pre-reset") is taken and verified before the
// first step. A store that was missing is created empty (a reset leaves a
// complete, consistent, empty install).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "engine/txn/txn.h"

namespace maestro {

inline constexpr const char* kResetKind = "reset";
inline constexpr const char* kResetTrigger = "pre-reset";

// The journaled arguments: every store's path, kind and presence now.
nlohmann::json ResetArgs(const Layout& layout);
// Builds the steps from the args (deterministic; used by run and recovery).
Result<TxnPlan> BuildResetPlan(const TxnContext& ctx);
// What reset will do, one line per store (for --dry-run and the confirmation).
std::vector<std::string> DescribeReset(const Layout& layout);

}  // namespace maestro
