// cli/original_cmd.cc — the original tool's commands (reset-db, check-document,
// cleanup-user ...) as thin aliases that re-run this binary with their
// maestro-db form. Exempt from the gate: the command they become meets it.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/txn_cmd.h"

namespace maestro {

namespace {

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

void RegisterOriginalCommands(CLI::App& app, CliContext& ctx, int* /*exit_code: each alias exec()s*/) {
  // The original commands (seed guide), as thin aliases.
  struct ResetDbArgs {
    bool stats = false, check = false, backup = false, force = false;
  };
  auto rd = std::make_shared<ResetDbArgs>();
  auto* reset_db = app.add_subcommand("reset-db", "original: reset_databases.py (--stats, --check, --backup, --force)");
  ctx.MarkUngated(reset_db);  // the command it re-runs as meets the gate
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

  auto add_alias = [&app, &ctx](const std::string& name, const std::string& help, std::vector<std::string> positional_names,
                          std::function<std::vector<std::string>(const std::vector<std::string>&)> map) {
    auto vals = std::make_shared<std::vector<std::string>>(positional_names.size());
    auto* sub = app.add_subcommand(name, help);
    ctx.MarkUngated(sub);
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
