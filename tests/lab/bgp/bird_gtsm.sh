#!/usr/bin/env bash
# Lab: GTSM (RFC 5082) between bgp_peer --gtsm and BIRD 2.
#   bird_gtsm.sh <path-to-bgp_peer> both|ours-only|ours-only-listen
#   both:             BIRD `ttl security on` (TTL 255 out, minimum TTL 255 in) and bgp_peer
#                     --gtsm: the session comes up and 10.0.0.0/16 arrives.
#   ours-only:        BIRD without ttl security sends with TTL 1 (its eBGP default); bgp_peer
#                     connects with --gtsm. Linux lets the SYN-ACK of our own connect through
#                     (observed on 6.x: IP_MINTTL is not applied to it), so TCP comes up, but
#                     every segment BIRD sends after that (its OPEN) is dropped by our kernel
#                     (IP_MINTTL 254): bgp_peer stays in OpenSent, BIRD's hold timer expires, no
#                     session; TcpExtTCPMinTTLDrop counts the drops.
#   ours-only-listen: the same with BIRD connecting to a listening bgp_peer: its SYNs are dropped.
# Needs root, iproute2 (ip, nstat) and bird2. Fails (never skips) when something is missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

usage="usage: bird_gtsm.sh <bgp_peer> both|ours-only|ours-only-listen"
tool=${1:?$usage}
mode=${2:?$usage}
bird_as=64512
local_as=65010

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip nstat bird birdc; do command -v "$c" >/dev/null || fail "$c not installed (apt-get install bird2 iproute2)"; done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"
case $mode in both|ours-only|ours-only-listen) ;; *) fail "$usage" ;; esac

id=$$
ns_bird=cgwd-birdtt-$id
ns_us=cgwd-peertt-$id
veth_bird=vtb$id
veth_us=vtu$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-gtsm.XXXXXX)
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

ttl_security=off
[ "$mode" = both ] && ttl_security=on
passive=on
[ "$mode" = ours-only-listen ] && passive=off
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
    passive $passive;
    connect delay time 1;
    connect retry time 2;
    ttl security $ttl_security;
    ipv4 { import all; export where source = RTS_STATIC; };
}
CONF

ip netns exec "$ns_bird" bird -c "$tmp/bird.conf" -s "$ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start"
wait_for 10 birdc -s "$ctl" show status || { dump; fail "bird control socket not up"; }

drops() { ip netns exec "$ns_us" nstat -az TcpExtTCPMinTTLDrop | awk '/TCPMinTTLDrop/ {print $2}'; }
ip netns exec "$ns_us" nstat -n >/dev/null  # fresh namespace: counters start at 0 anyway

endpoint=(--connect 10.99.0.1)
[ "$mode" = ours-only-listen ] && endpoint=(--listen 10.99.0.2 --peer-address 10.99.0.1)
timeout=30
[ "$mode" != both ] && timeout=10
ip netns exec "$ns_us" "$tool" --local-as $local_as --peer-as $bird_as --router-id 10.99.0.2 \
    "${endpoint[@]}" --local-address 10.99.0.2 --hold 9 --gtsm \
    --expect-prefix 10.0.0.0/16 --timeout $timeout >"$tmp/peer.out" 2>&1 &
peer_pid=$!

rc=0
for _ in $(seq $((timeout * 5 + 50))); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
wait "$peer_pid" || rc=$?
peer_pid=""
dropped=$(drops)

if [ "$mode" = both ]; then
    [ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc: no session with GTSM on both sides"; }
    grep -q "^route 10.0.0.0/16 next-hop 10.99.0.1 " "$tmp/peer.out" || { dump; fail "route not received"; }
    [ "${dropped:-0}" -eq 0 ] || { dump; fail "$dropped segments dropped for low TTL"; }
else
    [ $rc -ne 0 ] || { dump; fail "bgp_peer reached its goal although BIRD sends TTL 1"; }
    if grep -q "^state Established" "$tmp/peer.out"; then dump; fail "session came up"; fi
    if birdc -s "$ctl" show protocols cgw | grep -q Established; then dump; fail "BIRD Established"; fi
    [ "${dropped:-0}" -gt 0 ] || { dump; fail "no TcpExtTCPMinTTLDrop: refused for another reason?"; }
fi

echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "TcpExtTCPMinTTLDrop in our namespace: ${dropped:-0}"
echo "PASS: GTSM $mode with BIRD"
