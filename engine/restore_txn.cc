#include "engine/restore_txn.h"

namespace maestro {

nlohmann::json RestoreArgs(const Layout& layout, const std::string& source_snapshot, const std::vector<StoreId>& stores) {
  nlohmann::json refs = nlohmann::json::array();
  for (StoreId id : stores) refs.push_back(StoreRef::FromStore(layout.store(id)).ToJson());
  return {{"source", source_snapshot}, {"stores", refs}};
}

Result<TxnPlan> BuildRestorePlan(const TxnContext& ctx) {
  if (!ctx.args.contains("stores") || !ctx.args["stores"].is_array() || !ctx.args.contains("source") ||
      !ctx.args["source"].is_string())
    return Status::Corruption("restore transaction " + ctx.txn_id + " lacks its source snapshot or store list");
  std::string source = ctx.args["source"].get<std::string>();
  TxnServices* svc = ctx.svc;
  TxnPlan plan;
  for (const auto& j : ctx.args["stores"]) {
    StoreRef s = StoreRef::FromJson(j);
    AddReplaceStoreSteps(&plan, svc->env, "restore", s, ctx.txn_id, [svc, source, s](const std::string& staged) {
      MAESTRO_RETURN_IF_ERROR(svc->env->CreateDirs(DirName(staged)));
      return svc->restore_store(source, s.name, staged);
    });
  }
  return plan;
}

}  // namespace maestro
