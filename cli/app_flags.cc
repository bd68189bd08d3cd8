#include "cli/app_flags.h"

#include "cli/context.h"

namespace maestro {

namespace {

Result<int64_t> Seconds(const Config& c, const std::string& key, int64_t def) {
  MAESTRO_ASSIGN_OR_RETURN(int64_t v, c.GetInt(key, def));
  if (v < 0 || v > 86400)
    return Status::InvalidArgument(c.origin() + ": " + key + " = " + std::to_string(v) + " is not 0..86400 seconds");
  return v;
}

}  // namespace

void AddAppFlags(CLI::App* sub, AppFlags* flags) {
  auto* on = sub->add_flag("--stop-app", flags->stop,
                           "stop the app first ([app] stop, for a compose install `docker compose stop backend "
                           "doc-processor`), wait until it lets go of the stores, and start it again afterwards, "
                           "also after a failure (journaled: `recover` starts it after a crash)");
  sub->add_flag("--no-stop-app", flags->no_stop, "do not stop the app even if the config says [app] stop_app = true")
      ->excludes(on);
}

Result<AppRun> ResolveAppRun(CliContext& ctx, const std::vector<std::string>& watch) {
  const Config& c = ctx.config();
  MAESTRO_ASSIGN_OR_RETURN(bool by_config, c.GetBool("app.stop_app", false));
  AppRun run;
  if (ctx.app_flags.no_stop || !(ctx.app_flags.stop || by_config)) return run;
  AppControl app;
  const auto& compose = ctx.install().compose;
  app.stop = c.Get("app.stop", compose ? compose->AppCommand("stop") : "");
  app.start = c.Get("app.start", compose ? compose->AppCommand("start") : "");
  if (app.stop.empty() || app.start.empty())
    return Status::InvalidArgument(
        std::string(ctx.app_flags.stop ? "--stop-app" : "[app] stop_app = true") +
            " needs the commands that stop and start the app, and none is known",
        "nothing was changed; set [app] stop = ... and start = ... in the config (docs/config.md), or point "
        "maestro-db at the compose install (--compose DIR)");
  MAESTRO_ASSIGN_OR_RETURN(app.wait_seconds, Seconds(c, "app.stop_timeout", 120));
  MAESTRO_ASSIGN_OR_RETURN(app.command_seconds, Seconds(c, "app.command_timeout", 300));
  app.watch = watch;
  run.app = app;
  return run;
}

std::string DescribeAppRun(const AppRun& run) {
  if (!run.app) return "";
  return "the app is stopped first (`" + run.app->stop + "`) and started again afterwards (`" + run.app->start + "`)";
}

Status RunMigrateWithApp(CliContext& ctx, TxnServices& svc, const MigrationPlan& plan, TxnReport* report) {
  std::vector<std::string> watch;
  for (const auto& p : plan.store_paths) {
    watch.push_back(p);
    for (const char* sfx : {"-wal", "-shm", "-journal"}) watch.push_back(p + sfx);
  }
  MAESTRO_ASSIGN_OR_RETURN(AppRun run, ResolveAppRun(ctx, watch));
  if (!run.stops() || plan.steps.empty()) return RunMigrateTransaction(svc, plan, report);
  ctx.Info(DescribeAppRun(run));
  // The live-app check of RunMigrateTransaction is the app.stop step's wait here.
  return RunTransaction(svc, kMigrateTxnKind, kMigrateTrigger, run.Args(MigratePlanArgs(plan)),
                        run.Builder(BuildMigrateTxnPlan), report);
}

}  // namespace maestro
