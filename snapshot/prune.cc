#include "snapshot/prune.h"

namespace maestro {

Status Prune(Repository& repo, const RetentionPolicy& policy, const PruneOptions& opts, PruneResult* out) {
  *out = PruneResult();
  MAESTRO_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> all, repo.List());
  std::vector<SnapshotInfo> candidates;
  for (auto& s : all)
    if (!opts.filter || opts.filter(s)) candidates.push_back(std::move(s));
  MAESTRO_ASSIGN_OR_RETURN(out->decision, ApplyRetention(candidates, policy));
  out->decided = true;
  for (const auto& r : out->decision.remove) out->remove_ids.push_back(r.id);

  // Manifests first: a removed snapshot disappears from List at once, and the
  // GC below then sees its data as unreferenced.
  if (!opts.dry_run && !out->remove_ids.empty()) MAESTRO_RETURN_IF_ERROR(repo.DeleteSnapshots(out->remove_ids));
  auto gc = repo.RemoveUnreferencedData(opts.dry_run, opts.max_unused);
  if (!gc.ok()) {
    out->gc_failed = true;
    return gc.status();
  }
  out->gc = *gc;
  return Status::OK();
}

}  // namespace maestro
