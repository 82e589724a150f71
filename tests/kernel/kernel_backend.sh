#!/usr/bin/env bash
# Runs inside the kernel lab (tests/kernel/klab): the kernel backend (KernelDataplane) on both
# ends of a veth, driven by kernel_dp (dataplane/tools/kernel_dp.cpp) with hand-made SAs:
#   tunnel 1 cgwd1: AES-GCM-16-256, raw ESP, 169.254.10.2/30 (cgw) <-> .1 (aws)
#   tunnel 2 cgwd2: AES-CBC-256 + HMAC-SHA2-256-128, UDP-encapsulated (4500), ESN,
#                   169.254.11.2/30 <-> .1, MSS clamp 1200 on the cgw side
# Checks: kernel probe; `ip xfrm state/policy` and `ip -d link` show exactly what was asked
# (algorithms, keys, ICV/truncation, SPIs, if_id, encap, ESN, replay window); ping over both
# tunnels and over a route through tunnel 1; a TCP transfer over tunnel 2 arrives intact; tcpdump
# shows the SYN's MSS rewritten to 1200; an SA with 2 s soft / 4 s hard lifetime raises both
# expiry events; query_sa counts packets; update_sa changes the NAT-T port; shutdown on cgw and crash + cleanup_leftovers on aws
# leave nothing behind.
#   kernel_backend.sh KERNEL_DP
set -euo pipefail
tool=$1
tmp=$(mktemp -d /tmp/cgwd-kb-XXXXXX)
IF1=0x63670001 IF2=0x63670002
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del cgw 2>/dev/null || true
    ip netns del aws 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.log; do echo "--- $f" >&2; cat "$f" >&2; done
    exit 1
}
for t in ip nft tcpdump socat python3 ping md5sum; do
    command -v $t >/dev/null || fail "$t is missing"
done
wait_for() {  # SECONDS COMMAND...
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ $SECONDS -lt $end ] || return 1; sleep 0.2; done
}

ip netns add cgw; ip netns add aws
ip link add wan0 netns cgw type veth peer name wan0 netns aws
ip -n cgw addr add 192.0.2.1/24 dev wan0; ip -n aws addr add 192.0.2.2/24 dev wan0
for n in cgw aws; do ip -n $n link set lo up; ip -n $n link set wan0 up; done
ip -n aws addr add 10.200.0.1/32 dev lo
ip -n aws addr add 10.201.0.1/32 dev lo

out=$(echo probe | ip netns exec cgw "$tool") || fail "probe: $out"
[ "$out" = "ok probe esp_cbc=1 esp_gcm=1 xfrm_interface=1 kernel_has_esp=1" ] || fail "probe: $out"

# The kernel decapsulates ESP-in-UDP only on a socket marked UDP_ENCAP_ESPINUDP (the IKE
# daemon's socket in real life).
for n in cgw aws; do
    addr=$([ $n = cgw ] && echo 192.0.2.1 || echo 192.0.2.2)
    ip netns exec $n python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
s.bind((sys.argv[1], 4500)); time.sleep(600)' "$addr" &
    pids+=($!)
done

keyhex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
K1C=$(keyhex 36) K1A=$(keyhex 36)                      # GCM: key + salt, cgw->aws / aws->cgw
K2C=$(keyhex 32) K2A=$(keyhex 32) A2C=$(keyhex 32) A2A=$(keyhex 32)  # CBC + HMAC keys
KX=$(keyhex 20)

start_dp() {  # NS FD: kernel_dp in NS reading commands from a fifo opened on FD
    mkfifo "$tmp/$1.in"
    ip netns exec "$1" "$tool" --underlying wan0 <"$tmp/$1.in" >"$tmp/$1.log" 2>&1 &
    pids+=($!)
    eval "exec $2>\"$tmp/$1.in\""
}
sync_dp() {  # NS FD TAG: waits until kernel_dp has run every command sent so far
    echo "touch file=$tmp/$1.$3" >&"$2"
    wait_for 120 test -e "$tmp/$1.$3" || fail "$1 did not reach $3"
    ! grep -q '^FAIL' "$tmp/$1.log" || fail "$1: $(grep '^FAIL' "$tmp/$1.log")"
}
start_dp cgw 5
cgw_pid=$!
start_dp aws 6
aws_pid=$!

setup() {  # FD ME PEER INSIDE1 INSIDE2 SPI_OUT1 SPI_IN1 KEY_OUT1 KEY_IN1 SPI_OUT2 SPI_IN2 KEY_OUT2 KEY_IN2 AUTH_OUT2 AUTH_IN2
    local fd=$1 me=$2 peer=$3
    cat >&"$fd" <<EOF
cleanup
tunnel name=cgwd1 if_id=$IF1 mtu=1436 local=$4
tunnel name=cgwd2 if_id=$IF2 mtu=1436 local=$5
sa dir=out spi=$6 src=$me dst=$peer cipher=gcm256 key=$8 reqid=1 if_id=$IF1
sa dir=in spi=$7 src=$peer dst=$me cipher=gcm256 key=$9 reqid=1 if_id=$IF1 window=1024
sa dir=out spi=${10} src=$me dst=$peer cipher=cbc256 key=${12} integ=sha256 ikey=${14} encap=4500:4500 esn=1 reqid=2 if_id=$IF2
sa dir=in spi=${11} src=$peer dst=$me cipher=cbc256 key=${13} integ=sha256 ikey=${15} encap=4500:4500 esn=1 window=128 reqid=2 if_id=$IF2
policy dir=out src=0.0.0.0/0 dst=0.0.0.0/0 tsrc=$me tdst=$peer reqid=1 if_id=$IF1
policy dir=in src=0.0.0.0/0 dst=0.0.0.0/0 tsrc=$peer tdst=$me reqid=1 if_id=$IF1
policy dir=out src=0.0.0.0/0 dst=0.0.0.0/0 tsrc=$me tdst=$peer reqid=2 if_id=$IF2
policy dir=in src=0.0.0.0/0 dst=0.0.0.0/0 tsrc=$peer tdst=$me reqid=2 if_id=$IF2
EOF
}
setup 5 192.0.2.1 192.0.2.2 169.254.10.2 169.254.11.2 0xa0000001 0xb0000001 "$K1C" "$K1A" \
    0xa0000002 0xb0000002 "$K2C" "$K2A" "$A2C" "$A2A"
setup 6 192.0.2.2 192.0.2.1 169.254.10.1 169.254.11.1 0xb0000001 0xa0000001 "$K1A" "$K1C" \
    0xb0000002 0xa0000002 "$K2A" "$K2C" "$A2A" "$A2C"
cat >&5 <<EOF
route dst=10.200.0.0/24 hop=$IF1
route dst=10.201.0.0/24 hop=$IF1 hop=$IF2,w=2
mss if_id=$IF2 mss=1200
EOF
echo "route dst=169.254.99.0/24 hop=$IF1" >&6
sync_dp cgw 5 setup
sync_dp aws 6 setup

# --- what the kernel holds is exactly what was asked ---
state() { ip -n cgw xfrm state get src "$1" dst "$2" proto esp spi "$3"; }
s=$(state 192.0.2.1 192.0.2.2 0xa0000001) || fail "no SA 0xa0000001"
for want in "proto esp spi 0xa0000001 reqid 1 mode tunnel" "aead rfc4106(gcm(aes)) 0x$K1C 128" \
    "if_id 0x63670001"; do
    grep -qF "$want" <<<"$s" || fail "SA 0xa0000001 lacks '$want'"
done
! grep -q "encap" <<<"$s" || fail "SA 0xa0000001 has encap"
s=$(state 192.0.2.2 192.0.2.1 0xb0000001) || fail "no SA 0xb0000001"
grep -qF "aead rfc4106(gcm(aes)) 0x$K1A 128" <<<"$s" || fail "SA 0xb0000001 key"
grep -q "replay_window 1024, bitmap-length 32" <<<"$s" || fail "SA 0xb0000001 replay: $s"
s=$(state 192.0.2.1 192.0.2.2 0xa0000002) || fail "no SA 0xa0000002"
for want in "proto esp spi 0xa0000002 reqid 2 mode tunnel" "flag esn" \
    "auth-trunc hmac(sha256) 0x$A2C 128" "enc cbc(aes) 0x$K2C" \
    "encap type espinudp sport 4500 dport 4500 addr 0.0.0.0" "if_id 0x63670002"; do
    grep -qF "$want" <<<"$s" || fail "SA 0xa0000002 lacks '$want'"
done
s=$(state 192.0.2.2 192.0.2.1 0xb0000002) || fail "no SA 0xb0000002"
grep -q "replay_window 128, bitmap-length 4" <<<"$s" || fail "SA 0xb0000002 replay"
[ "$(ip -n cgw xfrm state | grep -c '^src')" = 4 ] || fail "cgw: not exactly 4 SAs"
[ "$(ip -n cgw xfrm policy | grep -c 'if_id 0x6367000[12]')" = 4 ] || fail "cgw: not 4 policies"
p=$(ip -n cgw xfrm policy get src 0.0.0.0/0 dst 0.0.0.0/0 dir out if_id $IF2) || fail "policy"
grep -q "tmpl src 192.0.2.1 dst 192.0.2.2" <<<"$p" || fail "policy template: $p"
grep -q "proto esp reqid 2 mode tunnel" <<<"$p" || fail "policy template mode: $p"
l=$(ip -n cgw -d addr show cgwd1) || fail "no cgwd1"
for want in "mtu 1436" "xfrm if_id 0x63670001" "inet 169.254.10.2/30" ",UP"; do
    grep -qF -- "$want" <<<"$l" || fail "cgwd1 lacks '$want': $l"
done
ip -n cgw -j -d link show cgwd1 | python3 -c '
import json, sys
l = json.load(sys.stdin)[0]
assert l["linkinfo"]["info_kind"] == "xfrm", l
assert l["link"] == "wan0", l' || fail "cgwd1 not on wan0"
ip -n cgw route show 10.201.0.0/24 proto 199 | grep -q "nexthop dev cgwd2 weight 2" \
    || fail "ECMP route: $(ip -n cgw route show proto 199)"

# --- traffic ---
ip netns exec cgw ping -c 3 -W 3 169.254.10.1 >"$tmp/ping1.log" || fail "ping over GCM tunnel"
ip netns exec cgw ping -c 3 -W 3 169.254.11.1 >"$tmp/ping2.log" || fail "ping over CBC/UDP tunnel"
ip netns exec cgw ping -c 2 -W 3 -I 169.254.10.2 10.200.0.1 >"$tmp/ping3.log" \
    || fail "ping via the route through cgwd1"

# TCP over tunnel 2 with tcpdump watching the SYN on cgw's cgwd2.
ip netns exec cgw tcpdump -i cgwd2 -nn -v -l --immediate-mode -c 1 \
    'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' >"$tmp/syn.txt" 2>"$tmp/tcpdump.log" &
dump_pid=$!
pids+=($dump_pid)
wait_for 20 grep -q "listening on" "$tmp/tcpdump.log" || fail "tcpdump did not start"
head -c 1000000 /dev/urandom >"$tmp/send"
ip netns exec aws socat -u TCP-LISTEN:5001,bind=169.254.11.1,reuseaddr OPEN:"$tmp/recv",creat &
pids+=($!)
wait_for 20 bash -c "ip netns exec aws ss -Hltn 'sport = :5001' | grep -q 5001" || fail "no listener"
timeout 120 ip netns exec cgw socat -u OPEN:"$tmp/send" TCP:169.254.11.1:5001 || fail "TCP transfer"
wait_for 30 bash -c "[ \"\$(md5sum <'$tmp/recv' | cut -d' ' -f1)\" = \"$(md5sum <"$tmp/send" | cut -d' ' -f1)\" ]" \
    || fail "received data differs"
wait_for 10 grep -q "mss" "$tmp/syn.txt" || fail "tcpdump saw no SYN: $(cat "$tmp/syn.txt")"
grep -qE "mss 1200[],]" "$tmp/syn.txt" || fail "SYN MSS not clamped to 1200: $(cat "$tmp/syn.txt")"
echo "ok: SYN on cgwd2: $(grep -o 'mss [0-9]*' "$tmp/syn.txt")"

# --- counters, expiry ---
cat >&5 <<EOF
query spi=0xa0000002 dst=192.0.2.2
sa dir=in spi=0xc0000009 src=192.0.2.2 dst=192.0.2.1 cipher=gcm128 key=$KX if_id=$IF1 soft_seconds=2 hard_seconds=4
expiry count=2 timeout=30
EOF
sync_dp cgw 5 expiry
q=$(grep "^ok query" "$tmp/cgw.log")
pk=$(sed -n 's/.*packets=\([0-9]*\).*/\1/p' <<<"$q")
[ "${pk:-0}" -ge 100 ] || fail "query_sa packets: $q"
grep -q "^ok expiry soft:time:3221225481:in hard:time:3221225481:in$" "$tmp/cgw.log" \
    || fail "expiry events: $(grep expiry "$tmp/cgw.log")"
! ip -n cgw xfrm state get src 192.0.2.2 dst 192.0.2.1 proto esp spi 0xc0000009 >/dev/null 2>&1 \
    || fail "hard-expired SA still there"

# update_sa (XFRM_MSG_UPDSA) moves the peer's NAT-T port, as after a NAT rebinding.
echo "updsa dir=out spi=0xa0000002 src=192.0.2.1 dst=192.0.2.2 cipher=cbc256 key=$K2C integ=sha256 ikey=$A2C encap=4500:4600 esn=1 reqid=2 if_id=$IF2" >&5
sync_dp cgw 5 updsa
state 192.0.2.1 192.0.2.2 0xa0000002 | grep -qF "encap type espinudp sport 4500 dport 4600" \
    || fail "update_sa: $(state 192.0.2.1 192.0.2.2 0xa0000002)"

# --- shutdown (cgw) and crash + cleanup_leftovers (aws) leave nothing ---
echo shutdown >&5
sync_dp cgw 5 down
nothing_left() {  # NS
    [ -z "$(ip -n "$1" xfrm state)" ] || fail "$1: SAs left: $(ip -n "$1" xfrm state)"
    [ -z "$(ip -n "$1" xfrm policy)" ] || fail "$1: policies left"
    ! ip -n "$1" link show | grep -q cgwd || fail "$1: interfaces left"
    [ -z "$(ip -n "$1" route show table all proto 199)" ] || fail "$1: routes left"
    ! ip netns exec "$1" nft list table inet cgwd >/dev/null 2>&1 || fail "$1: nft table left"
}
nothing_left cgw
exec 5>&-
echo crash >&6
exec 6>&-
wait "$aws_pid" || fail "aws kernel_dp exit"
[ "$(ip -n aws xfrm state | grep -c '^src')" = 4 ] || fail "aws: the crash should leave 4 SAs"
out=$(echo cleanup | ip netns exec aws "$tool") || fail "cleanup: $out"
[ "$out" = "ok cleanup sas=4 policies=4 interfaces=2 routes=1" ] || fail "cleanup counts: $out"
nothing_left aws
wait "$cgw_pid" || fail "cgw kernel_dp exit"
echo "kernel backend passed"
