#!/usr/bin/env bash
# Lab: BGP graceful restart (RFC 4724), bgp_peer as the receiving speaker ("helper"), BIRD 2 as
# the restarting one.
#   bird_gr.sh <path-to-bgp_peer> on|off|birdc
# BIRD announces 10.0.0.0/16 and 10.1.0.0/16; bgp_peer advertises the GR capability (restart
# time 120 s, --reconnect). BIRD is killed with SIGKILL (no NOTIFICATION, the kernel closes the
# TCP connection), then started again with a configuration that no longer has 10.1.0.0/16.
#   on:  BIRD has `graceful restart on` and comes back with -R (restart recovery, R and F bits).
#        While BIRD is away bgp_peer keeps both routes stale and in its FIB; after BIRD's
#        End-of-RIB only 10.1.0.0/16 (not re-announced) is flushed, 10.0.0.0/16 never left.
#   birdc: as on, but BIRD goes away with `birdc graceful restart` (its own graceful shutdown:
#        sessions closed without NOTIFICATION, kernel routes kept) instead of SIGKILL.
#   off: BIRD has `graceful restart off` (no capability): both routes go the moment the TCP
#        connection closes.
# Needs root, iproute2 and bird2. Fails (never skips) when something is missing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: bird_gr.sh <bgp_peer> on|off|birdc}
mode=${2:?usage: bird_gr.sh <bgp_peer> on|off|birdc}
how=kill
[ "$mode" = birdc ] && { how=birdc; mode=on; }
bird_as=64512
local_as=65010

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip bird birdc; do command -v "$c" >/dev/null || fail "$c not installed (apt-get install bird2 iproute2)"; done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"
case $mode in on|off) ;; *) fail "mode must be on or off" ;; esac

id=$$
ns_bird=cgwd-birdgr-$id
ns_us=cgwd-peergr-$id
veth_bird=vgb$id
veth_us=vgu$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-gr.XXXXXX)
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

# bird_conf FILE ROUTES...: BIRD configuration announcing ROUTES toward bgp_peer.
bird_conf() {
    local file=$1; shift
    {
        echo "log \"$tmp/bird.log\" all;"
        echo "router id 10.99.0.1;"
        echo "protocol device { }"
        echo "protocol static s_aws {"
        echo "    ipv4;"
        for r in "$@"; do echo "    route $r blackhole;"; done
        echo "}"
        echo "protocol bgp cgw {"
        echo "    local 10.99.0.1 as $bird_as;"
        echo "    neighbor 10.99.0.2 as $local_as;"
        echo "    passive on;"
        echo "    graceful restart $mode;"
        echo "    graceful restart time 60;"
        echo "    ipv4 { import all; export where source = RTS_STATIC; };"
        echo "}"
    } >"$file"
}
# BIRD sends End-of-RIB only when GR is on: with it off, bgp_peer waits for the second session.
until="--until-eor 2"
[ "$mode" = off ] && until="--until-established 2"
bird_conf "$tmp/bird1.conf" 10.0.0.0/16 10.1.0.0/16
bird_conf "$tmp/bird2.conf" 10.0.0.0/16

ip netns exec "$ns_bird" bird -c "$tmp/bird1.conf" -s "$ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start"
wait_for 10 birdc -s "$ctl" show status || { dump; fail "bird control socket not up"; }

ip netns exec "$ns_us" "$tool" --local-as $local_as --peer-as $bird_as --router-id 10.99.0.2 \
    --connect 10.99.0.1 --local-address 10.99.0.2 --hold 9 --announce 10.10.0.0/16 \
    --graceful-restart 120 --reconnect $until \
    --expect-prefix 10.0.0.0/16 --expect-prefix 10.1.0.0/16 --timeout 60 >"$tmp/peer.out" 2>&1 &
peer_pid=$!

if [ "$mode" = on ]; then
    wait_for 30 grep -q "^eor ipv4$" "$tmp/peer.out" || { dump; fail "no End-of-RIB from BIRD"; }
fi
for p in 10.0.0.0/16 10.1.0.0/16; do
    wait_for 30 grep -q "^fib $p via 10.99.0.1$" "$tmp/peer.out" || { dump; fail "$p not installed"; }
done

# The restart: SIGKILL or BIRD's graceful shutdown; no NOTIFICATION either way.
bird_pid=$(cat "$tmp/bird.pid")
if [ "$how" = kill ]; then
    kill -9 "$bird_pid"
else
    birdc -s "$ctl" graceful restart >/dev/null || { dump; fail "birdc graceful restart"; }
    wait_for 10 sh -c "! kill -0 $bird_pid" || { dump; fail "BIRD did not exit"; }
fi
wait_for 10 grep -q "^down tcp-closed$" "$tmp/peer.out" || { dump; fail "bgp_peer did not see the TCP close"; }
sleep 2  # a restart window during which nothing may be flushed (GR on)
if [ "$mode" = on ]; then
    grep -q "^gr-stale ipv4 routes 2$" "$tmp/peer.out" || { dump; fail "routes not kept as stale"; }
    if grep -q " remove$" "$tmp/peer.out"; then dump; fail "a route left the FIB during the restart"; fi
else
    if grep -q "^gr-stale" "$tmp/peer.out"; then dump; fail "stale routes kept without GR"; fi
    for p in 10.0.0.0/16 10.1.0.0/16; do
        grep -q "^fib $p remove$" "$tmp/peer.out" || { dump; fail "$p not removed at once"; }
    done
fi

restart_flag=""
[ "$mode" = on ] && restart_flag=-R
rm -f "$ctl"
ip netns exec "$ns_bird" bird $restart_flag -c "$tmp/bird2.conf" -s "$ctl" -P "$tmp/bird.pid" \
    || fail "bird did not start again"

rc=0
for _ in $(seq 200); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
wait "$peer_pid" || rc=$?
peer_pid=""
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc (second End-of-RIB not seen?)"; }
[ "$(grep -c '^state Established' "$tmp/peer.out")" -eq 2 ] || { dump; fail "not re-established once"; }

if [ "$mode" = on ]; then
    grep -q "^stale-flush ipv4 reason end-of-rib removed 1$" "$tmp/peer.out" \
        || { dump; fail "End-of-RIB did not flush exactly the one stale route"; }
    grep -q "^fib 10.1.0.0/16 remove$" "$tmp/peer.out" || { dump; fail "10.1.0.0/16 not flushed"; }
    # The flush comes after the End-of-RIB, not before.
    eor_line=$(grep -n "^eor ipv4$" "$tmp/peer.out" | tail -1 | cut -d: -f1)
    rm_line=$(grep -n "^fib 10.1.0.0/16 remove$" "$tmp/peer.out" | cut -d: -f1)
    [ "$rm_line" -gt "$eor_line" ] || { dump; fail "10.1.0.0/16 flushed before End-of-RIB"; }
    if grep -q "^fib 10.0.0.0/16 remove$" "$tmp/peer.out"; then
        dump; fail "10.0.0.0/16 left the FIB although BIRD re-announced it"
    fi
fi

echo "--- bgp_peer output"; cat "$tmp/peer.out"
echo "PASS: BGP graceful restart $mode ($how) with BIRD"
