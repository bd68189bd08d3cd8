// cli/txn_cmd.cc — reset, cleanup, recover, journal status/log, debug
// crash-points, and the original tool's commands as thin aliases.
// Parsing and printing only: the work is engine/reset, engine/cleanup,
// engine/recover (all journaled transactions, engine/txn/txn.h).
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "engine/txn/app_control.h"
#include "engine/stores/check.h"
#include "engine/txn/cleanup.h"
#include "engine/stores/live_check.h"
#include "engine/txn/recover.h"
#include "engine/txn/reset.h"
#include "engine/txn/restore_txn.h"
#include "engine/stores/stats.h"
#include "engine/stores/store_paths.h"
#include "util/crash_point.h"
#include "util/time_util.h"

namespace maestro {

namespace {

nlohmann::json ReportJson(const TxnReport& r) {
  return {{"transaction", r.txn_id},   {"kind", r.kind},           {"snapshot", r.snapshot_id},
          {"outcome", r.outcome},      {"steps_run", r.steps_run}, {"steps_undone", r.steps_undone}};
}

void PrintReport(const CliContext& ctx, const TxnReport& r) {
  ctx.Info(r.kind + " transaction " + r.txn_id + ": " + r.outcome +
           (r.snapshot_id.empty() ? "" : " (pre-image snapshot " + r.snapshot_id + ")"));
  if (ctx.opts.verbose > 0)
    for (const auto& s : r.steps_run) ctx.Info("  done: " + s);
  for (const auto& s : r.steps_undone) ctx.Info("  rolled back: " + s);
}

// Short summary of the install for reset's confirmation and dry run.
std::vector<std::string> InstallSummary(const Layout& layout) {
  std::vector<std::string> out;
  auto st = CollectStats(layout);
  if (st.ok()) {
    int64_t chunks = 0, files = 0;
    for (const auto& [k, v] : st->chunks_per_collection) chunks += v;
    for (const auto& [k, v] : st->files_per_dir) files += v;
    out.push_back("now: " + std::to_string(st->documents) + " documents, " +
                  (st->users ? std::to_string(*st->users) : std::string("?")) + " users, " +
                  std::to_string(st->processed_documents) + " ai rows, " + std::to_string(chunks) + " chunks, " +
                  std::to_string(files) + " files");
  } else {
    out.push_back("stats unavailable: " + st.status().ToString());
  }
  auto rep = RunCheck(layout, CheckOptions{});
  if (rep.ok())
    out.push_back(rep->consistent() ? "check: consistent"
                                    : "check: " + std::to_string(rep->issues.size() + rep->hnsw.size()) + " issue(s)");
  return out;
}

Status RefuseWhileLive(CliContext& ctx, const Layout& layout, const std::vector<StoreId>& stores, bool force,
                       const AppRun& app = {}) {
  MAESTRO_RETURN_IF_ERROR(RefuseIfStoresAreMountPoints(layout, stores));
  if (app.stops()) return Status::OK();  // the app.stop step waits for the holders instead
  std::vector<std::string> warnings;
  MAESTRO_RETURN_IF_ERROR(RefuseIfStoresInUse(layout, stores, force, &warnings));
  for (const auto& w : warnings) ctx.Warn(w + " (continuing because of --force)");
  return Status::OK();
}

std::vector<StoreId> AllStoreIds() { return {AllStores().begin(), AllStores().end()}; }

// Starts `maestro-db [global options] -q purge-trash --background` detached: its
// own session, stdio on /dev/null, no other inherited descriptor (the repository
// lock stays ours). Returns its pid.
Result<pid_t> SpawnPurger(const CliContext& ctx) {
  std::vector<std::string> args = {"maestro-db"};
  if (!ctx.opts.root.empty()) args.insert(args.end(), {"--root", ctx.opts.root});
  if (!ctx.opts.config.empty()) args.insert(args.end(), {"--config", ctx.opts.config});
  if (!ctx.opts.repo.empty()) args.insert(args.end(), {"--repo", ctx.opts.repo});
  // The same install: a compose install's stores (and their trash) are outside --root.
  if (!ctx.opts.install.compose.empty()) args.insert(args.end(), {"--compose", ctx.opts.install.compose});
  if (ctx.opts.install.no_compose) args.push_back("--no-compose");
  args.insert(args.end(), {"-q", "purge-trash", "--background"});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::IoError(std::string("could not start the background purge: ") + strerror(rc));
  return pid;
}

// After a transaction: deletes what its finishing steps moved to trash
// (engine/txn/txn.h, "trash"), as MAESTRO_DB_PURGE says:
//   background (default)  a detached, low-priority `purge-trash` deletes it, so the
//                         command returns once the stores are changed;
//   now                   deleted here, before the command returns;
//   later                 left for `maestro-db purge-trash`.
// Trash is garbage (the pre-image is in the verified snapshot), so a failure here
// is a warning: nothing is lost, the space is freed by a later purge. Returns JSON
// for the command's --json report.
nlohmann::json PurgeAfterTransaction(CliContext& ctx, const Layout& layout) {
  Env* env = Env::Default();
  std::vector<std::string> trash = FindTrash(env, layout);
  const char* m = std::getenv("MAESTRO_DB_PURGE");
  std::string mode = m && *m ? m : "background";
  nlohmann::json j = {{"mode", mode}, {"entries", trash}};
  if (trash.empty()) return j;
  if (mode == "now") {
    PurgeStats ps;
    Status st = PurgeTrash(env, trash, &ps);
    j["files"] = ps.files;
    j["bytes"] = ps.bytes;
    if (!st.ok()) ctx.Warn(st.ToString() + "; nothing is lost: run `maestro-db purge-trash` to free the space");
    else ctx.Detail("purged the old data: " + std::to_string(ps.files) + " files, " + FormatBytes(static_cast<uint64_t>(ps.bytes)));
    return j;
  }
  if (mode != "later") {
    if (mode != "background")
      ctx.Warn("MAESTRO_DB_PURGE=" + mode + " is not one of background, now, later; using background");
    auto pid = SpawnPurger(ctx);
    if (pid.ok()) {
      j["pid"] = *pid;
      ctx.Detail("the old data (" + std::to_string(trash.size()) + " trash entries) is being deleted in the background, pid " +
                 std::to_string(*pid));
      return j;
    }
    ctx.Warn(pid.status().ToString());
  }
  ctx.Detail("the old data stays in " + std::to_string(trash.size()) + " trash entries until `maestro-db purge-trash`");
  return j;
}

Status RunPurgeTrash(CliContext& ctx, bool dry_run, bool background) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  if (!dry_run) MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));
  if (background) {
    // Started by PurgeAfterTransaction: yield the CPU and the disk to real work.
    (void)::setpriority(PRIO_PROCESS, 0, 10);
    (void)::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
  }
  Env* env = Env::Default();
  std::vector<std::string> trash = FindTrash(env, layout);
  PurgeStats ps;
  Status st = dry_run ? MeasureTrash(env, trash, &ps) : PurgeTrash(env, trash, &ps);
  if (ctx.json())
    ctx.PrintJson({{"dry_run", dry_run}, {"entries", trash}, {"files", ps.files}, {"bytes", ps.bytes},
                   {"error", st.ok() ? nlohmann::json(nullptr) : nlohmann::json(st.ToString())}});
  MAESTRO_RETURN_IF_ERROR(st);
  if (!ctx.json()) {
    if (trash.empty()) ctx.Info("no trash: nothing to purge");
    else
      ctx.Info(std::string(dry_run ? "would delete " : "deleted ") + std::to_string(trash.size()) +
               " trash entries: " + std::to_string(ps.files) + " files, " + FormatBytes(static_cast<uint64_t>(ps.bytes)));
    if (ctx.opts.verbose > 0)
      for (const auto& t : trash) ctx.Info("  " + t);
  }
  return Status::OK();
}

Status RunReset(CliContext& ctx, bool dry_run, bool force) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  std::vector<std::string> plan = DescribeReset(layout);
  // Stats and check read every store: only for a person reading the plan, not with --yes.
  std::vector<std::string> summary = dry_run || !ctx.opts.yes ? InstallSummary(layout) : std::vector<std::string>{};
  if (dry_run) {
    if (ctx.json()) {
      ctx.PrintJson({{"dry_run", true}, {"kind", "reset"}, {"plan", plan}, {"summary", summary}});
      return Status::OK();
    }
    ctx.Info("dry run: reset would take a pre-reset snapshot, then:");
    for (const auto& l : plan) ctx.Info("  " + l);
    for (const auto& l : summary) ctx.Info(l);
    return Status::OK();
  }
  MAESTRO_RETURN_IF_ERROR(RefuseMissingComposeVolumes(ctx.install(), AllStoreIds()));
  MAESTRO_ASSIGN_OR_RETURN(AppRun app, ResolveAppRun(ctx, WatchedStoreFiles(layout, AllStoreIds())));
  MAESTRO_RETURN_IF_ERROR(RefuseWhileLive(ctx, layout, AllStoreIds(), force, app));
  if (!ctx.opts.yes) {
    std::string q = "maestro-db reset empties ALL six stores of " + layout.root() +
                    " (a pre-reset snapshot is taken first):";
    if (app.stops()) q += "\n" + DescribeAppRun(app);
    for (const auto& l : plan) q += "\n  " + l;
    for (const auto& l : summary) q += "\n" + l;
    MAESTRO_RETURN_IF_ERROR(ctx.Confirm(q));
  }
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, Env::Default()));
  TxnReport rep;
  Status st = RunTransaction(session->svc, kResetKind, kResetTrigger, app.Args(ResetArgs(layout)),
                             app.Builder(BuildResetPlan), &rep);
  if (!st.ok()) return st;
  std::shared_ptr<MetadataReport> not_given_back = session->svc.metadata;
  session.reset();  // the lock: the purge needs none
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    ReportMetadataNotes(ctx, *not_given_back, &j);
    ctx.PrintJson(j);
  } else {
    ReportMetadataNotes(ctx, *not_given_back, nullptr);
    PrintReport(ctx, rep);
    ctx.Info(app.stops() ? "every store is empty; the app was started again"
                         : "every store is empty; restart the app (docker compose down && docker compose up -d)");
  }
  return Status::OK();
}

struct CleanupArgs {
  std::string document;
  int64_t user = -1;
  bool all = false;
  std::string failed_older_than = "24h";
  std::string stuck_older_than = "2h";
  bool downgrade_incomplete = false;
  bool dry_run = false;
  bool force = false;
  std::string now;
};

nlohmann::json IssuesJson(const std::vector<Issue>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& i : v)
    a.push_back({{"doc_id", i.doc_id}, {"store", StoreName(i.store)}, {"kind", IssueKindName(i.kind)}, {"detail", i.detail}});
  return a;
}

Status RunCleanup(CliContext& ctx, const CleanupArgs& a) {
  if (!a.all && a.user < 0)
    return Status::InvalidArgument("cleanup needs a scope: --document DOC --user UID, --user UID, or --all");
  if (a.all && (a.user >= 0 || !a.document.empty()))
    return Status::InvalidArgument("--all cannot be combined with --user or --document");
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  CleanupOptions o;
  if (a.user >= 0) o.user_id = a.user;
  o.doc_id = a.document;
  o.downgrade_incomplete = a.downgrade_incomplete;
  MAESTRO_ASSIGN_OR_RETURN(o.failed_older_than_s, ParseDurationSeconds(a.failed_older_than));
  MAESTRO_ASSIGN_OR_RETURN(o.stuck_older_than_s, ParseDurationSeconds(a.stuck_older_than));
  if (!a.now.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(o.now_micros, ParseTime(a.now));
  }
  MAESTRO_ASSIGN_OR_RETURN(CleanupPlan plan, PlanCleanup(layout, o));
  auto print_plan = [&](bool done) {
    for (const auto& l : plan.Describe()) ctx.Info(std::string(done ? "  " : "  would: ") + l);
    for (const auto& i : plan.left)
      ctx.Info("  left alone: " + i.doc_id + " " + IssueKindName(i.kind) + " (" + StoreName(i.store) + "): " +
               (i.kind == IssueKind::kFailedWithLeftovers ? "failed less than --failed-older-than ago"
                                                          : "pass --downgrade-incomplete to mark it failed"));
  };
  if (a.dry_run || plan.empty()) {
    if (ctx.json()) {
      ctx.PrintJson({{"dry_run", a.dry_run}, {"kind", "cleanup"}, {"nothing_to_do", plan.empty()},
                     {"plan", plan.args}, {"repairs", IssuesJson(plan.repaired)}, {"left", IssuesJson(plan.left)}});
      return Status::OK();
    }
    ctx.Info(plan.empty() ? "nothing to clean up" : "dry run: cleanup would take a pre-cleanup snapshot, then:");
    print_plan(false);
    return Status::OK();
  }
  MAESTRO_ASSIGN_OR_RETURN(AppRun app, ResolveAppRun(ctx, WatchedStoreFiles(layout, plan.StoresTouched())));
  MAESTRO_RETURN_IF_ERROR(RefuseWhileLive(ctx, layout, plan.StoresTouched(), a.force, app));
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, Env::Default()));
  TxnReport rep;
  if (app.stops()) ctx.Info(DescribeAppRun(app));
  MAESTRO_RETURN_IF_ERROR(RunTransaction(session->svc, kCleanupKind, kCleanupTrigger, app.Args(plan.args),
                                         app.Builder(BuildCleanupPlan), &rep));
  session.reset();
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    j["repaired"] = IssuesJson(plan.repaired);
    j["left"] = IssuesJson(plan.left);
    ctx.PrintJson(j);
  } else {
    PrintReport(ctx, rep);
    print_plan(true);
  }
  return Status::OK();
}

Status RunRecover(CliContext& ctx, RecoverMode mode) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));  // recover writes too (exempt from the gate)
  MAESTRO_ASSIGN_OR_RETURN(auto open, FindUnfinishedTransaction(layout, Env::Default()));
  TxnReport rep;
  rep.outcome = "nothing";
  MetadataReport not_given_back;
  if (open) {
    ctx.Detail("recovering: " + open->Describe());
    MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, Env::Default()));
    MAESTRO_RETURN_IF_ERROR(RecoverTransactions(*session, mode, &rep));
    not_given_back = *session->svc.metadata;
  }
  // Also what an earlier purge did not get to (killed, or MAESTRO_DB_PURGE=later).
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  std::vector<std::string> leftovers = FindTxnLeftovers(Env::Default(), layout);
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    j["leftovers"] = leftovers;
    ReportMetadataNotes(ctx, not_given_back, &j);
    ctx.PrintJson(j);
  } else if (!open) {
    ctx.Info("nothing to recover: no unfinished transaction in " + JournalDir(layout.repo()));
  } else {
    ReportMetadataNotes(ctx, not_given_back, nullptr);
    PrintReport(ctx, rep);
  }
  for (const auto& l : leftovers)
    ctx.Warn("leftover from an earlier transaction: " + l + " (no unfinished transaction owns it; remove it by hand once you have checked it)");
  return Status::OK();
}

nlohmann::json TxnJson(const TxnSummary& t) {
  return {{"transaction", t.txn_id},       {"kind", t.kind},
          {"began", FormatIso8601(t.begun_micros)}, {"snapshot", t.snapshot_id},
          {"steps_done", t.done.size()},   {"steps_undone", t.undone.size()},
          {"committed", t.committed},      {"ended", t.ended},
          {"outcome", t.outcome},          {"description", t.Describe()}};
}

Status RunJournalStatus(CliContext& ctx) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  std::string dir = JournalDir(layout.repo());
  if (!Env::Default()->FileExists(JoinPath(dir, "data.mdb"))) {
    if (ctx.json()) ctx.PrintJson({{"journal", dir}, {"exists", false}, {"unfinished", nullptr}, {"last", nullptr}});
    else ctx.Info("no journal yet at " + dir + ": no transaction has run");
    return Status::OK();
  }
  MAESTRO_ASSIGN_OR_RETURN(auto j, Journal::Open(Env::Default(), dir, false));
  MAESTRO_ASSIGN_OR_RETURN(auto txns, j->Transactions());
  const TxnSummary* unfinished = nullptr;
  for (auto it = txns.rbegin(); it != txns.rend() && !unfinished; ++it)
    if (!it->ended) unfinished = &*it;
  std::vector<std::string> trash = FindTrash(Env::Default(), layout);
  if (ctx.json()) {
    ctx.PrintJson({{"journal", dir},
                   {"exists", true},
                   {"trash", trash},
                   {"transactions", txns.size()},
                   {"map_bytes", j->map_size()},
                   {"unfinished", unfinished ? TxnJson(*unfinished) : nlohmann::json(nullptr)},
                   {"last", txns.empty() ? nlohmann::json(nullptr) : TxnJson(txns.back())}});
    return Status::OK();
  }
  ctx.Info("journal " + dir + ": " + std::to_string(txns.size()) + " transaction(s)");
  if (unfinished) {
    ctx.Info("UNFINISHED: " + unfinished->Describe());
    ctx.Info("  run `maestro-db recover` (" + std::string(unfinished->committed ? "rolls forward" : "rolls back") +
             "), or `recover --rollback` / `recover --resume`");
  } else if (!txns.empty()) {
    ctx.Info("last: " + txns.back().Describe());
  }
  if (!trash.empty())
    ctx.Info("trash: " + std::to_string(trash.size()) +
             " entries of old store data not yet deleted (`maestro-db purge-trash` deletes them now)");
  return Status::OK();
}

Status RunJournalLog(CliContext& ctx, size_t limit) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  std::string dir = JournalDir(layout.repo());
  std::vector<JournalRecord> recs;
  if (Env::Default()->FileExists(JoinPath(dir, "data.mdb"))) {
    MAESTRO_ASSIGN_OR_RETURN(auto j, Journal::Open(Env::Default(), dir, false));
    MAESTRO_ASSIGN_OR_RETURN(recs, j->ReadTail(limit));
  }
  if (ctx.json()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : recs) {
      nlohmann::json e = {{"seq", r.seq}, {"time", FormatIso8601(r.time_micros)}, {"time_micros", r.time_micros},
                          {"type", RecordTypeName(r.type)},
                          {"transaction", r.txn_id}};
      if (!r.kind.empty()) e["kind"] = r.kind;
      if (r.step >= 0) e["step"] = r.step, e["step_name"] = r.step_name;
      if (!r.snapshot_id.empty()) e["snapshot"] = r.snapshot_id;
      if (!r.outcome.empty()) e["outcome"] = r.outcome;
      if (!r.detail.empty()) e["detail"] = r.detail;
      a.push_back(e);
    }
    ctx.PrintJson({{"journal", dir}, {"records", a}});
    return Status::OK();
  }
  for (const auto& r : recs) {
    std::string line = std::to_string(r.seq) + "  " + FormatIso8601(r.time_micros) + "  " + r.txn_id + "  " +
                       RecordTypeName(r.type);
    if (!r.kind.empty()) line += " " + r.kind;
    if (r.step >= 0) line += " #" + std::to_string(r.step) + " " + r.step_name;
    if (!r.snapshot_id.empty()) line += " snapshot " + r.snapshot_id;
    if (!r.outcome.empty()) line += " " + r.outcome;
    if (!r.detail.empty()) line += " (" + r.detail + ")";
    ctx.Info(line);
  }
  if (recs.empty()) ctx.Info("the journal is empty");
  return Status::OK();
}

// ------------------------------------------------------------- original commands

// The original tool's commands re-run this binary with their maestro-db form,
// keeping every global option: argv is read from /proc/self/cmdline and the
// alias word (with its positional arguments) replaced by `replacement`.
[[noreturn]] void ExecAs(const std::string& alias, size_t positionals, const std::vector<std::string>& replacement,
                         const std::set<std::string>& drop = {}) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  std::string arg;
  while (std::getline(in, arg, '\0')) argv.push_back(arg);
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == alias) {
      for (const auto& r : replacement) out.push_back(r);
      size_t skipped = 0;
      for (++i; i < argv.size(); ++i) {
        if (skipped < positionals && !argv[i].empty() && argv[i][0] != '-') {
          ++skipped;
          continue;
        }
        if (!drop.count(argv[i])) out.push_back(argv[i]);  // flags after the alias (--json...) pass through
      }
      break;
    }
    out.push_back(argv[i]);
  }
  std::vector<char*> cargv;
  for (auto& s : out) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  ::execv("/proc/self/exe", cargv.data());
  std::cerr << "maestro-db: could not re-run as `" << (replacement.empty() ? "" : replacement[0]) << "`\n";
  std::_Exit(kExitInternal);
}

}  // namespace

void RegisterTxnCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  if (const char* spec = std::getenv("MAESTRO_DB_CRASH_AT"); spec && std::string(spec) == "list") {
    for (const auto& n : CrashPointNames()) std::cout << n << "\n";
    std::exit(kExitOk);
  }

  // Every command first looks at the journal (cheap: nothing is created).
  app.parse_complete_callback([&app, &ctx]() {
    static const std::set<std::string> exempt = {"recover", "journal", "purge-trash", "debug", "demo", "reset-db", "check-document",
                                                 "cleanup-document", "check-user", "cleanup-user", "system-status",
                                                 "cleanup-all"};
    for (const auto* sub : app.get_subcommands())
      if (exempt.count(sub->get_name())) return;
    auto layout = ctx.LoadLayout();
    if (!layout.ok()) return;  // the command reports it
    // Overlapping paths (a repository inside a store...) are refused before anything is written.
    if (ctx.SelectsWritingCommand(app))
      if (Status paths = CheckStorePaths(*layout); !paths.ok()) std::exit(ctx.Fail(paths));
    auto open = FindUnfinishedTransaction(*layout, Env::Default());
    if (!open.ok()) {
      if (ctx.SelectsWritingCommand(app)) std::exit(ctx.Fail(open.status()));
      ctx.Warn(open.status().ToString());
      return;
    }
    if (!*open) return;
    if (ctx.SelectsWritingCommand(app)) std::exit(ctx.Fail(UnfinishedError(**open)));
    ctx.Warn("an unfinished transaction: " + (*open)->Describe() +
             "; the stores may be half-changed. Run `maestro-db recover`.");
  });

  auto finish = [&ctx, exit_code](const Status& st) { *exit_code = st.ok() ? kExitOk : ctx.Fail(st); };

  // reset
  struct ResetArgsCli {
    bool dry_run = false, force = false;
  };
  auto ra = std::make_shared<ResetArgsCli>();
  auto* reset = app.add_subcommand(
      "reset",
      "Empty every store together, as one journaled transaction: a verified pre-reset snapshot first,\n"
      "then main and ai recreated with a fresh schema, vector emptied, the file folders emptied.\n"
      "Asks for the word `yes` unless --yes.");
  reset->add_flag("--dry-run", ra->dry_run, "print the plan and change nothing");
  reset->add_flag("--force", ra->force, "run even while another process holds a store file open");
  AddAppFlags(reset, &ctx.app_flags);
  reset->callback([ra, finish, &ctx]() { finish(RunReset(ctx, ra->dry_run, ra->force)); });
  ctx.MarkWriting(reset);

  // cleanup
  auto ca = std::make_shared<CleanupArgs>();
  auto* cleanup = app.add_subcommand(
      "cleanup",
      "Repair what `check` reports, as one journaled transaction (pre-cleanup snapshot first):\n"
      "orphan rows, chunks and files removed; failed documents' leftovers removed and the document\n"
      "marked failed; stuck `processing` documents marked failed.");
  auto* user_opt = cleanup->add_option("--user", ca->user, "only this user's documents (users.id)");
  cleanup->add_option("--document", ca->document, "only this document (needs --user)")->needs(user_opt);
  cleanup->add_flag("--all", ca->all, "the whole install, orphans included");
  cleanup->add_option("--failed-older-than", ca->failed_older_than,
                      "clean failed documents last updated longer ago than this (default 24h)");
  cleanup->add_option("--stuck-older-than", ca->stuck_older_than,
                      "mark `processing` documents older than this failed (default 2h)");
  cleanup->add_flag("--downgrade-incomplete", ca->downgrade_incomplete,
                    "mark completed documents that lost a part failed (and remove their remains)");
  cleanup->add_flag("--dry-run", ca->dry_run, "print the plan and change nothing");
  cleanup->add_flag("--force", ca->force, "run even while another process holds a store file open");
  AddAppFlags(cleanup, &ctx.app_flags);
  cleanup->add_option("--now", ca->now, "the time the age rules measure from (ISO-8601; default: now)");
  cleanup->callback([ca, finish, &ctx]() { finish(RunCleanup(ctx, *ca)); });
  ctx.MarkWriting(cleanup);

  // recover
  struct RecoverArgs {
    bool rollback = false, resume = false;
  };
  auto rca = std::make_shared<RecoverArgs>();
  auto* recover = app.add_subcommand(
      "recover",
      "Finish an interrupted transaction: roll it back if its commit record is not durable,\n"
      "otherwise roll it forward. A crash during recover is recovered by running it again.");
  auto* rb = recover->add_flag("--rollback", rca->rollback, "undo it (only before its commit)");
  recover->add_flag("--resume", rca->resume, "finish it, running the remaining steps")->excludes(rb);
  recover->callback([rca, finish, &ctx]() {
    finish(RunRecover(ctx, rca->rollback ? RecoverMode::kRollback : rca->resume ? RecoverMode::kResume : RecoverMode::kAuto));
  });

  // journal
  auto* journal = app.add_subcommand("journal", "Show the transaction journal (read-only)");
  journal->require_subcommand(1);
  journal->add_subcommand("status", "the unfinished transaction, if any, and the last one")
      ->callback([finish, &ctx]() { finish(RunJournalStatus(ctx)); });
  auto limit = std::make_shared<size_t>(50);
  auto* log = journal->add_subcommand("log", "the newest journal records, oldest first");
  log->add_option("--limit", *limit, "how many records (default 50)");
  log->callback([finish, limit, &ctx]() { finish(RunJournalLog(ctx, *limit)); });

  // purge-trash
  struct PurgeArgs {
    bool dry_run = false, background = false;
  };
  auto pa = std::make_shared<PurgeArgs>();
  auto* purge = app.add_subcommand(
      "purge-trash",
      "Delete the old store data that finished transactions (reset, cleanup, restore, recover) moved\n"
      "to *.maestro-trash-* beside the stores. Each of them starts this by itself in the background\n"
      "when it ends (MAESTRO_DB_PURGE=background, the default; `now` deletes before returning;\n"
      "`later` leaves it for this command). Trash is never needed again: the transaction's\n"
      "verified pre-image snapshot holds that data. Takes no lock; safe beside any command.");
  purge->add_flag("--dry-run", pa->dry_run, "list the trash and its size, delete nothing");
  purge->add_flag("--background", pa->background, "(internal) run at low CPU and I/O priority")->group("");
  purge->callback([pa, finish, &ctx]() { finish(RunPurgeTrash(ctx, pa->dry_run, pa->background)); });

  // debug
  auto* debug = app.add_subcommand("debug", "Developer tools: `debug crash-points` lists the MAESTRO_DB_CRASH_AT names");
  debug->require_subcommand(1);
  debug->add_subcommand("crash-points", "list the crash points MAESTRO_DB_CRASH_AT=<name>[:<nth>] can select")
      ->callback([&ctx, exit_code]() {
        auto names = CrashPointNames();
        if (ctx.json()) ctx.PrintJson({{"crash_points", names}});
        else for (const auto& n : names) std::cout << n << "\n";
        *exit_code = kExitOk;
      });

  // The original commands (seed guide), as thin aliases.
  struct ResetDbArgs {
    bool stats = false, check = false, backup = false, force = false;
  };
  auto rd = std::make_shared<ResetDbArgs>();
  auto* reset_db = app.add_subcommand("reset-db", "original: reset_databases.py (--stats, --check, --backup, --force)");
  reset_db->add_flag("--stats", rd->stats, "= maestro-db stats");
  reset_db->add_flag("--check", rd->check, "= maestro-db check");
  reset_db->add_flag("--backup", rd->backup, "accepted: reset always takes a verified snapshot first");
  reset_db->add_flag("--force", rd->force, "= maestro-db reset --yes (skip the confirmation)");
  reset_db->callback([rd]() {
    const std::set<std::string> own = {"--stats", "--check", "--backup", "--force"};
    if (rd->stats) ExecAs("reset-db", 0, {"stats"}, own);
    if (rd->check) ExecAs("reset-db", 0, {"check"}, own);
    ExecAs("reset-db", 0, rd->force ? std::vector<std::string>{"--yes", "reset"} : std::vector<std::string>{"reset"}, own);
  });

  auto add_alias = [&app](const std::string& name, const std::string& help, std::vector<std::string> positional_names,
                          std::function<std::vector<std::string>(const std::vector<std::string>&)> map) {
    auto vals = std::make_shared<std::vector<std::string>>(positional_names.size());
    auto* sub = app.add_subcommand(name, help);
    for (size_t i = 0; i < positional_names.size(); ++i) sub->add_option(positional_names[i], (*vals)[i])->required();
    sub->callback([name, vals, map]() { ExecAs(name, vals->size(), map(*vals)); });
  };
  add_alias("check-document", "original: check-document DOC UID = check --document DOC --user UID", {"DOC", "UID"},
            [](const auto& v) { return std::vector<std::string>{"check", "--document", v[0], "--user", v[1]}; });
  add_alias("cleanup-document", "original: cleanup-document DOC UID = cleanup --document DOC --user UID", {"DOC", "UID"},
            [](const auto& v) { return std::vector<std::string>{"cleanup", "--document", v[0], "--user", v[1]}; });
  add_alias("check-user", "original: check-user UID = check --user UID", {"UID"},
            [](const auto& v) { return std::vector<std::string>{"check", "--user", v[0]}; });
  add_alias("cleanup-user", "original: cleanup-user UID = cleanup --user UID", {"UID"},
            [](const auto& v) { return std::vector<std::string>{"cleanup", "--user", v[0]}; });
  add_alias("system-status", "original: system-status = check (system-wide, orphans included)", {},
            [](const auto&) { return std::vector<std::string>{"check"}; });
  add_alias("cleanup-all", "original: cleanup-all = cleanup --all", {},
            [](const auto&) { return std::vector<std::string>{"cleanup", "--all"}; });
}

}  // namespace maestro

namespace maestro {

// The snapshot's warnings about the given stores ("pdfs/x.sock: a socket, not captured ..."): a
// restore says what it could not give back.
static std::vector<std::string> SnapshotWarningsFor(Repository& repo, const std::string& snapshot_id,
                                                    const std::vector<std::string>& store_names) {
  std::vector<std::string> out;
  auto m = repo.LoadManifest(snapshot_id);
  if (!m.ok()) return out;
  for (const auto& w : m->info.warnings)
    for (const auto& n : store_names)
      if (w.rfind(n + "/", 0) == 0 || w.rfind(n + ":", 0) == 0) {
        out.push_back(w);
        break;
      }
  return out;
}

// Where under `root` a store the snapshot found at original_path goes: the same
// candidate path (engine/stores/layout.h) relative to the root. The snapshot may come
// from another machine or root (disaster recovery), so the candidate is matched
// by its ending, not by the whole path; "" when none matches.
static std::string SameCandidateUnder(const std::string& root, StoreId id, const std::string& original_path) {
  const std::string p = NormalizePath(original_path);
  std::string best;  // the longest candidate that matches: "a/data/x" over "data/x"
  for (const auto& c : CandidatePaths(id)) {
    const std::string tail = "/" + c;
    if (p.size() > tail.size() && p.compare(p.size() - tail.size(), tail.size(), tail) == 0 && c.size() > best.size())
      best = c;
  }
  return best.empty() ? "" : JoinPath(root, best);
}

// The layout with absent stores where the snapshot found them (one of their candidate paths).
static Layout WhereTheSnapshotFoundThem(const Layout& layout, Repository& repo, const std::string& snapshot_id,
                                        const std::vector<StoreId>& ids) {
  Layout out = layout;
  auto m = repo.LoadManifest(snapshot_id);
  if (!m.ok()) return out;  // the restore itself reports it
  for (const auto& st : m->stores)
    for (StoreId id : ids)
      if (st.name == StoreName(id)) {
        std::string here = SameCandidateUnder(layout.root(), id, st.original_path);
        out = out.WithAbsentStoreAt(id, here.empty() ? st.original_path : here);
      }
  return out;
}

// `source` holds the snapshot; `local` (the layout's repository, whose lock the
// caller holds) gets the journal and the pre-image. They are one repository
// unless the snapshot is read from a remote (source_spec, disaster recovery).
Status RunRestoreInPlace(CliContext& ctx, const Layout& live, Repository& source, Repository& local,
                         const std::string& source_spec, const std::string& snapshot_id,
                         const std::vector<std::string>& store_names, bool force) {
  std::vector<StoreId> ids;
  for (const auto& n : store_names) {
    MAESTRO_ASSIGN_OR_RETURN(StoreId id, ParseStoreName(n));
    ids.push_back(id);
  }
  const Layout layout = WhereTheSnapshotFoundThem(live, source, snapshot_id, ids);
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));
  MAESTRO_RETURN_IF_ERROR(RefuseMissingComposeVolumes(ctx.install(), ids));
  MAESTRO_ASSIGN_OR_RETURN(AppRun app, ResolveAppRun(ctx, WatchedStoreFiles(layout, ids)));
  MAESTRO_RETURN_IF_ERROR(RefuseWhileLive(ctx, layout, ids, force, app));
  if (!ctx.opts.yes) {
    std::string q = "restore snapshot " + snapshot_id + (source_spec.empty() ? "" : " of " + source_spec) +
                    " in place over the live store(s):";
    if (app.stops()) q += "\n" + DescribeAppRun(app);
    for (StoreId id : ids) q += "\n  " + std::string(StoreName(id)) + " (" + layout.store(id).path + ")";
    q += "\n(a pre-restore snapshot of the current state is taken first, into " + layout.repo() + ")";
    MAESTRO_RETURN_IF_ERROR(ctx.Confirm(q));
  }
  MAESTRO_ASSIGN_OR_RETURN(TxnServices svc, ServicesOn(&local, layout, Env::Default()));
  TxnReport rep;
  Status ran = RunTransaction(svc, kRestoreKind, kRestoreTrigger,
                              app.Args(RestoreArgs(layout, snapshot_id, ids, source_spec)),
                              app.Builder(BuildRestorePlan), &rep);
  if (!ran.ok() && !source_spec.empty() && ran.code() == Status::Code::kUnfinished)
    // The journal is in the local repository, not on the remote: recover must be pointed there.
    return ran.Annotate("the journal and the pre-image are in " + layout.repo() + ": run `maestro-db --root " +
                        layout.root() + " --repo " + layout.repo() + " recover`");
  MAESTRO_RETURN_IF_ERROR(ran);
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  std::vector<std::string> not_restored = SnapshotWarningsFor(source, snapshot_id, store_names);
  for (const auto& w : not_restored) ctx.Warn("snapshot " + snapshot_id + " recorded: " + w);
  const std::string undo = "maestro-db --root " + layout.root() + " --repo " + layout.repo() + " snap restore " +
                           rep.snapshot_id;
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    j["warnings"] = not_restored;
    j["restored"] = snapshot_id;
    j["stores"] = store_names;
    j["source_repo"] = source_spec.empty() ? nlohmann::json(nullptr) : nlohmann::json(source_spec);
    j["pre_image_repo"] = layout.repo();
    ReportMetadataNotes(ctx, *svc.metadata, &j);
    ctx.PrintJson(j);
  } else {
    ReportMetadataNotes(ctx, *svc.metadata, nullptr);
    PrintReport(ctx, rep);
    ctx.Info("restored snapshot " + snapshot_id + (source_spec.empty() ? "" : " from " + source_spec) +
             " in place; to undo: " + (source_spec.empty() ? "maestro-db snap restore " + rep.snapshot_id : undo));
  }
  return Status::OK();
}

Status RunRestoreInPlace(CliContext& ctx, const Layout& live, Repository& repo, const std::string& snapshot_id,
                         const std::vector<std::string>& store_names, bool force) {
  return RunRestoreInPlace(ctx, live, repo, repo, "", snapshot_id, store_names, force);
}

}  // namespace maestro
