#!/usr/bin/env bash
# scripts/dev/engine-move.sh — the file moves of issue 14 point 6/7 (engine/ cut
# into targets, the demo generator to tools/demo, the fault-injecting Env to
# tests/support), as a script so a rebase can redo them on files others edited.
#
#   scripts/dev/engine-move.sh mv        git mv every file (no content change): commit
#                                        this alone, so rename detection carries edits
#   scripts/dev/engine-move.sh includes  rewrites every #include "engine/x.h" (and the
#                                        moved util/ header) to the new path, in the
#                                        whole tree; commit this separately
#   scripts/dev/engine-move.sh check     lists includes still naming an old path
#
# Both steps are idempotent: a file already moved is skipped, a rewritten
# include is left as it is. After a rebase that brought new files, run
# `includes` again.
set -euo pipefail
cd "$(dirname "$0")/../.."

# old path (without extension) -> new path (without extension); .h and .cc both move.
MOVES=(
  # the stores: what is on disk and how to read, check and describe it
  engine/layout:engine/stores/layout
  engine/store_paths:engine/stores/store_paths
  engine/snapshot_sources:engine/stores/snapshot_sources
  engine/chroma:engine/stores/chroma
  engine/chroma_write:engine/stores/chroma_write
  engine/inventory:engine/stores/inventory
  engine/stats:engine/stores/stats
  engine/check:engine/stores/check
  engine/hnsw_format:engine/stores/hnsw_format
  engine/hnsw_check:engine/stores/hnsw_check
  engine/hnsw_store_check:engine/stores/hnsw_store_check
  engine/drill:engine/stores/drill
  engine/live_check:engine/stores/live_check
  engine/compose_file:engine/stores/compose_file
  engine/compose:engine/stores/compose
  engine/container:engine/stores/container
  engine/legacy_import:engine/stores/legacy_import
  # migrations: the SQL files, the history table, plans (no transaction here)
  engine/migrate:engine/migrate/migrate
  engine/schema:engine/migrate/schema
  engine/migrations_embedded:engine/migrate/migrations_embedded
  # transactions: the journaled runner, store moves and trash, and every kind
  engine/txn:engine/txn/txn
  engine/txn_args:engine/txn/txn_args
  engine/reset:engine/txn/reset
  engine/cleanup:engine/txn/cleanup
  engine/restore_txn:engine/txn/restore_txn
  engine/recover:engine/txn/recover
  engine/app_control:engine/txn/app_control
  # the scheduled service
  engine/schedule:engine/schedule/schedule
  engine/schedule_jobs:engine/schedule/schedule_jobs
  engine/schedule_drill:engine/schedule/schedule_drill
  engine/schedule_copy:engine/schedule/schedule_copy      # branch offsite, if merged first
  engine/schedule_notify:engine/schedule/schedule_notify  # branch offsite, if merged first
  # a tool, not the product's core
  engine/demo:tools/demo/demo
  # the fault-injecting Env is a test's tool: not linked into the binary
  util/fault_env:tests/support/fault_env
)

do_mv() {
  for m in "${MOVES[@]}"; do
    from=${m%%:*}; to=${m##*:}
    mkdir -p "$(dirname "$to")"
    for ext in h cc; do
      if [ -e "$from.$ext" ] && [ ! -e "$to.$ext" ]; then git mv "$from.$ext" "$to.$ext"; fi
    done
  done
}

# Every file that may name a moved header: sources, CMake, docs, scripts.
files_to_rewrite() {
  git ls-files -- '*.cc' '*.h' '*.md' '*.txt' '*.cmake' '*.sh' '*.json' | grep -v '^scripts/dev/engine-move.sh$'
}

do_includes() {
  local expr=()
  for m in "${MOVES[@]}"; do
    from=${m%%:*}; to=${m##*:}
    # "engine/layout.h" and `engine/layout.h` and engine/layout.cc, not engine/layout_x.h
    expr+=(-e "s#\\b${from}\\.\\(h\\|cc\\)\\b#${to}.\\1#g")
  done
  files_to_rewrite | while read -r f; do
    [ -f "$f" ] || continue
    sed -i "${expr[@]}" "$f"
  done
  # A rewrite must not double a prefix (engine/stores/stores/...) on a second run:
  # the old paths have no sub-folder, so the patterns above cannot match a new one.
}

do_check() {
  local bad=0
  for m in "${MOVES[@]}"; do
    from=${m%%:*}
    if files_to_rewrite | xargs grep -n "#include \"${from}\\.h\"" 2>/dev/null; then bad=1; fi
  done
  # A file another branch added at the top of engine/ belongs in one of its targets.
  for f in engine/*.h engine/*.cc; do
    [ -e "$f" ] || continue
    echo "engine-move: $f is in no engine target: add it to MOVES (stores/, migrate/, txn/ or schedule/)"; bad=1
  done
  [ "$bad" -eq 0 ] && echo "engine-move: no include names an old path"
  return $bad
}

case "${1:-}" in
  mv) do_mv ;;
  includes) do_includes ;;
  check) do_check ;;
  *) echo "usage: $0 mv|includes|check" >&2; exit 2 ;;
esac
