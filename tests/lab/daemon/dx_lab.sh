# A small lab for cgwd's BGP against BIRD 2 on this kernel (source it): two namespaces, "cgw"
# (cgwd) and "dxr" (BIRD as the Direct Connect router), joined by one veth pair per virtual
# interface, no IKE. Used by the scripts next to it. After sourcing, set `mode` (for messages).
#   dx_lab_setup CGWD_DIR NAME:OCTET...  interface NAME0 on both sides, 192.168.OCTET.2/30 in cgw
#                                        (cgwd), .1 in dxr (BIRD); sets bin, tmp, ns_cgw, ns_dxr
#   dx_start_bird                        BIRD with $tmp/bird.conf (log $tmp/bird.log)
#   dx_start_cgwd                        cgwd with $tmp/cgwd.toml (log $tmp/cgwd.log)
#   dx_toml_head                         the [daemon] and [bgp] tables of cgwd.toml
#   dx_peer_toml NAME OCTET KEY [LINE...] a [[direct_connect]] toward BIRD over NAME0 (MD5 KEY,
#                                        no BFD, hold 9 s), plus the given TOML lines
#   cgwctl ARGS, birdc ARGS              the two control tools, each in its namespace
#   kroutes REGEX                        cgwd's routes (proto 240) in cgw matching REGEX, counted
#   bird_state PROTO                     BIRD's state of protocol PROTO (Established, Active ...)
#   bgp_field PEER KEY                   a field of Direct Connect peer PEER's BGP status
#   fail MESSAGE                         prints the logs and exits 1
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

dx_lab_setup() {
    bin=$(readlink -f "$1")
    shift
    local tool link name net
    for tool in bird birdc ip python3; do
        command -v $tool >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
    done
    [ -x "$bin/cgwd" ] && [ -x "$bin/cgwctl" ] || { echo "FAIL: no cgwd/cgwctl in $bin" >&2; exit 1; }
    tmp=$(mktemp -d /tmp/cgwd-dxlab.XXXXXX)
    ns_cgw=dxl-cgw-$$ ns_dxr=dxl-dxr-$$
    cgwd_pid=""
    trap dx_lab_cleanup EXIT
    ip netns add $ns_cgw
    ip netns add $ns_dxr
    ip -n $ns_cgw link set lo up
    ip -n $ns_dxr link set lo up
    for link in "$@"; do
        name=${link%:*}0 net=192.168.${link#*:}
        ip link add $name netns $ns_cgw type veth peer name $name netns $ns_dxr
        ip -n $ns_cgw addr add $net.2/30 dev $name
        ip -n $ns_dxr addr add $net.1/30 dev $name
        ip -n $ns_cgw link set $name up
        ip -n $ns_dxr link set $name up
    done
}

dx_lab_cleanup() {
    set +e
    stop_pid "$cgwd_pid"
    [ -s "$tmp/bird.pid" ] && stop_pid "$(cat "$tmp/bird.pid")"
    ip netns del $ns_cgw 2>/dev/null
    ip netns del $ns_dxr 2>/dev/null
    rm -rf "$tmp"
}

fail() {
    echo "FAIL (${mode:-}): $*" >&2
    echo "--- cgwd log" >&2
    tail -n "${LOG_TAIL:-40}" "$tmp/cgwd.log" >&2 || true
    echo "--- BIRD's log" >&2
    tail -n 20 "$tmp/bird.log" >&2 || true
    echo "--- birdc show protocols" >&2
    birdc show protocols >&2 || true
    exit 1
}

dx_start_bird() {
    ip netns exec $ns_dxr bird -c "$tmp/bird.conf" -s "$tmp/bird.ctl" -P "$tmp/bird.pid" ||
        fail "bird did not start"
}

dx_toml_head() {
    cat <<EOF
[daemon]
control_socket = "$tmp/cgwd.sock"
dataplane = "userspace"
log_level = "${LOG_LEVEL:-info}"
[bgp]
asn = 65010
EOF
}

dx_peer_toml() {
    local name=$1 octet=$2 key=$3
    shift 3
    cat <<EOF
[[direct_connect]]
name = "$name"
interface = "${name}0"
neighbor = "192.168.$octet.1"
neighbor_asn = 64512
md5_key = "$key"
bfd = false
hold_time = 9
keepalive = 3
EOF
    printf '%s\n' "$@"
}

dx_start_cgwd() {
    chmod 600 "$tmp/cgwd.toml"
    ip netns exec $ns_cgw "$bin/cgwd" --config "$tmp/cgwd.toml" >"$tmp/cgwd.log" 2>&1 &
    cgwd_pid=$!
}

cgwctl() { ip netns exec $ns_cgw "$bin/cgwctl" -s "$tmp/cgwd.sock" "$@"; }
birdc() { ip netns exec $ns_dxr birdc -s "$tmp/bird.ctl" "$@"; }
kroutes() { ip -n $ns_cgw -4 route show proto 240 | grep -c -E "$1" || true; }
bird_state() { birdc show protocols "$1" | awk -v p="$1" '$1 == p { print $6 }'; }
bgp_field() {
    cgwctl status --json | python3 -c '
import json, sys
peer, key = sys.argv[1], sys.argv[2]
for d in json.load(sys.stdin).get("direct_connect", []):
    if d.get("name") == peer:
        v = d.get("bgp", {}).get(key)
        print("" if v is None else v)' "$1" "$2"
}
