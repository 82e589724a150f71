#!/usr/bin/env bash
# Lab: TCP-MD5 (RFC 2385) between bgp_peer (--md5-key-file) and BIRD 2 (`password`).
#   bird_md5.sh <path-to-bgp_peer>
# BIRD (AS 64512, passive, a fresh random key per run) announces 10.0.0.0/16. Checked in order:
#   1. a key file that group/others can read is refused (exit 2), without printing the key;
#   2. a wrong key never reaches Established within 8 s: BIRD's kernel counts MD5 failures and
#      BIRD's log shows no session;
#   3. no key at all: the same, counted as "MD5 not found";
#   4. the right key: Established, 10.0.0.0/16 received, no new MD5 drops.
# The key never appears in bgp_peer's output. Needs root, iproute2 (ip, nstat) and bird2.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: bird_md5.sh <bgp_peer>}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip nstat bird birdc od; do
    command -v "$c" >/dev/null || fail "$c not installed (apt-get install bird2 iproute2 coreutils)"
done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"

id=$$
ns_bird=cgwd-md5b-$id
ns_us=cgwd-md5p-$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-md5.XXXXXX)
peer_pid=""

trap bird_lab_cleanup EXIT

dump() {
    for f in "$tmp"/peer-*.out; do echo "--- $f"; cat "$f"; done 2>/dev/null
    echo "--- bird log"; cat "$tmp/bird.log" 2>/dev/null
    echo "--- birdc show protocols all cgw"
    birdc -s "$tmp/bird.ctl" show protocols all cgw 2>/dev/null
}

# Kernel MD5 counters in BIRD's namespace (TcpExtTCPMD5NotFound / TcpExtTCPMD5Failure).
md5_counter() {
    ip netns exec "$ns_bird" nstat -az "TcpExt$1" | awk -v k="TcpExt$1" '$1 == k { print $2 }'
}

key=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
wrong=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
umask 077

veth_pair "$ns_bird" "$ns_us" "vmb$id" "vmu$id" 10.99.0.1/30 10.99.0.2/30

cat >"$tmp/bird.conf" <<CONF
log "$tmp/bird.log" all;
router id 10.99.0.1;
protocol device { }
protocol static s_aws { ipv4; route 10.0.0.0/16 blackhole; }
protocol bgp cgw {
    local 10.99.0.1 as 64512;
    neighbor 10.99.0.2 as 65010;
    passive on;
    password "$key";
    debug { states, events };
    ipv4 { import all; export all; };
}
CONF
ip netns exec "$ns_bird" bird -c "$tmp/bird.conf" -s "$tmp/bird.ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start"
wait_for 10 birdc -s "$tmp/bird.ctl" show status || { dump; fail "bird control socket not up"; }

peer() {  # peer NAME KEYFILE-ARGS... : runs bgp_peer to completion, output in peer-NAME.out
    local name=$1; shift
    rc=0
    ip netns exec "$ns_us" "$tool" --local-as 65010 --peer-as 64512 --router-id 10.99.0.2 \
        --connect 10.99.0.1 --local-address 10.99.0.2 --hold 9 --expect-prefix 10.0.0.0/16 \
        "$@" >"$tmp/peer-$name.out" 2>&1 || rc=$?
}
no_key_in_output() {
    ! grep -rq -e "$key" -e "$wrong" "$tmp"/peer-*.out || { dump; fail "a key was printed"; }
}

# 1. Permissions.
printf '%s\n' "$key" >"$tmp/open.key"
chmod 644 "$tmp/open.key"
peer mode --md5-key-file "$tmp/open.key" --timeout 5
[ $rc -eq 2 ] || { dump; fail "a 0644 key file was not refused (exit $rc)"; }
grep -q "chmod 600" "$tmp/peer-mode.out" || { dump; fail "no chmod hint for the 0644 key file"; }
no_key_in_output

# 2. Wrong key.
printf '%s\n' "$wrong" >"$tmp/wrong.key"
wrong_before=$(md5_counter TCPMD5Failure)
log_lines=$(wc -l <"$tmp/bird.log")
peer wrong --md5-key-file "$tmp/wrong.key" --timeout 8
[ $rc -ne 0 ] || { dump; fail "bgp_peer succeeded with the wrong key"; }
! grep -q "^state Established" "$tmp/peer-wrong.out" || { dump; fail "Established with the wrong key"; }
grep -q "^timeout state" "$tmp/peer-wrong.out" || { dump; fail "wrong key: no timeout reported"; }
wrong_after=$(md5_counter TCPMD5Failure)
[ "$wrong_after" -gt "$wrong_before" ] \
    || { dump; fail "BIRD's kernel counted no MD5 failure for the wrong key"; }
! tail -n +"$((log_lines + 1))" "$tmp/bird.log" | grep -Eq "cgw: (Incoming connection|State changed to up|BGP session established)" \
    || { dump; fail "BIRD saw a session with the wrong key"; }
no_key_in_output

# 3. No key.
not_found_before=$(md5_counter TCPMD5NotFound)
peer none --timeout 8
[ $rc -ne 0 ] && ! grep -q "^state Established" "$tmp/peer-none.out" \
    || { dump; fail "Established without a key"; }
[ "$(md5_counter TCPMD5NotFound)" -gt "$not_found_before" ] \
    || { dump; fail "BIRD's kernel counted no missing-MD5 segment"; }

# 4. Right key.
printf '%s\n' "$key" >"$tmp/right.key"
failures_before=$(md5_counter TCPMD5Failure)
peer right --md5-key-file "$tmp/right.key" --timeout 30
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc with the right key"; }
grep -q "^state Established peer-as 64512 " "$tmp/peer-right.out" || { dump; fail "not Established"; }
grep -q "^route 10.0.0.0/16 " "$tmp/peer-right.out" || { dump; fail "10.0.0.0/16 not received"; }
grep -q "cgw: State changed to up" "$tmp/bird.log" || { dump; fail "BIRD's log shows no session up"; }
[ "$(md5_counter TCPMD5Failure)" -eq "$failures_before" ] || { dump; fail "MD5 failures with the right key"; }
no_key_in_output

echo "--- bird log"; cat "$tmp/bird.log"
echo "--- bgp_peer output, right key"; cat "$tmp/peer-right.out"
echo "PASS: TCP-MD5 with BIRD (wrong key: $((wrong_after - wrong_before)) segments dropped)"
