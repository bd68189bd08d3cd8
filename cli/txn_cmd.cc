// cli/txn_cmd.cc — what the transaction commands share (cli/txn_cmd.h), and
// RegisterTxnCommands, which registers each of them (one file per command).
#include "cli/txn_cmd.h"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "engine/stores/live_check.h"
#include "engine/txn/txn.h"
#include "util/text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

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

}  // namespace

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

Status RefuseWhileLive(CliContext& ctx, const Layout& layout, const std::vector<StoreId>& stores, bool force,
                       const AppRun& app) {
  MAESTRO_RETURN_IF_ERROR(RefuseIfStoresAreMountPoints(layout, stores));
  if (app.stops()) return Status::OK();  // the app.stop step waits for the holders instead
  std::vector<std::string> warnings;
  MAESTRO_RETURN_IF_ERROR(RefuseIfStoresInUse(layout, stores, force, &warnings));
  for (const auto& w : warnings) ctx.Warn(w + " (continuing because of --force)");
  return Status::OK();
}

std::vector<StoreId> AllStoreIds() { return {AllStores().begin(), AllStores().end()}; }

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
  Env* env = ctx.env();
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

void RegisterTxnCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  RegisterResetCommand(app, ctx, exit_code);
  RegisterCleanupCommand(app, ctx, exit_code);
  RegisterRecoverCommand(app, ctx, exit_code);
  RegisterJournalCommands(app, ctx, exit_code);
  RegisterPurgeTrashCommand(app, ctx, exit_code);
  RegisterDebugCommands(app, ctx, exit_code);
  RegisterOriginalCommands(app, ctx, exit_code);
}

}  // namespace maestro
