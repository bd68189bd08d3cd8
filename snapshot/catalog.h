// snapshot/catalog.h — the snapshots a repository holds: its manifests
// (snapshots/<id>), listed, loaded, resolved from what a user types,
// published and deleted.
//
// A manifest is published last by Create (the commit point: a snapshot exists
// once its manifest does) and removed first by delete (the snapshot is gone at
// once; its data goes at the next GC). Readers need no lock: a manifest that
// vanishes while listed is left out, not reported as damage.
#pragma once

#include <string>
#include <vector>

#include "snapshot/blob_index.h"
#include "snapshot/repo_files.h"
#include "snapshot/repository.h"

namespace maestro {

// NotFound when there is no such snapshot; Corruption when its manifest does
// not decode or names another id (or, format 4, a tree blob of its listing
// is missing or damaged); Unfinished for an incomplete upload (format 4).
// A format-4 manifest's listing is read from its tree blobs through idx
// (null: the index is loaded here), so the result is the whole Manifest with
// each store's root and tree_blobs.
Result<Manifest> LoadManifest(const RepoFiles& files, const std::string& id, const BlobIndex* idx = nullptr);
// The manifest alone: for format 4 the info and the stores' roots, no files.
Result<Manifest> LoadManifestHead(const RepoFiles& files, const std::string& id);
// Readable snapshots (oldest first), damaged manifests, foreign files.
Result<RepoScan> ScanSnapshots(const RepoFiles& files);
// A full id, a unique prefix, "latest", or an ISO-8601 time (Repository::ResolveId).
Result<std::string> ResolveSnapshotId(const RepoFiles& files, const std::string& spec);
// The id for a snapshot taken at now: its UTC second, "_2", "_3"... when taken.
Result<std::string> NewSnapshotId(const RepoFiles& files, int64_t now);
// Publishes m's manifest durably (format 3's whole listing, or format 4's
// small manifest: m's stores must have their roots, see tree.h). On failure no manifest of that id is left
// (the id is new), so a snapshot reported as failed is never listed.
Status PublishManifest(const RepoFiles& files, const Manifest& m);
// Checks every id exists, then removes the manifests one by one (durably).
Status DeleteManifests(const RepoFiles& files, const std::vector<std::string>& ids);

}  // namespace maestro
