#include "cli/txn_gate.h"

#include <cstdlib>

#include "cli/remote_txn.h"
#include "engine/stores/store_paths.h"
#include "engine/txn/recover.h"

namespace maestro {

namespace {

// The refusal of a writer of a remote repository: the journal it was read from
// (the install's local one) and the recover command that reaches it.
Status RemoteUnfinishedError(const TxnSummary& txn, const Layout& layout, const std::string& remote) {
  return Status::Unfinished(
      "an unfinished transaction must be recovered first: " + txn.Describe() + "; its journal is in " +
          layout.repo() + ", the local repository of " + remote +
          ", and nothing on the remote is changed before it is recovered (the remote may hold what it still "
          "needs: a restore in place re-reads its snapshot there)",
      "run `maestro-db --root " + layout.root() + " --repo " + remote + " recover` (it will " +
          (txn.committed ? "finish it: roll forward" : "roll it back") + ")");
}

}  // namespace

void InstallTxnGate(CLI::App& app, CliContext& ctx) {
  app.parse_complete_callback([&app, &ctx]() {
    if (ctx.SelectsUngatedCommand(app)) return;
    const bool writing = ctx.SelectsWritingCommand(app);
    // With an rclone:REMOTE:PATH repository the journal is the install's LOCAL
    // one (LoadLayoutForRemoteRepo; cli/remote_txn.h): a writer of the remote
    // is refused on it exactly as a writer of a local repository is.
    auto layout = ctx.LoadLayoutForRemoteRepo();
    if (!layout.ok()) return;  // the command reports it (a fresh machine's missing root, ...)
    const std::string remote = RemoteRepoOf(ctx);
    // Overlapping paths (a repository inside a store...) are refused before
    // anything is written; with a remote the transactions check their own
    // local repository (PrepareRemoteTxn).
    if (writing && remote.empty())
      if (Status paths = CheckStorePaths(*layout); !paths.ok()) std::exit(ctx.Fail(paths));
    auto open = FindUnfinishedTransaction(*layout, ctx.env());
    if (!open.ok()) {
      if (writing) std::exit(ctx.Fail(open.status()));
      ctx.Warn(open.status().ToString());
      return;
    }
    if (!*open) return;
    if (writing)
      std::exit(ctx.Fail(remote.empty() ? UnfinishedError(**open) : RemoteUnfinishedError(**open, *layout, remote)));
    ctx.Warn("an unfinished transaction: " + (*open)->Describe() +
             "; the stores may be half-changed. Run `maestro-db recover`.");
  });
}

}  // namespace maestro
