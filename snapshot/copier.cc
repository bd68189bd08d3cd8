// snapshot/copier.cc — `snap copy` (the contract is snapshot/copier.h).
//
// Per snapshot, in the order given:
//   1. plan: the snapshot's distinct chunks, and which of them the target's
//      index (after adopting packs an interrupted writer left unindexed:
//      leftovers.h; nothing on the target is deleted) already holds; their
//      stored size is the progress total;
//   2. send: each missing blob is read whole from the source and checked
//      (stored checksum, length, id recomputed from its bytes: BlobReader), then
//      appended to a target pack — verbatim when both ends name blobs alike,
//      else re-hashed under the target's Sealer and compressed again by the
//      archiver's CompressPool. Same names and a format-4 target: a source
//      pack that holds just blobs this snapshot sends goes as it is instead,
//      once proved whole (snapshot/whole_pack.h), in the background like the
//      writer's own packs;
//   3. listing, as 2 goes, entry by entry: ListingWriter (snapshot/publish.h),
//      the archiver's own writer: a format-4 target gets the listing as its
//      own tree blobs (named by its Sealer, only those it lacks), cut and
//      added to the packs as the entries come, so no entry per file is held;
//      a format-3 target a whole format-3 listing (that format holds it all).
//      The source's tree blobs are never copied (the source's encoding);
//   4. check arrival: every pack uploaded is Stat'ed for its full size before
//      an index file names it: index pieces of PackWriter::kIndexPiece
//      entries as 2 goes (so no entry per blob is held either), the last one
//      after every pack is published;
//   5. publish: PublishSnapshot (snapshot/publish.h), the archiver's own last
//      step: the manifest (the target's format) with the source's id, time,
//      label, trigger, host and warnings.
// A kill anywhere before 5's manifest leaves the target's list as it was;
// the packs already uploaded (indexed or not) are reused by the next writer
// (leftovers.h adopts the unindexed ones), so the next copy does not send
// their blobs again.
#include "snapshot/copier.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "snapshot/blob_id_set.h"
#include "snapshot/blob_index.h"
#include "snapshot/blob_reader.h"
#include "snapshot/catalog.h"
#include "snapshot/compress_pool.h"
#include "snapshot/leftovers.h"
#include "snapshot/listing_reader.h"
#include "snapshot/pack_writer.h"
#include "snapshot/publish.h"
#include "snapshot/rclone_backend.h"
#include "snapshot/repo_access.h"
#include "snapshot/repo_files.h"
#include "snapshot/sealer.h"
#include "snapshot/whole_pack.h"

namespace maestro {

namespace {

// Both ends give a chunk the same id: a blob the target holds is skipped
// unread, one it lacks is copied as stored. (Two encrypted repositories name
// blobs alike only when they share the id key; until that can be asked of a
// Sealer, encrypted ends are re-hashed: slower, never wrong.)
bool SameBlobNames(const Sealer& a, const Sealer& b) { return !a.encrypted() && !b.encrypted(); }

// The target's side: which blobs it holds (its index after leftovers were
// put right, plus what this run sent: a BlobIndex used as a set, its pack
// fields unset, spilling to the target's cache/ past its memory budget as
// the index does).
struct TargetState {
  const RepoFiles* files = nullptr;
  std::shared_ptr<const Sealer> sealer;
  BlobIndex index;
  BlobIndex sent;
  std::map<std::string, SnapshotInfo> listed;  // by id
  std::set<std::string> damaged;               // ids of damaged manifests
  bool Has(const Hash128& b) const { return index.Contains(b) || sent.Contains(b); }
  void AddSent(const Hash128& b) {
    IndexEntry e;
    e.blob = b;
    sent.Insert(e);
  }
};

// One store's listing for the target, as its entries come (issue 14 point
// 2): a present store's goes to a ListingWriter (format 4: tree blobs cut
// and added to sink as they come, never an entry per file in memory), and
// is counted into totals; an absent store's (empty) stays in st->files.
class TargetListing {
 public:
  TargetListing(const RepoFiles& files, PackWriter* sink, const BlobHeld& held, PendingBlobs* added, ManifestStore* st,
                ListingTotals* totals)
      : st_(st), totals_(totals) {
    if (st->present) writer_ = std::make_unique<ListingWriter>(files, sink, held, added, st);
  }
  Status Add(ManifestFile&& f) {
    if (!writer_) {
      st_->files.push_back(std::move(f));
      return Status::OK();
    }
    if (f.type == ManifestFile::Type::kFile) totals_->files++, totals_->logical_bytes += f.size;
    return writer_->Add(std::move(f));
  }
  // Format 4: the last tree blobs and the store's root.
  Status Finish() { return writer_ ? writer_->Finish() : Status::OK(); }

 private:
  ManifestStore* st_;
  ListingTotals* totals_;
  std::unique_ptr<ListingWriter> writer_;
};

// Source id -> target id of the chunks re-hashed so far (a copy between
// repositories that name blobs differently), bounded as an index is: a
// BlobIndex keyed by the source id, whose entry's pack field holds the target
// id (no other field is set), spilling to the target's cache/ past its
// memory budget. A lookup that could not read its scratch answers "not
// known": the chunk is read and hashed again (slower, never wrong).
class ChunkRemap {
 public:
  explicit ChunkRemap(const RepoFiles& scratch) : map_(scratch.env(), scratch.CacheDir(), scratch.memory_budget()) {}
  bool Find(const Hash128& from, Hash128* to) const {
    IndexEntry e;
    if (!map_.Find(from, &e)) return false;
    *to = e.pack;
    return true;
  }
  void Insert(const Hash128& from, const Hash128& to) {
    IndexEntry e;
    e.blob = from;
    e.pack = to;
    map_.Insert(e);
  }

 private:
  BlobIndex map_;
};

// The local scratch (tmp/) an interrupted writer left; nothing of the
// repository's objects.
Status ClearScratch(const RepoFiles& files) {
  std::vector<DirEntry> entries;
  MAESTRO_RETURN_IF_ERROR(files.env()->ListDir(files.TmpDir(), &entries));
  for (const auto& e : entries) MAESTRO_RETURN_IF_ERROR(files.env()->RemoveTree(JoinPath(files.TmpDir(), e.name)));
  return Status::OK();
}

// The archiver's first step, without its deletes: packs an interrupted writer
// (a killed copy or create) uploaded without an index are indexed again (one
// new index file), so their blobs count as held. Unused packs are left for
// the next create or prune: a copy never deletes anything on its target.
Status PrepareTarget(TargetState* t) {
  const RepoFiles& files = *t->files;
  MAESTRO_RETURN_IF_ERROR(files.EnsureScratch());
  MAESTRO_RETURN_IF_ERROR(ClearScratch(files));
  BadIndexFiles bad;
  MAESTRO_RETURN_IF_ERROR(LoadIndex(files, &t->index, /*strict=*/true, &bad, nullptr));
  std::vector<IndexEntry> adopted;
  std::set<std::string> damaged_packs;
  MAESTRO_RETURN_IF_ERROR(AdoptUnindexedPacks(
      files, PacksOf(t->index), [&](const Hash128& b) { return t->index.Contains(b); }, &adopted, &damaged_packs));
  for (const auto& e : adopted) t->index.Insert(e);
  MAESTRO_ASSIGN_OR_RETURN(RepoScan scan, ScanSnapshots(files));
  for (const auto& s : scan.snapshots) t->listed[s.id] = s;
  for (const auto& d : scan.damaged) t->damaged.insert(d.id);
  t->sent.SetScratch(files.env(), files.CacheDir(), files.memory_budget());
  return Status::OK();
}

class SnapshotCopier {
 public:
  SnapshotCopier(const RepoFiles& from, const BlobIndex& from_index, const Sealer& from_sealer, TargetState* to,
                 const CopyOptions& opts, CopyProgress* prog, CopyResult* result)
      : from_(from), from_index_(from_index), to_(to), opts_(opts), prog_(prog), result_(result),
        verbatim_(!opts.rehash && SameBlobNames(from_sealer, *to->sealer)), whole_packs_(verbatim_ && to->files->v4()),
        remap_(*to->files) {}

  // head: the source's manifest head (format 4: the stores' roots; before:
  // the whole listing). The listing is streamed from the source twice.
  Status Run(Manifest head) {
    const std::string id = head.info.id;
    Manifest m;
    m.info = head.info;
    PackWriter sink(*to_->files, "copy.after_pack");
    Status sent = Plan(head);
    if (sent.ok()) sent = Send(&head, &m, &sink);
    if (sent.ok()) sent = sink.Finish();
    if (sent.ok()) sent = PublishCheckedIndex(&sink);  // the last piece
    if (!sent.ok())
      return sent.Annotate("snap copy of snapshot " + id + " from " + from_.backend()->Location() +
                           ": nothing of it is listed on " + to_->files->backend()->Location() +
                           " (what was uploaded is reused by the next copy)");
    for (const auto& st : m.stores) {  // the tree blobs too: held for the next snapshot
      if (st.has_root) to_->AddSent(st.root);
      for (const auto& t : st.tree_blobs) to_->AddSent(t);
    }
    uint64_t pack_bytes = sink.stored_bytes();
    MAESTRO_RETURN_IF_ERROR(PublishSnapshot(*to_->files, &sink, &m, &totals_).Annotate("snap copy of snapshot " + id));
    result_->bytes_sent += pack_bytes;
    result_->copied.push_back(id);
    return Status::OK();
  }

 private:
  static std::string ListingWhat(const std::string& id, const ManifestStore& st) {
    return "snapshot " + id + ", listing of store " + st.name;
  }

  // Step 1: totals for the progress line (the blobs to send, their stored
  // size), from the snapshot's distinct chunks (a BlobIdSet: bounded). Same
  // names on both ends: a chunk the target holds is counted as skipped here.
  Status Plan(const Manifest& head) {
    prog_->files_done = 0;
    prog_->files_total = 0;
    prog_->bytes_done = 0;
    prog_->bytes_total = 0;
    BlobIdSet chunks(from_.env(), to_->files->TmpDir(), to_->files->memory_budget());
    for (const auto& st : head.stores) {
      ListingReader r(from_, &from_index_, st, ListingWhat(head.info.id, st));
      ManifestFile f;
      while (r.Next(&f)) {
        if (f.type != ManifestFile::Type::kFile) continue;
        prog_->files_total++;
        for (const auto& c : f.chunks) MAESTRO_RETURN_IF_ERROR(chunks.Add(c));
      }
      MAESTRO_RETURN_IF_ERROR(r.status());
    }
    MAESTRO_RETURN_IF_ERROR(chunks.Seal());
    MAESTRO_RETURN_IF_ERROR(chunks.ForEach([&](const Hash128& c) {
      IndexEntry e;
      const bool known = from_index_.Find(c, &e);
      if (verbatim_ && to_->Has(c)) {
        Skipped(known ? StoredShare(e) : 0);
      } else if (known) {
        prog_->bytes_total += StoredShare(e);
        if (whole_packs_) need_[e.pack]++;
      }
      return Status::OK();
    }));
    Report(true);
    return Status::OK();
  }

  // Steps 2 and 3: every file's chunks, store by store; the entries go to
  // the target's listing as they come (chunk lists rewritten when ids
  // change), its tree blobs into the same packs as the data.
  Status Send(Manifest* head, Manifest* m, PackWriter* sink) {
    BlobReader reader(from_, &from_index_);
    std::unique_ptr<CompressPool> pool;
    if (!verbatim_) pool = std::make_unique<CompressPool>(sink, DefaultThreads(opts_.threads));
    const BlobHeld held = [this](const Hash128& b) { return to_->Has(b); };
    // Tree blobs this snapshot stored (one per ~16 KiB of listing), bounded: past its budget, in cache/.
    PendingBlobs added(to_->files->env(), to_->files->CacheDir(), to_->files->memory_budget() / 16);
    Status st;
    m->stores.reserve(head->stores.size());  // the listings point into it
    for (auto& store : head->stores) {
      m->stores.push_back(ManifestStore{store.name, store.original_path, store.is_directory, store.present, {}, false, {}, {}});
      TargetListing listing(*to_->files, sink, held, &added, &m->stores.back(), &totals_);
      st = SendStore(head->info.id, store, &reader, sink, &pool, &listing);
      if (st.ok()) st = listing.Finish();
      if (st.ok()) st = added.Settle();
      store.files.clear();  // formats 1-3: the source's whole listing, done with
      if (!st.ok()) break;
    }
    if (pool) {
      Status ps = pool->Finish();
      if (st.ok()) st = ps;
    }
    Report(true);
    return st;
  }

  Status SendStore(const std::string& id, const ManifestStore& store, BlobReader* reader, PackWriter* sink, std::unique_ptr<CompressPool>* pool,
                   TargetListing* listing) {
    ListingReader r(from_, &from_index_, store, ListingWhat(id, store));
    ManifestFile f;
    while (r.Next(&f)) {
      if (f.type == ManifestFile::Type::kFile) {
        for (auto& c : f.chunks)
          MAESTRO_RETURN_IF_ERROR(verbatim_ ? CopyVerbatim(c, reader, sink, pool) : CopyRehashed(&c, reader, pool->get()));
        prog_->files_done++;
        Report(false);
      }
      MAESTRO_RETURN_IF_ERROR(listing->Add(std::move(f)));
      if (sink->unindexed() >= PackWriter::kIndexPiece) MAESTRO_RETURN_IF_ERROR(PublishCheckedIndex(sink));
    }
    return r.status();
  }

  // Same names on both ends: a held blob is skipped unread; a missing one is
  // read, checked (its id recomputed from its bytes) and appended with its
  // codec's output as it was (sealed again by the target's PackWriter), as a
  // data blob. A format-3 target takes zstd only: a blob a format-4 source
  // stored raw is compressed for it (the pool, made the first time).
  Status CopyVerbatim(const Hash128& c, BlobReader* reader, PackWriter* sink, std::unique_ptr<CompressPool>* pool) {
    IndexEntry e;
    const bool known = from_index_.Find(c, &e);
    if (to_->Has(c)) return Status::OK();  // counted as skipped by Plan
    MAESTRO_RETURN_IF_ERROR(from_index_.status());
    if (!known)
      return Status::Corruption("blob " + c.Hex() + " is not in the source's index",
                                "run `maestro-db snap verify` on the source; `snap repair` indexes lost packs again");
    auto need = need_.find(e.pack);
    if (need != need_.end()) {  // the first blob of its pack to send: maybe the pack as it is
      const uint32_t blobs = need->second;
      need_.erase(need);
      MAESTRO_RETURN_IF_ERROR(SendWholePack(e.pack, blobs, reader, sink));
      if (to_->Has(c)) return Status::OK();  // sent with its pack
    }
    MAESTRO_RETURN_IF_ERROR(reader->ReadEntry(e, &plain_, &encoded_));
    if (to_->files->v4() && e.codec == BlobCodec::kGroup) {  // into the target's own groups
      MAESTRO_RETURN_IF_ERROR(sink->AddToGroup(c, plain_));
    } else if (to_->files->v4() || e.codec == BlobCodec::kZstd) {
      MAESTRO_RETURN_IF_ERROR(sink->Add(c, e.raw_len, encoded_, e.codec, BlobType::kData));
    } else {
      if (!*pool) *pool = std::make_unique<CompressPool>(sink, DefaultThreads(opts_.threads));
      if (!(*pool)->Submit(c, std::move(plain_))) return (*pool)->status();
      plain_.clear();
    }
    Sent(c, StoredShare(e));
    return Status::OK();
  }

  // The first time a blob of `pack` is to be sent: the whole pack file goes
  // as it is when it holds just the `blobs` blobs this snapshot needs from it
  // (Plan's count of the chunks whose chosen entry is in it and that the
  // target lacks), each a data blob whose chosen entry is that one; its blobs
  // are then exactly those (snapshot/whole_pack.h proves the file whole
  // first). Else nothing happens and its blobs go one by one.
  Status SendWholePack(const Hash128& pack, uint32_t blobs, BlobReader* reader, PackWriter* sink) {
    auto wanted = [this](const IndexEntry& e) {
      IndexEntry chosen;
      return e.type == BlobType::kData && !to_->Has(e.blob) && from_index_.Find(e.blob, &chosen) &&
             chosen.pack == e.pack && chosen.offset == e.offset;
    };
    bool eligible = false;
    WholePack whole;
    MAESTRO_RETURN_IF_ERROR(CheckWholePack(from_, reader, pack, blobs, wanted, &eligible, &whole));
    MAESTRO_RETURN_IF_ERROR(from_index_.status());
    if (!eligible) return Status::OK();
    for (const IndexEntry& e : whole.entries) Sent(e.blob, StoredShare(e));
    return sink->AddWholePack(pack, whole.size, std::move(whole.entries), whole.env, std::move(whole.path));
  }

  // Different names: the chunk is read and checked under the source's id,
  // named by the target's Sealer, and compressed again for the target.
  Status CopyRehashed(Hash128* c, BlobReader* reader, CompressPool* pool) {
    if (remap_.Find(*c, c)) return Status::OK();
    MAESTRO_RETURN_IF_ERROR(reader->Read(*c, &plain_));
    Hash128 target_id = to_->sealer->BlobId(plain_);
    remap_.Insert(*c, target_id);
    IndexEntry e;
    uint64_t stored_len = from_index_.Find(*c, &e) ? StoredShare(e) : plain_.size();
    *c = target_id;
    if (to_->Has(target_id)) {
      Skipped(stored_len);
      return Status::OK();
    }
    if (!pool->Submit(target_id, std::move(plain_))) return pool->status();
    plain_.clear();
    Sent(target_id, stored_len);
    return Status::OK();
  }

  // Step 4: the packs published since the last piece, each Stat'ed on the
  // target, then their index piece (bounded: PackWriter::kIndexPiece).
  Status PublishCheckedIndex(PackWriter* sink) {
    return sink->PublishIndex([this](const std::map<Hash128, uint64_t>& sizes) { return CheckArrival(sizes); });
  }

  // Every pack of a piece is on the target whole: its full length as sent
  // (blobs, and a version-4 pack's header and trailer after them).
  Status CheckArrival(const std::map<Hash128, uint64_t>& sizes) {
    for (const auto& [pack, size] : sizes) {
      ObjectInfo info;
      MAESTRO_RETURN_IF_ERROR(to_->files->backend()->Stat(ObjectKind::kPack, PackName(pack), &info)
                                  .Annotate("checking the copy's pack on the target"));
      if (info.size < size)
        return Status::IoError(to_->files->PackPath(pack) + " holds " + std::to_string(info.size) +
                                   " bytes after its upload, fewer than the " + std::to_string(size) + " sent",
                               "run the copy again");
    }
    return Status::OK();
  }

  void Sent(const Hash128& id, uint64_t stored_len) {
    to_->AddSent(id);
    result_->blobs_sent++;
    prog_->bytes_done += stored_len;
    prog_->bytes_sent += stored_len;
  }
  void Skipped(uint64_t stored_len) {
    result_->blobs_skipped++;
    result_->bytes_skipped += stored_len;
    prog_->bytes_skipped += stored_len;
  }

  void Report(bool force) {
    if (!opts_.progress) return;
    int64_t now = from_.env()->NowMicros();
    if (!force && now - last_report_ < 100000) return;
    last_report_ = now;
    opts_.progress(*prog_);
  }

  const RepoFiles& from_;
  const BlobIndex& from_index_;
  TargetState* to_;
  const CopyOptions& opts_;
  CopyProgress* prog_;
  CopyResult* result_;
  const bool verbatim_;
  // Source packs may be sent whole (snapshot/whole_pack.h): same names, and
  // a format-4 target (a format-3 one takes version-1 packs only).
  const bool whole_packs_;
  // Source packs not looked at yet for sending whole, with how many of
  // their blobs this snapshot sends (Plan; one entry a pack, not a blob).
  std::unordered_map<Hash128, uint32_t, HashKey> need_;
  ListingTotals totals_;  // the target listing's files and their bytes
  // The chunks of this snapshot re-hashed so far (re-hashed copies only;
  // a copy between repositories of one scheme inserts none).
  ChunkRemap remap_;
  std::string plain_, encoded_;
  int64_t last_report_ = 0;
};

// A snapshot id the target lists already: the same snapshot (skipped), or
// another one that happens to have the id (refused: never overwritten).
Status CheckListedTwin(const SnapshotInfo& src, const SnapshotInfo& dst, const std::string& where) {
  if (src.created_micros == dst.created_micros && src.hostname == dst.hostname) return Status::OK();
  return Status::InvalidArgument(where + " holds another snapshot with the id " + src.id + " (taken on " +
                                     dst.hostname + ", not " + src.hostname + ")",
                                 "nothing on the target is ever overwritten; copy into another repository");
}

// A spec as the folder or remote it names: rclone's local form
// (rclone:/ABSOLUTE/PATH) as that folder, and a remote path without the
// trailing slashes rclone ignores.
std::string Canonical(const std::string& spec) {
  if (!IsRcloneSpec(spec)) return spec;
  std::string rest = spec.substr(7);
  while (rest.size() > 1 && rest.back() == '/' && rest[rest.size() - 2] != ':') rest.pop_back();
  return rest[0] == '/' ? NormalizePath(rest) : "rclone:" + rest;
}

// One repository reached by two names: the same spec, or for two local ones
// the same folder on disk (a linked parent folder: /home -> /data/home).
bool SameRepository(Env* env, const std::string& spec_a, const std::string& spec_b) {
  const std::string a = Canonical(spec_a), b = Canonical(spec_b);
  if (a == b) return true;
  if (IsRcloneSpec(a) || IsRcloneSpec(b)) return false;
  FileInfo x, y;
  return env->Stat(a, &x).ok() && env->Stat(b, &y).ok() && x.exists && y.exists && x.dev == y.dev &&
         x.inode == y.inode;
}

}  // namespace

Status CheckDistinctRepositories(Env* env, const std::string& from, const std::string& to) {
  if (!SameRepository(env, from, to)) return Status::OK();
  return Status::InvalidArgument("snap copy: the source and the target are the same repository (" + to + ")",
                                 "pass another repository with --to or --from");
}

Result<CopyResult> CopySnapshots(Repository* from, Repository* to, const std::vector<std::string>& ids,
                                 const CopyOptions& opts) {
  const RepoFiles* f = RepoFilesOf(from);
  TargetState target;
  target.files = RepoFilesOf(to);
  if (f == nullptr || target.files == nullptr) return Status::Internal("snap copy: a repository of another kind");
  const std::string to_where = target.files->backend()->Location();
  const std::string from_where = f->backend()->Location();
  MAESTRO_RETURN_IF_ERROR(CheckDistinctRepositories(f->env(), IsRcloneSpec(from_where) ? from_where : f->dir(),
                                                    IsRcloneSpec(to_where) ? to_where : target.files->dir()));
  target.sealer = SealerOf(to);
  std::shared_ptr<const Sealer> from_sealer = SealerOf(from);
  BlobIndex from_index;
  BadIndexFiles bad;  // a damaged source index file: its blobs are missing, named per snapshot
  MAESTRO_RETURN_IF_ERROR(LoadIndex(*f, &from_index, /*strict=*/true, &bad, nullptr));
  // Heads only (format 4: the listings are streamed from their tree blobs as
  // each snapshot is copied; a missing one fails that snapshot, unlisted).
  std::vector<Manifest> manifests;
  for (const auto& id : ids) {
    Result<Manifest> m = LoadManifestHead(*f, id);
    if (!m.ok()) return m.status().Annotate("snap copy from " + f->backend()->Location() + "; nothing was copied");
    manifests.push_back(std::move(m).value());
  }
  MAESTRO_RETURN_IF_ERROR(PrepareTarget(&target).Annotate("snap copy to " + to_where));
  CopyResult result;
  CopyProgress prog;
  prog.snapshots_total = manifests.size();
  for (Manifest& m : manifests) {
    prog.current = m.info.id;
    auto listed = target.listed.find(m.info.id);
    if (target.damaged.count(m.info.id))
      return Status::Corruption(to_where + " holds a damaged manifest of snapshot " + m.info.id,
                                "run `maestro-db --repo " + to_where + " snap repair`, then copy again");
    if (listed != target.listed.end()) {
      MAESTRO_RETURN_IF_ERROR(CheckListedTwin(m.info, listed->second, to_where));
      result.skipped.push_back(m.info.id);
    } else {
      SnapshotCopier copier(*f, from_index, *from_sealer, &target, opts, &prog, &result);
      MAESTRO_RETURN_IF_ERROR(copier.Run(std::move(m)));
    }
    prog.snapshots_done++;
  }
  if (opts.progress) opts.progress(prog);
  return result;
}

}  // namespace maestro
