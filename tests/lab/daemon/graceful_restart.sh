#!/usr/bin/env bash
# cgwd as a graceful restart helper (RFC 4724) against BIRD 2 (this kernel, namespaces, no IKE):
# BIRD, the router of a Direct Connect virtual interface, announces 10.210.1.0/24 and
# 10.210.2.0/24 with `graceful restart on`; cgwd installs both in the kernel. BIRD is killed with
# SIGKILL (the kernel closes its TCP connection, no NOTIFICATION) and, after a pause, started
# again with `bird -R` and a configuration that only has 10.210.1.0/24.
#   on:  [[direct_connect]] graceful_restart_time = 60: both kernel routes stay while BIRD is
#        away (status: 2 stale), 10.210.1.0/24 never leaves, 10.210.2.0/24 goes after BIRD's
#        End-of-RIB (it was not announced again);
#   off: graceful_restart_time = 0 (the DX default): both routes go when the connection closes.
#   graceful_restart.sh CGWD_DIR on|off
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=${2:?usage: graceful_restart.sh CGWD_DIR on|off}
case "$mode" in on) gr_time=60 ;; off) gr_time=0 ;; *) echo "FAIL: mode $mode" >&2; exit 2 ;; esac
dx_lab_setup "$1" dx:103

key="grl-$RANDOM$RANDOM"
bird_conf() {  # ROUTE...
    echo "router id 192.168.103.1;"
    echo "log \"$tmp/bird.log\" all;"
    echo "protocol device { }"
    echo "protocol static aws { ipv4;"
    for r in "$@"; do echo "  route $r blackhole;"; done
    echo "}"
    cat <<EOF
protocol bgp dx {
    local 192.168.103.1 as 64512;
    neighbor 192.168.103.2 as 65010;
    password "$key";
    hold time 9; keepalive time 3;
    connect retry time 1;
    graceful restart on;
    graceful restart time 60;
    ipv4 { import all; export where proto = "aws"; };
}
EOF
}
bird_conf 10.210.1.0/24 10.210.2.0/24 >"$tmp/bird.conf"
dx_start_bird
{
    dx_toml_head
    dx_peer_toml dx 103 "$key" "graceful_restart_time = $gr_time"
} >"$tmp/cgwd.toml"
dx_start_cgwd

both() { [ "$(kroutes '^10\.210\.[12]\.0/24 via 192\.168\.103\.1')" = 2 ]; }
wait_for 30 both || fail "BIRD's two routes were not installed"
[ "$(bgp_field dx graceful_restart_time)" = "$gr_time" ] || fail "status lacks graceful_restart_time"

# Watch the kernel table every 0.1 s from here on: did 10.210.1.0/24 ever leave?
(
    while :; do
        ip -n $ns_cgw -4 route show proto 240 | grep -c '^10\.210\.1\.0/24' || true
        sleep 0.1
    done
) >"$tmp/watch" 2>/dev/null &
watcher=$!
kill -9 "$(cat "$tmp/bird.pid")"
down() { [ "$(bgp_field dx state)" != Established ]; }
wait_for 10 down || fail "cgwd did not notice BIRD's death"
sleep 2  # the restart window

if [ "$mode" = on ]; then
    both || fail "routes left the kernel while BIRD was restarting (graceful restart on)"
    [ "$(bgp_field dx prefixes_stale)" = 2 ] || fail "status: $(bgp_field dx prefixes_stale) stale, not 2"
    rm -f "$tmp/bird.ctl"
    bird_conf 10.210.1.0/24 >"$tmp/bird.conf"
    ip netns exec $ns_dxr bird -R -c "$tmp/bird.conf" -s "$tmp/bird.ctl" -P "$tmp/bird.pid" ||
        fail "bird -R did not start"
    flushed() { [ "$(kroutes '^10\.210\.2\.0/24')" = 0 ]; }
    wait_for 40 flushed || fail "10.210.2.0/24 (not announced again) was never flushed"
    [ "$(kroutes '^10\.210\.1\.0/24 via 192\.168\.103\.1')" = 1 ] || fail "10.210.1.0/24 is gone"
    grep -q 'graceful restart: 1 stale routes removed (end-of-rib)' "$tmp/cgwd.log" ||
        fail "cgwd did not log the flush after End-of-RIB"
    kill $watcher
    wait $watcher 2>/dev/null || true
    ! grep -qx 0 "$tmp/watch" || fail "10.210.1.0/24 left the kernel table during the restart"
    echo "on: both routes kept while BIRD was away, the one not announced again flushed after End-of-RIB"
else
    none() { [ "$(kroutes '^10\.210\.')" = 0 ]; }
    none || fail "routes kept after the session closed although graceful restart is off"
    kill $watcher
    wait $watcher 2>/dev/null || true
    echo "off: both routes withdrawn when the connection closed"
fi
echo "PASS ($mode)"
