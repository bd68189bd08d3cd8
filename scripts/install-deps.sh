#!/usr/bin/env bash
# Installs the Debian 12 packages maestro-db needs to build and test, if any is missing.
# Runs apt-get only when something is absent, so it is fast and offline-safe on a
# machine that already has everything. Needs root (or sudo) for the install itself.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libsqlite3-dev sqlite3 liblmdb-dev libzstd-dev zstd libxxhash-dev
      libsodium-dev               # encryption at rest: XChaCha20-Poly1305, Argon2id, BLAKE2b (snapshot/crypto.h)
      libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
      clang libclang-rt-14-dev    # clang + libFuzzer: the fuzz targets' replay in test.sh
      fiu-utils                   # fiu-run: libfiu POSIX fault injection (tests/reliability_fiu_test.cc)
      rclone                      # rclone:REMOTE:PATH repositories (snapshot/rclone_backend.h)
      openssh-server openssh-client)  # sshd + ssh-keygen: the SFTP servers of the remote suites (tests/sftp_server.h)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
