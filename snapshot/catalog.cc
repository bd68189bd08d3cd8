#include "snapshot/catalog.h"

#include <algorithm>

#include "snapshot/blob_reader.h"
#include "snapshot/format.h"
#include "snapshot/tree.h"
#include "util/crash_point.h"
#include "util/time_util.h"

namespace maestro {

MAESTRO_DECLARE_CRASH_POINT(snap_before_manifest, "snap.before_manifest");
MAESTRO_DECLARE_CRASH_POINT(snap_after_manifest, "snap.after_manifest");
MAESTRO_DECLARE_CRASH_POINT(snap_after_delete, "snap.after_delete");

Result<Manifest> LoadManifestHead(const RepoFiles& files, const std::string& id) {
  MAESTRO_RETURN_IF_ERROR(CheckSnapshotIdSyntax(id));
  std::string path = files.ObjectPath(ObjectKind::kManifest, id);
  std::string bytes;
  Status s = files.backend()->Get(ObjectKind::kManifest, id, &bytes);
  if (s.IsNotFound())
    return Status::NotFound("snapshot " + id + " does not exist in " + files.backend()->Location(), "see `maestro-db snap list`");
  MAESTRO_RETURN_IF_ERROR(s);
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, DecodeManifest(bytes, "manifest of snapshot " + id + " (" + path + ")", files.sealer(), id));
  if (m.info.id != id) return Status::Corruption("manifest " + path + " names snapshot " + m.info.id + ", not " + id);
  return m;
}

Status ExpandTrees(const RepoFiles& files, const BlobIndex* idx, Manifest* m) {
  BlobIndex own;
  if (!idx) {
    MAESTRO_RETURN_IF_ERROR(LoadIndex(files, &own, /*strict=*/false, nullptr, nullptr));
    idx = &own;
  }
  BlobReader reader(files, idx);
  std::string plain;
  for (auto& st : m->stores) {
    if (!st.has_root) continue;
    const std::string what = "snapshot " + m->info.id + ", listing of store " + st.name;
    MAESTRO_RETURN_IF_ERROR(reader.Read(st.root, &plain).Annotate(what));
    MAESTRO_ASSIGN_OR_RETURN(st.tree_blobs, DecodeTreeRoot(plain, what));
    st.files.clear();
    for (const auto& t : st.tree_blobs) {
      MAESTRO_RETURN_IF_ERROR(reader.Read(t, &plain).Annotate(what));
      MAESTRO_RETURN_IF_ERROR(DecodeTreeBlob(plain, what + " (tree blob " + t.Hex() + ")", &st.files));
    }
  }
  return Status::OK();
}

Result<Manifest> LoadManifest(const RepoFiles& files, const std::string& id, const BlobIndex* idx) {
  MAESTRO_ASSIGN_OR_RETURN(Manifest m, LoadManifestHead(files, id));
  if (m.format_version >= kManifestFormatV4) MAESTRO_RETURN_IF_ERROR(ExpandTrees(files, idx, &m));
  return m;
}

Result<RepoScan> ScanSnapshots(const RepoFiles& files) {
  RepoScan out;
  MAESTRO_ASSIGN_OR_RETURN(std::vector<std::string> ids, files.ListSnapshotIds(&out.foreign));
  for (const auto& id : ids) {
    Result<Manifest> m = LoadManifestHead(files, id);
    if (m.ok()) {
      out.snapshots.push_back(std::move(m->info));
    } else if (m.status().IsCorruption()) {
      out.damaged.push_back({id, files.ObjectPath(ObjectKind::kManifest, id), m.status().message()});
    } else if (m.status().code() == Status::Code::kUnfinished) {
      out.incomplete.push_back({id, files.ObjectPath(ObjectKind::kManifest, id), m.status().message()});
    } else if (!m.status().IsNotFound()) {  // NotFound: deleted since listed
      return m.status();
    }
  }
  std::stable_sort(out.snapshots.begin(), out.snapshots.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.created_micros != b.created_micros ? a.created_micros < b.created_micros : a.id < b.id;
  });
  MAESTRO_RETURN_IF_ERROR(files.ListForeignData(&out.foreign));
  return out;
}

namespace {

// The readable snapshot taken at or before time t (read to the second, as ids
// are: "at or before 04:06:19" includes one taken at 04:06:19.5, id ..._040619).
Result<std::string> ResolveTime(const std::vector<SnapshotInfo>& all, const std::string& spec) {
  Result<int64_t> t = ParseTime(spec);
  if (!t.ok())
    return Status::NotFound("no snapshot matches '" + spec + "'",
                            "give a full id, a unique prefix, 'latest' or an ISO-8601 time; see `maestro-db snap list`");
  const SnapshotInfo* best = nullptr;
  const int64_t end_of_second = *t + 999999;
  for (const auto& i : all)
    if (i.created_micros <= end_of_second) best = &i;
  if (!best)
    return Status::NotFound("no readable snapshot was taken at or before " + FormatIso8601(*t),
                            all.empty() ? "see `maestro-db snap list`" : "the oldest is " + all.front().id);
  return best->id;
}

Status Ambiguous(const std::string& spec, const std::vector<std::string>& matches) {
  std::string list;
  for (size_t k = 0; k < matches.size() && k < 5; ++k) list += (k ? ", " : "") + matches[k];
  if (matches.size() > 5) list += ", ...";
  return Status::InvalidArgument("snapshot '" + spec + "' is ambiguous: it matches " + std::to_string(matches.size()) +
                                 " snapshots (" + list + ")", "give more characters of the id");
}

}  // namespace

Result<std::string> ResolveSnapshotId(const RepoFiles& files, const std::string& spec) {
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, ScanSnapshots(files));
  const std::vector<SnapshotInfo>& all = scan.snapshots;
  std::vector<std::string> ids;  // readable then damaged
  for (const auto& i : all) ids.push_back(i.id);
  for (const auto& d : scan.damaged) ids.push_back(d.id);
  if (ids.empty())
    return Status::NotFound("the repository " + files.backend()->Location() + " holds no snapshots",
                            "create one with `maestro-db snap create`");
  if (spec == "latest") {
    // A damaged newest is named (loading it fails), never silently replaced by an older one.
    std::string best = all.empty() ? "" : all.back().id;
    for (const auto& d : scan.damaged) best = std::max(best, d.id);
    return best;
  }
  std::vector<std::string> matches;
  for (const auto& id : ids) {
    if (id == spec) return id;
    if (!spec.empty() && id.compare(0, spec.size(), spec) == 0) matches.push_back(id);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.size() > 1) return Ambiguous(spec, matches);
  return ResolveTime(all, spec);
}

Result<std::string> NewSnapshotId(const RepoFiles& files, int64_t now) {
  std::string base = FormatStamp(now);
  std::string id = base;
  for (int n = 2;; ++n) {
    ObjectInfo info;
    Status s = files.backend()->Stat(ObjectKind::kManifest, id, &info);
    if (s.IsNotFound()) return id;
    MAESTRO_RETURN_IF_ERROR(s);
    id = base + "_" + std::to_string(n);
  }
}

Status PublishManifest(const RepoFiles& files, const Manifest& m) {
  std::string bytes;
  if (files.v4()) {
    MAESTRO_ASSIGN_OR_RETURN(bytes, EncodeManifestV4(m, files.sealer()));
  } else {
    bytes = EncodeManifest(m);
  }
  MAESTRO_CRASH_POINT("snap.before_manifest");
  Status published = files.backend()->Put(ObjectKind::kManifest, m.info.id, bytes);
  if (!published.ok()) {
    // The rename may have happened before the directory fsync failed: a
    // snapshot reported as failed must not be listed (the id is new, so this
    // removes nothing else).
    files.backend()->Remove(ObjectKind::kManifest, m.info.id)
        .IgnoreError("best effort; the write error is returned and the id is new");
    return published;
  }
  MAESTRO_CRASH_POINT("snap.after_manifest");
  return Status::OK();
}

Status DeleteManifests(const RepoFiles& files, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    MAESTRO_RETURN_IF_ERROR(CheckSnapshotIdSyntax(id));
    ObjectInfo info;
    Status s = files.backend()->Stat(ObjectKind::kManifest, id, &info);
    if (s.IsNotFound())
      return Status::NotFound("snapshot " + id + " does not exist in " + files.backend()->Location(), "see `maestro-db snap list`");
    MAESTRO_RETURN_IF_ERROR(s);
  }
  // One batch: one fsync of snapshots/ for all of them (a crash may leave any
  // of them listed still; each manifest goes whole or not at all).
  MAESTRO_RETURN_IF_ERROR(files.backend()->RemoveMany(ObjectKind::kManifest, ids));
  MAESTRO_CRASH_POINT("snap.after_delete");
  return Status::OK();
}

}  // namespace maestro
