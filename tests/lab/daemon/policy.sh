#!/usr/bin/env bash
# Per-peer BGP policy of cgwd's Direct Connect peer, against BIRD 2 (this kernel, namespaces):
#   accept_prefixes = ["10.220.0.0/16 le 24"]: of BIRD's 10.220.0.0/16, 10.220.5.0/24,
#     10.220.6.0/25 and 10.99.0.0/16 only the first two are installed; the status counts 2
#     received;
#   as_path_prepend = 2, med = 50, large_communities = ["65010:100:7"]: BIRD receives
#     10.10.0.0/16 with AS_PATH 65010 65010 65010, MED 50 and that large community; cgwctl
#     status --json shows the policy.
#   policy.sh CGWD_DIR
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=prepend-med-accept
dx_lab_setup "$1" dx:106

key="pol-$RANDOM$RANDOM"
cat >"$tmp/bird.conf" <<EOF
router id 192.168.106.1;
log "$tmp/bird.log" all;
protocol device { }
protocol static aws {
    ipv4;
    route 10.220.0.0/16 blackhole;
    route 10.220.5.0/24 blackhole;
    route 10.220.6.0/25 blackhole;
    route 10.99.0.0/16 blackhole;
}
protocol bgp dx {
    local 192.168.106.1 as 64512;
    neighbor 192.168.106.2 as 65010;
    password "$key";
    hold time 9; keepalive time 3;
    connect retry time 1;
    ipv4 { import all; export where proto = "aws"; };
}
EOF
dx_start_bird
{
    dx_toml_head
    echo 'advertise = ["10.10.0.0/16"]'
    dx_peer_toml dx 106 "$key" 'accept_prefixes = ["10.220.0.0/16 le 24"]' \
        'as_path_prepend = 2' 'med = 50' 'large_communities = ["65010:100:7"]'
} >"$tmp/cgwd.toml"
dx_start_cgwd

accepted() { [ "$(kroutes '^10\.220\.(0\.0/16|5\.0/24) via 192\.168\.106\.1')" = 2 ]; }
wait_for 30 accepted || fail "10.220.0.0/16 and 10.220.5.0/24 not installed: $(ip -n $ns_cgw route show proto 240)"
sleep 1  # BIRD sent all four in its first UPDATEs; give a wrong install time to show
[ "$(kroutes '^10\.220\.6\.0/25')" = 0 ] || fail "10.220.6.0/25 (longer than le 24) installed"
[ "$(kroutes '^10\.99\.')" = 0 ] || fail "10.99.0.0/16 (outside the list) installed"
[ "$(bgp_field dx prefixes_received)" = 2 ] ||
    fail "prefixes_received $(bgp_field dx prefixes_received), expected 2"
[ "$(bgp_field dx as_path_prepend)" = 2 ] && [ "$(bgp_field dx med)" = 50 ] ||
    fail "status: prepend '$(bgp_field dx as_path_prepend)', med '$(bgp_field dx med)'"
[ "$(bgp_field dx accept_prefixes)" = "['10.220.0.0/16 le 24']" ] ||
    fail "status: accept_prefixes '$(bgp_field dx accept_prefixes)'"
echo "accept: 10.220.0.0/16 and 10.220.5.0/24 installed, 10.220.6.0/25 and 10.99.0.0/16 ignored"

got() { birdc show route 10.10.0.0/16 all; }
learned() { got | grep -q "BGP.as_path: 65010 65010 65010$"; }
wait_for 10 learned || fail "BIRD's route: $(got)"
route=$(got)
grep -q "BGP.med: 50$" <<<"$route" || fail "no MED 50 in BIRD's route: $route"
grep -q "BGP.large_community: (65010, 100, 7)$" <<<"$route" ||
    fail "no large community (65010, 100, 7) in BIRD's route: $route"
echo "export: BIRD has 10.10.0.0/16 with AS_PATH 65010 65010 65010, MED 50, large community (65010, 100, 7)"
echo "PASS ($mode)"
