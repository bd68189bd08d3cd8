#include "cli/txn_gate.h"

#include <cstdlib>

#include "engine/stores/store_paths.h"
#include "engine/txn/recover.h"

namespace maestro {

void InstallTxnGate(CLI::App& app, CliContext& ctx) {
  app.parse_complete_callback([&app, &ctx]() {
    if (ctx.SelectsUngatedCommand(app)) return;
    const bool writing = ctx.SelectsWritingCommand(app);
    // A writer on a remote repository runs these checks itself, on the local
    // journal it chose (cli/remote_txn.h, snap create); a reader is warned from
    // the install's own journal, as with a local repository.
    auto layout = writing ? ctx.LoadLayout() : ctx.LoadLayoutForRemoteRepo();
    if (!layout.ok()) return;  // the command reports it
    // Overlapping paths (a repository inside a store...) are refused before anything is written.
    if (writing)
      if (Status paths = CheckStorePaths(*layout); !paths.ok()) std::exit(ctx.Fail(paths));
    auto open = FindUnfinishedTransaction(*layout, ctx.env());
    if (!open.ok()) {
      if (writing) std::exit(ctx.Fail(open.status()));
      ctx.Warn(open.status().ToString());
      return;
    }
    if (!*open) return;
    if (writing) std::exit(ctx.Fail(UnfinishedError(**open)));
    ctx.Warn("an unfinished transaction: " + (*open)->Describe() +
             "; the stores may be half-changed. Run `maestro-db recover`.");
  });
}

}  // namespace maestro
