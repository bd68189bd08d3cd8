#include "engine/stores/drill.h"

#include <errno.h>
#include <stdlib.h>

#include "engine/stores/chroma.h"
#include "engine/stores/hnsw_check.h"
#include "util/env.h"
#include "util/sqlite.h"

namespace maestro {

namespace {

Result<std::string> MakeScratch(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* t = getenv("TMPDIR");
    base = t && *t ? t : "/tmp";
  }
  std::string tmpl = JoinPath(base, "maestro-drill-XXXXXX");
  if (!mkdtemp(tmpl.data())) return PosixError("cannot make a scratch folder under " + base, errno);
  return tmpl;
}

// "" when PRAGMA integrity_check says ok, else its first complaint (or the open error).
std::string IntegrityProblem(const std::string& path) {
  auto db = Db::OpenReadOnly(path);
  if (!db.ok()) return db.status().message();
  auto st = db->Prepare("PRAGMA integrity_check");
  if (!st.ok()) return st.status().message();
  std::string first;
  int64_t lines = 0;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) return row.status().message();
    if (!*row) break;
    // One row may hold several complaints, one a line, under "*** in database main ***".
    const std::string text = st->Text(0);
    size_t at = 0;
    while (at <= text.size()) {
      size_t nl = text.find('\n', at);
      if (nl == std::string::npos) nl = text.size();
      const std::string line = text.substr(at, nl - at);
      at = nl + 1;
      if (line.empty() || line == "ok" || line.rfind("*** in database", 0) == 0) continue;
      if (first.empty()) first = line;
      ++lines;
    }
  }
  if (first.empty()) return "";
  return first + (lines > 1 ? " (and " + std::to_string(lines - 1) + " more)" : "");
}

void CheckDatabase(DrillReport* rep, const std::string& store, const std::string& path, const std::string& rel) {
  ++rep->databases_checked;
  const std::string why = IntegrityProblem(path);
  if (!why.empty()) rep->problems.push_back({store, rel, "integrity_check", why});
}

void CheckVector(Env* env, DrillReport* rep, const std::string& dir) {
  FileInfo fi;
  if (!env->Stat(JoinPath(dir, kChromaDbFile), &fi).ok() || !fi.exists) return;
  const size_t before = rep->problems.size();
  CheckDatabase(rep, "vector", JoinPath(dir, kChromaDbFile), kChromaDbFile);
  if (rep->problems.size() != before) return;  // the HNSW check reads chroma.sqlite3
  auto hnsw = CheckHnswStore(env, dir);
  if (!hnsw.ok()) {
    rep->problems.push_back({"vector", kChromaDbFile, "not_a_database", hnsw.status().message()});
    return;
  }
  rep->hnsw_segments_checked = static_cast<int64_t>(hnsw->segments.size());
  for (const HnswFinding& f : hnsw->findings)
    rep->problems.push_back({"vector", f.segment + (f.file.empty() ? "" : "/" + f.file), kHnswDamagedKind,
                             f.collection + ": " + f.detail});
}

}  // namespace

// Format 4: a snapshot whose manifest is whole (it is listed) but whose
// listing's tree blobs are missing or damaged cannot be restored at all: a
// restore problem of the drill, as a missing data blob is, not an error.
bool ListingUnreadable(Repository& repo, const std::string& id, const Status& s) {
  if (!s.IsCorruption()) return false;
  Result<std::vector<SnapshotInfo>> list = repo.List();
  if (!list.ok()) return false;
  for (const auto& i : *list)
    if (i.id == id) return true;
  return false;
}

Result<DrillReport> RunDrill(Env* env, Repository& repo, const std::string& snapshot_id, const DrillOptions& opts) {
  Result<Manifest> loaded = repo.LoadManifest(snapshot_id);
  if (!loaded.ok() && ListingUnreadable(repo, snapshot_id, loaded.status())) {
    DrillReport failed;
    failed.snapshot_id = snapshot_id;
    failed.problems.push_back({"", "", "restore_failed", loaded.status().message()});
    return failed;
  }
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, std::move(loaded));
  DrillReport rep;
  rep.snapshot_id = m.info.id;
  MAESTRO_ASSIGN_OR_RETURN(rep.scratch, MakeScratch(opts.scratch_parent));
  RestoreOptions ro;
  ro.sync = false;  // a scratch copy: durability does not matter
  for (const ManifestStore& s : m.stores) {
    DrillStore ds;
    ds.name = s.name;
    ds.present = s.present;
    for (const auto& f : s.files) {
      if (f.type != ManifestFile::Type::kFile) continue;
      ++ds.files;
      ds.bytes += f.size;
    }
    const std::string target = JoinPath(rep.scratch, s.name);
    if (s.present) {
      Status st = repo.RestoreStore(m.info.id, s.name, target, ro);
      ds.restored = st.ok();
      if (!st.ok()) rep.problems.push_back({s.name, "", "restore_failed", st.message()});
    }
    if (ds.restored && !s.is_directory) CheckDatabase(&rep, s.name, target, "");
    if (ds.restored && s.name == "vector") CheckVector(env, &rep, target);
    rep.stores.push_back(std::move(ds));
  }
  if (!opts.keep_scratch) {
    Status st = env->RemoveTree(rep.scratch);
    if (!st.ok()) return st.Annotate("removing the drill's scratch folder " + rep.scratch);
  }
  return rep;
}

}  // namespace maestro
