#!/usr/bin/env bash
# Runs inside the kernel lab (tests/kernel/klab): our userspace ESP against Linux kernel ESP.
# Namespace "us" runs esp_kernel_probe (EspSa); namespace "kern" has XFRM states and policies
# set with `ip xfrm`, an inner address 10.0.0.1, and answers pings through kernel ESP. Each
# cipher suite is tried over raw ESP and over UDP encapsulation (RFC 3948, port 4500).
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
echo "kernel ESP interop passed"
