#!/usr/bin/env bash
# Hostile peers (issues 3 and 8): with both tunnels up and a 100 pps ping onprem -> vpc running,
#   a. an IKE_SA_INIT flood from the internet side (raw sockets, random SPIs), half from random
#      spoofed sources and half spoofed as AWS endpoint 1, to UDP 500 and 4500: the unknown
#      sources are dropped and counted, AWS's address gets cookies (RFC 7296 2.6) instead of
#      half-open SAs, cgwd's RSS stays bounded, both tunnels and their IKE SAs stay as they
#      were (same SPIs), tunnel 1's CHILD_SA is rekeyed during the flood by each side (cgwctl
#      rekey, then charon's swanctl --rekey from the spoofed address) and the ping loses at
#      most a little;
#   b. ESP abuse toward cgwd's userspace dataplane (captured ESP from AWS replayed,
#      truncated, with an unknown SPI, with a flipped ICV byte): each kind dropped and counted
#      (status: replay_drops, integrity_failures, dataplane_counters), traffic keeps flowing;
#   c. garbage and an oversize message to cgwd's BGP port (it listens on each tunnel's inside
#      address), from a stranger and from the BGP peer's own address: the sessions stay up;
#   d. a hostile, flapping BGP peer on tunnel 2 (bgp_hostile_peer.py from AWS endpoint 2's
#      inside address, its BIRD session disabled meanwhile): a connection about once a second
#      for FLAP_SECONDS, playing a malformed OPEN (version 3, hold time 1), a malformed UPDATE
#      (attribute length past the message: reset 3/1), a treat-as-withdraw UPDATE (3-octet MED,
#      RFC 7606: no reset) and a NOTIFICATION with a bogus code: cgwd answers 2/1, 2/6, 3/1 and
#      nothing else (tcpdump + tshark) and damps the peer (RFC 4271 8.1.1 idle hold 1, 2, 4 ...
#      s, refusing its connections meanwhile), so the connections it takes and opens are bounded
#      by that schedule; tunnel 1's session and the 100 pps ping are untouched; BIRD re-enabled,
#      the session is back within the idle hold left + 15 s;
#   e. no PSK in cgwd's log or status (the DX MD5 key is looked for by dx_failover.sh).
# Prints the bounds and the results in one summary block at the end.
#   hostile.sh CGWD [userspace]        (inside the kernel lab; LAB_SAVE=DIR keeps the lab's files)
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/aws_lab.sh"
lab_require
for c in tcpdump python3; do command -v $c >/dev/null || lab_fail "$c not installed"; done
trap lab_cleanup EXIT
LAB_DATAPLANE=${2:-userspace}
[ "$LAB_DATAPLANE" = userspace ] || lab_fail "hostile.sh covers the userspace dataplane only"
lab_setup "${1:?usage: hostile.sh <cgwd> [userspace]}"
echo "cgwd dataplane: $LAB_DATAPLANE"
lab_start_cgwd
lab_wait_both_up 120
ip netns exec $NS_ONPREM ping -c2 -W2 10.0.0.10 >/dev/null || lab_fail "no traffic after start"

FLOOD_RATE=${FLOOD_RATE:-4000}  # IKE_SA_INIT per second (target)
FLOOD_SECONDS=${FLOOD_SECONDS:-10}
PING_MAX_LOSS=5  # percent, during the flood
RSS_MAX_GROWTH_KB=16384

# q EXPR: a Python expression over the status document `d`.
q() { cgwctl status --json | python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
TUNNELS='d["connections"][0]["tunnels"]'
ike_spis() { q "' '.join(t['ike']['spi_i'] + ':' + t['ike']['spi_r'] for t in d['connections'][0]['tunnels'])"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$CGWD_PID/status"; }
udp_rcvbuf_errors() { ip netns exec $NS_CGW cat /proc/net/snmp | awk '/^Udp:/ {n++} n == 2 && /^Udp:/ {print $6; exit}'; }

# --- a: IKE_SA_INIT flood ---------------------------------------------------------------------
spis_before=$(ike_spis)
child_rekeys() { q "' '.join(str(t['ike']['child_rekeys']) for t in $TUNNELS)"; }
child_spis() { q "' '.join(c['spi_in'] for t in $TUNNELS for c in t['child_sas'])"; }
read -r rekeys1_before rekeys2_before <<<"$(child_rekeys)"
child_spis_before=$(child_spis)
rss_before=$(rss_kb)
rcvbuf_before=$(udp_rcvbuf_errors)
ip netns exec $NS_ONPREM ping -i 0.01 -c $(( (FLOOD_SECONDS + 4) * 100 )) -W 2 10.0.0.10 \
    >"$LAB/ping_flood.log" 2>&1 &
pinger=$!
sleep 1
# Rekeys during the flood, both ways, on the tunnel whose AWS address the flood spoofs: cgwd
# rekeys tunnel 1's CHILD_SA after 3 s, AWS endpoint 1's charon rekeys it after 6 s (its
# genuine CREATE_CHILD_SA must get through the cookie and rate-limit defences).
(
    sleep 3
    cgwctl rekey "vpn-0e2e0e2e0e2e0e2e0/1" >"$LAB/rekey_flood_ours.out" 2>&1
    sleep 3
    ip netns exec $NS_T1 swanctl --rekey --child cgw --uri "unix://$LAB/aws1/charon.vici" \
        >"$LAB/rekey_flood_aws.out" 2>&1
) &
rekeyer=$!
ip netns exec $NS_INET python3 - "$FLOOD_RATE" "$FLOOD_SECONDS" >"$LAB/flood.out" <<'PY'
import os, random, socket, struct, sys, time
rate, seconds = int(sys.argv[1]), float(sys.argv[2])
cgw, aws1 = socket.inet_aton("198.51.100.2"), socket.inet_aton("203.0.113.10")

def ike_sa_init(spi_i):
    # RFC 7296 IKE_SA_INIT request: HDR, SA (AES-CBC-128, HMAC-SHA1, PRF-SHA1, MODP-1024),
    # KE (group 2, 128 octets), Ni (32 octets).
    t = [struct.pack("!BBHBBHHH", 3, 0, 12, 1, 0, 12, 0x800E, 128),  # ENCR AES-CBC, 128
         struct.pack("!BBHBBH", 3, 0, 8, 2, 0, 2),                   # PRF HMAC-SHA1
         struct.pack("!BBHBBH", 3, 0, 8, 3, 0, 2),                   # INTEG HMAC-SHA1-96
         struct.pack("!BBHBBH", 0, 0, 8, 4, 0, 2)]                   # DH MODP-1024
    body = b"".join(t)
    prop = struct.pack("!BBHBBBB", 0, 0, 8 + len(body), 1, 1, 0, 4) + body
    sa = struct.pack("!BBH", 34, 0, 4 + len(prop)) + prop
    ke = struct.pack("!BBHHH", 40, 0, 8 + 128, 2, 0) + os.urandom(128)
    ni = struct.pack("!BBH", 0, 0, 4 + 32) + os.urandom(32)
    payloads = sa + ke + ni
    hdr = struct.pack("!QQBBBBII", spi_i, 0, 33, 0x20, 34, 0x08, 0, 28 + len(payloads))
    return hdr + payloads

def packet(src, sport, dport, ike):
    if dport == 4500:
        ike = b"\0\0\0\0" + ike  # Non-ESP Marker (RFC 3948)
    udp = struct.pack("!HHHH", sport, dport, 8 + len(ike), 0) + ike
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, cgw)
    return ip + udp

pkts = []
for i in range(2048):
    spi = random.getrandbits(64) | 1
    dport = 4500 if (i // 2) % 4 == 0 else 500  # a quarter of both kinds to 4500
    if i % 2:
        src = struct.pack("!I", random.randint(0x01000000, 0xDFFFFFFF))
        pkts.append(packet(src, random.randint(1024, 65535), dport, ike_sa_init(spi)))
    else:
        pkts.append(packet(aws1, 500 if dport == 500 else 4500, dport, ike_sa_init(spi)))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
send, dst = s.sendto, ("198.51.100.2", 0)
errors, n, start = 0, 0, time.time()
end = start + seconds
while True:
    now = time.time()
    if now >= end:
        break
    due = min(int((now - start) * rate), n + 256)  # re-check the clock every 256 at most
    while n < due:
        try:
            send(pkts[n & 2047], dst)
        except OSError:
            errors += 1
        n += 1
    if n >= int((time.time() - start) * rate):
        time.sleep(0.002)
elapsed = time.time() - start
aws = (n + 1) // 2  # even indexes: spoofed as AWS endpoint 1
print(aws, n - aws, errors, "%.1f" % elapsed, "%.0f" % (n / elapsed))
PY
read -r flood_aws flood_random flood_errors flood_elapsed flood_pps <"$LAB/flood.out"
# How long cgwd's loop takes to answer its control socket once the flood stops.
t_flood_end=$(date +%s%N)
for _ in $(seq 6); do cgwctl status --json >"$LAB/status_flood.json" 2>/dev/null && break; done
control_ms=$(( ($(date +%s%N) - t_flood_end) / 1000000 ))
wait $pinger || true
wait $rekeyer || true
grep -q 'rekeying' "$LAB/rekey_flood_ours.out" ||
    lab_fail "cgwctl rekey during the flood: $(cat "$LAB/rekey_flood_ours.out")"
grep -qi 'rekey completed successfully' "$LAB/rekey_flood_aws.out" ||
    lab_fail "charon's rekey during the flood: $(cat "$LAB/rekey_flood_aws.out")"
two_rekeys() { read -r r1 _ <<<"$(child_rekeys)"; [ "$r1" -ge $((rekeys1_before + 2)) ]; }
for _ in $(seq 50); do two_rekeys && break; sleep 0.2; done
read -r rekeys1_after rekeys2_after <<<"$(child_rekeys)"
child_spis_after=$(child_spis)
sleep 1
rss_after=$(rss_kb)
rcvbuf_after=$(udp_rcvbuf_errors)
spis_after=$(ike_spis)
ping_loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$LAB/ping_flood.log")
ping_sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$LAB/ping_flood.log")
cgwctl status --json >"$LAB/status_flood.json" || lab_fail "cgwd does not answer after the flood"
ing() { python3 -c "import json; print(json.load(open('$LAB/status_flood.json'))['ike_ingress']['$1'])"; }
unknown=$(ing dropped_unknown_source) malformed=$(ing dropped_malformed)
limited=$(ing dropped_rate_limited) cookies=$(ing cookies_sent) passed=$(ing init_passed)
received=$(ing received) handoff=$(ing dropped_handoff_full)
echo "flood: sent $flood_aws as AWS endpoint 1 + $flood_random from random sources in ${flood_elapsed}s (${flood_pps}/s, $flood_errors send errors)"
echo "cgwd: received $received; dropped: $unknown unknown source, $malformed malformed, $limited rate-limited, $handoff over the 4500 handoff bound; $cookies cookies sent, $passed IKE_SA_INIT passed"
echo "cgwd answered its control socket ${control_ms} ms after the flood ended"
echo "cgwd RSS: $rss_before kB before, $rss_after kB after; UDP receive-buffer drops in cgw: $((rcvbuf_after - rcvbuf_before))"
echo "ping during the flood: $ping_sent sent, $ping_loss% lost"
[ "$flood_pps" -ge 500 ] || lab_fail "the flood reached only $flood_pps/s (emulated CPU too slow?)"
# Some of the flood never reaches cgwd (full socket buffers, the 4500 handoff bound): counted
# there, so only a quarter is required here.
[ "$unknown" -ge $((flood_random / 4)) ] ||
    lab_fail "only $unknown of $flood_random spoofed random-source datagrams counted as unknown"
[ "$cookies" -gt 0 ] || lab_fail "no cookie sent under an IKE_SA_INIT flood from AWS's address"
[ "$limited" -gt 0 ] || lab_fail "cookie answers were not limited (flood from AWS's address)"
[ $((cookies + limited)) -ge $((flood_aws / 4)) ] ||
    lab_fail "only $cookies cookies + $limited rate-limited of $flood_aws requests from AWS's address"
[ "$passed" -le 20 ] || lab_fail "$passed IKE_SA_INIT requests reached the tunnels (want few)"
[ $((rss_after - rss_before)) -le $RSS_MAX_GROWTH_KB ] ||
    lab_fail "cgwd's RSS grew by $((rss_after - rss_before)) kB during the flood"
[ "$spis_before" = "$spis_after" ] ||
    lab_fail "IKE SAs changed under the flood: $spis_before -> $spis_after"
echo "CHILD_SA rekeys during the flood: tunnel 1 $rekeys1_before -> $rekeys1_after (one by cgwd, one by AWS endpoint 1), tunnel 2 $rekeys2_before -> $rekeys2_after; inbound SPIs $child_spis_before -> $child_spis_after"
[ "$rekeys1_after" -ge $((rekeys1_before + 2)) ] ||
    lab_fail "tunnel 1 rekeyed $((rekeys1_after - rekeys1_before)) times during the flood, expected 2"
[ "$child_spis_before" != "$child_spis_after" ] || lab_fail "no new CHILD_SA after the rekeys"
lab_both_up || lab_fail "tunnels not both up after the flood"
python3 -c "import sys; sys.exit(0 if float('$ping_loss') <= $PING_MAX_LOSS else 1)" ||
    lab_fail "ping lost $ping_loss% during the flood (limit $PING_MAX_LOSS%)"

# --- b: ESP abuse ------------------------------------------------------------------------------
# Capture a few ESP packets AWS -> cgwd while pinging (the VPC's return path may be either
# tunnel), raw (IP protocol 50) or ESP-in-UDP (NAT-T), then send them back at cgwd from the same
# source, the same way, unchanged and altered.
ip netns exec $NS_CGW timeout 20 tcpdump -i wan0 -nn -U -c 8 -w "$LAB/esp.pcap" \
    '(ip proto 50 or (udp dst port 4500 and udp[8:4] != 0)) and (src host 203.0.113.10 or src host 203.0.113.14)' \
    2>"$LAB/tcpdump.log" &
dumper=$!
for _ in $(seq 50); do grep -q "listening on" "$LAB/tcpdump.log" && break; sleep 0.1; done
ip netns exec $NS_ONPREM ping -c 20 -i 0.05 -W 2 10.0.0.10 >/dev/null || true
wait $dumper || lab_fail "tcpdump captured no ESP from AWS: $(cat "$LAB/tcpdump.log")"
esp_counts() {
    q "sum(c.get('replay_drops', 0) for t in $TUNNELS for c in t['child_sas']), sum(c.get('integrity_failures', 0) for t in $TUNNELS for c in t['child_sas']), d['dataplane_counters']['esp_unknown_spi'], d['dataplane_counters']['esp_decap_drops']" |
        tr -d '(),'
}
read -r replay0 integ0 unknown_spi0 decap0 <<<"$(esp_counts)"
ip netns exec $NS_INET python3 - "$LAB/esp.pcap" >"$LAB/esp.out" <<'PY'
import socket, struct, sys, time
data = open(sys.argv[1], "rb").read()
pos, esp = 24, []
while pos + 16 <= len(data):
    incl = struct.unpack_from("<I", data, pos + 8)[0]
    frame = data[pos + 16 : pos + 16 + incl]
    pos += 16 + incl
    ip = frame[14:]                               # Ethernet (veth)
    ihl = (ip[0] & 15) * 4
    udp = ip[9] == 17
    # source, UDP-encapsulated, ESP: SPI, seq, ..., ICV
    esp.append((ip[12:16], udp, ip[ihl + 8 :] if udp else ip[ihl:]))
cgw = socket.inet_aton("198.51.100.2")
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def send(src, udp, payload):
    if udp:
        payload = struct.pack("!HHHH", 4500, 4500, 8 + len(payload), 0) + payload
    proto = 17 if udp else 50
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src, cgw)
    s.sendto(ip + payload, ("198.51.100.2", 0))
    time.sleep(0.001)
kinds = {"replay": 0, "truncated": 0, "wrong_spi": 0, "bad_icv": 0}
for rounds in range(10):
    for i, (src, udp, p) in enumerate(esp):
        send(src, udp, p); kinds["replay"] += 1                         # as captured
        send(src, udp, p[:16]); kinds["truncated"] += 1                 # SPI, seq, 8 octets
        send(src, udp, struct.pack("!I", 0xDEAD0000 + rounds * 16 + i) + p[4:])
        kinds["wrong_spi"] += 1
        # A sequence number ahead of the window (not a replay) and the ICV's last octet flipped.
        forged = bytearray(p)
        forged[4:8] = struct.pack("!I", 0x7FFF0000 + rounds * 16 + i)
        forged[-1] ^= 0xFF
        send(src, udp, bytes(forged)); kinds["bad_icv"] += 1
print(len(esp), kinds["replay"], kinds["truncated"], kinds["wrong_spi"], kinds["bad_icv"])
PY
read -r esp_captured n_replay n_trunc n_spi n_icv <"$LAB/esp.out"
sleep 1
read -r replay1 integ1 unknown_spi1 decap1 <<<"$(esp_counts)"
d_replay=$((replay1 - replay0)) d_integ=$((integ1 - integ0))
d_spi=$((unknown_spi1 - unknown_spi0)) d_decap=$((decap1 - decap0))
echo "ESP abuse: $esp_captured captured; sent $n_replay replayed, $n_trunc truncated, $n_spi unknown SPI, $n_icv bad ICV"
echo "cgwd: +$d_replay replay drops, +$d_integ integrity failures, +$d_spi unknown SPI, +$d_decap decapsulation drops"
[ "$d_replay" -ge "$n_replay" ] || lab_fail "replayed ESP: $d_replay replay drops for $n_replay sent"
[ "$d_integ" -ge "$n_icv" ] || lab_fail "forged ICV: $d_integ integrity failures for $n_icv sent"
[ "$d_spi" -ge "$n_spi" ] || lab_fail "unknown SPI: $d_spi counted for $n_spi sent"
[ "$d_decap" -ge $((n_replay + n_trunc + n_icv)) ] ||
    lab_fail "decapsulation drops $d_decap < replayed + truncated + forged $((n_replay + n_trunc + n_icv))"
ip netns exec $NS_ONPREM ping -c 20 -i 0.05 -W 2 10.0.0.10 >"$LAB/ping_esp.log" 2>&1 ||
    lab_fail "traffic stopped after the ESP abuse: $(tail -2 "$LAB/ping_esp.log")"
lab_both_up || lab_fail "tunnels not both up after the ESP abuse"

# --- c: garbage to the BGP port -----------------------------------------------------------------
# BIRD's "since" of the session (to the second: BIRD recomputes the milliseconds each time).
bird_since() { ip netns exec $NS_T1 birdc -s "$LAB/aws1/bird.ctl" show protocols cgw | awk '$1 == "cgw" {sub(/\.[0-9]+$/, "", $5); print $4, $5, $6}'; }
since_before=$(bird_since)
bgp_probe() {  # NS SOURCE: garbage, then an oversize BGP message (length 65535 + 70 kB)
    ip netns exec "$1" python3 - "$2" <<'PY'
import socket, sys
out = []
for payload in (b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4,
                b"\xff" * 16 + b"\xff\xff\x01" + b"\x00" * 70000):
    s = socket.socket()
    s.bind((sys.argv[1], 0))
    s.settimeout(5)
    try:
        s.connect(("169.254.21.2", 179))
        s.sendall(payload)
        out.append("closed" if s.recv(4096) == b"" else "answered")
    except OSError as e:  # refused, reset, timed out
        out.append(type(e).__name__)
    finally:
        s.close()
print(",".join(out))
PY
}
bgp_stranger=$(bgp_probe $NS_ONPREM 10.10.0.10)
bgp_peer=$(bgp_probe $NS_T1 169.254.21.1)
sleep 1
since_after=$(bird_since)
echo "BGP port: from a stranger: $bgp_stranger; from the peer's address: $bgp_peer; aws1 session: $since_before -> $since_after"
[ "$since_before" = "$since_after" ] || lab_fail "the BGP session with aws1 changed: $since_before -> $since_after"
kill -0 "$CGWD_PID" || lab_fail "cgwd died"
lab_both_up || lab_fail "tunnels or BGP not up after the BGP garbage"

# --- d: a hostile, flapping BGP peer on tunnel 2 ---------------------------------------------------
FLAP_SECONDS=${FLAP_SECONDS:-20}  # the peer connects about once a second for this long
FLAP_MAX_SECONDS=40               # ... and longer only until each case has been played once
FLAP_PING_MAX_LOSS=5              # percent
bgp_field() { q "next(t['bgp'] for t in $TUNNELS if t['number'] == $1).get('$2', '')"; }
since1_before=$(bird_since)
flaps1_before=$(bgp_field 1 flaps)
up1_before=$(bgp_field 1 uptime_s)
t_flap0=$SECONDS
ip netns exec $NS_ONPREM ping -i 0.01 -c $(( (FLAP_SECONDS + 25) * 100 )) -W 2 10.0.0.10 \
    >"$LAB/ping_flap.log" 2>&1 &
pinger=$!
ip netns exec $NS_T2 tcpdump -i xfrm-t2 -nn -U -w "$LAB/bgp_flap.pcap" 'tcp port 179' \
    2>"$LAB/tcpdump_flap.log" &
dumper=$!
# tcpdump and python start slowly in the emulated VM: together. Once both are up, the script
# disables BIRD's session on aws2 and its window starts; at its end it reads cgwd's status and
# enables BIRD's session again.
ip netns exec $NS_T2 python3 "$here/bgp_hostile_peer.py" "$FLAP_SECONDS" "$FLAP_MAX_SECONDS" \
    169.254.22.5 169.254.22.6 "$CGWCTL" "$LAB/cgwd.sock" $NS_CGW 2 \
    "for _ in \$(seq 100); do grep -q 'listening on' '$LAB/tcpdump_flap.log' && break; sleep 0.1; done
     birdc -s '$LAB/aws2/bird.ctl' disable cgw" "birdc -s '$LAB/aws2/bird.ctl' enable cgw" \
    >"$LAB/flap.json" || lab_fail "bgp_hostile_peer.py failed"
t_enable=$SECONDS
read -r failures2 idle_hold2 next2 refused_cgwd <<<"$(python3 -c "import json; b = json.load(open('$LAB/flap.json'))['status']; print(*(b.get(k, v) for k, v in (('consecutive_failures', 0), ('idle_hold_s', 'none'), ('next_attempt_in_s', 0), ('connections_refused', 0))))")"
recover_bound=$(python3 -c "import math; print(math.ceil(float('${next2:-0}')) + 15)")
until [ "$(bgp_field 2 state)" = Established ]; do
    kill -0 "$CGWD_PID" || lab_fail "cgwd died after the flapping peer"
    [ $((SECONDS - t_enable)) -le "$recover_bound" ] ||
        lab_fail "tunnel 2's BGP session not back within $recover_bound s of BIRD's enable"
    sleep 0.5
done
recovered_s=$((SECONDS - t_enable))
kill -INT $dumper 2>/dev/null || true
wait $dumper || true
flap_total_s=$((SECONDS - t_flap0))
kill -INT $pinger 2>/dev/null || true
wait $pinger || true
flap_ping_loss=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$LAB/ping_flap.log")
flap_ping_sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$LAB/ping_flap.log")
since1_after=$(bird_since)
flaps1_after=$(bgp_field 1 flaps)
up1_after=$(bgp_field 1 uptime_s)
# cgwd's NOTIFICATIONs and the connections (SYN) each side opened, from the capture (until the
# session with BIRD is back).
# (Wireshark names the subcode field after the error code.)
notifs=$({ tshark -r "$LAB/bgp_flap.pcap" -Y 'bgp.type == 3 && ip.src == 169.254.22.6' \
    -T fields -e bgp.notify.major_error -e bgp.notify.minor_error \
    -e bgp.notify.minor_error_open -e bgp.notify.minor_error_update \
    -e bgp.notify.minor_error_state -e bgp.notify.minor_error_cease 2>/dev/null || true; } |
    awk -F'\t' '{ m = ""; for (i = 2; i <= NF; i++) if ($i != "") { m = $i; break }; print $1 "/" m }' |
    xargs)
syns() {
    { tshark -r "$LAB/bgp_flap.pcap" 2>/dev/null \
        -Y "tcp.flags.syn == 1 && tcp.flags.ack == 0 && ip.src == $1" || true; } | wc -l
}
syn_cgwd=$(syns 169.254.22.6) syn_peer=$(syns 169.254.22.5)
damp_logs=$(grep -c "BGP peer 169.254.22.5 flapping" "$LAB/cgwd.log" || true)
cat >"$LAB/flap_check.py" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
cases = {c["case"]: c for c in d["cases"]}
want = {"bad_version": ["2/1"], "bad_hold": ["2/6"], "update_reset": ["3/1"],
        "update_withdraw": []}
bad = []
for name, notifs in want.items():
    c = cases.get(name)
    if c is None:
        bad.append(name + ":not-played")
        continue
    if c["notifications"] != notifs or not c.get("closed_by_cgwd"):
        bad.append("%s:%s" % (name, ",".join(c["notifications"]) or "none"))
    if name.startswith("update") and not c.get("established"):
        bad.append(name + ":not-established")
a = cases.get("update_withdraw", {}).get("after_update", {})
if not (a.get("state") == "Established" and a.get("prefixes_received") == 0 and a.get("open")
        and not a.get("notifications")):
    bad.append("treat-as-withdraw:" + json.dumps(a, separators=(",", ":")))
# Idle holds 1, 2, 4, ... s from the first failure (BIRD's Cease): the k-th connection cgwd
# takes comes 2^k - 1 s later at the earliest, so at most log2(T + 1) + 1 in T seconds.
bound = int(math.log2(d["seconds"] + 1)) + 1
print(d["attempts"], d["accepted"], d["refused"], math.ceil(d["seconds"]), bound,
      "ok" if not bad else ";".join(bad).replace(" ", ""))
PY
read -r flap_attempts flap_accepted flap_refused flap_secs accept_bound flap_cases \
    <<<"$(python3 "$LAB/flap_check.py" "$LAB/flap.json")"
# cgwd opens one connection per idle hold expiry, and one per ConnectRetry (5 s) while Active;
# then one toward BIRD.
syn_bound=$((accept_bound + 2 + (flap_secs + recovered_s) / 5))
echo "flapping BGP peer: $flap_attempts connections in ${flap_secs}s, cgwd took $flap_accepted (bound $accept_bound), refused $flap_refused (cgwd counted ${refused_cgwd:-0}); SYNs: cgwd $syn_cgwd (bound $syn_bound), peer $syn_peer"
echo "  cases: $flap_cases; cgwd's NOTIFICATIONs: $notifs; then $failures2 failures in a row, idle hold ${idle_hold2:-none} s, next attempt in ${next2:-?} s; $damp_logs damping log lines"
echo "  back ${recovered_s}s after BIRD's enable (bound $recover_bound s); tunnel 1: $since1_before -> $since1_after, flaps $flaps1_before -> $flaps1_after, up ${up1_before}s -> ${up1_after}s; ping $flap_ping_sent sent, $flap_ping_loss% lost"
kill -0 "$CGWD_PID" || lab_fail "cgwd died"
[ "$flap_cases" = ok ] || lab_fail "hostile BGP peer cases: $flap_cases"
[ "$notifs" = "2/1 2/6 3/1" ] || lab_fail "cgwd's NOTIFICATIONs to the hostile peer: '$notifs', want '2/1 2/6 3/1'"
[ "$flap_accepted" -le "$accept_bound" ] ||
    lab_fail "cgwd took $flap_accepted connections from the flapping peer in ${flap_secs}s (bound $accept_bound)"
[ "$flap_refused" -ge 3 ] && [ "${refused_cgwd:-0}" -ge 3 ] ||
    lab_fail "connections during the idle hold: $flap_refused refused as seen by the peer, ${refused_cgwd:-0} by cgwd"
[ "$syn_cgwd" -le "$syn_bound" ] || lab_fail "cgwd opened $syn_cgwd connections to the peer (bound $syn_bound)"
[ "$damp_logs" -ge 1 ] || lab_fail "no 'BGP peer ... flapping' line in cgwd's log"
[ "$since1_before" = "$since1_after" ] && [ "$flaps1_before" = "$flaps1_after" ] &&
    [ "$up1_after" -ge "$up1_before" ] || lab_fail "tunnel 1's BGP session changed during the flapping"
python3 -c "import sys; sys.exit(0 if float('$flap_ping_loss') <= $FLAP_PING_MAX_LOSS else 1)" ||
    lab_fail "ping lost $flap_ping_loss% during the flapping (limit $FLAP_PING_MAX_LOSS%)"
lab_both_up || lab_fail "tunnels or BGP not up after the flapping peer"

# --- e: no secrets --------------------------------------------------------------------------------
cgwctl status >"$LAB/status.txt"
cgwctl status --json >"$LAB/status.json"
for f in "$LAB/cgwd.log" "$LAB/status.txt" "$LAB/status.json"; do
    if grep -qF -e "$PSK1" -e "$PSK2" "$f"; then lab_fail "a PSK appears in $(basename "$f")"; fi
done
ip netns exec $NS_ONPREM ping -c5 -i0.2 -W2 10.0.0.10 >/dev/null || lab_fail "no traffic at the end"

cat <<EOF
==== hostile peers: summary ====
bounds: IKE flood target ${FLOOD_RATE}/s for ${FLOOD_SECONDS}s (half random sources, half spoofed as AWS endpoint 1; 1/4 to UDP 4500);
        ping 100/s may lose <= ${PING_MAX_LOSS}%; RSS may grow <= ${RSS_MAX_GROWTH_KB} kB
IKE flood: ${flood_pps}/s achieved, $((flood_aws + flood_random)) sent ($flood_aws as AWS, $flood_random random)
  cgwd: $received received, $unknown dropped (unknown source), $malformed malformed, $limited rate-limited,
        $handoff over the 4500 handoff bound, $cookies cookies sent, $passed IKE_SA_INIT passed;
        UDP rcvbuf drops $((rcvbuf_after - rcvbuf_before)); control socket answered ${control_ms} ms after the flood
  RSS $rss_before kB -> $rss_after kB; ping $ping_sent sent, $ping_loss% lost; IKE SAs unchanged: $spis_after
  CHILD_SA rekeys of tunnel 1 during the flood (one by cgwd, one by AWS endpoint 1): $rekeys1_before -> $rekeys1_after
ESP: $n_replay replayed -> +$d_replay replay drops; $n_icv bad ICV -> +$d_integ integrity failures;
     $n_spi unknown SPI -> +$d_spi; $n_trunc truncated; decapsulation drops +$d_decap; traffic flows
BGP garbage: stranger $bgp_stranger; peer address $bgp_peer; session unchanged
BGP flapping peer (tunnel 2, ~1 connection/s for ${FLAP_SECONDS}s, at most ${FLAP_MAX_SECONDS}s): $flap_attempts connections in ${flap_secs}s,
  cgwd took $flap_accepted (bound $accept_bound), refused $flap_refused during idle holds (cgwd: ${refused_cgwd:-0}), opened $syn_cgwd (bound $syn_bound);
  NOTIFICATIONs $notifs for bad version / hold time 1 / attribute length; treat-as-withdraw kept the session;
  bogus NOTIFICATION unanswered; $failures2 failures in a row -> idle hold ${idle_hold2:-none} s; back ${recovered_s}s after BIRD's enable;
  tunnel 1 unchanged; ping $flap_ping_sent sent, $flap_ping_loss% lost (limit ${FLAP_PING_MAX_LOSS}%); section took ${flap_total_s}s
secrets: no PSK in cgwd.log, status, status --json (no DX MD5 key in this lab)
PASS: hostile peers
EOF
