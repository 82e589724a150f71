#!/usr/bin/env bash
# Seeds from independent implementations (issue 8): captures real exchanges between third-party
# daemons in private network namespaces and writes their messages into the fuzz corpora as
#   fuzz/corpus/<target>/cap-<impl>-<what>-<n>.bin
# in the exact input format of each target (fuzz/targets/*.cpp):
#   ike_message_fuzz    one IKE message (the UDP payload; the non-ESP marker on 4500 stripped)
#   ike_responder_fuzz  an IkeOp script: one `raw` record (op 0, flags 0, 2-byte length, bytes)
#                       holding a captured IKE_SA_INIT request
#   bgp_message_fuzz    byte 0: chunk size - 1, then one BGP message (or a whole direction of the
#                       TCP stream, reassembled from the capture)
#   bfd_fuzz            a BfdOp script of `raw` records (op 0, 1-byte length, bytes): a captured
#                       BFD Control packet, or every distinct packet of one speaker in order
#                       (that one with Your Discriminator rewritten to the fuzzed session's, so
#                       the session accepts them; named ...-sequence-adopted-)
# Exchanges:
#   strongSwan charon <-> charon (PSK, kernel-libipsec: no kernel ESP), three runs:
#     cbc:  AES-256-CBC/SHA2-256/MODP-2048, UDP encapsulation forced (port 4500, non-ESP marker)
#     gcm:  AES-256-GCM-16/PRF-SHA384/ECP-384
#     frag: AES-128-GCM-16/PRF-SHA256/X25519 (what the fuzzed responder accepts, fixtures.hpp),
#           IKE fragmentation forced with 300-octet fragments
#     each: IKE_SA_INIT, IKE_AUTH, CHILD_SA rekey, IKE SA rekey, DPD, Delete (terminate).
#   BIRD 2 (AS 4200000001, 4-octet) <-> FRR bgpd 8 (AS 64512) with bfdd: IPv4 + IPv6 unicast over
#     one IPv4 session, communities and large communities both ways, BFD 300 ms x 3, a route
#     withdrawal, ROUTE-REFRESH from both sides, then BIRD shuts the session down with a
#     shutdown communication (NOTIFICATION Cease/2, RFC 9003).
# Re-running replaces every cap-* seed (names are deterministic; contents differ per run, as
# SPIs, nonces and keys are random). Identical contents are written once, and never when a
# file of the corpus already holds them.
#   sudo fuzz/capture_seeds.sh [REPO_ROOT]       (about a minute)
# CAPTURE_KEEP=1 keeps the temp dir (captures, daemon logs) for debugging.
# Needs root, iproute2, util-linux (unshare), tcpdump, python3, strongswan-charon,
# strongswan-swanctl, libcharon-extra-plugins, bird2, frr. Fails loudly when one is missing.
# Maintenance tool, run by hand; no ctest test runs it.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
corpus=$root/fuzz/corpus
charon=/usr/lib/ipsec/charon
frr=/usr/lib/frr

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip unshare timeout tcpdump python3 swanctl bird birdc vtysh; do
    command -v "$c" >/dev/null ||
        fail "$c not installed (apt-get install iproute2 util-linux tcpdump python3" \
            "strongswan-swanctl bird2 frr)"
done
[ -x "$charon" ] || fail "charon not installed (apt-get install strongswan-charon)"
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] ||
    fail "kernel-libipsec plugin missing (apt-get install libcharon-extra-plugins)"
for d in zebra bgpd bfdd; do [ -x "$frr/$d" ] || fail "$frr/$d missing (apt-get install frr)"; done
id -u frr >/dev/null 2>&1 || fail "no frr user (apt-get install frr)"
for t in ike_message_fuzz ike_responder_fuzz bgp_message_fuzz bfd_fuzz; do
    [ -d "$corpus/$t" ] || fail "no corpus directory $corpus/$t"
done

id=$$
tmp=$(mktemp -d /tmp/cgwd-capture-seeds.XXXXXX)
namespaces=()
pids=()

stop() {  # stop PID: SIGTERM, up to 5 s, then SIGKILL
    local pid=$1
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
    set +e
    for pid in "${pids[@]}"; do stop "$pid"; done
    for f in "$tmp"/*/*.pid; do [ -s "$f" ] && stop "$(cat "$f")"; done
    for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ "${CAPTURE_KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap 'echo "capture_seeds: failed at line $LINENO" >&2' ERR

wait_for() {  # wait_for SECONDS COMMAND...
    local end=$((SECONDS + $1))
    shift
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# link NS_A NS_B IF_A IF_B: two new namespaces joined by a veth pair (10.99.0.1/30 on A,
# 10.99.0.2/30 on B, fd00:99::1/2 too), loopback up.
link() {
    local a=$1 b=$2
    ip netns add "$a"
    namespaces+=("$a")
    ip netns add "$b"
    namespaces+=("$b")
    ip link add "$3" type veth peer name "$4"
    ip link set "$3" netns "$a"
    ip link set "$4" netns "$b"
    ip -n "$a" addr add 10.99.0.1/30 dev "$3"
    ip -n "$b" addr add 10.99.0.2/30 dev "$4"
    ip -n "$a" addr add fd00:99::1/64 dev "$3" nodad
    ip -n "$b" addr add fd00:99::2/64 dev "$4" nodad
    for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
    ip -n "$a" link set "$3" up
    ip -n "$b" link set "$4" up
}

# capture NS IF PCAP FILTER: tcpdump in the background until stop_capture.
capture() {
    ip netns exec "$1" timeout 300 tcpdump -i "$2" -U -n -s 0 -w "$3" "$4" >"$3.out" 2>&1 &
    cap_pid=$!
    pids+=("$cap_pid")
    wait_for 10 grep -q "listening on" "$3.out" ||
        { cat "$3.out" >&2; fail "tcpdump did not start"; }
}
stop_capture() {
    sleep 0.3
    kill -INT "$cap_pid" 2>/dev/null || true
    wait "$cap_pid" 2>/dev/null || true
}

# --- strongSwan ----------------------------------------------------------------------------------
# charon_conf DIR LOCAL REMOTE LOCAL_TS REMOTE_TS IKE ESP EXTRA_CONN EXTRA_CHARON
charon_conf() {
    local dir=$1
    mkdir -m 700 "$dir"
    cat >"$dir/strongswan.conf" <<CONF
charon {
    load = random nonce openssl aes sha1 sha2 hmac gcm gmp kdf pem pkcs1 pubkey socket-default kernel-libipsec kernel-netlink vici
    install_routes = no
    install_virtual_ip = no
    retransmit_tries = 2
    $9
    filelog {
        log {
            path = $dir/charon.log
            flush_line = yes
            default = 1
            ike = 2
            enc = 1
        }
    }
    plugins {
        vici {
            socket = unix://$dir/charon.vici
        }
    }
}
swanctl {
    load = pem pkcs1 pubkey
}
CONF
    cat >"$dir/swanctl.conf" <<CONF
connections {
    cap {
        version = 2
        local_addrs = $2
        remote_addrs = $3
        proposals = $6
        $8
        local {
            auth = psk
            id = $2
        }
        remote {
            auth = psk
            id = $3
        }
        children {
            cap {
                local_ts = $4
                remote_ts = $5
                esp_proposals = $7
                mode = tunnel
                start_action = none
            }
        }
    }
}
secrets {
    ike-cap {
        id-1 = $2
        id-2 = $3
        secret = "$psk"
    }
}
CONF
    chmod 600 "$dir/swanctl.conf"
}

# charon_start NS DIR: charon in NS with a private /run (its pid file is fixed there).
charon_start() {
    local ns=$1 dir=$2
    ip netns exec "$ns" unshare -m sh -c \
        "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF='$dir/strongswan.conf' '$charon'" \
        >"$dir/charon.out" 2>&1 &
    echo $! >"$dir/charon.pid"
    wait_for 10 test -S "$dir/charon.vici" ||
        { cat "$dir/charon.out" >&2; fail "charon did not start"; }
    swan "$dir" --load-all --noprompt --file "$dir/swanctl.conf" >"$dir/load.out" 2>&1 ||
        { cat "$dir/load.out" >&2; fail "swanctl --load-all failed"; }
}
swan() {  # swan DIR ARGS...: swanctl against the charon of DIR
    local dir=$1
    shift
    STRONGSWAN_CONF="$dir/strongswan.conf" timeout 30 swanctl "$@" --uri "unix://$dir/charon.vici"
}
expect_log() {  # expect_log DIR REGEX WHAT
    grep -Eq "$2" "$1/charon.log" || { tail -n 40 "$1/charon.log" >&2; fail "charon: no $3"; }
}

responses() {  # responses DIR N: DIR's charon has parsed at least N CREATE_CHILD_SA responses
    [ "$(grep -c "parsed CREATE_CHILD_SA response" "$1/charon.log")" -ge "$2" ]
}

# ike_run LABEL IKE ESP EXTRA_CONN EXTRA_CHARON
ike_run() {
    local label=$1 ns_i=cgwd-cap-ii-$id-$1 ns_r=cgwd-cap-ir-$id-$1
    local dir_i=$tmp/ike-$label-i dir_r=$tmp/ike-$label-r
    echo "capture: strongSwan $label ($2 / $3)"
    link "$ns_i" "$ns_r" "cii${label:0:2}$id" "cir${label:0:2}$id"
    charon_conf "$dir_i" 10.99.0.1 10.99.0.2 0.0.0.0/0 0.0.0.0/0 "$2" "$3" \
        "$4
        dpd_delay = 2s" "$5"
    charon_conf "$dir_r" 10.99.0.2 10.99.0.1 0.0.0.0/0 0.0.0.0/0 "$2" "$3" "$4" "$5"
    charon_start "$ns_r" "$dir_r"
    charon_start "$ns_i" "$dir_i"
    capture "$ns_i" "cii${label:0:2}$id" "$tmp/ike-$label.pcap" "udp port 500 or udp port 4500"
    swan "$dir_i" --initiate --child cap --timeout 20 >"$dir_i/initiate.out" 2>&1 ||
        { cat "$dir_i/initiate.out" >&2; fail "$label: swanctl --initiate failed"; }
    swan "$dir_i" --rekey --child cap >/dev/null 2>&1 || fail "$label: CHILD_SA rekey failed"
    wait_for 10 responses "$dir_i" 1 || fail "$label: no CHILD_SA rekey response"
    swan "$dir_i" --rekey --ike cap >/dev/null 2>&1 || fail "$label: IKE SA rekey failed"
    wait_for 10 responses "$dir_i" 2 || fail "$label: no IKE SA rekey response"
    # DPD: charon sends an empty INFORMATIONAL after dpd_delay without inbound traffic.
    wait_for 10 grep -q "generating INFORMATIONAL request [0-9]* \[ \]" "$dir_i/charon.log" ||
        { tail -n 30 "$dir_i/charon.log" >&2; fail "$label: no DPD request"; }
    wait_for 5 grep -q "parsed INFORMATIONAL response [0-9]* \[ \]" "$dir_i/charon.log" ||
        fail "$label: no DPD response"
    swan "$dir_i" --terminate --ike cap --timeout 10 >/dev/null 2>&1 ||
        fail "$label: terminate failed"
    stop_capture
    expect_log "$dir_i" "parsed CREATE_CHILD_SA response [0-9]+ \[ (N\([A-Z_]+\) )?SA No" \
        "CHILD_SA rekey response"
    expect_log "$dir_r" "parsed CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]" \
        "IKE SA rekey request"
    expect_log "$dir_r" "parsed INFORMATIONAL request [0-9]+ \[ D \]" "Delete"
    for d in "$dir_i" "$dir_r"; do stop "$(cat "$d/charon.pid")"; rm -f "$d/charon.pid"; done
}

psk="cgwd capture key $id $RANDOM$RANDOM"
ike_run cbc aes256-sha256-modp2048 aes256-sha256 "encap = yes" ""
ike_run gcm aes256gcm16-prfsha384-ecp384 aes256gcm16 "" ""
ike_run frag aes128gcm16-prfsha256-x25519 aes128gcm16-x25519 "fragmentation = force" \
    "fragment_size = 300"
grep -q "splitting IKE message" "$tmp/ike-frag-i/charon.log" "$tmp/ike-frag-r/charon.log" ||
    fail "frag: charon did not fragment"

# --- BIRD <-> FRR --------------------------------------------------------------------------------
echo "capture: BIRD <-> FRR bgpd + bfdd"
ns_b=cgwd-cap-bb-$id
ns_f=cgwd-cap-bf-$id
vb=cbb$id
vf=cbf$id
link "$ns_b" "$ns_f" "$vb" "$vf"
bdir=$tmp/bird
fdir=$tmp/frr
mkdir -m 700 "$bdir"
mkdir -m 700 "$fdir"
cat >"$bdir/bird.conf" <<CONF
log "$bdir/bird.log" all;
router id 10.99.0.1;
protocol device { }
protocol static s4 {
    ipv4;
    route 10.1.0.0/16 blackhole { bgp_community.add((65000, 100)); bgp_community.add((64999, 1));
        bgp_large_community.add((4200000001, 1, 2)); };
    route 10.2.0.0/24 blackhole { bgp_med = 50; bgp_large_community.add((4200000001, 3, 4)); };
}
protocol static s4b { ipv4; route 10.3.0.0/24 blackhole; }
protocol static s6 {
    ipv6;
    route 2001:db8:1::/48 blackhole { bgp_community.add((65000, 600));
        bgp_large_community.add((4200000001, 6, 6)); };
    route 2001:db8:2::/64 blackhole;
}
# A BFD session of its own (not \`bfd on\` in the BGP protocol): FRR 8 re-registers its BFD
# session when BGP comes up, signalling Down once, and BIRD would take BGP down for it.
protocol bfd {
    interface "$vb" { interval 300 ms; multiplier 3; };
    neighbor 10.99.0.2 dev "$vb";
}
protocol bgp cap {
    local 10.99.0.1 as 4200000001;
    neighbor 10.99.0.2 as 64512;
    hold time 9;
    ipv4 { import all; export all; };
    ipv6 { import all; export all; next hop address fd00:99::1; };
}
CONF
cat >"$fdir/zebra.conf" <<CONF
hostname cgwd-capture
log file $fdir/zebra.log
CONF
cat >"$fdir/bfdd.conf" <<CONF
log file $fdir/bfdd.log
CONF
cat >"$fdir/bgpd.conf" <<CONF
frr defaults traditional
log file $fdir/bgpd.log
route-map SET4 permit 10
 set community 64512:10 64512:20
 set extcommunity rt 64512:100
 set large-community 64512:7:8
route-map SET6 permit 10
 set community 64512:60
 set large-community 64512:6:6 64512:6:7
router bgp 64512
 bgp router-id 10.99.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 10.99.0.1 remote-as 4200000001
 neighbor 10.99.0.1 passive
 neighbor 10.99.0.1 timers 3 9
 neighbor 10.99.0.1 update-source 10.99.0.2
 neighbor 10.99.0.1 bfd
 address-family ipv4 unicast
  network 10.20.0.0/16 route-map SET4
  network 10.21.0.0/24
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:20::/48 route-map SET6
  neighbor 10.99.0.1 activate
 exit-address-family
CONF
chown -R frr:frr "$fdir"
chmod 711 "$tmp"  # the FRR daemons run as the frr user and must reach $fdir
capture "$ns_b" "$vb" "$tmp/bgp.pcap" "tcp port 179 or udp port 3784"
fcommon=(--vty_socket "$fdir" -z "$fdir/zserv.api" -P 0 -d)
ip netns exec "$ns_f" "$frr/zebra" "${fcommon[@]}" -f "$fdir/zebra.conf" -i "$fdir/zebra.pid" \
    2>>"$fdir/start.err" || { cat "$fdir/start.err" >&2; fail "zebra did not start"; }
wait_for 10 test -S "$fdir/zserv.api" || fail "zebra socket not up"
ip netns exec "$ns_f" "$frr/bfdd" "${fcommon[@]}" -f "$fdir/bfdd.conf" -i "$fdir/bfdd.pid" \
    --bfdctl "$fdir/bfdd.sock" 2>>"$fdir/start.err" ||
    { cat "$fdir/start.err" >&2; fail "bfdd did not start"; }
ip netns exec "$ns_f" "$frr/bgpd" "${fcommon[@]}" -f "$fdir/bgpd.conf" -i "$fdir/bgpd.pid" \
    2>>"$fdir/start.err" || { cat "$fdir/start.err" >&2; fail "bgpd did not start"; }
vty() { ip netns exec "$ns_f" timeout 10 vtysh --vty_socket "$fdir" -c "$1"; }
wait_for 10 vty "show bgp summary" || fail "bgpd vty not up"
ip netns exec "$ns_b" bird -c "$bdir/bird.conf" -s "$bdir/bird.ctl" -P "$bdir/bird.pid" ||
    fail "bird did not start"
birdc_() { timeout 10 birdc -s "$bdir/bird.ctl" "$@"; }
wait_for 10 birdc_ show status || fail "bird control socket not up"

bird_has() {  # bird_has TABLE PREFIX
    birdc_ show route table "$1" protocol cap | grep -q "^$2 "
}
dump_bgp() {
    birdc_ show protocols all cap >&2 || true
    vty "show bgp summary" >&2 || true
    tail -n 20 "$bdir/bird.log" "$fdir/bgpd.log" "$fdir/bfdd.log" >&2 || true
}
wait_for 30 bird_has master4 10.20.0.0/16 ||
    { dump_bgp; fail "BIRD did not learn 10.20.0.0/16 from FRR"; }
wait_for 10 bird_has master6 2001:db8:20::/48 ||
    { dump_bgp; fail "BIRD did not learn 2001:db8:20::/48"; }
frr_has() { vty "show bgp $1 unicast $2" | grep -q 4200000001; }
wait_for 10 frr_has ipv4 10.1.0.0/16 || { dump_bgp; fail "FRR did not learn 10.1.0.0/16"; }
wait_for 10 frr_has ipv6 2001:db8:1::/48 || { dump_bgp; fail "FRR did not learn 2001:db8:1::/48"; }
bfd_up() { birdc_ show bfd sessions | grep -q " Up "; }
wait_for 15 bfd_up || { dump_bgp; fail "BIRD's BFD session not Up"; }
wait_for 10 sh -c "ip netns exec '$ns_f' timeout 10 vtysh --vty_socket '$fdir' \
    -c 'show bfd peer 10.99.0.1' | grep -q 'Status: up'" || { dump_bgp; fail "bfdd not Up"; }
sleep 1
birdc_ disable s4b >/dev/null || fail "birdc disable s4b"  # a withdrawal
sleep 0.5
birdc_ reload in cap >/dev/null || fail "birdc reload in"  # ROUTE-REFRESH from BIRD
vty "clear bgp 10.99.0.1 soft in" >/dev/null || fail "vtysh clear soft in"  # and from FRR
sleep 1.5
birdc_ disable cap '"capture done: shutting down"' >/dev/null || fail "birdc disable cap"
sleep 1.5
stop_capture

# --- extraction ----------------------------------------------------------------------------------
stage=$tmp/stage
mkdir "$stage"
python3 - "$stage" "$corpus" "$tmp" <<'PY'
import hashlib, os, struct, sys

stage, corpus, tmp = sys.argv[1:4]

def packets(path):
    """(src ip, dst ip, proto, sport, dport, seq, payload) of each IPv4/IPv6 TCP/UDP packet."""
    data = open(path, 'rb').read()
    magic = data[:4]
    if magic == b'\xd4\xc3\xb2\xa1' or magic == b'\x4d\x3c\xb2\xa1':
        e = '<'
    elif magic == b'\xa1\xb2\xc3\xd4' or magic == b'\xa1\xb2\x3c\x4d':
        e = '>'
    else:
        sys.exit('not a pcap file: ' + path)
    linktype = struct.unpack(e + 'I', data[20:24])[0]
    if linktype != 1:
        sys.exit('%s: link type %d, want Ethernet' % (path, linktype))
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        eth = struct.unpack('>H', frame[12:14])[0]
        ip = frame[14:]
        if eth == 0x0800:
            ihl = (ip[0] & 15) * 4
            total = struct.unpack('>H', ip[2:4])[0]
            if struct.unpack('>H', ip[6:8])[0] & 0x3fff:
                sys.exit(path + ': IP fragment, not handled')
            proto, src, dst, l4 = ip[9], ip[12:16], ip[16:20], ip[ihl:total]
        elif eth == 0x86dd:
            plen = struct.unpack('>H', ip[4:6])[0]
            proto, src, dst, l4 = ip[6], ip[8:24], ip[24:40], ip[40:40 + plen]
        else:
            continue
        if proto == 17:
            sport, dport, ulen = struct.unpack('>HHH', l4[:6])
            yield src, dst, 'udp', sport, dport, 0, l4[8:ulen]
        elif proto == 6:
            sport, dport, seq = struct.unpack('>HHI', l4[:8])
            doff = (l4[12] >> 4) * 4
            flags = l4[13]
            yield src, dst, 'tcp', sport, dport, (seq, flags), l4[doff:]

seen = set()
for target in os.listdir(corpus):
    for f in os.listdir(os.path.join(corpus, target)):
        if not f.startswith('cap-'):
            with open(os.path.join(corpus, target, f), 'rb') as fh:
                seen.add((target, hashlib.sha256(fh.read()).digest()))
counters = {}
written = {}

def seed(target, impl, what, content):
    key = (target, hashlib.sha256(content).digest())
    if key in seen:
        return False
    seen.add(key)
    n = counters[(target, impl, what)] = counters.get((target, impl, what), 0) + 1
    os.makedirs(os.path.join(stage, target), exist_ok=True)
    name = 'cap-%s-%s-%d.bin' % (impl, what, n)
    with open(os.path.join(stage, target, name), 'wb') as fh:
        fh.write(content)
    written[target] = written.get(target, 0) + 1
    return True

# IKE: every message, and each run's IKE_SA_INIT request for the responder target.
exchanges = {34: 'ike-sa-init', 35: 'ike-auth', 36: 'create-child-sa', 37: 'informational'}
def need(cond, what):
    if not cond:
        sys.exit('capture lacks ' + what)
for label in ('cbc', 'gcm', 'frag'):
    got = set()
    for src, dst, proto, sport, dport, _, p in packets('%s/ike-%s.pcap' % (tmp, label)):
        if proto != 'udp':
            continue
        if sport == 4500 or dport == 4500:
            if len(p) == 1 and p[0] == 0xff:
                continue  # NAT-T keepalive
            if p[:4] != b'\0\0\0\0':
                continue  # ESP in UDP
            p = p[4:]
        if len(p) < 28:
            continue
        exch = exchanges.get(p[18], 'exchange-%d' % p[18])
        kind = 'response' if p[19] & 0x20 else 'request'
        frag = '-fragment' if p[16] == 53 else ''
        what = '%s-%s-%s%s' % (label, exch, kind, frag)
        got.add((p[18], kind, frag, sport == 4500))
        seed('ike_message_fuzz', 'strongswan', what, p)
        if p[18] == 34 and kind == 'request':
            # IkeOp::raw (0), flags 0 (our port 500, from port 500), length, the datagram.
            seed('ike_responder_fuzz', 'strongswan', label + '-ike-sa-init-request',
                 bytes([0, 0]) + struct.pack('>H', len(p)) + p)
    for x in exchanges:
        for kind in ('request', 'response'):
            need(any(g[0] == x and g[1] == kind for g in got),
                 '%s: %s %s' % (label, exchanges[x], kind))
    if label == 'frag':
        need(any(g[2] for g in got), 'frag: IKE fragments (SKF)')
    if label == 'cbc':
        need(any(g[3] for g in got), 'cbc: IKE on port 4500')

# BGP and BFD: by sender address; TCP streams reassembled in sequence order.
impl_of = {bytes([10, 99, 0, 1]): 'bird', bytes([10, 99, 0, 2]): 'frr'}
names = {1: 'open', 2: 'update', 3: 'notification', 4: 'keepalive', 5: 'route-refresh'}
streams = {}
bfd = {}
types = set()
for src, dst, proto, sport, dport, seq, p in packets(tmp + '/bgp.pcap'):
    impl = impl_of.get(src)
    if impl is None:
        continue
    if proto == 'tcp' and 179 in (sport, dport):
        s = streams.setdefault((impl, sport, dport), {'isn': None, 'segs': {}})
        seqno, flags = seq
        if flags & 0x02:  # SYN
            s['isn'] = seqno
            continue
        if p and s['isn'] is not None:
            s['segs'].setdefault((seqno - s['isn'] - 1) % (1 << 32), p)
    elif proto == 'udp' and dport == 3784:
        bfd.setdefault(impl, []).append(p)
for (impl, sport, dport), s in sorted(streams.items()):
    data = b''
    for rel, p in sorted(s['segs'].items()):
        if rel > len(data):
            sys.exit('BGP stream from %s has a gap at %d' % (impl, len(data)))
        data += p[len(data) - rel:]
    if not data:
        continue
    off = 0
    while off + 19 <= len(data):
        length = struct.unpack('>H', data[off + 16:off + 18])[0]
        if data[off:off + 16] != b'\xff' * 16 or length < 19 or off + length > len(data):
            sys.exit('BGP stream from %s: bad header at %d' % (impl, off))
        msg = data[off:off + length]
        types.add((impl, msg[18], msg[19:21] if msg[18] == 3 else b''))
        seed('bgp_message_fuzz', impl, names.get(msg[18], 'type-%d' % msg[18]),
             bytes([255]) + msg)  # chunk 256: whole messages
        off += length
    if off != len(data):
        sys.exit('BGP stream from %s: %d trailing octets' % (impl, len(data) - off))
    seed('bgp_message_fuzz', impl, 'stream-chunk13', bytes([12]) + data)

for impl, t in (('bird', 1), ('frr', 1), ('bird', 2), ('frr', 2), ('bird', 4), ('frr', 4),
                ('bird', 5), ('frr', 5)):
    need(any(x[:2] == (impl, t) for x in types), 'BGP %s from %s' % (names[t], impl))
need(('bird', 3, bytes([6, 2])) in types, 'NOTIFICATION Cease/Administrative Shutdown from BIRD')
need(sorted(bfd) == ['bird', 'frr'], 'BFD from both BIRD and FRR')
for impl, pkts in sorted(bfd.items()):
    distinct = []
    for p in pkts:
        if p not in distinct:
            distinct.append(p)
    for p in distinct[:12]:
        state = ('admindown', 'down', 'init', 'up')[p[1] >> 6] if len(p) > 1 else 'short'
        flags = ''.join(f for f, bit in (('-poll', 0x20), ('-final', 0x10))
                        if len(p) > 1 and p[1] & bit)
        seed('bfd_fuzz', impl, state + flags, bytes([0, len(p)]) + p)  # BfdOp::raw, length
    # The whole sequence, addressed to the fuzzed session (Your Discriminator = 0x11111111,
    # fixtures.hpp bfd_disc_local) where the peer had learnt one, 100 ms apart
    # (BfdOp::advance 5, two octets of milliseconds).
    script = b''
    for p in distinct[:24]:
        if len(p) >= 24 and p[8:12] != b'\0\0\0\0':
            p = p[:8] + b'\x11\x11\x11\x11' + p[12:]
        script += bytes([0, len(p)]) + p + bytes([5, 0, 100])
    seed('bfd_fuzz', impl, 'sequence-adopted', script)

for target in sorted(written):
    print('extract: %s: %d seeds' % (target, written[target]))
PY

# Replace the previous cap-* seeds with this run's.
for t in ike_message_fuzz ike_responder_fuzz bgp_message_fuzz bfd_fuzz; do
    [ -d "$stage/$t" ] || fail "no seeds extracted for $t"
    rm -f "$corpus/$t"/cap-*.bin
    cp "$stage/$t"/cap-*.bin "$corpus/$t/"
    echo "seeds: $t: $(ls "$stage/$t" | wc -l) cap-* files"
done
echo "versions: $("$charon" --version 2>&1 | head -n1); $(bird --version 2>&1);" \
    "$("$frr/bgpd" --version 2>&1 | head -n1)"
echo "PASS: capture seeds written under $corpus"
