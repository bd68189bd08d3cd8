#include "engine/txn/migrate_txn.h"

#include <set>

#include "engine/txn/txn_args.h"
#include "util/crash_point.h"
#include "util/env.h"
#include "util/time_util.h"

namespace maestro {

// ---- running ------------------------------------------------------------

nlohmann::json MigratePlanArgs(const MigrationPlan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : plan.steps)
    steps.push_back({{"store", StoreName(s.store)},
                     {"path", s.store_path},
                     {"file", s.migration.file},
                     {"origin", s.migration.origin},
                     {"version", s.migration.version},
                     {"name", s.migration.name},
                     {"checksum", s.migration.checksum},
                     {"down", s.down},
                     {"sql", s.sql()}});
  return {{"direction", plan.down ? "down" : "up"}, {"steps", steps}};
}

namespace {

// One step's run: idempotent because the history row commits with the change.
// env: the transaction's (a test's FaultEnv then sees the store's writes, util/sqlite_env_vfs.h).
Status RunMigrateStep(Env* env, const MigrationStep& step, const std::string& applied_at) {
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(env, step.store_path, /*create=*/false));
  // synchronous=FULL: a COMMIT we report is on disk, in WAL mode too.
  MAESTRO_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL"));
  MAESTRO_ASSIGN_OR_RETURN(auto history, ReadHistory(db));
  bool recorded = false;
  for (const auto& a : history)
    if (a.success && a.version == step.migration.version) recorded = true;
  if (recorded != step.down) return db.Close();  // done before a crash
  Status s = ApplyMigrationStep(db, step.migration, step.down, applied_at);
  Status c = db.Close();
  if (!s.ok()) {
    switch (s.code()) {
      case Status::Code::kBusy:
      case Status::Code::kIoError:
      case Status::Code::kInvalidArgument:
        return s;
      default:
        return Status::Aborted(s.message());
    }
  }
  MAESTRO_CRASH_POINT("migrate.after_sql_commit");
  return c;
}

}  // namespace

Result<TxnPlan> BuildMigrateTxnPlan(const TxnContext& ctx) {
  auto args = DecodeMigrateArgs(ctx.args);
  if (!args.ok()) return args.status().Annotate("migrate transaction " + ctx.txn_id);
  // applied_at: the time the transaction began (its id starts with the UTC stamp).
  std::string applied_at = FormatIso8601(ctx.svc->env->NowMicros());
  TxnPlan plan;
  std::set<std::string> seen_store;
  for (const MigrationStep& step : args->steps) {
    const Migration& m = step.migration;
    TxnStep ts;
    ts.name = "migrate." + m.store + "." + std::to_string(m.version) + (step.down ? ".down" : ".up");
    Env* env = ctx.svc ? ctx.svc->env : nullptr;
    ts.run = [env, step, applied_at]() { return RunMigrateStep(env, step, applied_at); };
    if (seen_store.insert(m.store).second) {
      StoreRef ref;
      ref.name = m.store;
      ref.path = step.store_path;
      ref.sqlite = true;
      ref.present = true;
      TxnServices* svc = ctx.svc;
      std::string snap = ctx.snapshot_id, txn_id = ctx.txn_id;
      ts.undo = [svc, ref, snap, txn_id]() { return RestoreStoreFromSnapshot(*svc, ref, snap, txn_id); };
    }
    plan.steps.push_back(std::move(ts));
  }
  return plan;
}

Status RunMigrateTransaction(TxnServices& svc, const MigrationPlan& plan, TxnReport* report) {
  if (plan.steps.empty()) return Status::OK();
  MAESTRO_RETURN_IF_ERROR(CheckStoresNotHeldOpen(plan.store_paths));
  return RunTransaction(svc, kMigrateTxnKind, kMigrateTrigger, MigratePlanArgs(plan), BuildMigrateTxnPlan, report);
}

}  // namespace maestro
