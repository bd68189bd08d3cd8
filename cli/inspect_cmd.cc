// cli/inspect_cmd.cc — read-only commands: stats, check (filled in by issue 2 work).
#include "cli/context.h"
#include "cli/exit_codes.h"

namespace maestro {

void RegisterInspectCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* stats = app.add_subcommand("stats", "Show what each store holds (read-only)");
  stats->callback([&ctx, exit_code]() {
    auto layout = ctx.LoadLayout();
    if (!layout.ok()) {
      *exit_code = ctx.Fail(layout.status());
      return;
    }
    nlohmann::json doc = nlohmann::json::object();
    for (const auto& s : layout->stores()) {
      doc[s.name] = {{"present", s.present}, {"path", s.path}};
      ctx.Info(s.name + ": " + (s.present ? s.path : "missing (" + s.path + ")"));
    }
    if (ctx.json()) ctx.PrintJson(doc);
    *exit_code = kExitOk;
  });
}

}  // namespace maestro
