#include "snapshot/format.h"

#include <cstring>
#include <map>

#include "util/coding.h"

namespace maestro {

namespace {

constexpr char kManifestMagic[8] = {'M', 'D', 'B', 'S', 'N', 'A', 'P', '\0'};
constexpr char kIndexMagic[8] = {'M', 'D', 'B', 'I', 'N', 'D', 'X', '\0'};

// Checks magic, version and trailing checksum of a "magic u32 version ... u64
// xxh3" file; returns the body between the 12-byte header and the trailer.
Result<std::string_view> OpenEnvelope(std::string_view bytes, const char* magic, const std::string& what,
                                      uint32_t* version, uint32_t max_version = kRepoFormatVersion) {
  if (bytes.size() < 20) return Status::Corruption(what + ": file is truncated (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t want = DecodeFixed64(bytes.data() + bytes.size() - 8);
  if (Xxh64(bytes.substr(0, bytes.size() - 8)) != want)
    return Status::Corruption(what + ": checksum mismatch (the file is damaged)");
  if (std::memcmp(bytes.data(), magic, 8) != 0) return Status::Corruption(what + ": bad magic");
  *version = DecodeFixed32(bytes.data() + 8);
  if (*version < 1 || *version > max_version)
    return Status::Corruption(what + ": format version " + std::to_string(*version) + " is not supported (this build reads " +
                              (max_version == 1 ? std::string("1") : "1 to " + std::to_string(max_version)) + ")");
  return bytes.substr(12, bytes.size() - 20);
}

void SealEnvelope(std::string* s) { PutFixed64(s, Xxh64(*s)); }

}  // namespace

// ---------------------------------------------------------------- config
std::string EncodeConfig(const RepoConfig& c) {
  std::string body = "maestro-db repository\nformat_version=" + std::to_string(c.format_version) +
                     "\nrepository_id=" + c.repository_id + "\n";
  if (c.format_version >= kRepoFormatV4) body += "encryption=" + c.encryption + "\n";
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
  if (c.format_version != kRepoFormatVersion && c.format_version != kRepoFormatV4)
    return Status::Corruption(what + ": repository format version " + v + " is not supported by this build (reads " +
                              std::to_string(kRepoFormatVersion) + " and " + std::to_string(kRepoFormatV4) + ")",
                              "a newer maestro-db wrote it: use that version");
  auto enc = kv.find("encryption");
  if (c.format_version < kRepoFormatV4) {
    if (enc != kv.end()) return Status::Corruption(what + ": encryption= in a format-" + v + " config");
  } else {
    if (enc == kv.end()) return Status::Corruption(what + ": format 4 config without encryption=");
    if (!IsKnownEncryption(enc->second))
      return Status::Corruption(what + ": encryption=" + enc->second + " is not supported by this build",
                                "this build reads " + KnownEncryptionList() + "; a newer maestro-db wrote it: use that version");
    c.encryption = enc->second;
  }
  c.repository_id = kv["repository_id"];
  Hash128 tmp;
  if (!Hash128::FromHex(c.repository_id, &tmp)) return Status::Corruption(what + ": bad repository_id");
  return c;
}

// ---------------------------------------------------------------- manifest
// Every version has the same envelope (magic, u32 version, body, XXH3-64), the
// same info and the same store head (name, original path, flags); then
// versions 1-3 hold each store's entries (2 adds SQLite fingerprints, 3
// owners) and version 4 its root tree blob id (bit 4 of the flags: has_root).
// A version-4 envelope is sealed, behind a 12-byte declared-length prefix.
namespace {

constexpr size_t kManifestV4Prefix = 12;  // u64 declared total length, u32 low half of its XXH3-64
constexpr size_t kMinManifestStore = 4 + 4 + 1;  // name, original path, flags
constexpr size_t kMinManifestEntry = 4 + 1 + 1 + 4 + 8 + 8 + 8;  // path, type, flags, mode, size, mtime, inode

// The exact length EncodeManifest produces (the layout of versions 1-3): reserved up
// front, so a manifest of many files is not copied while it grows (nor held
// with up to twice its size).
size_t EncodedManifestSize(const Manifest& m) {
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

void PutInfo(std::string* s, const SnapshotInfo& i) {
  PutLengthPrefixed(s, i.id);
  PutFixed64(s, static_cast<uint64_t>(i.created_micros));
  PutLengthPrefixed(s, i.label);
  PutLengthPrefixed(s, i.trigger);
  PutLengthPrefixed(s, i.hostname);
  PutFixed64(s, i.files);
  PutFixed64(s, i.logical_bytes);
  PutFixed64(s, i.stored_bytes);
  PutFixed32(s, static_cast<uint32_t>(i.warnings.size()));
  for (const auto& w : i.warnings) PutLengthPrefixed(s, w);
}

void ReadInfo(ByteReader* r, SnapshotInfo* i) {
  i->id = r->LengthPrefixed();
  i->created_micros = static_cast<int64_t>(r->Fixed64());
  i->label = r->LengthPrefixed();
  i->trigger = r->LengthPrefixed();
  i->hostname = r->LengthPrefixed();
  i->files = r->Fixed64();
  i->logical_bytes = r->Fixed64();
  i->stored_bytes = r->Fixed64();
  uint32_t nw = r->Count(4);
  for (uint32_t k = 0; k < nw && r->ok(); ++k) i->warnings.push_back(r->LengthPrefixed());
}

}  // namespace

void PutEntryContent(std::string* s, const ManifestFile& f) {
  if (f.type == ManifestFile::Type::kFile) {
    PutHash128(s, f.hash);
    PutFixed32(s, static_cast<uint32_t>(f.chunks.size()));
    for (const auto& c : f.chunks) PutHash128(s, c);
  } else if (f.type == ManifestFile::Type::kSymlink) {
    PutLengthPrefixed(s, f.link_target);
  }
}

void ReadEntryContent(ByteReader* r, ManifestFile* f) {
  if (f->type == ManifestFile::Type::kFile) {
    f->hash = r->Hash();
    uint32_t nc = r->Count(16);
    f->chunks.reserve(nc);
    for (uint32_t c = 0; c < nc && r->ok(); ++c) f->chunks.push_back(r->Hash());
  } else if (f->type == ManifestFile::Type::kSymlink) {
    f->link_target = r->LengthPrefixed();
  }
}

namespace {

// One entry of a version 1-3 manifest.
void PutManifestEntry(std::string* s, const ManifestFile& f, uint32_t version) {
  PutLengthPrefixed(s, f.path);
  s->push_back(static_cast<char>(f.type));
  s->push_back(static_cast<char>(f.sqlite_backup ? 1 : 0));
  PutFixed32(s, f.mode);
  PutFixed64(s, f.size);
  PutFixed64(s, static_cast<uint64_t>(f.mtime_ns));
  PutFixed64(s, f.inode);
  if (version >= 3) {
    PutFixed32(s, f.uid);
    PutFixed32(s, f.gid);
  }
  if (version >= 2 && f.sqlite_backup) PutLengthPrefixed(s, f.source_fingerprint);
  PutEntryContent(s, f);
}

Status ReadManifestEntry(ByteReader* r, uint32_t version, const std::string& what, ManifestFile* f) {
  f->path = r->LengthPrefixed();
  uint8_t t = r->U8();
  if (t > 2) return Status::Corruption(what + ": bad file type " + std::to_string(t));
  f->type = static_cast<ManifestFile::Type>(t);
  f->sqlite_backup = r->U8() & 1;
  f->mode = r->Fixed32();
  f->size = r->Fixed64();
  f->mtime_ns = static_cast<int64_t>(r->Fixed64());
  f->inode = r->Fixed64();
  if (version >= 3) {
    f->uid = r->Fixed32();
    f->gid = r->Fixed32();
  }
  if (version >= 2 && f->sqlite_backup) f->source_fingerprint = r->LengthPrefixed();
  ReadEntryContent(r, f);
  return Status::OK();
}

// A manifest's envelope: the layout of versions 1-3 (v4 false; the version
// written and the fields of its entries are m.format_version's) or of
// version 4 (what its sealer seals).
std::string EncodeManifestEnvelope(const Manifest& m, bool v4) {
  std::string s;
  if (!v4) s.reserve(EncodedManifestSize(m));
  s.append(kManifestMagic, 8);
  PutFixed32(&s, v4 ? kManifestFormatV4 : m.format_version);
  PutInfo(&s, m.info);
  PutFixed32(&s, static_cast<uint32_t>(m.stores.size()));
  for (const auto& st : m.stores) {
    PutLengthPrefixed(&s, st.name);
    PutLengthPrefixed(&s, st.original_path);
    const bool root = v4 && st.has_root;
    s.push_back(static_cast<char>((st.is_directory ? 1 : 0) | (st.present ? 2 : 0) | (root ? 4 : 0)));
    if (v4) {
      if (root) PutHash128(&s, st.root);
      continue;
    }
    PutFixed32(&s, static_cast<uint32_t>(st.files.size()));
    for (const auto& f : st.files) PutManifestEntry(&s, f, m.format_version);
  }
  SealEnvelope(&s);
  return s;
}

// A manifest's envelope: versions 1-3 (v4 false) or exactly version 4 (v4 true).
Result<Manifest> DecodeManifestEnvelope(std::string_view bytes, const std::string& what, bool v4) {
  Manifest m;
  MAESTRO_ASSIGN_OR_RETURN(std::string_view body, OpenEnvelope(bytes, kManifestMagic, what, &m.format_version,
                                                               v4 ? kManifestFormatV4 : kManifestFormatVersion));
  if (v4 && m.format_version != kManifestFormatV4) return Status::Corruption(what + ": an old manifest inside a format-4 envelope");
  ByteReader r(body);
  ReadInfo(&r, &m.info);
  uint32_t ns = r.Count(v4 ? kMinManifestStore : kMinManifestStore + 4);
  for (uint32_t k = 0; k < ns && r.ok(); ++k) {
    ManifestStore st;
    st.name = r.LengthPrefixed();
    st.original_path = r.LengthPrefixed();
    uint8_t fl = r.U8();
    st.is_directory = fl & 1;
    st.present = fl & 2;
    if (v4) {
      st.has_root = fl & 4;
      if (st.has_root) st.root = r.Hash();
    } else {
      uint32_t nf = r.Count(kMinManifestEntry);
      st.files.reserve(nf);  // bounded by the bytes left (Count), so a damaged count cannot make this huge
      for (uint32_t j = 0; j < nf && r.ok(); ++j) {
        ManifestFile f;
        MAESTRO_RETURN_IF_ERROR(ReadManifestEntry(&r, m.format_version, what, &f));
        st.files.push_back(std::move(f));
      }
    }
    if (r.ok() && st.present) m.info.stores.push_back(st.name);
    m.stores.push_back(std::move(st));
  }
  if (!r.ok() || r.left() != 0) return Status::Corruption(what + ": manifest body does not decode");
  return m;
}

Result<Manifest> DecodeManifestV4(std::string_view bytes, const std::string& what, const Sealer& sealer,
                                  const std::string& id) {
  if (bytes.size() < kManifestV4Prefix)
    return Status::Unfinished(what + ": an incomplete upload (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t declared = DecodeFixed64(bytes.data());
  // The length has its own check: a damaged length is damage, not an upload cut short.
  if (DecodeFixed32(bytes.data() + 8) != static_cast<uint32_t>(Xxh64(bytes.substr(0, 8))))
    return Status::Corruption(what + ": the declared length is damaged");
  if (bytes.size() < declared)
    return Status::Unfinished(what + ": an incomplete upload (" + std::to_string(bytes.size()) + " of the " +
                                  std::to_string(declared) + " bytes it declares)",
                              "it is not a snapshot; the next `maestro-db snap prune` (or `snap delete`) removes it");
  if (bytes.size() != declared)
    return Status::Corruption(what + ": " + std::to_string(bytes.size()) + " bytes, not the " + std::to_string(declared) +
                              " it declares (the file is damaged)");
  std::string plain;
  MAESTRO_RETURN_IF_ERROR(sealer.Open(ObjectKind::kManifest, id, bytes.substr(kManifestV4Prefix), &plain).Annotate(what));
  return DecodeManifestEnvelope(plain, what, /*v4=*/true);
}

}  // namespace

std::string EncodeManifest(const Manifest& m) { return EncodeManifestEnvelope(m, /*v4=*/false); }

Result<Manifest> DecodeManifest(std::string_view bytes, const std::string& what) {
  return DecodeManifestEnvelope(bytes, what, /*v4=*/false);
}

Result<std::string> EncodeManifestV4(const Manifest& m, const Sealer& sealer) {
  MAESTRO_ASSIGN_OR_RETURN(std::string sealed,
                           sealer.Seal(ObjectKind::kManifest, m.info.id, EncodeManifestEnvelope(m, /*v4=*/true)));
  std::string out;
  out.reserve(kManifestV4Prefix + sealed.size());
  PutFixed64(&out, kManifestV4Prefix + sealed.size());
  PutFixed32(&out, static_cast<uint32_t>(Xxh64(out)));
  out += sealed;
  return out;
}

Result<Manifest> DecodeManifest(std::string_view bytes, const std::string& what, const Sealer& sealer,
                                const std::string& id) {
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kManifestMagic, 8) == 0) {
    if (sealer.encrypted()) return Status::Corruption(what + ": an unencrypted manifest in an encrypted repository");
    return DecodeManifest(bytes, what);
  }
  return DecodeManifestV4(bytes, what, sealer, id);
}

// ---------------------------------------------------------------- pack
std::string EncodePackHeader() {
  std::string s(kPackMagic, 8);
  PutFixed32(&s, kRepoFormatVersion);
  PutFixed32(&s, 0);
  return s;
}

std::string EncodeBlobHeader(const Hash128& id, uint32_t raw_len, uint32_t stored_len) {
  std::string s;
  s.reserve(kBlobHeaderSize);
  PutHash128(&s, id);
  PutFixed32(&s, raw_len);
  PutFixed32(&s, stored_len);
  return s;
}

bool BlobHeaderMatches(const char* h, const IndexEntry& e) {
  return DecodeHash128(h) == e.blob && DecodeFixed32(h + 16) == e.raw_len && DecodeFixed32(h + 20) == e.stored_len;
}

// True when e's lengths are over the format's limits or its stored bytes do
// not lie within [0, limit) of the pack (no sum that could wrap).
static bool BlobOutOfBounds(const IndexEntry& e, uint64_t limit) {
  return e.raw_len > kMaxBlobRawLen || e.stored_len > kMaxBlobStoredLen || e.stored_len == 0 || e.offset > limit ||
         e.stored_len > limit - e.offset;
}

static Result<std::vector<IndexEntry>> DecodePackV1(std::string_view bytes, const Hash128& pack, const std::string& what) {
  if (bytes.size() < kPackHeaderSize || std::memcmp(bytes.data(), kPackMagic, 8) != 0)
    return Status::Corruption(what + ": not a pack (bad magic)");
  uint32_t version = DecodeFixed32(bytes.data() + 8);
  if (version != kRepoFormatVersion)
    return Status::Corruption(what + ": pack format version " + std::to_string(version) + " is not readable");
  std::vector<IndexEntry> out;
  size_t pos = kPackHeaderSize;
  while (pos < bytes.size()) {
    if (bytes.size() - pos < kBlobHeaderSize)
      return Status::Corruption(what + ": blob header at offset " + std::to_string(pos) + " is cut short");
    IndexEntry e;
    e.pack = pack;
    e.blob = DecodeHash128(bytes.data() + pos);
    e.raw_len = DecodeFixed32(bytes.data() + pos + 16);
    e.stored_len = DecodeFixed32(bytes.data() + pos + 20);
    e.offset = pos + kBlobHeaderSize;
    if (BlobOutOfBounds(e, bytes.size()))
      return Status::Corruption(what + ": blob at offset " + std::to_string(pos) + " has impossible lengths");
    e.stored_check = Xxh64(bytes.substr(e.offset, e.stored_len));
    out.push_back(e);
    pos = e.offset + e.stored_len;
  }
  return out;
}

// ---------------------------------------------------------------- pack v4
namespace {

constexpr char kPackHeaderMagic[8] = {'M', 'D', 'B', 'P', 'H', 'D', 'R', '\0'};
constexpr size_t kPackV4EntrySize = 16 + 1 + 1 + 4 + 4 + 8 + 8;

// The entries of a version-4 pack's sealed header, whose blobs' checksums
// are checked against bytes (the whole pack).
Result<std::vector<IndexEntry>> DecodePackV4(std::string_view bytes, const Hash128& pack, const std::string& what,
                                             const Sealer& sealer) {
  MAESTRO_ASSIGN_OR_RETURN(std::vector<IndexEntry> out, DecodePackV4Tail(bytes, bytes.size(), pack, what, sealer));
  for (const IndexEntry& e : out)
    if (Xxh64(bytes.substr(e.offset, e.stored_len)) != e.stored_check)
      return Status::Corruption(what + ": blob " + e.blob.Hex() + " does not match its checksum");
  return out;
}

}  // namespace

bool KnownBlobCoding(uint8_t type, uint8_t codec) {
  if (type > 1 || codec > 2) return false;
  return codec != static_cast<uint8_t>(BlobCodec::kGroup) || type == static_cast<uint8_t>(BlobType::kData);
}

Result<std::string> EncodePackV4Tail(const std::vector<IndexEntry>& entries, const Sealer& sealer) {
  std::string s(kPackHeaderMagic, 8);
  PutFixed32(&s, kRepoFormatV4);
  PutFixed32(&s, static_cast<uint32_t>(entries.size()));
  for (const auto& e : entries) {
    PutHash128(&s, e.blob);
    s.push_back(static_cast<char>(e.type));
    s.push_back(static_cast<char>(e.codec));
    PutFixed32(&s, e.raw_len);
    PutFixed32(&s, e.stored_len);
    PutFixed64(&s, e.offset);
    PutFixed64(&s, e.stored_check);
  }
  SealEnvelope(&s);
  MAESTRO_ASSIGN_OR_RETURN(std::string out, sealer.Seal(ObjectKind::kPack, "", s));
  PutFixed32(&out, static_cast<uint32_t>(out.size()));
  out.append(kPackV4Magic, 8);
  return out;
}

Result<std::vector<IndexEntry>> DecodePackV4Tail(std::string_view tail, uint64_t pack_size, const Hash128& pack,
                                                 const std::string& what, const Sealer& sealer) {
  if (tail.size() < kPackV4TrailerSize || tail.size() > pack_size ||
      std::memcmp(tail.data() + tail.size() - 8, kPackV4Magic, 8) != 0)
    return Status::Corruption(what + ": no format-4 pack trailer");
  uint32_t hlen = DecodeFixed32(tail.data() + tail.size() - kPackV4TrailerSize);
  if (hlen > tail.size() - kPackV4TrailerSize) return Status::Corruption(what + ": pack header length runs past the start");
  const size_t at = tail.size() - kPackV4TrailerSize - hlen;  // the header, in tail
  const uint64_t limit = pack_size - kPackV4TrailerSize - hlen;  // the header, in the pack
  std::string plain;
  MAESTRO_RETURN_IF_ERROR(sealer.Open(ObjectKind::kPack, "", tail.substr(at, hlen), &plain).Annotate(what + ": pack header"));
  uint32_t version = 0;
  MAESTRO_ASSIGN_OR_RETURN(std::string_view body,
                           OpenEnvelope(plain, kPackHeaderMagic, what + " (pack header)", &version, kRepoFormatV4));
  if (version != kRepoFormatV4) return Status::Corruption(what + ": pack header version " + std::to_string(version));
  ByteReader r(body);
  uint32_t n = r.Count(kPackV4EntrySize);
  std::vector<IndexEntry> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n && r.ok(); ++k) {
    IndexEntry e;
    e.pack = pack;
    e.pack_version = kRepoFormatV4;
    e.blob = r.Hash();
    uint8_t t = r.U8(), c = r.U8();
    e.raw_len = r.Fixed32();
    e.stored_len = r.Fixed32();
    e.offset = r.Fixed64();
    e.stored_check = r.Fixed64();
    if (!r.ok()) break;
    if (!KnownBlobCoding(t, c)) return Status::Corruption(what + ": blob " + e.blob.Hex() + " has an unknown type or codec");
    e.type = static_cast<BlobType>(t);
    e.codec = static_cast<BlobCodec>(c);
    if (BlobOutOfBounds(e, limit))
      return Status::Corruption(what + ": blob " + e.blob.Hex() + " has impossible lengths");
    out.push_back(e);
  }
  if (!r.ok() || r.left() != 0) return Status::Corruption(what + ": pack header does not decode");
  return out;
}

Result<std::vector<IndexEntry>> DecodePack(std::string_view bytes, const Hash128& pack, const std::string& what,
                                           const Sealer& sealer) {
  if (bytes.size() >= kPackV4TrailerSize &&
      std::memcmp(bytes.data() + bytes.size() - 8, kPackV4Magic, 8) == 0)
    return DecodePackV4(bytes, pack, what, sealer);
  if (sealer.encrypted()) return Status::Corruption(what + ": not a format-4 pack (no trailer)");
  return DecodePackV1(bytes, pack, what);
}

// ---------------------------------------------------------------- index
// Both versions: magic, u32 version, u32 packs, per pack its id (v4: u8 pack
// version) and u32 entries, per entry blob id, u64 offset, u32 stored_len,
// u32 raw_len, u64 stored_check (v4: u8 type, u8 codec); then XXH3-64.
// Entries are grouped by pack so the pack id is written once per pack.
// A version-4 index is sealed whole; a version-1 one never is.
namespace {

using EntrySink = std::function<void(const IndexEntry&)>;

size_t IndexPackHeadSize(bool v4) { return v4 ? 16 + 1 + 4 : 16 + 4; }
size_t IndexEntrySize(bool v4) { return v4 ? 16 + 8 + 4 + 4 + 8 + 2 : 16 + 8 + 4 + 4 + 8; }

std::string EncodeIndexEnvelope(const std::vector<IndexEntry>& entries, bool v4) {
  std::map<Hash128, std::vector<const IndexEntry*>> by_pack;
  for (const auto& e : entries) by_pack[e.pack].push_back(&e);
  std::string s;
  s.reserve(8 + 4 + 4 + by_pack.size() * IndexPackHeadSize(v4) + entries.size() * IndexEntrySize(v4) + 8);  // the exact length
  s.append(kIndexMagic, 8);
  PutFixed32(&s, v4 ? kRepoFormatV4 : kRepoFormatVersion);
  PutFixed32(&s, static_cast<uint32_t>(by_pack.size()));
  for (const auto& [pack, list] : by_pack) {
    PutHash128(&s, pack);
    if (v4) s.push_back(static_cast<char>(list.front()->pack_version));
    PutFixed32(&s, static_cast<uint32_t>(list.size()));
    for (const IndexEntry* e : list) {
      PutHash128(&s, e->blob);
      PutFixed64(&s, e->offset);
      PutFixed32(&s, e->stored_len);
      PutFixed32(&s, e->raw_len);
      PutFixed64(&s, e->stored_check);
      if (v4) {
        s.push_back(static_cast<char>(e->type));
        s.push_back(static_cast<char>(e->codec));
      }
    }
  }
  SealEnvelope(&s);
  return s;
}

// The body of an index (inside its envelope); emit gets each entry.
Status ParseIndex(std::string_view body, bool v4, const std::string& what, const EntrySink& emit) {
  ByteReader r(body);
  uint32_t np = r.Count(IndexPackHeadSize(v4));
  for (uint32_t p = 0; p < np && r.ok(); ++p) {
    Hash128 pack = r.Hash();
    uint8_t pv = v4 ? r.U8() : kRepoFormatVersion;
    if (r.ok() && pv != kRepoFormatVersion && pv != kRepoFormatV4)
      return Status::Corruption(what + ": pack " + pack.Hex() + " has unknown version " + std::to_string(pv));
    uint32_t n = r.Count(IndexEntrySize(v4));
    for (uint32_t k = 0; k < n && r.ok(); ++k) {
      IndexEntry e;
      e.pack = pack;
      e.pack_version = pv;
      e.blob = r.Hash();
      e.offset = r.Fixed64();
      e.stored_len = r.Fixed32();
      e.raw_len = r.Fixed32();
      e.stored_check = r.Fixed64();
      uint8_t t = v4 ? r.U8() : 0, c = v4 ? r.U8() : 0;
      if (!r.ok()) break;
      if (!KnownBlobCoding(t, c)) return Status::Corruption(what + ": blob " + e.blob.Hex() + " has an unknown type or codec");
      e.type = static_cast<BlobType>(t);
      e.codec = static_cast<BlobCodec>(c);
      if (e.raw_len > kMaxBlobRawLen || e.stored_len > kMaxBlobStoredLen)
        return Status::Corruption(what + ": index entry for blob " + e.blob.Hex() + " claims " +
                                  std::to_string(e.raw_len) + " bytes, over the format's blob limit");
      emit(e);
    }
  }
  if (!r.ok() || r.left() != 0) return Status::Corruption(what + ": index body does not decode");
  return Status::OK();
}

}  // namespace

std::string EncodeIndex(const std::vector<IndexEntry>& entries) { return EncodeIndexEnvelope(entries, /*v4=*/false); }

Result<std::string> EncodeIndexV4(const std::vector<IndexEntry>& entries, const Sealer& sealer) {
  return sealer.Seal(ObjectKind::kIndex, "", EncodeIndexEnvelope(entries, /*v4=*/true));
}

Status DecodeIndexEach(std::string_view bytes, const std::string& what, const Sealer& sealer, const EntrySink& emit) {
  // Version 1 is never sealed, and never in an encrypted repository.
  const bool v1 = !sealer.encrypted() && bytes.size() >= 12 && std::memcmp(bytes.data(), kIndexMagic, 8) == 0 &&
                  DecodeFixed32(bytes.data() + 8) == kRepoFormatVersion;
  // The unencrypted sealer's Open is the identity: no copy of the bytes.
  std::string plain;
  if (sealer.encrypted()) MAESTRO_RETURN_IF_ERROR(sealer.Open(ObjectKind::kIndex, "", bytes, &plain).Annotate(what));
  uint32_t version = 0;
  MAESTRO_ASSIGN_OR_RETURN(std::string_view body,
                           OpenEnvelope(sealer.encrypted() ? std::string_view(plain) : bytes, kIndexMagic, what, &version,
                                        v1 ? kRepoFormatVersion : kRepoFormatV4));
  if (!v1 && version != kRepoFormatV4)
    return Status::Corruption(what + ": index version " + std::to_string(version) + " inside a format-4 envelope");
  const EntrySink none = [](const IndexEntry&) {};
  MAESTRO_RETURN_IF_ERROR(ParseIndex(body, !v1, what, none));  // all of it decodes before any entry goes out
  return ParseIndex(body, !v1, what, emit);
}

Result<std::vector<IndexEntry>> DecodeIndex(std::string_view bytes, const std::string& what, const Sealer& sealer) {
  std::vector<IndexEntry> out;
  MAESTRO_RETURN_IF_ERROR(DecodeIndexEach(bytes, what, sealer, [&](const IndexEntry& e) { out.push_back(e); }));
  return out;
}

Result<std::vector<IndexEntry>> DecodePack(std::string_view bytes, const Hash128& pack, const std::string& what) {
  return DecodePack(bytes, pack, what, *PlainSealer());
}

Result<std::vector<IndexEntry>> DecodeIndex(std::string_view bytes, const std::string& what) {
  return DecodeIndex(bytes, what, *PlainSealer());
}

}  // namespace maestro
