// cli/schedule_cmd.cc — `schedule run`, `schedule status`, `schedule install`.
// Parsing and printing only: the service is engine/schedule/schedule.h, the jobs
// engine/schedule/schedule_jobs.h. docs/schedule.md documents every key and both ways
// of installing (systemd timer, cron).
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/remote_txn.h"
#include "engine/schedule/schedule.h"
#include "engine/schedule/schedule_jobs.h"
#include "engine/schedule/schedule_notify.h"
#include "engine/stores/store_paths.h"
#include "snapshot/rclone_backend.h"
#include "util/text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

// Set by SIGTERM/SIGINT; the scheduler and the running job poll it. A lock-free
// atomic is async-signal-safe to store to.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag is set from a signal handler");

extern "C" void OnStopSignal(int) { g_stop.store(true); }

void InstallStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // a signal must not turn a write or fsync into EINTR mid-step
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "maestro-db";
  return std::string(buf, static_cast<size_t>(n));
}

std::string Absolute(const std::string& p) {
  if (p.empty() || p[0] == '/') return NormalizePath(p);
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof(cwd))) return p;
  return NormalizePath(JoinPath(cwd, p));
}

// systemd's ExecStart quoting: double quotes, with \ and " escaped; % and $
// doubled (a specifier, an environment variable: "/srv/${x}" would expand).
std::string SystemdQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '%' || c == '$') out += c;
    out += c;
  }
  return out + "\"";
}

// What a unit or crontab line cannot carry: a control character (a newline
// would end the line and start another one, a crontab has no escape for it),
// and for systemd a name that is not UTF-8 (systemd ignores such an
// ExecStart=, so the timer would run nothing). Exit 2, nothing written.
Status CheckSchedulable(const std::vector<std::string>& args, bool systemd) {
  for (const auto& a : args) {
    bool control = false;
    for (char c : a) control |= static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    std::string why = control ? "holds a control character" : (systemd && !IsValidUtf8(a)) ? "is not UTF-8" : "";
    if (!why.empty())
      return Status::InvalidArgument("schedule install: " + EscapeForTerminal(a) + " " + why + ", which " +
                                         (systemd ? "a systemd unit" : "a crontab line") + " cannot hold",
                                     systemd && !control ? "use --cron, or rename the folder"
                                                         : "rename the folder, or run `maestro-db schedule run` yourself");
  }
  return Status::OK();
}

// POSIX shell single quotes; cron also treats % specially (newline), so escape it.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else if (c == '%') out += "'\\%'";
    else out += c;
  }
  return out + "'";
}

// A remote repository (--repo or [repo] path rclone:REMOTE:PATH) for the
// service is "local + copy" (docs/schedule.md, "A remote --repo"): the journal,
// the state file, the log and the nightly snapshot are in the install's LOCAL
// repository, so a transaction the monitor runs never depends on the network,
// and the remote is the copy job's target (schedule.copy_to), retried with the
// backoff and watched for staleness like any copy_to. *remote gets the spec.
Result<Layout> ScheduleLayout(CliContext& ctx, std::string* remote) {
  MAESTRO_ASSIGN_OR_RETURN(RemoteTxn r, PrepareRemoteTxn(ctx, "", /*refuse_unfinished=*/false));
  *remote = r.remote;
  return ctx.LoadLayout();
}

// The [schedule] keys, with copy_to aimed at the remote repository when there is one.
Result<ScheduleConfig> ScheduleConfigFor(CliContext& ctx, const std::string& remote) {
  if (remote.empty()) return ScheduleConfig::FromConfig(ctx.config());
  Config c = ctx.config();
  const std::string copy_to = c.Get("schedule.copy_to");
  if (!copy_to.empty() && copy_to != remote)
    return Status::InvalidArgument(
        "the repository is the remote " + remote + " and schedule.copy_to is " + copy_to +
            ": the service takes the nightly snapshot into the local repository and copies it to the remote --repo",
        "drop copy_to (or set it to " + remote + "), or give a local --repo to copy to " + copy_to +
            "; nothing was changed");
  c.Set("schedule.copy_to", remote);
  return ScheduleConfig::FromConfig(c);
}

struct InstallArgs {
  bool systemd = false, cron = false, user = false, print = false;
  std::string dest;
};

// The command a timer/cron entry runs: absolute binary, --root, --repo, --config.
// A remote repository stays the remote spec: the run works it out again (ScheduleLayout).
std::vector<std::string> JobCommand(CliContext& ctx, const Layout& layout, const std::string& remote) {
  std::vector<std::string> cmd = {SelfExe(), "--root", Absolute(layout.root()), "--repo",
                                  remote.empty() ? Absolute(layout.repo()) : remote};
  if (!ctx.opts.config.empty()) {
    cmd.push_back("--config");
    cmd.push_back(Absolute(ctx.opts.config));
  }
  cmd.insert(cmd.end(), {"schedule", "run", "--once"});
  return cmd;
}

std::string TimeOfDay(const ScheduleConfig& c) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%02d:%02d", c.snapshot_hour, c.snapshot_minute);
  return buf;
}

struct UnitFile {
  std::string name, text;
};

std::vector<UnitFile> SystemdUnits(const std::vector<std::string>& cmd, const ScheduleConfig& c, bool user) {
  std::string exec;
  for (const auto& a : cmd) exec += (exec.empty() ? "" : " ") + SystemdQuote(a);
  int64_t minutes = std::max<int64_t>(1, c.monitor_interval_s / 60);
  std::string service =
      "# Written by `maestro-db schedule install --systemd" + std::string(user ? " --user" : "") + "`.\n"
      "# Runs whatever is due (nightly snapshot + prune, consistency monitor) and exits;\n"
      "# maestro-db-schedule.timer starts it. See docs/schedule.md.\n"
      "[Unit]\n"
      "Description=maestro-db: nightly MAESTRO snapshot and consistency monitor\n"
      "After=local-fs.target\n\n"
      "[Service]\n"
      "Type=oneshot\n"
      "ExecStart=" + exec + "\n"
      "# SIGTERM lets a running transaction commit or roll back; give it time.\n"
      "KillSignal=SIGTERM\n"
      "TimeoutStopSec=30min\n"
      "Nice=10\n"
      "IOSchedulingClass=idle\n";
  std::string timer =
      "# Written by `maestro-db schedule install --systemd" + std::string(user ? " --user" : "") + "`.\n"
      "[Unit]\n"
      "Description=maestro-db: nightly snapshot at " + TimeOfDay(c) + " and the monitor every " +
      std::to_string(minutes) + " min\n\n"
      "[Timer]\n"
      "OnCalendar=*-*-* " + TimeOfDay(c) + ":00\n"
      "OnBootSec=5min\n"
      "OnUnitActiveSec=" + std::to_string(minutes) + "min\n"
      "# A run missed while the machine was off happens once at the next boot;\n"
      "# maestro-db's own state file does the same for a stopped timer.\n"
      "Persistent=true\n"
      "AccuracySec=1min\n\n"
      "[Install]\n"
      "WantedBy=timers.target\n";
  std::vector<UnitFile> files(2);
  files[0].name = "maestro-db-schedule.service";
  files[0].text = std::move(service);
  files[1].name = "maestro-db-schedule.timer";
  files[1].text = std::move(timer);
  return files;
}

std::string CronLines(const std::vector<std::string>& cmd, const ScheduleConfig& c, const std::string& log,
                      bool with_user_field) {
  std::string line;
  for (const auto& a : cmd) line += (line.empty() ? "" : " ") + ShellQuote(a);
  line += " --log " + ShellQuote(log) + " 2>>" + ShellQuote(log);
  int64_t m = std::max<int64_t>(1, c.monitor_interval_s / 60);
  // --once decides what is due, so a cron entry that fires more often than the
  // interval is harmless; pick the nearest expressible period at or below it.
  std::string every;
  if (m < 60) {
    int64_t step = m;
    while (60 % step != 0) --step;
    every = step == 1 ? "* * * * *" : "*/" + std::to_string(step) + " * * * *";
  } else {
    every = "0 * * * *";
  }
  std::string user = with_user_field ? " root" : "";
  return "# maestro-db: nightly snapshot at " + TimeOfDay(c) + " (local time) and the consistency monitor every " +
         std::to_string(m) + " min.\n"
         "# Each run does only what is due; a missed night is caught up once. See docs/schedule.md.\n"
         "SHELL=/bin/sh\n" +
         std::to_string(c.snapshot_minute) + " " + std::to_string(c.snapshot_hour) + " * * *" + user + " " + line +
         "\n" + every + user + " " + line + "\n";
}

int RunInstall(CliContext& ctx, const InstallArgs& a) {
  if (a.systemd == a.cron)
    return ctx.Fail(Status::InvalidArgument("choose one of --systemd or --cron"));
  std::string remote;
  auto layout = ScheduleLayout(ctx, &remote);
  if (!layout.ok()) return ctx.Fail(layout.status());
  auto cfg = ScheduleConfigFor(ctx, remote);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  // A local copy_to inside a store is refused now, when the service is set
  // up, not first at the night its copy job fails (the job checks it too).
  if (!cfg->copy_to.empty() && !IsRcloneSpec(cfg->copy_to))
    if (Status st = CheckRepositoryPath(*layout, cfg->copy_to); !st.ok())
      return ctx.Fail(st.Annotate("schedule install: [schedule] copy_to"));
  auto cmd = JobCommand(ctx, *layout, remote);
  const std::string log = JoinPath(Absolute(layout->repo()), "schedule.log");  // --cron's
  std::vector<std::string> carried = cmd;  // what the unit or crontab line holds
  if (a.cron) carried.push_back(log);
  if (Status st = CheckSchedulable(carried, a.systemd); !st.ok()) return ctx.Fail(st);

  std::vector<UnitFile> files;
  std::string dest = a.dest;
  std::string next;
  if (a.systemd) {
    files = SystemdUnits(cmd, *cfg, a.user);
    if (dest.empty()) {
      if (a.user) {
        const char* xdg = std::getenv("XDG_CONFIG_HOME");
        const char* home = std::getenv("HOME");
        if (xdg && *xdg) dest = JoinPath(xdg, "systemd/user");
        else if (home && *home) dest = JoinPath(home, ".config/systemd/user");
        else return ctx.Fail(Status::InvalidArgument("--user: neither $XDG_CONFIG_HOME nor $HOME is set; pass --dest DIR"));
      } else {
        dest = "/etc/systemd/system";
      }
    }
    std::string sc = a.user ? "systemctl --user" : "systemctl";
    next = sc + " daemon-reload && " + sc + " enable --now maestro-db-schedule.timer";
  } else {
    if (a.user) {
      // A user crontab is edited with crontab(1), which we do not drive; print.
      if (!a.print && a.dest.empty())
        return ctx.Fail(Status::InvalidArgument(
            "--cron --user edits your own crontab, which maestro-db does not touch; run\n"
            "  (crontab -l 2>/dev/null; maestro-db ... schedule install --cron --user --print) | crontab -"));
      files.resize(1);
      files[0].text = CronLines(cmd, *cfg, log, false);
    } else {
      files.resize(1);
      files[0].text = CronLines(cmd, *cfg, log, true);
      if (dest.empty()) dest = "/etc/cron.d";
    }
    files[0].name = "maestro-db";
    next = "cron reads " + JoinPath(dest.empty() ? "." : dest, "maestro-db") + " by itself";
  }

  if (a.print) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : files) {
      if (ctx.json()) {
        out.push_back({{"name", f.name}, {"text", f.text}});
      } else {
        if (files.size() > 1) std::cout << "# ---- " << f.name << "\n";
        std::cout << f.text;
      }
    }
    if (ctx.json()) ctx.PrintJson({{"files", out}});
    return kExitOk;
  }

  Env* env = ctx.env();
  Status st = env->CreateDirs(dest);
  if (!st.ok()) return ctx.Fail(st.Annotate("cannot create " + dest + " (run as root, or use --user / --dest DIR / --print)"));
  nlohmann::json written = nlohmann::json::array();
  for (const auto& f : files) {
    std::string path = JoinPath(dest, f.name);
    st = WriteFileDurably(env, path, f.text, 0644);
    if (!st.ok()) return ctx.Fail(st.Annotate("cannot write " + path + " (run as root, or use --user / --dest DIR / --print)"));
    written.push_back(path);
    ctx.Info("wrote " + path);
  }
  if (ctx.json()) {
    ctx.PrintJson({{"written", written}, {"next", next}});
  } else {
    ctx.Info("next: " + next);
    ctx.Info("Once this runs, the app's own 60-minute monitor can be switched off (docs/schedule.md).");
  }
  return kExitOk;
}

struct RunArgs {
  bool once = false;
  std::string now;
  std::string log;
};

int RunService(CliContext& ctx, const RunArgs& a) {
  std::string remote;
  auto layout = ScheduleLayout(ctx, &remote);
  if (!layout.ok()) return ctx.Fail(layout.status());
  auto cfg = ScheduleConfigFor(ctx, remote);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  for (const auto& [key, value] : ctx.config().values()) {
    (void)value;
    if ((key.rfind("schedule.", 0) == 0 || key.rfind("notify.", 0) == 0) &&
        std::find(ScheduleConfig::Keys().begin(), ScheduleConfig::Keys().end(), key) == ScheduleConfig::Keys().end())
      ctx.Warn(ctx.config().origin() + ": unknown key " + key + " (ignored; see docs/schedule.md)");
  }
  std::optional<JobKind> forced;
  if (!a.now.empty()) {
    auto k = ParseJobName(a.now);
    if (!k.ok()) return ctx.Fail(k.status());
    forced = *k;
  }

  Env* env = ctx.env();
  std::string log_path = a.log.empty() ? cfg->log_path : a.log;
  std::unique_ptr<EventLog> log;
  if (log_path.empty()) {
    log = std::make_unique<EventLog>(env, stdout);
  } else {
    auto opened = EventLog::OpenFile(env, log_path);
    if (!opened.ok()) return ctx.Fail(opened.status());
    log = std::move(opened).value();
  }

  Status st = PrepareScheduleRepository(env, *layout);
  if (!st.ok()) {
    log->Emit("error", {{"what", "repository"}, {"message", st.ToString()}});
    return ctx.Fail(st);
  }
  InstallStopHandlers();
  Scheduler sched(env, *cfg, MakeScheduleJobs(*layout), log.get(), JoinPath(layout->repo(), kScheduleStateFile));
  sched.set_notify(MakeCommandNotifier(*cfg, log.get()));  // [notify] command (engine/schedule/schedule_notify.h)
  st = sched.Start();
  if (!st.ok()) return ctx.Fail(st);

  if (forced) {
    st = sched.RunNow(*forced, &g_stop);
  } else if (a.once) {
    st = sched.RunDue(&g_stop);
  } else {
    st = sched.Run(g_stop);
    return st.ok() ? kExitOk : ctx.Fail(st);
  }
  log->Emit("exit", {{"outcome", st.ok() ? "ok" : "failed"}});
  return st.ok() ? kExitOk : ctx.Fail(st);
}

// Exit 0, or 1 (kExitIssuesFound) when the off-site copy is stale: a monitoring
// script can run `schedule status` and alert on the exit code alone.
int ShowStatus(CliContext& ctx, const std::string& as_of) {
  int64_t now = ctx.env()->NowMicros();
  if (!as_of.empty()) {  // a usage error is said first, whatever the repository holds
    Result<int64_t> t = ParseTime(as_of);
    if (!t.ok()) return ctx.Fail(t.status().Annotate("--as-of"));
    now = *t;
  }
  std::string remote;
  auto layout = ScheduleLayout(ctx, &remote);
  if (!layout.ok()) return ctx.Fail(layout.status());
  auto cfg = ScheduleConfigFor(ctx, remote);
  if (!cfg.ok()) return ctx.Fail(cfg.status());
  std::string path = JoinPath(layout->repo(), kScheduleStateFile);
  Env* env = ctx.env();
  if (!env->FileExists(path))
    return ctx.Fail(Status::NotFound("no schedule state at " + path,
                                     "the service has not run on this repository; start `maestro-db schedule run`"));
  std::string text;
  Status st = env->ReadFileToString(path, &text);
  if (!st.ok()) return ctx.Fail(st);
  auto j = nlohmann::json::parse(text, nullptr, false);
  auto state = ScheduleState::FromJson(j);
  if (!state.ok()) return ctx.Fail(state.status().Annotate(path));
  nlohmann::json offsite = Scheduler::OffsiteHealth(*cfg, *state, now);
  const bool stale = offsite.is_object() && offsite.contains("stale") && offsite["stale"] == true;
  if (ctx.json()) {
    nlohmann::json out = state->ToJson();
    out["offsite"] = offsite;
    ctx.PrintJson(out);
    return stale ? kExitIssuesFound : kExitOk;
  }
  ctx.Info("state: " + path + " (service first started " + FormatIso8601(state->first_start) + ")");
  for (auto [name, js] : {std::pair<const char*, const JobState*>{"snapshot", &state->snapshot},
                          {"prune", &state->prune}, {"monitor", &state->monitor}, {"drill", &state->drill},
                          {"copy", &state->copy}}) {
    if (std::string(name) == "copy" && !cfg->copy_enabled() && !js->last_attempt) continue;
    std::string line = std::string(name) + ": last success " +
                       (js->last_success ? FormatIso8601(*js->last_success) : std::string("never"));
    if (!js->last_outcome.empty() && js->last_outcome != "ok")
      line += "; last attempt " + js->last_outcome + " (" + js->last_error + ")";
    ctx.Info(line);
  }
  if (offsite.is_object()) {
    std::string line = "off-site: " + cfg->copy_to + ", newest snapshot there ";
    line += state->offsite_newest ? FormatIso8601(*state->offsite_newest) + " (" +
                                        FormatDuration((now - *state->offsite_newest) / 1000000) + " old)"
                                  : std::string("unknown (no successful copy yet)");
    ctx.Info(line);
    if (stale) std::cerr << "error: " << offsite["error"].get<std::string>() << "\n";
  }
  return stale ? kExitIssuesFound : kExitOk;
}

}  // namespace

void RegisterScheduleCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* group = app.add_subcommand(
      "schedule", "the scheduled service: nightly snapshot + prune, consistency monitor, off-site copy (copy_to)");
  group->require_subcommand(1);

  auto run_args = std::make_shared<RunArgs>();
  auto* run = group->add_subcommand(
      "run",
      "run in the foreground until SIGTERM/SIGINT: nightly snapshot at schedule.snapshot_time, then prune;\n"
      "the consistency monitor every schedule.monitor_interval minutes. One JSON line per event.");
  run->add_flag("--once", run_args->once, "run whatever is due now and exit (for cron / a systemd timer)");
  run->add_option("--now", run_args->now,
                  "run this job now and exit: snapshot (then prune), prune, monitor, drill or copy (needs copy_to)")
      ->check(CLI::IsMember({"snapshot", "prune", "monitor", "drill", "copy"}));
  run->add_option("--log", run_args->log, "append the JSON event lines to FILE (default: schedule.log, else stdout)");
  run->callback([&ctx, exit_code, run_args] { *exit_code = RunService(ctx, *run_args); });

  auto* status = group->add_subcommand(
      "status",
      "show the last run of each scheduled job (from the state file) and, with copy_to, the age of the newest\n"
      "off-site snapshot; exits 1 when the off-site copy is older than copy_max_age");
  auto as_of = std::make_shared<std::string>();
  status->add_option("--as-of", *as_of,
                     "judge the off-site copy's age as of this ISO-8601 time instead of now (what a monitor would\n"
                     "report then, e.g. after a planned outage)");
  status->callback([&ctx, exit_code, as_of] { *exit_code = ShowStatus(ctx, *as_of); });

  auto ia = std::make_shared<InstallArgs>();
  auto* install = group->add_subcommand(
      "install",
      "write a systemd service + timer pair (--systemd) or a cron entry (--cron) that runs\n"
      "`schedule run --once` with this --root, --repo and --config");
  install->add_flag("--systemd", ia->systemd, "systemd units in /etc/systemd/system (~/.config/systemd/user with --user)");
  install->add_flag("--cron", ia->cron, "a cron entry in /etc/cron.d/maestro-db (--user: print a user crontab line)");
  install->add_flag("--user", ia->user, "for the current user instead of the system");
  install->add_flag("--print", ia->print, "print what would be written instead of writing it");
  install->add_option("--dest", ia->dest, "write into DIR instead of the system location");
  install->callback([&ctx, exit_code, ia] { *exit_code = RunInstall(ctx, *ia); });
}

}  // namespace maestro
