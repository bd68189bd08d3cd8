// snapshot/backend.h — where a repository's objects are kept: the one seam
// between the repository's logic (packs, index, manifests) and the storage
// (a folder on this machine today: LocalBackend; a remote through rclone later).
//
// Words:
//   object   one named, immutable file of the repository: the config, a pack,
//            an index file, a manifest, a key file, a lock file
//   kind     which folder an object lives in (ObjectKind); names within a kind
//            are flat (no '/'), e.g. "<32 hex>.pack", "20261201_020000"
//
// Contract (what every backend must give, and what the repository may assume):
//   - Put publishes an object whole or not at all: after a crash, a kill or a
//     lost connection the name either does not exist or holds every byte that
//     was put. A reader never sees a partial object under its final name.
//   - Objects are written once: packs, index files and keys are named by their
//     content, manifests by a unique snapshot id, so a second Put of a name
//     carries the same bytes (a retry after a lost reply). A backend may then
//     overwrite or keep what is there. Only kLock objects are replaced; an
//     append-only target may refuse that, and the caller must cope.
//   - After Put returns OK the object is durable (local: fsynced file and
//     directory; remote: the server acknowledged it).
//   - List returns complete objects only (no temporary names), in no order.
//   - Remove of a missing object is OK. A backend that refuses deletes (an
//     append-only target) returns IoError marked IsRefused() (util/status.h),
//     naming the refused operation ("the server refused to delete packs/…:
//     append-only target?"), and leaves the object as it was. Any other failed
//     Remove is not marked: callers tell the two apart by the mark, never by
//     the message.
//   - Errors name the backend location and the object.
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/env.h"
#include "util/status.h"

namespace maestro {

enum class ObjectKind { kConfig, kKey, kPack, kIndex, kManifest, kLock };

// The folder name of a kind in a repository ("config" is a single file at the
// top: its name is ignored). Used by every backend so local and remote
// repositories have the same layout and can be copied with plain tools.
const char* ObjectKindFolder(ObjectKind kind);

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
};

// A large object (a pack) written in pieces: nothing is visible under the
// final name until Commit returns OK. Destroying an uncommitted writer
// abandons it (what was sent is removed, or left as a temporary name that the
// next writer cleans).
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Append(std::string_view data) = 0;
  virtual Status Commit() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // For messages: a local path, or "rclone:remote:path".
  virtual std::string Location() const = 0;

  virtual Status Put(ObjectKind kind, const std::string& name, std::string_view data) = 0;
  virtual Status NewWriter(ObjectKind kind, const std::string& name, std::unique_ptr<ObjectWriter>* out) = 0;
  // Publishes a finished local file (written and fsynced through env, e.g. a
  // pack built in the repository's tmp/ before its content hash, and so its
  // name, is known) as an object, with Put's guarantees. On OK the object is
  // durable and local_path is gone; on failure local_path may remain (the
  // caller's scratch). This default streams the file through NewWriter and
  // removes it; the local backend renames it into place instead.
  virtual Status PutFile(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path);
  // Publishes a copy of a finished local file (read through env) as an
  // object, with Put's guarantees; unlike PutFile, local_path stays as it was.
  // For a file the writer does not own: `snap copy` sends a source pack whole
  // (snapshot/copier.cc). This default streams it through NewWriter; the rclone
  // backend has rclone read the file itself where it can. Thread-safe.
  virtual Status PutCopyOf(ObjectKind kind, const std::string& name, Env* env, const std::string& local_path);
  // Where an object is a file on this machine (the local backend): true, with
  // the Env and path to read it through; false where it is not (a remote).
  virtual bool LocalFile(ObjectKind kind, const std::string& name, Env** env, std::string* path) const {
    (void)kind, (void)name, (void)env, (void)path;
    return false;
  }
  // How many PutFile calls a writer should keep running at once: 1 (the
  // default) where publishing is a local rename of the file; more where it is
  // an upload whose round trips can overlap (the rclone backend). In the second
  // case the local file is only read, so the pack writer does not fsync it
  // first: the upload makes the object durable, and a crash before it leaves a
  // scratch file the next writer clears. PutFile is thread-safe on every
  // backend; this is a hint for the pack writer (snapshot/pack_writer.h).
  virtual int ParallelPuts() const { return 1; }

  // NotFound if the object does not exist.
  virtual Status Get(ObjectKind kind, const std::string& name, std::string* out) = 0;
  // Reads n bytes at offset; fewer only at the end of the object.
  virtual Status ReadAt(ObjectKind kind, const std::string& name, uint64_t offset, size_t n,
                        std::string* out) = 0;
  virtual Status Stat(ObjectKind kind, const std::string& name, ObjectInfo* info) = 0;  // NotFound
  virtual Status List(ObjectKind kind, std::vector<ObjectInfo>* out) = 0;
  virtual Status Remove(ObjectKind kind, const std::string& name) = 0;
  // Remove of several objects of one kind, in order, with Remove's contract
  // for each: stops at the first failure and returns it (what was removed
  // before stays removed, and is durable). On OK every named object is gone
  // durably. This default calls Remove per name; the local backend unlinks
  // them all, then fsyncs the folder once (prune of many packs pays one
  // directory fsync, not one per pack).
  virtual Status RemoveMany(ObjectKind kind, const std::vector<std::string>& names);
};

// The repository folder on this machine, through env (so FaultEnv can fail or
// power-cut every call). Objects are written with WriteFileDurably-style
// temp+fsync+rename+dir-fsync, files 0600, folders 0700.
std::unique_ptr<Backend> NewLocalBackend(Env* env, const std::string& dir);

}  // namespace maestro
