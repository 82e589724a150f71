#!/usr/bin/env bash
# cgwd's inbound prefix limit against BIRD 2 (this kernel, namespaces, no IKE): BIRD is the
# router of two Direct Connect virtual interfaces (TCP-MD5). Over "big" it announces 120
# prefixes against max_prefixes_in = 100; over "small" 3 prefixes.
#   drop:  exactly 100 of the 120 routes are in the kernel, the session stays up, the 20 dropped
#          announcements are counted in `cgwctl status` and logged once;
#   reset: cgwd closes the session with RFC 4486's Cease / Maximum Number of Prefixes Reached
#          (BIRD reports it as received), none of its routes stay, and it comes back only after
#          max_prefixes_in_restart (4 s) -- and is reset again;
#   warn:  all 120 installed, one warning.
# In every mode the "small" session and its 3 routes are untouched.
#   max_prefix_in.sh CGWD_DIR drop|reset|warn
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
. "$here/../lib.sh"
bin=$(readlink -f "${1:?usage: max_prefix_in.sh CGWD_DIR drop|reset|warn}")
mode=${2:?mode: drop, reset or warn}
case "$mode" in drop|reset|warn) ;; *) echo "FAIL: unknown mode $mode" >&2; exit 2 ;; esac
for tool in bird birdc ip python3; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
done
[ -x "$bin/cgwd" ] && [ -x "$bin/cgwctl" ] || { echo "FAIL: no cgwd/cgwctl in $bin" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cgwd-maxpfx.XXXXXX)
ns_cgw=mpx-cgw-$$ ns_dxr=mpx-dxr-$$
cgwd_pid=""
cleanup() {
    set +e
    stop_pid "$cgwd_pid"
    [ -s "$tmp/bird.pid" ] && stop_pid "$(cat "$tmp/bird.pid")"
    ip netns del $ns_cgw 2>/dev/null
    ip netns del $ns_dxr 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL ($mode): $*" >&2
    echo "--- cgwd log" >&2; tail -n ${LOG_TAIL:-40} "$tmp/cgwd.log" >&2 || true
    echo "--- BIRD's log of dx_big" >&2; grep dx_big "$tmp/bird.log" | tail -n 20 >&2 || true
    echo "--- birdc show protocols all" >&2
    ip netns exec $ns_dxr birdc -s "$tmp/bird.ctl" show protocols all >&2 || true
    exit 1
}

ip netns add $ns_cgw
ip netns add $ns_dxr
for ns in $ns_cgw $ns_dxr; do ip -n $ns link set lo up; done
for side in big:101 small:102; do  # IFNAME:third octet of its /30
    ifname=${side%:*} net=192.168.${side#*:}
    ip link add $ifname-$$ netns $ns_cgw type veth peer name $ifname netns $ns_dxr
    ip -n $ns_cgw link set $ifname-$$ name ${ifname}0
    ip -n $ns_dxr link set $ifname name ${ifname}0
    ip -n $ns_cgw addr add $net.2/30 dev ${ifname}0
    ip -n $ns_dxr addr add $net.1/30 dev ${ifname}0
    ip -n $ns_cgw link set ${ifname}0 up
    ip -n $ns_dxr link set ${ifname}0 up
done

key="mpx-$RANDOM$RANDOM"
{
    echo "router id 192.168.101.1;"
    echo "log \"$tmp/bird.log\" all;"
    echo "timeformat log \"%s.%3f\";"
    echo "protocol device { }"
    echo "protocol static big { ipv4;"
    for i in $(seq 0 119); do echo "  route 10.200.$i.0/24 blackhole;"; done
    echo "}"
    echo "protocol static small { ipv4;"
    for i in 1 2 3; do echo "  route 10.$((100 + i)).0.0/16 blackhole;"; done
    echo "}"
    for side in big small; do
        n=$([ $side = big ] && echo 101 || echo 102)
        cat <<B
protocol bgp dx_$side {
    local 192.168.$n.1 as 64512;
    neighbor 192.168.$n.2 as 65010;
    password "$key";
    hold time 9; keepalive time 3;
    connect retry time 1;
    ipv4 { import all; export where proto = "$side"; };
}
B
    done
} >"$tmp/bird.conf"
ip netns exec $ns_dxr bird -c "$tmp/bird.conf" -s "$tmp/bird.ctl" -P "$tmp/bird.pid" ||
    fail "bird did not start"

cat >"$tmp/cgwd.toml" <<EOF
[daemon]
control_socket = "$tmp/cgwd.sock"
dataplane = "userspace"
log_level = "${LOG_LEVEL:-info}"
route_table = 254
[bgp]
asn = 65010
[[direct_connect]]
name = "big"
interface = "big0"
neighbor = "192.168.101.1"
neighbor_asn = 64512
md5_key = "$key"
bfd = false
hold_time = 9
keepalive = 3
max_prefixes_in = 100
max_prefixes_in_action = "$mode"
max_prefixes_in_restart = 4
[[direct_connect]]
name = "small"
interface = "small0"
neighbor = "192.168.102.1"
neighbor_asn = 64512
md5_key = "$key"
bfd = false
hold_time = 9
keepalive = 3
max_prefixes_in = 100
max_prefixes_in_action = "$mode"
EOF
chmod 600 "$tmp/cgwd.toml"
ip netns exec $ns_cgw "$bin/cgwd" --config "$tmp/cgwd.toml" >"$tmp/cgwd.log" 2>&1 &
cgwd_pid=$!

cgwctl() { ip netns exec $ns_cgw "$bin/cgwctl" -s "$tmp/cgwd.sock" "$@"; }
routes() { ip -n $ns_cgw -4 route show proto 240 | grep -c "^10\.200\." || true; }
small_routes() { ip -n $ns_cgw -4 route show proto 240 | grep -c "via 192.168.102.1" || true; }
bird_state() {
    ip netns exec $ns_dxr birdc -s "$tmp/bird.ctl" show protocols "dx_$1" |
        awk -v p="dx_$1" '$1 == p { print $6 }'
}
# field PEER KEY: one field of the BGP session of Direct Connect peer PEER in `cgwctl status
# --json` (empty when absent).
field() {
    cgwctl status --json | python3 -c '
import json, sys
peer, key = sys.argv[1], sys.argv[2]
for d in json.load(sys.stdin).get("direct_connect", []):
    if d.get("name") == peer:
        v = d.get("bgp", {}).get(key)
        print("" if v is None else v)' "$1" "$2"
}
has_routes() { [ "$(routes)" -ge "$1" ]; }
small_up() { [ "$(small_routes)" = 3 ]; }

wait_for 30 small_up || fail "the small session's 3 routes never appeared"
case "$mode" in
drop)
    wait_for 30 has_routes 100 || fail "fewer than 100 of big's routes installed: $(routes)"
    sleep 2
    [ "$(routes)" = 100 ] || fail "$(routes) of big's 120 routes installed, expected exactly 100"
    [ "$(bird_state big)" = Established ] || fail "BIRD's dx_big is $(bird_state big)"
    dropped=$(field big prefixes_dropped_over_limit)
    [ "$dropped" = 20 ] || fail "status: $dropped announcements dropped over the limit, not 20"
    n=$(grep -c 'sent more than 100 prefixes (max_prefixes_in): the excess is dropped' \
        "$tmp/cgwd.log" || true)
    [ "$n" = 1 ] || fail "$n warnings about the limit in the log, expected exactly one"
    echo "drop: 100 of 120 installed, 20 dropped and counted, session up"
    ;;
warn)
    wait_for 30 has_routes 120 || fail "not all 120 of big's routes installed: $(routes)"
    [ "$(bird_state big)" = Established ] || fail "BIRD's dx_big is $(bird_state big)"
    n=$(grep -c 'sent more than 100 prefixes (max_prefixes_in): all accepted' "$tmp/cgwd.log" ||
        true)
    [ "$n" = 1 ] || fail "$n warnings about the limit in the log, expected exactly one"
    echo "warn: all 120 installed, one warning"
    ;;
reset)
    two_resets() { [ "$(field big max_prefix_resets)" -ge 2 ]; }
    wait_for 40 two_resets ||
        fail "not reset twice (resets: $(field big max_prefix_resets))"
    [ "$(routes)" = 0 ] || fail "$(routes) of big's routes installed after the reset"
    # BIRD's log, by BIRD's clock: the two Cease messages it received are at least the restart
    # timer (4 s) apart, and not much more (a 1 s connect retry, the OPEN exchange).
    gap=$(awk '/dx_big: Received: Maximum number of prefixes reached/ { t[n++] = $1 }
               END { if (n >= 2) printf "%.2f", t[1] - t[0] }' "$tmp/bird.log")
    [ -n "$gap" ] || fail "BIRD did not log two Cease / Maximum number of prefixes reached"
    python3 -c "import sys; sys.exit(not 3.9 <= $gap <= 8)" ||
        fail "the session came back $gap s after the reset, expected the 4 s restart timer"
    echo "reset: BIRD received Cease / max prefixes, no routes kept, next attempt $gap s later"
    ;;
esac
small_up || fail "the small session lost its routes"
[ "$(bird_state small)" = Established ] || fail "BIRD's dx_small is $(bird_state small)"
[ "$(field small max_prefixes_in)" = 100 ] || fail "status lacks small's max_prefixes_in"
! grep -q "$key" "$tmp/cgwd.log" || fail "the MD5 key appears in cgwd's log"
echo "PASS ($mode): the other session kept its 3 routes"
