// cli/remote_txn.h — the transactions (reset, cleanup, migrate up/down and
// baseline, recover, `snap restore` in place) of an install whose repository is
// remote (--repo or [repo] path rclone:REMOTE:PATH; issue 15 point 1).
//
// The rule: a rollback never depends on the network. The transaction's lock,
// journal and pre-image snapshot go to a LOCAL repository — --pre-image-repo
// DIR, else the install's default (<root>/backups/maestro-db) — exactly as with
// a local --repo, so a crash, a kill or a lost network is recovered offline by
// `maestro-db recover` (with --repo DIR, or the same --pre-image-repo DIR).
// Only after the commit is the pre-image copied to the remote (snapshot/copier.h,
// under the remote's lease lock): a failed copy is a warning that names the
// command that finishes it (`maestro-db --repo LOCAL snap copy ID --to REMOTE`);
// the transaction stays committed, the pre-image stays in the local repository,
// and the command exits 0. docs/remote.md "Transactions on a remote repository".
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/context.h"
#include "snapshot/repository.h"
#include "util/status.h"

namespace maestro {

struct RemoteTxn {
  std::string remote;  // the rclone: spec the user named; "" = the repository is local
  std::string local;   // the local repository the transaction runs on (after Prepare)
  bool active() const { return !remote.empty(); }
};

// The rclone:REMOTE:PATH spec of --repo, else of the config's [repo] path; "" when local.
std::string RemoteRepoOf(CliContext& ctx);

// Called by a transaction command before its LoadLayout. With a remote
// repository: points ctx at the local one (CliContext::UseLocalRepository; a
// missing --root is not created), makes --repo name it for the rest of the
// command (the background purge), and runs on the local repository it chose
// what the writing-command gate (cli/txn_gate.h, which reads the default local
// journal) cannot know of: CheckStorePaths and, when refuse_unfinished, the
// unfinished-transaction refusal (exit 6) on a --pre-image-repo DIR's journal.
// With a local repository: nothing (active() false).
// InvalidArgument (exit 2, nothing changed): --pre-image-repo rclone:…, or
// --pre-image-repo with a local repository (its pre-image goes there already).
Result<RemoteTxn> PrepareRemoteTxn(CliContext& ctx, const std::string& pre_image_repo, bool refuse_unfinished = true);

// After the commit: copies snapshot `id` of `local` (its lock may be held) to
// txn.remote. Never fails the command: returns {"to", "snapshot", "copied",
// and on failure "error" and "retry" (the command to run)}, and warns on stderr.
nlohmann::json CopyPreImageToRemote(CliContext& ctx, const RemoteTxn& txn, Repository& local, const std::string& id);

// The text line a command prints after a successful copy ("" when inactive or failed).
std::string DescribeRemoteCopy(const nlohmann::json& copy);

// --pre-image-repo DIR on a transaction command.
void AddPreImageRepoOption(CLI::App* cmd, std::string* dir);

}  // namespace maestro
