#include "engine/migrate/migrate.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <set>

#include "engine/migrate/migrations_embedded.h"
#include "engine/migrate/schema.h"
#include "util/crash_point.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/proc_scan.h"
#include "util/time_util.h"

namespace maestro {

// Listed here so `MAESTRO_DB_CRASH_AT=list` shows them before any run.
MAESTRO_DECLARE_CRASH_POINT(migrate_before_sql_commit, "migrate.before_sql_commit");
MAESTRO_DECLARE_CRASH_POINT(migrate_after_sql_commit, "migrate.after_sql_commit");

namespace {

bool IsSqlStore(StoreId s) { return s == StoreId::kMain || s == StoreId::kAi; }

std::vector<StoreId> SelectedStores(const MigrateOptions& opts) {
  if (opts.store) return {*opts.store};
  return {StoreId::kMain, StoreId::kAi};
}

// Skips whitespace and SQL comments; returns the first keyword, upper-cased.
std::string FirstKeyword(const char* p, const char* end) {
  while (p < end) {
    if (std::isspace(static_cast<unsigned char>(*p))) {
      ++p;
    } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
      while (p < end && *p != '\n') ++p;
    } else if (p + 1 < end && p[0] == '/' && p[1] == '*') {
      p += 2;
      while (p + 1 < end && !(p[0] == '*' && p[1] == '/')) ++p;
      p += 2;
    } else {
      break;
    }
  }
  std::string kw;
  while (p < end && (std::isalpha(static_cast<unsigned char>(*p)) || *p == '_'))
    kw += static_cast<char>(std::toupper(static_cast<unsigned char>(*p++)));
  return kw;
}

// The statement as a user recognises it: comments kept out, whitespace
// collapsed, cut at about 100 characters.
std::string StatementExcerpt(const std::string& text) {
  std::string out;
  bool space = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
      while (i < text.size() && text[i] != '\n') ++i;
      space = true;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > 100) out = out.substr(0, 100) + "...";
  return out;
}

// Runs every statement of sql; the caller holds the transaction. what names the
// file for the error ("migration main/0003_x.sql (up)").
Status ExecScript(Db& db, const std::string& sql, const std::string& what) {
  const char* p = sql.data();
  const char* end = p + sql.size();
  while (p < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db.raw(), p, static_cast<int>(end - p), &raw, &tail);
    if (!tail || tail <= p) tail = end;
    std::string text(p, static_cast<size_t>(tail - p));
    if (rc != SQLITE_OK) {
      if (raw) sqlite3_finalize(raw);
      return SqliteError(what + " failed at statement `" + StatementExcerpt(text) + "`", rc, db.raw());
    }
    if (!raw) {  // only whitespace or comments left
      p = tail;
      continue;
    }
    Stmt st(raw, db.raw());
    std::string kw = FirstKeyword(p, tail);
    if (kw == "BEGIN" || kw == "COMMIT" || kw == "END" || kw == "ROLLBACK" || kw == "SAVEPOINT" ||
        kw == "RELEASE" || kw == "VACUUM" || kw == "ATTACH" || kw == "DETACH") {
      return Status::InvalidArgument(what + " contains `" + StatementExcerpt(text) +
                                     "`: a migration runs inside maestro-db's own transaction and must not "
                                     "control transactions or attach databases; remove the statement");
    }
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE)
      return SqliteError(what + " failed at statement `" + StatementExcerpt(text) + "`", rc, db.raw());
    p = tail;
  }
  return Status::OK();
}

bool ParseFileName(const std::string& file, int64_t* version, std::string* name) {
  if (file.size() < 5 || file.substr(file.size() - 4) != ".sql") return false;
  size_t i = 0;
  while (i < file.size() && std::isdigit(static_cast<unsigned char>(file[i]))) ++i;
  if (i == 0 || i > 9 || i >= file.size() || file[i] != '_') return false;
  *version = std::strtoll(file.substr(0, i).c_str(), nullptr, 10);
  *name = file.substr(i + 1, file.size() - 4 - (i + 1));
  return *version > 0 && !name->empty();
}

bool IsBlankSql(const std::string& sql) {
  return FirstKeyword(sql.data(), sql.data() + sql.size()).empty() &&
         sql.find(';') == std::string::npos;
}

Result<bool> HasColumn(Db& db, const std::string& table, const std::string& column) {
  MAESTRO_ASSIGN_OR_RETURN(auto cols, db.Columns(table));
  return std::find(cols.begin(), cols.end(), column) != cols.end();
}

Result<int64_t> CountUserTables(Db& db) {
  return db.QueryInt(
      "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
      "AND name <> 'migration_history'");
}

std::string StepWhat(const std::string& store, const Migration& m, bool down) {
  return "migration " + store + "/" + m.file + (down ? " (down)" : " (up)");
}

std::string HistorySql(const Migration& m, bool down, const std::string& applied_at) {
  std::string v = std::to_string(m.version);
  if (down) return "DELETE FROM migration_history WHERE CAST(version AS INTEGER) = " + v + ";";
  auto quote = [](const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
  };
  return "DELETE FROM migration_history WHERE CAST(version AS INTEGER) = " + v +
         ";\nINSERT INTO migration_history(version, description, applied_at, success, checksum) VALUES (" + v +
         ", " + quote(m.name) + ", " + quote(applied_at) + ", 1, " + quote(m.checksum) + ");";
}


}  // namespace

Status CheckStoresNotHeldOpen(const std::vector<std::string>& paths) {
  auto holders = FindOpenFileHolders(paths);
  if (holders.empty()) return Status::OK();
  const auto& h = holders.front();
  return Status::Busy("store file " + h.path + " is open in process " + std::to_string(h.pid) + " (" + h.program +
                      "): stop the MAESTRO app before migrating, then run the command again");
}

// ---- migration files ----------------------------------------------------

Result<Migration> ParseMigration(const std::string& store, const std::string& file, const std::string& text,
                                 const std::string& origin) {
  Migration m;
  if (!ParseFileName(file, &m.version, &m.name))
    return Status::InvalidArgument("migration file " + origin + " is not named NNNN_name.sql (e.g. 0003_add_index.sql)");
  m.store = store;
  m.file = file;
  m.origin = origin;
  m.up = MigrationUpPart(text);
  m.down = MigrationDownPart(text);
  m.has_down = !IsBlankSql(m.down);
  m.checksum = Xxh128(text).Hex();
  return m;
}

Result<std::vector<Migration>> LoadMigrations(Env* env, StoreId store, const std::string& dir) {
  if (!IsSqlStore(store))
    return Status::InvalidArgument(std::string("store ") + StoreName(store) + " has no SQL schema to migrate");
  std::string sname = StoreName(store);
  std::vector<Migration> out;
  std::string sub = dir.empty() ? "" : JoinPath(dir, sname);
  if (!dir.empty() && !env->DirExists(dir))
    return Status::NotFound("migrations folder " + dir + " does not exist (expected " + dir +
                            "/main/NNNN_name.sql and " + dir + "/ai/NNNN_name.sql)");
  if (dir.empty() || !env->DirExists(sub)) {
    for (const auto& e : EmbeddedMigrations()) {
      if (sname != e.store) continue;
      MAESTRO_ASSIGN_OR_RETURN(Migration m, ParseMigration(sname, e.file, e.sql,
                                                          "built-in:" + sname + "/" + e.file));
      out.push_back(std::move(m));
    }
  } else {
    std::vector<DirEntry> entries;
    MAESTRO_RETURN_IF_ERROR(env->ListDir(sub, &entries));
    for (const auto& e : entries) {
      if (e.is_dir || e.name.size() < 4 || e.name.substr(e.name.size() - 4) != ".sql") continue;
      std::string path = JoinPath(sub, e.name);
      std::string text;
      MAESTRO_RETURN_IF_ERROR(env->ReadFileToString(path, &text));
      MAESTRO_ASSIGN_OR_RETURN(Migration m, ParseMigration(sname, e.name, text, path));
      out.push_back(std::move(m));
    }
  }
  std::sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < out.size(); ++i)
    if (out[i].version == out[i - 1].version)
      return Status::InvalidArgument("migrations " + out[i - 1].origin + " and " + out[i].origin +
                                     " have the same version " + std::to_string(out[i].version) +
                                     "; renumber one of them");
  return out;
}

// ---- history ------------------------------------------------------------

Result<std::vector<AppliedMigration>> ReadHistory(Db& db) {
  std::vector<AppliedMigration> out;
  MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists("migration_history"));
  if (!exists) return out;
  MAESTRO_ASSIGN_OR_RETURN(bool has_checksum, HasColumn(db, "migration_history", "checksum"));
  MAESTRO_ASSIGN_OR_RETURN(
      Stmt st, db.Prepare(std::string("SELECT CAST(version AS TEXT), description, applied_at, success, ") +
                          (has_checksum ? "checksum" : "NULL") + " FROM migration_history"));
  for (;;) {
    MAESTRO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string v = st.Text(0);
    char* endp = nullptr;
    long long n = std::strtoll(v.c_str(), &endp, 10);
    if (v.empty() || endp == v.c_str()) continue;  // not one of ours (a named app migration)
    AppliedMigration a;
    a.version = n;
    a.description = st.Text(1);
    a.applied_at = st.Text(2);
    a.success = st.IsNull(3) ? true : st.Int(3) != 0;
    a.checksum = st.Text(4);
    out.push_back(std::move(a));
  }
  std::sort(out.begin(), out.end(),
            [](const AppliedMigration& a, const AppliedMigration& b) { return a.version < b.version; });
  return out;
}

Status EnsureHistoryTable(Db& db) {
  MAESTRO_ASSIGN_OR_RETURN(bool exists, db.TableExists("migration_history"));
  if (!exists)
    return db.Exec(
        "CREATE TABLE migration_history (\n"
        "  version INTEGER PRIMARY KEY,\n"
        "  description TEXT NOT NULL,\n"
        "  applied_at TEXT NOT NULL,\n"
        "  success BOOLEAN NOT NULL DEFAULT 1,\n"
        "  checksum TEXT\n"
        ")");
  MAESTRO_ASSIGN_OR_RETURN(bool has_checksum, HasColumn(db, "migration_history", "checksum"));
  if (!has_checksum) return db.Exec("ALTER TABLE migration_history ADD COLUMN checksum TEXT");
  return Status::OK();
}

Status ApplyMigrationStep(Db& db, const Migration& m, bool down, const std::string& applied_at) {
  std::string what = StepWhat(m.store, m, down);
  MAESTRO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE").Annotate(what));
  Status s = EnsureHistoryTable(db);
  if (s.ok()) s = ExecScript(db, down ? m.down : m.up, what);
  if (s.ok()) s = db.Exec(HistorySql(m, down, applied_at)).Annotate(what + ": recording history");
  if (s.ok()) MAESTRO_CRASH_POINT("migrate.before_sql_commit");
  if (s.ok()) s = db.Exec("COMMIT").Annotate(what);
  if (!s.ok() && !sqlite3_get_autocommit(db.raw()))
    db.Exec("ROLLBACK").IgnoreError("ends the failed transaction; its first error is returned");
  return s;
}

Status ApplyMigrationsAtomically(Db& db, const std::vector<Migration>& set, const std::string& applied_at) {
  MAESTRO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = EnsureHistoryTable(db);
  for (const auto& m : set) {
    if (!s.ok()) break;
    std::string what = StepWhat(m.store, m, false);
    s = ExecScript(db, m.up, what);
    if (s.ok()) s = db.Exec(HistorySql(m, false, applied_at)).Annotate(what + ": recording history");
  }
  if (s.ok()) s = db.Exec("COMMIT");
  if (!s.ok() && !sqlite3_get_autocommit(db.raw()))
    db.Exec("ROLLBACK").IgnoreError("ends the failed transaction; its first error is returned");
  return s;
}

// ---- status -------------------------------------------------------------

Result<std::vector<StoreMigrationStatus>> GetMigrationStatus(const Layout& layout, const MigrateOptions& opts) {
  std::vector<StoreMigrationStatus> out;
  for (StoreId id : SelectedStores(opts)) {
    StoreMigrationStatus st;
    st.id = id;
    st.store = StoreName(id);
    st.path = layout.store(id).path;
    st.present = layout.store(id).present;
    MAESTRO_ASSIGN_OR_RETURN(auto set, LoadMigrations(layout.env(), id, opts.migrations_dir));
    if (!set.empty()) st.newest = set.back().version;
    std::vector<AppliedMigration> history;
    if (st.present) {
      MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadOnly(st.path));
      MAESTRO_ASSIGN_OR_RETURN(st.has_history, db.TableExists("migration_history"));
      MAESTRO_ASSIGN_OR_RETURN(st.user_tables, CountUserTables(db));
      MAESTRO_ASSIGN_OR_RETURN(history, ReadHistory(db));
    }
    std::map<int64_t, const Migration*> by_version;
    for (const auto& m : set) by_version[m.version] = &m;
    std::set<int64_t> applied;
    for (const auto& a : history) {
      if (!a.success) {
        st.failed.push_back(a);
        continue;
      }
      applied.insert(a.version);
      st.current = std::max(st.current, a.version);
      auto it = by_version.find(a.version);
      if (it == by_version.end()) {
        st.missing.push_back(a);
      } else if (!a.checksum.empty() && a.checksum != it->second->checksum) {
        st.drifted.push_back({a.version, it->second->file, a.checksum, it->second->checksum});
      }
    }
    if (st.present)
      for (const auto& m : set)
        if (!applied.count(m.version)) st.pending.push_back(m);
    out.push_back(std::move(st));
  }
  return out;
}

// ---- plans --------------------------------------------------------------

std::string MigrationStep::Describe() const {
  return std::string(StoreName(store)) + "/" + migration.file + (down ? " (down)" : " (up)");
}

namespace {

Status RefuseUnhealthy(const StoreMigrationStatus& st, const std::string& verb) {
  if (st.unversioned())
    return Status::BadStore("store " + st.store + " (" + st.path + ") has " + std::to_string(st.user_tables) +
                            " tables but no migration history: adopt it first with `maestro-db migrate baseline "
                            "--store " + st.store + " --version N` (N = the version its schema matches)");
  if (!st.drifted.empty())
    return Status::BadStore("store " + st.store + ": applied migration " + st.drifted.front().file +
                            " changed since it was applied (checksum " + st.drifted.front().recorded_checksum +
                            " recorded, file has " + st.drifted.front().file_checksum + "); refusing to migrate " +
                            verb + ": restore the file, or see `maestro-db migrate validate`");
  if (!st.missing.empty())
    return Status::BadStore("store " + st.store + ": applied migration version " +
                            std::to_string(st.missing.front().version) + " (" + st.missing.front().description +
                            ") has no file in the migrations folder; refusing to migrate " + verb +
                            ": see `maestro-db migrate validate`");
  return Status::OK();
}

}  // namespace

Result<MigrationPlan> PlanMigrateUp(const Layout& layout, const MigrateOptions& opts) {
  MAESTRO_ASSIGN_OR_RETURN(auto statuses, GetMigrationStatus(layout, opts));
  MigrationPlan plan;
  for (const auto& st : statuses) {
    if (!st.present) {
      if (opts.store)
        return Status::NotFound("store " + st.store + " does not exist at " + st.path +
                                " (check --root / --config; `maestro-db reset` creates it)");
      continue;
    }
    MAESTRO_RETURN_IF_ERROR(RefuseUnhealthy(st, "up"));
    if (opts.to && *opts.to < st.current && opts.store)
      return Status::InvalidArgument("store " + st.store + " is at version " + std::to_string(st.current) +
                                     ", above --to " + std::to_string(*opts.to) + ": use `migrate down --to`");
    int64_t after = st.current;
    bool any = false;
    for (const auto& m : st.pending) {
      if (opts.to && m.version > *opts.to) break;
      MigrationStep step;
      step.store = st.id;
      step.store_path = st.path;
      step.migration = m;
      plan.steps.push_back(std::move(step));
      after = std::max(after, m.version);
      any = true;
    }
    if (any) {
      plan.stores.push_back(st.id);
      plan.store_paths.push_back(st.path);
      plan.versions.emplace_back(st.current, after);
    }
  }
  return plan;
}

Result<MigrationPlan> PlanMigrateDown(const Layout& layout, const MigrateOptions& opts) {
  if (!opts.to || *opts.to < 0)
    return Status::InvalidArgument("migrate down needs --to V (the version to return to; 0 = before the first)");
  MAESTRO_ASSIGN_OR_RETURN(auto statuses, GetMigrationStatus(layout, opts));
  MigrationPlan plan;
  plan.down = true;
  for (const auto& st : statuses) {
    if (!st.present) {
      if (opts.store)
        return Status::NotFound("store " + st.store + " does not exist at " + st.path);
      continue;
    }
    MAESTRO_RETURN_IF_ERROR(RefuseUnhealthy(st, "down"));
    MAESTRO_ASSIGN_OR_RETURN(auto set, LoadMigrations(layout.env(), st.id, opts.migrations_dir));
    std::map<int64_t, const Migration*> by_version;
    for (const auto& m : set) by_version[m.version] = &m;
    std::vector<int64_t> applied;
    {
      MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadOnly(st.path));
      MAESTRO_ASSIGN_OR_RETURN(auto history, ReadHistory(db));
      for (const auto& a : history)
        if (a.success && a.version > *opts.to) applied.push_back(a.version);
    }
    std::sort(applied.rbegin(), applied.rend());
    for (int64_t v : applied) {
      const Migration* m = by_version.at(v);  // RefuseUnhealthy ruled out missing files
      if (!m->has_down)
        return Status::InvalidArgument("cannot migrate store " + st.store + " down to " + std::to_string(*opts.to) +
                                       ": " + m->origin + " has no down part (a line `-- +down` followed by SQL); "
                                       "nothing was changed. Restore a pre-migrate snapshot instead");
      MigrationStep step;
      step.store = st.id;
      step.store_path = st.path;
      step.migration = *m;
      step.down = true;
      plan.steps.push_back(std::move(step));
    }
    if (!applied.empty()) {
      plan.stores.push_back(st.id);
      plan.store_paths.push_back(st.path);
      plan.versions.emplace_back(st.current, *opts.to);
    }
  }
  return plan;
}

std::string DescribePlanSql(const MigrationPlan& plan) {
  std::string out;
  for (const auto& step : plan.steps) {
    out += "-- " + step.Describe() + " on " + step.store_path + "\nBEGIN IMMEDIATE;\n";
    std::string sql = step.sql();
    while (!sql.empty() && (sql.back() == '\n' || sql.back() == ' ')) sql.pop_back();
    out += sql + "\n" + HistorySql(step.migration, step.down, "<now>") + "\nCOMMIT;\n\n";
  }
  return out;
}

// ---- baseline -----------------------------------------------------------

Result<std::vector<StoreId>> BaselineMigrations(const Layout& layout, const MigrateOptions& opts, int64_t version) {
  if (version <= 0) return Status::InvalidArgument("migrate baseline needs --version N with N >= 1");
  MAESTRO_ASSIGN_OR_RETURN(auto statuses, GetMigrationStatus(layout, opts));
  std::vector<StoreId> adopted;
  // Check every selected store first so a refusal changes nothing.
  std::vector<std::vector<Migration>> sets;
  for (const auto& st : statuses) {
    if (!st.present) {
      if (opts.store) return Status::NotFound("store " + st.store + " does not exist at " + st.path);
      sets.emplace_back();
      continue;
    }
    bool any_applied = st.current > 0;
    if (any_applied)
      return Status::BadStore("store " + st.store + " (" + st.path + ") already has migration history (version " +
                              std::to_string(st.current) + "); baseline only adopts an install without history");
    MAESTRO_ASSIGN_OR_RETURN(auto set, LoadMigrations(layout.env(), st.id, opts.migrations_dir));
    bool found = false;
    std::vector<Migration> chosen;
    for (const auto& m : set) {
      if (m.version == version) found = true;
      if (m.version <= version) chosen.push_back(m);
    }
    if (!found)
      return Status::InvalidArgument("store " + st.store + " has no migration with version " +
                                     std::to_string(version) + " (newest is " + std::to_string(st.newest) +
                                     "); pick the version the store's schema matches");
    sets.push_back(std::move(chosen));
  }
  std::string applied_at = FormatIso8601(layout.env()->NowMicros());
  for (size_t i = 0; i < statuses.size(); ++i) {
    const auto& st = statuses[i];
    if (!st.present) continue;
    MAESTRO_RETURN_IF_ERROR(CheckStoresNotHeldOpen({st.path}));
    MAESTRO_ASSIGN_OR_RETURN(Db db, Db::OpenReadWrite(st.path, false));
    MAESTRO_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=FULL"));
    MAESTRO_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
    Status s = EnsureHistoryTable(db);
    for (const auto& m : sets[i]) {
      if (!s.ok()) break;
      Migration named = m;
      named.name = m.name + " (baseline)";
      s = db.Exec(HistorySql(named, false, applied_at));
    }
    if (s.ok()) s = db.Exec("COMMIT");
    if (!s.ok()) {
      if (!sqlite3_get_autocommit(db.raw()))
        db.Exec("ROLLBACK").IgnoreError("ends the failed transaction; its first error is returned");
      return s.Annotate("baseline of store " + st.store + " (" + st.path + "); nothing was recorded in it");
    }
    MAESTRO_RETURN_IF_ERROR(db.Close());
    adopted.push_back(st.id);
  }
  return adopted;
}

}  // namespace maestro
