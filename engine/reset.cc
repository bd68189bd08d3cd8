#include "engine/reset.h"

#include "engine/schema.h"
#include "util/sqlite.h"

namespace maestro {

nlohmann::json ResetArgs(const Layout& layout) {
  nlohmann::json stores = nlohmann::json::array();
  for (const auto& s : layout.stores()) stores.push_back(StoreRef::FromStore(s).ToJson());
  return {{"stores", stores}};
}

Result<TxnPlan> BuildResetPlan(const TxnContext& ctx) {
  TxnPlan plan;
  Env* env = ctx.svc->env;
  if (!ctx.args.contains("stores") || !ctx.args["stores"].is_array())
    return Status::Corruption("reset transaction " + ctx.txn_id + " has no store list in its journal record");
  for (const auto& j : ctx.args["stores"]) {
    StoreRef s = StoreRef::FromJson(j);
    MAESTRO_ASSIGN_OR_RETURN(StoreId id, ParseStoreName(s.name));
    uint32_t mode = 0755;
    if (!s.sqlite) {
      FileInfo fi;
      if (env->Stat(s.path, &fi).ok() && fi.exists && fi.is_dir) mode = fi.mode & 07777;
    }
    AddReplaceStoreSteps(&plan, env, "reset", s, ctx.txn_id, [env, s, id, mode](const std::string& staged) -> Status {
      if (!s.sqlite) {
        MAESTRO_RETURN_IF_ERROR(env->CreateDirs(DirName(staged)));
        MAESTRO_RETURN_IF_ERROR(env->CreateDir(staged, mode));
        return env->SyncDir(DirName(staged));
      }
      MAESTRO_RETURN_IF_ERROR(env->CreateDirs(DirName(staged)));
      {
        MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(staged, true));
        Status st = CreateFreshSchema(db, id);
        if (!st.ok()) return st.Annotate("creating the fresh " + s.name + " schema at " + staged);
        MAESTRO_RETURN_IF_ERROR(db.Close());
      }
      return SyncFileAndDir(env, staged);
    });
  }
  return plan;
}

std::vector<std::string> DescribeReset(const Layout& layout) {
  std::vector<std::string> out;
  for (const auto& s : layout.stores()) {
    std::string what;
    switch (s.id) {
      case StoreId::kMain:
      case StoreId::kAi:
        what = "replaced by an empty database with the newest schema";
        break;
      case StoreId::kVector: what = "replaced by an empty directory (Chroma recreates its collections)"; break;
      default: what = "emptied (the folder is kept)"; break;
    }
    out.push_back(s.name + " (" + s.path + (s.present ? "" : ", missing now") + "): " + what);
  }
  return out;
}

}  // namespace maestro
