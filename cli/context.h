// cli/context.h — what every command gets: the global options, the loaded
// config and layout, and the output helpers (text or --json).
//
// Output rules: with --json, stdout carries exactly one JSON document (errors
// become {"error": {...}}); human text goes to stdout, warnings/errors/progress
// to stderr. -q silences info and progress; -v adds detail.
#pragma once

#include "snapshot/open_writer.h"
#include "snapshot/reader_lock.h"

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "cli/app_flags.h"
#include "cli/install_discovery.h"
#include "cli/password.h"
#include "engine/stores/layout.h"
#include "util/config.h"
#include "util/env.h"
#include "util/status.h"

namespace maestro {

struct GlobalOptions {
  std::string root;    // --root, else $MAESTRO_ROOT, else "."
  std::string config;  // --config
  std::string repo;    // --repo, else <root>/backups
  std::string password_file;  // --password-file: an encrypted repository's password (cli/password.h)
  InstallOptions install;  // --compose DIR, --no-compose (cli/install_discovery.h)
  bool json = false;
  bool yes = false;
  bool quiet = false;
  int verbose = 0;
};

class CliContext {
 public:
  // The I/O and clock seam every command passes down (util/env.h). main.cc
  // gives the process's POSIX Env; nothing below cli/ picks one itself.
  explicit CliContext(Env* env) : env_(env) {}
  Env* env() const { return env_; }

  GlobalOptions opts;
  AppFlags app_flags;  // --stop-app / --no-stop-app of the command that runs (cli/app_flags.h)

  // Loads config (if any) and discovers the layout once; errors are cached.
  Result<Layout> LoadLayout();
  // With an rclone:REMOTE:PATH repository (which LoadLayout refuses): the
  // install's layout with its default LOCAL repository folder, for the commands
  // that reach the remote themselves (snap create/delete/prune/repair/copy,
  // stats, check): the stores, and the local journal that says whether a
  // transaction is open. install() then names the remote (remote_repo). With
  // a local repository: LoadLayout's.
  Result<Layout> LoadLayoutForRemoteRepo();
  // From now on the layout's repository (journal, lock, pre-image snapshots) is
  // the local folder `dir` ("" = the default under --root), whatever --repo or
  // [repo] path say: for the transactions and the schedule whose repository is
  // remote (cli/remote_txn.h). With create_root a missing --root is created
  // (`snap restore` onto a fresh machine). Forgets the cached layout.
  void UseLocalRepository(const std::string& dir, bool create_root = true);
  const Config& config();  // empty config when none given; call after LoadLayout
  // Where each store and the repository were found and why (compose, container); after LoadLayout.
  const InstallInfo& install() const { return install_; }

  bool json() const { return opts.json; }
  bool quiet() const { return opts.quiet; }
  bool interactive_stderr() const;  // stderr is a terminal (for progress)

  void Info(const std::string& line) const;     // stdout unless --json/-q
  void Warn(const std::string& line) const;     // stderr always ("warning: ...")
  void Detail(const std::string& line) const;   // stderr with -v
  void PrintJson(const nlohmann::json& doc) const;  // stdout, pretty, one document

  // Asks on the terminal for the exact word `yes` unless --yes was given.
  // Returns Aborted if declined or stdin is not a terminal and --yes is missing.
  Status Confirm(const std::string& question) const;

  // Reports a failure (stderr line, or {"error":...} with --json) and returns the exit code.
  int Fail(const Status& s) const;

  // The password of an encrypted repository (cli/password.h), for this
  // process: main() registers it with SetProcessPasswordSource.
  PasswordSource* passwords();
  // Where the command's repository is: --repo (a local path made absolute, or
  // rclone:REMOTE:PATH), else the config's repo.path, else the layout's.
  Result<std::string> RepositorySpec();
  // BadStore (exit 8) when spec, a local repository this command makes or
  // writes besides the layout's own (snap init's, snap copy's target), lies
  // inside a store of the install (engine/stores/store_paths.h); OK for a
  // remote spec, or when there is no install to hold stores.
  Status CheckRepositoryOutsideStores(const std::string& spec);
  // The one way a command opens (or, create_if_missing, makes) its repository,
  // local or remote, encrypted or not (snapshot/open_repository.h): the
  // password is asked for only when the config says encrypted. Key warnings
  // go to stderr. Writers take the lock first (OpenWriter does both).
  Result<OpenedRepository> OpenRepository(const std::string& spec, bool create_if_missing);

  // Marks a subcommand as one that changes stores or the repository: while a
  // transaction is unfinished it is refused (exit 6) before it runs. `when`, if
  // given, narrows it after parsing (`snap restore --to DIR` writes elsewhere).
  // Every writing subcommand is marked where it is registered.
  void MarkWriting(const CLI::App* sub, std::function<bool()> when = nullptr);
  // True when the parsed command line selects a marked subcommand.
  bool SelectsWritingCommand(const CLI::App& app) const;
  // Marks a subcommand that runs without the unfinished-transaction gate
  // (cli/txn_gate.h): recover, journal, purge-trash, debug, demo, the aliases.
  void MarkUngated(const CLI::App* sub);
  bool SelectsUngatedCommand(const CLI::App& app) const;

 private:
  Env* env_;
  std::optional<Result<Layout>> layout_;
  std::unique_ptr<CliPasswordSource> passwords_;
  std::optional<Result<Layout>> remote_layout_;  // LoadLayoutForRemoteRepo's
  std::optional<std::string> local_repo_;  // set by UseLocalRepository
  bool create_root_ = false;                // ... and whether a missing root is made
  Config config_;
  InstallInfo install_;
  std::map<const CLI::App*, std::function<bool()>> writing_;
  std::set<const CLI::App*> ungated_;
  std::set<std::string> discovery_warned_;  // install discovery's warnings, printed once each

  void WarnDiscovery(const std::vector<std::string>& warnings);
};

// "" for a repository spec a command may load the layout with; else why not
// (an rclone:REMOTE:PATH spec: the snap commands, stats and check open those
// themselves (LoadLayoutForRemoteRepo, snapshot/backend.h); the transactions,
// journal, purge-trash and schedule switch to a local repository first
// (cli/remote_txn.h); a layout user that does neither is refused, exit 2).
std::string RefuseUnwiredRemoteRepo(const std::string& repo);

// --lock-wait SECONDS on cmd: 0 (fail at once, the default) up to a week. A
// larger value (1e300) would overflow the lock's deadline in microseconds.
constexpr double kMaxLockWaitSeconds = 7 * 86400;
CLI::Option* AddLockWaitOption(CLI::App* cmd, double* wait, const std::string& help);

// Each command group registers its subcommands. A subcommand's callback stores
// its exit code in *exit_code.
void RegisterInspectCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterSnapCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterDemoCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterScheduleCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterMigrateCommands(CLI::App& app, CliContext& ctx, int* exit_code);
void RegisterTxnCommands(CLI::App& app, CliContext& ctx, int* exit_code);
// `snap key ...` under the `snap` group (cli/key_cmd.cc).
void RegisterKeyCommands(CLI::App& snap, CliContext& ctx, int* exit_code);
// `snap init [--encrypt]` under the `snap` group (cli/init_cmd.cc).
void RegisterInitCommand(CLI::App& snap, CliContext& ctx, int* exit_code);
// `snap copy` under the `snap` group (cli/copy_cmd.cc).
void RegisterCopyCommand(CLI::App& snap, CliContext& ctx, int* exit_code);
// `snap restore ID` in place, as a journaled transaction (cli/txn_cmd.cc; repository locked by the caller).
class Repository;
Status RunRestoreInPlace(CliContext& ctx, const Layout& layout, Repository& repo, const std::string& snapshot_id,
                         const std::vector<std::string>& store_names, bool force);
// The same with the snapshot read from `source` (source_spec: its --repo, e.g.
// rclone:REMOTE:PATH) while the journal and pre-image go to `local`, the
// layout's repository (disaster recovery, issue 15 point 6).
Status RunRestoreInPlace(CliContext& ctx, const Layout& layout, Repository& source, Repository& local,
                         const std::string& source_spec, const std::string& snapshot_id,
                         const std::vector<std::string>& store_names, bool force);
// What a restore or reset could not give back (owners when not root, setuid bits;
// snapshot/file_meta.h): one warning each on stderr, and "metadata_notes" in *json.
struct MetadataReport;
void ReportMetadataNotes(const CliContext& ctx, const MetadataReport& report, nlohmann::json* json);

// A writer's options for the CLI: the lock waits lock_wait seconds, "waiting
// for ..." lines go to stderr (unless --quiet), the rest to --verbose detail.
WriterOptions CliWriterOptions(const CliContext& ctx, double lock_wait, bool create);

// The readers' lock of repo, for a command that reads it for long (`snap
// restore`'s source, `snap copy`'s source, `snap verify`; snapshot/reader_lock.h):
// its folder's lock file, or a remote repository's reader lock object. Waits
// lock_wait seconds for a garbage collection, then Busy (exit 5). When the
// lock cannot be made (a read-only repository or remote) it runs without, and
// says so on stderr.
Result<std::unique_ptr<ReaderLock>> LockForReading(const CliContext& ctx, Repository* repo, double lock_wait);

}  // namespace maestro
