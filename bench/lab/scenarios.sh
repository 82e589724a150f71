#!/usr/bin/env bash
# bench/lab's inner script: runs inside the kernel lab VM (tests/kernel/klab; bench/lab/run starts
# it) and measures, in the lab of tests/e2e/aws_lab.sh, each customer-gateway implementation in
# turn, a fresh lab for every measurement:
#   cgwd       cgwd, kernel dataplane, the imported AWS file's settings (DPD 10 s x 3, hold 30 s)
#   cgwd-fast  the same with [[vpn]] dpd_interval_ms = 1000, dpd_retries = 2,
#              dpd_retransmit_ms = 300 ("not available" when the cgwd binary rejects these keys)
#   swan+bird  strongSwan + BIRD 2 as the customer gateway (bench/lab/swan_bird_cgw.sh)
# Scenarios:
#   convergence  CGW started -> first ping onprem -> vpc answered (50 pps ping from before start)
#   tunnel       both tunnels up, 100 pps ping; AWS endpoint 1 dies (its outside link cut and its
#                charon killed) and at the same moment the VPC's return route moves to endpoint
#                2: in real AWS the AWS side reroutes its own endpoint's failure internally, so
#                only the customer gateway's detection is measured. Figure: the longest gap
#                between answered pings after the cut.
#   dx           DX (VLAN 100, MD5, BFD 300 ms x 3) up and preferred, both tunnels up, 100 pps
#                ping; every DX frame is then dropped silently on the DX router's side (as
#                tests/e2e/dx_failover.sh does). Figure: the longest gap between answered pings.
# After each measurement the peak RSS (VmHWM) of cgwd, or of charon + BIRD, is recorded.
# Result lines "ROUND SCENARIO IMPL SECONDS RSS_KIB" (or "... NA" / "... FAIL") go to RESULTS;
# convergence adds "ROUND convergence-ike IMPL SECONDS -": from the first IKE packet at AWS.
#   scenarios.sh CGWD RESULTS ROUNDS [IMPLS] [SCENARIOS]
#   scenarios.sh --one CGWD RESULTS ROUND IMPL SCENARIO     (one measurement; used by the above)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/../..")

if [ "${1:-}" != --one ]; then
    cgwd=${1:?usage: scenarios.sh CGWD RESULTS ROUNDS [IMPLS] [SCENARIOS]}
    results=${2:?results file}
    rounds=${3:-1}
    impls=${4:-cgwd cgwd-fast swan+bird}
    scenarios=${5:-convergence tunnel dx}
    failed=0
    # Interleaved (round, scenario, implementation) so a burst of load on the host hits all alike.
    for r in $(seq "$rounds"); do
        for s in $scenarios; do
            for i in $impls; do
                echo "=== round $r: $s with $i ($(date -u +%T))"
                # A separate bash per measurement: its own errexit, traps and lab.
                if ! bash "$0" --one "$cgwd" "$results" "$r" "$i" "$s"; then
                    echo "FAIL: round $r, $s with $i (the log above says why)" >&2
                    echo "$r $s $i FAIL" >>"$results"
                    failed=1
                fi
            done
        done
    done
    exit $failed
fi

shift
cgwd=$1 results=$2 round=$3 impl=$4 scenario=$5
. "$repo/tests/e2e/aws_lab.sh"
. "$here/swan_bird_cgw.sh"
lab_require
command -v nft >/dev/null || lab_fail "nft not installed"
pinger=""
one_cleanup() {
    local rc=$?
    set +e
    [ -n "$pinger" ] && kill "$pinger" 2>/dev/null && wait "$pinger" 2>/dev/null
    [ $rc -ne 0 ] && [ "$impl" = swan+bird ] && swan_bird_dump
    swan_bird_stop
    lab_cleanup
}
trap one_cleanup EXIT
# cgwd's dataplane: the kernel's, unless the kernel has no ESP (LAB_ESP=libipsec: on the host).
LAB_DATAPLANE=kernel
[ "${LAB_ESP:-kernel}" = libipsec ] && LAB_DATAPLANE=userspace
lab_setup "$cgwd"

case "$impl" in
    cgwd) ;;
    cgwd-fast)
        # The [[vpn]] table is the last one lab_setup writes: the keys land in it.
        printf '%s\n' 'dpd_interval_ms = 1000' 'dpd_retries = 2' 'dpd_retransmit_ms = 300' \
            >>"$LAB/cgwd.toml"
        if ! "$CGWD" --check-config "$LAB/cgwd.toml" >"$LAB/check.out" 2>&1; then
            if grep -q "unknown key 'dpd_" "$LAB/check.out"; then
                echo "cgwd-fast: not available (this cgwd does not accept dpd_interval_ms," \
                    "dpd_retries, dpd_retransmit_ms in [[vpn]])"
                echo "$round $scenario $impl NA" >>"$results"
                exit 0
            fi
            lab_fail "cgwd --check-config with the fast DPD keys: $(grep -v psk "$LAB/check.out" | tail -n 3)"
        fi
        ;;
    swan+bird) ;;
    *) lab_fail "unknown implementation $impl (cgwd, cgwd-fast, swan+bird)" ;;
esac
[ "$scenario" = dx ] && lab_add_dx

# The implementation, behind one interface.
if [ "$impl" = swan+bird ]; then
    impl_start() { swan_bird_start "$([ "$scenario" = dx ] && echo dx)"; }
    impl_alive() { swan_bird_alive; }
    impl_tunnels_up() { swan_bird_up aws1 aws2; }
    impl_rss_kb() { swan_bird_rss_kb; }
else
    impl_start() { lab_start_cgwd; }
    impl_alive() { ! pid_gone "$CGWD_PID"; }
    impl_tunnels_up() { lab_both_up; }
    impl_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$CGWD_PID/status"; }
fi
# The VPC route's next hop: 169.254.21.1 (tunnel 1), 169.254.22.5 (tunnel 2), 192.168.100.1 (DX);
# by next hop, because with LAB_ESP=libipsec strongSwan's two tunnels share one device.
path_now() {
    ip -n "$NS_CGW" route get 10.0.0.10 2>/dev/null |
        sed -n 's/.* via \([^ ]*\) dev \([^ ]*\).*/\1 (\2)/p'
}
# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s; fails loudly on timeout or when
# the implementation exits.
wait_until() {
    local limit=$1 what=$2 end; shift 2
    end=$(($(date +%s) + limit))
    while [ "$(date +%s)" -lt "$end" ]; do
        "$@" && return 0
        impl_alive || lab_fail "$impl exited while waiting for $what"
        sleep 0.1
    done
    lab_fail "$impl: $what not within $limit s (path now: $(path_now))"
}
path_is() {  # path_is tunnel1|tunnel2|dx
    local gw
    case "$1" in tunnel1) gw=169.254.21.1 ;; tunnel2) gw=169.254.22.5 ;; dx) gw=192.168.100.1 ;; esac
    case "$(path_now)" in "$gw "*) return 0 ;; esac; return 1
}
path_on_tunnel() { path_is tunnel1 || path_is tunnel2; }
start_ping() {  # start_ping INTERVAL: timestamped ping onprem -> vpc into $LAB/ping.log
    ip netns exec "$NS_ONPREM" ping -i "$1" -W 1 -D 10.0.0.10 >"$LAB/ping.log" 2>&1 &
    pinger=$!
}
stop_ping() { kill "$pinger" 2>/dev/null; wait "$pinger" 2>/dev/null || true; pinger=""; }
# longest_gap T: the longest gap between answered pings after time T (from T to the first one).
longest_gap() {
    awk -v cut="$1" '/bytes from/ { gsub(/[\[\]]/, "", $1); t = $1 + 0;
        if (t > cut) { if (last == 0) last = cut; if (t - last > gap) gap = t - last; last = t } }
        END { printf "%.2f", gap }' "$LAB/ping.log"
}
answered_at_end() { tail -n 3 "$LAB/ping.log" | grep -q "bytes from"; }

echo "$impl, $scenario: lab ready"
case "$scenario" in
    convergence)
        start_ping 0.02
        sleep 0.5
        t0=$(date +%s.%N)
        impl_start
        wait_until 240 "a ping onprem -> vpc answered" grep -q "bytes from" "$LAB/ping.log"
        first=$(awk '/bytes from/ { gsub(/[\[\]]/, "", $1); print $1; exit }' "$LAB/ping.log")
        value=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.2f", b - a }')
        stop_ping
        echo "$impl: first ping answered $value s after the start"
        # The same without the process start-up: from the first IKE packet either AWS endpoint's
        # charon received (its log's timestamps, same clock) to the first answered ping. charon
        # writes its log file buffered: stop both AWS charons first (the lab is done with them).
        for n in 1 2; do
            p=$(cat "$LAB/aws$n/charon.pid")
            kill "$p" 2>/dev/null || true
            for _ in $(seq 100); do pid_gone "$p" && break; sleep 0.1; done  # 10 s at most
        done
        ike=$(for n in 1 2; do awk '/received packet/ { print $1; exit }' "$LAB/aws$n/charon.log"; done |
            sort -n | head -n 1)
        [ -n "$ike" ] || lab_fail "no IKE packet in the AWS endpoints' charon logs"
        from_ike=$(awk -v a="$ike" -v b="$first" 'BEGIN { printf "%.2f", b - a }')
        echo "$impl: first IKE packet at AWS $(awk -v a="$t0" -v b="$ike" 'BEGIN { printf "%.2f", b - a }') s" \
            "after the start; first ping answered $from_ike s after it"
        echo "$round convergence-ike $impl $from_ike -" >>"$results"
        ;;
    tunnel)
        impl_start
        wait_until 240 "both tunnels up with BGP established" impl_tunnels_up
        wait_until 60 "the VPC route on tunnel 1" path_is tunnel1
        start_ping 0.01
        sleep 3
        answered_at_end || lab_fail "pings not answered before the cut"
        t_cut=$(date +%s.%N)
        ip -n "$NS_INET" link set t1 down
        ip -n "$NS_VPC" route replace 10.10.0.0/16 via 10.0.0.2
        kill "$(cat "$LAB/aws1/charon.pid")"
        wait_until 240 "the VPC route moving to tunnel 2" path_is tunnel2
        sleep 3
        stop_ping
        answered_at_end || lab_fail "pings not answered over tunnel 2"
        value=$(longest_gap "$t_cut")
        echo "$impl: endpoint 1 died; longest gap between answered pings $value s"
        ;;
    dx)
        impl_start
        if [ "$impl" = swan+bird ]; then
            wait_until 240 "both tunnels and DX with BGP established" swan_bird_up aws1 aws2 dx
        else
            wait_until 240 "both tunnels up with BGP established" impl_tunnels_up
        fi
        wait_until 120 "the VPC route on DX" path_is dx
        start_ping 0.01
        sleep 3
        answered_at_end || lab_fail "pings not answered over DX before the cut"
        t_cut=$(date +%s.%N)
        ip netns exec "$NS_DXR" nft -f - <<'EOF'
table netdev cut {
    chain in { type filter hook ingress device "dx0" priority 0; policy drop; }
    chain out { type filter hook egress device "dx0" priority 0; policy drop; }
}
EOF
        wait_until 150 "the VPC route moving to a tunnel" path_on_tunnel
        sleep 3
        stop_ping
        answered_at_end || lab_fail "pings not answered over the tunnels after the DX cut"
        value=$(longest_gap "$t_cut")
        echo "$impl: DX cut; route now via $(path_now); longest gap between answered pings $value s"
        ;;
    *) lab_fail "unknown scenario $scenario (convergence, tunnel, dx)" ;;
esac
rss=$(impl_rss_kb)
[ -n "$rss" ] || lab_fail "no VmHWM for $impl"
echo "$impl: peak RSS $rss KiB"
echo "$round $scenario $impl $value $rss" >>"$results"
