// cli/copy_cmd.cc — `snap copy [ID...|--all] --to REPO | --from REPO`:
// snapshots from one repository into another, local or remote (rclone:...).
// Parsing and printing only; the work is snapshot/copier.h.
//
// The other end is --repo (or the config's [repo] path, or the install's
// default repository). The source is only read (no lock); the target takes
// its writer lock (a local flock, or the remote lease lock) and is created
// when it holds no repository yet. Snapshots are copied oldest first, each
// listed on the target once it is complete.
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <set>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/password.h"
#include "cli/progress.h"
#include "snapshot/copier.h"
#include "snapshot/open_backend.h"
#include "snapshot/open_repository.h"
#include "snapshot/open_writer.h"
#include "snapshot/rclone_backend.h"
#include "util/follow_link.h"
#include "util/text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

struct CopyArgs {
  std::vector<std::string> ids;
  bool all = false;
  std::string to, from;
  double lock_wait = 0;
  std::string to_password_file, from_password_file;  // each end's own password (cli/password.h)
};

// A local spec as an absolute, normalised path (a link as its last component
// followed: util/follow_link.h); a remote spec as it is.
std::string NormalSpec(Env* env, const std::string& spec) {
  if (IsRcloneSpec(spec)) return spec;
  return spec.empty() ? spec : FollowFinalLink(env, spec);
}

// The --repo end: --repo, else the config's [repo] path, else the install's default.
Result<std::string> RepoEnd(CliContext& ctx) {
  if (!ctx.opts.repo.empty()) return NormalSpec(ctx.env(), ctx.opts.repo);
  Result<Layout> layout = ctx.LoadLayout();
  std::string configured = ctx.config().Get("repo.path");
  if (IsRcloneSpec(configured)) return configured;
  if (!layout.ok()) return layout.status();
  return layout->repo();
}

// One end's password: its own file (--from/--to-password-file, else the
// variable), else the process's source (--password-file, MAESTRO_DB_PASSWORD_FILE, ...).
std::unique_ptr<FilePasswordSource> EndPassword(CliContext& ctx, const std::string& flag_value, const char* flag,
                                                const char* variable) {
  std::string file = flag_value, origin = flag;
  if (file.empty())
    if (const char* v = std::getenv(variable)) file = v, origin = variable;
  const CliContext* c = &ctx;
  return std::make_unique<FilePasswordSource>(file, origin, ctx.passwords(), [c](const std::string& w) { c->Warn(w); });
}

// A password file given for an end is read before anything is opened: a
// missing, empty or unreadable one is refused (exit 2) with nothing written.
Status ReadGivenPassword(FilePasswordSource& pw, const std::string& spec) {
  if (!pw.has_file()) return Status::OK();
  Result<SecretString> got = pw.Current(spec);
  if (got.ok() || got.status().code() == Status::Code::kInvalidArgument) return got.status();
  return Status::InvalidArgument(got.status().message(), "check the path given to " + pw.origin() +
                                                             "; nothing was changed");
}

// An end's own password file that its repository does not need: said, not silently dropped.
void WarnUnusedPassword(CliContext& ctx, const FilePasswordSource& pw, const std::string& spec,
                        const std::string& scheme) {
  if (pw.has_file() && scheme == "none")
    ctx.Warn(pw.origin() + " was given but " + spec + " is not encrypted: its password was not used");
}

Result<std::unique_ptr<Repository>> OpenSource(CliContext& ctx, const std::string& spec, FilePasswordSource* pw) {
  if (!IsRcloneSpec(spec) && !Env::Default()->DirExists(spec))
    return Status::NotFound("no snapshot repository at " + spec, "check the path given to --repo, --to or --from");
  // Encrypted or not, local or remote: the one opener, with this end's password.
  OpenRepositoryOptions oo;
  oo.password = pw;
  MAESTRO_ASSIGN_OR_RETURN(OpenedRepository opened, OpenRepository(Env::Default(), spec, oo));
  WarnUnusedPassword(ctx, *pw, spec, opened.keys.scheme);
  return std::move(opened.repo);
}

// The source's ids to copy, oldest first, each once.
Result<std::vector<std::string>> SelectIds(Repository& source, const CopyArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(std::vector<SnapshotInfo> all, source.List());
  std::set<std::string> wanted;
  for (const auto& spec : a.ids) {
    MAESTRO_ASSIGN_OR_RETURN(std::string id, source.ResolveId(spec));
    wanted.insert(id);
  }
  std::vector<std::string> ids;
  for (const auto& s : all)
    if (a.all || wanted.erase(s.id)) ids.push_back(s.id);
  // Left in wanted: ids that resolve but do not load (a damaged manifest).
  for (const auto& id : wanted)
    return Status::Corruption("snapshot " + id + " of the source is damaged and cannot be copied",
                              "run `maestro-db snap verify " + id + "` on the source");
  return ids;
}

Result<WriterSession> OpenTarget(CliContext& ctx, const std::string& spec, double lock_wait, FilePasswordSource* pw) {
  WriterOptions wo = CliWriterOptions(ctx, lock_wait, /*create=*/true);
  wo.password = pw;
  MAESTRO_ASSIGN_OR_RETURN(WriterSession w, OpenWriter(ctx.env(), spec, wo));
  if (w.created && w.encryption != "none")
    ctx.Warn("made a new ENCRYPTED repository at " + spec + " with the password given" +
             (pw->has_file() ? " (" + pw->origin() + ")" : std::string()) + "; without it nothing in it can be read back");
  WarnUnusedPassword(ctx, *pw, spec, w.encryption);
  return w;
}

// Progress across snapshots: bytes sent so far over what is known to come.
CopyOptions ProgressOptions(ProgressLine* line, uint64_t* base, std::string* current) {
  CopyOptions co;
  ProgressFn fn = line->Callback();
  if (!fn) return co;
  co.progress = [fn, base, current](const CopyProgress& cp) {
    if (cp.current != *current) {
      *current = cp.current;
      *base = cp.bytes_sent - cp.bytes_done;
    }
    Progress p;
    p.files_done = cp.files_done;
    p.files_total = cp.files_total;
    p.bytes_done = cp.bytes_sent;
    p.bytes_total = *base + cp.bytes_total;
    p.current = "[" + std::to_string(std::min(cp.snapshots_done + 1, cp.snapshots_total)) + "/" +
                std::to_string(cp.snapshots_total) + "] " + cp.current;
    fn(p);
  };
  return co;
}

void PrintResult(CliContext& ctx, const std::string& from, const std::string& to, const CopyResult& r, double secs) {
  if (ctx.json()) {
    ctx.PrintJson({{"from", from},
                   {"to", to},
                   {"copied", r.copied},
                   {"skipped", r.skipped},
                   {"blobs_sent", r.blobs_sent},
                   {"bytes_sent", r.bytes_sent},
                   {"blobs_skipped", r.blobs_skipped},
                   {"bytes_skipped", r.bytes_skipped},
                   {"seconds", secs}});
    return;
  }
  for (const auto& id : r.copied) std::cout << id << "\n";  // the result itself, even with -q
  for (const auto& id : r.skipped) ctx.Info("already on the target: " + id);
  ctx.Info(std::to_string(r.copied.size()) + " snapshots copied to " + to + ", " + std::to_string(r.skipped.size()) +
           " already there; " + std::to_string(r.blobs_sent) + " blobs sent (" + FormatBytes(r.bytes_sent) + "), " +
           std::to_string(r.blobs_skipped) + " the target had (" + FormatBytes(r.bytes_skipped) + ")");
}

Status RunCopy(CliContext& ctx, const CopyArgs& a) {
  if (a.ids.empty() && !a.all)
    return Status::InvalidArgument("snap copy: name the snapshots to copy (IDs) or pass --all",
                                   "e.g. `maestro-db snap copy latest --to rclone:offsite:maestro`");
  if (!a.ids.empty() && a.all) return Status::InvalidArgument("snap copy: give IDs or --all, not both");
  MAESTRO_ASSIGN_OR_RETURN(std::string here, RepoEnd(ctx));
  const std::string there = NormalSpec(ctx.env(), a.to.empty() ? a.from : a.to);
  const std::string from = a.to.empty() ? there : here, to = a.to.empty() ? here : there;
  MAESTRO_RETURN_IF_ERROR(ctx.CheckRepositoryOutsideStores(to));  // before anything is read or made
  MAESTRO_RETURN_IF_ERROR(CheckDistinctRepositories(ctx.env(), from, to));  // before either end is locked
  auto from_pw = EndPassword(ctx, a.from_password_file, "--from-password-file", "MAESTRO_DB_FROM_PASSWORD_FILE");
  auto to_pw = EndPassword(ctx, a.to_password_file, "--to-password-file", "MAESTRO_DB_TO_PASSWORD_FILE");
  MAESTRO_RETURN_IF_ERROR(ReadGivenPassword(*from_pw, from));
  MAESTRO_RETURN_IF_ERROR(ReadGivenPassword(*to_pw, to));
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> source, OpenSource(ctx, from, from_pw.get()));
  // The source is only read: a garbage collection of it waits (skips) until
  // the copy is done, so no pack it reads goes (snapshot/reader_lock.h; a
  // remote source's other hosts see the reader lock object).
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> reading, LockForReading(ctx, source.get(), a.lock_wait));
  MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, SelectIds(*source, a));
  MAESTRO_ASSIGN_OR_RETURN(WriterSession target, OpenTarget(ctx, to, a.lock_wait, to_pw.get()));
  ProgressLine line(ctx.interactive_stderr(), "snap copy");
  uint64_t base = 0;
  std::string current;
  CopyOptions co = ProgressOptions(&line, &base, &current);
  int64_t start = Env::Default()->NowMicros();
  Result<CopyResult> r = CopySnapshots(source.get(), target.repo.get(), ids, co);
  line.Finish();
  if (!r.ok()) return r.status();
  PrintResult(ctx, from, to, *r, static_cast<double>(Env::Default()->NowMicros() - start) / 1e6);
  return Status::OK();
}

}  // namespace

void RegisterCopyCommand(CLI::App& snap, CliContext& ctx, int* exit_code) {
  auto a = std::make_shared<CopyArgs>();
  auto* copy = snap.add_subcommand(
      "copy",
      "Copy snapshots between two repositories (local folders or rclone:REMOTE:PATH), keeping each\n"
      "snapshot's id, time, label and trigger. The other end is --repo. Only the blobs the target\n"
      "lacks are sent; each is checked against its id before the target lists the snapshot.");
  copy->add_option("ID", a->ids, "snapshots to copy (id, prefix, `latest` or ISO-8601 time)");
  copy->add_flag("--all", a->all, "copy every snapshot of the source");
  auto* to = copy->add_option("--to", a->to, "copy from --repo into REPO (made if it holds no repository)")
                 ->type_name("REPO");
  auto* from = copy->add_option("--from", a->from, "copy from REPO into --repo (made if it holds none)")
                   ->type_name("REPO");
  to->excludes(from);
  from->excludes(to);
  AddLockWaitOption(copy, &a->lock_wait,
                    "seconds to wait for another writer of the TARGET to release its lock, and for a garbage\n"
                    "collection of a local SOURCE to finish (default 0: fail at once with exit code 5)");
  copy->add_option("--from-password-file", a->from_password_file,
                   "the SOURCE's password, read from FILE (else MAESTRO_DB_FROM_PASSWORD_FILE, else the global\n"
                   "--password-file / MAESTRO_DB_PASSWORD_FILE / MAESTRO_DB_PASSWORD / prompt)")
      ->type_name("FILE");
  copy->add_option("--to-password-file", a->to_password_file,
                   "the TARGET's password, read from FILE (else MAESTRO_DB_TO_PASSWORD_FILE, else as the source);\n"
                   "a target made by this copy is encrypted with it")
      ->type_name("FILE");
  copy->footer(
      "The source is only read. The target is never deleted from or overwritten: a snapshot it lists\n"
      "already is skipped, so an append-only target works, and running the same copy again only sends\n"
      "what is missing. A copy killed at any point leaves the target listing what it had; the next one\n"
      "reuses what was uploaded. A damaged source blob refuses that snapshot (exit 4); snapshots copied\n"
      "before it stay. Progress on a terminal; --json prints a summary.\n"
      "Two encrypted repositories with different passwords: give each end its own with\n"
      "--from-password-file / --to-password-file (docs/encryption.md); a wrong one is exit 10, nothing written.\n"
      "Exit codes: 0 copied, 2 usage, 3 no such snapshot or repository, 4 damaged source, 5 target\n"
      "locked, 7 I/O error (the remote unreachable, full or refusing), 10 wrong password.\n"
      "Examples:\n"
      "  maestro-db snap copy --all --to rclone:offsite:maestro\n"
      "  maestro-db --repo /srv/new/backups snap copy latest --from rclone:offsite:maestro\n"
      "  maestro-db --password-file here.pw snap copy --all --to rclone:offsite:maestro --to-password-file offsite.pw");
  copy->callback([&ctx, exit_code, a]() {
    Status s = (a->to.empty() && a->from.empty())
                   ? Status::InvalidArgument("snap copy: pass --to REPO or --from REPO (the other end is --repo)")
                   : RunCopy(ctx, *a);
    *exit_code = s.ok() ? kExitOk : ctx.Fail(s);
  });
}

}  // namespace maestro
