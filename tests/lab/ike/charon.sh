#!/usr/bin/env bash
# Lab: IKEv2 interop between ike_probe (ike/tools/ike_probe.cpp: our IkeSa as initiator, or as
# responder in mode `responder`) and strongSwan's charon (Debian package), PSK authentication.
#   charon.sh <path-to-ike_probe> <family 1..4> [ok|wrong-psk|invalid-ke|rekey|encap|frag|wireshark|responder|dpd|dpd-dead|dpd-timeout|cookie|cookie-charon|restart]
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
# dpd:        charon's liveness checks on us (RFC 7296 2.4): charon with dpd_delay 2s, the
#             probe holds the SA 10 s without DPD of its own (--dpd 0): charon's log must show
#             >= 3 empty INFORMATIONAL requests, each answered by us (as many responses, no
#             retransmission; a last one sent within 1 s of the probe's exit is not counted),
#             and the SA stays up with the SPIs crosswise as in `ok`.
# dpd-dead:   our liveness checks on charon: the probe with --dpd 1 --dpd-retries 2
#             --retransmit-base 250 (dead 1 + 0.25 + 0.5 + 1 = 2.75 s after charon's last
#             message) and dpd_action restart. charon must answer >= 2 of our checks; then it is
#             killed (SIGKILL): the probe must declare it dead ("no answer to INFORMATIONAL after
#             3 transmissions") within [1.5, 3.5] s of the kill, and initiate again at once;
#             charon is started again and the probe's new SA must come up (SPIs crosswise).
# dpd-timeout: charon's DPD timing out on us: dpd_delay 2s, retransmit_timeout 1.0,
#             retransmit_base 1.4, retransmit_tries 2; the probe answers charon's checks, then
#             is killed (SIGKILL): charon must give up after 2 retransmits and delete the IKE SA
#             (`swanctl --list-sas` empty) between 4 s (1 + 1.4 + 1.96 = 4.36 s of
#             retransmissions) and 8.4 s (+ dpd_delay 2 s + 1 s of charon's whole-second clock +
#             1 s slack) after the kill.
# cookie:     our responder demands a cookie (RFC 7296 2.6): the probe with --responder
#             --require-cookie (CookieGuard, cookie.hpp, that always asks), charon initiates:
#             charon must get N(COOKIE) and send IKE_SA_INIT again with it first, our guard must
#             pass it (cookies sent >= 1, accepted >= 1), the SA must come up as in
#             `responder`; tshark must see N(COOKIE) (16390) in our IKE_SA_INIT response and
#             in charon's retried request.
# cookie-charon: charon demands a cookie from our initiator: charon.cookie_threshold = 1 (it
#             asks while it has >= 1 half-open SA; 0 would disable cookies), pushed over it by a
#             first probe run with --init-only (IKE_SA_INIT answered, no IKE_AUTH: half-open at
#             charon for half_open_timeout 30 s). The second run must get N(COOKIE), resend
#             IKE_SA_INIT with it ("COOKIE from peer: IKE_SA_INIT resent with it (1 of 3)"),
#             charon must log "sending COOKIE notify" and parse our request with N(COOKIE)
#             first, tshark must see N(COOKIE) both ways, and the SA must come up as in `ok`.
# restart:    peer restart: charon initiates, the probe answers (--responder, --dpd 1
#             --dpd-retries 2 --retransmit-base 250 --keep-going); charon is killed (SIGKILL),
#             started again at once and initiates a new SA with N(INITIAL_CONTACT). Our engine
#             drops an IKE_SA_INIT that arrives while its SA is Established (sa.hpp, "Not
#             implemented"; INITIAL_CONTACT is not acted on), so the new SA is accepted only
#             once our DPD has declared the old one dead (<= 2.75 s after the kill) and charon
#             retransmits (its first retransmission 4 s after its request): the old SA must go
#             down as dead, the new one must come up within 15 s of the new initiate, its
#             IKE_AUTH must carry N(INIT_CONTACT), and charon's SPIs must match the new SA's.
# Two network namespaces joined by a veth pair; charon runs in its own mount namespace with a
# private /run (its pid file is fixed at /var/run/charon.pid) and its strongswan.conf,
# swanctl.conf and vici socket in a temp dir; kernel-libipsec (userspace ESP) so no XFRM
# algorithms are needed. Needs root, iproute2, util-linux (unshare), strongswan-charon,
# strongswan-swanctl, libcharon-extra-plugins (frag, wireshark, cookie, cookie-charon: tcpdump,
# tshark). Fails (never skips) when something is missing.
set -euo pipefail

usage="charon.sh <ike_probe> <family> [ok|wrong-psk|invalid-ke|rekey|encap|frag|wireshark|responder|dpd|dpd-dead|dpd-timeout|cookie|cookie-charon|restart]"
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
net_level=1
log_time=""
case $mode in
    dpd | dpd-timeout)
        ike_extra="dpd_delay = 2s"
        charon_extra="retransmit_timeout = 1.0
    retransmit_base = 1.4"
        ;;
    cookie-charon)
        charon_extra="cookie_threshold = 1"
        net_level=2  # "sending COOKIE notify" is logged at net level 2
        ;;
esac
case $mode in
    dpd | dpd-dead | dpd-timeout) log_time="time_format = %s
            time_add_ms = yes" ;;
esac
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
            net = $net_level
            $log_time
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

# charon in the AWS namespace, in a private mount namespace with its own /run (the exec chain
# keeps the pid: $charon_pid is charon's). Started again after a SIGKILL in dpd-dead, restart.
uri="unix://$tmp/charon.vici"
start_charon() {
    rm -f "$tmp/charon.vici"  # a killed charon leaves its socket file behind
    ip netns exec "$ns_aws" unshare -m sh -c \
        "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF='$tmp/strongswan.conf' '$charon'" \
        >>"$tmp/charon.out" 2>&1 &
    charon_pid=$!
    for _ in $(seq 100); do
        [ -S "$tmp/charon.vici" ] && break
        kill -0 "$charon_pid" 2>/dev/null || { cat "$tmp/charon.out" >&2; fail "charon exited"; }
        sleep 0.1
    done
    [ -S "$tmp/charon.vici" ] || fail "charon did not open its vici socket within 10 s"
    STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 20 swanctl --load-all --noprompt \
        --file "$tmp/swanctl.conf" --uri "$uri" >"$tmp/swanctl-load.out" 2>&1 ||
        { cat "$tmp/swanctl-load.out" >&2; fail "swanctl --load-all failed"; }
}
start_charon
list_sas() { STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 10 swanctl --list-sas --uri "$uri"; }
# Seconds (with fractions) from $1 to $2, and whether $1 <= $2 (awk: no bc needed).
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

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
case $mode in
    dpd) args+=(--dpd 0 --hold 10) ;;
    dpd-dead)
        args+=(--dpd 1 --dpd-retries 2 --retransmit-base 250 --dpd-action restart --retry 1
               --keep-going --hold 20) ;;
    dpd-timeout) args+=(--dpd 0 --hold 40) ;;
    cookie) args+=(--responder --require-cookie --hold 3) ;;
    restart)
        args+=(--responder --dpd 1 --dpd-retries 2 --retransmit-base 250 --keep-going --hold 12) ;;
esac
case $mode in frag | wireshark | cookie | cookie-charon) capture=1 ;; *) capture=0 ;; esac
if [ "$capture" = 1 ]; then
    # A capture on our side of the link, dissected by tshark afterwards (--immediate-mode: a
    # packet is written when it arrives, not when the kernel's ring block is handed over, so
    # the last second before the SIGINT is not lost).
    for c in tcpdump tshark; do command -v "$c" >/dev/null || fail "$c not installed"; done
    ip netns exec "$ns_cgw" tcpdump -i "$veth_cgw" -U --immediate-mode -n -w "$tmp/ike.pcap" \
        udp port 500 or udp port 4500 or esp >"$tmp/tcpdump.out" 2>&1 &
    tcpdump_pid=$!
    for _ in $(seq 50); do grep -q "listening on" "$tmp/tcpdump.out" 2>/dev/null && break; sleep 0.1; done
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
elif [ "$mode" = responder ] || [ "$mode" = cookie ]; then
    [ "$mode" = responder ] && args+=(--responder --hold 3)
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1 &
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
elif [ "$mode" = dpd-dead ]; then
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1 &
    probe_pid=$!
    for _ in $(seq 150); do grep -q "^child-sa" "$tmp/probe.out" && break; sleep 0.1; done
    grep -q "^child-sa" "$tmp/probe.out" || { cat "$tmp/probe.out"; keep_log=1; fail "no CHILD_SA within 15 s"; }
    sleep 3  # our liveness checks every second of silence, charon answers
    n_req=$(grep -Ec "parsed INFORMATIONAL request [0-9]+ \[ \]" "$tmp/charon.log")
    n_resp=$(grep -Ec "generating INFORMATIONAL response [0-9]+ \[ \]" "$tmp/charon.log")
    echo "charon answered $n_resp of our $n_req liveness checks"
    [ "$n_req" -ge 2 ] && [ "$n_resp" -eq "$n_req" ] ||
        { cat "$tmp/probe.out"; keep_log=1; fail "charon answered $n_resp of $n_req liveness checks, want >= 2 and all"; }
    log_lines=$(wc -l <"$tmp/charon.log")
    kill -9 "$charon_pid"
    t_kill=$(date +%s.%N)
    wait "$charon_pid" 2>/dev/null || true  # 137
    charon_pid=""
    for _ in $(seq 100); do grep -q "^down" "$tmp/probe.out" && break; sleep 0.05; done
    t_down=$(date +%s.%N)
    grep -q "^down" "$tmp/probe.out" || { cat "$tmp/probe.out"; fail "the probe did not declare charon dead within 5 s"; }
    dead_after=$(elapsed "$t_kill" "$t_down")
    echo "the probe declared charon dead $dead_after s after the SIGKILL (bound [1.5, 3.5] s)"
    grep -q "^down peer not responding: no answer to INFORMATIONAL after 3 transmissions$" \
        "$tmp/probe.out" || { cat "$tmp/probe.out"; fail "not declared dead by its liveness check"; }
    le 1.5 "$dead_after" && le "$dead_after" 3.5 ||
        { cat "$tmp/probe.out"; fail "dead after $dead_after s, want [1.5, 3.5]"; }
    # dpd_action restart: a new IKE_SA_INIT at once.
    sed -n '/^down/,$p' "$tmp/probe.out" | grep -q "^status InitSent" ||
        { cat "$tmp/probe.out"; fail "the probe did not initiate again after the dead peer"; }
    # (The probe's IKE_SA_INIT may reach the new charon before swanctl has loaded the
    # connection: NO_PROPOSAL_CHOSEN, back-off of --retry 1 s, then it comes up.)
    start_charon
    t_restart=$(date +%s.%N)
    for _ in $(seq 200); do
        [ "$(grep -c "^child-sa" "$tmp/probe.out")" -ge 2 ] && break
        sleep 0.1
    done
    [ "$(grep -c "^child-sa" "$tmp/probe.out")" -ge 2 ] ||
        { cat "$tmp/probe.out"; keep_log=1; fail "no new CHILD_SA within 20 s of charon's restart"; }
    echo "new SA up $(elapsed "$t_restart" "$(date +%s.%N)") s after charon was started again"
    tail -n +"$((log_lines + 1))" "$tmp/charon.log" | grep -q "parsed IKE_SA_INIT request 0" ||
        { keep_log=1; fail "the new charon saw no IKE_SA_INIT from the probe"; }
    wait "$probe_pid"
    rc=$?
    probe_pid=""
elif [ "$mode" = restart ]; then
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1 &
    probe_pid=$!
    sleep 0.5  # the probe's sockets are bound
    initiate() {
        STRONGSWAN_CONF="$tmp/strongswan.conf" timeout 30 swanctl --initiate --child cgw \
            --timeout 25 --uri "$uri" >"$tmp/initiate.out" 2>&1 ||
            { cat "$tmp/initiate.out" "$tmp/probe.out"; keep_log=1; fail "swanctl --initiate failed${1:-}"; }
    }
    initiate
    grep -q "^child-sa" "$tmp/probe.out" || { cat "$tmp/probe.out"; fail "no first CHILD_SA"; }
    sleep 1
    log_lines=$(wc -l <"$tmp/charon.log")
    kill -9 "$charon_pid"
    t_kill=$(date +%s.%N)
    wait "$charon_pid" 2>/dev/null || true  # 137
    charon_pid=""
    start_charon
    t_init=$(date +%s.%N)
    initiate " after the restart"
    t_up=$(date +%s.%N)
    for _ in $(seq 30); do  # the probe prints its line right after charon's IKE_AUTH response
        [ "$(grep -c "^child-sa" "$tmp/probe.out")" -ge 2 ] && break
        sleep 0.1
    done
    wait "$probe_pid"
    rc=$?
    probe_pid=""
    new_log=$tmp/charon-new.log
    tail -n +"$((log_lines + 1))" "$tmp/charon.log" >"$new_log"
    # (A "retransmit 1 of request with message ID 0" here is the IKE_SA_INIT we dropped while
    # the old SA was still up.)
    grep -E "retransmit [0-9]+ of request with message ID 0|generating IKE_AUTH request|parsed IKE_SA_INIT response" \
        "$new_log" | sed 's/^/charon (restarted): /'
    echo "new SA up $(elapsed "$t_init" "$t_up") s after the new initiate," \
        "$(elapsed "$t_kill" "$t_up") s after the kill"
    grep -q "^down peer not responding: no answer to INFORMATIONAL" "$tmp/probe.out" ||
        fail "the old SA was not declared dead by our DPD"
    [ "$(grep -c "^child-sa" "$tmp/probe.out")" -ge 2 ] || fail "no second CHILD_SA"
    grep -Eq "generating IKE_AUTH request 1 \[ IDi N\(INIT_CONTACT\)" "$new_log" ||
        { keep_log=1; fail "the restarted charon sent no INITIAL_CONTACT"; }
    le "$(elapsed "$t_init" "$t_up")" 15 || fail "the new SA took longer than 15 s"
elif [ "$mode" = dpd-timeout ]; then
    # The probe itself (no `timeout` wrapper) so that SIGKILL hits it; --hold bounds it.
    ip netns exec "$ns_cgw" "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1 &
    probe_pid=$!
    for _ in $(seq 150); do grep -q "^child-sa" "$tmp/probe.out" && break; sleep 0.1; done
    grep -q "^child-sa" "$tmp/probe.out" || { cat "$tmp/probe.out"; keep_log=1; fail "no CHILD_SA within 15 s"; }
    for _ in $(seq 60); do
        grep -Eq "parsed INFORMATIONAL response [0-9]+ \[ \]" "$tmp/charon.log" && break
        sleep 0.1
    done
    grep -Eq "parsed INFORMATIONAL response [0-9]+ \[ \]" "$tmp/charon.log" ||
        { keep_log=1; fail "charon sent no liveness check that we answered within 6 s"; }
    sleep 0.5
    kill -9 "$probe_pid"
    t_kill=$(date +%s.%N)
    wait "$probe_pid" 2>/dev/null || true  # 137
    probe_pid=""
    rc=0
    gone=0
    for _ in $(seq 60); do  # 15 s
        if ! list_sas 2>&1 | grep -q ESTABLISHED; then gone=1; break; fi
        sleep 0.25
    done
    t_gone=$(date +%s.%N)
    [ "$gone" = 1 ] || { keep_log=1; fail "charon still has the IKE SA 15 s after the probe died"; }
    gone_after=$(elapsed "$t_kill" "$t_gone")
    echo "charon deleted the IKE SA $gone_after s after the probe's SIGKILL (bound [4, 8.4] s)"
    grep -E "sending DPD request|retransmit [0-9] of request|giving up after|state change: .* => (DELETING|DESTROYING)" \
        "$tmp/charon.log" | tail -n 6 | sed 's/^/charon: /'
    grep -q "giving up after 2 retransmits" "$tmp/charon.log" ||
        { keep_log=1; fail "charon did not give up after 2 retransmits"; }
    le 4 "$gone_after" && le "$gone_after" 8.4 ||
        { keep_log=1; fail "charon deleted the SA after $gone_after s, want [4, 8.4]"; }
    list_sas >"$tmp/sas.out" 2>&1
    grep -q "cgw:" "$tmp/sas.out" && { cat "$tmp/sas.out"; fail "swanctl --list-sas is not empty"; }
    echo "PASS: family $family mode $mode: charon's DPD found the killed probe dead, SA deleted"
    exit 0
else
    if [ "$mode" = cookie-charon ]; then
        # A half-open SA at charon from a first run that stops after IKE_SA_INIT.
        ip netns exec "$ns_cgw" timeout 20 "$tool" "${args[@]}" --init-only >"$tmp/init-only.out" 2>&1 ||
            { cat "$tmp/init-only.out"; keep_log=1; fail "the --init-only run failed"; }
        grep -q "^init-only IKE_SA_INIT answered" "$tmp/init-only.out" ||
            { cat "$tmp/init-only.out"; fail "the --init-only run got no IKE_SA_INIT answer"; }
        grep -q "^status InitSent COOKIE" "$tmp/init-only.out" &&
            fail "charon asked for a cookie before it had a half-open SA"
    fi
    ip netns exec "$ns_cgw" timeout 60 "$tool" "${args[@]}" >"$tmp/probe.out" 2>&1
    rc=$?
    t_probe_end=$(date +%s.%N)
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
if [ "$mode" != dpd-dead ] && [ "$mode" != restart ]; then
    grep -q "^down" "$tmp/probe.out" && { keep_log=1; fail "the probe's IKE SA went down"; }
fi
if [ "$mode" = dpd ]; then
    log=$tmp/charon.log
    n_req=$(grep -Ec "generating INFORMATIONAL request [0-9]+ \[ \]" "$log")
    n_resp=$(grep -Ec "parsed INFORMATIONAL response [0-9]+ \[ \]" "$log")
    grep -E "(generating|parsed) INFORMATIONAL (request|response)" "$log" | sed 's/^/charon: /'
    [ "$n_req" -ge 3 ] || { keep_log=1; fail "charon sent $n_req liveness checks in 10 s, want >= 3"; }
    # A check charon sends as the probe's --hold runs out (every 2 s over 10 s: the fifth can
    # coincide with the probe's exit) finds nobody to answer it; every earlier one must be.
    last_req=$(grep -E "generating INFORMATIONAL request [0-9]+ \[ \]" "$log" | tail -n 1 | awk '{ print $1 }')
    if [ "$n_resp" -eq $((n_req - 1)) ] && le "$(awk -v e="$t_probe_end" 'BEGIN { printf "%.3f", e - 1 }')" "$last_req"; then
        echo "charon's last liveness check went out $(awk -v e="$t_probe_end" -v l="$last_req" 'BEGIN { printf "%.3f", e - l }') s before the probe ended: not counted"
        n_req=$((n_req - 1))
    fi
    [ "$n_resp" -eq "$n_req" ] || { keep_log=1; fail "we answered $n_resp of charon's $n_req liveness checks"; }
    grep -q "retransmit [0-9]* of request" "$log" && { keep_log=1; fail "charon had to retransmit"; }
    echo "charon's $n_req liveness checks all answered"
fi
if [ "$mode" = cookie ] || [ "$mode" = cookie-charon ]; then
    log=$tmp/charon.log
    if [ "$mode" = cookie ]; then
        grep -q "^cookie-guard send_cookie$" "$tmp/probe.out" || fail "our guard sent no cookie"
        grep -q "^cookie-guard pass$" "$tmp/probe.out" || fail "our guard passed no request"
        read -r c_sent c_acc < <(sed -n 's/^cookies sent \([0-9]*\) accepted \([0-9]*\)$/\1 \2/p' "$tmp/probe.out")
        [ "${c_sent:-0}" -ge 1 ] && [ "${c_acc:-0}" -ge 1 ] ||
            fail "cookies sent ${c_sent:-0} accepted ${c_acc:-0}, want >= 1 each"
        grep -Eq "parsed IKE_SA_INIT response 0 \[ N\(COOKIE\) \]" "$log" ||
            { keep_log=1; fail "charon did not receive our N(COOKIE)"; }
        grep -Eq "generating IKE_SA_INIT request 0 \[ N\(COOKIE\) SA KE No " "$log" ||
            { keep_log=1; fail "charon did not resend IKE_SA_INIT with the cookie first"; }
    else
        grep -q "^status InitSent COOKIE from peer: IKE_SA_INIT resent with it (1 of 3)$" \
            "$tmp/probe.out" || fail "the probe did not resend IKE_SA_INIT with charon's cookie"
        grep -q "sending COOKIE notify to $ip_cgw" "$log" ||
            { keep_log=1; fail "charon did not ask for a cookie"; }
        grep -Eq "parsed IKE_SA_INIT request 0 \[ N\(COOKIE\) SA KE No " "$log" ||
            { keep_log=1; fail "charon did not parse our IKE_SA_INIT with the cookie first"; }
    fi
    grep -E "COOKIE" "$log" | sed 's/^/charon: /'
    # On the wire: N(COOKIE) (16390) from each side, in IKE_SA_INIT (34): in the responder's
    # answer (flags 0x20, R) and in the initiator's retried request (0x08, I).
    tshark -r "$tmp/ike.pcap" -Y "isakmp.notify.msgtype == 16390" -T fields -e ip.src \
        -e isakmp.exchangetype -e isakmp.flags >"$tmp/cookies.txt" 2>/dev/null ||
        fail "tshark could not read the capture"
    sed 's/^/tshark N(COOKIE): /' "$tmp/cookies.txt"
    if [ "$mode" = cookie ]; then responder=$ip_cgw initiator=$ip_aws
    else responder=$ip_aws initiator=$ip_cgw; fi
    awk -v s="$responder" '$1 == s && $2 == 34 && $3 == "0x20"' "$tmp/cookies.txt" | grep -q . ||
        fail "tshark saw no N(COOKIE) in an IKE_SA_INIT response from $responder"
    awk -v s="$initiator" '$1 == s && $2 == 34 && $3 == "0x08"' "$tmp/cookies.txt" | grep -q . ||
        fail "tshark saw no N(COOKIE) in an IKE_SA_INIT request from $initiator"
fi

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
    # Compared as numbers: tshark prints 0x09713b98 where the probe prints 0x9713b98.
    our_spis=$(sed -n 's/^child-sa spi_in \(0x[0-9a-f]*\) .*/\1/p' "$tmp/probe.out")
    for spi in $esp_spis; do
        found=0
        for ours in $our_spis; do if [ "$((ours))" -eq "$((spi))" ]; then found=1; fi; done
        [ "$found" = 1 ] || fail "decrypted ESP SPI $spi is not ours ($(echo $our_spis))"
    done
    # With the wrong tables: nothing decrypted.
    sed 's/^/tshark (wrong keys): /' "$tmp/bad.txt"
    # (tshark still "decrypts" to garbage whose first octets may look like payload types: what
    # counts is a parsed ID, AUTH, SA + Nonce, a good ESP ICV, a correct IKE checksum. Not ICMP:
    # a garbage ESP trailer says "next header 1" once in 256 packets, and tshark then dissects
    # garbage as ICMP with some type; the ICV decides.)
    bad=$(awk -F';' '$6 != "" || $7 != "" || $9 == 1' "$tmp/bad.txt" | wc -l)
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
