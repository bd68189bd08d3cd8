#include "engine/restore_txn.h"

#include "engine/txn_args.h"

namespace maestro {

nlohmann::json RestoreArgs(const Layout& layout, const std::string& source_snapshot, const std::vector<StoreId>& stores) {
  nlohmann::json refs = nlohmann::json::array();
  for (StoreId id : stores) refs.push_back(StoreRef::FromStore(layout.store(id)).ToJson());
  return {{"source", source_snapshot}, {"stores", refs}};
}

Result<TxnPlan> BuildRestorePlan(const TxnContext& ctx) {
  auto args = DecodeRestoreArgs(ctx.args);
  if (!args.ok()) return args.status().Annotate("restore transaction " + ctx.txn_id);
  std::string source = args->source;
  TxnServices* svc = ctx.svc;
  TxnPlan plan;
  for (const StoreRef& s : args->stores) {
    AddReplaceStoreSteps(&plan, svc->env, "restore", s, ctx.txn_id, [svc, source, s](const std::string& staged) {
      MAESTRO_RETURN_IF_ERROR(svc->env->CreateDirs(DirName(staged)));
      return svc->restore_store(source, s.name, staged);
    });
  }
  return plan;
}

}  // namespace maestro
