# The baseline customer gateway of bench/lab: strongSwan (charon + swanctl) and BIRD 2 in the
# lab's cgw namespace, configured the way a network engineer builds it today from AWS's
# documentation (source it after tests/e2e/aws_lab.sh; it defines functions only):
#
# - IPsec: one IKEv2 connection per tunnel from the AWS file's values (aes128-sha1-modp1024 for
#   IKE and ESP, PFS group 2, IKE lifetime 8 h, IPsec 1 h), route-based: an XFRM interface per
#   tunnel (vpn-t1, vpn-t2, if_id 0x101/0x102) carrying the tunnel's inside /30, 0.0.0.0/0
#   traffic selectors, the customer gateway initiates (start_action = start) and restarts on
#   DPD (dpd_action = restart). AWS's DPD is "10 s interval, 3 retries" (30 s timeout): with
#   IKEv2 strongSwan has no dpd_timeout, a DPD is an INFORMATIONAL exchange retransmitted on
#   charon's retransmission schedule, so that schedule is set to 10 s x 3 (retransmit_timeout
#   10, retransmit_base 1, retransmit_tries 2: sent at 0, 10, 20 s, dead at 30 s) instead of the
#   default 4 s x 1.8^n over 5 tries (165 s).
# - BGP: BIRD 2, AS 65010, one session per tunnel to 169.254.x.1 (AS 64512) with AWS's hold
#   time 30 s / keepalive 10 s, announcing the on-prem prefix 10.10.0.0/16; the VPC route goes
#   into the kernel (`merge paths` on, so equal routes become ECMP; AWS's MEDs 100/200 make
#   tunnel 1 preferred). Everything else at BIRD's defaults.
# - Direct Connect (swan_bird_start dx): VLAN 100 on dx0 with 192.168.100.2/30, a BGP session
#   to the DX router with TCP-MD5, BFD 300 ms x 3 and local preference 200 (tunnels 100), hold
#   time 90 s.
# - With LAB_ESP=libipsec (a kernel without ESP, bench/lab/run --host): charon's userspace ESP
#   (kernel-libipsec) on its one TUN device ipsec0 instead of the XFRM interfaces, which carries
#   both inside addresses; since libipsec chooses the SA by traffic selector, each tunnel's
#   selectors are its inside /32s and the two LANs instead of 0.0.0.0/0.
#
# Config, logs, sockets and pid files stay in $LAB/swan (private); the PSKs and the MD5 key are
# only written into files of mode 600 there, never printed.

# swan_bird_start [dx]: makes the interfaces and starts charon and BIRD in $NS_CGW. Uses the lab's
# PSK1, PSK2 (and DX_MD5 with dx). Sets SWAN_CHARON_PID and SWAN_BIRD_PID.
swan_bird_start() {
    local dx=${1:-} d=$LAB/swan n plugins=kernel-netlink libipsec=0
    [ "${LAB_ESP:-kernel}" = libipsec ] && libipsec=1 plugins="kernel-libipsec kernel-netlink"
    mkdir -p "$d" && chmod 700 "$d"
    for n in 1 2; do
        local in_cgw=169.254.21.2 && [ $n = 2 ] && in_cgw=169.254.22.6
        [ $libipsec = 1 ] && break  # the inside addresses go on charon's ipsec0 below
        ip -n "$NS_CGW" link add vpn-t$n type xfrm dev wan0 if_id 0x10$n
        ip -n "$NS_CGW" addr add $in_cgw/30 dev vpn-t$n
        ip -n "$NS_CGW" link set vpn-t$n mtu 1436 up
    done
    if [ "$dx" = dx ]; then
        ip -n "$NS_CGW" link add link dx0 name dx0.100 type vlan id 100
        ip -n "$NS_CGW" addr add 192.168.100.2/30 dev dx0.100
        ip -n "$NS_CGW" link set dx0.100 up
    fi
    cat >"$d/strongswan.conf" <<EOF
charon {
    load = random nonce openssl pem pkcs1 pubkey kdf socket-default $plugins vici
    install_routes = no
    retransmit_timeout = 10
    retransmit_base = 1
    retransmit_tries = 2
    plugins { vici { socket = unix://$d/charon.vici } }
    filelog { log { path = $d/charon.log
                    time_format = %s
                    time_add_ms = yes
                    default = 1 } }
}
EOF
    {
        echo "connections {"
        for n in 1 2; do
            local aws=203.0.113.10 && [ $n = 2 ] && aws=203.0.113.14
            local if_ids="if_id_in = 0x10$n
        if_id_out = 0x10$n" lts=0.0.0.0/0 rts=0.0.0.0/0
            if [ $libipsec = 1 ]; then
                # One TUN device for both tunnels, and libipsec picks the SA by its policy: the
                # selectors name each tunnel's inside addresses (BGP) besides the two LANs.
                if_ids=""
                if [ $n = 1 ]; then lts=169.254.21.2/32,10.10.0.0/16 rts=169.254.21.1/32,10.0.0.0/16
                else lts=169.254.22.6/32,10.10.0.0/16 rts=169.254.22.5/32,10.0.0.0/16; fi
            fi
            cat <<EOF
    aws$n {
        version = 2
        local_addrs = 198.51.100.2
        remote_addrs = $aws
        proposals = aes128-sha1-modp1024
        rekey_time = 28800s
        keyingtries = 0
        dpd_delay = 10s
        $if_ids
        local { auth = psk
                id = 198.51.100.2 }
        remote { auth = psk
                 id = $aws }
        children { aws$n {
            local_ts = $lts
            remote_ts = $rts
            esp_proposals = aes128-sha1-modp1024
            rekey_time = 3240s
            life_time = 3600s
            start_action = start
            dpd_action = restart
        } }
    }
EOF
        done
        echo "}"
        echo "secrets {"
        echo "    ike-aws1 { id = 203.0.113.10"
        echo "               secret = \"$PSK1\" }"
        echo "    ike-aws2 { id = 203.0.113.14"
        echo "               secret = \"$PSK2\" }"
        echo "}"
    } >"$d/swanctl.conf"
    chmod 600 "$d/swanctl.conf"
    {
        cat <<EOF
router id 198.51.100.2;
log "$d/bird.log" all;
protocol device { }
protocol direct onprem { ipv4; interface "lan0"; }
protocol kernel {
    ipv4 { import none; export where source = RTS_BGP; };
    merge paths yes;
}
template bgp aws {
    hold time 30;
    keepalive time 10;
    ipv4 {
        import filter { bgp_local_pref = 100; accept; };
        export where net = 10.10.0.0/16;
    };
}
protocol bgp aws1 from aws { local 169.254.21.2 as 65010; neighbor 169.254.21.1 as 64512; }
protocol bgp aws2 from aws { local 169.254.22.6 as 65010; neighbor 169.254.22.5 as 64512; }
EOF
        if [ "$dx" = dx ]; then
            cat <<EOF
protocol bfd { interface "dx0.100" { interval 300 ms; multiplier 3; }; }
protocol bgp dx {
    local 192.168.100.2 as 65010;
    neighbor 192.168.100.1 as 64512;
    password "$DX_MD5";
    bfd on;
    hold time 90;
    keepalive time 30;
    ipv4 {
        import filter { bgp_local_pref = 200; accept; };
        export where net = 10.10.0.0/16;
    };
}
EOF
        fi
    } >"$d/bird.conf"
    chmod 600 "$d/bird.conf"

    ip netns exec "$NS_CGW" unshare -m --propagation private sh -c \
        "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$d/strongswan.conf exec /usr/lib/ipsec/charon" \
        >"$d/charon.out" 2>&1 &
    SWAN_CHARON_PID=$!
    for _ in $(seq 150); do [ -S "$d/charon.vici" ] && break; sleep 0.1; done
    [ -S "$d/charon.vici" ] || lab_fail "charon in cgw: no vici socket after 15 s"
    if [ $libipsec = 1 ]; then
        ip -n "$NS_CGW" addr add 169.254.21.2/30 dev ipsec0
        ip -n "$NS_CGW" addr add 169.254.22.6/30 dev ipsec0
        ip -n "$NS_CGW" link set ipsec0 mtu 1436 up
        ip -n "$NS_CGW" rule add pref 100 lookup main  # as on the AWS side (aws_lab.sh)
    fi
    # start_action = start: loading the connections initiates both tunnels.
    ip netns exec "$NS_CGW" swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/charon.vici" \
        >"$d/swanctl.out" 2>&1 || lab_fail "swanctl --load-all in cgw: $(grep -v secret "$d/swanctl.out")"
    ip netns exec "$NS_CGW" bird -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" ||
        lab_fail "bird in cgw did not start"
    for _ in $(seq 50); do [ -s "$d/bird.pid" ] && break; sleep 0.1; done
    SWAN_BIRD_PID=$(cat "$d/bird.pid" 2>/dev/null) || lab_fail "bird in cgw wrote no pid file"
}

swan_birdc() { ip netns exec "$NS_CGW" birdc -s "$LAB/swan/bird.ctl" "$@"; }

# swan_bird_up PROTOCOL...: true when BIRD in cgw has all these BGP sessions established.
swan_bird_up() {
    local p
    for p in "$@"; do
        swan_birdc show protocols "$p" 2>/dev/null | grep -q Established || return 1
    done
}

# swan_bird_alive: both daemons still running.
swan_bird_alive() { ! pid_gone "$SWAN_CHARON_PID" && ! pid_gone "$SWAN_BIRD_PID"; }

# swan_bird_rss_kb: peak resident set (VmHWM) of charon + BIRD, in KiB.
swan_bird_rss_kb() {
    local a b
    a=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SWAN_CHARON_PID/status")
    b=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SWAN_BIRD_PID/status")
    echo $((a + b))
}

swan_bird_dump() {
    [ -d "${LAB:-}/swan" ] || return 0
    echo "--- cgw charon.log (tail) ---" >&2; tail -n 40 "$LAB/swan/charon.log" >&2 2>/dev/null
    echo "--- cgw bird.log (tail) ---" >&2; tail -n 30 "$LAB/swan/bird.log" >&2 2>/dev/null
    swan_birdc show protocols >&2 2>/dev/null || true
}

# pid_gone PID: the process has exited (no longer there, or a zombie not yet reaped).
pid_gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# swan_bird_stop: stops charon and BIRD (bounded: SIGTERM, then SIGKILL after 5 s).
swan_bird_stop() {
    local p
    for p in ${SWAN_CHARON_PID:-} ${SWAN_BIRD_PID:-}; do
        kill "$p" 2>/dev/null || continue
        for _ in $(seq 50); do pid_gone "$p" && break; sleep 0.1; done
        pid_gone "$p" || kill -9 "$p" 2>/dev/null || true
    done
    [ -n "${SWAN_CHARON_PID:-}" ] && wait "$SWAN_CHARON_PID" 2>/dev/null
    SWAN_CHARON_PID="" SWAN_BIRD_PID=""
    return 0
}
