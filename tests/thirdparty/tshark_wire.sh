#!/usr/bin/env bash
# Wireshark's dissectors as the independent judge of our wire formats: the bytes our IKE, BGP
# and ESP code produce must dissect with the fields we meant and no malformed/expert warnings;
# our ESP must decrypt with the keys alone (tshark's esp_sa table) back to the inner ICMP echo.
set -euo pipefail
tool=$1
work=$(mktemp -d /tmp/cgwd-tshark-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v tshark >/dev/null || fail "tshark is missing (scripts/setup installs it)"
"$tool" "$work"
export HOME="$work"  # keep tshark away from the user's own preferences
ts() { tshark -n -o tcp.analyze_sequence_numbers:FALSE "$@" 2>"$work/tshark.err" || { cat "$work/tshark.err" >&2; return 1; }; }

no_warnings() {  # pcap, what
  local out; out=$(ts -r "$1" -q -z expert,warn)
  if grep -qE "Malformed|Warning|Error" <<<"$out"; then echo "$out" >&2; fail "$2: tshark expert warnings"; fi
  if ts -r "$1" -V | grep -q "Malformed Packet"; then fail "$2: malformed packet"; fi
}

# IKE_SA_INIT
no_warnings "$work/ike.pcap" IKE
got=$(ts -r "$work/ike.pcap" -T fields -e isakmp.exchangetype -e isakmp.prop.number -e isakmp.tf.id.encr \
        -e isakmp.ike2.attr.key_length -e isakmp.key_exchange.dh_group -e isakmp.notify.msgtype -E occurrence=a -E aggregator=,)
[ "$got" = $'34\t1,2\t12,20\t256,256\t14\t16388,16389,16430' ] || fail "IKE fields: '$got'"
echo "ok: tshark reads our IKE_SA_INIT: 2 proposals (AES-CBC-256, AES-GCM-256), KE group 14, NAT-D and fragmentation notifies"

# BGP: OPEN, UPDATE, KEEPALIVE, NOTIFICATION
no_warnings "$work/bgp.pcap" BGP
got=$(ts -r "$work/bgp.pcap" -d tcp.port==179,bgp -T fields -e bgp.type -E occurrence=a -E aggregator=,)
[ "$got" = $'1\n2\n4\n3' ] || fail "BGP message types: '$got'"
got=$(ts -r "$work/bgp.pcap" -Y bgp.type==1 -T fields -e bgp.cap.4as -e bgp.open.holdtime -e bgp.open.identifier)
[ "$got" = $'4200000001\t30\t169.254.11.2' ] || fail "BGP OPEN fields: '$got'"
got=$(ts -r "$work/bgp.pcap" -Y bgp.type==2 -T fields -e bgp.nlri_prefix -e bgp.mp_reach_nlri_ipv6_prefix \
        -e bgp.update.path_attribute.as_path_segment.as4 -e bgp.update.path_attribute.community_as \
        -e bgp.large_communities.ga -e bgp.large_communities.ldp1 -e bgp.large_communities.ldp2 -E occurrence=a -E aggregator=,)
[ "$got" = $'10.10.0.0,10.20.0.0\t2001:db8::\t4200000001,64512\t7224\t4200000001\t1\t2' ] || fail "BGP UPDATE fields: '$got'"
got=$(ts -r "$work/bgp.pcap" -Y bgp.type==3 -T fields -e bgp.notify.major_error -e bgp.notify.minor_error_cease \
        -e bgp.notify.communication)
[ "$got" = $'6\t2\tmaintenance: moving to the new router' ] || fail "BGP NOTIFICATION fields: '$got'"
echo "ok: tshark reads our BGP OPEN (4-octet AS), UPDATE (IPv4 NLRI, IPv6 MP_REACH, communities), NOTIFICATION (RFC 9003)"

# ESP with AES-GCM-16-256: decrypted by tshark from the keys alone, ICV checked by tshark.
key=$(cat "$work/esp_keys.txt")
sa="\"IPv4\",\"192.0.2.1\",\"192.0.2.2\",\"0xc0ffee01\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x$key\",\"NULL\",\"\""
no_warnings "$work/esp.pcap" ESP
got=$(ts -r "$work/esp.pcap" -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE \
        -o "uat:esp_sa:$sa" -T fields -e esp.spi -e esp.sequence -e esp.icv_good -e ip.dst -e icmp.type \
        -E occurrence=a -E aggregator=,)
[ "$got" = $'0xc0ffee01\t1\t1\t192.0.2.2,10.0.0.1\t8\n0xc0ffee01\t2\t1\t192.0.2.2,10.0.0.1\t8\n0xc0ffee01\t3\t1\t192.0.2.2,10.0.0.1\t8' ] \
  || fail "ESP decryption: '$got'"
echo "ok: tshark decrypts our AES-GCM-256 ESP (ICV correct) to the inner ICMP echo 10.10.0.1 -> 10.0.0.1, seq 1..3"
