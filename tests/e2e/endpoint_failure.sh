#!/usr/bin/env bash
# Scenario 2, an AWS endpoint dies: with both tunnels up and traffic flowing, tunnel 1's AWS
# endpoint disappears (its outside link is cut, charon killed). Traffic must continue over
# tunnel 2 by itself: cgwd notices (DPD / BGP hold time), withdraws tunnel 1's routes and the
# VPC route moves to tunnel 2. A 10 pps ping runs throughout; the outage is printed.
#   endpoint_failure.sh CGWD [userspace|kernel]   (inside the kernel lab)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/aws_lab.sh"
lab_require
trap lab_cleanup EXIT
LAB_DATAPLANE=${2:-userspace}
lab_setup "${1:?usage: endpoint_failure.sh <cgwd> [userspace|kernel]}"
echo "cgwd dataplane: $LAB_DATAPLANE"
lab_start_cgwd
lab_wait_both_up 120

ip netns exec $NS_ONPREM ping -i 0.1 -W 1 -D 10.0.0.10 >"$LAB/ping.log" 2>&1 &
pinger=$!
sleep 2
t_cut=$(date +%s.%N)
ip -n $NS_INET link set t1 down
kill "$(cat "$LAB/aws1/charon.pid")"
# Wait for the route to move to tunnel 2, then for 3 s of clean pings over it.
for _ in $(seq 600); do
    ip -n $NS_CGW route show 10.0.0.0/16 | grep -q lab-t2 && break
    sleep 0.2
done
ip -n $NS_CGW route show 10.0.0.0/16 | grep -q lab-t2 || lab_fail "10.0.0.0/16 never moved to lab-t2"
sleep 3
kill $pinger; wait $pinger 2>/dev/null || true
# Outage: the longest gap between answered pings after the cut.
outage=$(awk -v cut="$t_cut" '/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 + 0;
         if (t > cut) { if (last == 0) last = cut; if (t - last > gap) gap = t - last; last = t } }
         END { printf "%.1f", gap }' "$LAB/ping.log")
tail -n 2 "$LAB/ping.log" | grep -q "bytes from" || lab_fail "pings are not answered over tunnel 2"
cgwctl status
echo "endpoint failure: traffic moved to tunnel 2; longest gap between answers ${outage} s"
echo "PASS: AWS endpoint 1 failure"
