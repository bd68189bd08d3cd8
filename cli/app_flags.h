// cli/app_flags.h — `--stop-app` / `--no-stop-app` on the commands that change
// stores (reset, cleanup, in-place `snap restore`, `migrate up/down`), and the
// [app] config section behind them (issue 16 point 3; engine/txn/app_control.h).
//
// Config keys (docs/config.md):
//   [app] stop = CMD         shell command that stops the app
//         start = CMD        shell command that starts it again
//         stop_app = true    stop it around every such command without --stop-app
//         stop_timeout = 120 seconds to wait, after stop, until no process holds a store file
//         command_timeout = 300  seconds each command may run
// For a compose install, stop/start default to `docker compose -f <file> stop|start
// <the services that mount the data>`. --stop-app without commands (no [app] and
// no compose install) is InvalidArgument naming what to set.
//
// A command calls ResolveAppRun once, after it planned and before it opens its
// transaction; the AppRun then adds the app to the journaled args and the builder.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/txn/app_control.h"
#include "engine/stores/layout.h"
#include "engine/migrate/migrate.h"
#include "engine/txn/migrate_txn.h"
#include "engine/txn/txn.h"
#include "util/status.h"

namespace maestro {

class CliContext;

struct AppFlags {
  bool stop = false;     // --stop-app
  bool no_stop = false;  // --no-stop-app
};
void AddAppFlags(CLI::App* sub, AppFlags* flags);

// What one run does about the app.
struct AppRun {
  std::optional<AppControl> app;
  bool stops() const { return app.has_value(); }
  nlohmann::json Args(nlohmann::json args) const { return app ? AddAppControlArgs(std::move(args), *app) : args; }
  TxnBuilder Builder(TxnBuilder b) const { return app ? WithAppControl(std::move(b)) : b; }
};

// watch: the files the app must let go of (WatchedStoreFiles of the stores changed).
Result<AppRun> ResolveAppRun(CliContext& ctx, const std::vector<std::string>& watch);

// `migrate up/down`: RunMigrateTransaction, or the same transaction with the app stopped.
Status RunMigrateWithApp(CliContext& ctx, TxnServices& svc, const MigrationPlan& plan, TxnReport* report);

// One line for the user before the transaction ("stopping the app: ..."), "" when it does not stop.
std::string DescribeAppRun(const AppRun& run);

}  // namespace maestro
