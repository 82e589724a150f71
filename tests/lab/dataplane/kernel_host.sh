#!/usr/bin/env bash
# Lab test of the kernel backend on a kernel WITHOUT ESP (this host's): what works everywhere.
# In a private network namespace, kernel_dp (dataplane/tools/kernel_dp.cpp) programs
#   KernelRoutes: add, ECMP with weights, replace, delete, flush_protocol  -> ip -j route
#   XFRM policies with if_id                                          -> ip -j xfrm policy
#   the nft MSS table `inet cgwd`                                     -> nft -j list table
# then a "crash" leaves everything behind and a new instance's cleanup_leftovers() removes it
# all while a foreign route (proto static) and a foreign policy (if_id 5) survive; an instance
# that ends normally (destructor = shutdown) leaves nothing. Last, IPv6 next to IPv4: an IPv6
# ECMP route via both links (gateways, weights, metric 1024) -> ip -6 -j route, replaced by one
# hop, a device route, a delete, and flushroutes removing our IPv4 and IPv6 routes and no other.
#   kernel_host.sh KERNEL_DP
set -euo pipefail
tool=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
ns=cgwd-dpk-$$
tmp=$(mktemp -d /tmp/cgwd-dpk-XXXXXX)
table=$((1000 + $$ % 1000))
proto=199
ifid=0x63670001
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$tmp"/*.log >&2 2>/dev/null || true; exit 1; }
for t in ip nft python3; do command -v $t >/dev/null || fail "$t is missing"; done

ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
ip -n "$ns" link set lo up
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" addr add 10.99.0.1/24 dev va
ip -n "$ns" addr add 10.99.1.1/24 dev vb
ip -n "$ns" link set va up
ip -n "$ns" link set vb up
# Not ours: must survive cleanup.
ip -n "$ns" route add 10.77.0.0/24 via 10.99.0.2 table "$table" proto static
ip -n "$ns" xfrm policy add src 0.0.0.0/0 dst 10.78.0.0/24 dir out if_id 5 \
    tmpl src 192.0.2.1 dst 192.0.2.9 proto esp mode tunnel

routes_json() { ip -n "$ns" -j route show table "$table" proto "$proto"; }
# py EXPR: evaluates EXPR with r = our routes, p = our policies, n = nft table (None: none).
py() {
    local routes policies nft
    routes=$(routes_json)
    policies=$(ip -n "$ns" -j xfrm policy 2>/dev/null || echo '[]')
    nft=$(in_ns nft -j list table inet cgwd 2>/dev/null || echo 'null')
    ROUTES=$routes POLICIES=$policies NFT=$nft python3 -c '
import json, os, sys
r = json.loads(os.environ["ROUTES"] or "[]")
pol = os.environ["POLICIES"]
p = json.loads(pol) if pol.strip().startswith("[") else None
n = json.loads(os.environ["NFT"])
def route(dst):
    m = [x for x in r if x["dst"] == dst]
    return m[0] if m else None
def rules(chain):
    return [e["rule"] for e in (n or {"nftables": []})["nftables"] if "rule" in e and e["rule"]["chain"] == chain]
def mss_of(rule):
    return [x["mangle"]["value"] for x in rule["expr"] if "mangle" in x]
ok = eval(sys.argv[1])
sys.exit(0 if ok else 1)' "$1"
}
# ip -j xfrm policy is not JSON in every iproute2: use the text form for policies.
policy_count() { ip -n "$ns" xfrm policy | grep -c "if_id $1" || true; }

wait_file() { wait_for 30 test -e "$1" || fail "kernel_dp did not reach $1: $(cat "$tmp"/*.log)"; }

# --- phase 1: add ---
mkfifo "$tmp/in"
in_ns "$tool" --table "$table" --protocol "$proto" <"$tmp/in" >"$tmp/a.log" 2>&1 &
pid=$!
exec 3>"$tmp/in"
cat >&3 <<EOF
cleanup
route dst=10.50.0.0/24 hop=dev:va,gw=10.99.0.2
route dst=10.51.0.0/24 metric=10 hop=dev:va,gw=10.99.0.2,w=1 hop=dev:vb,gw=10.99.1.2,w=3
route dst=10.52.0.0/24 hop=dev:vb
policy dir=out src=0.0.0.0/0 dst=10.50.0.0/24 tsrc=192.0.2.1 tdst=192.0.2.2 reqid=7 if_id=$ifid
policy dir=in src=10.50.0.0/24 dst=0.0.0.0/0 tsrc=192.0.2.2 tdst=192.0.2.1 reqid=7 if_id=$ifid
policy dir=fwd src=10.50.0.0/24 dst=0.0.0.0/0 tsrc=192.0.2.2 tdst=192.0.2.1 reqid=7 if_id=$ifid
clamp dev=va mss=1300
clamp dev=vb mss=1200
routes
touch file=$tmp/ready1
wait file=$tmp/go1 timeout=60
EOF
wait_file "$tmp/ready1"
py 'len(r) == 3' || fail "expected 3 routes of proto $proto: $(routes_json)"
py 'route("10.50.0.0/24")["gateway"] == "10.99.0.2" and route("10.50.0.0/24")["dev"] == "va"' \
    || fail "single-hop route: $(routes_json)"
py 'route("10.51.0.0/24")["metric"] == 10 and [(h["dev"], h["gateway"], h["weight"]) for h in route("10.51.0.0/24")["nexthops"]] == [("va", "10.99.0.2", 1), ("vb", "10.99.1.2", 3)]' \
    || fail "ECMP route: $(routes_json)"
py 'route("10.52.0.0/24")["dev"] == "vb" and "gateway" not in route("10.52.0.0/24") and route("10.52.0.0/24").get("scope") == "link"' \
    || fail "device route: $(routes_json)"
[ "$(policy_count "$ifid")" = 3 ] || fail "expected 3 policies with if_id $ifid: $(ip -n "$ns" xfrm policy)"
ip -n "$ns" xfrm policy get src 0.0.0.0/0 dst 10.50.0.0/24 dir out if_id "$ifid" \
    | grep -q "tmpl src 192.0.2.1 dst 192.0.2.2" || fail "out policy template"
ip -n "$ns" xfrm policy get src 0.0.0.0/0 dst 10.50.0.0/24 dir out if_id "$ifid" \
    | grep -q "proto esp reqid 7 mode tunnel" || fail "out policy template mode/reqid"
py 'sorted(mss_of(x)[0] for x in rules("forward")) == [1200, 1200, 1300, 1300] and len(rules("output")) == 2 and len(rules("input")) == 2' \
    || fail "nft MSS table: $(in_ns nft list table inet cgwd)"
grep -q "ok routes" "$tmp/a.log" || fail "routes listing"

# --- phase 2: replace, delete, unclamp ---
cat >&3 <<EOF
route dst=10.51.0.0/24 metric=10 hop=dev:vb,gw=10.99.1.5
delroute dst=10.50.0.0/24
delpolicy dir=fwd src=10.50.0.0/24 dst=0.0.0.0/0 if_id=$ifid
clamp dev=va mss=0
touch file=$tmp/ready2
wait file=$tmp/go2 timeout=60
EOF
touch "$tmp/go1"
wait_file "$tmp/ready2"
py 'len(r) == 2 and route("10.50.0.0/24") is None' || fail "delete: $(routes_json)"
py 'route("10.51.0.0/24")["gateway"] == "10.99.1.5" and "nexthops" not in route("10.51.0.0/24")' \
    || fail "replace ECMP by one hop: $(routes_json)"
[ "$(policy_count "$ifid")" = 2 ] || fail "policy delete"
py 'len(rules("forward")) == 2 and len(rules("input")) == 1' || fail "unclamp va: $(in_ns nft list table inet cgwd)"

# --- phase 3: a crash leaves everything; a new instance's cleanup_leftovers removes it ---
cat >&3 <<EOF
crash
EOF
exec 3>&-
touch "$tmp/go2"
wait "$pid" || fail "kernel_dp (crash) exit status"
pid=""
py 'len(r) == 2' || fail "a crash should leave the routes"
out=$(echo cleanup | in_ns "$tool" --table "$table" --protocol "$proto") || fail "cleanup: $out"
echo "$out" | grep -q "ok cleanup sas=0 policies=2 interfaces=0 routes=2" || fail "cleanup counts: $out"
py 'len(r) == 0' || fail "cleanup left routes: $(routes_json)"
[ "$(policy_count "$ifid")" = 0 ] || fail "cleanup left policies"
py 'n is None' || fail "cleanup left the nft table"
ip -n "$ns" route show table "$table" | grep -q "10.77.0.0/24 via 10.99.0.2 dev va proto static" \
    || fail "cleanup removed a foreign route"
[ "$(policy_count 0x5)" = 1 ] || fail "cleanup removed a foreign policy"

# --- phase 4: normal end (destructor = shutdown) removes what the instance made ---
out=$(in_ns "$tool" --table "$table" --protocol "$proto" <<EOF
route dst=10.60.0.0/24 hop=dev:va,gw=10.99.0.2
policy dir=out src=0.0.0.0/0 dst=10.60.0.0/24 tsrc=192.0.2.1 tdst=192.0.2.2 reqid=8 if_id=$ifid
routes
EOF
) || fail "phase 4: $out"
echo "$out" | grep -q "10.60.0.0/24 table $table" || fail "routes listing: $out"
py 'len(r) == 0' || fail "shutdown left routes: $(routes_json)"
[ "$(policy_count "$ifid")" = 0 ] || fail "shutdown left policies"
ip -n "$ns" route show table "$table" | grep -q "10.77.0.0/24" || fail "foreign route gone"

# --- phase 5: IPv6 routes next to IPv4 ones ---
ip -n "$ns" addr add 2001:db8:99::1/64 dev va nodad
ip -n "$ns" addr add 2001:db8:99:1::1/64 dev vb nodad
ip -n "$ns" -6 route add 2001:db8:77::/48 via 2001:db8:99::2 dev va table "$table" proto static
routes6_json() { ip -n "$ns" -6 -j route show table "$table" proto "$proto"; }
# py6 EXPR: EXPR with r = our IPv6 routes (route(dst) as in py).
py6() {
    ROUTES=$(routes6_json) python3 -c '
import json, os, sys
r = json.loads(os.environ["ROUTES"] or "[]")
def route(dst):
    m = [x for x in r if x["dst"] == dst]
    return m[0] if m else None
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}
rm -f "$tmp/in" && mkfifo "$tmp/in"
in_ns "$tool" --table "$table" --protocol "$proto" <"$tmp/in" >"$tmp/e.log" 2>&1 &
pid=$!
exec 3>"$tmp/in"
cat >&3 <<EOF
route dst=2001:db8:50::/48 hop=dev:va,gw=2001:db8:99::2,w=1 hop=dev:vb,gw=2001:db8:99:1::2,w=3
route dst=10.53.0.0/24 hop=dev:va,gw=10.99.0.2
routes
touch file=$tmp/ready5
wait file=$tmp/go5 timeout=60
EOF
wait_file "$tmp/ready5"
py6 'len(r) == 1 and route("2001:db8:50::/48")["metric"] == 1024 and [(h["dev"], h["gateway"], h["weight"]) for h in route("2001:db8:50::/48")["nexthops"]] == [("va", "2001:db8:99::2", 1), ("vb", "2001:db8:99:1::2", 3)]' \
    || fail "IPv6 ECMP route: $(routes6_json)"
py 'len(r) == 1 and route("10.53.0.0/24")["gateway"] == "10.99.0.2"' || fail "IPv4 route next to it: $(routes_json)"
grep -Eq "^  2001:db8:50::/48 table $table metric 1024 \[ifindex [0-9]+ via 2001:db8:99::2 weight 1\] \[ifindex [0-9]+ via 2001:db8:99:1::2 weight 3\]$" "$tmp/e.log" \
    || fail "routes listing (KernelRoutes::list) without the IPv6 route: $(cat "$tmp/e.log")"
cat >&3 <<EOF
route dst=2001:db8:50::/48 hop=dev:vb,gw=2001:db8:99:1::5
route dst=2001:db8:51::/64 hop=dev:va,gw=2001:db8:99::2
delroute dst=2001:db8:51::/64
route dst=2001:db8:52::/64 hop=dev:va
touch file=$tmp/ready6
wait file=$tmp/go6 timeout=60
EOF
touch "$tmp/go5"
wait_file "$tmp/ready6"
py6 'len(r) == 2 and route("2001:db8:50::/48")["gateway"] == "2001:db8:99:1::5" and route("2001:db8:50::/48")["dev"] == "vb" and "nexthops" not in route("2001:db8:50::/48")' \
    || fail "IPv6 ECMP replaced by one hop: $(routes6_json)"
py6 'route("2001:db8:51::/64") is None and route("2001:db8:52::/64")["dev"] == "va" and "gateway" not in route("2001:db8:52::/64")' \
    || fail "IPv6 delete / device route: $(routes6_json)"
cat >&3 <<EOF
flushroutes
crash
EOF
exec 3>&-
touch "$tmp/go6"
wait "$pid" || fail "kernel_dp (IPv6 phase) exit status: $(cat "$tmp/e.log")"
pid=""
grep -q "^ok flushroutes removed=3$" "$tmp/e.log" || fail "flushroutes: $(cat "$tmp/e.log")"
py6 'len(r) == 0' || fail "flushroutes left IPv6 routes: $(routes6_json)"
py 'len(r) == 0' || fail "flushroutes left IPv4 routes: $(routes_json)"
ip -n "$ns" -6 route show table "$table" | grep -q "2001:db8:77::/48 via 2001:db8:99::2 dev va proto static" \
    || fail "flushroutes removed a foreign IPv6 route: $(ip -n "$ns" -6 route show table "$table")"
ip -n "$ns" route show table "$table" | grep -q "10.77.0.0/24" || fail "foreign IPv4 route gone"
echo "kernel backend host lab passed"
