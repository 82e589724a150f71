#!/usr/bin/env bash
# Scenario 2, an AWS endpoint dies: with both tunnels up and traffic flowing, tunnel 1's AWS
# endpoint disappears (its outside link is cut, charon killed). Traffic must continue over
# tunnel 2 by itself: cgwd notices (DPD / BGP hold time), withdraws tunnel 1's routes and the
# VPC route moves to tunnel 2. A 10 pps ping runs throughout; the outage is printed. Then
# endpoint 1 comes back, and its charon is killed (-9) and restarted: its new IKE SA (with
# INITIAL_CONTACT) must replace cgwd's old one at once, not after DPD.
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
echo "endpoint failure: traffic moved to tunnel 2; longest gap between answers ${outage} s"

# Part 2, endpoint 1's charon restarts (RFC 7296 2.4): while cgwd's IKE SA with it is still
# established, a fresh charon initiates a new IKE SA with N(INITIAL_CONTACT). cgwd must take the
# new SA at once (not after its DPD declares the old one dead, 25 s with AWS's settings), drop
# the old one, and charon must end with exactly one IKE SA.
# charon_start: endpoint 1's charon again, with its config (as aws_endpoint starts it).
charon_start() {
    local d=$LAB/aws1 i
    rm -f "$d/charon.vici"  # a killed charon leaves its socket behind
    ip netns exec $NS_T1 unshare -m --propagation private sh -c \
        "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$d/strongswan.conf exec /usr/lib/ipsec/charon" \
        >>"$d/charon.out" 2>&1 &
    echo $! >"$d/charon.pid"
    for i in $(seq 100); do [ -S "$d/charon.vici" ] && break; sleep 0.2; done
    ip netns exec $NS_T1 swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/charon.vici" \
        >"$d/swanctl.out" 2>&1 || lab_fail "swanctl --load-all on aws1: $(cat "$d/swanctl.out")"
}
swan1() { ip netns exec $NS_T1 swanctl "$@" --uri "unix://$LAB/aws1/charon.vici"; }
# t1_ike: tunnel 1's IKE SPIs in cgwd's status when it is up ("spi_i spi_r"), else nothing.
t1_ike() {
    cgwctl status --json 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)["connections"][0]["tunnels"][0]
if t["state"] == "up" and "ike" in t: print(t["ike"]["spi_i"], t["ike"]["spi_r"])' 2>/dev/null
}
# charon_ike_sas: the number of IKE SAs charon 1 lists.
charon_ike_sas() { swan1 --list-sas 2>/dev/null | grep -c "ESTABLISHED" || true; }
wait_t1_up() {  # SECONDS [SPIS_TO_LEAVE]
    local end=$((SECONDS + $1)) now
    while [ $SECONDS -lt $end ]; do
        now=$(t1_ike)
        [ -n "$now" ] && [ "$now" != "${2:-}" ] && { echo "$now"; return 0; }
        sleep 0.2
    done
    return 1
}

# Endpoint 1 back (link up, charon started, it initiates): tunnel 1 up again.
ip -n $NS_INET link set t1 up
charon_start
swan1 --initiate --child cgw --timeout 20 >"$LAB/aws1/initiate1.out" 2>&1 || true
before=$(wait_t1_up 30) || lab_fail "tunnel 1 not up again after endpoint 1 came back"
for _ in $(seq 20); do [ "$(charon_ike_sas)" = 1 ] && break; sleep 0.5; done
[ "$(charon_ike_sas)" = 1 ] || lab_fail "aws1 holds $(charon_ike_sas) IKE SAs before the restart"
echo "tunnel 1 up again: IKE SA $before"

# charon killed outright and started again: it initiates with INITIAL_CONTACT while cgwd still
# holds the old SA. cgwd answers before charon's initiate completes, so the first status query
# after it must show the new SA (a poll loop would time the VM's slow cgwctl/python, ~1-3 s a
# query, not cgwd); and tunnel 1's IKE SA must never have gone down (no DPD involved).
downs_before=$(grep -c "/1: IKE SA down" "$LAB/cgwd.log" || true)
old_charon=$(cat "$LAB/aws1/charon.pid")
kill -9 "$old_charon"
wait "$old_charon" 2>/dev/null || true  # (our child: reaped quietly)
charon_start
t_restart=$(date +%s.%N)
swan1 --initiate --child cgw --timeout 20 >"$LAB/aws1/initiate2.out" 2>&1 ||
    lab_fail "charon's initiate after its restart failed: $(tail -n 5 "$LAB/aws1/initiate2.out")"
took=$(awk -v a="$t_restart" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
after=$(t1_ike)
[ -n "$after" ] && [ "$after" != "$before" ] ||
    lab_fail "cgwd's tunnel 1 is not up on a new IKE SA when charon's initiate completed" \
        "(IKE SA now: '$after', before: '$before')"
echo "tunnel 1 after charon's restart: IKE SA $after, in place when charon's initiate" \
    "completed (${took} s)"
[ "$(grep -c "/1: IKE SA down" "$LAB/cgwd.log" || true)" = "$downs_before" ] ||
    lab_fail "tunnel 1's IKE SA went down during the replacement"
grep "replacement\|replaced" "$LAB/cgwd.log" | tail -n 6
grep -q "IKE SA replaced (peer restarted, INITIAL_CONTACT)" "$LAB/cgwd.log" ||
    lab_fail "cgwd's log does not show the replacement"
swan1 --list-sas 2>/dev/null | grep -qi "${after%% *}" ||
    lab_fail "charon does not list cgwd's new IKE SA ${after%% *}"
for _ in $(seq 10); do [ "$(charon_ike_sas)" = 1 ] && break; sleep 0.5; done
[ "$(charon_ike_sas)" = 1 ] || lab_fail "aws1 holds $(charon_ike_sas) IKE SAs after its restart"
cgwctl status
echo "PASS: AWS endpoint 1 failure, and its charon's restart (new IKE SA taken at once)"
