#!/usr/bin/env bash
# Lab test (root): two network namespaces joined by a veth pair, esp_tunnel (the userspace ESP
# dataplane) at each end with mirrored hand-made SAs: ESP in UDP per RFC 3948 (mode udp, the
# default, with the offloads on; mode udp-no-offload without them; mode udp-gso-refused with
# them, but the veth's MTU (1400) below the 1500 the tunnels are told, so the kernel refuses
# UDP GSO (EINVAL: a segment above the device MTU) and fragments the single sends) or raw
# ESP, IP protocol 50 through raw sockets (mode raw).
#   userspace_pair.sh ESP_TUNNEL_BINARY gcm|cbc [udp|udp-no-offload|udp-gso-refused|raw]
# Checks: 20 pings with no loss; a DF-set ping larger than the ESP path fits (fragmented before
# encryption, reassembled by the far kernel); a 5 MB TCP transfer with matching SHA-256; the
# SYN seen on the far TUN carries MSS <= 1379 (clamped); a captured ESP packet replayed to the
# receiver is dropped and counted as a replay; per-SA counters agree across the two ends
# (packets/bytes out on one side == in on the other); every ESP packet captured on the wire is
# of the mode's kind (IP protocol 50 or UDP 4500, none of the other). In raw mode the large
# pings fit unfragmented (raw ESP has no 8-byte UDP header: the CBC packet is 1496 bytes).
# Mode udp: the transfer used every offload (TSO packets read from the left TUN, UDP GSO sends,
# GRO datagrams received, segments merged into the right TUN's writes); raw: the TUN ones only
# (raw ESP has no GSO/GRO); udp-no-offload: none; udp-gso-refused: the TUN ones, and the left
# end (the sender of the 5 MB) found GSO refused, turned it off and resent the run packet by
# packet (nothing lost: the per-SA counters still match). In the UDP modes each end's tunnel
# worker reads (nearly) all ESP from its peer on its own connected socket; so it does in raw
# mode, on a raw socket connected to the peer.
# With UDP GSO a frame captured on the veth can hold many ESP packets back to back (the veth
# passes the unsegmented skb), so the capture check counts ESP bytes, not frames.
set -euo pipefail

tool=${1:?usage: userspace_pair.sh ESP_TUNNEL gcm|cbc}
suite=${2:?usage: userspace_pair.sh ESP_TUNNEL gcm|cbc}
mode=${3:-udp}
fail() { echo "FAIL: $*" >&2; exit 1; }
offload=0
gso_refused=0
case "$mode" in
    udp) mode_args=(); offload=1 ;;
    udp-no-offload) mode_args=(--no-offload); mode=udp ;;
    udp-gso-refused) mode_args=(); mode=udp; offload=1; gso_refused=1 ;;
    raw) mode_args=(--raw); offload=1 ;;
    *) fail "unknown mode $mode (udp|udp-no-offload|udp-gso-refused|raw)" ;;
esac
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for cmd in ip tcpdump socat ping python3 sha256sum timeout head od; do
    command -v "$cmd" >/dev/null || fail "missing $cmd (see scripts/packages/dataplane.txt)"
done
[ -x "$tool" ] || fail "esp_tunnel binary $tool not found"
[ -c /dev/net/tun ] || fail "/dev/net/tun missing"

id=$$
L=cgwdl$id
R=cgwdr$id
tmp=$(mktemp -d /tmp/cgwd-dp-lab.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$L" 2>/dev/null || true
    ip netns del "$R" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds or time runs out.
wait_for() {
    local limit=$(($1 * 10)); shift
    for ((i = 0; i < limit; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

ip netns add "$L"
ip netns add "$R"
for ns in "$L" "$R"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$L" link add v0 type veth peer name v1 netns "$R"
ip -n "$L" addr add 192.0.2.1/24 dev v0
ip -n "$R" addr add 192.0.2.2/24 dev v1
ip -n "$L" link set v0 up
ip -n "$R" link set v1 up
if [ "$gso_refused" = 1 ]; then
    # ESP packets of up to 1492 bytes over a 1400-byte link: UDP_SEGMENT sends fail (EINVAL).
    ip -n "$L" link set v0 mtu 1400
    ip -n "$R" link set v1 mtu 1400
fi

hex() { od -An -tx1 -N "$1" /dev/urandom | tr -d ' \n'; }
case "$suite" in
    gcm) cipher=aes-gcm-256; ekl=36; integ=none; ikl=0 ;;  # 32-byte key + 4-byte salt
    cbc) cipher=aes-cbc-128; ekl=16; integ=hmac-sha1-96; ikl=20 ;;
    *) fail "unknown suite $suite" ;;
esac
ek_lr=$(hex $ekl); ek_rl=$(hex $ekl)
ik_args_l=(); ik_args_r=()
if [ "$ikl" -gt 0 ]; then
    ik_lr=$(hex $ikl); ik_rl=$(hex $ikl)
    ik_args_l=(--integ-key-out "$ik_lr" --integ-key-in "$ik_rl")
    ik_args_r=(--integ-key-out "$ik_rl" --integ-key-in "$ik_lr")
fi
spi_lr=c0010001
spi_rl=c0020002

ip netns exec "$L" "$tool" --tun cgwt0 --inner-local 169.254.10.1 --inner-peer 169.254.10.2 \
    --local 192.0.2.1 --remote 192.0.2.2 --cipher $cipher --integ $integ \
    --spi-out $spi_lr --spi-in $spi_rl --enc-key-out "$ek_lr" --enc-key-in "$ek_rl" \
    "${ik_args_l[@]}" "${mode_args[@]}" --mss 1379 >"$tmp/left.json" 2>"$tmp/left.err" &
left_pid=$!; pids+=("$left_pid")
ip netns exec "$R" "$tool" --tun cgwt0 --inner-local 169.254.10.2 --inner-peer 169.254.10.1 \
    --local 192.0.2.2 --remote 192.0.2.1 --cipher $cipher --integ $integ \
    --spi-out $spi_rl --spi-in $spi_lr --enc-key-out "$ek_rl" --enc-key-in "$ek_lr" \
    "${ik_args_r[@]}" "${mode_args[@]}" --mss 1379 >"$tmp/right.json" 2>"$tmp/right.err" &
right_pid=$!; pids+=("$right_pid")
wait_for 10 grep -q ready "$tmp/left.err" || { cat "$tmp/left.err" >&2; fail "left esp_tunnel not ready"; }
wait_for 10 grep -q ready "$tmp/right.err" || { cat "$tmp/right.err" >&2; fail "right esp_tunnel not ready"; }
ip -n "$L" -4 addr show dev cgwt0 | grep -q "169.254.10.1/30" || fail "left TUN has no inner address"
ip -n "$R" link show dev cgwt0 | grep -q "mtu 1436" || fail "right TUN MTU is not 1436"

# Captures: ESP (raw or in UDP) arriving at the right end (for the replay and the kind check),
# SYNs on the right TUN.
ip netns exec "$R" tcpdump -i v1 -U -n -w "$tmp/esp.pcap" \
    "src host 192.0.2.1 and (ip proto 50 or udp dst port 4500)" \
    2>"$tmp/tcpdump-esp.err" &
pids+=("$!")
# Each side's TUN sees the far side's SYN or SYN-ACK after it crossed the tunnel (clamped);
# its own kernel's SYN is clamped on the way out, after the capture point, so it is filtered out.
ip netns exec "$R" tcpdump -i cgwt0 -l -n -v "src host 169.254.10.1 and tcp[tcpflags] & tcp-syn != 0" \
    >"$tmp/syn.txt" 2>"$tmp/tcpdump-syn.err" &
pids+=("$!")
ip netns exec "$L" tcpdump -i cgwt0 -l -n -v "src host 169.254.10.2 and tcp[tcpflags] & tcp-syn != 0" \
    >"$tmp/synack.txt" 2>"$tmp/tcpdump-synack.err" &
pids+=("$!")
wait_for 10 grep -q "listening on" "$tmp/tcpdump-esp.err" || fail "tcpdump (ESP) did not start"
wait_for 10 grep -q "listening on" "$tmp/tcpdump-syn.err" || fail "tcpdump (SYN) did not start"
wait_for 10 grep -q "listening on" "$tmp/tcpdump-synack.err" || fail "tcpdump (SYN-ACK) did not start"

echo "== ping ($suite, $mode)"
ip netns exec "$L" ping -c 20 -i 0.05 -W 2 169.254.10.2 >"$tmp/ping.txt" || { cat "$tmp/ping.txt"; fail "ping failed"; }
grep -q " 0% packet loss" "$tmp/ping.txt" || { cat "$tmp/ping.txt"; fail "ping lost packets"; }
# 1400 bytes of ICMP data = a 1428-byte inner packet with DF set: more than the 1422 bytes an
# AES-CBC ESP-in-UDP packet carries in 1500 (GCM fits 1436): fragmented before encryption. Raw
# ESP carries 1430 (CBC) or 1442 (GCM): no fragments.
ip netns exec "$L" ping -c 3 -i 0.1 -W 2 -M do -s 1400 169.254.10.2 >"$tmp/ping-big.txt" || { cat "$tmp/ping-big.txt"; fail "large DF ping failed"; }
grep -q " 0% packet loss" "$tmp/ping-big.txt" || fail "large DF ping lost packets"

echo "== TCP transfer, 5 MB ($suite, $mode)"
head -c 5242880 /dev/urandom >"$tmp/send.bin"
ip netns exec "$R" timeout 60 socat -u TCP-LISTEN:5001,bind=169.254.10.2,reuseaddr \
    "OPEN:$tmp/recv.bin,creat,trunc" 2>"$tmp/socat-r.err" &
recv_pid=$!; pids+=("$recv_pid")
wait_for 10 ip netns exec "$R" sh -c "ss -ltn | grep -q 169.254.10.2:5001" || fail "socat did not listen"
ip netns exec "$L" timeout ${SEND_TIMEOUT:-60} socat -u "OPEN:$tmp/send.bin" TCP:169.254.10.2:5001 || { kill -TERM "$left_pid" "$right_pid"; sleep 1; cat "$tmp/left.json" "$tmp/right.json"; fail "TCP send failed"; }
wait "$recv_pid" || fail "TCP receive failed"
[ "$(sha256sum <"$tmp/send.bin")" = "$(sha256sum <"$tmp/recv.bin")" ] || fail "checksum mismatch"

echo "== replay of a captured ESP packet ($suite, $mode)"
sleep 0.5  # let tcpdump flush (-U: per packet)
# Counts the captured ESP packets by kind (protocol 50 / UDP) and keeps one of the mode's kind.
python3 - "$tmp/esp.pcap" "$tmp/replay.bin" "$mode" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
mode = sys.argv[3]
endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
pos = 24
kinds = {50: 0, 17: 0}
esp_bytes = {50: 0, 17: 0}
kept = None
while pos + 16 <= len(data):
    incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
    frame = data[pos + 16:pos + 16 + incl]
    pos += 16 + incl
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        continue
    ihl = (frame[14] & 0x0F) * 4
    proto = frame[14 + 9]
    if proto not in kinds:
        continue
    payload = frame[14 + ihl + (8 if proto == 17 else 0):]
    if len(payload) <= 8 or payload[:4] == b"\x00\x00\x00\x00":
        continue  # IKE behind the Non-ESP Marker (none here) or too short
    kinds[proto] += 1
    esp_bytes[proto] += len(payload)
    # A single ESP packet to replay: a small one (a GSO frame holds several back to back).
    if kept is None and proto == (50 if mode == "raw" else 17) and len(payload) <= 300:
        kept = payload
print("ESP on the wire: %d frames (%d bytes) as IP protocol 50, %d frames (%d bytes) in UDP 4500"
      % (kinds[50], esp_bytes[50], kinds[17], esp_bytes[17]))
want, other = (50, 17) if mode == "raw" else (17, 50)
if kinds[other] != 0 or esp_bytes[want] < 5242880 or kept is None:
    sys.exit("FAIL: %s mode, but %d protocol-50 and %d UDP ESP bytes on the wire"
             % (mode, esp_bytes[50], esp_bytes[17]))
open(sys.argv[2], "wb").write(kept)
EOF
# Resent (UDP: from another source port): the receiver must refuse it by sequence number.
ip netns exec "$L" python3 -c '
import socket, sys
esp = open(sys.argv[1], "rb").read()
if sys.argv[2] == "raw":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
    s.sendto(esp, ("192.0.2.2", 0))
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(esp, ("192.0.2.2", 4500))' "$tmp/replay.bin" "$mode"

sleep 1  # let in-flight TCP teardown settle before reading counters
kill -TERM "$left_pid" "$right_pid"
wait "$left_pid" || fail "left esp_tunnel exited with an error"
wait "$right_pid" || fail "right esp_tunnel exited with an error"
cat "$tmp/left.json" "$tmp/right.json"

python3 - "$tmp/left.json" "$tmp/right.json" "$tmp/syn.txt" "$suite" "$tmp/synack.txt" "$mode" \
    "$offload" "$gso_refused" <<'EOF'
import json, re, sys
left = json.load(open(sys.argv[1]))
right = json.load(open(sys.argv[2]))
suite = sys.argv[4]
mode = sys.argv[6]
offload = sys.argv[7] == "1"
gso_refused = sys.argv[8] == "1"
def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)
lo, li, ro, ri = left["outbound"], left["inbound"], right["outbound"], right["inbound"]
check(lo["packets"] > 3000, "too few packets for a 5 MB transfer: %d" % lo["packets"])
check(lo["packets"] == ri["packets"], "left out %d != right in %d" % (lo["packets"], ri["packets"]))
check(ro["packets"] == li["packets"], "right out %d != left in %d" % (ro["packets"], li["packets"]))
check(lo["bytes"] == ri["bytes"], "left out bytes %d != right in bytes %d" % (lo["bytes"], ri["bytes"]))
check(ro["bytes"] == li["bytes"], "right out bytes %d != left in bytes %d" % (ro["bytes"], li["bytes"]))
check(ri["replay_drops"] == 1, "right replay drops %d, want 1" % ri["replay_drops"])
check(li["replay_drops"] == 0, "left replay drops %d" % li["replay_drops"])
check(ri["integrity_failures"] == 0 and li["integrity_failures"] == 0, "integrity failures")
for side in (left, right):
    d = side["dataplane"]
    check(d["raw_esp_open"] == (mode == "raw"), "raw socket open: %s in %s mode" % (d["raw_esp_open"], mode))
    check(d["encap_mismatch"] == 0 and d["unknown_spi"] == 0, "ESP of the wrong kind or SPI")
    check(d["udp_send_errors"] == 0 and d["raw_send_errors"] == 0, "send errors")
    if mode == "raw":
        check(d["udp_datagrams_in"] == 0, "UDP datagrams in raw mode: %d" % d["udp_datagrams_in"])
        check(d["raw_packets_in"] >= side["inbound"]["packets"] > 0,
              "raw ESP packets in %d < accepted %d" % (d["raw_packets_in"], side["inbound"]["packets"]))
    else:
        check(d["raw_packets_in"] == 0, "raw ESP packets in UDP mode")
ld, rd = left["dataplane"], right["dataplane"]
check(ld["offload_errors"] == 0 and rd["offload_errors"] == 0, "offload errors")
# ESP from the peer goes to the tunnel worker's socket connected to that peer (after the first
# packets, which may reach the shared socket before the worker has connected its own): a UDP
# socket sharing the port, or in raw mode a raw socket (then the shared one gets a copy too).
for name, side in (("left", left), ("right", right)):
    d = side["dataplane"]
    check(d["tunnel_socket_errors"] == 0, "%s: tunnel socket errors" % name)
    mine = d["tunnel_socket_datagrams"]
    if mode == "udp":
        check(mine >= d["udp_datagrams_in"] - 10,
              "%s: only %d of %d datagrams read by the tunnel worker" % (name, mine, d["udp_datagrams_in"]))
    else:
        check(mine >= side["inbound"]["packets"] - 10,
              "%s: only %d raw ESP packets read by the tunnel worker, %d accepted"
              % (name, mine, side["inbound"]["packets"]))
total = "udp_datagrams_in" if mode == "udp" else "raw_packets_in"
print("ESP read by the tunnel workers: left %d (%s %d), right %d (%s %d)"
      % (ld["tunnel_socket_datagrams"], total, ld[total], rd["tunnel_socket_datagrams"], total, rd[total]))
# The 5 MB go left -> right: TSO reads and GSO sends on the left, GRO and merging on the right.
tun = {"left TSO packets read": ld["tun_gso_packets_in"],
       "right segments merged into TUN writes": rd["tun_coalesced_segments"]}
udp = {"left UDP GSO sends": ld["udp_gso_messages"],
       "right UDP GRO datagrams": rd["udp_gro_datagrams"]}
print("offloads: " + ", ".join("%s %d" % kv for kv in list(tun.items()) + list(udp.items())))
def used(group, want):
    if want:
        check(all(v > 0 for v in group.values()), "an offload was not used: %s" % group)
    else:
        check(all(v == 0 for v in group.values()), "offloads used although off: %s" % group)
used(tun, offload)
used(udp, offload and mode == "udp" and not gso_refused)
if offload and mode == "udp" and not gso_refused:
    check(ld["udp_gso"] and rd["udp_gro"], "UDP GSO/GRO not in force")
if gso_refused:
    # The right end sends only ACKs: runs of small packets, which the kernel still segments.
    check(not ld["udp_gso"], "the left end still thinks UDP GSO works")
if suite == "cbc" and mode == "udp":
    check(left["dataplane"]["fragments"] >= 3, "large DF pings were not fragmented")
if mode == "raw":
    check(left["dataplane"]["fragments"] == 0, "raw ESP fragmented 1428-byte packets")
syn = [int(m) for m in re.findall(r"mss (\d+)", open(sys.argv[3]).read())]
synack = [int(m) for m in re.findall(r"mss (\d+)", open(sys.argv[5]).read())]
check(len(syn) >= 1, "no SYN with an MSS seen on the right TUN")
check(len(synack) >= 1, "no SYN-ACK with an MSS seen on the left TUN")
mss = syn + synack
check(all(m <= 1379 for m in mss), "MSS not clamped: %s" % mss)
print("counters match: left->right %d packets, right->left %d packets; replay dropped; MSS %s"
      % (lo["packets"], ro["packets"], sorted(set(mss))))
EOF
echo "PASS: userspace ESP pair ($suite, $mode)"
