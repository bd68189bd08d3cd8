// cli/txn_gate.h — the one place a command meets an unfinished transaction.
//
// After parsing, before any command runs, the gate looks at the journal
// (cheap: nothing is created) and acts on the selected command's mark only:
//   MarkWriting (cli/context.h)  refused (exit 6, "run `maestro-db recover`")
//                                while a transaction is unfinished; its store
//                                paths are checked (overlaps refused) first.
//                                With a remote repository (rclone:…) too: the
//                                journal read is the install's local one
//                                (CliContext::LoadLayoutForRemoteRepo), since
//                                the remote may hold what the transaction still
//                                needs (docs/remote.md, "Transactions on a
//                                remote repository", point 5)
//   MarkUngated                  not looked at: recover and journal (what the
//                                refusal points to), purge-trash, debug, demo,
//                                the original tool's aliases (the command they
//                                re-run as meets the gate itself)
//   neither (a reader)           runs, with a warning that the stores may be
//                                half-changed
// No command name is listed here: a new command is gated by the mark it gets
// where it is registered.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace maestro {

// Installs the gate as app's parse-complete callback (call once, after every
// command group is registered).
void InstallTxnGate(CLI::App& app, CliContext& ctx);

}  // namespace maestro
