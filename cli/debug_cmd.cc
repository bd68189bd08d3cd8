// cli/debug_cmd.cc — `maestro-db debug crash-points`, and MAESTRO_DB_CRASH_AT=list:
// the named crash points (util/crash_point.h). Exempt from the gate.
#include <cstdlib>
#include <iostream>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/txn_cmd.h"
#include "util/crash_point.h"

namespace maestro {

void RegisterDebugCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  if (const char* spec = std::getenv("MAESTRO_DB_CRASH_AT"); spec && std::string(spec) == "list") {
    for (const auto& n : CrashPointNames()) std::cout << n << "\n";
    std::exit(kExitOk);
  }

  // debug
  auto* debug = app.add_subcommand("debug", "Developer tools: `debug crash-points` lists the MAESTRO_DB_CRASH_AT names");
  debug->require_subcommand(1);
  ctx.MarkUngated(debug);
  debug->add_subcommand("crash-points", "list the crash points MAESTRO_DB_CRASH_AT=<name>[:<nth>] can select")
      ->callback([&ctx, exit_code]() {
        auto names = CrashPointNames();
        if (ctx.json()) ctx.PrintJson({{"crash_points", names}});
        else for (const auto& n : names) std::cout << n << "\n";
        *exit_code = kExitOk;
      });
}

}  // namespace maestro
