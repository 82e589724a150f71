#!/usr/bin/env bash
# Lab: BFD (RFC 5880/5881) between bgp_peer (--bfd) and BIRD 2 (protocol bfd + `bfd on`),
# 300 ms x 3 on both ends.
#   bird_bfd.sh <path-to-bgp_peer> [cut]
# Both BFD sessions must come Up and BGP reach Established; then the path is cut silently (cut
# "nft", the default: an nftables rule in BIRD's namespace drops everything both ways; cut
# "link": `ip link set down` of BIRD's veth end). BFD must take our BGP session down less than
# 1 s after the cut; the measured time is printed. Needs root, iproute2, nftables and bird2.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: bird_bfd.sh <bgp_peer> [nft|link]}
cut=${2:-nft}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip nft bird birdc date; do
    command -v "$c" >/dev/null || fail "$c not installed (apt-get install bird2 iproute2 nftables)"
done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"

id=$$
ns_bird=cgwd-bfdb-$id
ns_us=cgwd-bfdp-$id
veth_bird=vfb$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-bfd.XXXXXX)
peer_pid=""

trap bird_lab_cleanup EXIT

dump() {
    echo "--- bgp_peer output"; cat "$tmp/peer.out" 2>/dev/null
    echo "--- bird log"; cat "$tmp/bird.log" 2>/dev/null
    echo "--- birdc show bfd sessions"; birdc -s "$tmp/bird.ctl" show bfd sessions 2>/dev/null
}

veth_pair "$ns_bird" "$ns_us" "$veth_bird" "vfu$id" 10.99.0.1/30 10.99.0.2/30

cat >"$tmp/bird.conf" <<CONF
log "$tmp/bird.log" all;
router id 10.99.0.1;
protocol device { }
protocol static s_aws { ipv4; route 10.0.0.0/16 blackhole; }
protocol bfd {
    interface "$veth_bird" { interval 300 ms; multiplier 3; };
    debug { states };
}
protocol bgp cgw {
    local 10.99.0.1 as 64512;
    neighbor 10.99.0.2 as 65010;
    passive on;
    bfd on;
    debug { states };
    ipv4 { import all; export all; };
}
CONF
ip netns exec "$ns_bird" bird -c "$tmp/bird.conf" -s "$tmp/bird.ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start"
wait_for 10 birdc -s "$tmp/bird.ctl" show status || { dump; fail "bird control socket not up"; }

ip netns exec "$ns_us" "$tool" --local-as 65010 --peer-as 64512 --router-id 10.99.0.2 \
    --connect 10.99.0.1 --local-address 10.99.0.2 --hold 9 --expect-prefix 10.0.0.0/16 \
    --bfd --bfd-interval 300 --bfd-mult 3 --wait-bfd-down --timeout 50 >"$tmp/peer.out" 2>&1 &
peer_pid=$!

wait_for 20 grep -q "^state Established" "$tmp/peer.out" || { dump; fail "BGP not Established"; }
wait_for 20 grep -q "^bfd up" "$tmp/peer.out" || { dump; fail "our BFD session not Up"; }
bird_bfd_up() {
    birdc -s "$tmp/bird.ctl" show bfd sessions >"$tmp/bfd.txt" 2>&1
    grep -Eq "^10\.99\.0\.2 +$veth_bird +Up +[^ ]+ +0\.300 +0\.900" "$tmp/bfd.txt"
}
wait_for 20 bird_bfd_up || { cat "$tmp/bfd.txt"; dump; fail "BIRD's BFD session not Up at 300 ms x 3"; }
sleep 2  # a few steady 300 ms intervals
grep -q "^bfd down" "$tmp/peer.out" && { dump; fail "BFD flapped before the cut"; }
cat "$tmp/bfd.txt"

cut_ms=$(($(date +%s%N) / 1000000))
case $cut in
    nft) ip netns exec "$ns_bird" nft -f - <<'NFT' || fail "nft rule"
table inet cgwd_cut {
    chain in { type filter hook input priority -300; policy drop; }
    chain out { type filter hook output priority -300; policy drop; }
}
NFT
    ;;
    link) ip -n "$ns_bird" link set "$veth_bird" down ;;
    *) fail "unknown cut $cut" ;;
esac

rc=0
for _ in $(seq 50); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
wait "$peer_pid" || rc=$?
peer_pid=""
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc (BFD did not take BGP down?)"; }
grep -q "^bfd down diag 1 control-detection-time-expired path-failure yes" "$tmp/peer.out" \
    || { dump; fail "no BFD detection-time expiry"; }
grep -q "^down local-reset notification 6/0" "$tmp/peer.out" || { dump; fail "BGP not reset by BFD"; }
down_ms=$(awk '/^bfd-took-bgp-down wall-ms/ { print $3 }' "$tmp/peer.out")
bfd_ms=$(awk '/^bfd down / { print $NF }' "$tmp/peer.out")
[ -n "$down_ms" ] || { dump; fail "no bfd-took-bgp-down line"; }
elapsed=$((down_ms - cut_ms))
echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "measured ($cut cut): BFD Down $((bfd_ms - cut_ms)) ms, BGP Down $elapsed ms after the cut"
[ "$elapsed" -lt 1000 ] || fail "BGP went down $elapsed ms after the cut (limit 1000 ms)"
echo "PASS: BFD with BIRD, cut to BGP down in $elapsed ms"
