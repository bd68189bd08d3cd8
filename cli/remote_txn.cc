// cli/remote_txn.cc — transactions of an install whose repository is remote
// (cli/remote_txn.h): the local repository they run on, and the copy of the
// pre-image to the remote after the commit.
#include "cli/remote_txn.h"

#include <limits.h>
#include <unistd.h>

#include "engine/stores/store_paths.h"
#include "engine/txn/recover.h"
#include "snapshot/copier.h"
#include "snapshot/open_writer.h"
#include "snapshot/rclone_backend.h"
#include "util/follow_link.h"

namespace maestro {

namespace {

// How long the copy waits for another writer of the remote (the nightly
// schedule's lease) before it gives up with a warning.
constexpr double kRemoteLockWaitSeconds = 30;

}  // namespace

std::string RemoteRepoOf(CliContext& ctx) {
  ctx.LoadLayout().IgnoreError("only the config is wanted here; the command reports a bad layout");
  std::string spec = ctx.opts.repo.empty() ? ctx.config().Get("repo.path") : ctx.opts.repo;
  return IsRcloneSpec(spec) ? spec : "";
}

Result<RemoteTxn> PrepareRemoteTxn(CliContext& ctx, const std::string& pre_image_repo, bool refuse_unfinished) {
  RemoteTxn txn;
  txn.remote = RemoteRepoOf(ctx);
  if (IsRcloneSpec(pre_image_repo))
    return Status::InvalidArgument("--pre-image-repo " + pre_image_repo + " must be a local folder",
                                   "the journal and the pre-image of a transaction must be on this machine; nothing "
                                   "was changed");
  if (!txn.active()) {
    if (!pre_image_repo.empty())
      return Status::InvalidArgument("--pre-image-repo is only for a remote repository (--repo rclone:REMOTE:PATH)",
                                     "drop it; with a local --repo the pre-image goes there; nothing was changed");
    return txn;
  }
  ctx.UseLocalRepository(pre_image_repo.empty() ? "" : FollowFinalLink(ctx.env(), pre_image_repo),
                         /*create_root=*/false);
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
  txn.local = layout.repo();
  ctx.opts.repo = txn.local;  // every later use of --repo (the background purge) is the local one
  // The gate (cli/txn_gate.cc) saw the remote spec and stood aside: its checks, on the local journal.
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));
  if (refuse_unfinished) {
    MAESTRO_ASSIGN_OR_RETURN(auto open, FindUnfinishedTransaction(layout, ctx.env()));
    if (open)
      return UnfinishedError(*open).Annotate("the journal is in " + txn.local + " (the local repository of " +
                                             txn.remote + "): `maestro-db --root " + layout.root() + " --repo " +
                                             txn.local + " recover`");
  }
  ctx.Detail("repository " + txn.remote + " is remote: the journal and the pre-image go to " + txn.local +
             ", and the pre-image is copied to the remote after the commit");
  return txn;
}

nlohmann::json CopyPreImageToRemote(CliContext& ctx, const RemoteTxn& txn, Repository& local, const std::string& id) {
  if (!txn.active() || id.empty()) return nullptr;
  nlohmann::json j = {{"to", txn.remote}, {"snapshot", id}, {"copied", false}};
  auto copy = [&]() -> Status {
    MAESTRO_ASSIGN_OR_RETURN(WriterSession target,
                             OpenWriter(ctx.env(), txn.remote, CliWriterOptions(ctx, kRemoteLockWaitSeconds, true)));
    CopyOptions co;
    MAESTRO_ASSIGN_OR_RETURN(CopyResult r, CopySnapshots(&local, target.repo.get(), {id}, co));
    j["bytes_sent"] = r.bytes_sent;
    return Status::OK();
  };
  Status st = copy();
  if (st.ok()) {
    j["copied"] = true;
    return j;
  }
  const std::string retry = "maestro-db --repo " + txn.local + " snap copy " + id + " --to " + txn.remote;
  j["error"] = st.ToString();
  j["retry"] = retry;
  ctx.Warn("the transaction is committed and its pre-image snapshot " + id + " is in " + txn.local +
           ", but copying it to " + txn.remote + " failed: " + st.ToString() + "; run `" + retry + "`");
  return j;
}

std::string DescribeRemoteCopy(const nlohmann::json& copy) {
  if (!copy.is_object() || copy["copied"] != true) return "";
  return "pre-image snapshot " + copy["snapshot"].get<std::string>() + " copied to " + copy["to"].get<std::string>();
}

void AddPreImageRepoOption(CLI::App* cmd, std::string* dir) {
  cmd->add_option("--pre-image-repo", *dir,
                  "with a remote --repo (rclone:REMOTE:PATH): the LOCAL repository that gets the journal and the\n"
                  "pre-image snapshot (default: <root>/backups/maestro-db); the pre-image is copied to the remote\n"
                  "after the commit (docs/remote.md)")
      ->type_name("DIR");
}

}  // namespace maestro
