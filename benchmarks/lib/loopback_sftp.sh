# benchmarks/lib/loopback_sftp.sh — a throwaway OpenSSH SFTP server on 127.0.0.1
# for shell benchmarks (sourced, not run). The same recipe as the remote test
# suites' tests/sftp_server.cc (a generated sshd_config, a fresh ed25519 host key
# and user key, internal-sftp only, the current user, host key pinned in a
# generated known_hosts), for scripts that cannot link the C++ helper.
#
#   . benchmarks/lib/loopback_sftp.sh
#   sftp_start DIR NAME    # keys, config and log in DIR (made); sets SFTP_PORT, SFTP_PID
#                          # and exports RCLONE_CONFIG_<NAME>_* for an rclone sftp remote
#   sftp_stop              # SIGKILLs sshd and every session process it started
#
# sftp_start returns 1 with the reason on stderr when sshd or ssh-keygen is
# missing or sshd does not start within 10 s. Callers put sftp_stop in an EXIT
# trap: it is safe to call twice, and when nothing was started.

SFTP_PID=
SFTP_PORT=

# A free TCP port on 127.0.0.1 (the kernel picks it; python3 is Debian's stock one).
_sftp_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Every descendant of pid $1, children before their parents' siblings (from /proc, via pgrep).
_sftp_descendants() {
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do
    echo "$c"
    _sftp_descendants "$c"
  done
}

sftp_start() {
  local dir=$1 name=$2 user attempt
  [[ -x /usr/sbin/sshd ]] || { echo "sftp_start: /usr/sbin/sshd missing (apt-get install openssh-server)" >&2; return 1; }
  command -v ssh-keygen >/dev/null || { echo "sftp_start: ssh-keygen missing (apt-get install openssh-client)" >&2; return 1; }
  mkdir -p "$dir" /run/sshd   # sshd refuses to start without its privilege-separation folder
  rm -f "$dir/host_key" "$dir/host_key.pub" "$dir/user_key" "$dir/user_key.pub"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$dir/user_key" || return 1
  cp "$dir/user_key.pub" "$dir/authorized_keys"
  user=$(id -un)
  for attempt in 1 2 3; do
    SFTP_PORT=$(_sftp_free_port)
    cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SFTP_PORT
HostKey $dir/host_key
PidFile none
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel INFO
EOF
    echo "[127.0.0.1]:$SFTP_PORT $(cat "$dir/host_key.pub")" >"$dir/known_hosts"
    /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 &
    SFTP_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do   # bounded: 10 s
      grep -q "Server listening on" "$dir/sshd.log" 2>/dev/null && break
      kill -0 "$SFTP_PID" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q "Server listening on" "$dir/sshd.log"; then
      local p
      p=RCLONE_CONFIG_$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
      export "${p}_TYPE=sftp" "${p}_HOST=127.0.0.1" "${p}_PORT=$SFTP_PORT" "${p}_USER=$user" \
        "${p}_KEY_FILE=$dir/user_key" "${p}_KNOWN_HOSTS_FILE=$dir/known_hosts" "${p}_SHELL_TYPE=none" \
        "${p}_MD5SUM_COMMAND=none" "${p}_SHA1SUM_COMMAND=none"
      return 0
    fi
    sftp_stop
  done
  echo "sftp_start: sshd did not start listening on 127.0.0.1 (see $dir/sshd.log):" >&2
  tail -3 "$dir/sshd.log" >&2
  return 1
}

sftp_stop() {
  [[ -n $SFTP_PID ]] || return 0
  local p
  for p in $(_sftp_descendants "$SFTP_PID"); do kill -KILL "$p" 2>/dev/null || true; done
  kill -KILL "$SFTP_PID" 2>/dev/null || true
  wait "$SFTP_PID" 2>/dev/null || true
  SFTP_PID=
}
