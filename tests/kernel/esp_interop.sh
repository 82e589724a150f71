#!/usr/bin/env bash
# Runs inside the kernel lab (tests/kernel/klab): our userspace ESP against Linux kernel ESP.
# Namespace "us" runs esp_kernel_probe (EspSa); namespace "kern" has XFRM states and policies
# set with `ip xfrm`, an inner address 10.0.0.1, and answers pings through kernel ESP. Each
# cipher suite is tried over raw ESP and over UDP encapsulation (RFC 3948, port 4500). Then the
# UserspaceDataplane itself (dataplane/tools/esp_tunnel) against the same kernel ESP.
#   esp_interop.sh ESP_KERNEL_PROBE [ESP_TUNNEL]   (default: ../dataplane/esp_tunnel of the probe's tree)
set -euo pipefail
probe=$1
fail() { echo "FAIL: $*" >&2; ip netns exec kern ip -s xfrm state >&2 || true; exit 1; }
cleanup() { ip netns del us 2>/dev/null || true; ip netns del kern 2>/dev/null || true; }
trap cleanup EXIT
ip netns add us; ip netns add kern
ip link add veth-us netns us type veth peer name veth-kern netns kern
ip -n us addr add 192.0.2.1/24 dev veth-us; ip -n us link set veth-us up; ip -n us link set lo up
ip -n kern addr add 192.0.2.2/24 dev veth-kern; ip -n kern link set veth-kern up; ip -n kern link set lo up
ip -n kern addr add 10.0.0.1/32 dev lo
ip -n kern route add 10.10.0.0/16 via 192.0.2.1

keyhex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

run_case() {  # name probe-cipher kernel-algo-args-out kernel-algo-args-in [udp]
  local name=$1 cipher=$2 udp=${5:-}
  ip -n kern xfrm state flush; ip -n kern xfrm policy flush
  local encap=() port=()
  if [ -n "$udp" ]; then
    encap=(encap espinudp 4500 4500 0.0.0.0); port=(--udp-port 4500)
    # The kernel decapsulates ESP-in-UDP only on a socket marked UDP_ENCAP_ESPINUDP.
    ip netns exec kern python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
s.bind(("192.0.2.2", 4500)); time.sleep(60)' &
    encap_pid=$!
    for _ in $(seq 100); do ip netns exec kern ss -Hnlu 'sport = :4500' | grep -q 4500 && break; sleep 0.1; done
    ip netns exec kern ss -Hnlu 'sport = :4500' | grep -q 4500 || fail "$name: no UDP-encap socket on 4500"
  fi
  # us -> kern SA 0x1001 (key A), kern -> us SA 0x2001 (key B).
  ip -n kern xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 mode tunnel reqid 1 replay-window 64 \
     $3 "${encap[@]}" || fail "$name: kernel refused the inbound state"
  ip -n kern xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2001 mode tunnel reqid 1 \
     $4 "${encap[@]}" || fail "$name: kernel refused the outbound state"
  ip -n kern xfrm policy add src 10.10.0.0/16 dst 10.0.0.0/16 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 1
  ip -n kern xfrm policy add src 10.0.0.0/16 dst 10.10.0.0/16 dir out tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel reqid 1
  out=$(ip netns exec us "$probe" --cipher "$cipher" --local 192.0.2.1 --remote 192.0.2.2 --spi-out 0x1001 --spi-in 0x2001 \
        --key-out "$KA" --key-in "$KB" ${AA:+--auth-out "$AA" --auth-in "$AB"} --inner-src 10.10.0.1 --inner-dst 10.0.0.1 \
        --count 5 "${port[@]}") || { echo "$out"; fail "$name: $out"; }
  [ -n "$udp" ] && kill "$encap_pid" 2>/dev/null
  # The kernel counted our 5 packets on its inbound SA and sent 5 on its outbound SA.
  ip -n kern -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 | grep -q "5(packets)" || fail "$name: kernel inbound count"
  echo "ok: $name: $out"
}

# AES-GCM-16-256: 32-byte key + 4-byte salt; the kernel takes them as one rfc4106 key.
KA=$(keyhex 36) KB=$(keyhex 36) AA="" AB=""
for mode in raw udp; do
  run_case "AES-GCM-16-256 $mode" gcm256 "aead rfc4106(gcm(aes)) 0x$KA 128" "aead rfc4106(gcm(aes)) 0x$KB 128" \
    "$([ $mode = udp ] && echo udp)"
done
# AES-CBC-128 + HMAC-SHA1-96.
KA=$(keyhex 16) KB=$(keyhex 16) AA=$(keyhex 20) AB=$(keyhex 20)
for mode in raw udp; do
  run_case "AES-CBC-128/HMAC-SHA1-96 $mode" cbc128-sha1 "enc cbc(aes) 0x$KA auth-trunc hmac(sha1) 0x$AA 96" \
    "enc cbc(aes) 0x$KB auth-trunc hmac(sha1) 0x$AB 96" "$([ $mode = udp ] && echo udp)"
done
# AES-CBC-256 + HMAC-SHA2-256-128.
KA=$(keyhex 32) KB=$(keyhex 32) AA=$(keyhex 32) AB=$(keyhex 32)
run_case "AES-CBC-256/HMAC-SHA2-256-128 raw" cbc256-sha256 "enc cbc(aes) 0x$KA auth-trunc hmac(sha256) 0x$AA 128" \
  "enc cbc(aes) 0x$KB auth-trunc hmac(sha256) 0x$AB 128"

# The whole UserspaceDataplane (esp_tunnel: TUN, batched I/O, raw ESP socket) against the same
# kernel states, as cgwd runs it in userspace mode without a NAT. Namespace "us" has no XFRM
# state, but this kernel has ESP: its ESP handler drops each packet (no state) after the raw
# socket got its copy. Checks: 10 pings and 3 large DF pings (1428-byte inner packets, one raw
# ESP packet each) answered through kernel ESP, the kernel's states counted them, and
# esp_tunnel received only raw ESP (no UDP). Last: the same dataplane over UDP encapsulation.
run_tunnel_case() {  # name esp_tunnel-cipher esp_tunnel-integ kernel-algo-args-out kernel-algo-args-in [udp]
  local name=$1 udp=${6:-}
  ip -n kern xfrm state flush; ip -n kern xfrm policy flush
  local encap=() mode_args=(--raw)
  if [ -n "$udp" ]; then
    encap=(encap espinudp 4500 4500 0.0.0.0); mode_args=()
    ip netns exec kern python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_UDP, 100, 2)  # UDP_ENCAP, UDP_ENCAP_ESPINUDP
s.bind(("192.0.2.2", 4500)); time.sleep(60)' &
    encap_pid=$!
    for _ in $(seq 100); do ip netns exec kern ss -Hnlu 'sport = :4500' | grep -q 4500 && break; sleep 0.1; done
  fi
  ip -n kern xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 mode tunnel reqid 1 replay-window 64 \
     $4 "${encap[@]}" || fail "$name: kernel refused the inbound state"
  ip -n kern xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2001 mode tunnel reqid 1 \
     $5 "${encap[@]}" || fail "$name: kernel refused the outbound state"
  ip -n kern xfrm policy add src 10.10.0.0/16 dst 10.0.0.0/16 dir in tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 1
  ip -n kern xfrm policy add src 10.0.0.0/16 dst 10.10.0.0/16 dir out tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel reqid 1
  local integ_args=()
  [ "$3" != none ] && integ_args=(--integ-key-out "$AA" --integ-key-in "$AB")
  ip netns exec us "$tunnel_tool" --tun cgwk0 --inner-local 10.10.0.1 --inner-peer 10.0.0.1 --prefix 16 \
     --local 192.0.2.1 --remote 192.0.2.2 --cipher "$2" --integ "$3" --spi-out 1001 --spi-in 2001 \
     --enc-key-out "$KA" --enc-key-in "$KB" "${integ_args[@]}" "${mode_args[@]}" --mss 0 \
     >/tmp/tunnel.json 2>/tmp/tunnel.err &
  tunnel_pid=$!
  for _ in $(seq 100); do grep -q ready /tmp/tunnel.err && break; sleep 0.1; done
  grep -q ready /tmp/tunnel.err || { cat /tmp/tunnel.err >&2; fail "$name: esp_tunnel not ready"; }
  ip -n us route add 10.0.0.0/16 dev cgwk0
  ip netns exec us ping -c 10 -i 0.2 -W 3 -I 10.10.0.1 10.0.0.1 >/tmp/ping.txt || { cat /tmp/ping.txt; fail "$name: ping"; }
  ip netns exec us ping -c 3 -i 0.2 -W 3 -M do -s 1400 -I 10.10.0.1 10.0.0.1 >/tmp/ping.txt || { cat /tmp/ping.txt; fail "$name: large ping"; }
  kill -TERM "$tunnel_pid"; wait "$tunnel_pid" || fail "$name: esp_tunnel failed"
  [ -n "$udp" ] && kill "$encap_pid" 2>/dev/null
  local json; json=$(cat /tmp/tunnel.json)
  ip -n kern -s xfrm state get src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1001 | grep -q "13(packets)" \
    || fail "$name: kernel inbound state did not count 13 packets"
  ip -n kern -s xfrm state get src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x2001 | grep -q "13(packets)" \
    || fail "$name: kernel outbound state did not count 13 packets"
  python3 - "$json" "$udp" <<'EOF' || fail "$name: esp_tunnel counters: $json"
import json, sys
j = json.loads(sys.argv[1]); d = j["dataplane"]; udp = sys.argv[2] == "udp"
assert j["inbound"]["packets"] == 13 and j["outbound"]["packets"] == 13, j
assert j["inbound"]["integrity_failures"] == 0 and j["inbound"]["replay_drops"] == 0, j
assert d["fragments"] == 0 and d["encap_mismatch"] == 0 and d["unknown_spi"] == 0, d
if udp:
    assert d["raw_esp_open"] is False and d["raw_packets_in"] == 0 and d["udp_datagrams_in"] == 13, d
else:
    assert d["raw_esp_open"] is True and d["raw_packets_in"] == 13 and d["udp_datagrams_in"] == 0, d
EOF
  echo "ok: $name: 13 packets each way"
}
tunnel_tool=${2:-$(dirname "$probe")/../dataplane/esp_tunnel}
[ -x "$tunnel_tool" ] || fail "esp_tunnel not found at $tunnel_tool (second argument)"
modprobe tun 2>/dev/null || true
[ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
KA=$(keyhex 36) KB=$(keyhex 36) AA="" AB=""
run_tunnel_case "UserspaceDataplane AES-GCM-16-256 raw ESP" aes-gcm-256 none \
  "aead rfc4106(gcm(aes)) 0x$KA 128" "aead rfc4106(gcm(aes)) 0x$KB 128"
run_tunnel_case "UserspaceDataplane AES-GCM-16-256 ESP in UDP" aes-gcm-256 none \
  "aead rfc4106(gcm(aes)) 0x$KA 128" "aead rfc4106(gcm(aes)) 0x$KB 128" udp
KA=$(keyhex 16) KB=$(keyhex 16) AA=$(keyhex 20) AB=$(keyhex 20)
run_tunnel_case "UserspaceDataplane AES-CBC-128/HMAC-SHA1-96 raw ESP" aes-cbc-128 hmac-sha1-96 \
  "enc cbc(aes) 0x$KA auth-trunc hmac(sha1) 0x$AA 96" "enc cbc(aes) 0x$KB auth-trunc hmac(sha1) 0x$AB 96"
echo "kernel ESP interop passed"
