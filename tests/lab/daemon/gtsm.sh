#!/usr/bin/env bash
# cgwd's GTSM (RFC 5082) on a Direct Connect peer, against BIRD 2 (this kernel, namespaces):
# [[direct_connect]] gtsm = true makes cgwd send BGP with TTL 255 and drop segments below 254.
#   both:     BIRD has `ttl security on`: the session comes up, BIRD's route is installed and
#             BIRD's segments arrive with TTL 255 (tcpdump in cgw's namespace);
#   mismatch: BIRD without it (eBGP's TTL 1): the kernel drops BIRD's segments before TCP sees
#             them, the session never comes up, the drops are counted (TcpExtTCPMinTTLDrop).
#   gtsm.sh CGWD_DIR both|mismatch
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=${2:?usage: gtsm.sh CGWD_DIR both|mismatch}
case "$mode" in both) ttl_security=on ;; mismatch) ttl_security=off ;;
    *) echo "FAIL: mode $mode" >&2; exit 2 ;; esac
command -v tcpdump >/dev/null || { echo "FAIL: tcpdump is not installed" >&2; exit 1; }
dx_lab_setup "$1" dx:104

key="gts-$RANDOM$RANDOM"
cat >"$tmp/bird.conf" <<EOF
router id 192.168.104.1;
log "$tmp/bird.log" all;
protocol device { }
protocol static aws { ipv4; route 10.220.0.0/16 blackhole; }
protocol bgp dx {
    local 192.168.104.1 as 64512;
    neighbor 192.168.104.2 as 65010;
    password "$key";
    ttl security $ttl_security;
    hold time 9; keepalive time 3;
    connect retry time 1;
    ipv4 { import all; export where proto = "aws"; };
}
EOF
dx_start_bird
{
    dx_toml_head
    dx_peer_toml dx 104 "$key" "gtsm = true"
} >"$tmp/cgwd.toml"
ip netns exec $ns_cgw tcpdump -i dx0 -n -v -c 20 -w "$tmp/bgp.pcap" 'tcp port 179' \
    >/dev/null 2>&1 &
dumper=$!
minttl_drops() {
    ip netns exec $ns_cgw nstat -az TcpExtTCPMinTTLDrop | awk '/TcpExtTCPMinTTLDrop/ { print $2 }'
}
drops_before=$(minttl_drops)
sleep 0.5
dx_start_cgwd

installed() { [ "$(kroutes '^10\.220\.0\.0/16 via 192\.168\.104\.1')" = 1 ]; }
if [ "$mode" = both ]; then
    wait_for 30 installed || fail "no session with BIRD's ttl security on"
    [ "$(bgp_field dx gtsm)" = True ] || fail "status does not show gtsm"
    sleep 1
    kill $dumper 2>/dev/null || true
    wait $dumper 2>/dev/null || true
    ttls=$(tcpdump -r "$tmp/bgp.pcap" -n -v 2>/dev/null | sed -n 's/.*ttl \([0-9]*\),.*/\1/p' |
        sort -u | tr '\n' ' ')
    [ "$ttls" = "255 " ] || fail "BGP segments with TTLs '$ttls', expected only 255"
    echo "both: session up, route installed, every segment at TTL 255"
else
    sleep 8
    installed && fail "a session came up although BIRD sends with TTL 1"
    [ "$(bird_state dx)" != Established ] || fail "BIRD is Established"
    drops=$(( $(minttl_drops) - drops_before ))
    [ "$drops" -gt 0 ] || fail "no TcpExtTCPMinTTLDrop counted"
    kill $dumper 2>/dev/null || true
    echo "mismatch: no session in 8 s, $drops segments dropped for their TTL by the kernel"
fi
echo "PASS ($mode)"
