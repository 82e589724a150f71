#!/usr/bin/env bash
# Lab: RFC 7606 treat-as-withdraw against malformed UPDATEs sent by ExaBGP.
#   exabgp.sh <path-to-bgp_peer>
# ExaBGP (AS 64520, private env/config/log in a temp dir, no system files) connects to bgp_peer
# (AS 65010, --listen) across a private netns pair. An API process drives ExaBGP in phases the
# test gates on bgp_peer's output:
#   1. good announcements: 10.1.0.0/24 (keeper) and the victims 10.2.0.0/24 .. 10.5.0.0/24;
#   2. each victim re-announced with one malformed path attribute, raw bytes given through
#      ExaBGP's generic `attribute [ code flags value ]` form (it replaces ExaBGP's own ORIGIN /
#      AS_PATH, so the wire attribute is exactly flags, code, length, value):
#        10.2.0.0/24  ORIGIN value 7 (undefined)               40 01 01 07        RFC 7606 7.1
#        10.3.0.0/24  ORIGIN length 2                           40 01 02 00 00     RFC 7606 7.1
#        10.4.0.0/24  AS_PATH segment count 2, one 4-octet AS   40 02 06 02 02 00 00 fb f8
#                     (segment overruns the attribute)                             RFC 7606 7.2
#        10.5.0.0/24  AS_PATH segment type 5 (undefined)        40 02 06 05 01 00 00 fb f8
#                                                                                  RFC 7606 7.2
#   3. a later good announcement 10.9.0.0/24.
# Checked: one `rfc7606 treat-as-withdraw` line per malformed UPDATE with the expected attribute
# type, each victim withdrawn (and removed from the FIB), no `down` line (no NOTIFICATION, no
# reset), 10.1.0.0/24 never withdrawn, and 10.9.0.0/24 still arrives on the same session.
# Needs root, iproute2, exabgp.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

tool=${1:?usage: exabgp.sh <bgp_peer>}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip exabgp; do
    command -v "$c" >/dev/null || fail "$c not installed (apt-get install exabgp iproute2)"
done
[ -x "$tool" ] || fail "bgp_peer not found at $tool"

id=$$
ns_exa=cgwd-exa-$id
ns_us=cgwd-exap-$id
veth_exa=vxa$id
veth_us=vxu$id
tmp=$(mktemp -d /tmp/cgwd-lab-bgp-exabgp.XXXXXX)
peer_pid=""
exa_pid=""

cleanup() {
    set +e
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    if [ -n "$exa_pid" ]; then
        stop_pid "$exa_pid"
        kill -9 "$exa_pid" 2>/dev/null
        wait "$exa_pid" 2>/dev/null
    fi
    ip netns del "$ns_exa" 2>/dev/null
    ip netns del "$ns_us" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

dump() {
    echo "--- bgp_peer output"; cat "$tmp/peer.out" 2>/dev/null
    echo "--- exabgp log (tail)"; tail -n 60 "$tmp/exabgp.log" 2>/dev/null
    echo "--- driver log"; cat "$tmp/driver.log" 2>/dev/null
}

veth_pair "$ns_exa" "$ns_us" "$veth_exa" "$veth_us" 10.98.0.1/30 10.98.0.2/30

# The API process: waits for the test's go files (bounded), prints ExaBGP commands, then stays
# alive until ExaBGP closes its stdin.
cat >"$tmp/driver.sh" <<DRIVER
#!/usr/bin/env bash
gate() {  # gate FILE: wait up to 30 s for the test to create FILE
    for _ in \$(seq 300); do [ -e "$tmp/\$1" ] && return 0; sleep 0.1; done
    echo "driver: gave up waiting for \$1" >>"$tmp/driver.log"; exit 1
}
say() { echo "\$1"; echo "\$1" >>"$tmp/driver.log"; }
nh="next-hop 10.98.0.1"
gate go1
say "announce route 10.1.0.0/24 \$nh"
for p in 2 3 4 5; do say "announce route 10.\$p.0.0/24 \$nh"; done
gate go2
say "announce route 10.2.0.0/24 \$nh attribute [ 0x01 0x40 0x07 ]"
say "announce route 10.3.0.0/24 \$nh attribute [ 0x01 0x40 0x0000 ]"
say "announce route 10.4.0.0/24 \$nh attribute [ 0x02 0x40 0x02020000fbf8 ]"
say "announce route 10.5.0.0/24 \$nh attribute [ 0x02 0x40 0x05010000fbf8 ]"
gate go3
say "announce route 10.9.0.0/24 \$nh"
while read -r _; do :; done
DRIVER
chmod 755 "$tmp/driver.sh"

cat >"$tmp/exabgp.conf" <<CONF
process driver {
    run $tmp/driver.sh;
    encoder text;
}
neighbor 10.98.0.2 {
    router-id 10.98.0.1;
    local-address 10.98.0.1;
    local-as 64520;
    peer-as 65010;
    hold-time 9;
    group-updates false;
    family {
        ipv4 unicast;
    }
    api {
        processes [ driver ];
    }
}
CONF
# Private environment: this file is read instead of any /etc/exabgp/exabgp.env, and the
# variables below override it in any case.
cat >"$tmp/exabgp.env" <<ENV
[exabgp.daemon]
user = 'root'
ENV
exa_env=(exabgp.daemon.user=root exabgp.daemon.daemonize=false exabgp.daemon.drop=false
         exabgp.daemon.pid= exabgp.log.destination=stdout exabgp.log.level=DEBUG
         exabgp.log.packets=true exabgp.log.message=true exabgp.api.cli=false
         exabgp.api.ack=false exabgp.api.respawn=false exabgp.tcp.bind= exabgp.tcp.once=true)

ip netns exec "$ns_us" "$tool" --local-as 65010 --peer-as 64520 --router-id 10.98.0.2 \
    --listen 10.98.0.2 --local-address 10.98.0.2 --hold 9 \
    --expect-prefix 10.1.0.0/24 --expect-prefix 10.9.0.0/24 \
    --expect-as-path 64520 \
    --expect-withdraw 10.2.0.0/24 --expect-withdraw 10.3.0.0/24 \
    --expect-withdraw 10.4.0.0/24 --expect-withdraw 10.5.0.0/24 \
    --timeout 45 >"$tmp/peer.out" 2>&1 &
peer_pid=$!
listening() { ip netns exec "$ns_us" ss -Htln "sport = :179" | grep -q .; }
wait_for 10 listening || { dump; fail "bgp_peer not listening"; }

(cd "$tmp" && exec env "${exa_env[@]}" ip netns exec "$ns_exa" \
    exabgp --env "$tmp/exabgp.env" "$tmp/exabgp.conf") >"$tmp/exabgp.log" 2>&1 &
exa_pid=$!

wait_for 20 grep -q "^state Established peer-as 64520" "$tmp/peer.out" \
    || { dump; fail "not Established with ExaBGP"; }
touch "$tmp/go1"
for p in 10.1 10.2 10.3 10.4 10.5; do
    wait_for 15 grep -q "^route $p.0.0/24 next-hop 10.98.0.1 as-path 64520 " "$tmp/peer.out" \
        || { dump; fail "good announcement $p.0.0/24 not received"; }
done
touch "$tmp/go2"
for p in 10.2 10.3 10.4 10.5; do
    wait_for 15 grep -q "^withdraw $p.0.0/24" "$tmp/peer.out" \
        || { dump; fail "malformed UPDATE for $p.0.0/24 not treated as withdraw"; }
done
touch "$tmp/go3"

rc=0
for _ in $(seq 150); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.1; done
wait "$peer_pid" || rc=$?
peer_pid=""
out=$tmp/peer.out
[ $rc -eq 0 ] || { dump; fail "bgp_peer exited $rc"; }
! grep -q "^down" "$out" || { dump; fail "session went down (malformed UPDATE reset the session)"; }
[ "$(grep -c "^state Established" "$out")" -eq 1 ] || { dump; fail "more than one session"; }
grep -q "^route 10.9.0.0/24 next-hop 10.98.0.1 as-path 64520 " "$out" \
    || { dump; fail "later good announcement not received"; }
! grep -Eq "^(withdraw 10.1.0.0/24|fib 10.1.0.0/24 remove)" "$out" \
    || { dump; fail "the good prefix 10.1.0.0/24 was withdrawn"; }
# One treat-as-withdraw per malformed UPDATE: ORIGIN (type 1) twice, AS_PATH (type 2) twice.
n1=$(grep -c "^rfc7606 treat-as-withdraw type 1 " "$out" || true)
n2=$(grep -c "^rfc7606 treat-as-withdraw type 2 " "$out" || true)
if [ "$n1" -ne 2 ] || [ "$n2" -ne 2 ]; then
    dump; fail "expected 2 ORIGIN + 2 AS_PATH treat-as-withdraw lines, got $n1 + $n2"
fi
for reason in "type 1 undefined ORIGIN value" "type 1 attribute length error" \
    "type 2 AS_PATH segment overruns attribute" "type 2 AS_PATH segment type undefined"; do
    grep -q "^rfc7606 treat-as-withdraw $reason" "$out" || { dump; fail "no '$reason'"; }
done
for p in 10.2 10.3 10.4 10.5; do
    grep -q "^fib $p.0.0/24 remove" "$out" || { dump; fail "$p.0.0/24 still in the FIB"; }
    ! grep -q "^route $p.0.0/24 .* origin [3-9]" "$out" || { dump; fail "bad route installed"; }
done
grep -q "^done" "$out" || { dump; fail "bgp_peer did not finish"; }

# The exact malformed UPDATEs on the wire (after the 16-octet marker), from ExaBGP's packet log:
# length, type 2, withdrawn length 0, path attribute length, ORIGIN, AS_PATH (4-octet ASes),
# NEXT_HOP 10.98.0.1, NLRI.
sent() { sed -n 's/.*sending TCP payload ([ 0-9]*) //p' "$tmp/exabgp.log" | tr -d ' '; }
sent >"$tmp/sent.hex"
for msg in \
    FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF002F02000000144001010740020602010000FC084003040A620001180A0200 \
    FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00300200000015400102000040020602010000FC084003040A620001180A0300 \
    FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF002F02000000144001010040020602020000FBF84003040A620001180A0400 \
    FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF002F02000000144001010040020605010000FBF84003040A620001180A0500; do
    grep -qx "$msg" "$tmp/sent.hex" || { dump; fail "ExaBGP did not send the UPDATE $msg"; }
    echo "sent: $msg"
done
echo "--- bgp_peer output"; cat "$out"
echo "PASS: 4 malformed UPDATEs from ExaBGP treated as withdraw, session kept, later route received"
