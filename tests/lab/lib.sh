# Shared helpers for the lab scripts (source it; it defines functions only).

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds; 1 if it never does.
wait_for() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# veth_pair NS_A NS_B IF_A IF_B ADDR_A/LEN ADDR_B/LEN: two new namespaces joined by a veth pair,
# addressed and up, loopback up on both.
veth_pair() {
    local ns_a=$1 ns_b=$2 if_a=$3 if_b=$4 addr_a=$5 addr_b=$6
    ip netns add "$ns_a"
    ip netns add "$ns_b"
    ip link add "$if_a" type veth peer name "$if_b"
    ip link set "$if_a" netns "$ns_a"
    ip link set "$if_b" netns "$ns_b"
    ip -n "$ns_a" addr add "$addr_a" dev "$if_a"
    ip -n "$ns_b" addr add "$addr_b" dev "$if_b"
    for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
    ip -n "$ns_a" link set "$if_a" up
    ip -n "$ns_b" link set "$if_b" up
}

# stop_pid PID: SIGTERM, then up to 5 s for the process to go (fine if it is already gone).
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

# bird_lab_cleanup: the exit trap of the BIRD scripts. Stops bgp_peer ($peer_pid) and the BIRD
# whose pid is in $tmp/bird.pid, deletes the namespaces $ns_bird and $ns_us, and $tmp.
bird_lab_cleanup() {
    set +e
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    [ -s "$tmp/bird.pid" ] && stop_pid "$(cat "$tmp/bird.pid")"
    ip netns del "$ns_bird" 2>/dev/null
    ip netns del "$ns_us" 2>/dev/null
    rm -rf "$tmp"
}
