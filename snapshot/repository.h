// snapshot/repository.h — the snapshot repository: START HERE for snapshot/.
//
// Words:
//   blob      a chunk of file content, zstd-compressed, named by the XXH3-128 of
//             its uncompressed bytes; stored once however many files hold it
//   pack      a file holding many blobs back to back (one fsync per pack, not per blob)
//   index     maps blob id -> (pack, offset, length); written with each snapshot
//   manifest  one snapshot: stores, paths, modes, owners, sizes, mtimes, chunk lists,
//             whole-file XXH3-128; checksummed; written last (the commit point).
//             Format 4: the listing is in deduplicated tree blobs (tree.h) and the
//             manifest holds the info and one root per store; every object passes
//             through the repository's Sealer (sealer.h). Formats 1-3 are read;
//             a format-3 repository is written as format 3 until Upgrade.
//   snapshot  id = UTC creation time "YYYYmmdd_HHMMSS" (suffix "_2", "_3"... when
//             two share a second)
// The on-disk format is documented in docs/repository-format.md.
//
// Files of snapshot/ (one job each; the internal headers say their contracts):
//   repository.h/.cc   this interface; the .cc only wires the parts below
//   backend.h          where objects are kept (local_backend.cc: a folder)
//   repo_files.h       object names and paths; local scratch (tmp/) through Env
//   format.h           byte layouts of config, manifest, pack and index
//   catalog.h          manifests: list, scan, load, resolve, publish, delete
//   blob_index.h       the index: blob id -> pack, offset, lengths
//   leftovers.h        what an interrupted writer leaves, put right by the next
//   archiver.h         Create, in steps: archive_walk.h (plan), parent_files.h,
//                      sqlite_capture.h, file_saver.h + chunker.h (chunk),
//                      compress_pool.h + pack_writer.h (store), then publish
//   tree.h             format 4: a store's listing as tree blobs; upgrade.h: 3 -> 4
//   blob_reader.h      reads blobs back, every check made
//   restorer.h         RestoreStore          checker.h   Verify
//   gc.h               RemoveUnreferencedData   repair.h   Repair
//   repo_lock.h, open_writer.h, retention.h, prune.h, file_meta.h: the writer
//   lock, opening for writing, retention policy, prune, entry metadata
//
// Crash safety: every file is published with WriteFileDurably-style temp+fsync+
// rename+dir fsync; packs and index first, the manifest last. A snapshot whose
// manifest is not published is never listed; its packs are reused or removed by
// the next run. Nothing is rewritten in place.
//
// Thread safety: a Repository is used by one thread at a time (it may use worker
// threads inside). Writers (Create, RestoreStore into place, Delete, RemoveUnreferencedData)
// must hold the RepoLock (snapshot/repo_lock.h); readers need no lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "snapshot/backend.h"
#include "snapshot/file_meta.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/status.h"

namespace maestro {

class Sealer;  // snapshot/sealer.h

// One store to capture. A store that is not present is recorded as absent, and
// restoring it makes it absent again.
struct SnapshotSource {
  std::string store;   // "main", "ai", "vector", "pdfs", "markdown", "metadata"
  std::string path;    // absolute path of the SQLite file or the directory
  bool is_directory = false;
  bool present = true;
  // The path the manifest records as the store's original_path (where restore
  // puts it back); "" = path. `snap import-legacy` reads a copy, records the store.
  std::string recorded_path;
  // A file store nobody writes (a copy): read as plain bytes, so it restores
  // byte for byte, instead of through the SQLite online backup API.
  bool plain_copy = false;
};

struct SnapshotInfo {
  std::string id;
  int64_t created_micros = 0;
  std::string label;
  std::string trigger;              // manual, pre-reset, pre-cleanup, pre-restore, pre-migrate, scheduled
  std::vector<std::string> stores;  // stores present in the snapshot
  uint64_t files = 0;
  uint64_t logical_bytes = 0;       // sum of file sizes
  uint64_t stored_bytes = 0;        // bytes this snapshot newly added to the repository
  // Not persisted: bytes Create() actually read (files and SQLite databases it
  // could not reuse from the previous snapshot unread). 0 when loaded from disk.
  uint64_t read_bytes = 0;
  std::string hostname;
  // Files that kept changing while they were read (after a few re-reads): the
  // snapshot holds the last read, which may not be self-consistent, and says so
  // here as "store/path: changed while being read"; FIFOs, sockets and devices
  // inside a store folder (not captured) as "store/path: a FIFO, not captured ...".
  // Persisted in the manifest.
  std::vector<std::string> warnings;
};

struct Progress {
  uint64_t files_done = 0, files_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
  std::string current;  // store/path being read or written
};
using ProgressFn = std::function<void(const Progress&)>;

struct CreateOptions {
  std::string label;
  std::string trigger = "manual";
  ProgressFn progress;   // may be null; called from the calling thread
  int threads = 0;       // 0 = number of cores
  // An SQLite fingerprint is only recorded when the database and its -wal were
  // last changed at least this long before they were examined: file timestamps
  // come from a coarse clock (and are whole seconds on some file systems), so
  // a write just after the snapshot could otherwise keep the same timestamp
  // (git's "racily clean" problem). Tests set 0.
  int64_t racy_margin_ms = 2000;
  // The snapshot's creation time (and so its id); 0 = now. `snap import-legacy`
  // gives the time of the copy's stamp.
  int64_t created_micros = 0;
};

struct ManifestFile {
  std::string path;            // relative to the store root; "" for a single-file store
  enum class Type { kFile, kDir, kSymlink } type = Type::kFile;
  uint32_t mode = 0644;        // as stat'ed (setuid/setgid/sticky included; never restored)
  // Owner (manifest format 3); kUnknownOwner when the manifest is older.
  uint32_t uid = kUnknownOwner;
  uint32_t gid = kUnknownOwner;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  Hash128 hash;                // whole-file XXH3-128 (files only)
  std::vector<Hash128> chunks; // blob ids in order (files only)
  std::string link_target;     // symlinks only
  bool sqlite_backup = false;  // captured with the SQLite online backup API
  uint64_t inode = 0;          // of the source file; with size+mtime lets the next
                               // snapshot reuse this chunk list without reading
  // SQLite files only (manifest format 2): dev, inode, size, mtime and ctime of
  // the database and of its -wal and -journal, taken inside the read transaction
  // the backup copied. The next snapshot that sees the same fingerprint (inside
  // its own read transaction) reuses this chunk list instead of a new backup.
  // "" = never reuse (a file was modified too close to the stat to trust it).
  std::string source_fingerprint;
  bool incompressible = false;
};

struct ManifestStore {
  std::string name;
  std::string original_path;
  bool is_directory = false;
  bool present = true;
  std::vector<ManifestFile> files;
  // Format 4: the store's root tree blob (the ids of its tree blobs) and those
  // tree blobs, in order (snapshot/tree.h). Filled by LoadManifest and Create;
  // GC keeps them, verify checks them. has_root is false before format 4 and
  // for an absent store.
  bool has_root = false;
  Hash128 root;
  std::vector<Hash128> tree_blobs;
};

struct Manifest {
  uint32_t format_version = 1;
  SnapshotInfo info;
  std::vector<ManifestStore> stores;
};

struct RestoreOptions {
  ProgressFn progress;
  int threads = 0;
  // fsync every restored file and directory before the final rename (needed
  // before an in-place swap). false is faster for `restore --to` scratch copies.
  bool sync = true;
  // May be null. Receives what could not be given back (owners when not root,
  // setuid/setgid bits): the restore itself still succeeds (snapshot/file_meta.h).
  MetadataReport* metadata = nullptr;
};

// The stores of one snapshot, restored one after the other (Repository::OpenRestore).
class SnapshotRestore {
 public:
  virtual ~SnapshotRestore() = default;
  // As Repository::RestoreStore, for this snapshot.
  virtual Status RestoreStore(const std::string& store, const std::string& target, const RestoreOptions& opts) = 0;
};

// For a caller that restores stores one at a time with other work between
// (a transaction's steps): keeps the SnapshotRestore of the last snapshot id
// restored through it for the next store of that id. Not thread-safe.
class Repository;
class OpenedRestore {
 public:
  Status RestoreStore(Repository* repo, const std::string& id, const std::string& store, const std::string& target,
                      const RestoreOptions& opts);

 private:
  std::string id_;
  std::unique_ptr<SnapshotRestore> restore_;
};

struct VerifyProblem {
  std::string snapshot_id;  // "" when the problem is not tied to one snapshot
  std::string store;
  std::string path;         // file in the store, or the repository file that is damaged
  std::string detail;
};
struct VerifyReport {
  uint64_t snapshots_checked = 0, blobs_checked = 0, bytes_read = 0;
  std::vector<VerifyProblem> problems;
  std::vector<std::string> warnings;  // foreign files; a repository that kept changing
  bool ok() const { return problems.empty(); }
};

// The share of a repository's bytes a garbage collection may leave unused
// rather than rewrite packs for (Repository::RemoveUnreferencedData).
constexpr double kDefaultMaxUnused = 0.05;

struct GcStats {
  uint64_t blobs_removed = 0, packs_removed = 0, packs_rewritten = 0, bytes_freed = 0;
  // Non-empty: nothing was removed, and why (a damaged manifest may reference
  // any blob, a damaged index file may be the only one naming some: `snap
  // repair` clears the cause; or a reader held snapshot/reader_lock.h's file:
  // the next prune collects). The caller shows it as a warning.
  std::string skipped;
};

// A repository file that does not decode: a manifest (id set) or an index file.
struct DamagedFile {
  std::string id;      // snapshot id for a manifest, "" for an index file
  std::string path;
  std::string reason;
};

// What the repository's folders hold: readable snapshots, damaged manifests,
// and files the repository never writes (names that are neither a snapshot id
// in snapshots/, nor <hash>.idx in index/, nor <hash>.pack in packs/, nor a
// temporary file): those are ignored everywhere and shown as warnings.
struct RepoScan {
  std::vector<SnapshotInfo> snapshots;  // oldest first
  std::vector<DamagedFile> damaged;     // manifests only (index files: Verify, Repair)
  std::vector<std::string> foreign;
  // Format 4: manifests shorter than they declare (an upload cut short): never
  // listed, never resolved, shown as warnings.
  std::vector<DamagedFile> incomplete;
};

struct RepairReport {
  std::vector<DamagedFile> quarantined;  // moved (or, dry run, to move) to <repo>/damaged/
  uint64_t blobs_reindexed = 0, packs_reindexed = 0;
  std::vector<std::string> damaged_packs;  // left where they are; verify reports what they affect
  std::vector<std::string> foreign;
};

// BadStore unless dir is missing, empty, or holds only what a repository's own
// first writers leave before its config (its folders, lock, journal, schedule
// files, temporary files). Called before a repository is created in dir, and
// by OpenWriter before it takes the lock, so a refused folder gets no lock file.
Status CheckFolderForNewRepository(Env* env, const std::string& dir);

class Repository {
 public:
  virtual ~Repository() = default;

  // Opens dir (creating it 0700 with its layout when create_if_missing).
  // NotFound if missing and !create_if_missing; Corruption if the config file is damaged.
  // The repository's objects are kept in dir through NewLocalBackend(env, dir).
  static Result<std::unique_ptr<Repository>> Open(Env* env, const std::string& dir, bool create_if_missing);
  // The same with the sealer of the repository (see the backend overload below).
  static Result<std::unique_ptr<Repository>> Open(Env* env, const std::string& dir, bool create_if_missing,
                                                  std::shared_ptr<const Sealer> sealer);
  // The repository whose objects backend keeps (config, packs, index,
  // manifests); local_dir holds its local scratch through env (tmp/: packs
  // being written, SQLite backups; damaged/ for Repair) and is what dir()
  // returns. Creating writes the config only (no folder check: the backend's
  // location is its owner's business). NotFound if the backend holds no config
  // and !create_if_missing; Corruption if the config is damaged.
  static Result<std::unique_ptr<Repository>> Open(Env* env, std::unique_ptr<Backend> backend,
                                                  const std::string& local_dir, bool create_if_missing);
  // The same, with the sealer that names blobs and seals objects
  // (snapshot/sealer.h; null = PlainSealer()). A new repository is created as
  // format 4 with the sealer's scheme as its encryption=; opening checks that
  // the config's encryption= is the sealer's scheme (InvalidArgument, naming
  // both, when not: an encrypted repository needs its key opened first).
  static Result<std::unique_ptr<Repository>> Open(Env* env, std::unique_ptr<Backend> backend,
                                                  const std::string& local_dir, bool create_if_missing,
                                                  std::shared_ptr<const Sealer> sealer);
  // The config's encryption= of the repository backend keeps ("none" before
  // format 4); NotFound when there is no config. For the opener that must know
  // whether to ask for a key before Open.
  static Result<std::string> EncryptionOf(Backend* backend);

  // 1 (formats 1-3, written as format 3) or 4.
  virtual uint32_t format_version() const = 0;
  // Format 3 -> 4 (`snap upgrade`), writers only: checks that every manifest
  // and index file decodes (Corruption, nothing changed, when one does not:
  // run `snap repair` first), then rewrites config with format_version=4, the
  // one change: every older object stays readable by its own version. A kill
  // at any point leaves format 3 or format 4, both whole. No-op on format 4.
  virtual Status Upgrade() = 0;

  // The local folder (for a local repository: the repository folder).
  virtual const std::string& dir() const = 0;

  // Captures every source at one moment; SQLite files (the store file of main/ai
  // and any *.sqlite3 / SQLite-headed file inside a directory store) through the
  // online backup API. Returns the published snapshot's info.
  virtual Result<SnapshotInfo> Create(const std::vector<SnapshotSource>& sources, const CreateOptions& opts) = 0;

  // Complete, readable snapshots, oldest first. A damaged manifest is left out
  // (Scan names it); a foreign file in snapshots/ is ignored.
  virtual Result<std::vector<SnapshotInfo>> List() = 0;
  // List plus the damaged manifests and the foreign files. A manifest that
  // vanishes while being read (a concurrent delete) is left out, not damaged.
  virtual Result<RepoScan> Scan() = 0;
  virtual Result<Manifest> LoadManifest(const std::string& id) = 0;
  // The manifest without the listing a format-4 snapshot keeps in tree blobs
  // (its info and each store's root; formats 1-3 hold the listing in the
  // manifest, so it is there): for a caller that streams the listing
  // (RestoreStore does) and must not hold it (issue 14 point 2).
  virtual Result<Manifest> LoadManifestHead(const std::string& id) = 0;
  // A full id, a unique prefix, "latest", or an ISO-8601 time (newest at or before it).
  // Ids and prefixes match damaged manifests too (so they can be deleted; loading
  // them is Corruption); "latest" is the newest id, damaged or not; a time only
  // matches readable snapshots.
  virtual Result<std::string> ResolveId(const std::string& spec) = 0;

  // Writes one store of snapshot id to target, which must not exist (a file path for
  // a SQLite-file store, a directory path for a directory store). Every chunk and
  // whole-file hash is checked before anything is reported done; on any failure
  // what was written is removed and target does not exist. A store recorded as
  // absent returns NotFound("store X was absent in snapshot Y") and writes nothing.
  // Every entry gets back its owner, permission bits and mtime by the rules of
  // snapshot/file_meta.h; what could not be given back goes to opts.metadata.
  virtual Status RestoreStore(const std::string& id, const std::string& store, const std::string& target,
                              const RestoreOptions& opts) = 0;
  // RestoreStore for several stores of snapshot id, its blob index and
  // manifest head loaded once (each RestoreStore loads them again: ~0.3 s per
  // store at 300,000 files). The object reads the repository as it was when
  // opened; it must not outlive the repository.
  virtual Result<std::unique_ptr<SnapshotRestore>> OpenRestore(const std::string& id) = 0;

  // Readers run beside writers: when problems are found and the repository's
  // file names changed during the run, it is run again (a few times), so a
  // concurrent prune/delete/create is never reported as damage.
  virtual Result<VerifyReport> Verify(const std::vector<std::string>& ids, bool read_data) = 0;

  // Removes manifests (the snapshot disappears from List at once), then nothing else.
  virtual Status DeleteSnapshots(const std::vector<std::string>& ids) = 0;
  // Removes data no listed snapshot references: packs nothing needs go, and
  // partly-used packs are rewritten into new packs, most unused first, until
  // at most max_unused of the bytes that stay are unused (restic's
  // --max-unused; 0 = rewrite every partly-used pack). A kill at any moment
  // never loses data a listed snapshot needs. While a manifest or an index
  // file is damaged nothing is removed (GcStats::skipped).
  virtual Result<GcStats> RemoveUnreferencedData(bool dry_run, double max_unused = kDefaultMaxUnused) = 0;
  // Writers only. Moves damaged manifests and index files to <repo>/damaged/
  // (snapshots/<id>, index/<name>: kept, never deleted), then indexes again
  // from their blob headers the packs no readable index names. dry_run: report only.
  virtual Result<RepairReport> Repair(bool dry_run) = 0;
};

}  // namespace maestro
