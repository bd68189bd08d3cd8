#include "engine/txn/app_control.h"

#include <chrono>
#include <thread>

#include "engine/stores/live_check.h"
#include "util/crash_point.h"
#include "util/subprocess.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(app_after_stop, "app.after_stop");

namespace {

using json = nlohmann::json;

Status Bad(const std::string& field, const std::string& what) {
  return Status::Corruption("journaled transaction args: app." + field + ": " + what,
                            "the journal entry is damaged; nothing was changed by this run");
}

Status RunAppCommand(const std::string& what, const std::string& command, int64_t seconds) {
  ProcessOptions o;
  o.timeout_ms = seconds * 1000;
  o.capture_stdout = false;  // to our stderr: stdout may carry a --json document
  o.echo_stderr = true;
  auto r = RunShellCommand(command, o);
  if (!r.ok()) return r.status().Annotate(what + " the app");
  if (r->timed_out)
    return Status::IoError("the command that should " + what + " the app, `" + command + "`, ran longer than " +
                               std::to_string(seconds) + " s and was killed",
                           "check it by hand; raise [app] command_timeout if it is only slow");
  if (!r->ok())
    return Status::IoError("the command that should " + what + " the app, `" + command + "`, failed: " + r->Describe(),
                           "run it by hand to see why; set [app] " + what + " in the config if it is the wrong one");
  return Status::OK();
}

}  // namespace

json AppControl::ToJson() const {
  return {{"stop", stop}, {"start", start}, {"wait_seconds", wait_seconds}, {"command_seconds", command_seconds},
          {"watch", watch}};
}

json AddAppControlArgs(json args, const AppControl& app) {
  args["app"] = app.ToJson();
  return args;
}

Result<std::optional<AppControl>> DecodeAppControl(const json& args) {
  if (!args.is_object() || !args.contains("app")) return std::optional<AppControl>();
  const json& a = args["app"];
  if (!a.is_object()) return Bad("", "not an object");
  AppControl app;
  for (const char* k : {"stop", "start"}) {
    if (!a.contains(k) || !a[k].is_string() || a[k].get<std::string>().empty()) return Bad(k, "missing or not a command");
    (std::string(k) == "stop" ? app.stop : app.start) = a[k].get<std::string>();
  }
  for (const char* k : {"wait_seconds", "command_seconds"}) {
    if (!a.contains(k) || !a[k].is_number_integer() || a[k].get<int64_t>() < 0 || a[k].get<int64_t>() > 86400)
      return Bad(k, "missing or not a number of seconds (0..86400)");
    (std::string(k) == "wait_seconds" ? app.wait_seconds : app.command_seconds) = a[k].get<int64_t>();
  }
  if (!a.contains("watch") || !a["watch"].is_array()) return Bad("watch", "missing or not a list");
  for (size_t i = 0; i < a["watch"].size(); ++i) {
    const json& w = a["watch"][i];
    if (!w.is_string() || w.get<std::string>().empty() || w.get<std::string>()[0] != '/')
      return Bad("watch[" + std::to_string(i) + "]", "not an absolute path");
    app.watch.push_back(w.get<std::string>());
  }
  return std::optional<AppControl>(app);
}

Status StopAppAndWait(const AppControl& app) {
  MAESTRO_RETURN_IF_ERROR(RunAppCommand("stop", app.stop, app.command_seconds));
  // `docker compose stop` returns when the containers are down; a process outside
  // them (or a slow one) may still hold a store: wait for it, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(app.wait_seconds);
  for (;;) {
    std::vector<std::string> holders;  // the live-app guard, asked for the list rather than a refusal
    MAESTRO_RETURN_IF_ERROR(RefuseIfPathsInUse(app.watch, /*force=*/true, &holders));
    if (holders.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string list;
      for (size_t i = 0; i < holders.size() && i < 5; ++i) list += (i ? "; " : "") + holders[i];
      return Status::Busy("the app was stopped with `" + app.stop + "`, but after " + std::to_string(app.wait_seconds) +
                              " s a process still holds a store file: " + list,
                          "the transaction is rolled back and the app started again; stop that process, or raise "
                          "[app] stop_timeout");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  MAESTRO_CRASH_POINT("app.after_stop");
  return Status::OK();
}

Status StartApp(const AppControl& app) { return RunAppCommand("start", app.start, app.command_seconds); }

TxnBuilder WithAppControl(TxnBuilder inner) {
  return [inner](const TxnContext& ctx) -> Result<TxnPlan> {
    MAESTRO_ASSIGN_OR_RETURN(TxnPlan plan, inner(ctx));
    MAESTRO_ASSIGN_OR_RETURN(std::optional<AppControl> app, DecodeAppControl(ctx.args));
    if (!app) return plan;
    AppControl a = *app;
    plan.steps.insert(plan.steps.begin(),
                      TxnStep{kAppStopStep, [a]() { return StopAppAndWait(a); }, [a]() { return StartApp(a); }});
    plan.before_snapshot += 1;
    plan.finish.push_back(TxnStep{kAppStartStep, [a]() { return StartApp(a); }, nullptr});
    return plan;
  };
}

}  // namespace maestro
