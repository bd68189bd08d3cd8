#include "engine/schedule/schedule_drill.h"

#include "engine/schedule/schedule_jobs.h"
#include "engine/stores/drill.h"
#include "snapshot/open_repository.h"
#include "snapshot/repository.h"

namespace maestro {

Status DrillJob(const Layout& layout, JobContext& ctx) {
  if (!ctx.env->DirExists(layout.repo()))
    return Status::NotFound("no snapshot repository at " + layout.repo() + " to drill");
  // Through OpenRepository: an encrypted repository with the process's password.
  MAESTRO_ASSIGN_OR_RETURN(OpenedRepository opened, OpenRepository(ctx.env, layout.repo(), OpenRepositoryOptions()));
  std::unique_ptr<Repository> repo = std::move(opened.repo);
  // A pack removed under the drill by a prune's collection would be reported
  // (and notified) as a damaged snapshot: the collection skips while it reads.
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> reading, LockForReadingInJob(ctx, repo.get(), "drill"));
  MAESTRO_ASSIGN_OR_RETURN(std::string id, repo->ResolveId("latest"));
  DrillOptions opts;
  opts.scratch_parent = ctx.config.drill_scratch;
  MAESTRO_ASSIGN_OR_RETURN(DrillReport rep, RunDrill(ctx.env, *repo, id, opts));
  ctx.details["snapshot"] = rep.snapshot_id;
  ctx.details["databases_checked"] = rep.databases_checked;
  ctx.details["hnsw_segments_checked"] = rep.hnsw_segments_checked;
  ctx.details["problems"] = rep.problems.size();
  if (rep.ok()) return Status::OK();
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : rep.problems)
    problems.push_back({{"store", p.store}, {"path", p.path}, {"kind", p.kind}, {"detail", p.detail}});
  ctx.log.Emit("drill_problems", {{"job", "drill"}, {"snapshot", rep.snapshot_id}, {"problems", problems}});
  return Status::Corruption("the restore drill of snapshot " + rep.snapshot_id + " found " +
                                std::to_string(rep.problems.size()) + " problems (first: " + rep.problems[0].store +
                                " " + rep.problems[0].kind + ": " + rep.problems[0].detail + ")",
                            "run `maestro-db snap verify --drill " + rep.snapshot_id + "` for the list");
}

}  // namespace maestro
