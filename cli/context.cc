#include "cli/context.h"

#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "cli/exit_codes.h"
#include "engine/stores/store_paths.h"
#include "snapshot/file_meta.h"
#include "snapshot/rclone_backend.h"
#include "util/env.h"
#include "util/follow_link.h"
#include "util/json_text.h"
#include "util/text.h"

namespace maestro {

Result<Layout> CliContext::LoadLayout() {
  if (layout_) return *layout_;
  std::string root = opts.root;
  if (root.empty()) {
    const char* env = std::getenv("MAESTRO_ROOT");
    root = env && *env ? env : DefaultRoot(opts.install);
  }
  if (!opts.config.empty()) {
    auto c = Config::Load(opts.config);
    if (!c.ok()) {
      layout_ = Result<Layout>(c.status());
      return *layout_;
    }
    config_ = std::move(c).value();
  }
  std::string repo = opts.repo.empty() ? config_.Get("repo.path") : opts.repo;
  if (local_repo_) {
    repo = *local_repo_;
    config_.Set("repo.path", "");  // a remote [repo] path is the source, not this layout's repository
    if (create_root_) env_->CreateDirs(root).IgnoreError("Layout::Discover reports a root it cannot use");
  }
  std::string refused = RefuseUnwiredRemoteRepo(repo);
  if (!refused.empty()) {
    layout_ = Result<Layout>(Status::InvalidArgument(refused));
    return *layout_;
  }
  install_ = InstallInfo();  // after UseLocalRepository: found again, not added to
  layout_ = DiscoverInstall(env_, opts.install, root, &config_, local_repo_ ? *local_repo_ : opts.repo, &install_);
  WarnDiscovery(install_.warnings);
  return *layout_;
}

Result<Layout> CliContext::LoadLayoutForRemoteRepo() {
  Result<Layout> plain = LoadLayout();
  if (plain.ok() || remote_layout_) return remote_layout_ ? *remote_layout_ : plain;
  std::string repo = opts.repo.empty() ? config_.Get("repo.path") : opts.repo;
  if (RefuseUnwiredRemoteRepo(repo).empty()) return plain;  // not a remote: LoadLayout's own error
  std::string root = opts.root;
  if (root.empty()) {
    const char* env = std::getenv("MAESTRO_ROOT");
    root = env && *env ? env : DefaultRoot(opts.install);
  }
  Config local = config_;
  local.Set("repo.path", "");  // the remote is the caller's; the layout gets the default folder
  InstallInfo info;
  remote_layout_ = DiscoverInstall(env_, opts.install, root, &local, "", &info);
  WarnDiscovery(info.warnings);
  // Where the stores were found, and the repository the user named (not the
  // layout's local default): what `stats` reports.
  info.remote_repo = repo;
  info.repo_why = opts.repo.empty() ? "the config file's [repo] path" : "--repo";
  install_ = std::move(info);
  return *remote_layout_;
}

// An rclone: spec taken for a local folder named "rclone:…" would make a user
// believe in an off-site copy that is on the same disk. Every command that
// takes --repo opens a remote one itself (LoadLayoutForRemoteRepo, or a local
// repository first: cli/remote_txn.h), so this refusal is the safety net for a
// layout user that has not been wired: it fails rather than write "rclone:…"
// as a folder.
std::string RefuseUnwiredRemoteRepo(const std::string& repo) {
  if (repo.rfind("rclone:", 0) != 0) return "";
  return repo +
         ": this command has no way to a remote repository (rclone:REMOTE:PATH) yet (docs/remote.md lists the "
         "ones that have); use a local folder here, and `snap copy --to` the remote after it";
}

// The gate and the command may both discover the install (the remote's
// layout, then the local repository's): each finding is said once.
void CliContext::WarnDiscovery(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings)
    if (discovery_warned_.insert(w).second) Warn(w);
}

void CliContext::UseLocalRepository(const std::string& dir, bool create_root) {
  local_repo_ = dir;
  create_root_ = create_root;
  layout_.reset();
}

const Config& CliContext::config() { return config_; }

PasswordSource* CliContext::passwords() {
  if (!passwords_)
    passwords_ = std::make_unique<CliPasswordSource>(&opts.password_file, [this](const std::string& w) { Warn(w); });
  return passwords_.get();
}

Result<std::string> CliContext::RepositorySpec() {
  if (IsRcloneSpec(opts.repo)) return opts.repo;
  if (!opts.repo.empty()) return FollowFinalLink(env_, opts.repo);
  Result<Layout> layout = LoadLayout();
  std::string configured = config_.Get("repo.path");
  if (IsRcloneSpec(configured)) return configured;
  MAESTRO_RETURN_IF_ERROR(layout.status());
  return layout->repo();
}

Status CliContext::CheckRepositoryOutsideStores(const std::string& spec) {
  if (IsRcloneSpec(spec)) return Status::OK();
  Result<Layout> layout = LoadLayout();
  return layout.ok() ? CheckRepositoryPath(*layout, spec) : Status::OK();
}

Result<OpenedRepository> CliContext::OpenRepository(const std::string& spec, bool create_if_missing) {
  OpenRepositoryOptions oo;
  oo.create_if_missing = create_if_missing;
  oo.password = passwords();
  Result<OpenedRepository> r = maestro::OpenRepository(Env::Default(), spec, oo);
  if (r.ok())
    for (const auto& w : r->keys.warnings) Warn(w);
  return r;
}

bool CliContext::interactive_stderr() const { return ::isatty(STDERR_FILENO) && !opts.quiet && !opts.json; }

void CliContext::Info(const std::string& line) const {
  if (opts.json || opts.quiet) return;
  std::cout << line << "\n";
}

// Warnings and errors name paths, labels and hosts: printed with control
// characters escaped (util/text.h), so a crafted name cannot drive the terminal.
void CliContext::Warn(const std::string& line) const { std::cerr << "warning: " << EscapeForTerminal(line) << "\n"; }

void ReportMetadataNotes(const CliContext& ctx, const MetadataReport& report, nlohmann::json* json) {
  std::vector<std::string> notes = report.Notes();
  for (const auto& n : notes) ctx.Warn(n);
  if (json) (*json)["metadata_notes"] = notes;
}

void CliContext::Detail(const std::string& line) const {
  if (opts.verbose > 0) std::cerr << line << "\n";
}

void CliContext::PrintJson(const nlohmann::json& doc) const { std::cout << JsonText(doc, 2) << "\n"; }

Status CliContext::Confirm(const std::string& question) const {
  if (opts.yes) return Status::OK();
  if (!::isatty(STDIN_FILENO))
    return Status::Aborted("confirmation needed and standard input is not a terminal: pass --yes to proceed");
  std::cerr << question << "\nType 'yes' to continue: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "yes") return Status::Aborted("not confirmed; nothing was changed");
  return Status::OK();
}

int CliContext::Fail(const Status& s) const {
  int code = ExitCodeFor(s);
  if (opts.json) {
    nlohmann::json err = {{"error", {{"kind", Status::CodeName(s.code())}, {"message", s.message()}, {"exit_code", code}}}};
    std::cout << JsonText(err, 2) << "\n";
  }
  std::cerr << "maestro-db: " << EscapeForTerminal(s.ToString()) << "\n";
  return code;
}

void CliContext::MarkWriting(const CLI::App* sub, std::function<bool()> when) { writing_[sub] = std::move(when); }

bool CliContext::SelectsWritingCommand(const CLI::App& app) const {
  for (const CLI::App* sub : app.get_subcommands()) {
    auto it = writing_.find(sub);
    if (it != writing_.end() && (!it->second || it->second())) return true;
    if (SelectsWritingCommand(*sub)) return true;
  }
  return false;
}

void CliContext::MarkUngated(const CLI::App* sub) { ungated_.insert(sub); }

bool CliContext::SelectsUngatedCommand(const CLI::App& app) const {
  for (const auto* sub : app.get_subcommands()) {
    if (ungated_.count(sub)) return true;
    if (SelectsUngatedCommand(*sub)) return true;
  }
  return false;
}

WriterOptions CliWriterOptions(const CliContext& ctx, double lock_wait, bool create) {
  WriterOptions wo;
  wo.create = create;
  wo.lock.wait_seconds = lock_wait;
  const CliContext* c = &ctx;
  wo.lock.log = [c](const std::string& line) {
    if (line.rfind("waiting", 0) == 0) {
      if (!c->quiet()) std::cerr << line << "\n";
    } else {
      c->Detail(line);
    }
  };
  return wo;
}

Result<std::unique_ptr<ReaderLock>> LockForReading(const CliContext& ctx, Repository* repo, double lock_wait) {
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> lock, ReaderLock::Shared(repo, lock_wait));
  if (!lock->held()) ctx.Warn(lock->note());
  return lock;
}

CLI::Option* AddLockWaitOption(CLI::App* cmd, double* wait, const std::string& help) {
  return cmd->add_option("--lock-wait", *wait, help)
      ->type_name("SECONDS")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            // Not CLI::Range: "nan" passes its two comparisons, and a NaN
            // deadline is undefined when made into microseconds.
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > kMaxLockWaitSeconds)
              return "seconds from 0 to 604800 (a week), not '" + text + "'";
            return "";
          },
          "0 to 604800 (a week)"));
}

}  // namespace maestro
