#!/usr/bin/env bash
# cgwd's inbound prefix limit against BIRD 2 (this kernel, namespaces, no IKE): BIRD is the
# router of two Direct Connect virtual interfaces (TCP-MD5). Over "big" it announces 120
# prefixes against max_prefixes_in = 100; over "small" 3 prefixes.
#   drop:  exactly 100 of the 120 routes are in the kernel, the session stays up, the 20 dropped
#          announcements are counted in `cgwctl status` and logged once;
#   reset: cgwd closes the session with RFC 4486's Cease / Maximum Number of Prefixes Reached
#          (BIRD reports it as received), none of its routes stay, and it comes back only after
#          max_prefixes_in_restart (4 s) -- and is reset again;
#   warn:  all 120 installed, one warning.
# In every mode the "small" session and its 3 routes are untouched, and at the end SIGTERM
# removes every route cgwd installed in one batch (none moved while stopping) and exits 0.
#   max_prefix_in.sh CGWD_DIR drop|reset|warn
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=${2:?usage: max_prefix_in.sh CGWD_DIR drop|reset|warn}
case "$mode" in drop|reset|warn) ;; *) echo "FAIL: unknown mode $mode" >&2; exit 2 ;; esac
dx_lab_setup "$1" big:101 small:102

key="mpx-$RANDOM$RANDOM"
{
    echo "router id 192.168.101.1;"
    echo "log \"$tmp/bird.log\" all;"
    echo "timeformat log \"%s.%3f\";"
    echo "protocol device { }"
    echo "protocol static big { ipv4;"
    for i in $(seq 0 119); do echo "  route 10.200.$i.0/24 blackhole;"; done
    echo "}"
    echo "protocol static small { ipv4;"
    for i in 1 2 3; do echo "  route 10.$((100 + i)).0.0/16 blackhole;"; done
    echo "}"
    for side in big small; do
        n=$([ $side = big ] && echo 101 || echo 102)
        cat <<B
protocol bgp dx_$side {
    local 192.168.$n.1 as 64512;
    neighbor 192.168.$n.2 as 65010;
    password "$key";
    hold time 9; keepalive time 3;
    connect retry time 1;
    ipv4 { import all; export where proto = "$side"; };
}
B
    done
} >"$tmp/bird.conf"
dx_start_bird

{
    dx_toml_head
    dx_peer_toml big 101 "$key" "max_prefixes_in = 100" "max_prefixes_in_action = \"$mode\"" \
        "max_prefixes_in_restart = 4"
    dx_peer_toml small 102 "$key" "max_prefixes_in = 100" "max_prefixes_in_action = \"$mode\""
} >"$tmp/cgwd.toml"
dx_start_cgwd

routes() { kroutes "^10\\.200\\."; }
small_routes() { kroutes "via 192.168.102.1"; }
field() { bgp_field "$@"; }
has_routes() { [ "$(routes)" -ge "$1" ]; }
small_up() { [ "$(small_routes)" = 3 ]; }

wait_for 30 small_up || fail "the small session's 3 routes never appeared"
case "$mode" in
drop)
    wait_for 30 has_routes 100 || fail "fewer than 100 of big's routes installed: $(routes)"
    sleep 2
    [ "$(routes)" = 100 ] || fail "$(routes) of big's 120 routes installed, expected exactly 100"
    [ "$(bird_state dx_big)" = Established ] || fail "BIRD's dx_big is $(bird_state dx_big)"
    dropped=$(field big prefixes_dropped_over_limit)
    [ "$dropped" = 20 ] || fail "status: $dropped announcements dropped over the limit, not 20"
    n=$(grep -c 'sent more than 100 prefixes (max_prefixes_in): the excess is dropped' \
        "$tmp/cgwd.log" || true)
    [ "$n" = 1 ] || fail "$n warnings about the limit in the log, expected exactly one"
    echo "drop: 100 of 120 installed, 20 dropped and counted, session up"
    ;;
warn)
    wait_for 30 has_routes 120 || fail "not all 120 of big's routes installed: $(routes)"
    [ "$(bird_state dx_big)" = Established ] || fail "BIRD's dx_big is $(bird_state dx_big)"
    n=$(grep -c 'sent more than 100 prefixes (max_prefixes_in): all accepted' "$tmp/cgwd.log" ||
        true)
    [ "$n" = 1 ] || fail "$n warnings about the limit in the log, expected exactly one"
    echo "warn: all 120 installed, one warning"
    ;;
reset)
    two_resets() { [ "$(field big max_prefix_resets)" -ge 2 ]; }
    wait_for 40 two_resets ||
        fail "not reset twice (resets: $(field big max_prefix_resets))"
    [ "$(routes)" = 0 ] || fail "$(routes) of big's routes installed after the reset"
    # BIRD's log, by BIRD's clock: the two Cease messages it received are at least the restart
    # timer (4 s) apart, and not much more (a 1 s connect retry, the OPEN exchange).
    gap=$(awk '/dx_big: Received: Maximum number of prefixes reached/ { t[n++] = $1 }
               END { if (n >= 2) printf "%.2f", t[1] - t[0] }' "$tmp/bird.log")
    [ -n "$gap" ] || fail "BIRD did not log two Cease / Maximum number of prefixes reached"
    python3 -c "import sys; sys.exit(not 3.9 <= $gap <= 8)" ||
        fail "the session came back $gap s after the reset, expected the 4 s restart timer"
    echo "reset: BIRD received Cease / max prefixes, no routes kept, next attempt $gap s later"
    ;;
esac
small_up || fail "the small session lost its routes"
[ "$(bird_state dx_small)" = Established ] || fail "BIRD's dx_small is $(bird_state dx_small)"
[ "$(field small max_prefixes_in)" = 100 ] || fail "status lacks small's max_prefixes_in"
! grep -q "$key" "$tmp/cgwd.log" || fail "the MD5 key appears in cgwd's log"

# SIGTERM: every route cgwd installed goes in one batch (no session's withdrawal first moves
# routes to the other session), and cgwd exits 0.
installed=$(kroutes .)
kill -TERM "$cgwd_pid"
wait "$cgwd_pid" || fail "cgwd exited $? on SIGTERM"
cgwd_pid=""
[ "$(kroutes .)" = 0 ] || fail "$(kroutes .) of cgwd's $installed routes left after SIGTERM"
grep -q "stopping: $installed routes removed" "$tmp/cgwd.log" ||
    fail "no 'stopping: $installed routes removed' in cgwd's log"
if sed -n '/signal 15/,$p' "$tmp/cgwd.log" | grep -qE "bgp: route .* via|FIB: "; then
    fail "routes were changed while stopping: $(sed -n '/signal 15/,$p' "$tmp/cgwd.log")"
fi
echo "stop: SIGTERM removed all $installed routes in one batch, exit 0"
echo "PASS ($mode): the other session kept its 3 routes"
