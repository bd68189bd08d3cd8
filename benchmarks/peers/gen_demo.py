#!/usr/bin/python3
"""benchmarks/peers/gen_demo.py — fallback demo install for the peer benchmark.

Used by run.sh only when `maestro-db demo create` (with a size knob) is not
available. Writes a MAESTRO install of about TARGET_BYTES under ROOT, laid out
as in shared/maestro-layout.md, with the repository's own migrations for main
and ai and a ChromaDB-shaped vector store. Deterministic for a given seed.

Proportions per completed document (roughly what a research install holds):
  raw PDF ~0.4-2.4 MiB (mostly compressed streams: incompressible, ~10% text),
  markdown ~40-80 KiB of text, metadata JSON ~2 KiB, ~40 chunks each with a
  1024-d float32 vector in the dense HNSW index (4 KiB + links), the chunk
  text in chroma.sqlite3 (metadata + FTS5 trigram index) and the vector in
  Chroma's write-ahead queue.

Usage: gen_demo.py ROOT TARGET_BYTES [SEED] [MIGRATIONS_DIR]
Stock Debian python3 only (sqlite3, random, os).
"""
import json
import os
import random
import sqlite3
import struct
import sys
import uuid

WORDS = ("the of and a to in is that for with as on by this we are from be an "
         "model data results method analysis learning network study using based "
         "research paper figure table section performance training evaluation "
         "retrieval language vector embedding transformer attention memory graph "
         "experiment baseline dataset accuracy error sample distribution theory").split()

DENSE_DIM = 1024
CHUNKS_PER_DOC = 40
CHUNK_TEXT = 1500


def text(rng, nbytes):
    out, n = [], 0
    while n < nbytes:
        line = " ".join(rng.choices(WORDS, k=14)) + ".\n"
        out.append(line)
        n += len(line)
    return "".join(out)[:nbytes]


def floats(rng, n):
    """n float32 values that compress like real embeddings (random mantissa, few exponents)."""
    b = bytearray(rng.randbytes(4 * n))
    table = bytes((0x3c if i & 1 else 0xbc) if i & 2 else (0x3d if i & 1 else 0xbd) for i in range(256))
    b[3::4] = bytes(b[3::4]).translate(table)
    return bytes(b)


def pdf_bytes(rng, size):
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    txt = text(rng, size // 10).encode()
    body = rng.randbytes(max(0, size - len(head) - len(txt) - 6))
    return head + txt + body + b"%%EOF\n"


def apply_migration(db, path):
    sql = open(path).read().split("\n-- +down")[0]
    db.executescript(sql)


CHROMA_SCHEMA = """
CREATE TABLE migrations (dir TEXT NOT NULL, version INTEGER NOT NULL, filename TEXT NOT NULL,
  sql TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (dir, version));
CREATE TABLE tenants (id TEXT PRIMARY KEY, UNIQUE (id));
CREATE TABLE databases (id TEXT PRIMARY KEY, name TEXT NOT NULL, tenant_id TEXT NOT NULL);
CREATE TABLE collections (id TEXT PRIMARY KEY, name TEXT NOT NULL, dimension INTEGER,
  database_id TEXT NOT NULL, config_json_str TEXT, UNIQUE (name, database_id));
CREATE TABLE collection_metadata (collection_id TEXT, key TEXT NOT NULL, str_value TEXT,
  int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (collection_id, key));
CREATE TABLE segments (id TEXT PRIMARY KEY, type TEXT NOT NULL, scope TEXT NOT NULL, collection TEXT);
CREATE TABLE segment_metadata (segment_id TEXT, key TEXT NOT NULL, str_value TEXT,
  int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (segment_id, key));
CREATE TABLE embeddings (id INTEGER PRIMARY KEY, segment_id TEXT NOT NULL, embedding_id TEXT NOT NULL,
  seq_id BLOB NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (segment_id, embedding_id));
CREATE TABLE embedding_metadata (id INTEGER REFERENCES embeddings(id), key TEXT NOT NULL,
  string_value TEXT, int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (id, key));
CREATE VIRTUAL TABLE embedding_fulltext_search USING fts5(string_value, tokenize='trigram');
CREATE TABLE embeddings_queue (seq_id INTEGER PRIMARY KEY, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  operation INTEGER NOT NULL, topic TEXT NOT NULL, id TEXT NOT NULL, vector BLOB, encoding TEXT, metadata TEXT);
CREATE TABLE max_seq_id (segment_id TEXT PRIMARY KEY, seq_id BLOB NOT NULL);
CREATE TABLE maintenance_log (id INT PRIMARY KEY, timestamp INT NOT NULL, operation TEXT NOT NULL);
"""


class Chroma:
    """Appends chunks to a Chroma-shaped store (used by the generator and the mutator)."""

    def __init__(self, vdir, create=False, rng=None):
        self.vdir = vdir
        self.db = sqlite3.connect(os.path.join(vdir, "chroma.sqlite3"))
        if create:
            self.db.executescript(CHROMA_SCHEMA)
            self.db.execute("INSERT INTO tenants VALUES ('default_tenant')")
            self.db.execute("INSERT INTO databases VALUES (?, 'default_database', 'default_tenant')",
                            (str(uuid.UUID(int=rng.getrandbits(128))),))
            for name, dim in (("research_papers_dense", DENSE_DIM), ("research_papers_sparse", 30000)):
                cid = str(uuid.UUID(int=rng.getrandbits(128)))
                self.db.execute("INSERT INTO collections VALUES (?, ?, ?, (SELECT id FROM databases), '{}')",
                                (cid, name, dim))
                self.db.execute("INSERT INTO collection_metadata VALUES (?, 'hnsw:space', 'cosine', NULL, NULL, NULL)", (cid,))
                for typ, scope in (("urn:chroma:segment/vector/hnsw-local-persisted", "VECTOR"),
                                   ("urn:chroma:segment/metadata/sqlite", "METADATA")):
                    sid = str(uuid.UUID(int=rng.getrandbits(128)))
                    self.db.execute("INSERT INTO segments VALUES (?, ?, ?, ?)", (sid, typ, scope, cid))
                    if scope == "VECTOR":
                        d = os.path.join(vdir, sid)
                        os.makedirs(d, exist_ok=True)
                        for f in ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin"):
                            open(os.path.join(d, f), "wb").close()
                        with open(os.path.join(d, "index_metadata.pickle"), "wb") as f:
                            f.write(b"\x80\x04\x95" + json.dumps({"dimensionality": dim}).encode() + b".")
            self.db.commit()
        self.seg = {}
        for sid, typ, scope, name in self.db.execute(
                "SELECT s.id, s.type, s.scope, c.name FROM segments s JOIN collections c ON s.collection = c.id"):
            self.seg[(name, scope)] = sid
        self.db.execute("PRAGMA synchronous=OFF")
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(embeddings_queue)")}
        self.has_queue = "vector" in cols
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master")}
        self.has_fts = "embedding_fulltext_search" in tables
        self.next_seq = (self.db.execute("SELECT coalesce(max(seq_id), 0) FROM embeddings_queue").fetchone()[0]
                         if self.has_queue else 0) + 1

    def add_doc(self, rng, doc_id, nchunks, meta):
        for coll, dim_bytes in (("research_papers_dense", 4 * DENSE_DIM), ("research_papers_sparse", 0)):
            meta_seg = self.seg.get((coll, "METADATA"))
            vec_seg = self.seg.get((coll, "VECTOR"))
            if meta_seg is None:
                continue
            hnsw_rec = bytearray()
            for n in range(nchunks):
                eid = f"{doc_id}_{n}"
                seq = self.next_seq
                self.next_seq += 1
                chunk = text(rng, CHUNK_TEXT) if dim_bytes else ""
                if dim_bytes:
                    vec = floats(rng, DENSE_DIM)
                else:  # sparse: a few hundred (index, weight) pairs
                    k = 200
                    vec = struct.pack(f"<{k}I", *sorted(rng.sample(range(30000), k))) + floats(rng, k)
                cur = self.db.execute("INSERT INTO embeddings (segment_id, embedding_id, seq_id) VALUES (?, ?, ?)",
                                      (meta_seg, eid, struct.pack(">Q", seq)))
                rid = cur.lastrowid
                md = [("doc_id", doc_id, None), ("chunk_id", None, n), ("paragraph_index", None, n),
                      ("title", meta.get("title", ""), None), ("original_filename", meta.get("original_filename", ""), None)]
                if chunk:
                    md.append(("chroma:document", chunk, None))
                if chunk and self.has_fts:
                    self.db.execute("INSERT INTO embedding_fulltext_search (rowid, string_value) VALUES (?, ?)", (rid, chunk))
                self.db.executemany("INSERT INTO embedding_metadata (id, key, string_value, int_value) VALUES (?, ?, ?, ?)",
                                    [(rid, k, s, i) for k, s, i in md])
                if self.has_queue:
                    self.db.execute("INSERT INTO embeddings_queue (seq_id, operation, topic, id, vector, encoding, metadata)"
                                    " VALUES (?, 0, ?, ?, ?, 'FLOAT32', ?)",
                                    (seq, f"persistent://default/default/{coll}", eid, vec, json.dumps({"doc_id": doc_id, "chunk_id": n})))
                # HNSW level-0 record: 32 links (4 B each) + the vector + the label.
                hnsw_rec += rng.randbytes(4 + 32 * 4) + (vec if dim_bytes else vec[:800]) + struct.pack("<Q", seq)
            if vec_seg:
                d = os.path.join(self.vdir, vec_seg)
                with open(os.path.join(d, "data_level0.bin"), "ab") as f:
                    f.write(hnsw_rec)
                with open(os.path.join(d, "length.bin"), "ab") as f:
                    f.write(struct.pack("<I", 0) * nchunks)
                with open(os.path.join(d, "link_lists.bin"), "ab") as f:
                    f.write(rng.randbytes(nchunks // 16 * 68))
                size = os.path.getsize(os.path.join(d, "data_level0.bin"))
                with open(os.path.join(d, "header.bin"), "wb") as f:
                    f.write(struct.pack("<QQQQ", size, self.next_seq, nchunks, 16) + b"\0" * 64)

    def commit(self):
        self.db.execute("INSERT OR REPLACE INTO max_seq_id VALUES (?, ?)",
                        (self.seg.get(("research_papers_dense", "METADATA"), ""), struct.pack(">Q", self.next_seq - 1)))
        self.db.commit()


def iso(rng, day=0):
    return f"2025-{5 + day // 28:02d}-{1 + day % 28:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}"


def add_document(rng, root, paths, main, ai, chroma, user_id, day=0):
    doc_id = "%08x" % rng.getrandbits(32)
    fname = f"paper_{doc_id}_{rng.choice(WORDS)}.pdf"
    pdf_size = rng.randrange(400 << 10, 2400 << 10)
    pdf_path = os.path.join(paths["pdfs"], f"{doc_id}_{fname}")
    with open(pdf_path, "wb") as f:
        f.write(pdf_bytes(rng, pdf_size))
    meta = {"doc_id": doc_id, "original_filename": fname, "title": text(rng, 80).strip(),
            "authors": [text(rng, 20).strip() for _ in range(3)], "journal_or_source": "arXiv",
            "publication_year": 2015 + rng.randrange(10), "abstract": text(rng, 1200), "keywords": rng.sample(WORDS, 6)}
    with open(os.path.join(paths["markdown"], f"{doc_id}.md"), "w") as f:
        f.write("# " + meta["title"] + "\n\n" + text(rng, rng.randrange(40 << 10, 80 << 10)))
    with open(os.path.join(paths["metadata"], f"{doc_id}.json"), "w") as f:
        json.dump(meta, f, indent=2)
    ts = iso(rng, day)
    main.execute("INSERT INTO documents (id, user_id, original_filename, metadata_, created_at, updated_at,"
                 " processing_status, upload_progress, file_size, file_path) VALUES (?,?,?,?,?,?,?,?,?,?)",
                 (doc_id, user_id, fname, json.dumps(meta), ts, ts, "completed", 100, pdf_size,
                  os.path.relpath(pdf_path, root)))
    ai.execute("INSERT INTO processed_documents VALUES (?, ?, ?, ?)", (doc_id, fname, ts, json.dumps(meta)))
    chroma.add_doc(rng, doc_id, CHUNKS_PER_DOC, meta)
    return pdf_size


def store_paths(root):
    aib = "ai_researcher"
    if not os.path.isdir(os.path.join(root, aib)) and os.path.isdir(os.path.join(root, "maestro_backend", aib)):
        aib = os.path.join("maestro_backend", aib)
    main = next((p for p in ("maestro_backend/data/maestro.db", "data/maestro.db") if os.path.exists(os.path.join(root, p))),
                "maestro_backend/data/maestro.db")
    j = lambda *p: os.path.join(root, *p)
    return {"main": j(main), "ai": j(aib, "data/processed/metadata.db"), "vector": j(aib, "data/vector_store"),
            "pdfs": j(aib, "data/raw_pdfs"), "markdown": j(aib, "data/processed/markdown"),
            "metadata": j(aib, "data/processed/metadata")}


def main():
    root, target = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 42
    migr = sys.argv[4] if len(sys.argv) > 4 else os.path.join(os.path.dirname(__file__), "../../migrations")
    rng = random.Random(seed)
    paths = store_paths(root)
    for k in ("pdfs", "markdown", "metadata", "vector"):
        os.makedirs(paths[k], exist_ok=True)
    os.makedirs(os.path.dirname(paths["main"]), exist_ok=True)
    main_db, ai_db = sqlite3.connect(paths["main"]), sqlite3.connect(paths["ai"])
    apply_migration(main_db, os.path.join(migr, "main/0001_initial.sql"))
    apply_migration(ai_db, os.path.join(migr, "ai/0001_initial.sql"))
    for db in (main_db, ai_db):
        db.execute("PRAGMA synchronous=OFF")
    for u in range(1, 6):
        main_db.execute("INSERT INTO users (id, username, hashed_password, full_name, created_at, settings)"
                        " VALUES (?,?,?,?,?,?)", (u, f"user{u}", "$2b$12$" + rng.randbytes(20).hex(), f"User {u}",
                                                  iso(rng), "{}"))
    chroma = Chroma(paths["vector"], create=True, rng=rng)
    total, ndocs = 0, 0
    # Each document adds ~1.4 MiB PDF + ~0.7 MiB elsewhere; stop at the target.
    while total < target:
        add_document(rng, root, paths, main_db, ai_db, chroma, 1 + ndocs % 5)
        ndocs += 1
        if ndocs % 5 == 0:
            chroma.commit(); main_db.commit(); ai_db.commit()
            total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs)
    # Chats and messages: the conversational part of main.
    for c in range(ndocs // 2):
        cid = str(uuid.UUID(int=rng.getrandbits(128)))
        main_db.execute("INSERT INTO chats (id, user_id, title, created_at, updated_at) VALUES (?,?,?,?,?)",
                        (cid, 1 + c % 5, text(rng, 40), iso(rng), iso(rng)))
        main_db.executemany("INSERT INTO messages VALUES (?,?,?,?,?)",
                            [(str(uuid.UUID(int=rng.getrandbits(128))), cid, text(rng, 600), r, iso(rng))
                             for r in ("user", "assistant") * 4])
    chroma.commit(); main_db.commit(); ai_db.commit()
    print(f"gen_demo: {ndocs} documents, {ndocs * CHUNKS_PER_DOC} chunks per collection, ~{total >> 20} MiB under {root}")


if __name__ == "__main__":
    main()
