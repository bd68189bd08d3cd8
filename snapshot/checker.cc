// snapshot/checker.cc — `snap verify` (the contract is snapshot/checker.h).
//
// Bounded memory (issue 14 point 2): nothing is kept per file, and per blob
// only what BlobIndex and BlobIdSet bound. One run:
//   1. every snapshot's listing is streamed (ListingReader, one tree blob at a
//      time) and the blob ids it references (chunks, tree blobs, roots) go
//      into a BlobIdSet;
//   2. the referenced blobs are checked pack by pack: in passes over the
//      sorted set, each taking the packs of one hash bucket, so at most
//      kEntriesPerPass index entries are held (and one pack's bytes with
//      --read-data); a blob that fails goes into a small map of damaged blobs
//      (its problem's text, capped at kMaxDamagedBlobs);
//   3. only when blobs are damaged, the listings are streamed again and each
//      file (or listing) using one is named: one problem per file and blob, as
//      before, the first kMaxNamedProblems of them, then a count of the rest.
#include "snapshot/checker.h"

#include <algorithm>
#include <unordered_map>

#include "snapshot/blob_id_set.h"
#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"
#include "snapshot/listing_reader.h"

namespace maestro {

namespace {

constexpr size_t kEntriesPerPass = 64 * 1024;   // ~4.5 MiB of IndexEntry
constexpr size_t kMaxDamagedBlobs = 256 * 1024;  // ~10 MiB with the map's nodes
constexpr size_t kMaxNamedProblems = 10000;

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
    // Spills past its budget into the local scratch (readers' files: one name per set).
    BlobIdSet refs(files_.env(), files_.TmpDir());
    for (const auto& id : ids) MAESTRO_RETURN_IF_ERROR(CollectRefs(id, &refs));
    MAESTRO_RETURN_IF_ERROR(refs.Seal());
    MAESTRO_RETURN_IF_ERROR(CheckPacks(refs));
    if (!damaged_.empty()) NameAffected(ids);
    return std::move(rep_);
  }

 private:
  struct Damage {
    uint32_t detail;     // into details_
    bool named = false;  // a file or listing was named for it
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

  static std::string ListingWhat(const std::string& id, const ManifestStore& st) {
    return "snapshot " + id + ", listing of store " + st.name;
  }

  // Pass 1: the blobs one snapshot references. An unreadable manifest or
  // listing is a problem of that snapshot (an incomplete upload, format 4,
  // too: a write that did not finish, named until the next prune removes it).
  Status CollectRefs(const std::string& id, BlobIdSet* refs) {
    rep_.snapshots_checked++;
    Result<Manifest> m = LoadManifestHead(files_, id);
    if (!m.ok()) {
      rep_.problems.push_back({id, "", files_.ObjectPath(ObjectKind::kManifest, id), m.status().message()});
      return Status::OK();
    }
    for (const auto& st : m->stores) {
      if (st.has_root) MAESTRO_RETURN_IF_ERROR(refs->Add(st.root));
      ListingReader r(files_, &idx_, st, ListingWhat(id, st));
      ManifestFile f;
      while (r.Next(&f))
        for (const auto& c : f.chunks) MAESTRO_RETURN_IF_ERROR(refs->Add(c));
      for (const auto& t : r.tree_blobs()) MAESTRO_RETURN_IF_ERROR(refs->Add(t));
      if (!r.status().ok()) {
        rep_.problems.push_back({id, "", files_.ObjectPath(ObjectKind::kManifest, id), r.status().message()});
      }
    }
    return Status::OK();
  }

  void ReportBlob(const Hash128& blob, const std::string& detail) {
    if (damaged_.count(blob)) return;
    if (damaged_.size() >= kMaxDamagedBlobs) {
      damaged_past_cap_++;
      return;
    }
    if (details_.empty() || details_.back() != detail) details_.push_back(detail);
    damaged_[blob] = Damage{static_cast<uint32_t>(details_.size() - 1)};
  }

  static size_t BucketOf(const Hash128& pack, size_t buckets) { return HashKey()(pack) % buckets; }

  // Pass 2: the referenced blobs, pack by pack, one bucket of packs a pass.
  Status CheckPacks(const BlobIdSet& refs) {
    const size_t buckets = std::max<size_t>(1, (refs.size() + kEntriesPerPass - 1) / kEntriesPerPass);
    BlobReader decoder(files_, &idx_);
    std::vector<IndexEntry> batch;
    for (size_t b = 0; b < buckets; ++b) {
      batch.clear();
      MAESTRO_RETURN_IF_ERROR(refs.ForEach([&](const Hash128& blob) {
        IndexEntry e;
        if (!idx_.Find(blob, &e)) {
          if (b == 0)
            ReportBlob(blob, idx_.status().ok() ? "blob " + blob.Hex() + " is missing from the repository index"
                                                : idx_.status().ToString());
        } else if (BucketOf(e.pack, buckets) == b) {
          batch.push_back(e);
        }
        return Status::OK();
      }));
      std::sort(batch.begin(), batch.end(), [](const IndexEntry& x, const IndexEntry& y) {
        return x.pack != y.pack ? x.pack < y.pack : x.offset < y.offset;
      });
      for (size_t i = 0, j = 0; i < batch.size(); i = j) {
        while (j < batch.size() && batch[j].pack == batch[i].pack) ++j;
        CheckPack(batch.data() + i, batch.data() + j, &decoder);
      }
    }
    return Status::OK();
  }

  // The entries [first, last) of one pack.
  void CheckPack(const IndexEntry* first, const IndexEntry* last, BlobReader* decoder) {
    const Hash128 pack = first->pack;
    const std::string path = files_.PackPath(pack);
    ObjectInfo info;
    if (!files_.backend()->Stat(ObjectKind::kPack, PackName(pack), &info).ok()) {
      for (const IndexEntry* e = first; e != last; ++e) ReportBlob(e->blob, "pack " + path + " is missing");
      return;
    }
    if (!read_data_) {
      for (const IndexEntry* e = first; e != last; ++e) {
        rep_.blobs_checked++;
        if (e->offset > info.size || e->stored_len > info.size - e->offset)
          ReportBlob(e->blob, "pack " + path + " is too short for blob " + e->blob.Hex() + " (truncated?)");
      }
      return;
    }
    Status s = files_.backend()->Get(ObjectKind::kPack, PackName(pack), &pack_bytes_);
    if (!s.ok()) {
      for (const IndexEntry* e = first; e != last; ++e) ReportBlob(e->blob, "pack " + path + " cannot be read: " + s.message());
      return;
    }
    rep_.bytes_read += pack_bytes_.size();
    if (Xxh128(pack_bytes_) != pack)
      rep_.problems.push_back({"", "", path, "pack content does not match its name (XXH3-128): the file is damaged"});
    if (first->pack_version == kRepoFormatVersion) {
      if (pack_bytes_.size() < kPackHeaderSize || pack_bytes_.compare(0, kPackHeaderSize, EncodePackHeader()) != 0)
        rep_.problems.push_back({"", "", path, "pack header is damaged"});
    } else {
      Result<std::vector<IndexEntry>> hdr = DecodePack(pack_bytes_, pack, "pack " + path, files_.sealer());
      if (!hdr.ok()) rep_.problems.push_back({"", "", path, "pack header is damaged: " + hdr.status().message()});
    }
    for (const IndexEntry* e = first; e != last; ++e) CheckBlob(*e, path, decoder);
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

  // One problem naming what uses a damaged blob (capped).
  void Name(const Hash128& blob, const std::string& snap, const std::string& store, const std::string& path) {
    auto it = damaged_.find(blob);
    if (it == damaged_.end()) return;
    it->second.named = true;
    if (named_ >= kMaxNamedProblems) {
      unnamed_++;
      return;
    }
    named_++;
    rep_.problems.push_back({snap, store, path, details_[it->second.detail]});
  }

  // Pass 3: the listings again, naming every file and listing a damaged blob affects.
  void NameAffected(const std::vector<std::string>& ids) {
    std::vector<Hash128> named_here;  // the damaged blobs of one file, each named once
    for (const auto& id : ids) {
      Result<Manifest> m = LoadManifestHead(files_, id);
      if (!m.ok()) continue;  // reported in pass 1
      for (const auto& st : m->stores) {
        if (st.has_root) Name(st.root, id, st.name, "(listing root)");
        ListingReader r(files_, &idx_, st, ListingWhat(id, st));
        ManifestFile f;
        while (r.Next(&f)) {
          named_here.clear();
          for (const auto& c : f.chunks) {
            if (!damaged_.count(c) || std::find(named_here.begin(), named_here.end(), c) != named_here.end()) continue;
            named_here.push_back(c);
            Name(c, id, st.name, f.path);
          }
        }
        for (const auto& t : r.tree_blobs()) Name(t, id, st.name, "(listing)");
      }
    }
    for (const auto& [blob, d] : damaged_)  // a listing that could no longer be read: the blob alone
      if (!d.named) rep_.problems.push_back({"", "", "", details_[d.detail]});
    if (unnamed_ > 0)
      rep_.problems.push_back({"", "", "", std::to_string(unnamed_) + " more files or listings use the damaged blobs above (only the first " +
                                               std::to_string(kMaxNamedProblems) + " are named)"});
    if (damaged_past_cap_ > 0)
      rep_.problems.push_back({"", "", "", std::to_string(damaged_past_cap_) + " more damaged or missing blobs past the first " +
                                               std::to_string(kMaxDamagedBlobs) + " (not tied to files here)"});
  }

  const RepoFiles& files_;
  const bool read_data_;
  VerifyReport rep_;
  BlobIndex idx_;
  std::unordered_map<Hash128, Damage, HashKey> damaged_;
  std::vector<std::string> details_;
  uint64_t damaged_past_cap_ = 0, named_ = 0, unnamed_ = 0;
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
