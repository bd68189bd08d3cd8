#include "engine/txn/reset.h"

#include "engine/migrate/schema.h"
#include "engine/txn/txn_args.h"
#include "util/sqlite.h"

namespace maestro {

nlohmann::json ResetArgs(const Layout& layout) {
  nlohmann::json stores = nlohmann::json::array();
  for (const auto& s : layout.stores()) stores.push_back(StoreRef::FromStore(s).ToJson());
  return {{"stores", stores}};
}

namespace {

// An empty store at staged: a folder, or a database with the newest schema.
Status CreateFreshStore(Env* env, const StoreRef& s, StoreId id, const std::string& staged) {
  MAESTRO_RETURN_IF_ERROR(env->CreateDirs(DirName(staged)));
  if (!s.sqlite) return env->CreateDir(staged, 0755);
  MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(env, staged, true));
  Status st = CreateFreshSchema(db, id, env->NowMicros());
  if (!st.ok()) return st.Annotate("creating the fresh " + s.name + " schema at " + staged);
  return db.Close();
}

}  // namespace

Result<TxnPlan> BuildResetPlan(const TxnContext& ctx) {
  TxnPlan plan;
  Env* env = ctx.svc->env;
  std::shared_ptr<MetadataReport> report = ctx.svc->metadata;
  auto args = DecodeResetArgs(ctx.args);
  if (!args.ok()) return args.status().Annotate("reset transaction " + ctx.txn_id);
  for (const StoreRef& s : args->stores) {
    MAESTRO_ASSIGN_OR_RETURN(StoreId id, ParseStoreName(s.name));
    AddReplaceStoreSteps(&plan, env, "reset", s, ctx.txn_id, [env, s, id, report](const std::string& staged) -> Status {
      // The stage step never runs after its swap: what is at s.path now is the
      // old store, whose mode and owner the fresh one keeps (snapshot/file_meta.h).
      FileInfo was;
      MAESTRO_RETURN_IF_ERROR(env->Stat(s.path, &was));
      bool replaces = was.exists && (s.sqlite ? was.is_regular : was.is_dir);
      MAESTRO_RETURN_IF_ERROR(CreateFreshStore(env, s, id, staged));
      MAESTRO_RETURN_IF_ERROR(replaces ? ApplyMetadataOf(env, staged, was, report.get())
                                       : ApplyNewEntryPolicy(env, staged, report.get()));
      if (s.sqlite) return SyncFileAndDir(env, staged);
      MAESTRO_RETURN_IF_ERROR(env->SyncDir(staged));
      return env->SyncDir(DirName(staged));
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
