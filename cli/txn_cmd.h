// cli/txn_cmd.h — what the transaction commands (reset, cleanup, recover,
// snap restore in place) share: the report they print, the live-app refusal,
// the purge of the trash their finishing steps leave; and one Register function
// per command of the group, each in its own file (cli/<command>_cmd.cc).
// Parsing and printing only: the work is engine/txn/.
#pragma once

#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/app_flags.h"
#include "cli/context.h"
#include "engine/stores/layout.h"
#include "engine/txn/txn.h"
#include "util/status.h"

namespace maestro {

// The --json report of a finished transaction, and its lines on stdout.
nlohmann::json ReportJson(const TxnReport& r);
void PrintReport(const CliContext& ctx, const TxnReport& r);

// Refuses stores that are mount points, and (unless the app is stopped around
// the run, or --force) stores another process holds open.
Status RefuseWhileLive(CliContext& ctx, const Layout& layout, const std::vector<StoreId>& stores, bool force,
                       const AppRun& app = {});

std::vector<StoreId> AllStoreIds();

// After a transaction: deletes what its finishing steps moved to trash, as
// MAESTRO_DB_PURGE says (see cli/txn_cmd.cc). Returns JSON for the report.
nlohmann::json PurgeAfterTransaction(CliContext& ctx, const Layout& layout);

// One per command (file): cli/reset_cmd.cc, cli/cleanup_cmd.cc, cli/recover_cmd.cc,
// cli/journal_cmd.cc, cli/purge_trash_cmd.cc, cli/debug_cmd.cc, cli/original_cmd.cc.
void RegisterResetCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterCleanupCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterRecoverCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterJournalCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterPurgeTrashCommand(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterDebugCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterOriginalCommands(CLI::App& app, CliContext& ctx, int* exit_code);

}  // namespace maestro
