#!/usr/bin/env bash
# Lab test of batched kernel route installation (KernelRoutes::apply through
# KernelDataplane::apply_routes) in a private network namespace, on this host's kernel:
#   1. 20,000 /32 routes via a veth in ONE apply_routes call (proto 240, main table): exactly
#      those routes in `ip route show proto 240`; then all deleted in one call; the same
#      one by one (add_route / del_route) for the timing comparison.
#   2. The same batch with a tiny receive buffer on the route socket (--route-rcvbuf 1): the
#      kernel's acknowledgements overrun it (ENOBUFS), the resync runs and is reported, and
#      the table is still exactly right; then deleted, also through a resync.
#   3. With the tiny buffer, 12 routes via an unreachable gateway: the kernel refuses each one,
#      most refusals are lost with the acknowledgements, and the resync still reports all 12.
# Times are printed (batched vs one by one), not asserted.
#   route_batch.sh KERNEL_DP
set -euo pipefail
tool=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
ns=cgwd-rtb-$$
tmp=$(mktemp -d /tmp/cgwd-rtb-XXXXXX)
proto=240
count=20000
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    cat "$tmp"/*.log >&2 2>/dev/null || true
    exit 1
}
for t in ip python3 timeout; do command -v $t >/dev/null || fail "$t is missing"; done

ip netns add "$ns"
ip -n "$ns" link set lo up
# This host's kernel has no dummy interfaces: one end of a veth pair serves.
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" addr add 10.99.0.1/24 dev va
ip -n "$ns" link set va up
ip -n "$ns" link set vb up

# exact_routes N: our routes are exactly 172.16.0.0 + i, i < N, /32 via va, no others.
exact_routes() {
    ip -n "$ns" -j route show proto "$proto" >"$tmp/routes.json"
    python3 - "$1" "$tmp/routes.json" <<'EOF'
import ipaddress, json, sys
n = int(sys.argv[1])
routes = json.load(open(sys.argv[2]))
base = int(ipaddress.IPv4Address("172.16.0.0"))
want = {str(ipaddress.IPv4Address(base + i)) for i in range(n)}
got = [r["dst"] for r in routes]
bad = [r for r in routes if r.get("dev") != "va" or "gateway" in r]
if len(got) != n or set(got) != want or bad:
    sys.exit(f"routes: {len(got)} (want {n}), missing {len(want - set(got))}, "
             f"extra {len(set(got) - want)}, wrong hops {len(bad)}")
EOF
}
count_routes() { ip -n "$ns" route show proto "$proto" | wc -l; }

# run NAME [kernel_dp options]: starts kernel_dp in the namespace reading commands from a fifo.
run() {
    local name=$1; shift
    mkfifo "$tmp/$name.in"
    ip netns exec "$ns" "$tool" --protocol "$proto" --table 254 "$@" <"$tmp/$name.in" \
        >"$tmp/$name.log" 2>&1 &
    pid=$!
    exec 3>"$tmp/$name.in"
}
# step LOG COMMAND: sends COMMAND, waits (bounded) for its "ok"/"FAIL" line, prints it.
step() {
    local log=$1; shift
    local before
    before=$(grep -c '^ok \|^FAIL' "$log" || true)
    echo "$*" >&3
    local end=$((SECONDS + 120))
    while [ "$(grep -c '^ok \|^FAIL' "$log" || true)" -le "$before" ]; do
        kill -0 "$pid" 2>/dev/null || fail "kernel_dp exited during: $*"
        [ $SECONDS -lt $end ] || fail "timeout: $*"
        sleep 0.1
    done
    local line
    line=$(grep '^ok \|^FAIL' "$log" | tail -1)
    case "$line" in ok*) ;; *) fail "$* -> $line" ;; esac
    echo "  $line" >&2
    echo "$line"
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
finish() {
    exec 3>&-
    timeout 30 tail --pid="$pid" -f /dev/null || fail "kernel_dp did not exit"
    wait "$pid" || fail "kernel_dp failed"
    pid=""
}

echo "== 1: normal receive buffer"
run normal
add=$(step "$tmp/normal.log" bulkroutes count=$count dev=va op=add mode=batch)
[ "$(field "$add" failures)" = 0 ] || fail "batch add failures: $add"
# 256 acknowledgements per send fit the default 1 MiB receive buffer: no resync.
[ "$(field "$add" resynced)" = 0 ] || fail "resync with the default receive buffer: $add"
[ "$(count_routes)" = "$count" ] || fail "ip route show proto $proto: $(count_routes) routes"
exact_routes $count || fail "batch add: the table is not exactly right"
del=$(step "$tmp/normal.log" bulkroutes count=$count dev=va op=del mode=batch)
[ "$(field "$del" failures)" = 0 ] || fail "batch delete failures: $del"
[ "$(count_routes)" = 0 ] || fail "after the batch delete: $(count_routes) routes left"
add1=$(step "$tmp/normal.log" bulkroutes count=$count dev=va op=add mode=single)
[ "$(field "$add1" failures)" = 0 ] || fail "single add failures: $add1"
exact_routes $count || fail "single add: the table is not exactly right"
del1=$(step "$tmp/normal.log" bulkroutes count=$count dev=va op=del mode=single)
[ "$(field "$del1" failures)" = 0 ] || fail "single delete failures: $del1"
[ "$(count_routes)" = 0 ] || fail "after the single deletes: $(count_routes) routes left"
finish

echo "== 2: tiny receive buffer (ENOBUFS forced)"
run tiny --route-rcvbuf 1
tadd=$(step "$tmp/tiny.log" bulkroutes count=$count dev=va op=add mode=batch)
[ "$(field "$tadd" resynced)" = 1 ] || fail "no resync reported with a tiny buffer: $tadd"
[ "$(field "$tadd" failures)" = 0 ] || fail "tiny-buffer add failures: $tadd"
[ "$(count_routes)" = "$count" ] || fail "after the resync: $(count_routes) routes"
exact_routes $count || fail "tiny-buffer add: the table is not exactly right"
tdel=$(step "$tmp/tiny.log" bulkroutes count=$count dev=va op=del mode=batch)
[ "$(field "$tdel" resynced)" = 1 ] || fail "no resync reported for the delete: $tdel"
[ "$(field "$tdel" failures)" = 0 ] || fail "tiny-buffer delete failures: $tdel"
[ "$(count_routes)" = 0 ] || fail "after the resynced delete: $(count_routes) routes left"

echo "== 3: refusals whose acknowledgements were lost are still reported"
bad=$(step "$tmp/tiny.log" bulkroutes count=12 dev=va gw=10.55.0.1 base=172.17.0.0 op=add \
    mode=batch)
[ "$(field "$bad" resynced)" = 1 ] || fail "no resync for the refused batch: $bad"
[ "$(field "$bad" failures)" = 12 ] || fail "refusals not all reported: $bad"
[ "$(count_routes)" = 0 ] || fail "refused routes present: $(count_routes)"
finish

echo
echo "timing, $count routes (ms):"
printf '  batched add %s, delete %s\n' "$(field "$add" ms)" "$(field "$del" ms)"
printf '  one by one add %s, delete %s\n' "$(field "$add1" ms)" "$(field "$del1" ms)"
printf '  tiny buffer + resync: add %s (re-sent %s), delete %s (re-sent %s)\n' \
    "$(field "$tadd" ms)" "$(field "$tadd" repaired)" "$(field "$tdel" ms)" \
    "$(field "$tdel" repaired)"
echo "PASS"
