#!/usr/bin/env bash
# Scenario 4, NAT between cgw and AWS: cgw has the private 192.168.77.2; the inet router
# source-NATs it to 198.51.100.2 and rewrites its ports (nftables snat into 20000-30000), as a
# home or carrier NAT does. The AWS file (and AWS) know the customer gateway as 198.51.100.2.
# cgwd must use its own address for IKE and ESP, send 198.51.100.2 as its IKE ID, detect the
# NAT, float to UDP 4500 and carry ESP in UDP through the translated port; NAT-T keepalives
# (RFC 3948) go out while IKE is otherwise quiet. The inet router's UDP conntrack timeouts are
# cut to 30 s, so the mapping lives only as long as something refreshes it (the keepalives, and
# here also the BGP keepalives riding ESP in UDP on the same port pair).
#   nat.sh CGWD [userspace|kernel]        (inside the kernel lab)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/aws_lab.sh"
lab_require
command -v tcpdump >/dev/null || lab_fail "tcpdump not installed"
command -v nft >/dev/null || lab_fail "nft not installed"
trap lab_cleanup EXIT
LAB_DATAPLANE=${2:-userspace}
LAB_NAT=1
lab_setup "${1:?usage: nat.sh <cgwd> [userspace|kernel]}"
echo "cgwd dataplane: $LAB_DATAPLANE; cgw 192.168.77.2 behind a source NAT to 198.51.100.2"
ip netns exec $NS_INET sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 \
    net.netfilter.nf_conntrack_udp_timeout_stream=30 || lab_fail "cannot set conntrack timeouts"

lab_start_cgwd
lab_wait_both_up 120

# What cgwd says: its own address, its ID, NAT detected, ESP in UDP on 4500.
cgwctl status --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["connections"][0]["tunnels"]:
    ike = t.get("ike", {})
    bad = []
    if t.get("local_outside") != "192.168.77.2": bad.append("local_outside %s" % t.get("local_outside"))
    if t.get("ike_id") != "198.51.100.2": bad.append("ike_id %s" % t.get("ike_id"))
    if not t.get("nat_detected"): bad.append("no NAT detected")
    if not ike.get("udp_encapsulation"): bad.append("ESP not UDP-encapsulated")
    if bad: sys.exit("tunnel %d: %s" % (t["number"], ", ".join(bad)))
    print("tunnel %d: local %s, id %s, NAT detected, UDP 4500" % (t["number"], t["local_outside"], t["ike_id"]))
' || lab_fail "status does not show the NAT as expected"

# What each AWS endpoint sees: the public address with a translated port, ESP in UDP.
for n in 1 2; do
    ns=$NS_T1; [ $n = 2 ] && ns=$NS_T2
    sas=$(ip netns exec $ns swanctl --list-sas --uri "unix://$LAB/aws$n/charon.vici" 2>/dev/null)
    peer=$(echo "$sas" | sed -n "s/.*remote '198.51.100.2' @ 198.51.100.2\[\([0-9]*\)\].*/\1/p" | head -1)
    [ -n "$peer" ] || lab_fail "aws$n: no IKE SA with 198.51.100.2: $sas"
    [ "$peer" -ge 20000 ] && [ "$peer" -le 30000 ] ||
        lab_fail "aws$n sees cgw on port $peer, not a translated one"
    echo "$sas" | grep -q "INSTALLED, TUNNEL-in-UDP" || lab_fail "aws$n: CHILD_SA is not ESP in UDP: $sas"
    echo "aws$n: cgw seen as 198.51.100.2:$peer, ESP in UDP"
done

# Traffic through the NAT: ping both ways and a 2 MB TCP transfer, byte for byte.
ip netns exec $NS_ONPREM ping -c5 -i0.2 -W2 10.0.0.10 >/dev/null || lab_fail "onprem -> vpc ping"
ip netns exec $NS_VPC ping -c3 -i0.2 -W2 10.10.0.10 >/dev/null || lab_fail "vpc -> onprem ping"
head -c 2000000 /dev/urandom >"$LAB/blob"
ip netns exec $NS_VPC timeout 60 socat -u TCP-LISTEN:5001,reuseaddr OPEN:"$LAB/blob.rx",creat,trunc &
rx=$!
sleep 0.5
ip netns exec $NS_ONPREM timeout 60 socat -u OPEN:"$LAB/blob" TCP:10.0.0.10:5001 ||
    lab_fail "TCP transfer onprem -> vpc"
wait $rx || lab_fail "TCP receiver"
cmp -s "$LAB/blob" "$LAB/blob.rx" || lab_fail "TCP transfer corrupted"
echo "TCP: 2 MB onprem -> vpc intact through the NAT"
if [ "$LAB_DATAPLANE" = userspace ]; then
    # ESP in UDP from each AWS endpoint reaches its tunnel's worker on the socket connected to
    # that endpoint; the offloads (TSO from the TUN, UDP GSO toward charon's kernel ESP) carried
    # the transfer without a malformed packet.
    cgwctl status --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["dataplane_counters"]
keys = ("tunnel_socket_datagrams", "udp_datagrams_in", "tun_tso_packets_in", "udp_gso_messages",
        "udp_gro_datagrams", "tun_coalesced_segments", "offload_errors", "tunnel_socket_errors")
print("userspace dataplane: " + ", ".join("%s %s" % (k, c[k]) for k in keys))
if c["tunnel_socket_datagrams"] == 0: sys.exit("no datagram read by a tunnel worker")
if c["offload_errors"] or c["tunnel_socket_errors"]: sys.exit("offload or tunnel socket errors")
' || lab_fail "userspace dataplane counters"
fi

# Keepalives: one-byte 0xFF UDP payloads from cgw to port 4500 (UDP length 9), seen on inet's
# inside interface over 50 s (cgwd's interval is 20 s when IKE is otherwise quiet).
ip netns exec $NS_INET timeout 50 tcpdump -l -n -i cgw0 \
    'udp and src host 192.168.77.2 and dst port 4500 and udp[4:2] = 9 and udp[8] = 0xff' \
    >"$LAB/keepalive.txt" 2>"$LAB/keepalive.err" || true
ka=$(grep -cE "isakmp-nat-keep-alive|UDP, length 1" "$LAB/keepalive.txt" || true)
echo "NAT-T keepalives from cgw in 50 s: $ka"
[ "$ka" -ge 2 ] || lab_fail "fewer than 2 NAT-T keepalives in 50 s: $(cat "$LAB/keepalive.txt" "$LAB/keepalive.err")"

# After that quiet minute (well past the 30 s conntrack timeout) the mappings are the same and
# traffic still passes in both directions.
for n in 1 2; do
    ns=$NS_T1; [ $n = 2 ] && ns=$NS_T2
    again=$(ip netns exec $ns swanctl --list-sas --uri "unix://$LAB/aws$n/charon.vici" 2>/dev/null |
        sed -n "s/.*remote '198.51.100.2' @ 198.51.100.2\[\([0-9]*\)\].*/\1/p" | head -1)
    [ -n "$again" ] || lab_fail "aws$n lost its IKE SA"
    echo "aws$n: cgw still at 198.51.100.2:$again"
done
ip netns exec $NS_VPC ping -c3 -i0.2 -W2 10.10.0.10 >/dev/null || lab_fail "vpc -> onprem ping after the quiet minute"
ip netns exec $NS_ONPREM ping -c3 -i0.2 -W2 10.0.0.10 >/dev/null || lab_fail "onprem -> vpc ping after the quiet minute"
lab_both_up || lab_fail "tunnels not both up after the quiet minute"

cgwctl status
if grep -qF -e "$PSK1" -e "$PSK2" "$LAB/cgwd.log"; then lab_fail "a PSK appears in cgwd's log"; fi
echo "PASS: NAT traversal"
