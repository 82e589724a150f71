#!/usr/bin/env bash
# Lab: BGP + BFD interop between bgp_peer and FRR (zebra, bgpd, bfdd), IPv4 and IPv6 unicast.
#   frr.sh <path-to-bgp_peer>
# FRR runs privately in its own namespace: config, pid files, zserv and vty sockets all in a
# temp dir (never the system instance). FRR (AS 64512, passive, `neighbor ... bfd` with bfdd's
# default 300 ms x 3) announces 10.0.0.0/16 and 2001:db8:a::/48; bgp_peer (AS 65010, session
# over IPv4 with IPv6 unicast negotiated) announces 10.10.0.0/16 and 2001:db8:b::/48. Checked:
# routes both ways in both families, BFD Up on both ends, then an nftables cut in FRR's namespace
# must take our BGP down in under 1 s (measured time printed). Needs root, iproute2, nftables, frr.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: frr.sh <bgp_peer>}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
frr=/usr/lib/frr
id -u frr >/dev/null 2>&1 || fail "no frr user (apt-get install frr)"
for c in ip nft vtysh "$frr/zebra" "$frr/bgpd" "$frr/bfdd"; do
    command -v "$c" >/dev/null || fail "$c not installed (apt-get install frr iproute2 nftables)"
done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"

id=$$
ns_frr=cgwd-frr-$id
ns_us=cgwd-frrp-$id
veth_frr=vrf$id
veth_us=vru$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-frr.XXXXXX)
peer_pid=""

cleanup() {
    set +e
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    for d in bgpd bfdd zebra; do
        [ -s "$tmp/$d.pid" ] || continue
        stop_pid "$(cat "$tmp/$d.pid")"
    done
    ip netns del "$ns_frr" 2>/dev/null
    ip netns del "$ns_us" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

vty() { ip netns exec "$ns_frr" vtysh --vty_socket "$tmp" -c "$1"; }
dump() {
    echo "--- bgp_peer output"; cat "$tmp/peer.out" 2>/dev/null
    for d in zebra bgpd bfdd; do echo "--- $d log"; tail -n 30 "$tmp/$d.log" 2>/dev/null; done
    echo "--- show bgp summary"; vty "show bgp summary" 2>/dev/null
    echo "--- show bfd peers"; vty "show bfd peers" 2>/dev/null
}

veth_pair "$ns_frr" "$ns_us" "$veth_frr" "$veth_us" 10.99.0.1/30 10.99.0.2/30
ip -n "$ns_frr" addr add fd00:99::1/64 dev "$veth_frr" nodad
ip -n "$ns_us" addr add fd00:99::2/64 dev "$veth_us" nodad

cat >"$tmp/zebra.conf" <<CONF
hostname cgwd-frr-lab
log file $tmp/zebra.log
CONF
cat >"$tmp/bfdd.conf" <<CONF
log file $tmp/bfdd.log
CONF
cat >"$tmp/bgpd.conf" <<CONF
frr defaults traditional
log file $tmp/bgpd.log
router bgp 64512
 bgp router-id 10.99.0.1
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.99.0.2 remote-as 65010
 neighbor 10.99.0.2 passive
 neighbor 10.99.0.2 timers 3 9
 neighbor 10.99.0.2 bfd
 address-family ipv4 unicast
  network 10.0.0.0/16
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:a::/48
  neighbor 10.99.0.2 activate
 exit-address-family
CONF

# The daemons drop to the frr user (zebra cannot run without that), so it owns the temp dir.
chown frr:frr "$tmp"
common=(--vty_socket "$tmp" -z "$tmp/zserv.api" -P 0 -d)
ip netns exec "$ns_frr" "$frr/zebra" "${common[@]}" -f "$tmp/zebra.conf" -i "$tmp/zebra.pid" \
    || fail "zebra did not start"
wait_for 10 test -S "$tmp/zserv.api" || { dump; fail "zebra socket not up"; }
ip netns exec "$ns_frr" "$frr/bfdd" "${common[@]}" -f "$tmp/bfdd.conf" -i "$tmp/bfdd.pid" \
    --bfdctl "$tmp/bfdd.sock" || fail "bfdd did not start"
ip netns exec "$ns_frr" "$frr/bgpd" "${common[@]}" -f "$tmp/bgpd.conf" -i "$tmp/bgpd.pid" \
    || fail "bgpd did not start"
wait_for 10 vty "show bgp summary" || { dump; fail "bgpd vty not up"; }

ip netns exec "$ns_us" "$tool" --local-as 65010 --peer-as 64512 --router-id 10.99.0.2 \
    --connect 10.99.0.1 --local-address 10.99.0.2 --local-address-v6 fd00:99::2 --hold 9 \
    --announce 10.10.0.0/16 --announce 2001:db8:b::/48 \
    --expect-prefix 10.0.0.0/16 --expect-prefix 2001:db8:a::/48 --expect-as-path 64512 \
    --bfd --bfd-interval 300 --bfd-mult 3 --wait-bfd-down --timeout 50 >"$tmp/peer.out" 2>&1 &
peer_pid=$!

wait_for 20 grep -q "^state Established peer-as 64512" "$tmp/peer.out" || { dump; fail "not Established"; }
wait_for 20 grep -q "^route 10.0.0.0/16 next-hop 10.99.0.1 as-path 64512 " "$tmp/peer.out" \
    || { dump; fail "10.0.0.0/16 not received from FRR"; }
# (bgp_peer prints IPv6 prefixes uncompressed.)
wait_for 20 grep -q "^route 2001:db8:a:0:0:0:0:0/48 next-hop fd00:99::1 as-path 64512 " "$tmp/peer.out" \
    || { dump; fail "2001:db8:a::/48 (next hop fd00:99::1) not received from FRR"; }
frr_has() {  # frr_has FAMILY PREFIX NEXTHOP
    vty "show bgp $1 unicast $2" >"$tmp/route.txt" 2>&1
    grep -q "65010" "$tmp/route.txt" && grep -q "$3" "$tmp/route.txt"
}
wait_for 20 frr_has ipv4 10.10.0.0/16 10.99.0.2 || { cat "$tmp/route.txt"; dump; fail "FRR lacks 10.10.0.0/16"; }
wait_for 20 frr_has ipv6 2001:db8:b::/48 fd00:99::2 \
    || { cat "$tmp/route.txt"; dump; fail "FRR lacks 2001:db8:b::/48 via fd00:99::2"; }
wait_for 20 grep -q "^bfd up" "$tmp/peer.out" || { dump; fail "our BFD session not Up"; }
frr_bfd_up() {
    vty "show bfd peer 10.99.0.2" >"$tmp/bfd.txt" 2>&1
    grep -q "Status: up" "$tmp/bfd.txt" && grep -q "Transmission interval: 300ms" "$tmp/bfd.txt"
}
wait_for 20 frr_bfd_up || { cat "$tmp/bfd.txt"; dump; fail "bfdd's session not Up at 300 ms"; }
sleep 2
grep -q "^bfd down" "$tmp/peer.out" && { dump; fail "BFD flapped before the cut"; }
cat "$tmp/bfd.txt"

cut_ms=$(($(date +%s%N) / 1000000))
ip netns exec "$ns_frr" nft -f - <<'NFT' || fail "nft rule"
table inet cgwd_cut {
    chain in { type filter hook input priority -300; policy drop; }
    chain out { type filter hook output priority -300; policy drop; }
}
NFT
rc=0
for _ in $(seq 50); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
wait "$peer_pid" || rc=$?
peer_pid=""
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc (BFD did not take BGP down?)"; }
grep -q "^bfd down diag 1 control-detection-time-expired path-failure yes" "$tmp/peer.out" \
    || { dump; fail "no BFD detection-time expiry"; }
down_ms=$(awk '/^bfd-took-bgp-down wall-ms/ { print $3 }' "$tmp/peer.out")
[ -n "$down_ms" ] || { dump; fail "no bfd-took-bgp-down line"; }
elapsed=$((down_ms - cut_ms))
# FRR sends our own routes back (no sender-side loop check); RFC 4271 9.1.2: never installed.
! grep -Eq "^fib (10.10.0.0/16|2001:db8:b:)" "$tmp/peer.out" || { dump; fail "looped route installed"; }
echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "measured (nft cut, FRR): BGP Down $elapsed ms after the cut"
[ "$elapsed" -lt 1000 ] || fail "BGP went down $elapsed ms after the cut (limit 1000 ms)"
echo "PASS: BGP (IPv4 + IPv6) and BFD with FRR, cut to BGP down in $elapsed ms"
