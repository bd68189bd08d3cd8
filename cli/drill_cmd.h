// cli/drill_cmd.h — `snap verify --drill ID`: the restore drill of engine/stores/drill.h,
// parsed and printed. snap_cmd.cc adds the flags to `snap verify` and hands over
// when --drill is given.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/context.h"
#include "util/status.h"

namespace maestro {

class Repository;

struct DrillCliArgs {
  std::string id;       // --drill ID ("" = no drill)
  std::string scratch;  // --scratch DIR
  bool keep = false;    // --keep-scratch
};

void AddDrillFlags(CLI::App* verify, DrillCliArgs* a);

// Exit code in *code: 0 the snapshot restored and every check passed, 1
// problems found (each listed; --json: {"ok", "problems", ...}).
Status RunDrillCommand(CliContext& ctx, Repository& repo, const DrillCliArgs& a, int* code);

}  // namespace maestro
