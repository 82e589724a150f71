#!/usr/bin/env bash
# cgwd's BGP connection collision handling (RFC 4271 section 6.8) against BIRD 2 (this kernel,
# namespaces, one Direct Connect peer, no IKE). nftables in cgw's namespace hold a collision
# open: first BIRD's SYNs toward cgwd are dropped and so is everything cgwd sends on its own
# connection after the SYN, so cgwd's outgoing connection is up on cgwd's side (OpenSent) while
# BIRD has not seen it; then BIRD's connection is let in and cgwd has two connections to the
# same peer. cgwd must keep the one opened by the speaker with the higher BGP identifier and
# close the other with CEASE / Connection Collision Resolution (6/7):
#   higher: cgwd's router id 192.168.250.250 > BIRD's 192.168.105.1: cgwd keeps its own
#           connection, BIRD's gets 6/7 (BIRD's log shows it); once cgwd's segments pass again
#           the session comes up on cgwd's connection (remote port 179);
#   lower:  cgwd's router id 1.1.1.1: cgwd drops its own connection (6/7) and the session comes
#           up on BIRD's connection (local port 179) while cgwd's is still cut off.
# Either way: one TCP connection left, the session Established once and stable, BIRD's route
# installed, the collision counted in `cgwctl status --json` and logged.
#   collision.sh CGWD_DIR higher|lower
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=${2:?usage: collision.sh CGWD_DIR higher|lower}
case "$mode" in
    higher) rid=192.168.250.250 kept=our ;;
    lower) rid=1.1.1.1 kept="the peer's" ;;
    *) echo "FAIL: mode $mode" >&2; exit 2 ;;
esac
for tool in nft ss; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
dx_lab_setup "$1" dx:105

key="col-$RANDOM$RANDOM"
cat >"$tmp/bird.conf" <<EOF
router id 192.168.105.1;
log "$tmp/bird.log" all;
protocol device { }
protocol static aws { ipv4; route 10.230.0.0/16 blackhole; }
protocol bgp dx {
    local 192.168.105.1 as 64512;
    neighbor 192.168.105.2 as 65010;
    password "$key";
    hold time 9; keepalive time 3;
    connect delay time 1;
    connect retry time 1;
    error wait time 1, 2;
    ipv4 { import all; export where proto = "aws"; };
}
EOF
# BIRD's SYNs to cgwd dropped; cgwd's own segments to BIRD after its SYN dropped.
ip netns exec $ns_cgw nft -f - <<'EOF'
table inet collide {
    chain in {
        type filter hook input priority 0;
        tcp dport 179 tcp flags & (syn | ack) == syn counter drop comment "bird-syn"
    }
    chain out {
        type filter hook output priority 0;
        tcp dport 179 tcp flags & (syn | ack) != syn counter drop comment "cgwd-after-syn"
    }
}
EOF
drop_rule() {
    local chain=$1 comment=$2 handle
    handle=$(ip netns exec $ns_cgw nft -a list chain inet collide "$chain" |
        sed -n "s/.*comment \"$comment\" # handle \([0-9]*\).*/\1/p")
    [ -n "$handle" ] || fail "no rule $comment"
    ip netns exec $ns_cgw nft delete rule inet collide "$chain" handle "$handle"
}
dx_start_bird
{
    dx_toml_head
    echo "router_id = \"$rid\""
    dx_peer_toml dx 105 "$key"
} >"$tmp/cgwd.toml"
dx_start_cgwd

# cgwd's connection is up on its side; BIRD keeps trying its own (SYNs dropped).
open_sent() { [ "$(bgp_field dx state)" = OpenSent ]; }
wait_for 20 open_sent || fail "cgwd's session did not reach OpenSent"
bird_syns() {
    ip netns exec $ns_cgw nft list chain inet collide in | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
syn_seen() { [ "$(bird_syns)" -gt 0 ]; }
wait_for 20 syn_seen || fail "BIRD never tried to connect"
drop_rule in bird-syn
collided() { grep -q "connection collision with 192.168.105.1: kept $kept connection" "$tmp/cgwd.log"; }
wait_for 20 collided || fail "no collision resolved (expected: kept $kept connection)"
[ "${mode}" = lower ] || grep -q 'Received: Connection collision resolution' "$tmp/bird.log" ||
    fail "BIRD did not receive CEASE 6/7 on its connection"
up() { [ "$(bird_state dx)" = Established ] && [ "$(bgp_field dx state)" = Established ]; }
if [ "$mode" = lower ]; then
    # The session needs nothing of cgwd's cut-off connection.
    wait_for 20 up || fail "no session on BIRD's connection"
fi
drop_rule out cgwd-after-syn

wait_for 30 up || fail "session not Established"
installed() { [ "$(kroutes '^10\.230\.0\.0/16 via 192\.168\.105\.1')" = 1 ]; }
wait_for 10 installed || fail "BIRD's route not installed"
sleep 4  # BIRD handles cgwd's late segments (lower: an OPEN and a 6/7 on a dead connection)
up || fail "session did not stay up"
[ "$(bgp_field dx flaps)" = 0 ] || fail "cgwd's session flapped: $(bgp_field dx flaps)"
collisions=$(bgp_field dx connection_collisions)
[ "${collisions:-0}" -ge 1 ] || fail "no collision counted in status"
conns=$(ip netns exec $ns_cgw ss -Htn state established '( sport = :179 or dport = :179 )')
[ "$(echo "$conns" | grep -c .)" = 1 ] || fail "expected one BGP connection, have: $conns"
if [ "$mode" = higher ]; then
    echo "$conns" | grep -q '192.168.105.1:179' || fail "the surviving connection is not ours: $conns"
else
    echo "$conns" | grep -q '192.168.105.2:179 ' || fail "the surviving connection is not BIRD's: $conns"
fi
echo "$mode: kept $kept connection; $collisions collision(s); one connection: $conns"
echo "PASS ($mode)"
