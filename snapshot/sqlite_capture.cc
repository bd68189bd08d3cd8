#include "snapshot/sqlite_capture.h"

#include <algorithm>

#include "util/sqlite.h"

namespace maestro {

namespace {

// Opens the read transaction a backup copies from: after this, the source's
// content is fixed for this connection (a SHARED lock in rollback mode, a WAL
// read mark in WAL mode) until the connection is closed. Waits out writers.
Status BeginRead(Db& db, const std::string& path) {
  int64_t waited_ms = 0;
  while (true) {
    Status s = db.Exec("BEGIN");
    if (s.ok()) s = db.QueryInt("SELECT count(*) FROM sqlite_master").status();
    if (s.ok()) return s;
    int rc = sqlite3_errcode(db.raw());
    db.Exec("ROLLBACK").IgnoreError("ends a failed BEGIN, if it began; the BEGIN's error is returned");
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= 60000)
      return s.Annotate("opening a read transaction on " + path);
    sqlite3_sleep(20);
    waited_ms += 20;
  }
}

// The fingerprint of an SQLite source (see ManifestFile::source_fingerprint),
// taken while the caller holds the read transaction it will copy: any commit
// after that changes the -wal (WAL mode) or the database file (rollback mode,
// checkpoints), so a later equal fingerprint means the same logical content.
// The -shm is left out: readers write their read marks into it. Returns "" when
// a timestamp is within racy_margin_ns of now (or in the future).
Result<std::string> SqliteFingerprint(Env* env, const std::string& path, int64_t racy_margin_ns) {
  std::string fp = "v1";
  bool racy = false;
  int64_t now_ns = env->NowMicros() * 1000;
  for (const char* suffix : {"", "-wal", "-journal"}) {
    FileInfo fi;
    MAESTRO_RETURN_IF_ERROR(env->Stat(path + suffix, &fi));
    fp += std::string(" ") + (*suffix ? suffix + 1 : "db") + "=";
    if (!fi.exists) {
      fp += "-";
      continue;
    }
    fp += std::to_string(fi.dev) + ":" + std::to_string(fi.inode) + ":" + std::to_string(fi.size) + ":" +
          std::to_string(fi.mtime_ns) + ":" + std::to_string(fi.ctime_ns);
    if (now_ns - std::max(fi.mtime_ns, fi.ctime_ns) < racy_margin_ns) racy = true;
  }
  return racy ? std::string() : fp;
}

}  // namespace

TempFiles::~TempFiles() {
  for (const auto& p : paths) env->RemoveFile(p).IgnoreError("temporary SQLite backups; tmp/ is cleaned by the next writer");
}

Status SqliteCapture::CaptureAll(Manifest* m, SqliteStates* states, TempFiles* temps,
                                 const std::function<void(size_t k, size_t j)>& done, const std::atomic<bool>* stop) {
  int n_backup = 0;
  for (size_t k = 0; k < m->stores.size(); ++k)
    for (size_t j = 0; j < m->stores[k].files.size(); ++j) {
      ManifestFile& file = m->stores[k].files[j];
      if (!file.sqlite_backup) continue;
      if (stop && stop->load()) return Status::Aborted("the SQLite captures were stopped (snapshot create is failing)");
      const std::string source = file.path.empty() ? sources_[k].path : JoinPath(sources_[k].path, file.path);
      std::string tmp = JoinPath(tmp_dir_, m->info.id + "-" + std::to_string(n_backup) + ".sqlite");
      SqliteState& state = (*states)[{k, j}];
      MAESTRO_RETURN_IF_ERROR(Capture(m->stores[k].name, source, tmp, &file, &state));
      if (!state.reused) {
        temps->paths.push_back(tmp);
        n_backup++;
      }
      if (done) done(k, j);
    }
  return Status::OK();
}

Status SqliteCapture::Capture(const std::string& store_name, const std::string& source, const std::string& tmp,
                              ManifestFile* file, SqliteState* state) {
  std::string what = "online backup of store " + store_name + " file " + source;
  Result<Db> opened = Db::OpenReadOnly(source, 10000);
  if (!opened.ok()) return opened.status().Annotate(what);
  Db src = std::move(opened).value();
  MAESTRO_RETURN_IF_ERROR(BeginRead(src, source).Annotate(what));
  Result<std::string> fp = SqliteFingerprint(env_, source, racy_margin_ns_);
  if (!fp.ok()) return fp.status().Annotate(what);
  file->source_fingerprint = std::move(fp).value();
  const ManifestFile* pf = parent_.Find(store_name, file->path);
  if (!file->source_fingerprint.empty() && pf && pf->source_fingerprint == file->source_fingerprint &&
      stored_.HasAll(pf->chunks)) {
    // Same database content as the parent's backup: nothing to copy.
    file->size = pf->size;
    file->hash = pf->hash;
    file->chunks = pf->chunks;
    state->reused = true;
    return Status::OK();
  }
  // The backup reads page by page: from the page cache, once this hint read the file.
  env_->PrefetchFile(source);
  env_->PrefetchFile(source + "-wal");
  // Not fsynced: the copy only lives in tmp/ until its chunks are in packs,
  // and packs are what is made durable (saves an fsync of the database).
  Status s = SqliteBackup(src, tmp, /*durable=*/false).Annotate(what);
  FileInfo bi;
  if (s.ok()) s = env_->Stat(tmp, &bi);
  if (!s.ok()) {
    env_->RemoveFile(tmp).IgnoreError("a failed backup's copy; tmp/ is cleaned by the next writer");
    return s;
  }
  state->read_path = tmp;
  file->size = bi.size;
  return Status::OK();
}

BackgroundCapture::BackgroundCapture(SqliteCapture* capture, Manifest* m, SqliteStates* states, TempFiles* temps) {
  // Every state made here, before the thread: its map is never reshaped while readers look in it.
  for (size_t k = 0; k < m->stores.size(); ++k)
    for (size_t j = 0; j < m->stores[k].files.size(); ++j) (*states)[{k, j}];
  thread_ = std::thread([this, capture, m, states, temps] {
    Status s = capture->CaptureAll(
        m, states, temps,
        [this](size_t k, size_t j) {
          std::lock_guard<std::mutex> l(mu_);
          next_ = {k, j + 1};
          cv_.notify_all();
        },
        &stop_);
    std::lock_guard<std::mutex> l(mu_);
    status_ = s;
    ended_ = true;
    cv_.notify_all();
  });
}

BackgroundCapture::~BackgroundCapture() {
  // Not finished: an error left Create early; the captures still to come would be thrown away.
  Cancel();
  if (thread_.joinable()) thread_.join();
}

Status BackgroundCapture::Wait(size_t k, size_t j) {
  std::unique_lock<std::mutex> l(mu_);
  const std::pair<size_t, size_t> want{k, j};
  cv_.wait(l, [&] { return want < next_ || ended_; });
  if (want < next_) return Status::OK();
  return status_.ok() ? Status::Internal("the SQLite capture ended without file " + std::to_string(j) + " of store " +
                                         std::to_string(k))
                      : status_;
}

Status BackgroundCapture::Finish() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  return stop_ && status_.code() == Status::Code::kAborted ? Status::OK() : status_;
}

}  // namespace maestro
