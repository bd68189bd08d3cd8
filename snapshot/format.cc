#include "snapshot/format.h"

#include <cstring>
#include <map>

namespace maestro {

void PutU32(std::string* s, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  s->append(b, 4);
}
void PutU64(std::string* s, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  s->append(b, 8);
}
void PutHash(std::string* s, const Hash128& h) {
  PutU64(s, h.hi);
  PutU64(s, h.lo);
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
Hash128 GetHash(const char* p) { return Hash128{GetU64(p), GetU64(p + 8)}; }

namespace {

void PutStr(std::string* s, std::string_view v) {
  PutU32(s, static_cast<uint32_t>(v.size()));
  s->append(v.data(), v.size());
}

// Bounds-checked reader over untrusted bytes; the first failure sticks.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool ok() const { return ok_; }
  size_t left() const { return b_.size() - pos_; }
  bool Need(size_t n) {
    if (!ok_ || left() < n) ok_ = false;
    return ok_;
  }
  uint8_t U8() { if (!Need(1)) return 0; return static_cast<uint8_t>(b_[pos_++]); }
  uint32_t U32() { if (!Need(4)) return 0; uint32_t v = GetU32(b_.data() + pos_); pos_ += 4; return v; }
  uint64_t U64() { if (!Need(8)) return 0; uint64_t v = GetU64(b_.data() + pos_); pos_ += 8; return v; }
  Hash128 H() { if (!Need(16)) return {}; Hash128 v = GetHash(b_.data() + pos_); pos_ += 16; return v; }
  std::string Str() {
    uint32_t n = U32();
    if (!Need(n)) return {};
    std::string v(b_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  // A count of items each at least min_item bytes long: rejects counts the
  // remaining bytes cannot hold, so a flipped count cannot make us allocate.
  uint32_t Count(size_t min_item) {
    uint32_t n = U32();
    if (ok_ && min_item > 0 && n > left() / min_item) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

constexpr char kManifestMagic[8] = {'M', 'D', 'B', 'S', 'N', 'A', 'P', '\0'};
constexpr char kIndexMagic[8] = {'M', 'D', 'B', 'I', 'N', 'D', 'X', '\0'};

// Checks magic, version and trailing checksum of a "magic u32 version ... u64
// xxh3" file; returns the body between the 12-byte header and the trailer.
Result<std::string_view> OpenEnvelope(std::string_view bytes, const char* magic, const std::string& what,
                                      uint32_t* version, uint32_t max_version = kRepoFormatVersion) {
  if (bytes.size() < 20) return Status::Corruption(what + ": file is truncated (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t want = GetU64(bytes.data() + bytes.size() - 8);
  if (Xxh64(bytes.substr(0, bytes.size() - 8)) != want)
    return Status::Corruption(what + ": checksum mismatch (the file is damaged)");
  if (std::memcmp(bytes.data(), magic, 8) != 0) return Status::Corruption(what + ": bad magic");
  *version = GetU32(bytes.data() + 8);
  if (*version < 1 || *version > max_version)
    return Status::Corruption(what + ": format version " + std::to_string(*version) + " is not supported (this build reads " +
                              (max_version == 1 ? std::string("1") : "1 to " + std::to_string(max_version)) + ")");
  return bytes.substr(12, bytes.size() - 20);
}

void SealEnvelope(std::string* s) { PutU64(s, Xxh64(*s)); }

}  // namespace

// ---------------------------------------------------------------- config
std::string EncodeConfig(const RepoConfig& c) {
  std::string body = "maestro-db repository\nformat_version=" + std::to_string(c.format_version) +
                     "\nrepository_id=" + c.repository_id + "\n";
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(Xxh64(body)));
  return body + "checksum=" + buf + "\n";
}

Result<RepoConfig> DecodeConfig(std::string_view bytes, const std::string& what) {
  auto pos = bytes.rfind("checksum=");
  if (pos == std::string_view::npos || bytes.size() != pos + 9 + 16 + 1 || bytes.back() != '\n')
    return Status::Corruption(what + ": not a maestro-db repository config (no checksum line)");
  std::string_view body = bytes.substr(0, pos);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(Xxh64(body)));
  if (bytes.substr(pos + 9, 16) != std::string_view(buf, 16))
    return Status::Corruption(what + ": checksum mismatch (the config file is damaged)");
  std::map<std::string, std::string> kv;
  size_t start = 0;
  bool first = true;
  while (start < body.size()) {
    size_t nl = body.find('\n', start);
    if (nl == std::string_view::npos) return Status::Corruption(what + ": unterminated line");
    std::string line(body.substr(start, nl - start));
    start = nl + 1;
    if (first) {
      if (line != "maestro-db repository") return Status::Corruption(what + ": bad first line");
      first = false;
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string::npos) return Status::Corruption(what + ": bad line '" + line + "'");
    kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  RepoConfig c;
  const std::string& v = kv["format_version"];
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9)
    return Status::Corruption(what + ": bad format_version");
  c.format_version = static_cast<uint32_t>(std::stoul(v));
  if (c.format_version != kRepoFormatVersion)
    return Status::Corruption(what + ": repository format version " + v + " is not supported by this build (reads " +
                              std::to_string(kRepoFormatVersion) + ")");
  c.repository_id = kv["repository_id"];
  Hash128 tmp;
  if (!Hash128::FromHex(c.repository_id, &tmp)) return Status::Corruption(what + ": bad repository_id");
  return c;
}

// ---------------------------------------------------------------- manifest
// The exact length EncodeManifest produces: reserved up front, so a manifest of
// many files is not copied while it grows (nor held with up to twice its size).
static size_t EncodedManifestSize(const Manifest& m) {
  const SnapshotInfo& i = m.info;
  size_t n = 8 + 4 + (4 + i.id.size()) + 8 + (4 + i.label.size()) + (4 + i.trigger.size()) + (4 + i.hostname.size()) + 3 * 8 + 4;
  for (const auto& w : i.warnings) n += 4 + w.size();
  n += 4;
  for (const auto& st : m.stores) {
    n += (4 + st.name.size()) + (4 + st.original_path.size()) + 1 + 4;
    for (const auto& f : st.files) {
      n += (4 + f.path.size()) + 1 + 1 + 4 + 8 + 8 + 8;
      if (m.format_version >= 2 && f.sqlite_backup) n += 4 + f.source_fingerprint.size();
      if (m.format_version >= 3) n += 4 + 4;
      if (f.type == ManifestFile::Type::kFile) {
        n += 16 + 4 + 16 * f.chunks.size();
      } else if (f.type == ManifestFile::Type::kSymlink) {
        n += 4 + f.link_target.size();
      }
    }
  }
  return n + 8;
}

std::string EncodeManifest(const Manifest& m) {
  std::string s;
  s.reserve(EncodedManifestSize(m));
  s.append(kManifestMagic, 8);
  PutU32(&s, m.format_version);
  const SnapshotInfo& i = m.info;
  PutStr(&s, i.id);
  PutU64(&s, static_cast<uint64_t>(i.created_micros));
  PutStr(&s, i.label);
  PutStr(&s, i.trigger);
  PutStr(&s, i.hostname);
  PutU64(&s, i.files);
  PutU64(&s, i.logical_bytes);
  PutU64(&s, i.stored_bytes);
  PutU32(&s, static_cast<uint32_t>(i.warnings.size()));
  for (const auto& w : i.warnings) PutStr(&s, w);
  PutU32(&s, static_cast<uint32_t>(m.stores.size()));
  for (const auto& st : m.stores) {
    PutStr(&s, st.name);
    PutStr(&s, st.original_path);
    s.push_back(static_cast<char>((st.is_directory ? 1 : 0) | (st.present ? 2 : 0)));
    PutU32(&s, static_cast<uint32_t>(st.files.size()));
    for (const auto& f : st.files) {
      PutStr(&s, f.path);
      s.push_back(static_cast<char>(f.type));
      s.push_back(static_cast<char>(f.sqlite_backup ? 1 : 0));
      PutU32(&s, f.mode);
      PutU64(&s, f.size);
      PutU64(&s, static_cast<uint64_t>(f.mtime_ns));
      PutU64(&s, f.inode);
      if (m.format_version >= 3) {
        PutU32(&s, f.uid);
        PutU32(&s, f.gid);
      }
      if (m.format_version >= 2 && f.sqlite_backup) PutStr(&s, f.source_fingerprint);
      if (f.type == ManifestFile::Type::kFile) {
        PutHash(&s, f.hash);
        PutU32(&s, static_cast<uint32_t>(f.chunks.size()));
        for (const auto& c : f.chunks) PutHash(&s, c);
      } else if (f.type == ManifestFile::Type::kSymlink) {
        PutStr(&s, f.link_target);
      }
    }
  }
  SealEnvelope(&s);
  return s;
}

Result<Manifest> DecodeManifest(std::string_view bytes, const std::string& what) {
  Manifest m;
  MAESTRO_ASSIGN_OR_RETURN(std::string_view body, OpenEnvelope(bytes, kManifestMagic, what, &m.format_version, kManifestFormatVersion));
  Reader r(body);
  SnapshotInfo& i = m.info;
  i.id = r.Str();
  i.created_micros = static_cast<int64_t>(r.U64());
  i.label = r.Str();
  i.trigger = r.Str();
  i.hostname = r.Str();
  i.files = r.U64();
  i.logical_bytes = r.U64();
  i.stored_bytes = r.U64();
  uint32_t nw = r.Count(4);
  for (uint32_t k = 0; k < nw && r.ok(); ++k) i.warnings.push_back(r.Str());
  uint32_t ns = r.Count(13);
  for (uint32_t k = 0; k < ns && r.ok(); ++k) {
    ManifestStore st;
    st.name = r.Str();
    st.original_path = r.Str();
    uint8_t fl = r.U8();
    st.is_directory = fl & 1;
    st.present = fl & 2;
    uint32_t nf = r.Count(34);
    st.files.reserve(nf);  // bounded by the bytes left (Count), so a damaged count cannot make this huge
    for (uint32_t j = 0; j < nf && r.ok(); ++j) {
      ManifestFile f;
      f.path = r.Str();
      uint8_t t = r.U8();
      if (t > 2) return Status::Corruption(what + ": bad file type " + std::to_string(t));
      f.type = static_cast<ManifestFile::Type>(t);
      f.sqlite_backup = r.U8() & 1;
      f.mode = r.U32();
      f.size = r.U64();
      f.mtime_ns = static_cast<int64_t>(r.U64());
      f.inode = r.U64();
      if (m.format_version >= 3) {
        f.uid = r.U32();
        f.gid = r.U32();
      }
      if (m.format_version >= 2 && f.sqlite_backup) f.source_fingerprint = r.Str();
      if (f.type == ManifestFile::Type::kFile) {
        f.hash = r.H();
        uint32_t nc = r.Count(16);
        f.chunks.reserve(nc);
        for (uint32_t c = 0; c < nc && r.ok(); ++c) f.chunks.push_back(r.H());
      } else if (f.type == ManifestFile::Type::kSymlink) {
        f.link_target = r.Str();
      }
      st.files.push_back(std::move(f));
    }
    if (r.ok()) {
      if (st.present) i.stores.push_back(st.name);
    }
    m.stores.push_back(std::move(st));
  }
  if (!r.ok() || r.left() != 0) return Status::Corruption(what + ": manifest body does not decode");
  return m;
}

// ---------------------------------------------------------------- pack
std::string EncodePackHeader() {
  std::string s(kPackMagic, 8);
  PutU32(&s, kRepoFormatVersion);
  PutU32(&s, 0);
  return s;
}

std::string EncodeBlobHeader(const Hash128& id, uint32_t raw_len, uint32_t stored_len) {
  std::string s;
  s.reserve(kBlobHeaderSize);
  PutHash(&s, id);
  PutU32(&s, raw_len);
  PutU32(&s, stored_len);
  return s;
}

Result<std::vector<IndexEntry>> DecodePack(std::string_view bytes, const Hash128& pack, const std::string& what) {
  if (bytes.size() < kPackHeaderSize || std::memcmp(bytes.data(), kPackMagic, 8) != 0)
    return Status::Corruption(what + ": not a pack (bad magic)");
  uint32_t version = GetU32(bytes.data() + 8);
  if (version != kRepoFormatVersion)
    return Status::Corruption(what + ": pack format version " + std::to_string(version) + " is not readable");
  std::vector<IndexEntry> out;
  size_t pos = kPackHeaderSize;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < kBlobHeaderSize)
      return Status::Corruption(what + ": blob header at offset " + std::to_string(pos) + " is cut short");
    IndexEntry e;
    e.pack = pack;
    e.blob = GetHash(bytes.data() + pos);
    e.raw_len = GetU32(bytes.data() + pos + 16);
    e.stored_len = GetU32(bytes.data() + pos + 20);
    e.offset = pos + kBlobHeaderSize;
    if (e.raw_len > kMaxBlobRawLen || e.stored_len > kMaxBlobStoredLen || e.stored_len == 0 ||
        bytes.size() - e.offset < e.stored_len)
      return Status::Corruption(what + ": blob at offset " + std::to_string(pos) + " has impossible lengths");
    e.stored_check = Xxh64(bytes.substr(e.offset, e.stored_len));
    out.push_back(e);
    pos = e.offset + e.stored_len;
  }
  return out;
}

// ---------------------------------------------------------------- index
std::string EncodeIndex(const std::vector<IndexEntry>& entries) {
  // Grouped by pack so the pack id is written once per pack.
  std::map<Hash128, std::vector<const IndexEntry*>> by_pack;
  for (const auto& e : entries) by_pack[e.pack].push_back(&e);
  std::string s;
  s.reserve(8 + 4 + 4 + by_pack.size() * (16 + 4) + entries.size() * (16 + 8 + 4 + 4 + 8) + 8);  // the exact length
  s.append(kIndexMagic, 8);
  PutU32(&s, kRepoFormatVersion);
  PutU32(&s, static_cast<uint32_t>(by_pack.size()));
  for (const auto& [pack, list] : by_pack) {
    PutHash(&s, pack);
    PutU32(&s, static_cast<uint32_t>(list.size()));
    for (const IndexEntry* e : list) {
      PutHash(&s, e->blob);
      PutU64(&s, e->offset);
      PutU32(&s, e->stored_len);
      PutU32(&s, e->raw_len);
      PutU64(&s, e->stored_check);
    }
  }
  SealEnvelope(&s);
  return s;
}

Result<std::vector<IndexEntry>> DecodeIndex(std::string_view bytes, const std::string& what) {
  uint32_t version = 0;
  MAESTRO_ASSIGN_OR_RETURN(std::string_view body, OpenEnvelope(bytes, kIndexMagic, what, &version));
  Reader r(body);
  std::vector<IndexEntry> out;
  uint32_t np = r.Count(20);
  for (uint32_t p = 0; p < np && r.ok(); ++p) {
    Hash128 pack = r.H();
    uint32_t n = r.Count(40);
    for (uint32_t k = 0; k < n && r.ok(); ++k) {
      IndexEntry e;
      e.pack = pack;
      e.blob = r.H();
      e.offset = r.U64();
      e.stored_len = r.U32();
      e.raw_len = r.U32();
      e.stored_check = r.U64();
      if (r.ok() && (e.raw_len > kMaxBlobRawLen || e.stored_len > kMaxBlobStoredLen))
        return Status::Corruption(what + ": index entry for blob " + e.blob.Hex() + " claims " +
                                  std::to_string(e.raw_len) + " bytes, over the format's blob limit");
      out.push_back(e);
    }
  }
  if (!r.ok() || r.left() != 0) return Status::Corruption(what + ": index body does not decode");
  return out;
}

}  // namespace maestro
