#include "cli/drill_cmd.h"

#include <iostream>

#include "cli/exit_codes.h"
#include "engine/stores/drill.h"
#include "snapshot/repository.h"
#include "util/text.h"

namespace maestro {

void AddDrillFlags(CLI::App* verify, DrillCliArgs* a) {
  auto* drill = verify->add_option(
      "--drill", a->id,
      "restore drill: restore snapshot ID into a scratch folder, then run PRAGMA integrity_check on every\n"
      "database and check every HNSW segment (exit 1 when any problem is found)");
  verify->add_option("--scratch", a->scratch, "with --drill: make the scratch folder here (default: $TMPDIR or /tmp)")
      ->needs(drill);
  verify->add_flag("--keep-scratch", a->keep, "with --drill: keep the restored copy (its path is printed)")->needs(drill);
}

Status RunDrillCommand(CliContext& ctx, Repository& repo, const DrillCliArgs& a, int* code) {
  MAESTRO_ASSIGN_OR_RETURN(std::string id, repo.ResolveId(a.id));
  DrillOptions opts;
  opts.scratch_parent = a.scratch;
  opts.keep_scratch = a.keep;
  MAESTRO_ASSIGN_OR_RETURN(DrillReport rep, RunDrill(ctx.env(), repo, id, opts));
  *code = rep.ok() ? kExitOk : kExitIssuesFound;
  if (ctx.json()) {
    nlohmann::json stores = nlohmann::json::array(), problems = nlohmann::json::array();
    for (const auto& s : rep.stores)
      stores.push_back({{"store", s.name}, {"present", s.present}, {"restored", s.restored}, {"files", s.files},
                        {"bytes", s.bytes}});
    for (const auto& p : rep.problems)
      problems.push_back({{"store", p.store}, {"path", p.path}, {"kind", p.kind}, {"detail", p.detail}});
    ctx.PrintJson({{"ok", rep.ok()},
                   {"drill", true},
                   {"snapshot", rep.snapshot_id},
                   {"scratch", a.keep ? nlohmann::json(rep.scratch) : nlohmann::json(nullptr)},
                   {"stores", stores},
                   {"databases_checked", rep.databases_checked},
                   {"hnsw_segments_checked", rep.hnsw_segments_checked},
                   {"problems", problems}});
    return Status::OK();
  }
  for (const auto& p : rep.problems)  // the command's result: printed even with -q
    std::cout << EscapeForTerminal(p.store + (p.path.empty() ? "" : "/" + p.path)) << ": " << p.kind << ": "
              << EscapeForTerminal(p.detail) << "\n";
  int restored = 0;
  for (const auto& s : rep.stores) restored += s.restored ? 1 : 0;
  const std::string summary = "snapshot " + rep.snapshot_id + ": " + std::to_string(restored) + " stores restored, " +
                              std::to_string(rep.databases_checked) + " databases and " +
                              std::to_string(rep.hnsw_segments_checked) + " HNSW segments checked";
  if (a.keep) ctx.Info("the restored copy is kept in " + rep.scratch);
  if (rep.ok()) {
    ctx.Info("drill passed: " + summary);
  } else {
    std::cerr << "maestro-db: drill failed: " << rep.problems.size() << " problems (" << summary
              << "); this snapshot would not restore into a working install. Run `maestro-db snap verify "
              << rep.snapshot_id << " --read-data` to see whether the repository is damaged, and drill an older "
              << "snapshot (`maestro-db snap list`)\n";
  }
  return Status::OK();
}

}  // namespace maestro
