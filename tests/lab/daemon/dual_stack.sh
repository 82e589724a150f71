#!/usr/bin/env bash
# A dual-stack Direct Connect virtual interface, cgwd against BIRD 2 (namespaces): as AWS does,
# one IPv4 and one IPv6 BGP session on the same interface, each with its own MD5 key and BFD
# (300 ms x 3): two [[direct_connect]] entries sharing one interface. cgw has 169.254.105.2/30
# and 2001:db8:105::2/125, BIRD .1 / ::1.
#   mode veth (this host, whose kernel has no 802.1Q): the addresses are put on the veth dx0 by
#     the script; the IPv6 entry gives no local_address, so cgwd finds the global address there.
#   mode vlan (the kernel lab): both entries say vlan = 105 and local_address; cgwd creates
#     dx0.105 once, with both addresses (the IPv6 one usable at once, not "tentative"), and
#     removes it at stop.
#   1. both sessions Established; BIRD's IPv4 and IPv6 prefixes installed by cgwd (proto 240)
#      through the interface via BIRD's addresses; both BFD sessions Up at both ends
#   2. BIRD learned 10.10.0.0/16 over IPv4 only and 2001:db8:10::/48 over IPv6 only, with
#      cgwd's address of that session as next hop; the IPv6 session's segments carry TCP-MD5
#   3. IPv6 cut silently (nftables in BIRD's namespace drops IPv6 on the interface): cgwd's
#      IPv6 BFD goes down and the IPv6 route is withdrawn in under 1 s (2 s in the kernel lab,
#      whose emulated CPU makes each poll slow; the time is printed); the IPv4 session, its BFD
#      and its route stay
#   4. IPv6 back: BFD, BGP and the route return
#   5. BIRD's IPv6 session given another key: never Established again, cgw's kernel counts MD5
#      failures (TcpExtTCPMD5Failure); IPv4 untouched
#   6. SIGTERM: both routes are gone (and in mode vlan the VLAN interface)
#   dual_stack.sh CGWD_DIR veth|vlan
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/dx_lab.sh"
mode=${2:?usage: dual_stack.sh CGWD_DIR veth|vlan}
case "$mode" in veth|vlan) ;; *) echo "FAIL: mode $mode" >&2; exit 2 ;; esac
command -v tcpdump >/dev/null || { echo "FAIL: tcpdump is not installed" >&2; exit 1; }
command -v nft >/dev/null || { echo "FAIL: nft is not installed" >&2; exit 1; }
dx_lab_setup "$1" dx:105
if [ "$mode" = vlan ]; then
    vif=dx0.105  # BIRD's end made here, cgwd's from its TOML file
    ip -n $ns_dxr link add link dx0 name $vif type vlan id 105
    ip -n $ns_dxr link set $vif up
else
    vif=dx0
    ip -n $ns_cgw addr add 169.254.105.2/30 dev $vif
    ip -n $ns_cgw addr add 2001:db8:105::2/125 dev $vif nodad
fi
ip -n $ns_dxr addr add 169.254.105.1/30 dev $vif
ip -n $ns_dxr addr add 2001:db8:105::1/125 dev $vif nodad

key4="v4-$RANDOM$RANDOM" key6="v6-$RANDOM$RANDOM"
cat >"$tmp/bird.conf" <<EOF
router id 169.254.105.1;
log "$tmp/bird.log" all;
protocol device { scan time 1; }
protocol static aws4 { ipv4; route 10.105.0.0/16 blackhole; }
protocol static aws6 { ipv6; route 2001:db8:f105::/48 blackhole; }
protocol bfd { interface "$vif" { interval 300 ms; multiplier 3; }; }
protocol bgp dx4 {
    local 169.254.105.1 as 64512;
    neighbor 169.254.105.2 as 65010;
    password "$key4";
    bfd on;
    hold time 9; keepalive time 3;
    connect retry time 1;
    error wait time 1, 5;  # BIRD waits 60 s after an error (BFD down) by default
    ipv4 { import all; export where proto = "aws4"; };
}
protocol bgp dx6 {
    local 2001:db8:105::1 as 64512;
    neighbor 2001:db8:105::2 as 65010;
    password "$key6";
    bfd on;
    hold time 9; keepalive time 3;
    connect retry time 1;
    error wait time 1, 5;  # BIRD waits 60 s after an error (BFD down) by default
    ipv6 { import all; export where proto = "aws6"; };
}
EOF
dx_start_bird
{
    dx_toml_head
    echo 'advertise = ["10.10.0.0/16", "2001:db8:10::/48"]'
    for fam in 4 6; do
        if [ $fam = 4 ]; then local='local_address = "169.254.105.2/30"' peer=169.254.105.1 key=$key4
        else local="" peer=2001:db8:105::1 key=$key6; fi
        if [ "$mode" = vlan ]; then
            [ $fam = 6 ] && local='local_address = "2001:db8:105::2/125"'
            printf '[[direct_connect]]\ninterface = "dx0"\nvlan = 105\n'
        else
            printf '[[direct_connect]]\ninterface = "%s"\n' "$vif"
        fi
        cat <<EOF
name = "dx$fam"
$local
neighbor = "$peer"
neighbor_asn = 64512
md5_key = "$key"
hold_time = 9
keepalive = 3
EOF
    done
} >"$tmp/cgwd.toml"
ip netns exec $ns_dxr tcpdump -i $vif -n -v -c 6 -w "$tmp/bgp6.pcap" 'ip6 and tcp port 179' \
    >/dev/null 2>&1 &
dumper=$!
sleep 0.5
dx_start_cgwd

route4() { ip -n $ns_cgw -4 route show proto 240 | grep -c "^10\.105\.0\.0/16 via 169\.254\.105\.1 dev $vif" || true; }
route6() { ip -n $ns_cgw -6 route show proto 240 | grep -c "^2001:db8:f105::/48 via 2001:db8:105::1 dev $vif" || true; }
both_up() { [ "$(route4)" = 1 ] && [ "$(route6)" = 1 ]; }
wait_for 30 both_up || fail "the routes of both sessions were not installed: $(ip -n $ns_cgw route show proto 240; ip -n $ns_cgw -6 route show proto 240)"
[ "$(bird_state dx4)" = Established ] || fail "BIRD's IPv4 session is $(bird_state dx4)"
[ "$(bird_state dx6)" = Established ] || fail "BIRD's IPv6 session is $(bird_state dx6)"
bfd_up() { birdc show bfd sessions | grep -E "^$1 " | grep -q " Up "; }
wait_for 10 bfd_up 2001:db8:105::2 || fail "BIRD's IPv6 BFD session is not Up: $(birdc show bfd sessions)"
wait_for 10 bfd_up 169.254.105.2 || fail "BIRD's IPv4 BFD session is not Up"
dx_status() {
    cgwctl status --json | python3 -c '
import json, sys
peer, path = sys.argv[1], sys.argv[2].split(".")
for d in json.load(sys.stdin).get("direct_connect", []):
    if d.get("name") == peer:
        for k in path:
            d = d.get(k, {}) if isinstance(d, dict) else {}
        print(d if d != {} else "")' "$1" "$2"
}
[ "$(dx_status dx6 neighbor)" = 2001:db8:105::1 ] || fail "status shows neighbor '$(dx_status dx6 neighbor)'"
[ "$(dx_status dx6 bfd)" = up ] || fail "cgwd's IPv6 BFD is '$(dx_status dx6 bfd)'"
[ "$(dx_status dx6 bfd_detail.local_address)" = 2001:db8:105::2 ] || fail "cgwd's IPv6 BFD runs from '$(dx_status dx6 bfd_detail.local_address)'"
if [ "$mode" = vlan ]; then
    # Captured first: `grep -q` closing the pipe early would fail the pipeline (pipefail).
    link=$(ip -n $ns_cgw -d link show $vif) addrs=$(ip -n $ns_cgw addr show dev $vif)
    grep -q "vlan protocol 802.1Q id 105" <<<"$link" || fail "no VLAN $vif: $link"
    grep -q "inet 169.254.105.2/30" <<<"$addrs" || fail "no IPv4 address on $vif: $addrs"
    grep -q "inet6 2001:db8:105::2/125" <<<"$addrs" || fail "no IPv6 address on $vif: $addrs"
    grep "inet6 2001:db8:105::2/125" <<<"$addrs" | grep -q tentative &&
        fail "cgwd's IPv6 address is tentative: $addrs"
    echo "1: cgwd made $vif with both addresses (IPv6 not tentative)"
fi
echo "1: both sessions Established, both routes installed through $vif, both BFD sessions Up"

# 2: what BIRD learned, by family.
learned4=$(birdc show route protocol dx4 | grep -c "10\.10\.0\.0/16" || true)
learned6=$(birdc show route protocol dx6 all | grep -c "2001:db8:10::/48" || true)
wrong4=$(birdc show route protocol dx4 | grep -c "2001:" || true)
wrong6=$(birdc show route protocol dx6 | grep -c "10\.10\." || true)
[ "$learned4" = 1 ] && [ "$wrong4" = 0 ] || fail "BIRD over IPv4: $(birdc show route protocol dx4)"
[ "$learned6" = 1 ] && [ "$wrong6" = 0 ] || fail "BIRD over IPv6: $(birdc show route protocol dx6)"
learned=$(birdc show route protocol dx6 all)
grep -q "BGP.next_hop: 2001:db8:105::2" <<<"$learned" || fail "IPv6 next hop: $learned"
sleep 1
kill $dumper 2>/dev/null || true
wait $dumper 2>/dev/null || true
segs=$(tcpdump -r "$tmp/bgp6.pcap" -n -v 2>/dev/null | grep -c "2001:db8:105::2.* >\|> 2001:db8:105::2" || true)
md5=$(tcpdump -r "$tmp/bgp6.pcap" -n -v 2>/dev/null | grep -c "md5" || true)
[ "$segs" -gt 0 ] && [ "$md5" -ge "$segs" ] ||
    fail "IPv6 BGP segments: $segs, with TCP-MD5: $md5"
echo "2: BIRD learned 10.10.0.0/16 over IPv4 and 2001:db8:10::/48 over IPv6 (next hop 2001:db8:105::2), $md5/$segs IPv6 segments signed"

# 3: IPv6 cut silently.
ip netns exec $ns_dxr nft -f - <<EOF
table inet cut {
    chain in { type filter hook input priority 0; meta nfproto ipv6 iifname "$vif" drop; }
    chain out { type filter hook output priority 0; meta nfproto ipv6 oifname "$vif" drop; }
}
EOF
cut_at=$(date +%s%N)
# Polled every 50 ms (wait_for's 0.2 s would blur the figure).
while [ "$(route6)" != 0 ]; do
    [ $(( $(date +%s%N) - cut_at )) -lt 10000000000 ] || fail "the IPv6 route stayed after the cut"
    sleep 0.05
done
ms=$(( ($(date +%s%N) - cut_at) / 1000000 ))
# Under 1 s on this host (veth); the kernel lab's emulated CPU makes each `ip` poll slow, so
# there the bound is 2 s.
bound=1000
[ "$mode" = vlan ] && bound=2000
[ "$ms" -lt $bound ] || fail "the IPv6 route went $ms ms after the cut (BFD 300 ms x 3)"
grep -q "dx:dx6: BFD down" "$tmp/cgwd.log" || fail "cgwd did not log its IPv6 BFD going down"
[ "$(route4)" = 1 ] || fail "the IPv4 route went too"
[ "$(dx_status dx4 bfd)" = up ] || fail "the IPv4 BFD session went down too"
[ "$(bird_state dx4)" = Established ] || fail "BIRD's IPv4 session went down too"
echo "3: IPv6 cut: IPv6 route withdrawn $ms ms after the cut (BFD), IPv4 session and route untouched"

# 4: IPv6 back.
ip netns exec $ns_dxr nft delete table inet cut
wait_for 30 both_up || fail "the IPv6 route did not come back"
[ "$(dx_status dx6 bfd)" = up ] || fail "cgwd's IPv6 BFD did not come back"
echo "4: IPv6 back: BFD, BGP and the route returned"

# 5: BIRD's IPv6 session with another key: never up again, the kernel in cgw's namespace counts
# the segments whose signature fails (IPv6 MD5 really is checked), IPv4 untouched.
md5_failures() {
    ip netns exec $ns_cgw nstat -az TcpExtTCPMD5Failure | awk '/TcpExtTCPMD5Failure/ { print $2 }'
}
failures_before=$(md5_failures)
sed -i "s/password \"$key6\"/password \"wrong-$key6\"/" "$tmp/bird.conf"
birdc configure >/dev/null || fail "birdc configure"
birdc restart dx6 >/dev/null || fail "birdc restart dx6"
sleep 6
[ "$(route6)" = 0 ] || fail "the IPv6 route is installed although BIRD's key is wrong"
[ "$(bird_state dx6)" != Established ] || fail "BIRD's IPv6 session came up with a wrong key"
failed=$(( $(md5_failures) - failures_before ))
[ "$failed" -gt 0 ] || fail "no TcpExtTCPMD5Failure counted in cgw's namespace"
[ "$(route4)" = 1 ] && [ "$(bird_state dx4)" = Established ] || fail "the IPv4 session suffered"
echo "5: a wrong IPv6 key: no session in 6 s, $failed segments refused by the kernel's MD5 check"

# 6: SIGTERM removes both routes.
stop_pid "$cgwd_pid"
cgwd_pid=""
[ "$(route4)" = 0 ] && [ "$(route6)" = 0 ] || fail "routes left after stop"
grep -q -- "$key6\|$key4" "$tmp/cgwd.log" && fail "an MD5 key is in cgwd's log"
if [ "$mode" = vlan ]; then
    ip -n $ns_cgw link show $vif >/dev/null 2>&1 && fail "$vif left after stop"
    grep -q "^<3>" "$tmp/cgwd.log" && fail "errors in cgwd's log"
fi
echo "6: stopped: no route left, no key in the log"
echo "PASS ($mode)"
