#include "snapshot/checker.h"

#include <map>
#include <unordered_map>

#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"

namespace maestro {

namespace {

// One run of the check over a fixed set of snapshots.
class Checker {
 public:
  Checker(const RepoFiles& files, bool read_data) : files_(files), read_data_(read_data) {}

  Result<VerifyReport> Run(const std::vector<std::string>& ids_in) {
    std::vector<std::string> ids;
    MAESTRO_RETURN_IF_ERROR(ChooseSnapshots(ids_in, &ids));
    BadIndexFiles bad_index;
    MAESTRO_RETURN_IF_ERROR(LoadIndex(files_, &idx_, /*strict=*/false, &bad_index, nullptr));
    for (const auto& [path, st] : bad_index) rep_.problems.push_back({"", "", path, st.message()});
    for (const auto& id : ids) CollectUses(id);
    CheckPacks();
    return std::move(rep_);
  }

 private:
  // Which snapshot files use a blob (to name what a damaged blob affects).
  struct Use {
    std::string snap, store, path;
  };

  // Every snapshot (foreign files become warnings), or the ones asked for.
  Status ChooseSnapshots(const std::vector<std::string>& ids_in, std::vector<std::string>* ids) {
    if (!ids_in.empty()) {
      for (const auto& spec : ids_in) {
        MAESTRO_ASSIGN_OR_RETURN(std::string id, ResolveSnapshotId(files_, spec));
        ids->push_back(id);
      }
      return Status::OK();
    }
    MAESTRO_ASSIGN_OR_RETURN(*ids, files_.ListSnapshotIds(&rep_.warnings));
    MAESTRO_RETURN_IF_ERROR(files_.ListForeignData(&rep_.warnings));
    for (auto& w : rep_.warnings) w += ": not a file this repository writes; ignored";
    return Status::OK();
  }

  void CollectUses(const std::string& id) {
    // An incomplete upload (format 4) is not a snapshot (snap list only warns),
    // but it is a write that did not finish: a problem, named, until the next
    // prune removes it.
    Result<Manifest> m = LoadManifest(files_, id, &idx_);
    rep_.snapshots_checked++;
    if (!m.ok()) {
      rep_.problems.push_back({id, "", files_.ObjectPath(ObjectKind::kManifest, id), m.status().message()});
      return;
    }
    for (const auto& st : m->stores) {
      // Format 4: the listing's own blobs (already read whole by LoadManifest;
      // --read-data checks their packs like any other).
      if (st.has_root) uses_[st.root].push_back({id, st.name, "(listing root)"});
      for (const auto& t : st.tree_blobs) uses_[t].push_back({id, st.name, "(listing)"});
      for (const auto& f : st.files)
        for (const auto& c : f.chunks) {
          auto& v = uses_[c];
          if (v.empty() || v.back().snap != id || v.back().path != f.path || v.back().store != st.name)
            v.push_back({id, st.name, f.path});
        }
    }
  }

  void ReportBlob(const Hash128& blob, const std::string& detail) {
    for (const auto& u : uses_[blob]) rep_.problems.push_back({u.snap, u.store, u.path, detail});
  }

  void CheckPacks() {
    std::map<Hash128, std::vector<IndexEntry>> by_pack;
    for (const auto& [blob, users] : uses_) {
      IndexEntry e;
      if (!idx_.Find(blob, &e)) {
        ReportBlob(blob, idx_.status().ok() ? "blob " + blob.Hex() + " is missing from the repository index"
                                            : idx_.status().ToString());
        continue;
      }
      by_pack[e.pack].push_back(e);
    }
    BlobReader decoder(files_, &idx_);
    for (auto& [pack, entries] : by_pack) CheckPack(pack, entries, &decoder);
  }

  void CheckPack(const Hash128& pack, const std::vector<IndexEntry>& entries, BlobReader* decoder) {
    const std::string path = files_.PackPath(pack);
    ObjectInfo info;
    if (!files_.backend()->Stat(ObjectKind::kPack, PackName(pack), &info).ok()) {
      for (const IndexEntry& e : entries) ReportBlob(e.blob, "pack " + path + " is missing");
      return;
    }
    if (!read_data_) {
      for (const IndexEntry& e : entries) {
        rep_.blobs_checked++;
        if (e.offset > info.size || e.stored_len > info.size - e.offset)
          ReportBlob(e.blob, "pack " + path + " is too short for blob " + e.blob.Hex() + " (truncated?)");
      }
      return;
    }
    Status s = files_.backend()->Get(ObjectKind::kPack, PackName(pack), &pack_bytes_);
    if (!s.ok()) {
      for (const IndexEntry& e : entries) ReportBlob(e.blob, "pack " + path + " cannot be read: " + s.message());
      return;
    }
    rep_.bytes_read += pack_bytes_.size();
    if (Xxh128(pack_bytes_) != pack)
      rep_.problems.push_back({"", "", path, "pack content does not match its name (XXH3-128): the file is damaged"});
    if (entries.front().pack_version == kRepoFormatVersion) {
      if (pack_bytes_.size() < kPackHeaderSize || pack_bytes_.compare(0, kPackHeaderSize, EncodePackHeader()) != 0)
        rep_.problems.push_back({"", "", path, "pack header is damaged"});
    } else {
      Result<std::vector<IndexEntry>> hdr = DecodePack(pack_bytes_, pack, "pack " + path, files_.sealer());
      if (!hdr.ok()) rep_.problems.push_back({"", "", path, "pack header is damaged: " + hdr.status().message()});
    }
    for (const IndexEntry& e : entries) CheckBlob(e, path, decoder);
  }

  // One blob of the pack in pack_bytes_.
  void CheckBlob(const IndexEntry& e, const std::string& path, BlobReader* decoder) {
    rep_.blobs_checked++;
    const size_t hdr = e.pack_version == kRepoFormatVersion ? kBlobHeaderSize : 0;
    // Compared without adding: a crafted offset near 2^64 must not wrap the sum.
    if (e.offset < hdr || e.offset > pack_bytes_.size() || e.stored_len > pack_bytes_.size() - e.offset) {
      ReportBlob(e.blob, "pack " + path + " is too short for blob " + e.blob.Hex());
      return;
    }
    if (hdr && !BlobHeaderMatches(pack_bytes_.data() + e.offset - kBlobHeaderSize, e)) {
      ReportBlob(e.blob, "pack " + path + ": header of blob " + e.blob.Hex() + " does not match the index");
      return;
    }
    std::string_view stored(pack_bytes_.data() + e.offset, e.stored_len);
    if (Xxh64(stored) != e.stored_check) {
      ReportBlob(e.blob, "pack " + path + ": blob " + e.blob.Hex() + " is damaged (checksum mismatch)");
      return;
    }
    Status ds = decoder->Decode(e, stored, &raw_, path);
    if (!ds.ok()) ReportBlob(e.blob, ds.message());
  }

  const RepoFiles& files_;
  const bool read_data_;
  VerifyReport rep_;
  BlobIndex idx_;
  std::unordered_map<Hash128, std::vector<Use>, HashKey> uses_;
  std::string pack_bytes_, raw_;
};

}  // namespace

Result<VerifyReport> VerifySnapshots(const RepoFiles& files, const std::vector<std::string>& ids, bool read_data) {
  constexpr int kTries = 6;
  Result<VerifyReport> rep = VerifyReport();
  for (int attempt = 1; attempt <= kTries; ++attempt) {
    MAESTRO_ASSIGN_OR_RETURN(Hash128 before, files.Generation());
    rep = Checker(files, read_data).Run(ids);
    // A manifest deleted since the ids were resolved is NotFound: changed, too.
    if (rep.ok() && rep->ok()) return rep;
    MAESTRO_ASSIGN_OR_RETURN(Hash128 after, files.Generation());
    if (before == after) return rep;  // nothing changed while it ran: what it found is there
    files.env()->SleepMicros(20000 * attempt);
  }
  if (rep.ok())
    rep->warnings.push_back("the repository kept changing while it was verified (" + std::to_string(kTries) +
                            " tries, a writer is running): run `maestro-db snap verify` again when it is quiet");
  return rep;
}

}  // namespace maestro

