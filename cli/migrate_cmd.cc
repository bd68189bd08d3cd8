// cli/migrate_cmd.cc — `maestro-db migrate status | validate | up | down | baseline`.
// Parsing and printing only; the work is engine/migrate/migrate.h. Exit codes: 0 ok,
// 1 validate found drift/missing files, 9 a migration failed and the run was
// rolled back, 6 the rollback itself failed (run `maestro-db recover`); the
// others as for every command (docs/migrations.md).
#include <iostream>
#include <memory>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/remote_txn.h"
#include "engine/migrate/migrate.h"
#include "engine/txn/migrate_txn.h"
#include "engine/txn/recover.h"
#include "engine/stores/snapshot_sources.h"

namespace maestro {

namespace {

struct MigrateArgs {
  std::string migrations;  // --migrations DIR
  std::string store;       // --store S
  int64_t to = -1;         // --to V (-1 = not given)
  int64_t version = -1;    // baseline --version N
  bool dry_run = false;
  std::string pre_image_repo;  // --pre-image-repo: up, down, baseline with a remote repository
  RemoteTxn remote;            // set by `load` (cli/remote_txn.h)
};

void AddCommonOptions(CLI::App* cmd, MigrateArgs* a) {
  cmd->add_option("--migrations", a->migrations,
                  "folder with <store>/NNNN_name.sql files (default: config key migrations.dir, else built in)");
  cmd->add_option("--store", a->store, "only this store: main or ai (default: both)");
}

// Resolves the options shared by every subcommand.
Result<MigrateOptions> Resolve(CliContext& ctx, const MigrateArgs& a, const Layout& layout) {
  MigrateOptions o;
  o.migrations_dir = a.migrations.empty() ? ctx.config().Get("migrations.dir") : a.migrations;
  if (!o.migrations_dir.empty() && o.migrations_dir[0] != '/' && a.migrations.empty())
    o.migrations_dir = JoinPath(layout.root(), o.migrations_dir);  // config paths are relative to --root
  if (!a.store.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(StoreId id, ParseStoreName(a.store));
    if (id != StoreId::kMain && id != StoreId::kAi)
      return Status::InvalidArgument("--store " + a.store + ": only main and ai have schema migrations");
    o.store = id;
  }
  if (a.to >= 0) o.to = a.to;
  o.dry_run = a.dry_run;
  return o;
}

std::string StateOf(const StoreMigrationStatus& s) {
  if (!s.present) return "absent";
  if (s.unversioned()) return "unversioned";
  if (!s.ok()) return "drift";
  if (!s.pending.empty()) return "pending";
  return "up to date";
}

nlohmann::json StatusJson(const std::vector<StoreMigrationStatus>& all) {
  nlohmann::json stores = nlohmann::json::object();
  bool ok = true;
  for (const auto& s : all) {
    nlohmann::json pending = nlohmann::json::array(), drifted = nlohmann::json::array(),
                   missing = nlohmann::json::array(), failed = nlohmann::json::array();
    for (const auto& m : s.pending)
      pending.push_back({{"version", m.version}, {"file", m.file}, {"has_down", m.has_down}});
    for (const auto& d : s.drifted)
      drifted.push_back({{"version", d.version},
                         {"file", d.file},
                         {"recorded_checksum", d.recorded_checksum},
                         {"file_checksum", d.file_checksum}});
    for (const auto& m : s.missing)
      missing.push_back({{"version", m.version}, {"description", m.description}, {"applied_at", m.applied_at}});
    for (const auto& m : s.failed)
      failed.push_back({{"version", m.version}, {"description", m.description}, {"applied_at", m.applied_at}});
    ok = ok && s.ok();
    stores[s.store] = {{"path", s.path},       {"present", s.present}, {"state", StateOf(s)},
                       {"current", s.current}, {"newest", s.newest},   {"has_history", s.has_history},
                       {"pending", pending},   {"drifted", drifted},   {"missing", missing},
                       {"failed", failed}};
  }
  return {{"ok", ok}, {"stores", stores}};
}

void PrintStatusText(const CliContext& ctx, const std::vector<StoreMigrationStatus>& all) {
  for (const auto& s : all) {
    std::string line = s.store + ": ";
    if (!s.present) {
      ctx.Info(line + "absent (" + s.path + ")");
      continue;
    }
    line += "version " + std::to_string(s.current) + " of " + std::to_string(s.newest) + ", " + StateOf(s);
    ctx.Info(line + " (" + s.path + ")");
    if (s.unversioned())
      ctx.Info("  " + std::to_string(s.user_tables) +
               " tables but no migration history: run `maestro-db migrate baseline --store " + s.store +
               " --version N`");
    for (const auto& m : s.pending) ctx.Info("  pending  " + m.file + (m.has_down ? "" : "  (no down part)"));
    for (const auto& d : s.drifted)
      ctx.Info("  CHANGED  " + d.file + ": applied with checksum " + d.recorded_checksum + ", file now has " +
               d.file_checksum);
    for (const auto& m : s.missing)
      ctx.Info("  MISSING  version " + std::to_string(m.version) + " (" + m.description + ", applied " +
               m.applied_at + "): no file for it");
    for (const auto& m : s.failed)
      ctx.Info("  failed   version " + std::to_string(m.version) + " (" + m.description + ") recorded as failed");
  }
}

// The transaction session (repository lock, repository, journal: engine/txn/recover.h),
// with a snapshot that captures only the stores the plan touches.
Result<std::unique_ptr<TxnSession>> OpenServices(const Layout& layout, const MigrationPlan& plan) {
  MAESTRO_ASSIGN_OR_RETURN(auto session, OpenTxnSession(layout, layout.env()));
  std::vector<SnapshotSource> sources = SourcesFor(layout, plan.stores);
  Repository* repo = session->repo.get();
  session->svc.snapshot = [repo, sources](const std::string& trigger) -> Result<std::string> {
    CreateOptions co;
    co.trigger = trigger;
    co.label = "before migrate";
    MAESTRO_ASSIGN_OR_RETURN(SnapshotInfo info, repo->Create(sources, co));
    MAESTRO_ASSIGN_OR_RETURN(VerifyReport vr, repo->Verify({info.id}, /*read_data=*/true));
    if (!vr.ok())
      return Status::Corruption("the pre-migrate snapshot " + info.id + " failed verification: " +
                                vr.problems.front().path + ": " + vr.problems.front().detail);
    return info.id;
  };
  return session;
}

int RunPlan(CliContext& ctx, const Layout& layout, const MigrationPlan& plan, bool dry_run, const RemoteTxn& remote) {
  if (dry_run) {
    if (ctx.json()) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& s : plan.steps)
        steps.push_back({{"store", StoreName(s.store)}, {"file", s.migration.file}, {"down", s.down}, {"sql", s.sql()}});
      ctx.PrintJson({{"dry_run", true}, {"steps", steps}});
    } else if (plan.steps.empty()) {
      ctx.Info("nothing to do");
    } else {
      std::cout << DescribePlanSql(plan);
    }
    return kExitOk;
  }
  if (plan.steps.empty()) {
    if (ctx.json()) ctx.PrintJson({{"steps_applied", 0}, {"stores", nlohmann::json::object()}});
    else ctx.Info("nothing to do: every store is at the requested version");
    return kExitOk;
  }
  auto services = OpenServices(layout, plan);
  if (!services.ok()) return ctx.Fail(services.status());
  TxnReport report;
  Status s = RunMigrateWithApp(ctx, (*services)->svc, plan, &report);
  if (!s.ok()) return ctx.Fail(s);
  nlohmann::json copied = CopyPreImageToRemote(ctx, remote, *(*services)->repo, report.snapshot_id);
  if (std::string c = DescribeRemoteCopy(copied); !c.empty()) ctx.Info(c);
  nlohmann::json stores = nlohmann::json::object();
  for (size_t i = 0; i < plan.stores.size(); ++i) {
    stores[StoreName(plan.stores[i])] = {{"from", plan.versions[i].first}, {"to", plan.versions[i].second}};
    ctx.Info(std::string(StoreName(plan.stores[i])) + ": version " + std::to_string(plan.versions[i].first) +
             " -> " + std::to_string(plan.versions[i].second));
  }
  ctx.Info(std::to_string(plan.steps.size()) + " migration(s) " + (plan.down ? "reverted" : "applied") +
           "; snapshot " + report.snapshot_id + " holds the stores as they were");
  if (ctx.json()) {
    nlohmann::json j = {{"txn_id", report.txn_id},
                        {"snapshot_id", report.snapshot_id},
                        {"steps_applied", plan.steps.size()},
                        {"stores", stores}};
    if (remote.active()) j["remote_copy"] = copied;
    ctx.PrintJson(j);
  }
  return kExitOk;
}

}  // namespace

void RegisterMigrateCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* group = app.add_subcommand(
      "migrate",
      "Versioned schema migrations of main and ai (files NNNN_name.sql, history in the store's\n"
      "migration_history table; see docs/migrations.md)");
  group->require_subcommand(1);
  auto a = std::make_shared<MigrateArgs>();

  // A remote repository: the layout's is the local one (cli/remote_txn.h); status
  // and validate only read the stores, the others journal there.
  auto load = [&ctx, a](MigrateOptions* o, bool writing = false) -> Result<Layout> {
    MAESTRO_ASSIGN_OR_RETURN(a->remote, PrepareRemoteTxn(ctx, a->pre_image_repo, writing));
    MAESTRO_ASSIGN_OR_RETURN(Layout layout, ctx.LoadLayout());
    MAESTRO_ASSIGN_OR_RETURN(*o, Resolve(ctx, *a, layout));
    return layout;
  };

  auto* status = group->add_subcommand("status", "Per store: current version, pending, changed and missing files");
  AddCommonOptions(status, a.get());
  status->callback([&ctx, exit_code, load]() {
    MigrateOptions o;
    auto layout = load(&o);
    if (!layout.ok()) return void(*exit_code = ctx.Fail(layout.status()));
    auto st = GetMigrationStatus(*layout, o);
    if (!st.ok()) return void(*exit_code = ctx.Fail(st.status()));
    if (ctx.json()) ctx.PrintJson(StatusJson(*st));
    else PrintStatusText(ctx, *st);
    *exit_code = kExitOk;
  });

  auto* validate = group->add_subcommand(
      "validate", "Exit 1 when an applied migration's file changed or is missing (names file and store)");
  AddCommonOptions(validate, a.get());
  validate->callback([&ctx, exit_code, load]() {
    MigrateOptions o;
    auto layout = load(&o);
    if (!layout.ok()) return void(*exit_code = ctx.Fail(layout.status()));
    auto st = GetMigrationStatus(*layout, o);
    if (!st.ok()) return void(*exit_code = ctx.Fail(st.status()));
    bool ok = true;
    for (const auto& s : *st) {
      for (const auto& d : s.drifted)
        std::cerr << "store " << s.store << ": migration " << d.file << " changed since it was applied (checksum "
                  << d.recorded_checksum << " recorded, file has " << d.file_checksum << ")\n";
      for (const auto& m : s.missing)
        std::cerr << "store " << s.store << ": applied migration version " << m.version << " (" << m.description
                  << ") has no file\n";
      ok = ok && s.ok();
    }
    if (ctx.json()) ctx.PrintJson(StatusJson(*st));
    else ctx.Info(ok ? "ok: every applied migration matches its file" : "drift found");
    *exit_code = ok ? kExitOk : kExitIssuesFound;
  });

  auto* up = group->add_subcommand(
      "up", "Apply pending migrations, each in its own transaction, after a pre-migrate snapshot;\n"
            "a failure rolls back the whole run");
  AddCommonOptions(up, a.get());
  ctx.MarkWriting(up);
  AddAppFlags(up, &ctx.app_flags);
  up->add_option("--to", a->to, "last version to apply (default: newest)");
  up->add_flag("--dry-run", a->dry_run, "print the SQL it would run; change nothing");
  AddPreImageRepoOption(up, &a->pre_image_repo);
  up->callback([&ctx, exit_code, load, a]() {
    MigrateOptions o;
    auto layout = load(&o, !a->dry_run);
    if (!layout.ok()) return void(*exit_code = ctx.Fail(layout.status()));
    auto plan = PlanMigrateUp(*layout, o);
    if (!plan.ok()) return void(*exit_code = ctx.Fail(plan.status()));
    *exit_code = RunPlan(ctx, *layout, *plan, a->dry_run, a->remote);
  });

  auto* down = group->add_subcommand(
      "down", "Revert applied migrations above --to with their down parts, newest first, the same way");
  AddCommonOptions(down, a.get());
  ctx.MarkWriting(down);
  AddAppFlags(down, &ctx.app_flags);
  down->add_option("--to", a->to, "version to return to (0 = before the first)")->required();
  down->add_flag("--dry-run", a->dry_run, "print the SQL it would run; change nothing");
  AddPreImageRepoOption(down, &a->pre_image_repo);
  down->callback([&ctx, exit_code, load, a]() {
    MigrateOptions o;
    auto layout = load(&o, !a->dry_run);
    if (!layout.ok()) return void(*exit_code = ctx.Fail(layout.status()));
    auto plan = PlanMigrateDown(*layout, o);
    if (!plan.ok()) return void(*exit_code = ctx.Fail(plan.status()));
    *exit_code = RunPlan(ctx, *layout, *plan, a->dry_run, a->remote);
  });

  auto* baseline = group->add_subcommand(
      "baseline", "Adopt an install that has tables but no history: record versions 1..N as applied\n"
                  "(current checksums; no SQL is run)");
  AddCommonOptions(baseline, a.get());
  ctx.MarkWriting(baseline);
  baseline->add_option("--version", a->version, "the version the store's schema matches")->required();
  AddPreImageRepoOption(baseline, &a->pre_image_repo);
  baseline->callback([&ctx, exit_code, load, a]() {
    MigrateOptions o;
    auto layout = load(&o, true);
    if (!layout.ok()) return void(*exit_code = ctx.Fail(layout.status()));
    // It writes history rows: one writer at a time, like every writing command
    // (no snapshot: no schema or data row changes).
    auto session = OpenTxnSession(*layout, ctx.env());
    if (!session.ok()) return void(*exit_code = ctx.Fail(session.status()));
    auto adopted = BaselineMigrations(*layout, o, a->version);
    if (!adopted.ok()) return void(*exit_code = ctx.Fail(adopted.status()));
    nlohmann::json names = nlohmann::json::array();
    for (StoreId s : *adopted) {
      names.push_back(StoreName(s));
      ctx.Info(std::string(StoreName(s)) + ": baselined at version " + std::to_string(a->version));
    }
    if (ctx.json()) ctx.PrintJson({{"version", a->version}, {"stores", names}});
    *exit_code = kExitOk;
  });
}

}  // namespace maestro
