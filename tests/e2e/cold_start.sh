#!/usr/bin/env bash
# Scenario 1, cold start: cgwd imports the AWS file the lab wrote, brings up both tunnels to two
# independent AWS endpoints (strongSwan + BIRD), BGP comes up on both, the VPC route is
# installed, and onprem <-> vpc ping and a TCP transfer pass. Prints the time from cgwd's start
# to the first ping answered through a tunnel.
#   cold_start.sh CGWD [userspace|kernel]        (inside the kernel lab: tests/kernel/klab ... cold_start.sh CGWD)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/aws_lab.sh"
lab_require
trap lab_cleanup EXIT
LAB_DATAPLANE=${2:-userspace}
lab_setup "${1:?usage: cold_start.sh <cgwd> [userspace|kernel]}"
echo "cgwd dataplane: $LAB_DATAPLANE"

t0=$(date +%s%N)
lab_start_cgwd
first=""
for _ in $(seq 300); do
    if ip netns exec $NS_ONPREM ping -c1 -W1 10.0.0.10 >/dev/null 2>&1; then
        first=$(date +%s%N)
        break
    fi
    kill -0 "$CGWD_PID" 2>/dev/null || lab_fail "cgwd exited"
done
[ -n "$first" ] || lab_fail "no ping onprem -> vpc within the wait"
echo "cold start: first packet through after $(( (first - t0) / 1000000 )) ms (emulated CPU)"
# Where the time went: cgwd's events, in ms since its start.
cgwctl events --no-follow | python3 -c '
import datetime, sys
t0 = int(sys.argv[1]) / 1e9
for line in sys.stdin:
    when = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f").timestamp()
    print("  +%6d ms  %s" % ((when - t0) * 1000, line[23:].strip()))' "$t0" || true

# Both tunnels up and both BGP sessions established, seen from cgwd and from each AWS side.
lab_wait_both_up 60
for n in 1 2; do
    ns=$NS_T1; [ $n = 2 ] && ns=$NS_T2
    ip netns exec $ns birdc -s "$LAB/aws$n/bird.ctl" show protocols cgw | grep -q Established ||
        lab_fail "BIRD on aws$n does not see the session established"
    ip netns exec $ns birdc -s "$LAB/aws$n/bird.ctl" show route 10.10.0.0/16 | grep -q 10.10.0.0/16 ||
        lab_fail "aws$n did not learn 10.10.0.0/16 from cgwd"
    ip netns exec $ns swanctl --list-sas --uri "unix://$LAB/aws$n/charon.vici" 2>/dev/null | grep -q INSTALLED ||
        lab_fail "charon on aws$n has no installed CHILD_SA"
done

# The VPC route: AWS's MEDs differ (100 on tunnel 1, 200 on tunnel 2), so tunnel 1 is best.
routes=$(ip -n $NS_CGW route show 10.0.0.0/16)
echo "cgw: $routes"
echo "$routes" | grep -q "lab-t1" || lab_fail "10.0.0.0/16 is not routed through lab-t1: $routes"
cgwctl routes

# Traffic: ping both ways and a 2 MB TCP transfer onprem -> vpc, checked byte for byte.
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
echo "TCP: 2 MB onprem -> vpc intact"
# No NAT between cgw and AWS: both dataplanes carry raw ESP (IP protocol 50), not ESP in UDP,
# unless [outside] force_encap is set (LAB_FORCE_ENCAP=1).
kind="raw ESP"; [ "${LAB_FORCE_ENCAP:-0}" = 1 ] && kind="UDP-encapsulated"
[ "$(grep -c "$kind installed" "$LAB/cgwd.log")" -ge 2 ] ||
    lab_fail "CHILD_SAs not installed as $kind: $(grep "CHILD_SA in" "$LAB/cgwd.log")"
echo "CHILD_SAs: $kind"

cgwctl status
# No PSK in anything cgwd printed.
if grep -qF -e "$PSK1" -e "$PSK2" "$LAB/cgwd.log"; then lab_fail "a PSK appears in cgwd's log"; fi
cgwctl status --json | grep -qF -e "$PSK1" -e "$PSK2" && lab_fail "a PSK appears in the status"
echo "PASS: cold start"
