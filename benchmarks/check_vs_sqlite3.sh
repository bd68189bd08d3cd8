#!/usr/bin/env bash
# benchmarks/check_vs_sqlite3.sh — wall time of `maestro-db check` against the
# floor: the sqlite3 shell selecting the same id sets (documents, processed
# documents, every chunk with its doc_id metadata) plus listing the three file
# folders. Goal: check <= 1.5x the floor, memory proportional to ids.
#
# Env: MAESTRO_DB_BIN      the binary (default build/maestro-db)
#      BENCH_CACHE_DIR     where the demo install is built once and reused
#                          (default /tmp/maestro-bench-cache)
#      BENCH_DOCUMENTS     documents (default 100000)
#      BENCH_CHUNKS_PER_DOC chunks per completed document and collection
#                          (default 12: ~84% completed -> ~1,000,000 chunks)
#      BENCH_RUNS          timed runs of each side, best kept (default 3)
# Not a test: run by hand; results go into docs/check.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MAESTRO_DB_BIN:-$PWD/build/maestro-db}
CACHE=${BENCH_CACHE_DIR:-/tmp/maestro-bench-cache}
DOCS=${BENCH_DOCUMENTS:-100000}
CPD=${BENCH_CHUNKS_PER_DOC:-12}
RUNS=${BENCH_RUNS:-3}
ROOT=$CACHE/check-${DOCS}docs-${CPD}cpd
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no binary at $BIN (build first or set MAESTRO_DB_BIN)" >&2; exit 2; }

if [ ! -f "$ROOT.complete" ]; then
  rm -rf "$ROOT"; mkdir -p "$CACHE"
  echo "building the demo install once in $ROOT ..." >&2
  # Small PDFs and HNSW files: check reads neither, and the cache stays small.
  /usr/bin/env time -p "$BIN" demo create "$ROOT" --documents "$DOCS" --chunks-per-doc "$CPD" \
    --pdf-kib 1 --chunk-bytes 120 --hnsw-bytes-per-chunk 16 --seed 42 >&2
  touch "$ROOT.complete"
fi

MAIN=$ROOT/data/maestro.db
AI=$ROOT/ai_researcher/data/processed/metadata.db
CHROMA=$ROOT/ai_researcher/data/vector_store/chroma.sqlite3
FILES=$ROOT/ai_researcher/data
floor() {
  sqlite3 -readonly "$MAIN" "SELECT id, user_id, processing_status, created_at, updated_at, original_filename FROM documents" >/dev/null
  sqlite3 -readonly "$AI" "SELECT doc_id FROM processed_documents" >/dev/null
  sqlite3 -readonly "$CHROMA" "SELECT id, type, scope, collection FROM segments" >/dev/null
  sqlite3 -readonly "$CHROMA" "SELECT e.id, e.segment_id, e.embedding_id, m.string_value FROM embeddings e LEFT JOIN embedding_metadata m ON m.id = e.id AND m.key = 'doc_id'" >/dev/null
  ls -f "$FILES/raw_pdfs" "$FILES/raw_pdfs/word_documents" "$FILES/raw_pdfs/markdown_files" \
        "$FILES/processed/markdown" "$FILES/processed/metadata" >/dev/null
}
check() { "$BIN" --root "$ROOT" -q check >/dev/null || [ $? -eq 1 ]; }
now() { date +%s.%N; }
best() {  # best wall time of $RUNS runs of function $1
  local b=999999 t0 t1 d
  for _ in $(seq "$RUNS"); do
    t0=$(now); "$1"; t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l)
    b=$(echo "if ($d < $b) $d else $b" | bc -l)
  done
  printf '%.3f' "$b"
}

check; floor  # warm the page cache for both sides
F=$(best floor)
C=$(best check)
CHUNKS=$(sqlite3 -readonly "$CHROMA" "SELECT count(*) FROM embeddings")
echo "install: $DOCS documents, $CHUNKS embeddings (dense + sparse), $(du -sh "$ROOT" | cut -f1)"
echo "floor (sqlite3 + ls): ${F}s"
echo "maestro-db check:     ${C}s"
echo "ratio:                $(echo "scale=2; $C / $F" | bc -l)x (goal <= 1.5x)"
if [ -x /usr/bin/time ]; then
  RSS=$(/usr/bin/time -v "$BIN" --root "$ROOT" -q check 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
  echo "check peak RSS:       ${RSS} KiB"
else
  echo "check peak RSS:       (install 'time' for /usr/bin/time -v)"
fi
