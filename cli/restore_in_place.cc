// cli/restore_in_place.cc — `snap restore ID` over the live stores, as a
// journaled transaction (engine/txn/restore_txn.h); the repository is locked by
// the caller (cli/snap_cmd.cc). Parsing and printing only. The plan reads only
// manifest heads (stores, paths, warnings): the listing streams in the restore.
#include "cli/context.h"
#include "cli/remote_txn.h"
#include "cli/txn_cmd.h"
#include "engine/stores/live_check.h"
#include "engine/stores/store_paths.h"
#include "engine/txn/recover.h"
#include "engine/txn/restore_txn.h"
#include "snapshot/repository.h"

namespace maestro {

// The snapshot's warnings about the given stores ("pdfs/x.sock: a socket, not captured ..."): a
// restore says what it could not give back.
static std::vector<std::string> SnapshotWarningsFor(Repository& repo, const std::string& snapshot_id,
                                                    const std::vector<std::string>& store_names) {
  std::vector<std::string> out;
  auto m = repo.LoadManifestHead(snapshot_id);
  if (!m.ok()) return out;
  for (const auto& w : m->info.warnings)
    for (const auto& n : store_names)
      if (w.rfind(n + "/", 0) == 0 || w.rfind(n + ":", 0) == 0) {
        out.push_back(w);
        break;
      }
  return out;
}

// Where under `root` a store the snapshot found at original_path goes: the same
// candidate path (engine/stores/layout.h) relative to the root. The snapshot may come
// from another machine or root (disaster recovery), so the candidate is matched
// by its ending, not by the whole path; "" when none matches.
static std::string SameCandidateUnder(const std::string& root, StoreId id, const std::string& original_path) {
  const std::string p = NormalizePath(original_path);
  std::string best;  // the longest candidate that matches: "a/data/x" over "data/x"
  for (const auto& c : CandidatePaths(id)) {
    const std::string tail = "/" + c;
    if (p.size() > tail.size() && p.compare(p.size() - tail.size(), tail.size(), tail) == 0 && c.size() > best.size())
      best = c;
  }
  return best.empty() ? "" : JoinPath(root, best);
}

// True when snapshot `id` holds at least one present store: an install's state
// worth keeping off-site, not the empty pre-image of a fresh machine.
static bool HoldsAStore(Repository& repo, const std::string& id) {
  auto m = repo.LoadManifestHead(id);
  if (!m.ok()) return false;
  for (const auto& st : m->stores)
    if (st.present) return true;
  return false;
}

// The layout with absent stores where the snapshot found them (one of their candidate paths).
static Layout WhereTheSnapshotFoundThem(const Layout& layout, Repository& repo, const std::string& snapshot_id,
                                        const std::vector<StoreId>& ids) {
  Layout out = layout;
  auto m = repo.LoadManifestHead(snapshot_id);
  if (!m.ok()) return out;  // the restore itself reports it
  for (const auto& st : m->stores)
    for (StoreId id : ids)
      if (st.name == StoreName(id)) {
        std::string here = SameCandidateUnder(layout.root(), id, st.original_path);
        out = out.WithAbsentStoreAt(id, here.empty() ? st.original_path : here);
      }
  return out;
}

// `source` holds the snapshot; `local` (the layout's repository, whose lock the
// caller holds) gets the journal and the pre-image. They are one repository
// unless the snapshot is read from a remote (source_spec, disaster recovery).
Status RunRestoreInPlace(CliContext& ctx, const Layout& live, Repository& source, Repository& local,
                         const std::string& source_spec, const std::string& snapshot_id,
                         const std::vector<std::string>& store_names, bool force) {
  std::vector<StoreId> ids;
  for (const auto& n : store_names) {
    MAESTRO_ASSIGN_OR_RETURN(StoreId id, ParseStoreName(n));
    ids.push_back(id);
  }
  const Layout layout = WhereTheSnapshotFoundThem(live, source, snapshot_id, ids);
  MAESTRO_RETURN_IF_ERROR(CheckStorePaths(layout));
  MAESTRO_RETURN_IF_ERROR(RefuseMissingComposeVolumes(ctx.install(), ids));
  MAESTRO_ASSIGN_OR_RETURN(AppRun app, ResolveAppRun(ctx, WatchedStoreFiles(layout, ids)));
  MAESTRO_RETURN_IF_ERROR(RefuseWhileLive(ctx, layout, ids, force, app));
  if (!ctx.opts.yes) {
    std::string q = "restore snapshot " + snapshot_id + (source_spec.empty() ? "" : " of " + source_spec) +
                    " in place over the live store(s):";
    if (app.stops()) q += "\n" + DescribeAppRun(app);
    for (StoreId id : ids) q += "\n  " + std::string(StoreName(id)) + " (" + layout.store(id).path + ")";
    q += "\n(a pre-restore snapshot of the current state is taken first, into " + layout.repo() + ")";
    MAESTRO_RETURN_IF_ERROR(ctx.Confirm(q));
  }
  MAESTRO_ASSIGN_OR_RETURN(TxnServices svc, ServicesOn(&local, layout, ctx.env()));
  TxnReport rep;
  Status ran = RunTransaction(svc, kRestoreKind, kRestoreTrigger,
                              app.Args(RestoreArgs(layout, snapshot_id, ids, source_spec)),
                              app.Builder(BuildRestorePlan), &rep);
  if (!ran.ok() && !source_spec.empty() && ran.code() == Status::Code::kUnfinished)
    // The journal is in the local repository, not on the remote: recover must be pointed there.
    return ran.Annotate("the journal and the pre-image are in " + layout.repo() + ": run `maestro-db --root " +
                        layout.root() + " --repo " + layout.repo() + " recover`");
  MAESTRO_RETURN_IF_ERROR(ran);
  // From a remote: the pre-image of a live install goes there too (cli/remote_txn.h);
  // a fresh machine's (every store absent) stays local, so `latest` on the
  // remote is still the snapshot the disaster-recovery steps restore.
  nlohmann::json copied;
  if (!source_spec.empty() && HoldsAStore(local, rep.snapshot_id))
    copied = CopyPreImageToRemote(ctx, RemoteTxn{source_spec, layout.repo()}, local, rep.snapshot_id);
  nlohmann::json trash = PurgeAfterTransaction(ctx, layout);
  std::vector<std::string> not_restored = SnapshotWarningsFor(source, snapshot_id, store_names);
  for (const auto& w : not_restored) ctx.Warn("snapshot " + snapshot_id + " recorded: " + w);
  const std::string undo = "maestro-db --root " + layout.root() + " --repo " + layout.repo() + " snap restore " +
                           rep.snapshot_id;
  if (ctx.json()) {
    nlohmann::json j = ReportJson(rep);
    j["trash"] = trash;
    j["warnings"] = not_restored;
    j["restored"] = snapshot_id;
    j["stores"] = store_names;
    j["source_repo"] = source_spec.empty() ? nlohmann::json(nullptr) : nlohmann::json(source_spec);
    j["pre_image_repo"] = layout.repo();
    j["remote_copy"] = copied;
    ReportMetadataNotes(ctx, *svc.metadata, &j);
    ctx.PrintJson(j);
  } else {
    ReportMetadataNotes(ctx, *svc.metadata, nullptr);
    PrintReport(ctx, rep);
    if (std::string c = DescribeRemoteCopy(copied); !c.empty()) ctx.Info(c);
    ctx.Info("restored snapshot " + snapshot_id + (source_spec.empty() ? "" : " from " + source_spec) +
             " in place; to undo: " + (source_spec.empty() ? "maestro-db snap restore " + rep.snapshot_id : undo));
  }
  return Status::OK();
}

Status RunRestoreInPlace(CliContext& ctx, const Layout& live, Repository& repo, const std::string& snapshot_id,
                         const std::vector<std::string>& store_names, bool force) {
  return RunRestoreInPlace(ctx, live, repo, repo, "", snapshot_id, store_names, force);
}

}  // namespace maestro
