#!/usr/bin/env bash
# A reload that changes [bgp] advertise, against BIRD 2 as the Direct Connect router (this
# kernel, namespaces): cgwd announces 10.10.0.0/16; the file is changed to 10.20.0.0/16 and
# 10.30.0.0/16 and `cgwctl reload` must announce both and withdraw 10.10.0.0/16 on the running
# session (BIRD's routes from cgwd change; neither side's session restarts: cgwd counts no flap,
# BIRD logs one session start). Then a changed router_id: the reload says [bgp] is not applied and BIRD
# keeps exactly the routes it had.
#   reload_advertise.sh CGWD_DIR
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=advertise
dx_lab_setup "$1" dx:107

key="rel-$RANDOM$RANDOM"
cat >"$tmp/bird.conf" <<EOF
router id 192.168.107.1;
log "$tmp/bird.log" all;
protocol device { }
protocol bgp dx {
    local 192.168.107.1 as 64512;
    neighbor 192.168.107.2 as 65010;
    password "$key";
    hold time 9; keepalive time 3;
    connect retry time 1;
    debug { states };
    ipv4 { import all; export none; };
}
EOF
dx_start_bird
write_toml() {  # write_toml ADVERTISE_BODY [EXTRA_BGP_LINE]
    {
        dx_toml_head
        [ -n "${2:-}" ] && echo "$2"
        echo "advertise = [$1]"
        dx_peer_toml dx 107 "$key"
    } >"$tmp/cgwd.toml.new"
    chmod 600 "$tmp/cgwd.toml.new"
    mv "$tmp/cgwd.toml.new" "$tmp/cgwd.toml"
}
write_toml '"10.10.0.0/16"'
dx_start_cgwd

# BIRD's BGP routes from cgwd, one prefix a line, sorted.
bird_routes() { birdc show route protocol dx | grep -o -E '^10\.[0-9.]+/[0-9]+' | sort | tr '\n' ' '; }
routes_are() { [ "$(bird_routes)" = "$1" ]; }
wait_for 30 routes_are "10.10.0.0/16 " || fail "BIRD did not learn 10.10.0.0/16: '$(bird_routes)'"
# BIRD's session comings up ("debug { states }" logs each state change; its "since" column is no
# help: it moves back and forth by a millisecond as the channel's state changes).
sessions_up() { grep -c "dx: State changed to up" "$tmp/bird.log" || true; }
[ "$(sessions_up)" = 1 ] || fail "BIRD logged $(sessions_up) session starts, expected 1"
echo "before: BIRD has $(bird_routes)from cgwd"

write_toml '"10.20.0.0/16", "10.30.0.0/16"'
out=$(cgwctl reload 2>&1) || fail "cgwctl reload failed: $out"
grep -q "\[bgp\] advertise: 2 announced, 1 withdrawn" <<<"$out" || fail "reload said: $out"
grep -q "not applied" <<<"$out" && fail "reload left something unapplied: $out"
wait_for 10 routes_are "10.20.0.0/16 10.30.0.0/16 " ||
    fail "BIRD's routes after the reload: '$(bird_routes)' (expected 10.20.0.0/16 10.30.0.0/16)"
[ "$(bird_state dx)" = Established ] || fail "BIRD's session: $(bird_state dx)"
[ "$(sessions_up)" = 1 ] || fail "BIRD's session restarted: $(sessions_up) starts in its log"
[ "$(bgp_field dx flaps)" = 0 ] || fail "cgwd counts $(bgp_field dx flaps) flaps"
[ "$(bgp_field dx prefixes_advertised)" = 2 ] ||
    fail "cgwd's prefixes_advertised: $(bgp_field dx prefixes_advertised)"
echo "reload: '$out'; BIRD now has $(bird_routes)on the same session"

# A router ID change keeps all of [bgp], advertise with it, and says so.
write_toml '"10.40.0.0/16"' 'router_id = "192.168.107.2"'
out=$(cgwctl reload 2>&1) || fail "cgwctl reload failed: $out"
grep -q "not applied until cgwd restarts: \[bgp\]" <<<"$out" || fail "reload said: $out"
sleep 2  # an UPDATE sent by mistake would have arrived by now
routes_are "10.20.0.0/16 10.30.0.0/16 " || fail "BIRD's routes changed: '$(bird_routes)'"
echo "router_id changed: '$out'; BIRD still has $(bird_routes)"
echo "PASS ($mode)"
