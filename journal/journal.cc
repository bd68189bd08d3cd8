#include "journal/journal.h"

#include <lmdb.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

#include "util/coding.h"
#include "util/hash.h"
#include "util/json_text.h"
#include "util/time_util.h"

namespace maestro {

namespace {

constexpr size_t kHeaderSize = 1 + 1 + 8 + 8 + 4;
constexpr size_t kInitialMapSize = 1 << 20;
constexpr int64_t kMaxStepIndex = 1 << 20;  // far above any plan's step count  // 1 MiB, doubled on MDB_MAP_FULL

// Keys are big-endian so LMDB's byte order is sequence order.
std::string KeyOf(uint64_t seq) { return EncodeBigEndian64(seq); }
uint64_t SeqOfKey(const MDB_val& k) {
  if (k.mv_size != 8) return 0;
  return DecodeBigEndian64(static_cast<const char*>(k.mv_data));
}

std::mutex& RegistryMu() {
  static std::mutex* m = new std::mutex();
  return *m;
}
std::map<std::string, std::weak_ptr<Journal>>& Registry() {
  static auto* r = new std::map<std::string, std::weak_ptr<Journal>>();
  return *r;
}

MDB_env* E(void* h) { return static_cast<MDB_env*>(h); }

}  // namespace

const char* RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kBegin: return "begin";
    case RecordType::kSnapshot: return "snapshot";
    case RecordType::kIntent: return "intent";
    case RecordType::kDone: return "done";
    case RecordType::kCommit: return "commit";
    case RecordType::kUndone: return "undone";
    case RecordType::kEnd: return "end";
  }
  return "?";
}

Status LmdbError(const std::string& context, int rc) {
  std::string msg = context + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_SUCCESS: return Status::OK();
    case MDB_NOTFOUND: return Status::NotFound(msg);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status::Corruption(msg, "the journal is damaged; move it aside and run `maestro-db snap list` to find the last snapshot");
    case MDB_READERS_FULL:
    case MDB_MAP_FULL:
    case MDB_MAP_RESIZED:
    case MDB_TXN_FULL:
      return Status::Busy(msg);
    case EACCES:
    case EAGAIN:
      return Status::Busy(msg, "another process holds the journal; retry when it has finished").WithErrno(rc);
    default:
      if (rc > 0) return Status::IoError(msg).WithErrno(rc);
      return Status::Internal(msg);
  }
}

std::string JournalDir(const std::string& repo_dir) { return JoinPath(repo_dir, "journal"); }

std::string EncodeRecord(const JournalRecord& r) {
  nlohmann::json p = nlohmann::json::object();
  p["txn"] = r.txn_id;
  if (!r.kind.empty()) p["kind"] = r.kind;
  if (!r.args.is_null()) p["args"] = r.args;
  if (!r.snapshot_id.empty()) p["snapshot"] = r.snapshot_id;
  if (r.step >= 0) p["step"] = r.step;
  if (!r.step_name.empty()) p["step_name"] = r.step_name;
  if (!r.outcome.empty()) p["outcome"] = r.outcome;
  if (!r.detail.empty()) p["detail"] = r.detail;
  // Lossless: a store path or file name that is not UTF-8 is kept byte for byte
  // (util/json_text.h); dump() would throw on it.
  std::string payload = JsonText(EncodeByteStrings(p));
  std::string out;
  out.reserve(kHeaderSize + payload.size() + 8);
  out.push_back(static_cast<char>(r.version));
  out.push_back(static_cast<char>(r.type));
  PutFixed64(&out, r.seq);
  PutFixed64(&out, static_cast<uint64_t>(r.time_micros));
  PutFixed32(&out, static_cast<uint32_t>(payload.size()));
  out += payload;
  PutFixed64(&out, Xxh64(out));
  return out;
}

Result<JournalRecord> DecodeRecord(std::string_view b, uint64_t key_seq) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("journal record " + std::to_string(key_seq) + " is damaged: " + why,
                              "nothing was replayed; see docs/journal-format.md");
  };
  if (b.size() < kHeaderSize + 8) return bad("too short (" + std::to_string(b.size()) + " bytes)");
  uint64_t want = DecodeFixed64(b.data() + b.size() - 8);
  if (Xxh64(b.substr(0, b.size() - 8)) != want) return bad("checksum mismatch");
  JournalRecord r;
  r.version = static_cast<uint8_t>(b[0]);
  if (r.version != kJournalFormatVersion) return bad("unknown format version " + std::to_string(r.version));
  uint8_t t = static_cast<uint8_t>(b[1]);
  if (t < 1 || t > 7) return bad("unknown record type " + std::to_string(t));
  r.type = static_cast<RecordType>(t);
  r.seq = DecodeFixed64(b.data() + 2);
  if (r.seq != key_seq) return bad("sequence number " + std::to_string(r.seq) + " under key " + std::to_string(key_seq));
  r.time_micros = static_cast<int64_t>(DecodeFixed64(b.data() + 10));
  uint32_t n = DecodeFixed32(b.data() + 18);
  if (static_cast<size_t>(n) != b.size() - kHeaderSize - 8) return bad("payload length mismatch");
  nlohmann::json p = nlohmann::json::parse(b.substr(kHeaderSize, n), nullptr, false);
  if (p.is_discarded() || !p.is_object() || !p.contains("txn") || !p["txn"].is_string())
    return bad("payload does not decode");
  DecodeByteStrings(&p);
  try {
    r.txn_id = p["txn"].get<std::string>();
    if (p.contains("kind")) r.kind = p["kind"].get<std::string>();
    if (p.contains("args")) r.args = p["args"];
    if (p.contains("snapshot")) r.snapshot_id = p["snapshot"].get<std::string>();
    if (p.contains("step")) {
      // Bounded: a step index sizes the step-name table when records are folded.
      const auto& s = p["step"];
      if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() >= kMaxStepIndex)
        return bad("step index " + s.dump() + " is not in 0.." + std::to_string(kMaxStepIndex - 1));
      r.step = s.get<int>();
    }
    if (p.contains("step_name")) r.step_name = p["step_name"].get<std::string>();
    if (p.contains("outcome")) r.outcome = p["outcome"].get<std::string>();
    if (p.contains("detail")) r.detail = p["detail"].get<std::string>();
  } catch (const std::exception& e) {
    return bad(std::string("payload field of the wrong type: ") + e.what());
  }
  return r;
}

// ---------------------------------------------------------------- summaries

bool TxnSummary::HasIntent(int s) const { for (int x : intents) if (x == s) return true; return false; }
bool TxnSummary::IsDone(int s) const { for (int x : done) if (x == s) return true; return false; }
bool TxnSummary::IsUndone(int s) const { for (int x : undone) if (x == s) return true; return false; }

std::string TxnSummary::Describe() const {
  std::ostringstream o;
  o << kind << " transaction " << txn_id << " (began " << FormatIso8601(begun_micros) << ")";
  if (snapshot_id.empty()) o << "; no snapshot recorded yet";
  else o << "; pre-image snapshot " << snapshot_id;
  o << "; " << done.size() << " step(s) done";
  if (!intents.empty()) {
    int last = intents.back();
    std::string nm = last >= 0 && last < static_cast<int>(step_names.size()) ? step_names[last] : "?";
    o << ", last started: " << nm << (IsDone(last) ? " (finished)" : " (not finished)");
  }
  if (!undone.empty()) o << "; " << undone.size() << " step(s) rolled back";
  o << (committed ? "; committed" : "; not committed");
  if (ended) o << "; ended: " << outcome;
  return o.str();
}

std::vector<TxnSummary> FoldTransactions(const std::vector<JournalRecord>& records) {
  std::vector<TxnSummary> out;
  std::map<std::string, size_t> idx;
  for (const auto& r : records) {
    auto it = idx.find(r.txn_id);
    if (it == idx.end()) {
      if (r.type != RecordType::kBegin) continue;  // its begin was compacted away
      TxnSummary t;
      t.txn_id = r.txn_id;
      t.first_seq = r.seq;
      out.push_back(std::move(t));
      it = idx.emplace(r.txn_id, out.size() - 1).first;
    }
    TxnSummary& t = out[it->second];
    t.last_seq = r.seq;
    auto name_step = [&]() {
      if (r.step < 0) return;
      if (static_cast<int>(t.step_names.size()) <= r.step) t.step_names.resize(r.step + 1);
      if (!r.step_name.empty()) t.step_names[r.step] = r.step_name;
    };
    switch (r.type) {
      case RecordType::kBegin:
        t.kind = r.kind;
        t.args = r.args;
        t.begun_micros = r.time_micros;
        break;
      case RecordType::kSnapshot: t.snapshot_id = r.snapshot_id; break;
      case RecordType::kIntent: name_step(); t.intents.push_back(r.step); break;
      case RecordType::kDone: name_step(); t.done.push_back(r.step); break;
      case RecordType::kUndone: name_step(); t.undone.push_back(r.step); break;
      case RecordType::kCommit: t.committed = true; break;
      case RecordType::kEnd: t.ended = true; t.outcome = r.outcome; break;
    }
  }
  return out;
}

// ---------------------------------------------------------------- Journal

Journal::Journal(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}

Journal::~Journal() {
  if (env_handle_) mdb_env_close(E(env_handle_));
}

Result<std::shared_ptr<Journal>> Journal::Open(Env* env, const std::string& dir, bool create_if_missing) {
  if (!env->DirExists(dir)) {
    if (!create_if_missing) return Status::NotFound("no journal at " + dir);
    MAESTRO_RETURN_IF_ERROR(env->CreateDirsDurably(dir, 0700));
  }
  char real[PATH_MAX];
  std::string key = ::realpath(dir.c_str(), real) ? std::string(real) : NormalizePath(dir);
  std::lock_guard<std::mutex> l(RegistryMu());
  auto& reg = Registry();
  auto it = reg.find(key);
  if (it != reg.end()) {
    if (auto sp = it->second.lock()) return sp;
  }
  std::shared_ptr<Journal> j(new Journal(env, key));
  MAESTRO_RETURN_IF_ERROR(j->OpenEnv());
  reg[key] = j;
  return j;
}

Status Journal::OpenEnv() {
  MDB_env* e = nullptr;
  int rc = mdb_env_create(&e);
  if (rc) return LmdbError("journal " + dir_ + ": mdb_env_create", rc);
  env_handle_ = e;
  map_size_ = kInitialMapSize;
  rc = mdb_env_set_mapsize(e, map_size_);
  if (rc) return LmdbError("journal " + dir_ + ": mdb_env_set_mapsize", rc);
  rc = mdb_env_set_maxdbs(e, 2);
  if (rc) return LmdbError("journal " + dir_ + ": mdb_env_set_maxdbs", rc);
  // Default flags: durable commits (fsync), one subdirectory holding data.mdb + lock.mdb.
  rc = mdb_env_open(e, dir_.c_str(), MDB_NOTLS, 0600);
  if (rc) return LmdbError("journal " + dir_ + ": open", rc);
  // An existing map may be larger than our initial size; adopt it.
  MDB_envinfo info;
  if (mdb_env_info(e, &info) == 0 && info.me_mapsize > map_size_) map_size_ = info.me_mapsize;
  // A data file shorter than the pages its meta page names (a bad copy, a full
  // disk) would make LMDB fault with SIGBUS on the mapped pages past its end:
  // report it as damage before reading anything.
  MDB_stat est;
  FileInfo fi;
  if (mdb_env_info(e, &info) == 0 && mdb_env_stat(e, &est) == 0 &&
      env_->Stat(JoinPath(dir_, "data.mdb"), &fi).ok() && fi.exists &&
      (static_cast<uint64_t>(info.me_last_pgno) + 1) * est.ms_psize > fi.size)
    return Status::Corruption("journal " + dir_ + ": data.mdb is truncated (" + std::to_string(fi.size) +
                                  " bytes, its pages need " +
                                  std::to_string((static_cast<uint64_t>(info.me_last_pgno) + 1) * est.ms_psize) + ")",
                              "the journal is damaged; move it aside and run `maestro-db snap list` to find the last snapshot");
  int dead = 0;
  rc = mdb_reader_check(e, &dead);  // clear reader slots of killed processes
  if (rc) return LmdbError("journal " + dir_ + ": mdb_reader_check", rc);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(e, nullptr, 0, &txn);
  if (rc) return LmdbError("journal " + dir_ + ": begin", rc);
  MDB_dbi dbi;
  rc = mdb_dbi_open(txn, "records", MDB_CREATE, &dbi);
  if (rc) {
    mdb_txn_abort(txn);
    return LmdbError("journal " + dir_ + ": open records", rc);
  }
  dbi_ = dbi;
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc == 0) {
    MDB_val k, v;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) next_seq_ = SeqOfKey(k) + 1;
    mdb_cursor_close(cur);
  }
  rc = mdb_txn_commit(txn);
  if (rc) return LmdbError("journal " + dir_ + ": commit", rc);
  return Status::OK();
}

Status Journal::WriteWithGrowth(uint64_t seq, std::string_view bytes) {
  std::string key = KeyOf(seq);
  for (int attempt = 0; attempt < 40; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(E(env_handle_), nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {  // another process grew the map
      mdb_env_set_mapsize(E(env_handle_), 0);
      continue;
    }
    if (rc) return LmdbError("journal " + dir_ + ": begin write", rc);
    MDB_val k{key.size(), key.data()};
    MDB_val v{bytes.size(), const_cast<char*>(bytes.data())};
    rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc == 0) rc = mdb_txn_commit(txn);
    else mdb_txn_abort(txn);
    if (rc == 0) return Status::OK();
    if (rc != MDB_MAP_FULL) return LmdbError("journal " + dir_ + ": write record " + std::to_string(seq), rc);
    size_t bigger = map_size_ * 2;
    int rc2 = mdb_env_set_mapsize(E(env_handle_), bigger);
    if (rc2) return LmdbError("journal " + dir_ + ": grow map to " + std::to_string(bigger), rc2);
    map_size_ = bigger;
  }
  return Status::IoError("journal " + dir_ + ": record " + std::to_string(seq) + " does not fit even after growing the map");
}

Status Journal::Append(JournalRecord* r) {
  std::lock_guard<std::mutex> l(mu_);
  // Another process may have appended since we opened (it held the repo lock then).
  {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(E(env_handle_), nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_MAP_RESIZED) {
      mdb_env_set_mapsize(E(env_handle_), 0);
      rc = mdb_txn_begin(E(env_handle_), nullptr, MDB_RDONLY, &txn);
    }
    if (rc) return LmdbError("journal " + dir_ + ": begin read", rc);
    MDB_cursor* cur = nullptr;
    if (mdb_cursor_open(txn, dbi_, &cur) == 0) {
      MDB_val k, v;
      if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) next_seq_ = std::max(next_seq_, SeqOfKey(k) + 1);
      mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
  }
  r->seq = next_seq_;
  r->version = kJournalFormatVersion;
  r->time_micros = env_->NowMicros();
  std::string bytes = EncodeRecord(*r);
  MAESTRO_RETURN_IF_ERROR(WriteWithGrowth(r->seq, bytes));
  ++next_seq_;
  return Status::OK();
}

Status Journal::PutRawForTesting(uint64_t seq, std::string_view bytes) {
  std::lock_guard<std::mutex> l(mu_);
  MAESTRO_RETURN_IF_ERROR(WriteWithGrowth(seq, bytes));
  next_seq_ = std::max(next_seq_, seq + 1);
  return Status::OK();
}

Result<std::vector<JournalRecord>> Journal::ReadRange(size_t limit_tail) {
  std::lock_guard<std::mutex> l(mu_);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(E(env_handle_), nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(E(env_handle_), 0);
    rc = mdb_txn_begin(E(env_handle_), nullptr, MDB_RDONLY, &txn);
  }
  if (rc) return LmdbError("journal " + dir_ + ": begin read", rc);
  MDB_cursor* cur = nullptr;
  rc = mdb_cursor_open(txn, dbi_, &cur);
  if (rc) {
    mdb_txn_abort(txn);
    return LmdbError("journal " + dir_ + ": cursor", rc);
  }
  std::vector<JournalRecord> out;
  Status st;
  MDB_val k, v;
  MDB_cursor_op first = limit_tail ? MDB_LAST : MDB_FIRST;
  MDB_cursor_op next = limit_tail ? MDB_PREV : MDB_NEXT;
  for (rc = mdb_cursor_get(cur, &k, &v, first); rc == 0; rc = mdb_cursor_get(cur, &k, &v, next)) {
    auto rec = DecodeRecord(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), SeqOfKey(k));
    if (!rec.ok()) {
      st = rec.status().Annotate("journal " + dir_);
      break;
    }
    out.push_back(std::move(rec).value());
    if (limit_tail && out.size() >= limit_tail) break;
  }
  mdb_cursor_close(cur);
  mdb_txn_abort(txn);
  if (!st.ok()) return st;
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("journal " + dir_ + ": read", rc);
  if (limit_tail) std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<JournalRecord>> Journal::ReadAll() { return ReadRange(0); }

Result<std::vector<JournalRecord>> Journal::ReadTail(size_t limit) {
  if (limit == 0) return std::vector<JournalRecord>();
  return ReadRange(limit);
}

Result<std::vector<TxnSummary>> Journal::Transactions() {
  MAESTRO_ASSIGN_OR_RETURN(auto recs, ReadAll());
  return FoldTransactions(recs);
}

Result<std::optional<TxnSummary>> Journal::Unfinished() {
  MAESTRO_ASSIGN_OR_RETURN(auto txns, Transactions());
  for (auto it = txns.rbegin(); it != txns.rend(); ++it) {
    if (!it->ended) return std::optional<TxnSummary>(*it);
  }
  return std::optional<TxnSummary>();
}

}  // namespace maestro
