#!/usr/bin/env bash
# Builds one statically linked maestro-db into ${BUILD_DIR:-build-static}/maestro-db:
# every library from Debian's static archives (libsqlite3.a, liblmdb.a, libzstd.a,
# libxxhash.a, and libsodium.a / libyaml-cpp.a where the build uses them) and
# static glibc, so it runs in MAESTRO's Ubuntu 22.04 backend image, which has none
# of them (README, "In the app's container").
#
# The link must not pull in glibc's NSS (getpwnam, getpwuid, getgrnam, getaddrinfo,
# gethostbyname ...): a static binary would dlopen the host's libnss_*.so for them
# at run time, which in another distribution's container fails. The script fails
# when the linker warns about one. The only accepted warning is dlopen from
# libsqlite3.a (SQLite's load_extension, which maestro-db never calls).
# Compiles with the default build's flags, so ccache serves most objects.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-static}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAESTRO_DB_STATIC=ON \
      -DMAESTRO_DB_BUILD_TESTS=OFF -DMAESTRO_DB_BUILD_BENCHMARKS=OFF >/dev/null
rm -f "$BUILD_DIR/maestro-db"  # relink: the warnings below come from the link step
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cmake --build "$BUILD_DIR" -j"${JOBS:-$(nproc)}" --target maestro-db 2>&1 | tee "$log" | grep -v '^\[' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "build-static: the build failed (log above)" >&2; exit 1; }
bad=$(grep -E "Using '[a-z_]+' in statically linked" "$log" | grep -v "Using 'dlopen'" || true)
if [ -n "$bad" ]; then
  echo "build-static: the static link uses glibc NSS functions, which need the host's shared" >&2
  echo "libnss at run time (replace the call, e.g. read /etc/passwd directly):" >&2
  echo "$bad" >&2
  exit 1
fi
bin="$BUILD_DIR/maestro-db"
if readelf -lW "$bin" | grep -q INTERP || readelf -dW "$bin" | grep -q NEEDED; then
  echo "build-static: $bin is still dynamically linked (it has a program interpreter or NEEDED libraries)" >&2
  exit 1
fi
strip --strip-debug "$bin"
echo "build-static: $bin ($(du -h "$bin" | cut -f1), statically linked)"
