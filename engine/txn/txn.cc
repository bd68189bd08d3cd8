#include "engine/txn/txn.h"

#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <set>

#include "util/crash_point.h"
#include "util/time_util.h"

namespace maestro {

// Crash points of every transaction, listed here so `debug crash-points` sees them
// before any transaction runs. Each sits right after the named action became durable.
MAESTRO_DECLARE_CRASH_POINT(txn_after_begin, "txn.after_begin");
MAESTRO_DECLARE_CRASH_POINT(txn_after_snapshot, "txn.after_snapshot");
MAESTRO_DECLARE_CRASH_POINT(txn_after_intent, "txn.after_intent");
MAESTRO_DECLARE_CRASH_POINT(txn_after_step, "txn.after_step");
MAESTRO_DECLARE_CRASH_POINT(txn_after_commit, "txn.after_commit");
MAESTRO_DECLARE_CRASH_POINT(txn_after_finish_step, "txn.after_finish_step");
MAESTRO_DECLARE_CRASH_POINT(txn_after_undo, "txn.after_undo");
MAESTRO_DECLARE_CRASH_POINT(store_after_aside, "store.after_aside");
MAESTRO_DECLARE_CRASH_POINT(store_after_stage, "store.after_stage");
MAESTRO_DECLARE_CRASH_POINT(purge_after_entry, "purge.after_entry");

namespace {

const char* const kSidecars[] = {"-wal", "-shm", "-journal"};

Status Record(TxnServices& svc, RecordType type, const std::string& txn, int step = -1,
              const std::string& step_name = "", const std::string& detail = "") {
  JournalRecord r;
  r.type = type;
  r.txn_id = txn;
  r.step = step;
  r.step_name = step_name;
  r.detail = detail;
  return svc.journal->Append(&r);
}

Status RenameDurably(Env* env, const std::string& from, const std::string& to) {
  MAESTRO_RETURN_IF_ERROR(env->Rename(from, to));
  MAESTRO_RETURN_IF_ERROR(env->SyncDir(DirName(to)));
  if (DirName(from) != DirName(to)) MAESTRO_RETURN_IF_ERROR(env->SyncDir(DirName(from)));
  return Status::OK();
}

bool Exists(Env* env, const std::string& p) {
  FileInfo fi;
  return env->Stat(p, &fi).ok() && fi.exists;
}

Status RollBack(TxnServices& svc, const TxnSummary& txn, const TxnPlan& plan, TxnReport* report) {
  // Undo each step that has an intent and no undone record, newest first.
  std::vector<int> todo;
  std::set<int> seen;
  for (int s : txn.intents)
    if (seen.insert(s).second && !txn.IsUndone(s) && s < static_cast<int>(plan.steps.size())) todo.push_back(s);
  std::sort(todo.rbegin(), todo.rend());
  for (int s : todo) {
    const TxnStep& step = plan.steps[s];
    if (step.undo) {
      Status st = step.undo();
      if (!st.ok())
        return Status::Unfinished("rolling back step " + step.name + " of transaction " + txn.txn_id + " failed: " +
                                  st.ToString(),
                                  "fix the cause and run `maestro-db recover --rollback` again");
    }
    MAESTRO_RETURN_IF_ERROR(Record(svc, RecordType::kUndone, txn.txn_id, s, step.name));
    if (report) report->steps_undone.push_back(step.name);
    MAESTRO_CRASH_POINT("txn.after_undo");
  }
  JournalRecord end;
  end.type = RecordType::kEnd;
  end.txn_id = txn.txn_id;
  end.outcome = "rolled_back";
  MAESTRO_RETURN_IF_ERROR(svc.journal->Append(&end));
  if (report) report->outcome = "rolled_back";
  return Status::OK();
}

// Runs the steps [0, end) of plan not yet done, each intent (durable), do, done.
// A failing step's error goes to *step_error (and OK is returned); journal errors are returned.
Status RunSteps(TxnServices& svc, TxnSummary* txn, const TxnPlan& plan, size_t end, TxnReport* report,
                Status* step_error) {
  for (int i = 0; i < static_cast<int>(std::min(end, plan.steps.size())); ++i) {
    if (txn->IsDone(i)) continue;
    const TxnStep& step = plan.steps[i];
    if (!txn->HasIntent(i)) {
      MAESTRO_RETURN_IF_ERROR(Record(svc, RecordType::kIntent, txn->txn_id, i, step.name));
      txn->intents.push_back(i);
      MAESTRO_CRASH_POINT("txn.after_intent");
    }
    Status st = step.run();
    if (!st.ok()) {
      *step_error = st.Annotate("step " + step.name + " of " + txn->kind + " transaction " + txn->txn_id);
      return Status::OK();
    }
    MAESTRO_RETURN_IF_ERROR(Record(svc, RecordType::kDone, txn->txn_id, i, step.name));
    txn->done.push_back(i);
    if (report) report->steps_run.push_back(step.name);
    MAESTRO_CRASH_POINT("txn.after_step");
  }
  return Status::OK();
}

// The plan's before_snapshot steps (stopping the app), built without a snapshot id.
// A builder error is left to surface where it always did (after the snapshot).
Status RunBeforeSnapshot(TxnServices& svc, TxnSummary* txn, const TxnBuilder& builder, TxnReport* report,
                         Status* step_error) {
  auto plan = builder(TxnContext{&svc, txn->txn_id, txn->kind, txn->args, ""});
  if (!plan.ok() || plan->before_snapshot == 0) return Status::OK();
  return RunSteps(svc, txn, *plan, plan->before_snapshot, report, step_error);
}

// Runs (or repeats) everything not yet done, from the snapshot to the end record.
Status RollForward(TxnServices& svc, TxnSummary txn, const TxnBuilder& builder, const std::string& trigger,
                   TxnReport* report, Status* step_error) {
  if (txn.snapshot_id.empty()) {
    // No snapshot record: no step has touched a store yet, so a snapshot now is the pre-image.
    MAESTRO_RETURN_IF_ERROR(RunBeforeSnapshot(svc, &txn, builder, report, step_error));
    if (!step_error->ok()) return Status::OK();
    MAESTRO_ASSIGN_OR_RETURN(std::string snap, svc.snapshot(trigger));
    JournalRecord r;
    r.type = RecordType::kSnapshot;
    r.txn_id = txn.txn_id;
    r.snapshot_id = snap;
    MAESTRO_RETURN_IF_ERROR(svc.journal->Append(&r));
    txn.snapshot_id = snap;
    MAESTRO_CRASH_POINT("txn.after_snapshot");
  }
  if (report) report->snapshot_id = txn.snapshot_id;
  TxnContext ctx{&svc, txn.txn_id, txn.kind, txn.args, txn.snapshot_id};
  MAESTRO_ASSIGN_OR_RETURN(TxnPlan plan, builder(ctx));
  if (!txn.committed) {
    MAESTRO_RETURN_IF_ERROR(RunSteps(svc, &txn, plan, plan.steps.size(), report, step_error));
    if (!step_error->ok()) return Status::OK();
    MAESTRO_RETURN_IF_ERROR(Record(svc, RecordType::kCommit, txn.txn_id));
    txn.committed = true;
    MAESTRO_CRASH_POINT("txn.after_commit");
  }
  // After the commit there is no way back: finishing steps are repeated until they succeed.
  for (size_t j = 0; j < plan.finish.size(); ++j) {
    int idx = static_cast<int>(plan.steps.size() + j);
    if (txn.IsDone(idx)) continue;
    const TxnStep& step = plan.finish[j];
    if (!txn.HasIntent(idx)) MAESTRO_RETURN_IF_ERROR(Record(svc, RecordType::kIntent, txn.txn_id, idx, step.name));
    Status st = step.run();
    if (!st.ok())
      return Status::Unfinished("transaction " + txn.txn_id + " is committed but finishing step " + step.name +
                                " failed: " + st.ToString(),
                                "fix the cause and run `maestro-db recover` to finish it");
    MAESTRO_RETURN_IF_ERROR(Record(svc, RecordType::kDone, txn.txn_id, idx, step.name));
    if (report) report->steps_run.push_back(step.name);
    MAESTRO_CRASH_POINT("txn.after_finish_step");
  }
  JournalRecord end;
  end.type = RecordType::kEnd;
  end.txn_id = txn.txn_id;
  end.outcome = "committed";
  MAESTRO_RETURN_IF_ERROR(svc.journal->Append(&end));
  if (report) report->outcome = "committed";
  return Status::OK();
}

Result<TxnSummary> CurrentSummary(TxnServices& svc, const std::string& txn_id) {
  MAESTRO_ASSIGN_OR_RETURN(auto txns, svc.journal->Transactions());
  for (auto& t : txns)
    if (t.txn_id == txn_id) return t;
  return Status::Internal("transaction " + txn_id + " vanished from the journal " + svc.journal->dir());
}

// After a step failed before the commit: undo what ran, then report the step's error.
Status RollBackAfterError(TxnServices& svc, const std::string& txn_id, const TxnBuilder& builder,
                          const Status& step_error, TxnReport* report) {
  MAESTRO_ASSIGN_OR_RETURN(TxnSummary now, CurrentSummary(svc, txn_id));
  TxnContext ctx{&svc, now.txn_id, now.kind, now.args, now.snapshot_id};
  auto plan = builder(ctx);
  Status rb = plan.ok() ? RollBack(svc, now, *plan, report) : plan.status();
  if (!rb.ok()) {
    if (report) report->outcome = "unfinished";
    return Status::Unfinished(step_error.ToString() + "; rolling back also failed: " + rb.ToString(),
                              "run `maestro-db recover` once the cause is fixed");
  }
  return Status(step_error).Annotate("rolled back, the stores are as they were");
}

}  // namespace

std::string NewTxnId(Env* env) {
  int64_t now = env->NowMicros();
  unsigned v = static_cast<unsigned>((now ^ (static_cast<int64_t>(::getpid()) << 7)) & 0xffff);
  char hex[8];
  snprintf(hex, sizeof(hex), "%04x", v);
  return FormatStamp(now) + "-" + hex;
}

Status RunTransaction(TxnServices& svc, const std::string& kind, const std::string& trigger,
                      const nlohmann::json& args, const TxnBuilder& builder, TxnReport* report) {
  MAESTRO_ASSIGN_OR_RETURN(auto open, svc.journal->Unfinished());
  if (open)
    return Status::Unfinished("an unfinished transaction blocks this one: " + open->Describe(),
                              "run `maestro-db recover` (or `recover --rollback` / `recover --resume`) first");
  TxnSummary txn;
  txn.txn_id = NewTxnId(svc.env);
  txn.kind = kind;
  txn.args = args;
  if (report) {
    report->txn_id = txn.txn_id;
    report->kind = kind;
  }
  JournalRecord begin;
  begin.type = RecordType::kBegin;
  begin.txn_id = txn.txn_id;
  begin.kind = kind;
  begin.args = args;
  MAESTRO_RETURN_IF_ERROR(svc.journal->Append(&begin));
  MAESTRO_CRASH_POINT("txn.after_begin");

  Status pre_error;
  Status pre = RunBeforeSnapshot(svc, &txn, builder, report, &pre_error);
  if (!pre.ok()) {
    if (report) report->outcome = "unfinished";
    return Status::Unfinished("transaction " + txn.txn_id + " stopped: " + pre.ToString(),
                              "run `maestro-db recover` once the cause is fixed");
  }
  if (!pre_error.ok()) return RollBackAfterError(svc, txn.txn_id, builder, pre_error, report);
  // Nothing destructive has happened yet: if the snapshot fails, end the transaction cleanly
  // (undoing the steps before it, if any: the app is started again).
  auto snap = svc.snapshot(trigger);
  if (!snap.ok() && !txn.intents.empty())
    return RollBackAfterError(svc, txn.txn_id, builder,
                              snap.status().Annotate("the " + trigger + " snapshot failed; no store was changed"), report);
  if (!snap.ok()) {
    JournalRecord end;
    end.type = RecordType::kEnd;
    end.txn_id = txn.txn_id;
    end.outcome = "rolled_back";
    end.detail = "snapshot failed: " + snap.status().ToString();
    MAESTRO_RETURN_IF_ERROR(svc.journal->Append(&end));
    if (report) report->outcome = "rolled_back";
    return snap.status().Annotate("the " + trigger + " snapshot failed; nothing was changed");
  }
  JournalRecord sr;
  sr.type = RecordType::kSnapshot;
  sr.txn_id = txn.txn_id;
  sr.snapshot_id = *snap;
  MAESTRO_RETURN_IF_ERROR(svc.journal->Append(&sr));
  txn.snapshot_id = *snap;
  MAESTRO_CRASH_POINT("txn.after_snapshot");

  Status step_error;
  Status st = RollForward(svc, txn, builder, trigger, report, &step_error);
  if (!st.ok()) {
    if (report) report->outcome = "unfinished";
    if (st.code() == Status::Code::kUnfinished) return st;
    return Status::Unfinished("transaction " + txn.txn_id + " stopped: " + st.ToString(),
                              "run `maestro-db recover` once the cause is fixed");
  }
  if (!step_error.ok()) return RollBackAfterError(svc, txn.txn_id, builder, step_error, report);
  return Status::OK();
}

Status FinishTransaction(TxnServices& svc, const TxnSummary& txn, RecoverMode mode, const TxnBuilder& builder,
                         const std::string& trigger, TxnReport* report) {
  if (report) {
    report->txn_id = txn.txn_id;
    report->kind = txn.kind;
    report->snapshot_id = txn.snapshot_id;
  }
  bool forward = mode == RecoverMode::kResume || (mode == RecoverMode::kAuto && txn.committed);
  if (mode == RecoverMode::kRollback && txn.committed)
    return Status::InvalidArgument("transaction " + txn.txn_id + " is committed and cannot be rolled back",
                                   "run `maestro-db recover` to finish it, then `maestro-db snap restore " +
                                       txn.snapshot_id + "` to go back to the state before it");
  if (forward) {
    Status step_error;
    Status st = RollForward(svc, txn, builder, trigger, report, &step_error);
    if (!st.ok()) return st;
    if (!step_error.ok()) {
      if (txn.committed) return Status::Unfinished(step_error.ToString(), "run `maestro-db recover` again");
      return RollBackAfterError(svc, txn.txn_id, builder, step_error, report);
    }
    return Status::OK();
  }
  TxnContext ctx{&svc, txn.txn_id, txn.kind, txn.args, txn.snapshot_id};
  MAESTRO_ASSIGN_OR_RETURN(TxnPlan plan, builder(ctx));
  return RollBack(svc, txn, plan, report);
}

// ----------------------------------------------------------------- store moves

std::string AsidePath(const std::string& path, const std::string& txn_id) { return path + ".maestro-aside-" + txn_id; }
std::string StagedPath(const std::string& path, const std::string& txn_id) { return path + ".maestro-new-" + txn_id; }
std::string TrashPath(const std::string& path, const std::string& txn_id) { return path + ".maestro-trash-" + txn_id; }

Status SyncFileAndDir(Env* env, const std::string& path) {
  std::unique_ptr<WritableFile> f;
  MAESTRO_RETURN_IF_ERROR(env->NewAppendableFile(path, &f));
  MAESTRO_RETURN_IF_ERROR(f->SyncAll());  // fsync: a mode or owner just given to it too
  MAESTRO_RETURN_IF_ERROR(f->Close());
  return env->SyncDir(DirName(path));
}

Status MoveStoreAside(Env* env, const std::string& path, const std::string& aside, bool sqlite) {
  if (Exists(env, aside)) {
    // The store itself is aside already; only sidecars can remain (the move was cut short).
    if (sqlite)
      for (const char* sfx : kSidecars)
        if (Exists(env, path + sfx) && !Exists(env, aside + sfx))
          MAESTRO_RETURN_IF_ERROR(RenameDurably(env, path + sfx, aside + sfx));
    return Status::OK();
  }
  // Sidecars first, the main file last: "aside exists" then means the whole move happened.
  if (sqlite)
    for (const char* sfx : kSidecars)
      if (Exists(env, path + sfx)) MAESTRO_RETURN_IF_ERROR(RenameDurably(env, path + sfx, aside + sfx));
  if (Exists(env, path)) MAESTRO_RETURN_IF_ERROR(RenameDurably(env, path, aside));
  return Status::OK();
}

Status PutStoreInPlace(Env* env, const std::string& staged, const std::string& path, bool sqlite) {
  if (!Exists(env, staged) || Exists(env, path)) return Status::OK();
  if (sqlite)
    for (const char* sfx : kSidecars)
      if (Exists(env, staged + sfx)) MAESTRO_RETURN_IF_ERROR(RenameDurably(env, staged + sfx, path + sfx));
  return RenameDurably(env, staged, path);
}

Status RemoveStoreCopy(Env* env, const std::string& path, bool sqlite) {
  // A parent folder that is gone (a user's rm, a fresh install) holds nothing to remove.
  if (!env->FileExists(DirName(path))) return Status::OK();
  if (sqlite) {
    for (const char* sfx : kSidecars) MAESTRO_RETURN_IF_ERROR(env->RemoveFile(path + sfx));
    MAESTRO_RETURN_IF_ERROR(env->RemoveFile(path));
  } else {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env->Stat(path, &fi));
    if (fi.exists) MAESTRO_RETURN_IF_ERROR(fi.is_dir ? env->RemoveTree(path) : env->RemoveFile(path));
  }
  return env->SyncDir(DirName(path));
}

Status MoveStoreBack(Env* env, const std::string& path, const std::string& aside, bool sqlite, bool was_present) {
  if (Exists(env, aside)) {
    // Whatever is at path now is new content (only PutStoreInPlace puts anything there).
    MAESTRO_RETURN_IF_ERROR(RemoveStoreCopy(env, path, sqlite));
    MAESTRO_RETURN_IF_ERROR(RenameDurably(env, aside, path));
  } else if (!was_present) {
    MAESTRO_RETURN_IF_ERROR(RemoveStoreCopy(env, path, sqlite));
    return Status::OK();
  }
  // Sidecars after the main file: a cut-short undo is finished by running it again.
  if (sqlite)
    for (const char* sfx : kSidecars)
      if (Exists(env, aside + sfx)) {
        MAESTRO_RETURN_IF_ERROR(env->RemoveFile(path + sfx));
        MAESTRO_RETURN_IF_ERROR(RenameDurably(env, aside + sfx, path + sfx));
      }
  return Status::OK();
}

nlohmann::json StoreRef::ToJson() const {
  return {{"name", name}, {"path", path}, {"sqlite", sqlite}, {"present", present}};
}


StoreRef StoreRef::FromStore(const Store& s) {
  StoreRef r;
  r.name = s.name;
  r.path = s.path;
  r.sqlite = KindOf(s.id) == StoreKind::kSqliteFile;
  r.present = s.present;
  return r;
}

void AddReplaceStoreSteps(TxnPlan* plan, Env* env, const std::string& prefix, const StoreRef& store,
                          const std::string& txn_id, std::function<Status(const std::string& staged)> stage) {
  std::string staged = StagedPath(store.path, txn_id);
  std::string aside = AsidePath(store.path, txn_id);
  StoreRef s = store;
  plan->steps.push_back(TxnStep{
      prefix + ".stage." + s.name,
      [env, s, staged, stage]() -> Status {
        // A crash may have left a partial staged copy: start it over.
        MAESTRO_RETURN_IF_ERROR(RemoveStoreCopy(env, staged, s.sqlite));
        Status st = stage(staged);
        if (st.IsNotFound()) return RemoveStoreCopy(env, staged, s.sqlite);  // the store is to be absent
        MAESTRO_RETURN_IF_ERROR(st);
        MAESTRO_CRASH_POINT("store.after_stage");
        return Status::OK();
      },
      [env, s, staged]() { return RemoveStoreCopy(env, staged, s.sqlite); }});
  plan->steps.push_back(TxnStep{
      prefix + ".swap." + s.name,
      [env, s, staged, aside]() -> Status {
        MAESTRO_RETURN_IF_ERROR(MoveStoreAside(env, s.path, aside, s.sqlite));
        MAESTRO_CRASH_POINT("store.after_aside");
        return PutStoreInPlace(env, staged, s.path, s.sqlite);
      },
      [env, s, aside]() { return MoveStoreBack(env, s.path, aside, s.sqlite, s.present); }});
  std::string trash = TrashPath(store.path, txn_id);
  plan->finish.push_back(TxnStep{prefix + ".drop_aside." + s.name,
                                 [env, s, staged, aside, trash]() -> Status {
                                   // One rename however big the store: deleting it is PurgeTrash's job.
                                   MAESTRO_RETURN_IF_ERROR(MoveStoreAside(env, aside, trash, s.sqlite));
                                   return RemoveStoreCopy(env, staged, s.sqlite);
                                 },
                                 nullptr});
}

Status RestoreStoreFromSnapshot(TxnServices& svc, const StoreRef& s, const std::string& snap,
                                const std::string& txn_id) {
  Env* env = svc.env;
  if (snap.empty()) return Status::Internal("no pre-image snapshot recorded for transaction " + txn_id);
  std::string staged = StagedPath(s.path, txn_id) + "-undo";
  std::string aside = AsidePath(s.path, txn_id) + "-undo";
  if (!Exists(env, aside)) {
    MAESTRO_RETURN_IF_ERROR(RemoveStoreCopy(env, staged, s.sqlite));
    MAESTRO_RETURN_IF_ERROR(env->CreateDirs(DirName(staged)));  // its parent may have been removed
    Status st = svc.restore_store(snap, s.name, staged);
    if (!st.ok() && !st.IsNotFound())
      return st.Annotate("restoring store " + s.name + " from snapshot " + snap);
    MAESTRO_RETURN_IF_ERROR(MoveStoreAside(env, s.path, aside, s.sqlite));
    // A store that was absent has nothing at path and no aside: mark progress anyway.
    if (!Exists(env, aside)) {
      MAESTRO_RETURN_IF_ERROR(PutStoreInPlace(env, staged, s.path, s.sqlite));
      return RemoveStoreCopy(env, staged, s.sqlite);
    }
  }
  MAESTRO_RETURN_IF_ERROR(PutStoreInPlace(env, staged, s.path, s.sqlite));
  MAESTRO_RETURN_IF_ERROR(RemoveStoreCopy(env, aside, s.sqlite));
  return RemoveStoreCopy(env, staged, s.sqlite);
}

namespace {

// The directories that hold the stores: where asides, staged copies and trash live.
std::vector<std::string> StoreParents(const Layout& layout) {
  std::set<std::string> dirs;
  for (const auto& s : layout.stores()) dirs.insert(DirName(s.path));
  return {dirs.begin(), dirs.end()};
}

// Entries of `dirs` whose name contains one of `marks`, sorted.
std::vector<std::string> EntriesMarked(Env* env, const std::vector<std::string>& dirs,
                                       std::initializer_list<const char*> marks) {
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    std::vector<DirEntry> entries;
    if (!env->ListDir(d, &entries).ok()) continue;
    for (const auto& e : entries)
      for (const char* m : marks)
        if (e.name.find(m) != std::string::npos) {
          out.push_back(JoinPath(d, e.name));
          break;
        }
  }
  std::sort(out.begin(), out.end());
  return out;
}

constexpr const char* kTrashMark = ".maestro-trash-";

bool IsTrashName(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  return base.find(kTrashMark) != std::string::npos;
}

// Walks a trash tree bottom-up; with `remove`, unlinks as it goes. Env::RemoveTree
// plus what the purge needs: counts, and entries that vanish underneath (a
// concurrent purge) are skipped, not errors.
Status WalkTrash(Env* env, const std::string& path, bool remove, PurgeStats* stats) {
  FileInfo fi;
  MAESTRO_RETURN_IF_ERROR(env->Stat(path, &fi));
  if (!fi.exists) return Status::OK();
  if (!fi.is_dir || fi.is_symlink) {
    if (remove) MAESTRO_RETURN_IF_ERROR(env->RemoveFile(path));
    stats->files++;
    stats->bytes += fi.is_symlink ? 0 : static_cast<int64_t>(fi.size);
    return Status::OK();
  }
  std::vector<DirEntry> entries;
  Status st = env->ListDir(path, &entries);
  if (!st.ok()) return env->FileExists(path) ? st : Status::OK();
  for (const auto& e : entries) MAESTRO_RETURN_IF_ERROR(WalkTrash(env, JoinPath(path, e.name), remove, stats));
  return remove ? env->RemoveDir(path) : Status::OK();
}

Status OverTrash(Env* env, const std::vector<std::string>& entries, bool remove, PurgeStats* stats) {
  for (const auto& e : entries) {
    if (!IsTrashName(e))
      return Status::InvalidArgument("refusing to purge " + e + ": not a *" + kTrashMark + "* entry");
    MAESTRO_RETURN_IF_ERROR(WalkTrash(env, e, remove, stats).Annotate("purging trash " + e));
    stats->entries++;
    if (remove) MAESTRO_CRASH_POINT("purge.after_entry");
  }
  return Status::OK();
}

}  // namespace

std::vector<std::string> FindTxnLeftovers(Env* env, const Layout& layout) {
  return EntriesMarked(env, StoreParents(layout), {".maestro-aside-", ".maestro-new-"});
}

std::vector<std::string> FindTrash(Env* env, const Layout& layout) { return FindTrash(env, StoreParents(layout)); }

std::vector<std::string> FindTrash(Env* env, const std::vector<std::string>& dirs) {
  return EntriesMarked(env, dirs, {kTrashMark});
}

Status PurgeTrash(Env* env, const std::vector<std::string>& entries, PurgeStats* stats) {
  return OverTrash(env, entries, true, stats);
}

Status MeasureTrash(Env* env, const std::vector<std::string>& entries, PurgeStats* stats) {
  return OverTrash(env, entries, false, stats);
}

}  // namespace maestro
