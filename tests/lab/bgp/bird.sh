#!/usr/bin/env bash
# Lab: BGP interop between bgp_peer (bgp/tools/bgp_peer.cpp: our Session FSM + Rib) and BIRD 2.
#   bird.sh <path-to-bgp_peer> [bird-asn]
# Two network namespaces joined by a veth pair; BIRD (AS 64512 by default, or the given ASN,
# e.g. 4200000001 for the RFC 6793 4-octet case) announces 10.0.0.0/16 from a static protocol
# with MED 50; bgp_peer (AS 65010) must reach Established, receive 10.0.0.0/16 with AS_PATH
# "<bird-asn>" and MED 50, announce 10.10.0.0/16 (which `birdc show route` must list with
# AS_PATH 65010), then see the withdraw when the static protocol is disabled.
# Needs root, iproute2 and bird2. Fails (never skips) when something is missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: bird.sh <bgp_peer> [bird-asn]}
bird_as=${2:-64512}
local_as=65010

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip bird birdc; do command -v "$c" >/dev/null || fail "$c not installed (apt-get install bird2 iproute2)"; done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"

id=$$
ns_bird=cgwd-bird-$id
ns_us=cgwd-peer-$id
veth_bird=vbb$id
veth_us=vbu$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-bird.XXXXXX)
peer_pid=""

trap bird_lab_cleanup EXIT

dump() {
    echo "--- bgp_peer output"; cat "$tmp/peer.out" 2>/dev/null
    echo "--- bird log"; cat "$tmp/bird.log" 2>/dev/null
    echo "--- birdc show protocols all cgw"
    birdc -s "$tmp/bird.ctl" show protocols all cgw 2>/dev/null
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
filter to_cgw {
    if net = 10.0.0.0/16 then { bgp_med = 50; accept; }
    reject;
}
protocol bgp cgw {
    local 10.99.0.1 as $bird_as;
    neighbor 10.99.0.2 as $local_as;
    passive on;
    ipv4 { import all; export filter to_cgw; };
}
CONF

ip netns exec "$ns_bird" bird -c "$tmp/bird.conf" -s "$tmp/bird.ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start"
wait_for 10 birdc -s "$tmp/bird.ctl" show status || { dump; fail "bird control socket not up"; }

ip netns exec "$ns_us" "$tool" --local-as $local_as --peer-as "$bird_as" --router-id 10.99.0.2 \
    --connect 10.99.0.1 --local-address 10.99.0.2 --hold 9 --announce 10.10.0.0/16 \
    --expect-prefix 10.0.0.0/16 --expect-as-path "$bird_as" --expect-med 50 \
    --expect-withdraw 10.0.0.0/16 --timeout 60 >"$tmp/peer.out" 2>&1 &
peer_pid=$!

wait_for 30 grep -q "^state Established peer-as $bird_as " "$tmp/peer.out" \
    || { dump; fail "session did not reach Established"; }
wait_for 30 grep -q "^route 10.0.0.0/16 next-hop 10.99.0.1 as-path $bird_as med 50 " "$tmp/peer.out" \
    || { dump; fail "10.0.0.0/16 with AS_PATH $bird_as and MED 50 not received"; }
grep -q "^fib 10.0.0.0/16 via 10.99.0.1$" "$tmp/peer.out" || { dump; fail "no FIB change for 10.0.0.0/16"; }
birdc -s "$tmp/bird.ctl" show protocols cgw | grep -q Established \
    || { dump; fail "BIRD does not see the session Established"; }

bird_has_route() {
    birdc -s "$tmp/bird.ctl" show route 10.10.0.0/16 all >"$tmp/route.txt" 2>&1
    grep -q "10.10.0.0/16" "$tmp/route.txt" && grep -q "BGP.as_path: $local_as\$" "$tmp/route.txt" \
        && grep -q "BGP.next_hop: 10.99.0.2" "$tmp/route.txt"
}
wait_for 20 bird_has_route || { cat "$tmp/route.txt"; dump; fail "BIRD did not learn 10.10.0.0/16 from us"; }

birdc -s "$tmp/bird.ctl" disable s_aws >/dev/null || fail "birdc disable s_aws"
rc=0
for _ in $(seq 150); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
wait "$peer_pid" || rc=$?
peer_pid=""
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc (withdraw not seen?)"; }
grep -q "^withdraw 10.0.0.0/16$" "$tmp/peer.out" || { dump; fail "withdraw not printed"; }
grep -q "^fib 10.0.0.0/16 remove$" "$tmp/peer.out" || { dump; fail "no FIB removal"; }

echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "PASS: BGP with BIRD (AS $bird_as)"
