// cli/purge_trash_cmd.cc — `maestro-db purge-trash`: deletes the old store data
// finished transactions moved to trash (engine/txn/txn.h). Takes no lock;
// exempt from the unfinished-transaction gate. The trash lies beside the
// stores, so a remote --repo changes nothing here (the layout is the local one).
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/txn_cmd.h"
#include "engine/stores/store_paths.h"
#include "util/text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

Status RunPurgeTrash(CliContext& ctx, bool dry_run, bool background) {
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayoutForRemoteRepo());
  if (!dry_run) MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));
  if (background) {
    // Started by PurgeAfterTransaction: yield the CPU and the disk to real work.
    (void)::setpriority(PRIO_PROCESS, 0, 10);
    (void)::syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
  }
  Env* env = ctx.env();
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

}  // namespace

void RegisterPurgeTrashCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto finish = [&ctx, exit_code](const Status& st) { *exit_code = st.ok() ? kExitOk : ctx.Fail(st); };
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
  ctx.MarkUngated(purge);  // takes no lock; trash is never needed again
  purge->add_flag("--dry-run", pa->dry_run, "list the trash and its size, delete nothing");
  purge->add_flag("--background", pa->background, "(internal) run at low CPU and I/O priority")->group("");
  purge->callback([pa, finish, &ctx]() { finish(RunPurgeTrash(ctx, pa->dry_run, pa->background)); });
}

}  // namespace maestro
