#!/usr/bin/env bash
# Lab: IKEv2 interop between ike_probe (ike/tools/ike_probe.cpp: our IkeSa as initiator, or as
# responder in mode `responder`) and strongSwan's charon (Debian package), PSK authentication.
#   charon.sh <path-to-ike_probe> <family 1..4> [ok|wrong-psk|invalid-ke|rekey|encap|frag|wireshark|responder]
# Families (AWS): 1 AES-128-CBC/SHA1/MODP-1024, 2 AES-256-CBC/SHA2-256/MODP-2048,
#                 3 AES-256-GCM-16/PRF-SHA384/ECP-384, 4 AES-256-CBC/SHA2-512/MODP-2048-256.
# ok:         the CHILD_SA must come up and charon must list the same SPIs crosswise.
# wrong-psk:  charon has another key: the probe must report "AUTHENTICATION_FAILED from peer".
# invalid-ke: the probe guesses MODP-2048 first, charon answers INVALID_KE_PAYLOAD, the probe
#             must retry with the family's group and succeed.
# rekey:      charon rekeys the CHILD_SA every 12 s and the IKE SA every 12 s (rand_time 0);
#             the probe holds the SA 40 s and rekeys the CHILD_SA at 3 s and the IKE SA at 18 s
#             itself. Both sides' CREATE_CHILD_SA requests must appear in charon's log, the
#             probe must never go down, and charon's final CHILD_SA must be the probe's.
# encap:      the probe forces UDP encapsulation (fake NAT): both must float to 4500 and
#             charon must install the CHILD_SA as ESP-in-UDP.
# frag:       IKE fragmentation (RFC 7383) both ways: charon with `fragmentation = force` and
#             charon.fragment_size 200, the probe with --fragment-size 200; the probe rekeys the
#             CHILD_SA after 2 s. charon's log must show our IKE_AUTH and CREATE_CHILD_SA
#             requests arriving as EF fragments and reassembled, and its own responses split
#             into fragments; a capture dissected by tshark must show SKF payloads (type 53)
#             from both sides in both exchanges, ours within 200 octets; the probe must have
#             negotiated fragmentation, sent and accepted fragments and dropped none.
# wireshark:  the probe writes its keys for Wireshark (--wireshark-keys, ike/src/keylog.cpp),
#             rekeys the CHILD_SA at 2 s and the IKE SA at 4 s; charon sends ESP (pings into
#             its libipsec TUN device) on the CHILD_SA. tshark, given only the probe's
#             ikev2_decryption_table and esp_sa, must decrypt the IKE_AUTH exchange (IDi, AUTH,
#             SA, TSi inside SK), every CREATE_CHILD_SA message, charon's Delete on the
#             rekeyed IKE SA (swanctl --terminate), IKE checksums all correct, and the ESP of
#             both CHILD_SAs to ICMP with good ICVs; with the first hex digit of every key
#             changed it must decrypt nothing (so the check can fail).
# responder:  charon initiates (`swanctl --initiate`, AWS's startup action "start"), the probe
#             only answers (--responder): charon's log must show its IKE_SA_INIT request and
#             our response, and the CHILD_SA must come up with the SPIs crosswise as in `ok`.
# Two network namespaces joined by a veth pair; charon runs in its own mount namespace with a
# private /run (its pid file is fixed at /var/run/charon.pid) and its strongswan.conf,
# swanctl.conf and vici socket in a temp dir; kernel-libipsec (userspace ESP) so no XFRM
# algorithms are needed. Needs root, iproute2, util-linux (unshare), strongswan-charon,
# strongswan-swanctl, libcharon-extra-plugins (frag: tcpdump, tshark). Fails (never skips) when
# something is missing.
set -euo pipefail

usage="charon.sh <ike_probe> <family> [ok|wrong-psk|invalid-ke|rekey|encap|frag|wireshark|responder]"
tool=${1:?usage: $usage}
family=${2:?family 1..4}
mode=${3:-ok}
charon=/usr/lib/ipsec/charon

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
for c in ip swanctl unshare timeout; do
    command -v "$c" >/dev/null || fail "$c not installed (apt-get install iproute2 strongswan-swanctl util-linux)"
done
[ -x "$charon" ] || fail "charon not installed (apt-get install strongswan-charon)"
[ -e /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so ] ||
    fail "kernel-libipsec plugin missing (apt-get install libcharon-extra-plugins)"
[ -x "$tool" ] || fail "ike_probe not found at $tool"

case $family in
    1) ike=aes128-sha1-modp1024; esp=aes128-sha1 ;;
    2) ike=aes256-sha256-modp2048; esp=aes256-sha256 ;;
    3) ike=aes256gcm16-prfsha384-ecp384; esp=aes256gcm16 ;;
    4) ike=aes256-sha512-modp2048s256; esp=aes256-sha512 ;;
    *) fail "family must be 1..4" ;;
esac

id=$$
ns_aws=cgwd-ike-aws-$id
ns_cgw=cgwd-ike-cgw-$id
veth_aws=via$id
veth_cgw=vic$id
ip_aws=10.211.0.2
ip_cgw=10.211.0.1
tmp=$(mktemp -d /tmp/cgwd-lab-ike-charon.XXXXXX)
charon_pid=""
tcpdump_pid=""
probe_pid=""

cleanup() {
    set +e
    [ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
    [ -n "$tcpdump_pid" ] && kill "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null
    if [ -n "$charon_pid" ]; then
        kill "$charon_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$charon_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$charon_pid" 2>/dev/null
    fi
    ip netns del "$ns_aws" 2>/dev/null
    ip netns del "$ns_cgw" 2>/dev/null
    if [ "${keep_log:-0}" = 1 ] && [ -f "$tmp/charon.log" ]; then
        echo "--- charon.log (tail) ---" >&2
        tail -n 60 "$tmp/charon.log" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'keep_log=1' ERR

ip netns add "$ns_aws"
ip netns add "$ns_cgw"
ip link add "$veth_aws" type veth peer name "$veth_cgw"
ip link set "$veth_aws" netns "$ns_aws"
ip link set "$veth_cgw" netns "$ns_cgw"
ip -n "$ns_aws" addr add "$ip_aws/24" dev "$veth_aws"
ip -n "$ns_cgw" addr add "$ip_cgw/24" dev "$veth_cgw"
for ns in "$ns_aws" "$ns_cgw"; do ip -n "$ns" link set lo up; done
ip -n "$ns_aws" link set "$veth_aws" up
ip -n "$ns_cgw" link set "$veth_cgw" up

ike_extra=""
child_extra=""
charon_extra=""
frag_size=200  # complete IP datagram, as charon.fragment_size and --fragment-size count it
if [ "$mode" = frag ]; then
    ike_extra="fragmentation = force"
    charon_extra="fragment_size = $frag_size"
fi
if [ "$mode" = rekey ]; then
    ike_extra="rekey_time = 12s
        rand_time = 0"
    child_extra="rekey_time = 12s
                rand_time = 0"
fi

psk="cgwd lab key $id $RANDOM$RANDOM"
charon_psk=$psk
[ "$mode" = wrong-psk ] && charon_psk="not the same key $RANDOM"
printf '%s\n' "$psk" >"$tmp/psk"
chmod 600 "$tmp/psk"

cat >"$tmp/strongswan.conf" <<CONF
charon {
    load = random nonce openssl aes sha1 sha2 hmac gcm gmp kdf pem pkcs1 pubkey socket-default kernel-libipsec kernel-netlink vici
    install_routes = no
    install_virtual_ip = no
    retransmit_tries = 2
    $charon_extra
    filelog {
        log {
            path = $tmp/charon.log
            flush_line = yes
            default = 1
            ike = 2
            cfg = 2
            enc = 2
        }
    }
    plugins {
        vici {
            socket = unix://$tmp/charon.vici
        }
    }
}
swanctl {
    load = pem pkcs1 pubkey
}
CONF
cat >"$tmp/swanctl.conf" <<CONF
connections {
    cgw {
        version = 2
        local_addrs = $ip_aws
        remote_addrs = $ip_cgw
        proposals = $ike
        $ike_extra
        local {
            auth = psk
            id = $ip_aws
        }
        remote {
            auth = psk
            id = $ip_cgw
        }
        children {
            cgw {
                local_ts = 0.0.0.0/0
                remote_ts = 0.0.0.0/0
                esp_proposals = $esp
                mode = tunnel
                start_action = none
                $child_extra
            }
        }
    }
}
secrets {
    ike-cgw {
        id-1 = $ip_cgw
        id-2 = $ip_aws
        secret = "$charon_psk"
    }
}
CONF
chmod 600 "$tmp/swanctl.conf"

# charon in the AWS namespace, in a private mount namespace with its own /run.
ip netns exec "$ns_aws" unshare -m sh -c \
    "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF='$tmp/strongswan.conf' '$charon'" \
    >"$tmp/charon.out" 2>&1 &
charon_pid=$!
for _ in $(seq 100); do
    [ -S "$tmp/charon.vici" ] && break
    kill -0 "$charon_pid" 2>/dev/null || { cat "$tmp/charon.out" >&2; fail "charon exited"; }
    sleep 0.1
done
[ -S "$tmp/charon.vici" ] || fail "charon did not open its vici socket within 10 s"
uri="unix://$tmp/charon.vici"
STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 20 swanctl --load-all --noprompt \
    --file "$tmp/swanctl.conf" --uri "$uri" >"$tmp/swanctl-load.out" 2>&1 ||
    { cat "$tmp/swanctl-load.out" >&2; fail "swanctl --load-all failed"; }

args=(--local "$ip_cgw" --remote "$ip_aws" --psk-file "$tmp/psk" --family "$family" --timeout 30)
[ "$mode" = invalid-ke ] && args+=(--guess-dh 14)
[ "$mode" = rekey ] && args+=(--hold 40 --rekey-child-after 3 --rekey-ike-after 18)
[ "$mode" = encap ] && args+=(--force-encap --hold 3)
[ "$mode" = frag ] && args+=(--fragment-size "$frag_size" --hold 5 --rekey-child-after 2)
if [ "$mode" = wireshark ]; then
    command -v ping >/dev/null || fail "ping not installed (apt-get install iputils-ping)"
    mkdir -m 700 "$tmp/keys"
    args+=(--wireshark-keys "$tmp/keys" --hold 7 --rekey-child-after 2 --rekey-ike-after 4)
fi
if [ "$mode" = frag ] || [ "$mode" = wireshark ]; then
    # A capture on our side of the link, dissected by tshark afterwards.
    for c in tcpdump tshark; do command -v "$c" >/dev/null || fail "$c not installed"; done
    ip netns exec "$ns_cgw" tcpdump -i "$veth_cgw" -U -n -w "$tmp/ike.pcap" \
        udp port 500 or udp port 4500 or esp >"$tmp/tcpdump.out" 2>&1 &
    tcpdump_pid=$!
    for _ in $(seq 50); do grep -q "listening on" "$tmp/tcpdump.out" && break; sleep 0.1; done
    grep -q "listening on" "$tmp/tcpdump.out" || fail "tcpdump did not start"
fi
set +e
if [ "$mode" = wireshark ]; then
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1 &
    probe_pid=$!
    for _ in $(seq 150); do grep -q "^child-sa" "$tmp/probe.out" && break; sleep 0.1; done
    # ESP from charon: kernel-libipsec encrypts what enters its TUN device (0.0.0.0/0
    # selectors); our side has no SA installed and drops it, the capture is what matters.
    # Once on the first CHILD_SA, once after the CHILD_SA rekey at 2 s.
    ip -n "$ns_aws" route add 10.212.0.0/24 dev ipsec0 2>"$tmp/route.err"
    ip netns exec "$ns_aws" ping -c 2 -i 0.2 -W 1 10.212.0.1 >/dev/null 2>&1
    sleep 3
    ip netns exec "$ns_aws" ping -c 2 -i 0.2 -W 1 10.212.0.1 >/dev/null 2>&1
    wait "$probe_pid"
    rc=$?
    probe_pid=""
elif [ "$mode" = responder ]; then
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" --responder --hold 3 \
        >"$tmp/probe.out" 2>&1 &
    probe_pid=$!
    sleep 0.5  # the probe's sockets are bound
    STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 30 swanctl --initiate --child cgw \
        --timeout 25 --uri "$uri" >"$tmp/initiate.out" 2>&1
    initiate_rc=$?
    wait "$probe_pid"
    rc=$?
    probe_pid=""
    [ "$initiate_rc" -eq 0 ] || { cat "$tmp/initiate.out"; keep_log=1; fail "swanctl --initiate failed"; }
    grep -q "generating IKE_SA_INIT request 0" "$tmp/charon.log" ||
        { keep_log=1; fail "charon did not initiate"; }
    grep -q "parsed IKE_SA_INIT response 0" "$tmp/charon.log" ||
        { keep_log=1; fail "charon got no IKE_SA_INIT response from the probe"; }
    grep -q "parsed IKE_AUTH response 1" "$tmp/charon.log" ||
        { keep_log=1; fail "charon got no IKE_AUTH response from the probe"; }
    grep -q "^status InitReplied" "$tmp/probe.out" || fail "the probe did not answer as responder"
else
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1
    rc=$?
fi
set -e
cat "$tmp/probe.out"
# wireshark: the capture goes on until charon has deleted the rekeyed IKE SA (below).
if [ -n "$tcpdump_pid" ] && [ "$mode" != wireshark ]; then
    kill -INT "$tcpdump_pid" 2>/dev/null || true
    wait "$tcpdump_pid" 2>/dev/null || true
    tcpdump_pid=""
fi

case $mode in
    wrong-psk)
        [ "$rc" -ne 0 ] || fail "probe succeeded with a wrong PSK"
        grep -q "^status Backoff AUTHENTICATION_FAILED from peer$" "$tmp/probe.out" ||
            { keep_log=1; fail "probe did not report AUTHENTICATION_FAILED from peer"; }
        grep -q "^child-sa" "$tmp/probe.out" && fail "a CHILD_SA came up with a wrong PSK"
        echo "PASS: wrong PSK rejected by charon, reported as AUTHENTICATION_FAILED"
        exit 0
        ;;
    invalid-ke)
        grep -q "^status InitSent INVALID_KE_PAYLOAD from peer: retrying with" "$tmp/probe.out" ||
            { keep_log=1; fail "no INVALID_KE_PAYLOAD retry seen"; }
        ;;
esac
[ "$rc" -eq 0 ] || { keep_log=1; fail "probe exited $rc"; }
grep -q "^down" "$tmp/probe.out" && { keep_log=1; fail "the probe's IKE SA went down"; }

# charon's view: the IKE SA established, the CHILD_SA installed with the same SPIs crosswise.
STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 20 swanctl --list-sas --uri "$uri" >"$tmp/sas.out" 2>&1
cat "$tmp/sas.out"
grep -q "ESTABLISHED" "$tmp/sas.out" || { keep_log=1; fail "charon has no ESTABLISHED IKE SA"; }
grep -q "INSTALLED, TUNNEL" "$tmp/sas.out" || { keep_log=1; fail "charon has no INSTALLED tunnel CHILD_SA"; }
our_in=$(sed -n 's/^child-sa spi_in 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out" | tail -n1)
our_out=$(sed -n 's/^child-sa .* spi_out 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out" | tail -n1)
if [ "$mode" = rekey ]; then
    # The CHILD_SA in use at the end (the last one may have been a deleted collision loser).
    our_in=$(sed -n 's/^summary .* child spi_in 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    our_out=$(sed -n 's/^summary .* spi_out 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    [ -n "$our_in" ] || fail "no summary line from the probe"
    log=$tmp/charon.log
    grep -Eq "parsed CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\) SA No TSi TSr \]" "$log" ||
        { keep_log=1; fail "charon saw no CHILD_SA rekey from the probe"; }
    grep -Eq "generating CREATE_CHILD_SA request [0-9]+ \[ N\(REKEY_SA\) SA No TSi TSr \]" "$log" ||
        { keep_log=1; fail "charon did not rekey the CHILD_SA itself"; }
    grep -Eq "parsed CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]" "$log" ||
        { keep_log=1; fail "charon saw no IKE SA rekey from the probe"; }
    grep -Eq "generating CREATE_CHILD_SA request [0-9]+ \[ SA No KE \]" "$log" ||
        { keep_log=1; fail "charon did not rekey the IKE SA itself"; }
    read -r ike_n child_n < <(sed -n 's/^summary ike_rekeys \([0-9]*\) child_rekeys \([0-9]*\).*/\1 \2/p' "$tmp/probe.out")
    [ "${ike_n:-0}" -ge 2 ] || fail "only ${ike_n:-0} IKE SA rekeys"
    [ "${child_n:-0}" -ge 2 ] || fail "only ${child_n:-0} CHILD_SA rekeys"
    [ "$(grep -c ESTABLISHED "$tmp/sas.out")" -eq 1 ] || fail "charon does not have exactly one IKE SA"
fi
if [ "$mode" = encap ]; then
    grep -q "^child-sa .* encap 4500 4500$" "$tmp/probe.out" || fail "the probe did not float to 4500"
    grep -q "remote host is behind NAT" "$tmp/charon.log" || { keep_log=1; fail "charon saw no NAT"; }
    grep -q "in-UDP" "$tmp/sas.out" || { keep_log=1; fail "charon's CHILD_SA is not UDP-encapsulated"; }
    grep -q "\[4500\]" "$tmp/sas.out" || fail "charon's IKE SA is not on port 4500"
fi
if [ "$mode" = frag ]; then
    log=$tmp/charon.log
    # Our requests arrived in fragments and were reassembled by charon.
    grep -Eq "parsed IKE_AUTH request 1 \[ EF\(1/[0-9]+\) \]" "$log" ||
        { keep_log=1; fail "charon did not receive our IKE_AUTH request as fragments"; }
    grep -Eq "parsed CREATE_CHILD_SA request [0-9]+ \[ EF\(1/[0-9]+\) \]" "$log" ||
        { keep_log=1; fail "charon did not receive our CREATE_CHILD_SA request as fragments"; }
    n_in=$(grep -c "reassembled fragmented IKE message" "$log" || true)
    [ "$n_in" -ge 2 ] || { keep_log=1; fail "charon reassembled $n_in of our messages, want >= 2"; }
    grep -Eq "parsed IKE_AUTH request 1 \[ IDi N\(INIT_CONTACT\) AUTH SA TSi TSr \]" "$log" ||
        { keep_log=1; fail "charon's reassembled IKE_AUTH request is not what we sent"; }
    # charon's responses went out in fragments.
    grep -Eq "generating IKE_AUTH response 1 \[ EF\(1/[0-9]+\) \]" "$log" ||
        { keep_log=1; fail "charon did not fragment its IKE_AUTH response"; }
    grep -Eq "generating CREATE_CHILD_SA response [0-9]+ \[ EF\(1/[0-9]+\) \]" "$log" ||
        { keep_log=1; fail "charon did not fragment its CREATE_CHILD_SA response"; }
    grep -E "splitting IKE message|reassembled fragmented" "$log" | sed 's/^/charon: /'
    # On the wire (tshark): SKF payloads (type 53) of IKE_AUTH (35) and CREATE_CHILD_SA (36)
    # from each side, our IP datagrams within the fragment size, nothing malformed.
    tshark -r "$tmp/ike.pcap" -Y isakmp.frag.number -T fields -e ip.src -e ip.len \
        -e isakmp.exchangetype -e isakmp.frag.number -e isakmp.frag.total \
        >"$tmp/skf.txt" 2>/dev/null || fail "tshark could not read the capture"
    sed 's/^/skf: /' "$tmp/skf.txt"
    for who in "$ip_cgw" "$ip_aws"; do
        for x in 35 36; do
            n=$(awk -v s="$who" -v x="$x" '$1 == s && $3 == x' "$tmp/skf.txt" | wc -l)
            [ "$n" -ge 2 ] || fail "$who sent $n SKF fragments in exchange $x, want >= 2"
        done
    done
    big=$(awk -v s="$ip_cgw" -v m="$frag_size" '$1 == s && $2 > m' "$tmp/skf.txt" | wc -l)
    [ "$big" -eq 0 ] || fail "$big of our fragments exceed $frag_size octets"
    bad=$(tshark -r "$tmp/ike.pcap" -Y '_ws.malformed || _ws.expert.severity >= "warning"' 2>/dev/null | wc -l)
    [ "$bad" -eq 0 ] || fail "tshark flags $bad packets as malformed or with warnings"
    read -r neg sent received dropped < <(sed -n \
        's/^fragments negotiated \([01]\) sent \([0-9]*\) received \([0-9]*\) dropped \([0-9]*\)$/\1 \2 \3 \4/p' \
        "$tmp/probe.out")
    [ "${neg:-0}" = 1 ] || fail "the probe did not negotiate fragmentation"
    [ "${sent:-0}" -ge 4 ] || fail "the probe sent only ${sent:-0} fragments"
    [ "${received:-0}" -ge 4 ] || fail "the probe accepted only ${received:-0} fragments"
    [ "${dropped:-1}" -eq 0 ] || fail "the probe dropped $dropped fragments"
    our_in=$(sed -n 's/^summary .* child spi_in 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    our_out=$(sed -n 's/^summary .* spi_out 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    [ -n "$our_in" ] || fail "no summary line from the probe"
    grep -q "^summary ike_rekeys 0 child_rekeys 1 " "$tmp/probe.out" || fail "the CHILD_SA was not rekeyed once"
fi
if [ "$mode" = wireshark ]; then
    # charon deletes the rekeyed IKE SA: an INFORMATIONAL protected with its keys only.
    STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 20 swanctl --terminate --ike cgw --force \
        --timeout 2 --uri "$uri" >"$tmp/terminate.out" 2>&1 || true
    sleep 0.5
    kill -INT "$tcpdump_pid" 2>/dev/null || true
    wait "$tcpdump_pid" 2>/dev/null || true
    tcpdump_pid=""
    keys=$tmp/keys
    for f in ikev2_decryption_table esp_sa; do
        [ -s "$keys/$f" ] || fail "the probe wrote no $f"
        [ "$(stat -c %a "$keys/$f")" = 600 ] || fail "$f is not mode 0600"
    done
    grep -q "^WARNING: writing IKE and ESP keys" "$tmp/probe.out" || fail "no key export warning"
    # Two IKE SAs (initial, rekeyed), two CHILD_SAs (initial, rekeyed) of two records each.
    [ "$(wc -l <"$keys/ikev2_decryption_table")" -eq 2 ] || fail "want 2 IKE SA records"
    [ "$(wc -l <"$keys/esp_sa")" -eq 4 ] || fail "want 4 ESP SA records"
    # tshark with a private configuration directory holding only the two tables (tshark 4.0
    # reads WIRESHARK_CONFIG_DIR before ~/.config/wireshark).
    dissect() {  # <config dir> <fields...>: one line per IKE/ESP packet
        local dir=$1
        shift
        WIRESHARK_CONFIG_DIR=$dir tshark -n -r "$tmp/ike.pcap" \
            -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE \
            "$@" 2>"$tmp/tshark.err" || { cat "$tmp/tshark.err" >&2; fail "tshark failed"; }
    }
    fields=(-Y "isakmp || esp" -T fields -E separator=';' -e frame.number -e ip.src
            -e isakmp.exchangetype -e isakmp.ispi -e isakmp.typepayload
            -e isakmp.id.data.ipv4_addr -e isakmp.auth.method -e esp.spi -e esp.icv_good
            -e icmp.type)
    mkdir -p "$tmp/ws-good" "$tmp/ws-bad"
    cp "$keys/ikev2_decryption_table" "$keys/esp_sa" "$tmp/ws-good/"
    # The wrong tables: the first hex digit of every key changed, nothing else.
    awk -F, -v OFS=, 'function flip(s, i) { return substr(s, 1, i - 1) \
        (substr(s, i, 1) == "0" ? "1" : "0") substr(s, i + 1) }
        { for (f = 3; f <= 7; f++) if (f != 5 && $f != "") $f = flip($f, 1); print }' \
        "$keys/ikev2_decryption_table" >"$tmp/ws-bad/ikev2_decryption_table"
    awk -F, -v OFS=, 'function flip(s, i) { return substr(s, 1, i - 1) \
        (substr(s, i, 1) == "0" ? "1" : "0") substr(s, i + 1) }
        { for (f = 6; f <= 8; f += 2) if (length($f) > 4) $f = flip($f, 4); print }' \
        "$keys/esp_sa" >"$tmp/ws-bad/esp_sa"
    cmp -s "$keys/esp_sa" "$tmp/ws-bad/esp_sa" && fail "the wrong esp_sa is not different"
    dissect "$tmp/ws-good" "${fields[@]}" >"$tmp/good.txt"
    dissect "$tmp/ws-bad" "${fields[@]}" >"$tmp/bad.txt"
    sed 's/^/tshark: /' "$tmp/good.txt"
    # Fields: 1 frame, 2 ip.src, 3 exchange, 4 SPIi, 5 payload types, 6 ID address, 7 AUTH
    # method, 8 ESP SPI, 9 ICV good, 10 ICMP type. Payload types: 33 SA, 35 IDi, 36 IDr,
    # 39 AUTH, 40 Nonce, 42 Delete, 44 TSi, 46 SK.
    has() {  # <payload type> <file>: the lines whose payload types include it
        awk -F';' -v x="$1" \
            '{ n = split($5, t, ","); for (i = 1; i <= n; i++) if (t[i] == x) { print; next } }' "$2"
    }
    idi=$(awk -F';' -v s="$ip_cgw" '$2 == s && $3 == 35' "$tmp/good.txt" | has 35 /dev/stdin)
    [ -n "$idi" ] || fail "tshark did not decrypt our IKE_AUTH request (no IDi)"
    for x in 39 33 44; do
        echo "$idi" | has "$x" /dev/stdin | grep -q . ||
            fail "no payload $x in our decrypted IKE_AUTH"
    done
    echo "$idi" | awk -F';' -v s="$ip_cgw" '$6 == s && $7 == 2' | grep -q . ||
        fail "our decrypted IDi/AUTH is not ID_IPV4_ADDR $ip_cgw / shared key"
    awk -F';' -v s="$ip_aws" '$2 == s && $3 == 35' "$tmp/good.txt" | has 36 /dev/stdin |
        has 39 /dev/stdin | grep -q . ||
        fail "tshark did not decrypt charon's IKE_AUTH response (IDr, AUTH)"
    # Every CREATE_CHILD_SA message (both rekeys, both directions) shows its SA and Nonce.
    n_cc=$(awk -F';' '$3 == 36' "$tmp/good.txt" | wc -l)
    n_cc_dec=$(awk -F';' '$3 == 36' "$tmp/good.txt" | has 33 /dev/stdin | has 40 /dev/stdin |
        wc -l)
    [ "$n_cc" -ge 4 ] || fail "$n_cc CREATE_CHILD_SA messages captured, want >= 4"
    [ "$n_cc_dec" -eq "$n_cc" ] ||
        fail "tshark decrypted $n_cc_dec of $n_cc CREATE_CHILD_SA messages"
    # charon's Delete on the rekeyed IKE SA (the second record's keys).
    spi_new=$(sed -n 2p "$keys/ikev2_decryption_table" | cut -d, -f1)
    awk -F';' -v s="$ip_aws" -v spi="$spi_new" '$2 == s && $3 == 37 && $4 == spi' \
        "$tmp/good.txt" | has 42 /dev/stdin | grep -q . ||
        fail "tshark did not decrypt charon's Delete on the rekeyed IKE SA $spi_new"
    # Integrity (CBC families: HMAC over the message) checked by tshark, never wrong.
    dissect "$tmp/ws-good" -V >"$tmp/good-v.txt"
    if grep -q "Integrity Checksum Data:" "$tmp/good-v.txt"; then
        grep "Integrity Checksum Data:" "$tmp/good-v.txt" | grep -qv "\[correct\]" &&
            fail "tshark finds an IKE integrity checksum incorrect with our keys"
    fi
    # ESP from charon decrypted to ICMP echo requests, ICV good, on both CHILD_SAs (our
    # inbound SPIs).
    esp_spis=$(awk -F';' '$8 != "" && $9 == 1 && $10 == 8 { print $8 }' "$tmp/good.txt" | sort -u)
    [ "$(echo "$esp_spis" | grep -c .)" -ge 2 ] ||
        fail "tshark decrypted ICMP in ESP on $(echo "$esp_spis" | grep -c .) SAs, want 2"
    for spi in $esp_spis; do
        grep -q "^child-sa spi_in $spi " "$tmp/probe.out" ||
            fail "decrypted ESP SPI $spi is not ours"
    done
    # With the wrong tables: nothing decrypted.
    sed 's/^/tshark (wrong keys): /' "$tmp/bad.txt"
    # (tshark still "decrypts" to garbage whose first octets may look like payload types: what
    # counts is a parsed ID, AUTH, SA + Nonce, a good ESP ICV, ICMP, a correct IKE checksum.)
    bad=$(awk -F';' '$6 != "" || $7 != "" || $9 == 1 || $10 != ""' "$tmp/bad.txt" | wc -l)
    bad=$((bad + $(awk -F';' '$3 >= 35' "$tmp/bad.txt" | has 33 /dev/stdin | has 40 /dev/stdin |
        wc -l)))
    dissect "$tmp/ws-bad" -V >"$tmp/bad-v.txt"
    n_ok=$(grep "Integrity Checksum Data:" "$tmp/bad-v.txt" | grep -c "\[correct\]" || true)
    bad=$((bad + n_ok))
    [ "$bad" -eq 0 ] || fail "tshark decrypted $bad packets with the wrong keys"
    echo "PASS: tshark decrypted IKE_AUTH, $n_cc CREATE_CHILD_SA, the rekeyed IKE SA's Delete" \
        "and ESP on SPIs" $esp_spis
    our_in=$(sed -n 's/^summary .* child spi_in 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    our_out=$(sed -n 's/^summary .* spi_out 0x\([0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    [ -n "$our_in" ] || fail "no summary line from the probe"
fi
# The SPIs of charon's first INSTALLED CHILD_SA (a rekeyed one may still be listed as DELETED).
their_in=$(sed -n '/INSTALLED/,$ s/.*in  *\([0-9a-f]\{8\}\).*/\1/p' "$tmp/sas.out" | head -n1)
their_out=$(sed -n '/INSTALLED/,$ s/.*out *\([0-9a-f]\{8\}\).*/\1/p' "$tmp/sas.out" | head -n1)
[ "$((16#$our_in))" -eq "$((16#$their_out))" ] || fail "our inbound SPI $our_in != charon's outbound $their_out"
[ "$((16#$our_out))" -eq "$((16#$their_in))" ] || fail "our outbound SPI $our_out != charon's inbound $their_in"
echo "PASS: family $family ($ike / $esp) mode $mode: CHILD_SA up, SPIs match charon's"
