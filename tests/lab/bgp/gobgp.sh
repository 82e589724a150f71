#!/usr/bin/env bash
# Lab: BGP interop between bgp_peer (bgp/tools/bgp_peer.cpp: our Session FSM + Rib) and GoBGP.
#   gobgp.sh <path-to-bgp_peer>
# Two network namespaces joined by a veth pair; gobgpd (AS 64512, passive) gets 10.0.0.0/16
# with MED 50 through `gobgp global rib add`; bgp_peer (AS 65010) must reach Established,
# receive it with AS_PATH 64512 and MED 50, announce 10.10.0.0/16 (which `gobgp global rib`
# must list with AS_PATH 65010), then see the withdraw after `gobgp global rib del`.
# Needs root, iproute2 and gobgpd. Fails (never skips) when something is missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: gobgp.sh <bgp_peer>}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip gobgpd gobgp; do command -v "$c" >/dev/null || fail "$c not installed (apt-get install gobgpd iproute2)"; done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"

id=$$
ns_gobgp=cgwd-gobgp-$id
ns_us=cgwd-gpeer-$id
veth_gobgp=vgg$id
veth_us=vgu$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-gobgp.XXXXXX)
peer_pid=""
gobgpd_pid=""
api=127.0.0.1:50051  # inside the GoBGP namespace: unique per run
cli() { ip netns exec "$ns_gobgp" gobgp "$@"; }  # default target 127.0.0.1:50051

cleanup() {
    set +e
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    [ -n "$gobgpd_pid" ] && kill "$gobgpd_pid" 2>/dev/null && wait "$gobgpd_pid" 2>/dev/null
    ip netns del "$ns_gobgp" 2>/dev/null
    ip netns del "$ns_us" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

dump() {
    echo "--- bgp_peer output"; cat "$tmp/peer.out" 2>/dev/null
    echo "--- gobgpd log"; tail -n 40 "$tmp/gobgpd.log" 2>/dev/null
}


veth_pair "$ns_gobgp" "$ns_us" "$veth_gobgp" "$veth_us" 10.99.0.1/30 10.99.0.2/30

cat >"$tmp/gobgpd.toml" <<CONF
[global.config]
  as = 64512
  router-id = "10.99.0.1"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.99.0.2"
    peer-as = 65010
  [neighbors.transport.config]
    passive-mode = true
CONF

ip netns exec "$ns_gobgp" gobgpd -f "$tmp/gobgpd.toml" -t toml -p --api-hosts "$api" \
    --pprof-disable >"$tmp/gobgpd.log" 2>&1 &
gobgpd_pid=$!
wait_for 15 cli global || { dump; fail "gobgpd API not up"; }
cli global rib add 10.0.0.0/16 med 50 -a ipv4 >/dev/null || { dump; fail "gobgp rib add"; }

ip netns exec "$ns_us" "$tool" --local-as 65010 --peer-as 64512 --router-id 10.99.0.2 \
    --connect 10.99.0.1 --local-address 10.99.0.2 --hold 9 --announce 10.10.0.0/16 \
    --expect-prefix 10.0.0.0/16 --expect-as-path 64512 --expect-med 50 \
    --expect-withdraw 10.0.0.0/16 --timeout 60 >"$tmp/peer.out" 2>&1 &
peer_pid=$!

wait_for 30 grep -q "^state Established peer-as 64512 " "$tmp/peer.out" \
    || { dump; fail "session did not reach Established"; }
wait_for 30 grep -q "^route 10.0.0.0/16 next-hop 10.99.0.1 as-path 64512 med 50 " "$tmp/peer.out" \
    || { dump; fail "10.0.0.0/16 with AS_PATH 64512 and MED 50 not received"; }

gobgp_has_route() {
    cli global rib -a ipv4 10.10.0.0/16 >"$tmp/route.txt" 2>&1
    grep -E "10\.10\.0\.0/16 +10\.99\.0\.2 +65010 " "$tmp/route.txt"
}
wait_for 20 gobgp_has_route || { cat "$tmp/route.txt"; dump; fail "GoBGP did not learn 10.10.0.0/16 from us"; }

cli global rib del 10.0.0.0/16 -a ipv4 >/dev/null || fail "gobgp rib del"
rc=0
for _ in $(seq 150); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
wait "$peer_pid" || rc=$?
peer_pid=""
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc (withdraw not seen?)"; }
grep -q "^withdraw 10.0.0.0/16$" "$tmp/peer.out" || { dump; fail "withdraw not printed"; }

echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "--- gobgp global rib"; cat "$tmp/route.txt"
echo "PASS: BGP with GoBGP"
