#include "engine/txn/restore_txn.h"

#include "engine/txn/txn_args.h"
#include "snapshot/open_backend.h"
#include "snapshot/open_repository.h"
#include "snapshot/repository.h"

namespace maestro {

nlohmann::json RestoreArgs(const Layout& layout, const std::string& source_snapshot, const std::vector<StoreId>& stores,
                           const std::string& source_repo) {
  nlohmann::json refs = nlohmann::json::array();
  for (StoreId id : stores) refs.push_back(StoreRef::FromStore(layout.store(id)).ToJson());
  nlohmann::json j = {{"source", source_snapshot}, {"stores", refs}};
  if (!source_repo.empty()) j["source_repo"] = source_repo;
  return j;
}

Result<TxnPlan> BuildRestorePlan(const TxnContext& ctx) {
  auto args = DecodeRestoreArgs(ctx.args);
  if (!args.ok()) return args.status().Annotate("restore transaction " + ctx.txn_id);
  std::string source = args->source;
  std::string from = args->source_repo;
  TxnServices* svc = ctx.svc;
  if (!from.empty() && !svc->restore_store_from)
    return Status::Internal("restore transaction " + ctx.txn_id + " reads from " + from +
                            " but this process cannot open other repositories");
  TxnPlan plan;
  for (const StoreRef& s : args->stores) {
    AddReplaceStoreSteps(&plan, svc->env, "restore", s, ctx.txn_id, [svc, source, from, s](const std::string& staged) {
      MAESTRO_RETURN_IF_ERROR(svc->env->CreateDirs(DirName(staged)));
      if (!from.empty()) return svc->restore_store_from(from, source, s.name, staged);
      return svc->restore_store(source, s.name, staged);
    });
  }
  return plan;
}

std::function<Status(const std::string&, const std::string&, const std::string&, const std::string&)>
RestoreFromOtherRepository(Env* env, std::shared_ptr<MetadataReport> metadata) {
  struct Opened {
    std::string spec;
    std::unique_ptr<Repository> repo;
    OpenedRestore restore;  // of repo
  };
  auto opened = std::make_shared<Opened>();
  return [env, metadata, opened](const std::string& spec, const std::string& snap, const std::string& store,
                                 const std::string& target) -> Status {
    if (!opened->repo || opened->spec != spec) {
      // Local or remote, encrypted or not: the one opener, with the process's
      // password source (snapshot/open_repository.h), so an encrypted remote works.
      auto repo = OpenRepository(env, spec, OpenRepositoryOptions{});
      if (!repo.ok())
        return repo.status().Annotate("opening " + spec + ", the repository snapshot " + snap +
                                      " is restored from (check the network, `rclone config` and, when it is "
                                      "encrypted, its password; then run `maestro-db recover`)");
      opened->restore = OpenedRestore();  // of the repository it replaces
      opened->repo = std::move(repo->repo);
      opened->spec = spec;
    }
    RestoreOptions ro;
    ro.metadata = metadata.get();
    return opened->restore.RestoreStore(opened->repo.get(), snap, store, target, ro);
  };
}

}  // namespace maestro
