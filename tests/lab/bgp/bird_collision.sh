#!/usr/bin/env bash
# Lab: BGP connection collision (RFC 4271 section 6.8) between bgp_peer and BIRD 2.
#   bird_collision.sh <path-to-bgp_peer> higher|lower
# BIRD (router id 10.99.0.1) connects actively after 1 s; bgp_peer listens and connects
# (--connect + --listen --collide): the moment BIRD's connection is accepted, bgp_peer opens its
# own as well, so both TCP connections exist at once. Both sides must keep the same one, the one
# opened by the speaker with the higher BGP identifier, and close the other with CEASE /
# Connection Collision Resolution (6/7):
#   higher: bgp_peer's router id 10.200.0.1 > 10.99.0.1: the surviving connection is ours
#           (outgoing);
#   lower:  bgp_peer's router id 10.0.0.1 < 10.99.0.1: BIRD's (incoming) survives.
# The session is Established exactly once and 10.0.0.0/16 arrives over it.
# Needs root, iproute2 and bird2. Fails (never skips) when something is missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

usage="usage: bird_collision.sh <bgp_peer> higher|lower"
tool=${1:?$usage}
mode=${2:?$usage}
bird_as=64512
local_as=65010

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip bird birdc; do command -v "$c" >/dev/null || fail "$c not installed (apt-get install bird2 iproute2)"; done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"
case $mode in
    higher) rid=10.200.0.1; survivor=outgoing ;;
    lower) rid=10.0.0.1; survivor=incoming ;;
    *) fail "$usage" ;;
esac

id=$$
ns_bird=cgwd-birdcc-$id
ns_us=cgwd-peercc-$id
veth_bird=vcb$id
veth_us=vcu$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-collision.XXXXXX)
peer_pid=""
ctl=$tmp/bird.ctl

trap bird_lab_cleanup EXIT

dump() {
    echo "--- bgp_peer output"; cat "$tmp/peer.out" 2>/dev/null
    echo "--- bird log"; cat "$tmp/bird.log" 2>/dev/null
    echo "--- birdc show protocols all cgw"
    birdc -s "$ctl" show protocols all cgw 2>/dev/null
}

veth_pair "$ns_bird" "$ns_us" "$veth_bird" "$veth_us" 10.99.0.1/30 10.99.0.2/30

cat >"$tmp/bird.conf" <<CONF
log "$tmp/bird.log" all;
router id 10.99.0.1;
protocol device { }
protocol static s_aws {
    ipv4;
    route 10.0.0.0/16 blackhole;
}
protocol bgp cgw {
    local 10.99.0.1 as $bird_as;
    neighbor 10.99.0.2 as $local_as;
    connect delay time 1;
    debug { states, events };
    ipv4 { import all; export where source = RTS_STATIC; };
}
CONF

# bgp_peer listens first so that BIRD's first attempt is accepted.
ip netns exec "$ns_us" "$tool" --local-as $local_as --peer-as $bird_as --router-id $rid \
    --connect 10.99.0.1 --listen 10.99.0.2 --collide --local-address 10.99.0.2 --hold 9 \
    --expect-prefix 10.0.0.0/16 --timeout 30 >"$tmp/peer.out" 2>&1 &
peer_pid=$!
sleep 0.3
ip netns exec "$ns_bird" bird -c "$tmp/bird.conf" -s "$ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start"
wait_for 10 birdc -s "$ctl" show status || { dump; fail "bird control socket not up"; }

wait_for 20 grep -q "^connection " "$tmp/peer.out" || { dump; fail "not Established"; }
rc=0
for _ in $(seq 150); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
wait "$peer_pid" || rc=$?
peer_pid=""
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc"; }

grep -q "^collision " "$tmp/peer.out" || { dump; fail "no collision happened"; }
[ "$(grep -c '^state Established' "$tmp/peer.out")" -eq 1 ] || { dump; fail "not Established exactly once"; }
grep -q "^connection $survivor$" "$tmp/peer.out" \
    || { dump; fail "the wrong connection survived (expected the $survivor one)"; }
if grep -q "^down " "$tmp/peer.out"; then dump; fail "the session went down during the collision"; fi
[ "$(grep -c 'BGP session established' "$tmp/bird.log")" -eq 1 ] \
    || { dump; fail "BIRD did not establish exactly one session"; }

echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "--- bird log"; grep -i "collision\|Established\|Connected\|Incoming\|Error\|Received" "$tmp/bird.log" || true
echo "PASS: connection collision ($mode identifier) with BIRD"
