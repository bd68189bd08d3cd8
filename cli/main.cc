// cli/main.cc — the maestro-db binary: global options, command groups, exit codes.
// Each command group lives in its own file (cli/<group>_cmd.cc): parsing and
// printing only; the work is done by engine/.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "cli/context.h"
#include "cli/env_vars.h"
#include "cli/exit_codes.h"
#include "cli/txn_gate.h"
#include "snapshot/rclone_backend.h"
#include "util/env.h"
#include "util/memory_policy.h"

using namespace maestro;

int main(int argc, char** argv) {
  SetProcessMemoryPolicy();  // before any thread starts
  CLI::App app{
      "maestro-db: journaled snapshots, resets, cleanups and migrations for a MAESTRO install.\n"
      "Every destructive command takes a verified snapshot first and records each step in a\n"
      "write-ahead journal, so it can be rolled back or resumed after a crash.",
      "maestro-db"};
  app.require_subcommand(1);
  app.fallthrough();
  CliContext ctx(Env::Default());  // the one place the binary picks its Env
  app.add_option("--root", ctx.opts.root, "MAESTRO install root (default: $MAESTRO_ROOT, else the current directory)");
  app.add_option("--config", ctx.opts.config, "config file (INI: [stores] main = PATH ...; see docs/config.md)");
  app.add_option("--repo", ctx.opts.repo, "snapshot repository and journal (default: <root>/backups/maestro-db, or <root>/backups if a repository is there already; rclone:REMOTE:PATH for a remote one: transactions and schedule then journal in the local default or --pre-image-repo and copy to it after the commit, docs/remote.md)");
  app.add_option("--password-file", ctx.opts.password_file,
                 "an encrypted repository's password, read from FILE (else MAESTRO_DB_PASSWORD_FILE, else "
                 "MAESTRO_DB_PASSWORD, else a prompt on the terminal; docs/encryption.md)")
      ->type_name("FILE");
  AddInstallOptions(app, &ctx.opts.install);
  app.add_flag("--json", ctx.opts.json, "machine-readable output: one JSON document on stdout");
  app.add_flag("-y,--yes", ctx.opts.yes, "answer yes to confirmations");
  app.add_flag("-q,--quiet", ctx.opts.quiet, "print only results and errors");
  app.add_flag("-v,--verbose", ctx.opts.verbose, "more detail on stderr (repeatable)");
  app.footer(
      "Exit codes: 0 ok, 1 issues found, 2 usage, 3 not found, 4 corruption, 5 busy/locked,\n"
      "6 unfinished transaction (run `maestro-db recover`), 7 I/O error, 8 bad store, 9 aborted, 10 wrong password, 70 internal.");

  SetProcessPasswordSource(ctx.passwords());  // every repository a command opens (snapshot/open_repository.h)
  // A remote's slow upload path, said once (snapshot/rclone_backend.h), on stderr.
  SetRcloneNotices([&ctx](const std::string& line) { ctx.Warn(line); });
  int exit_code = 0;
  RegisterInspectCommands(app, ctx, &exit_code);
  RegisterSnapCommands(app, ctx, &exit_code);
  RegisterKeyCommands(*app.get_subcommand("snap"), ctx, &exit_code);
  RegisterInitCommand(*app.get_subcommand("snap"), ctx, &exit_code);
  RegisterDemoCommands(app, ctx, &exit_code);
  RegisterScheduleCommands(app, ctx, &exit_code);
  RegisterMigrateCommands(app, ctx, &exit_code);
  RegisterTxnCommands(app, ctx, &exit_code);
  InstallTxnGate(app, ctx);  // after every group: it acts on the marks they set

  std::vector<std::string> env_warnings;
  Status env_ok = CheckMaestroEnvironment(&env_warnings);
  for (const auto& w : env_warnings) ctx.Warn(w);
  if (!env_ok.ok()) return ctx.Fail(env_ok);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return e.get_exit_code() == 0 ? 0 : (rc == 0 ? 0 : kExitUsage);
  } catch (const std::exception& e) {
    // A bug, not a user error: said (exit 70) instead of std::terminate. A
    // transaction it interrupted is left to `recover`, as after a crash.
    return ctx.Fail(Status::Internal(std::string("unexpected exception: ") + e.what(),
                                     "this is a bug in maestro-db; if a transaction was under way, run "
                                     "`maestro-db recover`"));
  }
  return exit_code;
}
