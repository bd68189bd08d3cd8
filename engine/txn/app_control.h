// engine/txn/app_control.h — stop the app before a transaction changes its stores,
// start it again afterwards, as journaled steps (issue 16 point 3).
//
// Words:
//   stop / start   shell commands (`[app] stop = …`, `start = …`; for a compose
//                  install `docker compose -f DIR/docker-compose.yml stop backend
//                  doc-processor` and `… start …`), run with /bin/sh -c, stdin
//                  /dev/null, their output on our stderr
//   watch          the store files and folders that must be free (no process
//                  holding one open, the live-app guard of engine/stores/live_check.h)
//                  before the transaction's snapshot
//
// A transaction with app control carries an "app" object in its journaled args
// (AddAppControlArgs). WithAppControl(builder) turns such args into two more steps
// of the same journaled plan (engine/txn/txn.h):
//   "app.stop"   step 0, run before the snapshot (TxnPlan::before_snapshot): the
//                stop command, then a bounded wait (wait_seconds) until nothing
//                holds a watched file. Undo: the start command.
//   "app.start"  the last finishing step (after the commit): the start command.
// So the app is started again after a commit, after a rollback (a failing step, a
// failing snapshot, a stop that timed out: app.stop is undone last), and after a
// crash anywhere in between: `recover` rolls back (undo of app.stop) or forward
// (app.start), whichever the journal says. A start command that fails leaves the
// transaction unfinished (the stores are already as the outcome says); `recover`
// runs it again. Args without "app" build exactly the inner plan.
//
// Failure: a stop or start command that exits non-zero or outlives
// command_seconds is IoError naming the command and its exit; a wait that runs
// out is Busy naming the holders and the setting to raise. Crash point
// "app.after_stop" sits after the stop and its wait, before the step is journaled
// done. Not thread-safe (runs child processes, blocks).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/stores/layout.h"
#include "engine/stores/live_check.h"
#include "engine/txn/txn.h"
#include "util/status.h"

namespace maestro {

struct AppControl {
  std::string stop;
  std::string start;
  int64_t wait_seconds = 120;     // for the app to let go of the stores after stop
  int64_t command_seconds = 300;  // each command's own bound
  std::vector<std::string> watch;
  nlohmann::json ToJson() const;
};

inline constexpr const char* kAppStopStep = "app.stop";
inline constexpr const char* kAppStartStep = "app.start";

// args with "app" set (args must be an object).
nlohmann::json AddAppControlArgs(nlohmann::json args, const AppControl& app);
// The "app" of journaled args: nullopt when absent, Corruption naming the field when damaged.
Result<std::optional<AppControl>> DecodeAppControl(const nlohmann::json& args);

// The builder with the app steps added when the args ask for them (see above).
TxnBuilder WithAppControl(TxnBuilder inner);

// WatchedStoreFiles (the files the app may hold): engine/stores/live_check.h.

// The steps' work, exposed for tests.
Status StopAppAndWait(const AppControl& app);
Status StartApp(const AppControl& app);

}  // namespace maestro
