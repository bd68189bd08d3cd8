// cli/snap_cmd.cc — the `snap` command group: create, list, show, diff,
// restore, verify, delete, prune. Parsing and printing only; the work is
// snapshot/repository.h (data), snapshot/retention.h (what prune keeps),
// snapshot/prune.h (the prune sequence, shared with the scheduled prune),
// snapshot/repo_lock.h (one writer at a time) and engine/stores/snapshot_sources.h
// (which files are the stores).
//
// Writers (create, restore in place, delete, prune) take the repository lock,
// waiting up to --lock-wait seconds; readers (list, show, diff, verify, and
// every --dry-run) never take it; `restore`'s source, `verify` and copy's
// source take the readers' lock (snapshot/reader_lock.h), which only a garbage
// collection excludes. An id argument is a full id, a unique prefix, `latest`,
// or an ISO-8601 time (the newest snapshot at or before it).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "engine/stores/legacy_import.h"
#include "engine/txn/recover.h"
#include "engine/stores/snapshot_sources.h"
#include "engine/stores/store_paths.h"
#include "snapshot/prune.h"
#include "snapshot/open_backend.h"
#include "snapshot/open_writer.h"
#include "cli/drill_cmd.h"
#include "snapshot/repo_lock.h"
#include "snapshot/repository.h"
#include "snapshot/retention.h"
#include "snapshot/store_totals.h"
#include "util/follow_link.h"
#include "util/proc_scan.h"
#include "util/text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

// ---------------------------------------------------------------- helpers

std::string Pad(const std::string& s, size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' '); }
std::string PadLeft(const std::string& s, size_t w) { return s.size() >= w ? s + " " : std::string(w - s.size(), ' ') + s + " "; }

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string ModeString(ManifestFile::Type t, uint32_t mode) {
  std::string s = t == ManifestFile::Type::kDir ? "d" : t == ManifestFile::Type::kSymlink ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (mode & (0400u >> i)) ? rwx[i] : '-';
  return s;
}

std::string OctalMode(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777u);
  return buf;
}

const char* TypeName(ManifestFile::Type t) {
  switch (t) {
    case ManifestFile::Type::kFile: return "file";
    case ManifestFile::Type::kDir: return "dir";
    case ManifestFile::Type::kSymlink: return "symlink";
  }
  return "file";
}

// "main" for a single-file store, "vector/chroma.sqlite3" inside a directory store.
std::string DisplayPath(const std::string& store, const std::string& path) {
  return path.empty() ? store : store + "/" + path;
}

nlohmann::json InfoJson(const SnapshotInfo& s) {
  return {{"id", s.id},
          {"created", FormatIso8601(s.created_micros)},
          {"created_micros", s.created_micros},
          {"label", s.label},
          {"trigger", s.trigger},
          {"stores", s.stores},
          {"files", s.files},
          {"logical_bytes", s.logical_bytes},
          {"stored_bytes", s.stored_bytes},
          {"hostname", s.hostname}};
}

nlohmann::json GcJson(const GcStats& g) {
  nlohmann::json j = {{"blobs_removed", g.blobs_removed},
                      {"packs_removed", g.packs_removed},
                      {"packs_rewritten", g.packs_rewritten},
                      {"bytes_freed", g.bytes_freed}};
  if (!g.skipped.empty()) j["skipped"] = g.skipped;
  return j;
}

// The repository directory: --repo, else the config's repo.path, else DefaultRepo (engine/stores/layout.h).
Result<std::string> RepoDir(CliContext& ctx) {
  auto layout = ctx.LoadLayout();
  if (layout.ok()) return layout->repo();
  // Readers of an explicit --repo need no install root.
  if (!ctx.opts.repo.empty()) return FollowFinalLink(ctx.env(), ctx.opts.repo);
  return layout.status();
}

// An rclone:REMOTE:PATH spec from --repo or the config's repo.path, "" if none.
std::string RemoteRepoSpec(CliContext& ctx) {
  ctx.LoadLayout().IgnoreError("only the config is wanted here; the caller reports a bad layout");
  std::string spec = ctx.opts.repo.empty() ? ctx.config().Get("repo.path") : ctx.opts.repo;
  return IsRcloneSpec(spec) ? spec : "";
}

// How messages name the repository: a remote one by its rclone: spec (its
// dir() is the local scratch), a local one by its folder.
std::string ShownRepo(CliContext& ctx, const Repository& repo) {
  std::string remote = RemoteRepoSpec(ctx);
  return remote.empty() ? repo.dir() : remote;
}

Result<std::unique_ptr<Repository>> OpenForReading(CliContext& ctx) {
  std::string remote = RemoteRepoSpec(ctx);
  std::string spec = remote;
  if (spec.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(spec, RepoDir(ctx));
    if (!ctx.env()->DirExists(spec))
      return Status::NotFound("no snapshot repository at " + spec,
                              "take a first snapshot with `maestro-db snap create`, or pass --repo DIR");
  }
  MAESTRO_ASSIGN_OR_RETURN(OpenedRepository opened, ctx.OpenRepository(spec, /*create_if_missing=*/false));
  return std::move(opened.repo);
}

// A repository opened by a writer, with its lock held for as long as it lives.
using LockedRepo = WriterSession;

// OpenWriter (snapshot/open_writer.h): the lock first, then the repository is
// opened (or, with create, made or finished) under it. create: make the
// repository if missing.
// A remote repository (rclone:REMOTE:PATH) takes its lease lock there
// (snapshot/open_writer.h, docs/remote.md).
Result<LockedRepo> OpenForWriting(CliContext& ctx, double lock_wait, bool create) {
  std::string remote = RemoteRepoSpec(ctx);
  std::string dir = remote;
  if (dir.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(dir, RepoDir(ctx));
  }
  return OpenWriter(ctx.env(), dir, CliWriterOptions(ctx, lock_wait, create));
}

// A dry run only reads (no lock, never blocks); a real run takes the writer lock first.
Result<LockedRepo> OpenForRun(CliContext& ctx, bool dry_run, double lock_wait) {
  if (!dry_run) return OpenForWriting(ctx, lock_wait, /*create=*/false);
  LockedRepo out;
  MAESTRO_ASSIGN_OR_RETURN(out.repo, OpenForReading(ctx));
  return out;
}

// The repository's messages already name the spec and what to do next.
Result<std::string> Resolve(Repository& repo, const std::string& spec) { return repo.ResolveId(spec); }

// Resolves spec and loads its manifest. A reader beside a writer: when the
// snapshot was deleted between the two (a prune, `delete latest`), resolves again.
Result<Manifest> LoadResolved(Repository& repo, const std::string& spec) {
  for (int attempt = 1;; ++attempt) {
    MAESTRO_ASSIGN_OR_RETURN(std::string id, Resolve(repo, spec));
    Result<Manifest> m = repo.LoadManifest(id);
    if (m.ok() || !m.status().IsNotFound() || attempt == 3) return m;
  }
}

void AddLockWait(CLI::App* cmd, double* wait) {
  AddLockWaitOption(cmd, wait,
                    "seconds to wait for another writer to release the repository lock (default 0: fail at once "
                    "with exit code 5, naming the holder)");
}

// Runs a command body; a non-OK Status is reported once (text or JSON) with its exit code.
template <typename Fn>
std::function<void()> Command(CliContext& ctx, int* exit_code, Fn fn) {
  return [&ctx, exit_code, fn]() {
    int code = kExitOk;
    Status s = fn(&code);
    *exit_code = s.ok() ? code : ctx.Fail(s);
  };
}

// ---------------------------------------------------------------- create

struct CreateArgs {
  std::string label;
  double lock_wait = 0;
};

Status RunCreate(CliContext& ctx, const CreateArgs& a) {
  const bool remote = !RemoteRepoSpec(ctx).empty();
  // An unfinished transaction in the install's journal refused this already,
  // with a remote repository too (cli/txn_gate.h).
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, remote ? ctx.LoadLayoutForRemoteRepo() : ctx.LoadLayout());
  std::vector<SnapshotSource> sources = SourcesFor(layout);
  bool any = false;
  for (const auto& s : sources) any = any || s.present;
  if (!any) ctx.Warn("no store exists under " + layout.root() + "; the snapshot records all six stores as absent");
  MAESTRO_ASSIGN_OR_RETURN(LockedRepo w, OpenForWriting(ctx, a.lock_wait, /*create=*/true));
  if (w.created && w.encryption != "none")  // a password was set: docs/encryption.md "Making one"
    ctx.Warn("made a new ENCRYPTED repository at " + ShownRepo(ctx, *w.repo) +
             " with the password given; without it " +
             "nothing in it can be read back");
  ProgressLine line(ctx.interactive_stderr(), "snap create");
  CreateOptions co;
  co.label = a.label;
  co.trigger = trigger::kManual;
  co.progress = line.Callback();
  auto info = w.repo->Create(sources, co);
  line.Finish();
  if (!info.ok()) return info.status().Annotate("snap create in " + ShownRepo(ctx, *w.repo));
  for (const auto& warning : info->warnings) ctx.Warn("snapshot " + info->id + ": " + warning);
  if (ctx.json()) {
    nlohmann::json j = InfoJson(*info);
    j["warnings"] = info->warnings;
    j["read_bytes"] = info->read_bytes;  // what this run read; the rest was reused unread
    ctx.PrintJson(j);
  } else if (ctx.quiet()) {
    std::cout << info->id << "\n";  // the result itself is never silenced
  } else {
    std::cout << info->id << "\n";
    ctx.Detail(std::to_string(info->files) + " files, " + FormatBytes(info->logical_bytes) + " logical, " +
               FormatBytes(info->stored_bytes) + " newly stored, " + FormatBytes(info->read_bytes) +
               " read (the rest unchanged since the previous snapshot); stores: " + Join(info->stores, ","));
  }
  return Status::OK();
}

// ---------------------------------------------------------------- list

// Foreign files are ignored by every command: shown as a warning (stderr).
void WarnForeign(CliContext& ctx, const std::vector<std::string>& foreign) {
  for (const auto& f : foreign) ctx.Warn(f + ": not a file this repository writes; ignored");
}

Status RunList(CliContext& ctx) {
  MAESTRO_ASSIGN_OR_RETURN(auto repo, OpenForReading(ctx));
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, repo->Scan());
  const auto& snaps = scan.snapshots;
  WarnForeign(ctx, scan.foreign);
  for (const auto& d : scan.incomplete) ctx.Warn(EscapeForTerminal(d.reason));  // format 4: never listed
  if (ctx.json()) {
    // One array: readable snapshots (status "ok") oldest first, then damaged ones.
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : snaps) {
      nlohmann::json j = InfoJson(s);
      j["status"] = "ok";
      arr.push_back(std::move(j));
    }
    for (const auto& d : scan.damaged)
      arr.push_back({{"id", d.id}, {"status", "damaged"}, {"path", d.path}, {"reason", d.reason}});
    ctx.PrintJson(arr);
    return Status::OK();
  }
  if (snaps.empty() && scan.damaged.empty()) {
    ctx.Info("no snapshots in " + ShownRepo(ctx, *repo));
    return Status::OK();
  }
  ctx.Info(Pad("ID", 18) + Pad("TIME", 21) + Pad("TRIGGER", 12) + Pad("STORES", 34) + PadLeft("FILES", 7) +
           PadLeft("SIZE", 11) + PadLeft("NEW", 11) + "LABEL");
  for (const auto& s : snaps)
    ctx.Info(Pad(EscapeForTerminal(s.id), 18) + Pad(FormatIso8601(s.created_micros), 21) +
             Pad(EscapeForTerminal(s.trigger), 12) + Pad(EscapeForTerminal(Join(s.stores, ",")), 34) +
             PadLeft(std::to_string(s.files), 7) + PadLeft(FormatBytes(s.logical_bytes), 11) +
             PadLeft(FormatBytes(s.stored_bytes), 11) + EscapeForTerminal(s.label));
  for (const auto& d : scan.damaged) ctx.Info(Pad(EscapeForTerminal(d.id), 18) + "DAMAGED: " + EscapeForTerminal(d.reason));
  ctx.Info(std::to_string(snaps.size()) + " snapshots" +
           (scan.damaged.empty() ? ""
                                 : ", " + std::to_string(scan.damaged.size()) +
                                       " damaged (`maestro-db snap verify` names them; `snap repair` moves them "
                                       "aside, `snap delete ID` removes one)"));
  return Status::OK();
}

// ---------------------------------------------------------------- show

Status RunShow(CliContext& ctx, const std::string& spec) {
  MAESTRO_ASSIGN_OR_RETURN(auto repo, OpenForReading(ctx));
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, LoadResolved(*repo, spec));
  if (ctx.json()) {
    nlohmann::json stores = nlohmann::json::array();
    for (const auto& st : m.stores) {
      nlohmann::json files = nlohmann::json::array();
      for (const auto& f : st.files) {
        nlohmann::json jf = {{"path", f.path},
                             {"type", TypeName(f.type)},
                             {"mode", OctalMode(f.mode)},
                             {"size", f.size},
                             {"mtime", FormatIso8601(f.mtime_ns / 1000)},
                             {"mtime_ns", f.mtime_ns}};
        if (f.type == ManifestFile::Type::kFile) {
          jf["hash"] = f.hash.Hex();
          jf["chunks"] = f.chunks.size();
          jf["sqlite_backup"] = f.sqlite_backup;
        }
        if (f.type == ManifestFile::Type::kSymlink) jf["link_target"] = f.link_target;
        files.push_back(std::move(jf));
      }
      stores.push_back({{"name", st.name},
                        {"original_path", st.original_path},
                        {"is_directory", st.is_directory},
                        {"present", st.present},
                        {"files", std::move(files)}});
    }
    ctx.PrintJson({{"snapshot", InfoJson(m.info)}, {"format_version", m.format_version}, {"stores", stores}});
    return Status::OK();
  }
  const SnapshotInfo& s = m.info;
  ctx.Info("snapshot " + EscapeForTerminal(s.id) + "  " + FormatIso8601(s.created_micros) + "  trigger " +
           EscapeForTerminal(s.trigger) + (s.label.empty() ? "" : "  label \"" + EscapeForTerminal(s.label) + "\"") +
           (s.hostname.empty() ? "" : "  host " + EscapeForTerminal(s.hostname)));
  ctx.Info(std::to_string(s.files) + " files, " + FormatBytes(s.logical_bytes) + " logical, " +
           FormatBytes(s.stored_bytes) + " newly stored");
  for (const auto& st : m.stores) {
    ctx.Info("");
    if (!st.present) {
      ctx.Info("store " + EscapeForTerminal(st.name) + ": absent (" + EscapeForTerminal(st.original_path) + ")");
      continue;
    }
    uint64_t bytes = 0;
    for (const auto& f : st.files) bytes += f.size;
    ctx.Info("store " + EscapeForTerminal(st.name) + ": " + (st.is_directory ? "directory " : "SQLite file ") +
             EscapeForTerminal(st.original_path) + ", " +
             std::to_string(st.files.size()) + " entries, " + FormatBytes(bytes));
    for (const auto& f : st.files) {
      std::string name = f.path.empty() ? BaseName(st.original_path) : f.path;
      if (f.type == ManifestFile::Type::kDir) name += "/";
      if (f.type == ManifestFile::Type::kSymlink) name += " -> " + f.link_target;
      if (f.sqlite_backup) name += "  (SQLite online backup)";
      ctx.Info("  " + ModeString(f.type, f.mode) + PadLeft(std::to_string(f.size), 13) +
               Pad(FormatIso8601(f.mtime_ns / 1000), 21) + EscapeForTerminal(name));
    }
  }
  return Status::OK();
}

// ---------------------------------------------------------------- diff

struct StoreDiff {
  std::vector<std::string> added, removed;
  std::vector<std::pair<std::string, std::string>> changed;  // path, what changed
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};

std::string WhatChanged(const ManifestFile& a, const ManifestFile& b) {
  if (a.type != b.type) return std::string("type ") + TypeName(a.type) + " -> " + TypeName(b.type);
  std::vector<std::string> what;
  if (a.type == ManifestFile::Type::kFile && a.hash != b.hash)
    what.push_back("content (" + FormatBytes(a.size) + " -> " + FormatBytes(b.size) + ")");
  if (a.type == ManifestFile::Type::kSymlink && a.link_target != b.link_target)
    what.push_back("link target " + a.link_target + " -> " + b.link_target);
  if ((a.mode & 07777u) != (b.mode & 07777u)) what.push_back("mode " + OctalMode(a.mode) + " -> " + OctalMode(b.mode));
  return Join(what, ", ");
}

std::map<std::string, StoreDiff> DiffManifests(const Manifest& a, const Manifest& b) {
  std::map<std::string, std::map<std::string, const ManifestFile*>> fa, fb;
  std::set<std::string> names;
  for (const auto& st : a.stores) {
    names.insert(st.name);
    auto& m = fa[st.name];
    if (st.present)
      for (const auto& f : st.files) m[f.path] = &f;
  }
  for (const auto& st : b.stores) {
    names.insert(st.name);
    auto& m = fb[st.name];
    if (st.present)
      for (const auto& f : st.files) m[f.path] = &f;
  }
  std::map<std::string, StoreDiff> out;
  for (const auto& name : names) {
    StoreDiff d;
    const auto& ma = fa[name];
    const auto& mb = fb[name];
    for (const auto& [path, f] : mb) {
      auto it = ma.find(path);
      if (it == ma.end()) {
        d.added.push_back(path);
      } else {
        std::string what = WhatChanged(*it->second, *f);
        if (!what.empty()) d.changed.emplace_back(path, what);
      }
    }
    for (const auto& [path, f] : ma)
      if (!mb.count(path)) d.removed.push_back(path);
    out[name] = std::move(d);
  }
  return out;
}

Status RunDiff(CliContext& ctx, const std::string& spec_a, const std::string& spec_b) {
  MAESTRO_ASSIGN_OR_RETURN(auto repo, OpenForReading(ctx));
  MAESTRO_ASSIGN_OR_RETURN(std::string ida, Resolve(*repo, spec_a));
  MAESTRO_ASSIGN_OR_RETURN(std::string idb, Resolve(*repo, spec_b));
  MAESTRO_ASSIGN_OR_RETURN(Manifest a, repo->LoadManifest(ida));
  MAESTRO_ASSIGN_OR_RETURN(Manifest b, repo->LoadManifest(idb));
  auto diff = DiffManifests(a, b);
  size_t added = 0, removed = 0, changed = 0;
  for (const auto& [name, d] : diff) {
    added += d.added.size();
    removed += d.removed.size();
    changed += d.changed.size();
  }
  if (ctx.json()) {
    nlohmann::json stores = nlohmann::json::object();
    for (const auto& [name, d] : diff) {
      nlohmann::json ch = nlohmann::json::array(), detail = nlohmann::json::array();
      for (const auto& [p, what] : d.changed) {
        ch.push_back(p);
        detail.push_back({{"path", p}, {"what", what}});
      }
      stores[name] = {{"added", d.added}, {"removed", d.removed}, {"changed", ch}, {"changed_detail", detail}};
    }
    ctx.PrintJson({{"from", ida},
                   {"to", idb},
                   {"stores", stores},
                   {"summary", {{"added", added}, {"removed", removed}, {"changed", changed}}}});
    return Status::OK();
  }
  ctx.Info("diff " + ida + " -> " + idb);
  for (const auto& [name, d] : diff) {
    for (const auto& p : d.added) ctx.Info("+ " + EscapeForTerminal(DisplayPath(name, p)));
    for (const auto& p : d.removed) ctx.Info("- " + EscapeForTerminal(DisplayPath(name, p)));
    for (const auto& [p, what] : d.changed)
      ctx.Info("M " + EscapeForTerminal(DisplayPath(name, p)) + "  (" + EscapeForTerminal(what) + ")");
  }
  ctx.Info(std::to_string(added) + " added, " + std::to_string(removed) + " removed, " + std::to_string(changed) +
           " changed");
  return Status::OK();
}

// ---------------------------------------------------------------- restore

struct RestoreCmdArgs {
  std::string id;
  std::vector<std::string> stores;
  std::string to;
  bool dry_run = false;
  bool force = false;
  double lock_wait = 0;
  std::string pre_image_repo;  // in place from a remote: where the journal and pre-image go
};

struct RestorePlanItem {
  const ManifestStore* store = nullptr;
  std::string target;  // absolute
  uint64_t files = 0, bytes = 0;
};

// Which stores of the manifest to restore (all when names is empty).
Result<std::vector<const ManifestStore*>> SelectStores(const Manifest& m, const std::vector<std::string>& names) {
  std::vector<const ManifestStore*> out;
  for (const auto& st : m.stores) {
    // A manifest names only the six stores; anything else could steer paths.
    if (!ParseStoreName(st.name).ok())
      return Status::Corruption("snapshot " + m.info.id + " names an unknown store '" + st.name + "'",
                                "run `maestro-db snap verify " + m.info.id + "`");
  }
  for (const auto& n : names) {
    MAESTRO_RETURN_IF_ERROR(ParseStoreName(n).status());
    bool found = false;
    for (const auto& st : m.stores) found = found || st.name == n;
    if (!found) return Status::NotFound("snapshot " + m.info.id + " holds no store '" + n + "'");
  }
  for (const auto& st : m.stores)
    if (names.empty() || std::find(names.begin(), names.end(), st.name) != names.end()) out.push_back(&st);
  return out;
}

// In-place restore of the selected stores over the live install: the txn
// engineer's part (issue 3 point 6). Called with the repository lock held,
// after the id was resolved and the manifest loaded. Must keep the current
// stores until the restored ones are complete and verified, then swap them in
// (rename-aside / journal), refuse while another process holds a store file
// open unless force, and take a pre-restore snapshot first (trigger
// kPreRestore). Prints its own result (text or JSON).
// `repo` holds the snapshot; `local` (locked) gets the journal and the pre-image:
// the same repository unless source_spec names the remote `repo` was read from.
Status RestoreInPlace(CliContext& ctx, const Layout& layout, Repository& repo, Repository& local,
                      const std::string& source_spec, RepoLock& lock, const Manifest& manifest,
                      const std::vector<const ManifestStore*>& stores, bool force) {
  (void)lock;  // held by the caller for the whole transaction
  std::vector<std::string> names;
  for (const auto* s : stores) names.push_back(s->name);
  return RunRestoreInPlace(ctx, layout, repo, local, source_spec, manifest.info.id, names, force);
}

nlohmann::json PlanJson(const RestorePlanItem& p, bool restored) {
  return {{"store", p.store->name},
          {"present", p.store->present},
          {"original_path", p.store->original_path},
          {"target", p.target},
          {"files", p.files},
          {"bytes", p.bytes},
          {"restored", restored}};
}

Status RunRestore(CliContext& ctx, const RestoreCmdArgs& a) {
  Env* env = ctx.env();
  // In place from a remote repository (disaster recovery, issue 15 point 6): the
  // snapshot is read there; the transaction's journal, lock and pre-image live in
  // a local repository (--pre-image-repo, else the default under --root), made if missing.
  const std::string source_spec = a.to.empty() ? RemoteRepoSpec(ctx) : "";
  if (!a.pre_image_repo.empty() && source_spec.empty())
    return Status::InvalidArgument("--pre-image-repo is only for an in-place restore from a remote repository "
                                   "(--repo rclone:REMOTE:PATH)", "drop it; a local restore keeps its pre-image in --repo");
  std::unique_ptr<Repository> remote_source;
  if (!source_spec.empty()) {
    if (IsRcloneSpec(a.pre_image_repo))
      return Status::InvalidArgument("--pre-image-repo " + a.pre_image_repo + " must be a local folder",
                                     "the journal of the restore must be on this machine");
    ctx.UseLocalRepository(a.pre_image_repo.empty() ? "" : FollowFinalLink(ctx.env(), a.pre_image_repo));
    MAESTRO_ASSIGN_OR_RETURN(Layout local, ctx.LoadLayout());
    ctx.opts.repo = local.repo();  // every later use of --repo (the lock, the purger) is the local one
    // Encrypted or not (the password from --password-file, MAESTRO_DB_PASSWORD_FILE, ...).
    MAESTRO_ASSIGN_OR_RETURN(OpenedRepository opened, ctx.OpenRepository(source_spec, /*create_if_missing=*/false));
    remote_source = std::move(opened.repo);
  }
  // The root decides where each store goes under --to (its path relative to the root).
  auto layout = ctx.LoadLayout();
  if (a.to.empty() && !layout.ok()) return layout.status();
  const std::string root = layout.ok() ? layout->root() : "";
  // Before any lock file is made: --to inside a live store or the repository.
  if (!a.to.empty() && layout.ok()) MAESTRO_RETURN_IF_ERROR(CheckRestoreTarget(*layout, AbsolutePath(a.to)));

  // Whatever the repository the snapshot is read from only reads: a create or
  // a delete may run beside it, and a garbage collection there skips while it
  // reads (snapshot/reader_lock.h; a remote's other hosts see its reader lock
  // object). In place, the local repository's writer lock is taken too.
  LockedRepo w;
  std::unique_ptr<ReaderLock> reading;  // the source's readers' lock, not its writer's
  if (remote_source) {
    if (!a.dry_run) {
      MAESTRO_ASSIGN_OR_RETURN(w, OpenForWriting(ctx, a.lock_wait, /*create=*/true));
      MAESTRO_ASSIGN_OR_RETURN(reading, LockForReading(ctx, remote_source.get(), a.lock_wait));
    }
  } else if (!a.to.empty()) {
    MAESTRO_ASSIGN_OR_RETURN(w.repo, OpenForReading(ctx));
    if (!a.dry_run) {
      MAESTRO_ASSIGN_OR_RETURN(reading, LockForReading(ctx, w.repo.get(), a.lock_wait));
    }
  } else {
    MAESTRO_ASSIGN_OR_RETURN(w, OpenForRun(ctx, a.dry_run, a.lock_wait));
  }
  Repository* repo = remote_source ? remote_source.get() : w.repo.get();
  MAESTRO_ASSIGN_OR_RETURN(std::string id, Resolve(*repo, a.id));
  // The head only: the listing streams (a restore counts as it writes, a dry
  // run counts as it reads; the in-place plan needs the stores alone).
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, repo->LoadManifestHead(id));
  MAESTRO_ASSIGN_OR_RETURN(auto selected, SelectStores(m, a.stores));

  std::vector<RestorePlanItem> plan;
  const std::string to = a.to.empty() ? "" : AbsolutePath(a.to);
  std::vector<StoreTotals> totals(selected.size());
  if (a.dry_run) {
    std::vector<const ManifestStore*> present;
    for (const ManifestStore* st : selected)
      if (st->present) present.push_back(st);
    MAESTRO_ASSIGN_OR_RETURN(std::vector<StoreTotals> counted, CountStoreEntries(repo, id, present));
    for (size_t k = 0, j = 0; k < selected.size(); ++k)
      if (selected[k]->present) totals[k] = counted[j++];
  }
  for (size_t k = 0; k < selected.size(); ++k) {
    const ManifestStore* st = selected[k];
    RestorePlanItem p;
    p.store = st;
    p.files = totals[k].files;
    p.bytes = totals[k].bytes;
    if (!to.empty()) {
      p.target = JoinPath(to, RestoreRelativePath(root, st->name, st->original_path, st->is_directory));
    } else {
      MAESTRO_ASSIGN_OR_RETURN(StoreId sid, ParseStoreName(st->name));
      p.target = layout->store(sid).path;
    }
    plan.push_back(std::move(p));
  }

  if (!to.empty()) {
    // Refuse before writing anything: an existing file, or a non-empty directory,
    // at any target would be overwritten or mixed with the snapshot's files.
    for (const auto& p : plan) {
      if (!p.store->present) continue;
      FileInfo fi;
      MAESTRO_RETURN_IF_ERROR(env->Stat(p.target, &fi));
      if (!fi.exists) continue;
      bool empty_dir = false;
      if (fi.is_dir) {
        std::vector<DirEntry> entries;
        MAESTRO_RETURN_IF_ERROR(env->ListDir(p.target, &entries));
        empty_dir = entries.empty();
      }
      if (!empty_dir || !p.store->is_directory)
        return Status::InvalidArgument("restore target " + p.target + " for store " + p.store->name +
                                           " already exists" + (fi.is_dir ? " and is not empty" : ""),
                                       "choose an empty --to directory, or remove it first; nothing was written");
    }
  }

  if (a.dry_run) {
    if (ctx.json()) {
      nlohmann::json stores = nlohmann::json::array();
      for (const auto& p : plan) stores.push_back(PlanJson(p, false));
      ctx.PrintJson({{"snapshot", id},
                     {"dry_run", true},
                     {"mode", to.empty() ? "in-place" : "to"},
                     {"to", to.empty() ? nlohmann::json(nullptr) : nlohmann::json(to)},
                     {"stores", stores}});
      return Status::OK();
    }
    ctx.Info("dry run: restoring snapshot " + id + (to.empty() ? " in place" : " to " + to) + " would write:");
    for (const auto& p : plan) {
      if (!p.store->present) {
        ctx.Info("  " + Pad(p.store->name, 9) + "absent in the snapshot: " +
                 (to.empty() ? "would remove " + p.target : std::string("nothing written")));
        continue;
      }
      ctx.Info("  " + Pad(p.store->name, 9) + PadLeft(std::to_string(p.files), 6) + "files " +
               PadLeft(FormatBytes(p.bytes), 11) + (to.empty() ? "replacing " : "-> ") + p.target);
    }
    if (to.empty()) {
      std::vector<std::string> paths;
      for (const auto& p : plan) paths.push_back(p.target);
      for (const auto& h : FindOpenFileHolders(paths))
        ctx.Warn("pid " + std::to_string(h.pid) + " (" + h.program + ") has " + h.path +
                 " open: an in-place restore would refuse unless --force");
    }
    return Status::OK();
  }

  if (to.empty()) return RestoreInPlace(ctx, *layout, *repo, *w.repo, source_spec, *w.lock, m, selected, a.force);

  ProgressLine line(ctx.interactive_stderr(), "snap restore");
  RestoreOptions ro;
  Progress last;  // the restore's final report has the store's totals
  ProgressFn shown = line.Callback();
  ro.progress = [&](const Progress& p) {
    last = p;
    if (shown) shown(p);
  };
  ro.sync = false;  // a scratch copy under --to: no fsync per file (the stores are never swapped in)
  MetadataReport not_given_back;
  ro.metadata = &not_given_back;
  std::vector<std::string> written;
  std::vector<bool> restored(plan.size(), false);
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<SnapshotRestore> restore, repo->OpenRestore(id));  // one index load for all
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& p = plan[i];
    if (!p.store->present) continue;
    MAESTRO_RETURN_IF_ERROR(env->CreateDirs(DirName(p.target)));
    if (env->DirExists(p.target)) MAESTRO_RETURN_IF_ERROR(env->RemoveDir(p.target));  // empty, checked above
    Status s = restore->RestoreStore(p.store->name, p.target, ro);
    if (!s.ok()) {
      line.Finish();
      // Leave DIR as it was: take back the stores this command already wrote.
      for (const auto& t : written) env->RemoveTree(t).IgnoreError("best effort; the restore error is returned");
      return s.Annotate("restoring store " + p.store->name + " of snapshot " + id + " to " + p.target +
                        " (the stores restored before it were removed again)");
    }
    written.push_back(p.target);
    restored[i] = true;
    plan[i].files = last.files_total;
    plan[i].bytes = last.bytes_total;
  }
  line.Finish();
  if (ctx.json()) {
    nlohmann::json stores = nlohmann::json::array();
    for (size_t i = 0; i < plan.size(); ++i) stores.push_back(PlanJson(plan[i], restored[i]));
    nlohmann::json j = {{"snapshot", id}, {"dry_run", false}, {"mode", "to"}, {"to", to}, {"stores", stores}};
    ReportMetadataNotes(ctx, not_given_back, &j);
    ctx.PrintJson(j);
    return Status::OK();
  }
  ReportMetadataNotes(ctx, not_given_back, nullptr);
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& p = plan[i];
    if (!p.store->present) {
      ctx.Info(Pad(p.store->name, 9) + "absent in snapshot " + id + "; nothing written");
      continue;
    }
    ctx.Info(Pad(p.store->name, 9) + PadLeft(std::to_string(p.files), 6) + "files " +
             PadLeft(FormatBytes(p.bytes), 11) + "-> " + p.target);
  }
  ctx.Info("restored snapshot " + id + " to " + to);
  return Status::OK();
}

// ---------------------------------------------------------------- verify

struct VerifyArgs {
  std::vector<std::string> ids;
  bool all = false;
  bool read_data = false;
  double lock_wait = 0;  // for a running garbage collection
  DrillCliArgs drill;  // --drill ID: cli/drill_cmd.h
};

Status RunVerify(CliContext& ctx, const VerifyArgs& a, int* code) {
  MAESTRO_ASSIGN_OR_RETURN(auto repo, OpenForReading(ctx));
  // A prune's collection must not remove packs under it: they would be
  // reported as damage (snapshot/reader_lock.h).
  MAESTRO_ASSIGN_OR_RETURN(std::unique_ptr<ReaderLock> reading, LockForReading(ctx, repo.get(), a.lock_wait));
  if (!a.drill.id.empty()) return RunDrillCommand(ctx, *repo, a.drill, code);
  std::vector<std::string> ids;
  if (!a.all) {
    for (const auto& spec : a.ids) {
      MAESTRO_ASSIGN_OR_RETURN(std::string id, Resolve(*repo, spec));
      ids.push_back(id);
    }
  }
  // No id (or --all): every snapshot, and the repository's own files.
  MAESTRO_ASSIGN_OR_RETURN(VerifyReport rep, repo->Verify(ids, a.read_data));
  *code = rep.ok() ? kExitOk : ExitCodeFor(Status::Corruption(""));
  if (ctx.json()) {
    nlohmann::json problems = nlohmann::json::array();
    for (const auto& p : rep.problems)
      problems.push_back({{"snapshot", p.snapshot_id}, {"store", p.store}, {"path", p.path}, {"detail", p.detail}});
    for (const auto& w : rep.warnings) ctx.Warn(w);
    ctx.PrintJson({{"ok", rep.ok()},
                   {"warnings", rep.warnings},
                   {"read_data", a.read_data},
                   {"snapshots_checked", rep.snapshots_checked},
                   {"blobs_checked", rep.blobs_checked},
                   {"bytes_read", rep.bytes_read},
                   {"problems", problems}});
    return Status::OK();
  }
  for (const auto& w : rep.warnings) ctx.Warn(w);
  for (const auto& p : rep.problems) {
    std::string where = p.snapshot_id.empty() ? "repository" : "snapshot " + p.snapshot_id;
    if (!p.store.empty()) where += " store " + p.store;
    // Problems are the command's result: printed even with -q.
    std::cout << EscapeForTerminal(where) << ": " << (p.path.empty() ? "" : EscapeForTerminal(p.path) + ": ")
              << EscapeForTerminal(p.detail) << "\n";
  }
  std::string summary = std::to_string(rep.snapshots_checked) + " snapshots, " + std::to_string(rep.blobs_checked) +
                        " blobs checked" + (a.read_data ? ", " + FormatBytes(rep.bytes_read) + " read" : "");
  if (rep.ok()) {
    ctx.Info("no problems found: " + summary + (a.read_data ? "" : " (add --read-data to check every byte)"));
    return Status::OK();
  }
  std::cerr << "maestro-db: corruption: " << rep.problems.size() << " problems in " << ShownRepo(ctx, *repo) << " (" << summary
            << "); the snapshots named above cannot be restored in full\n";
  bool unindexed = std::any_of(rep.problems.begin(), rep.problems.end(), [](const VerifyProblem& p) {
    return p.detail.find("missing from the repository index") != std::string::npos;
  });
  if (unindexed)
    std::cerr << "maestro-db: hint: if an index file was lost or damaged but the packs are intact, `maestro-db snap "
                 "repair` indexes their blobs again from the packs' headers; then verify again\n";
  std::cerr << "maestro-db: hint: `maestro-db snap repair` moves damaged manifests and index files to "
            << JoinPath(repo->dir(), "damaged") << "; the other snapshots stay usable meanwhile\n";
  return Status::OK();
}

// ---------------------------------------------------------------- delete / prune

void PrintGc(CliContext& ctx, const GcStats& g, bool dry_run) {
  if (!g.skipped.empty()) return;  // warned by WarnGcSkipped
  ctx.Info(std::string(dry_run ? "would free " : "freed ") + FormatBytes(g.bytes_freed) + " (" +
           std::to_string(g.blobs_removed) + " blobs, " + std::to_string(g.packs_removed) + " packs removed, " +
           std::to_string(g.packs_rewritten) + " rewritten)");
}

// GC did not run (a damaged manifest or index file): said on stderr, text and JSON alike.
void WarnGcSkipped(CliContext& ctx, const GcStats& g) {
  if (!g.skipped.empty()) ctx.Warn(g.skipped);
}

struct DeleteArgs {
  std::vector<std::string> ids;
  double lock_wait = 0;
};

// True for a whole snapshot id: YYYYMMDD_HHMMSS, or with a _N of a second
// snapshot in that second.
bool IsWholeSnapshotId(const std::string& s) {
  if (s.size() < 15 || s[8] != '_') return false;
  for (size_t k = 0; k < s.size(); ++k) {
    if (k == 8 || (k == 15 && s.size() > 16 && s[k] == '_')) continue;
    if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
  }
  return s.size() == 15 || s[15] == '_';
}

// What a delete removes is never a guess: an id, a unique prefix of one,
// `latest`, or a time to the second a snapshot was taken at; not the snapshot
// "at or before" a time, and not a longer id that a whole id is the prefix of
// (20250601_040619 of 20250601_040619_2). Otherwise a delete run twice (a
// script, the shell's history) removed the snapshot before the one it had
// already deleted.
Result<std::string> ResolveForDelete(Repository& repo, const std::string& spec) {
  MAESTRO_ASSIGN_OR_RETURN(std::string id, Resolve(repo, spec));
  if (id == spec || spec == "latest") return id;
  if (id.compare(0, spec.size(), spec) == 0 && !IsWholeSnapshotId(spec)) return id;
  Result<int64_t> t = ParseTime(spec);
  if (!IsWholeSnapshotId(spec) && t.ok() && id.compare(0, 15, FormatStamp(*t)) == 0) return id;
  return Status::NotFound("no snapshot has the id '" + spec + "', nor was one taken at that second (snap delete "
                          "takes an id, a unique prefix of one, latest, or the time a snapshot was taken; never the "
                          "one before it)",
                          "nothing was deleted; see `maestro-db snap list`");
}

Status RunDelete(CliContext& ctx, const DeleteArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(LockedRepo w, OpenForWriting(ctx, a.lock_wait, /*create=*/false));
  std::vector<std::string> ids;
  for (const auto& spec : a.ids) {
    MAESTRO_ASSIGN_OR_RETURN(std::string id, ResolveForDelete(*w.repo, spec));
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  MAESTRO_RETURN_IF_ERROR(w.repo->DeleteSnapshots(ids));
  auto gc = w.repo->RemoveUnreferencedData(/*dry_run=*/false);
  if (!gc.ok())
    return gc.status().Annotate("snapshots " + Join(ids, ", ") +
                                " were deleted, but removing their data failed; `maestro-db snap prune` retries it");
  WarnGcSkipped(ctx, *gc);
  if (ctx.json()) {
    ctx.PrintJson({{"deleted", ids}, {"gc", GcJson(*gc)}});
    return Status::OK();
  }
  for (const auto& id : ids) ctx.Info("deleted snapshot " + id);
  PrintGc(ctx, *gc, false);
  return Status::OK();
}

struct PruneArgs {
  RetentionPolicy policy;
  bool dry_run = false;
  double lock_wait = 0;
  double max_unused_percent = kDefaultMaxUnused * 100;
};

Status RunPrune(CliContext& ctx, const PruneArgs& a) {
  // Refuse a policy-less prune before touching anything.
  if (a.policy.empty()) MAESTRO_RETURN_IF_ERROR(ApplyRetention({}, a.policy).status());
  MAESTRO_ASSIGN_OR_RETURN(LockedRepo w, OpenForRun(ctx, a.dry_run, a.lock_wait));
  PruneOptions po;
  po.dry_run = a.dry_run;
  po.max_unused = a.max_unused_percent / 100;
  PruneResult pr;
  Status st = Prune(*w.repo, a.policy, po, &pr);
  if (!st.ok() && pr.gc_failed && !a.dry_run)
    return st.Annotate(std::to_string(pr.remove_ids.size()) +
                       " snapshots were deleted, but removing their data failed; run `maestro-db snap "
                       "prune` again to retry");
  if (!st.ok()) return st;
  const RetentionDecision& d = pr.decision;
  const GcStats& gc = pr.gc;
  WarnGcSkipped(ctx, gc);

  if (ctx.json()) {
    nlohmann::json keep = nlohmann::json::array(), remove = nlohmann::json::array();
    for (const auto& k : d.keep)
      keep.push_back({{"id", k.info.id}, {"created", FormatIso8601(k.info.created_micros)}, {"reasons", k.reasons}});
    for (const auto& r : d.remove) remove.push_back({{"id", r.id}, {"created", FormatIso8601(r.created_micros)}});
    ctx.PrintJson({{"policy", a.policy.Describe()},
                   {"dry_run", a.dry_run},
                   {"keep", keep},
                   {"remove", remove},
                   {"gc", GcJson(gc)}});
    return Status::OK();
  }
  ctx.Info("policy: " + a.policy.Describe());
  ctx.Info("keep " + std::to_string(d.keep.size()) + " snapshots:");
  for (const auto& k : d.keep)
    ctx.Info("  " + Pad(k.info.id, 18) + Pad(FormatIso8601(k.info.created_micros), 21) + Join(k.reasons, "; "));
  ctx.Info(std::string(a.dry_run ? "would remove " : "removed ") + std::to_string(d.remove.size()) + " snapshots" +
           (d.remove.empty() ? "" : ":"));
  for (const auto& r : d.remove) ctx.Info("  " + Pad(r.id, 18) + FormatIso8601(r.created_micros));
  PrintGc(ctx, gc, a.dry_run);
  if (a.dry_run && !d.remove.empty())
    ctx.Info("(the data only the removed snapshots hold is counted by the real run)");
  return Status::OK();
}

// ---------------------------------------------------------------- repair

struct RepairArgs {
  bool dry_run = false;
  double lock_wait = 0;
};

Status RunRepair(CliContext& ctx, const RepairArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(LockedRepo w, OpenForRun(ctx, a.dry_run, a.lock_wait));
  MAESTRO_ASSIGN_OR_RETURN(RepairReport rep, w.repo->Repair(a.dry_run));
  WarnForeign(ctx, rep.foreign);
  const std::string aside = JoinPath(w.repo->dir(), "damaged");
  if (ctx.json()) {
    nlohmann::json q = nlohmann::json::array();
    for (const auto& d : rep.quarantined)
      q.push_back({{"snapshot", d.id}, {"path", d.path}, {"reason", d.reason}});
    ctx.PrintJson({{"dry_run", a.dry_run},
                   {"quarantine", aside},
                   {"quarantined", q},
                   {"blobs_reindexed", rep.blobs_reindexed},
                   {"packs_reindexed", rep.packs_reindexed},
                   {"damaged_packs", rep.damaged_packs},
                   {"foreign", rep.foreign}});
    return Status::OK();
  }
  const char* verb = a.dry_run ? "would move " : "moved ";
  for (const auto& d : rep.quarantined)
    ctx.Info(verb + d.path + " to " + aside + (d.id.empty() ? " (index file): " : " (snapshot " + d.id + "): ") + d.reason);
  ctx.Info(std::string(a.dry_run ? "would index " : "indexed ") + std::to_string(rep.blobs_reindexed) +
           " blobs again from the headers of " + std::to_string(rep.packs_reindexed) + " packs");
  for (const auto& p : rep.damaged_packs)
    ctx.Warn(p + " is damaged and was left where it is; `maestro-db snap verify` names what it affects");
  if (rep.quarantined.empty() && rep.blobs_reindexed == 0 && rep.damaged_packs.empty())
    ctx.Info("nothing to repair in " + ShownRepo(ctx, *w.repo));
  return Status::OK();
}

// ---------------------------------------------------------------- upgrade

struct UpgradeArgs {
  bool dry_run = false;
  double lock_wait = 0;
};

Status RunUpgrade(CliContext& ctx, const UpgradeArgs& a) {
  MAESTRO_ASSIGN_OR_RETURN(LockedRepo w, OpenForRun(ctx, a.dry_run, a.lock_wait));
  // A remote (under its lease lock) is named as the user named it, not by its local scratch.
  const std::string where = ShownRepo(ctx, *w.repo);
  const uint32_t from = w.repo->format_version();
  const bool needed = from < 4;
  if (needed && !a.dry_run) {
    if (!ctx.json()) ctx.Info("checking every manifest and index file of " + where + " ...");
    MAESTRO_RETURN_IF_ERROR(w.repo->Upgrade());
  }
  const char* from_name = from < 4 ? "3" : "4";
  if (ctx.json()) {
    ctx.PrintJson({{"dry_run", a.dry_run},
                   {"from_format", from < 4 ? 3 : 4},
                   {"format", a.dry_run ? (from < 4 ? 3 : 4) : 4},
                   {"upgraded", needed && !a.dry_run}});
    return Status::OK();
  }
  if (!needed) {
    ctx.Info(where + " is already format 4: nothing to do");
  } else if (a.dry_run) {
    ctx.Info(where + " is format " + from_name + "; `maestro-db snap upgrade` would make it format 4");
  } else {
    ctx.Info("upgraded " + where + " from format " + from_name +
             " to format 4: its snapshots are kept as they are, new ones are written as format 4");
  }
  return Status::OK();
}

// ---------------------------------------------------------------- import-legacy

struct ImportLegacyArgs {
  std::string dir;
  bool dry_run = false;
  double lock_wait = 0;
};

// Into a remote repository as into a local one (like snap create): the stamps
// become snapshots there, under its lease lock; no store is changed, so no
// journal is written. The install's local journal still refuses it while a
// transaction is unfinished (cli/txn_gate.h, as every writer of a remote).
Status RunImportLegacy(CliContext& ctx, const ImportLegacyArgs& a, int* code) {
  const bool remote = !RemoteRepoSpec(ctx).empty();
  MAESTRO_ASSIGN_OR_RETURN(Layout layout, remote ? ctx.LoadLayoutForRemoteRepo() : ctx.LoadLayout());
  const std::string dir = a.dir.empty() ? JoinPath(layout.root(), "backups") : FollowFinalLink(ctx.env(), a.dir);
  LockedRepo w;
  if (!a.dry_run) {
    MAESTRO_ASSIGN_OR_RETURN(w, OpenForWriting(ctx, a.lock_wait, /*create=*/true));
  } else if (remote || ctx.env()->DirExists(layout.repo())) {
    auto reader = OpenForReading(ctx);
    if (reader.ok()) w.repo = std::move(reader).value();
    else if (!remote || !reader.status().IsNotFound()) return reader.status();  // a remote with no repository yet: none
  }
  std::vector<LegacyImportItem> items;
  MAESTRO_RETURN_IF_ERROR(ImportLegacyBackups(ctx.env(), w.repo.get(), layout, dir, a.dry_run, &items));
  bool refused = std::any_of(items.begin(), items.end(), [](const LegacyImportItem& i) { return i.action == "refused"; });
  if (refused) *code = kExitBadStore;
  if (ctx.json()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& i : items)
      arr.push_back({{"stamp", i.stamp}, {"stores", i.stores}, {"files", i.files}, {"action", i.action},
                     {"snapshot", i.snapshot_id}, {"reason", i.reason}});
    ctx.PrintJson({{"dir", dir}, {"dry_run", a.dry_run}, {"stamps", arr}});
    return Status::OK();
  }
  for (const auto& i : items) {
    std::string line = i.stamp + "  " + Pad(i.action, 17) + Pad(Join(i.stores, ","), 16) + i.snapshot_id;
    if (i.action == "refused") {
      std::cerr << "maestro-db: refused stamp " << i.stamp << ": " << i.reason << "\n";
    } else {
      ctx.Info(line);
    }
  }
  if (items.empty()) ctx.Info("no backups of the original tool (maestro.db.<stamp>.backup ...) in " + dir);
  return Status::OK();
}

}  // namespace

void RegisterSnapCommands(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* snap = app.add_subcommand(
      "snap",
      "Snapshots of all six stores at one moment, kept compressed and deduplicated in the repository\n"
      "(--repo, default <root>/backups/maestro-db). An ID is a full id (20250808_143022), a unique prefix,\n"
      "`latest`, or an ISO-8601 time (the newest snapshot at or before it).");
  snap->require_subcommand(1);
  snap->footer(
      "Writers (create, restore in place, delete, prune, copy's target) take the repository lock; a second\n"
      "writer fails with exit code 5 naming the holder, or waits with --lock-wait SECONDS. Readers never wait\n"
      "for a writer. `restore --to`, `verify` and copy's source run beside writers too; a prune while they\n"
      "read removes the snapshots but collects their data on its next run (docs/repository-format.md; on a\n"
      "remote, other hosts' readers are seen through their reader lock objects, docs/remote.md).\n"
      "--repo rclone:REMOTE:PATH: a remote repository (docs/remote.md); create, delete, prune, repair and\n"
      "copy write it under a lease lock; a remote that refuses deletes fails delete/prune with exit 7.");

  auto ca = std::make_shared<CreateArgs>();
  auto* create = snap->add_subcommand("create", "Take a snapshot of every store now and print its id");
  create->add_option("--label", ca->label, "free text shown by `snap list`");
  AddLockWait(create, &ca->lock_wait);
  create->footer(
      "SQLite stores are copied with the online backup API, so this is safe while the app runs.\n"
      "Example:\n  maestro-db --root /app snap create --label 'before upgrade'");
  create->callback(Command(ctx, exit_code, [&ctx, ca](int*) { return RunCreate(ctx, *ca); }));
  ctx.MarkWriting(create);

  auto* list = snap->add_subcommand("list", "List the snapshots, oldest first (id, time, trigger, stores, sizes)");
  list->footer("Example:\n  maestro-db snap list --json | jq '.[].id'");
  list->callback(Command(ctx, exit_code, [&ctx](int*) { return RunList(ctx); }));

  auto show_id = std::make_shared<std::string>();
  auto* show = snap->add_subcommand("show", "List what a snapshot holds: each store's files with size, mode, mtime");
  show->add_option("ID", *show_id, "snapshot id, prefix, `latest` or ISO-8601 time")->required();
  show->footer("Example:\n  maestro-db snap show latest");
  show->callback(Command(ctx, exit_code, [&ctx, show_id](int*) { return RunShow(ctx, *show_id); }));

  auto diff_ids = std::make_shared<std::pair<std::string, std::string>>();
  auto* diff = snap->add_subcommand(
      "diff", "Paths added, removed and changed (content or mode) per store between two snapshots");
  diff->add_option("A", diff_ids->first, "the older snapshot")->required();
  diff->add_option("B", diff_ids->second, "the newer snapshot")->required();
  diff->footer("Example:\n  maestro-db snap diff 2025-08-01 latest");
  diff->callback(
      Command(ctx, exit_code, [&ctx, diff_ids](int*) { return RunDiff(ctx, diff_ids->first, diff_ids->second); }));

  auto ra = std::make_shared<RestoreCmdArgs>();
  auto* restore = snap->add_subcommand(
      "restore",
      "Restore stores of a snapshot: with --to DIR as plain files under DIR in the original layout\n"
      "(DIR/<path relative to the root>; stores outside the root under DIR/<store>), else in place");
  restore->add_option("ID", ra->id, "snapshot id, prefix, `latest` or ISO-8601 time")->required();
  restore->add_option("--store", ra->stores, "only this store (repeatable): main, ai, vector, pdfs, markdown, metadata");
  restore->add_option("--to", ra->to, "write under this directory instead of over the live stores");
  restore->add_flag("--dry-run", ra->dry_run, "show what would be written; change nothing");
  restore->add_flag("--force", ra->force, "in place: restore even while another process has a store file open");
  AddLockWait(restore, &ra->lock_wait);
  restore->add_option("--pre-image-repo", ra->pre_image_repo,
                      "in place from a remote --repo (rclone:…): the LOCAL repository that gets the journal and the "
                      "pre-restore snapshot (made if missing; default: the one under --root)");
  AddAppFlags(restore, &ctx.app_flags);  // in place only
  restore->footer(
      "Every chunk and file hash is checked while writing; a damaged snapshot is refused.\n"
      "The repository it reads from is only read: with --to it runs beside a writer (a nightly create), and\n"
      "a prune meanwhile (from any host, on a remote) collects no data until it is done; --lock-wait then\n"
      "waits for a running prune's collection. In place, the local repository's writer lock is taken too.\n"
      "Examples:\n"
      "  maestro-db snap restore latest --to /tmp/check\n"
      "  maestro-db snap restore 20250808_143022 --store main --to /tmp/main-only --dry-run\n"
      "  maestro-db --root /srv/maestro --repo rclone:b2:bucket/maestro snap restore latest  (a new machine:\n"
      "      README \"Disaster recovery\"; the pre-image and journal go to /srv/maestro/backups/maestro-db)");
  restore->callback(Command(ctx, exit_code, [&ctx, ra](int*) { return RunRestore(ctx, *ra); }));
  // In place only: `--to DIR` writes outside the install (allowed with a warning).
  ctx.MarkWriting(restore, [ra]() { return ra->to.empty(); });

  auto va = std::make_shared<VerifyArgs>();
  auto* verify = snap->add_subcommand(
      "verify",
      "Check snapshots: manifests intact and every blob present with the right size; with --read-data\n"
      "every blob is decompressed and its hash checked. Exit 0: clean; 4: problems (each listed); 5: a\n"
      "prune's garbage collection is running (--lock-wait SECONDS waits for it).");
  verify->add_option("ID", va->ids, "snapshots to check (default: all)");
  verify->add_flag("--all", va->all, "check every snapshot (the default when no ID is given)");
  verify->add_flag("--read-data", va->read_data, "read and hash every blob (slow, thorough)");
  AddLockWaitOption(verify, &va->lock_wait,
                    "seconds to wait for a running garbage collection (a prune's) to finish (default 0: exit 5 "
                    "at once)");
  AddDrillFlags(verify, &va->drill);
  verify->footer("Examples:\n  maestro-db snap verify --all --read-data\n  maestro-db snap verify --drill latest");
  verify->callback(Command(ctx, exit_code, [&ctx, va](int* code) { return RunVerify(ctx, *va, code); }));

  auto da = std::make_shared<DeleteArgs>();
  auto* del = snap->add_subcommand(
      "delete", "Delete snapshots, then remove the data no remaining snapshot references");
  del->add_option("ID", da->ids,
                  "snapshots to delete (id, unique prefix, `latest`, or the ISO-8601 time one was taken at, to "
                  "the second: never the snapshot before a time or an id that is gone)")
      ->required();
  AddLockWait(del, &da->lock_wait);
  del->footer(
      "Data only the deleted snapshots held is removed as `snap prune` removes it: packs nothing needs\n"
      "go, partly used packs are rewritten until at most 5% of the repository stays unused (run\n"
      "`snap prune --keep-last N --max-unused 0` to rewrite them all).\n"
      "Example:\n  maestro-db snap delete 20250801_020000 20250802_020000");
  del->callback(Command(ctx, exit_code, [&ctx, da](int*) { return RunDelete(ctx, *da); }));
  ctx.MarkWriting(del);

  auto pa = std::make_shared<PruneArgs>();
  auto* prune = snap->add_subcommand(
      "prune",
      "Keep the snapshots a retention policy selects (restic `forget` rules, UTC periods), delete the\n"
      "rest and the data only they referenced. At least one --keep-* flag is required.");
  prune->add_option("--keep-last", pa->policy.keep_last, "keep the N newest snapshots")->check(CLI::NonNegativeNumber);
  prune->add_option("--keep-hourly", pa->policy.keep_hourly, "keep the newest snapshot of each of the last N hours that have one")
      ->check(CLI::NonNegativeNumber);
  prune->add_option("--keep-daily", pa->policy.keep_daily, "... of the last N days that have one")
      ->check(CLI::NonNegativeNumber);
  prune->add_option("--keep-weekly", pa->policy.keep_weekly, "... of the last N ISO weeks that have one")
      ->check(CLI::NonNegativeNumber);
  prune->add_option("--keep-monthly", pa->policy.keep_monthly, "... of the last N months that have one")
      ->check(CLI::NonNegativeNumber);
  prune->add_option("--keep-yearly", pa->policy.keep_yearly, "... of the last N years that have one")
      ->check(CLI::NonNegativeNumber);
  prune->add_flag("--dry-run", pa->dry_run, "show what would be kept and removed; change nothing");
  prune->add_option("--max-unused", pa->max_unused_percent,
                    "PERCENT of the repository's bytes that may stay unused, rather than rewriting packs that\n"
                    "hold some unused blobs (default 5, as restic's; 0 rewrites every partly used pack)")
      ->check(CLI::Range(0.0, 100.0));
  AddLockWait(prune, &pa->lock_wait);
  prune->footer(
      "Each kept snapshot is listed with the rules that keep it. Packs nothing needs are deleted;\n"
      "packs partly used are rewritten, most unused first, until at most --max-unused stays unused.\n"
      "Example:\n  maestro-db snap prune --keep-last 3 --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --dry-run");
  prune->callback(Command(ctx, exit_code, [&ctx, pa](int*) { return RunPrune(ctx, *pa); }));
  ctx.MarkWriting(prune);

  auto rpa = std::make_shared<RepairArgs>();
  auto* repair = snap->add_subcommand(
      "repair",
      "Move damaged manifests and index files to <repo>/damaged/ (kept, never deleted) after indexing\n"
      "again, from their blob headers, the packs no readable index names");
  repair->add_flag("--dry-run", rpa->dry_run, "show what would be moved and indexed; change nothing");
  AddLockWait(repair, &rpa->lock_wait);
  repair->footer(
      "A snapshot whose manifest was moved aside is no longer listed; the next prune or delete frees\n"
      "the data only it held. Example:\n  maestro-db snap repair --dry-run");
  repair->callback(Command(ctx, exit_code, [&ctx, rpa](int*) { return RunRepair(ctx, *rpa); }));
  ctx.MarkWriting(repair, [rpa]() { return !rpa->dry_run; });

  auto upa = std::make_shared<UpgradeArgs>();
  auto* upgrade = snap->add_subcommand(
      "upgrade",
      "Move a format-3 repository to format 4 (docs/format-4.md): metadata deduplicated, so an\n"
      "unchanged snapshot adds under 1 KiB. Old snapshots stay as they are and readable");
  upgrade->add_flag("--dry-run", upa->dry_run, "say which format the repository is and what would change; change nothing");
  AddLockWait(upgrade, &upa->lock_wait);
  upgrade->footer(
      "Checks that every manifest and index file decodes (if one does not: `snap repair` first), then\n"
      "rewrites the config last, in one durable step: a kill leaves format 3 or format 4, both whole.\n"
      "An older maestro-db cannot read the repository afterwards. Example:\n  maestro-db snap upgrade");
  upgrade->callback(Command(ctx, exit_code, [&ctx, upa](int*) { return RunUpgrade(ctx, *upa); }));
  ctx.MarkWriting(upgrade, [upa]() { return !upa->dry_run; });

  auto ila = std::make_shared<ImportLegacyArgs>();
  auto* imp = snap->add_subcommand(
      "import-legacy",
      "Turn the original tool's copies (maestro.db.<stamp>.backup, metadata.db.<stamp>.backup,\n"
      "vector_store_<stamp>_backup/) into snapshots: one per stamp, trigger `legacy`");
  imp->add_option("DIR", ila->dir, "the folder holding the copies (default <root>/backups)");
  imp->add_flag("--dry-run", ila->dry_run, "check the copies and show what would be imported; change nothing");
  AddLockWait(imp, &ila->lock_wait);
  imp->footer(
      "Each SQLite copy must pass PRAGMA integrity_check (a failing stamp is refused and skipped: exit 8).\n"
      "A snapshot holds only the stores its stamp has; restoring it leaves the other stores alone.\n"
      "Stamps already imported are skipped. The copies are only read. Example:\n"
      "  maestro-db snap import-legacy --dry-run");
  imp->callback(Command(ctx, exit_code, [&ctx, ila](int* code) { return RunImportLegacy(ctx, *ila, code); }));
  ctx.MarkWriting(imp, [ila]() { return !ila->dry_run; });

  RegisterCopyCommand(*snap, ctx, exit_code);  // cli/copy_cmd.cc
}

}  // namespace maestro
