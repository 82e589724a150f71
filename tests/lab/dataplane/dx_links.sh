#!/usr/bin/env bash
# Lab test of the Direct Connect pieces of the kernel backend, in a private network namespace,
# driven by kernel_dp (dataplane/tools/kernel_dp.cpp):
#   clamp  interface MSS clamps by name in `inet cgwd` (KernelDataplane::set_interface_mss_clamp
#          and a standalone NftMssClamp::set_interface_clamp) on a veth: rules in forward,
#          output and input with iifname/oifname, IPv4 only, MSS 1379, removed with 0, table
#          gone at the end. On the wire, SYNs sent out of a clamped veth (MTU 1500) to a second
#          namespace: IPv4 arrives with MSS 1379, IPv6 with its own 1440 (DX flows that can fail
#          over to a VPN tunnel are IPv4 only).
#   vlan   KernelLinks: VLAN 100 on a veth parent with 192.0.2.1/30 and MTU 1500, checked with
#          `ip -d -j link` / `ip -j addr`; an idempotent re-create; a second call for the same
#          VLAN adding the IPv6 address 2001:db8:100::1/125 next to the IPv4 one (a Direct
#          Connect virtual interface's two BGP sessions), never "tentative"; VLAN 101 made by
#          the IPv6 call first; a conflicting re-create refused; the interface MSS clamp on the
#          VLAN; delete; nothing left. Needs a kernel with 802.1Q (CONFIG_VLAN_8021Q): run
#          through tests/kernel/klab where the host lacks it.
#   dx_links.sh KERNEL_DP clamp|vlan
set -euo pipefail
tool=$1 mode=$2
ns=cgwd-dx-$$
tmp=$(mktemp -d /tmp/cgwd-dx-XXXXXX)
cleanup() {
    ip netns del "$ns" 2>/dev/null || true
    ip netns del "$ns-far" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$tmp"/*.log >&2 2>/dev/null || true; exit 1; }
for t in ip nft python3 timeout tcpdump; do command -v $t >/dev/null || fail "$t is missing"; done
case "$mode" in clamp|vlan) ;; *) fail "mode must be clamp or vlan" ;; esac

ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
ip -n "$ns" link set lo up
ip -n "$ns" link add dxp type veth peer name dxq
ip -n "$ns" link set dxp up
ip -n "$ns" link set dxq up

# kernel_dp in the namespace reading commands from a fifo: start LOG, step CMD..., finish.
pid="" n=0 log=""
start() {
    log=$tmp/$1.log
    rm -f "$tmp/in" && mkfifo "$tmp/in"
    ip netns exec "$ns" "$tool" <"$tmp/in" >"$log" 2>&1 &
    pid=$!
    exec 3>"$tmp/in"
}
# step CMD...: sends the commands and waits (bounded) until kernel_dp has run them.
step() {
    n=$((n + 1))
    printf '%s\n' "$@" "touch file=$tmp/step$n" >&3
    local end=$((SECONDS + 30))
    until [ -e "$tmp/step$n" ]; do
        grep -q '^FAIL' "$log" 2>/dev/null && fail "kernel_dp: $(cat "$log")"
        kill -0 "$pid" 2>/dev/null || fail "kernel_dp exited: $(cat "$log")"
        [ $SECONDS -lt $end ] || fail "kernel_dp did not finish step $n: $(cat "$log")"
        sleep 0.1
    done
    grep -q '^FAIL' "$log" && fail "kernel_dp: $(cat "$log")"
    return 0
}
finish() {
    exec 3>&-
    local status=0
    timeout 30 tail --pid="$pid" -f /dev/null || fail "kernel_dp did not end"
    wait "$pid" || status=$?
    pid=""
    [ $status = 0 ] || fail "kernel_dp exit status $status: $(cat "$log")"
}
# nft_check DEV MSS: the table holds exactly the 4 interface-clamp rules for DEV (forward in+out,
# output out, input in) with MSS, for IPv4 only, each marked "cgwd interface".
nft_check() {
    local json
    json=$(in_ns nft -j list table inet cgwd) || fail "no table inet cgwd"
    NFT=$json python3 - "$1" "$2" <<'PY' || fail "nft table: $(in_ns nft list table inet cgwd)"
import json, os, sys
dev, mss = sys.argv[1], int(sys.argv[2])
rules = [e["rule"] for e in json.loads(os.environ["NFT"])["nftables"] if "rule" in e]
def shape(r):
    meta = {x["match"]["left"]["meta"]["key"]: x["match"] for x in r["expr"]
            if "match" in x and "meta" in x["match"]["left"]}
    names = [k for k in meta if k in ("iifname", "oifname")]
    assert len(names) == 1, r
    key = names[0]
    assert meta[key]["right"] == dev and meta[key]["op"] == "==", r
    assert meta.get("nfproto", {}).get("right") == "ipv4", r
    gt = [x["match"] for x in r["expr"] if "match" in x and "tcp option" in x["match"]["left"]]
    assert gt and gt[0]["op"] == ">" and gt[0]["right"] == mss, r
    flags = [x["match"] for x in r["expr"] if "match" in x and x["match"]["left"].get("&")]
    assert flags, r  # tcp flags & (syn | rst) == syn
    setm = [x["mangle"]["value"] for x in r["expr"] if "mangle" in x]
    assert setm == [mss], r
    assert r.get("comment") == "cgwd interface", r
    return (r["chain"], key)
got = sorted(shape(r) for r in rules)
want = sorted([("forward", "iifname"), ("forward", "oifname"), ("output", "oifname"), ("input", "iifname")])
assert got == want, got
PY
}
no_table() { ! in_ns nft list table inet cgwd >/dev/null 2>&1 || fail "table inet cgwd left: $(in_ns nft list table inet cgwd)"; }

if [ "$mode" = clamp ]; then
    # Through KernelDataplane: on, change, off; its shutdown at the end leaves no table.
    start kd
    step "ifclamp dev=dxp mss=1379"
    nft_check dxp 1379
    step "ifclamp dev=dxp mss=1300"
    nft_check dxp 1300
    step "ifclamp dev=dxp mss=0"
    in_ns nft list table inet cgwd 2>/dev/null | grep -q maxseg && fail "rules left after mss=0"
    step "ifclamp dev=dxq mss=1379"
    finish
    no_table
    # On the wire: a second namespace behind the veth dxs, SYNs sent to it over IPv4 and IPv6.
    ip netns add "$ns-far"
    ip -n "$ns" link add dxs type veth peer name dxr netns "$ns-far"
    ip -n "$ns" addr add 198.51.100.1/24 dev dxs
    ip -n "$ns" addr add 2001:db8:9::1/64 dev dxs nodad
    ip -n "$ns-far" addr add 198.51.100.2/24 dev dxr
    ip -n "$ns-far" addr add 2001:db8:9::2/64 dev dxr nodad
    ip -n "$ns" link set dxs up
    ip -n "$ns-far" link set dxr up
    ip -n "$ns-far" link set lo up
    start wire
    step "ifclamp dev=dxs mss=1379"
    ip netns exec "$ns-far" timeout 20 tcpdump -l -n -i dxr -c 2 'tcp dst port 5009' \
        >"$tmp/syn.txt" 2>"$tmp/tcpdump.err" &
    dump=$!
    for _ in $(seq 100); do grep -q "listening on" "$tmp/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
    # Nobody listens at 5009: the far side answers RST, the SYN was on the wire all the same.
    for a in 198.51.100.2 2001:db8:9::2; do
        in_ns timeout 5 python3 -c 'import socket, sys
try: socket.create_connection((sys.argv[1], 5009), timeout=3)
except OSError: pass' "$a"
    done
    wait $dump || fail "tcpdump saw no 2 SYNs: $(cat "$tmp/syn.txt" "$tmp/tcpdump.err")"
    v4=$(sed -n 's/.*IP 198\.51\.100\.1\..*Flags \[S\].*mss \([0-9]*\).*/\1/p' "$tmp/syn.txt")
    v6=$(sed -n 's/.*IP6 2001:db8:9::1\..*Flags \[S\].*mss \([0-9]*\).*/\1/p' "$tmp/syn.txt")
    [ "$v4" = 1379 ] || fail "IPv4 SYN through the clamp carries mss '$v4' (want 1379): $(cat "$tmp/syn.txt")"
    [ "$v6" = 1440 ] || fail "IPv6 SYN through the clamp carries mss '$v6' (want 1440, its own): $(cat "$tmp/syn.txt")"
    echo "on the wire: IPv4 SYN mss $v4, IPv6 SYN mss $v6"
    finish
    no_table
    # Standalone NftMssClamp (the userspace-mode daemon's): on, off, and the table stays empty
    # until remove_table (here: kernel_dp's cleanup).
    start sa
    step "dxclamp dev=dxp mss=1379"
    nft_check dxp 1379
    step "dxclamp dev=dxp mss=0"
    in_ns nft list table inet cgwd 2>/dev/null | grep -q maxseg && fail "rules left after mss=0"
    step cleanup
    finish
    no_table
    echo "interface MSS clamp lab passed"
    exit 0
fi

# --- vlan ---
if ! ip -n "$ns" link add link dxp name probe.9 type vlan id 9 2>"$tmp/probe.err"; then
    fail "this kernel cannot create 802.1Q VLAN interfaces ($(cat "$tmp/probe.err")); run this mode through tests/kernel/klab"
fi
ip -n "$ns" link del probe.9
# check_vlan ID V4 [V6]: dxp.ID is VLAN ID on dxp, MTU 1500, up, with exactly the IPv4 address
# V4 (A/P; "-": none) and the global IPv6 address V6 (A/P; none when not given), which is not
# tentative (usable at once: IFA_F_NODAD).
check_vlan() {
    local name=dxp.$1 link addr
    link=$(ip -n "$ns" -d -j link show "$name") || fail "no $name"
    addr=$(ip -n "$ns" -j addr show dev "$name")
    LINK=$link ADDR=$addr ID=$1 V4=$2 V6=${3:-} python3 - <<'PY' || fail "$name: $(ip -n "$ns" -d addr show "$name")"
import json, os
l = json.loads(os.environ["LINK"])[0]
a = json.loads(os.environ["ADDR"])[0]
info = l["linkinfo"]
assert info["info_kind"] == "vlan", info
assert info["info_data"]["id"] == int(os.environ["ID"]), info
assert info["info_data"]["protocol"] == "802.1Q", info
assert l["link"] == "dxp", l
assert l["mtu"] == 1500, l
assert "UP" in l["flags"], l
def want(s):
    if s in ("", "-"):
        return []
    address, length = s.split("/")
    return [(address, int(length))]
v4 = [(x["local"], x["prefixlen"]) for x in a["addr_info"] if x["family"] == "inet"]
assert v4 == want(os.environ["V4"]), v4
v6 = [x for x in a["addr_info"] if x["family"] == "inet6" and x["scope"] == "global"]
assert [(x["local"], x["prefixlen"]) for x in v6] == want(os.environ["V6"]), v6
for x in v6:
    assert not x.get("tentative") and not x.get("dadfailed") and x.get("nodad"), x
PY
    # The same in iproute2's words (the link-local address may still be in DAD: global only).
    if ip -n "$ns" -6 addr show dev "$name" scope global | grep -q tentative; then
        fail "tentative IPv6 address on $name: $(ip -n "$ns" -6 addr show dev "$name")"
    fi
    return 0
}
ip -n "$ns" link set dxp mtu 9000
ip -n "$ns" link set dxq mtu 9000
start vlan
step "vlan parent=dxp id=100 mtu=1500 addr=192.0.2.1/30"
grep -q "^ok vlan ifindex=" "$log" || fail "no ifindex: $(cat "$log")"
ifindex=$(sed -n 's/^ok vlan ifindex=//p' "$log" | head -1)
[ "$ifindex" = "$(ip -n "$ns" -j link show dxp.100 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')" ] \
    || fail "ifindex $ifindex is not dxp.100's"
check_vlan 100 192.0.2.1/30
step "ifindex name=dxp.100"
grep -q "^ok ifindex ifindex=$ifindex\$" "$log" || fail "ifindex_of: $(cat "$log")"
# Idempotent: the same request again gives the same interface, one address.
step "vlan parent=dxp id=100 mtu=1500 addr=192.0.2.1/30"
[ "$(grep -c "^ok vlan ifindex=$ifindex\$" "$log")" = 2 ] || fail "re-create: $(cat "$log")"
check_vlan 100 192.0.2.1/30
# The IPv6 BGP session of the same virtual interface: the same VLAN, its /125 added next to
# the IPv4 address, usable at once.
step "vlan parent=dxp id=100 mtu=1500 addr=2001:db8:100::1/125"
[ "$(grep -c "^ok vlan ifindex=$ifindex\$" "$log")" = 3 ] || fail "IPv6 call: $(cat "$log")"
check_vlan 100 192.0.2.1/30 2001:db8:100::1/125
# Both calls again: nothing added, nothing lost.
step "vlan parent=dxp id=100 mtu=1500 addr=192.0.2.1/30" \
    "vlan parent=dxp id=100 mtu=1500 addr=2001:db8:100::1/125"
[ "$(grep -c "^ok vlan ifindex=$ifindex\$" "$log")" = 5 ] || fail "re-create both: $(cat "$log")"
check_vlan 100 192.0.2.1/30 2001:db8:100::1/125
# Down and without its addresses: the re-creates restore them.
ip -n "$ns" addr flush dev dxp.100
ip -n "$ns" link set dxp.100 down
step "vlan parent=dxp id=100 mtu=1500 addr=192.0.2.1/30"
check_vlan 100 192.0.2.1/30
step "vlan parent=dxp id=100 mtu=1500 addr=2001:db8:100::1/125"
check_vlan 100 192.0.2.1/30 2001:db8:100::1/125
# A VLAN whose IPv6 session comes first: the address goes on while the new interface is still
# down, and is not tentative once it is up either.
step "vlan parent=dxp id=101 mtu=1500 addr=2001:db8:101::1/125"
check_vlan 101 - 2001:db8:101::1/125
step "vlan parent=dxp id=101 mtu=1500 addr=192.0.2.5/30"
check_vlan 101 192.0.2.5/30 2001:db8:101::1/125
step "delvlan name=dxp.101"
ip -n "$ns" link show dxp.101 >/dev/null 2>&1 && fail "dxp.101 still there after delete"
# The Direct Connect interface clamped to the VPN's MSS.
step "ifclamp dev=dxp.100 mss=1379"
nft_check dxp.100 1379
step "ifclamp dev=dxp.100 mss=0"
in_ns nft list table inet cgwd 2>/dev/null | grep -q maxseg && fail "rules left after mss=0"
step "delvlan name=dxp.100"
ip -n "$ns" link show dxp.100 >/dev/null 2>&1 && fail "dxp.100 still there after delete"
finish
# A conflicting re-create (other MTU) is refused and leaves the interface alone.
ip -n "$ns" link add link dxp name dxp.100 mtu 1400 type vlan id 100
out=$(printf 'vlan parent=dxp id=100 mtu=1500 addr=192.0.2.1/30\n' | timeout 30 ip netns exec "$ns" "$tool" 2>&1) \
    && fail "conflicting re-create accepted: $out"
echo "$out" | grep -q "exists with MTU 1400" || fail "conflict message: $out"
ip -n "$ns" -j link show dxp.100 | grep -q '"mtu":1400' || fail "conflict changed the interface"
ip -n "$ns" link del dxp.100
# Nothing of ours left: no VLAN interface, no table.
[ "$(ip -n "$ns" -d -j link show type vlan)" = "[]" ] || fail "VLAN left: $(ip -n "$ns" -d link show type vlan)"
no_table
echo "Direct Connect VLAN lab passed"
