# The simulated AWS used by the end-to-end scenarios (source it; it defines functions only).
#
#   onprem (10.10.0.10/16) -- cgw (cgwd) -- inet (router) -+- aws-t1 (charon + BIRD) -+- vpc
#                                                          +- aws-t2 (charon + BIRD) -+  (10.0.0.10/16)
#
# Each AWS endpoint is independent software: strongSwan's charon terminating IKEv2 with kernel
# ESP on an XFRM interface (route-based, 0.0.0.0/0 selectors, like AWS) and BIRD 2 speaking
# BGP as AS 64512 over the inside addresses (.1), announcing the VPC prefix with a MED that
# differs per tunnel, as AWS does. The lab writes the AWS configuration file for itself in the
# download format (XML) and cgwd imports it as a user would. Needs a kernel with ESP and XFRM
# interfaces: run the scenarios through tests/kernel/klab on machines without them, or set
# LAB_ESP=libipsec (the AWS endpoints' charons then do ESP in userspace, UDP-encapsulated, on
# their TUN device ipsec0; cgwd must use its userspace dataplane), as bench/lab/run --host does.
#
# Namespace names carry a per-run suffix; lab_cleanup (trap it) removes everything.

lab_fail() { echo "FAIL: $*" >&2; lab_dump; exit 1; }

lab_require() {
    [ "$(id -u)" -eq 0 ] || lab_fail "needs root (network namespaces)"
    local c
    for c in ip bird birdc swanctl unshare timeout ping socat; do
        command -v "$c" >/dev/null || lab_fail "$c not installed (scripts/setup installs it)"
    done
    [ -x /usr/lib/ipsec/charon ] || lab_fail "charon not installed (apt-get install strongswan-charon)"
    modprobe tun 2>/dev/null || true
    [ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
}

# lab_setup CGWD: builds the topology, starts both AWS endpoints, writes the AWS file and
# cgwd.toml into $LAB (no cgwd yet). Knobs (environment): LAB_DATAPLANE (userspace|kernel),
# LAB_ADVERTISE (the TOML list body of [bgp] advertise), LAB_CHILD_REKEY / LAB_IKE_REKEY
# (charon's rekey_time on the AWS side, e.g. 30s), LAB_NAT=1 (cgw gets the private 192.168.77.2
# behind inet, which source-NATs it to 198.51.100.2 with ports rewritten into 20000-30000; the
# AWS file still names 198.51.100.2, so cgwd must tell its own address from its IKE ID),
# LAB_FORCE_ENCAP=1 (`[outside] force_encap = true`: ESP in UDP without a NAT).
lab_setup() {
    CGWD=$(readlink -f "$1")
    [ -x "$CGWD" ] || lab_fail "cgwd not found at $1"
    CGWCTL=$(dirname "$CGWD")/cgwctl
    S=$$
    LAB=$(mktemp -d /tmp/cgwd-e2e.XXXXXX)
    NS_ONPREM=e2e-onprem-$S NS_CGW=e2e-cgw-$S NS_INET=e2e-inet-$S NS_VPC=e2e-vpc-$S
    NS_T1=e2e-aws1-$S NS_T2=e2e-aws2-$S
    local ns
    for ns in $NS_ONPREM $NS_CGW $NS_INET $NS_VPC $NS_T1 $NS_T2; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
    done
    link() {  # ns_a if_a addr_a ns_b if_b addr_b
        ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
        [ -n "$3" ] && ip -n "$1" addr add "$3" dev "$2"
        [ -n "$6" ] && ip -n "$4" addr add "$6" dev "$5"
        ip -n "$1" link set "$2" up
        ip -n "$4" link set "$5" up
    }
    link $NS_ONPREM lan0 10.10.0.10/16 $NS_CGW lan0 10.10.0.1/16
    if [ "${LAB_NAT:-0}" = 1 ]; then
        link $NS_CGW wan0 192.168.77.2/24 $NS_INET cgw0 192.168.77.1/24
        ip netns exec $NS_INET nft -f - <<'EOF'
table ip lab_nat {
    chain post {
        type nat hook postrouting priority srcnat;
        ip saddr 192.168.77.0/24 oifname { "t1", "t2" } meta l4proto { tcp, udp } snat to 198.51.100.2:20000-30000
        ip saddr 192.168.77.0/24 oifname { "t1", "t2" } snat to 198.51.100.2
    }
}
EOF
    else
        link $NS_CGW wan0 198.51.100.2/24 $NS_INET cgw0 198.51.100.1/24
    fi
    link $NS_INET t1 203.0.113.9/30 $NS_T1 wan0 203.0.113.10/30
    link $NS_INET t2 203.0.113.13/30 $NS_T2 wan0 203.0.113.14/30
    ip -n $NS_ONPREM route add default via 10.10.0.1
    ip -n $NS_CGW route add default via "$(ip -n $NS_INET -4 -o addr show cgw0 | awk '{ sub("/.*", "", $4); print $4 }')"
    ip -n $NS_T1 route add default via 203.0.113.9
    ip -n $NS_T2 route add default via 203.0.113.13
    # The VPC: one subnet behind both endpoints (a bridge in the vpc namespace).
    ip -n $NS_VPC link add br0 type bridge
    ip -n $NS_VPC addr add 10.0.0.10/16 dev br0
    ip -n $NS_VPC link set br0 up
    link $NS_T1 vpc0 10.0.0.1/16 $NS_VPC p1 ""
    link $NS_T2 vpc0 10.0.0.2/16 $NS_VPC p2 ""
    ip -n $NS_VPC link set p1 master br0
    ip -n $NS_VPC link set p2 master br0
    ip -n $NS_VPC route add 10.10.0.0/16 nexthop via 10.0.0.1 nexthop via 10.0.0.2

    # Warm up the kernel's ESP once: the first ESP state loads esp4 and its crypto and seeds the
    # kernel DRBG from jitterentropy, ~30 s on the lab's emulated CPU (measured with a bare
    # `ip xfrm state add`). Without this the scenarios would time that, not cgwd.
    ip -n $NS_INET xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 mode tunnel \
        enc 'cbc(aes)' 0x000102030405060708090a0b0c0d0e0f \
        auth-trunc 'hmac(sha1)' 0x000102030405060708090a0b0c0d0e0f10111213 96 2>/dev/null &&
        ip -n $NS_INET xfrm state flush
    # The same for nf_tables (cgwd's MSS clamp table; the first use loads the modules, about
    # 1 s in the VM): a box that has run a firewall since boot has them.
    ip netns exec $NS_INET nft 'add table inet warmup; delete table inet warmup' 2>/dev/null || true
    PSK1="lab.psk1_$RANDOM$RANDOM" PSK2="lab.psk2_$RANDOM$RANDOM"
    aws_endpoint $NS_T1 1 203.0.113.10 169.254.21.1 169.254.21.2 "$PSK1" 100
    aws_endpoint $NS_T2 2 203.0.113.14 169.254.22.5 169.254.22.6 "$PSK2" 200
    write_aws_xml >"$LAB/aws-vpn.xml"
    chmod 600 "$LAB/aws-vpn.xml"
    local advertise=${LAB_ADVERTISE:-'"10.10.0.0/16"'}
    cat >"$LAB/cgwd.toml" <<EOF
[daemon]
control_socket = "$LAB/cgwd.sock"
dataplane = "${LAB_DATAPLANE:-userspace}"
log_level = "info"
[outside]
$([ "${LAB_NAT:-0}" = 1 ] || echo 'local_address = "198.51.100.2"')
$([ "${LAB_FORCE_ENCAP:-0}" != 1 ] || echo 'force_encap = true')
[bgp]
advertise = [$advertise]
[[vpn]]
name = "lab"
aws_file = "$LAB/aws-vpn.xml"
EOF
    chmod 600 "$LAB/cgwd.toml"
}

# aws_endpoint NS N OUTSIDE INSIDE_AWS INSIDE_CGW PSK MED
aws_endpoint() {
    local ns=$1 n=$2 outside=$3 in_aws=$4 in_cgw=$5 psk=$6 med=$7 d=$LAB/aws$2
    local plugins="kernel-netlink" if_ids="if_id_in = 0x$n$n
    if_id_out = 0x$n$n"
    mkdir -p "$d"
    if [ "${LAB_ESP:-kernel}" = libipsec ]; then
        # No kernel ESP: charon's userspace ESP (kernel-libipsec) on its TUN device ipsec0,
        # which gets the inside address below once charon has made it.
        plugins="kernel-libipsec kernel-netlink" if_ids=""
    else
        ip -n "$ns" link add xfrm-t$n type xfrm dev wan0 if_id 0x$n$n
        ip -n "$ns" addr add "$in_aws/30" dev xfrm-t$n
        ip -n "$ns" link set xfrm-t$n mtu 1436 up
    fi
    # When this endpoint's BGP route to on-prem is gone, hand the traffic to the other endpoint
    # across the VPC (what AWS's gateway does between its tunnel endpoints).
    ip -n "$ns" route add 10.10.0.0/16 via 10.0.0.$((3 - n)) metric 1000
    cat >"$d/strongswan.conf" <<EOF
charon {
    load = random nonce openssl pem pkcs1 pubkey kdf socket-default $plugins vici
    install_routes = no
    plugins { vici { socket = unix://$d/charon.vici } }
    filelog { log { path = $d/charon.log
                    time_format = %s
                    time_add_ms = yes
                    default = 1
                    ike = 2 } }
}
EOF
    cat >"$d/swanctl.conf" <<EOF
connections { cgw {
    version = 2
    local_addrs = $outside
    remote_addrs = 198.51.100.2
    proposals = aes128-sha1-modp1024
    dpd_delay = 10s
    $if_ids
    local { auth = psk
            id = $outside }
    remote { auth = psk
             id = 198.51.100.2 }
    children { cgw {
        local_ts = 0.0.0.0/0
        remote_ts = 0.0.0.0/0
        esp_proposals = aes128-sha1-modp1024,aes128-sha1
        start_action = none
        ${LAB_CHILD_REKEY:+rekey_time = $LAB_CHILD_REKEY}
        ${LAB_CHILD_REKEY:+life_time = 300s}
        ${LAB_CHILD_REKEY:+rand_time = 2s}
    } }
    ${LAB_IKE_REKEY:+rekey_time = $LAB_IKE_REKEY}
    ${LAB_IKE_REKEY:+over_time = 300s}
    ${LAB_IKE_REKEY:+rand_time = 2s}
} }
secrets { ike-cgw { id = 198.51.100.2
                    secret = "$psk" } }
EOF
    chmod 600 "$d/swanctl.conf"
    ip netns exec "$ns" unshare -m --propagation private sh -c \
        "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$d/strongswan.conf exec /usr/lib/ipsec/charon" \
        >"$d/charon.out" 2>&1 &
    echo $! >"$d/charon.pid"
    local i
    for i in $(seq 100); do [ -S "$d/charon.vici" ] && break; sleep 0.2; done
    if [ "${LAB_ESP:-kernel}" = libipsec ]; then
        ip -n "$ns" link show ipsec0 >/dev/null 2>&1 || lab_fail "charon on aws$n made no ipsec0"
        ip -n "$ns" addr add "$in_aws/30" dev ipsec0
        ip -n "$ns" link set ipsec0 mtu 1436 up
        # kernel-libipsec puts a default route via ipsec0 into table 220 whatever
        # install_routes says; the endpoint routes by its main table (BIRD's routes) as before.
        ip -n "$ns" rule add pref 100 lookup main
    fi
    ip netns exec "$ns" swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/charon.vici" \
        >"$d/swanctl.out" 2>&1 || lab_fail "swanctl --load-all on aws$n: $(cat "$d/swanctl.out")"
    cat >"$d/bird.conf" <<EOF
router id $outside;
log "$d/bird.log" all;
protocol device { }
protocol kernel { ipv4 { export where source = RTS_BGP; }; }
protocol static vpc { ipv4; route 10.0.0.0/16 via "vpc0"; }
protocol bgp cgw {
    local $in_aws as 64512;
    neighbor $in_cgw as 65010;
    hold time 30;
    keepalive time 10;
    ipv4 { import all; export filter { if net = 10.0.0.0/16 then { bgp_med = $med; accept; } reject; }; };
}
EOF
    ip netns exec "$ns" bird -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" ||
        lab_fail "bird on aws$n did not start"
}

write_aws_xml() {
    local n out_cgw=198.51.100.2
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<vpn_connection id="vpn-0e2e0e2e0e2e0e2e0">'
    echo '  <customer_gateway_id>cgw-0e2e0e2e0e2e0e2e0</customer_gateway_id>'
    echo '  <vpn_gateway_id>vgw-0e2e0e2e0e2e0e2e0</vpn_gateway_id>'
    echo '  <vpn_connection_type>ipsec.1</vpn_connection_type>'
    for n in 1 2; do
        local aws_out in_cgw in_aws psk
        if [ $n = 1 ]; then aws_out=203.0.113.10 in_cgw=169.254.21.2 in_aws=169.254.21.1 psk=$PSK1
        else aws_out=203.0.113.14 in_cgw=169.254.22.6 in_aws=169.254.22.5 psk=$PSK2; fi
        cat <<EOF
  <ipsec_tunnel>
    <customer_gateway>
      <tunnel_outside_address><ip_address>$out_cgw</ip_address></tunnel_outside_address>
      <tunnel_inside_address><ip_address>$in_cgw</ip_address><network_mask>255.255.255.252</network_mask><network_cidr>30</network_cidr></tunnel_inside_address>
      <bgp><asn>65010</asn><hold_time>30</hold_time></bgp>
    </customer_gateway>
    <vpn_gateway>
      <tunnel_outside_address><ip_address>$aws_out</ip_address></tunnel_outside_address>
      <tunnel_inside_address><ip_address>$in_aws</ip_address><network_mask>255.255.255.252</network_mask><network_cidr>30</network_cidr></tunnel_inside_address>
      <bgp><asn>64512</asn><hold_time>30</hold_time></bgp>
    </vpn_gateway>
    <ike>
      <authentication_protocol>sha1</authentication_protocol>
      <encryption_protocol>aes-128-cbc</encryption_protocol>
      <lifetime>28800</lifetime>
      <perfect_forward_secrecy>group2</perfect_forward_secrecy>
      <mode>main</mode>
      <pre_shared_key>$psk</pre_shared_key>
    </ike>
    <ipsec>
      <protocol>esp</protocol>
      <authentication_protocol>hmac-sha1-96</authentication_protocol>
      <encryption_protocol>aes-128-cbc</encryption_protocol>
      <lifetime>3600</lifetime>
      <perfect_forward_secrecy>group2</perfect_forward_secrecy>
      <mode>tunnel</mode>
      <clear_df_bit>true</clear_df_bit>
      <fragmentation_before_encryption>true</fragmentation_before_encryption>
      <tcp_mss_adjustment>1379</tcp_mss_adjustment>
      <dead_peer_detection><interval>10</interval><retries>3</retries></dead_peer_detection>
    </ipsec>
  </ipsec_tunnel>
EOF
    done
    echo '</vpn_connection>'
}

# lab_add_dx: a Direct Connect router `dxr` (BIRD 2, AS 64512, TCP-MD5, BFD 300 ms x 3) on an
# 802.1Q VLAN 100 over a direct link from cgw (cgwd creates its side, dx0.100 with
# 192.168.100.2/30, from the [[direct_connect]] it appends to cgwd.toml); dxr reaches the VPC
# and announces 10.0.0.0/16. The VPC prefers DX for its return traffic and the tunnels when
# dxr has lost its route (what AWS's gateway does). Call after lab_setup, before cgwd starts.
lab_add_dx() {
    NS_DXR=e2e-dxr-$S
    local d=$LAB/dx
    mkdir -p "$d"
    ip netns add $NS_DXR
    ip -n $NS_DXR link set lo up
    ip netns exec $NS_DXR sysctl -qw net.ipv4.ip_forward=1
    ip link add dx0 netns $NS_CGW type veth peer name dx0 netns $NS_DXR
    ip -n $NS_CGW link set dx0 up
    ip -n $NS_DXR link set dx0 up
    ip -n $NS_DXR link add link dx0 name dx0.100 type vlan id 100
    ip -n $NS_DXR addr add 192.168.100.1/30 dev dx0.100
    ip -n $NS_DXR link set dx0.100 up
    ip link add vpc0 netns $NS_DXR type veth peer name p3 netns $NS_VPC
    ip -n $NS_DXR addr add 10.0.0.3/16 dev vpc0
    ip -n $NS_DXR link set vpc0 up
    ip -n $NS_VPC link set p3 master br0
    ip -n $NS_VPC link set p3 up
    ip -n $NS_VPC route del 10.10.0.0/16
    ip -n $NS_VPC route add 10.10.0.0/16 via 10.0.0.3 metric 10
    ip -n $NS_VPC route add 10.10.0.0/16 metric 100 nexthop via 10.0.0.1 nexthop via 10.0.0.2
    ip -n $NS_DXR route add 10.10.0.0/16 via 10.0.0.1 metric 1000
    DX_MD5="dx.md5_$RANDOM$RANDOM"
    cat >"$d/bird.conf" <<EOF
router id 192.168.100.1;
log "$d/bird.log" all;
protocol device { }
protocol kernel { ipv4 { export where source = RTS_BGP; }; }
protocol static vpc { ipv4; route 10.0.0.0/16 via "vpc0"; }
protocol bfd { interface "dx0.100" { interval 300 ms; multiplier 3; }; }
protocol bgp dx {
    local 192.168.100.1 as 64512;
    neighbor 192.168.100.2 as 65010;
    password "$DX_MD5";
    bfd on;
    hold time 90;
    ipv4 { import all; export filter { if net = 10.0.0.0/16 then accept; reject; }; };
}
EOF
    ip netns exec $NS_DXR bird -c "$d/bird.conf" -s "$d/bird.ctl" -P "$d/bird.pid" ||
        lab_fail "bird on dxr did not start"
    cat >>"$LAB/cgwd.toml" <<EOF
[[direct_connect]]
name = "dx1"
interface = "dx0"
vlan = 100
local_address = "192.168.100.2/30"
neighbor = "192.168.100.1"
neighbor_asn = 64512
md5_key = "$DX_MD5"
bfd_interval_ms = 300
bfd_multiplier = 3
EOF
}

# lab_start_cgwd: runs cgwd in the cgw namespace (log in $LAB/cgwd.log).
lab_start_cgwd() {
    ip netns exec $NS_CGW "$CGWD" -c "$LAB/cgwd.toml" >"$LAB/cgwd.log" 2>&1 &
    CGWD_PID=$!
}

cgwctl() { ip netns exec $NS_CGW "$CGWCTL" -s "$LAB/cgwd.sock" "$@"; }

# lab_both_up: true when cgwd reports both tunnels up with BGP established.
lab_both_up() {
    cgwctl status --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d["connections"][0]["tunnels"]
sys.exit(0 if all(x["state"] == "up" and x["bgp"]["state"] == "Established" for x in t) else 1)' 2>/dev/null
}

# lab_wait_both_up SECONDS
lab_wait_both_up() {
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt $end ]; do
        lab_both_up && return 0
        kill -0 "$CGWD_PID" 2>/dev/null || lab_fail "cgwd exited"
        sleep 0.3
    done
    lab_fail "not both tunnels up with BGP established within $1 s"
}

lab_dump() {
    [ -n "${LAB:-}" ] && [ -d "$LAB" ] || return 0
    echo "--- cgwd.log (tail) ---" >&2; tail -n 60 "$LAB/cgwd.log" >&2 2>/dev/null
    local n
    for n in 1 2; do
        echo "--- aws$n charon.log (tail) ---" >&2; tail -n 25 "$LAB/aws$n/charon.log" >&2 2>/dev/null
        echo "--- aws$n bird.log (tail) ---" >&2; tail -n 10 "$LAB/aws$n/bird.log" >&2 2>/dev/null
    done
    if [ -n "${NS_DXR:-}" ]; then
        echo "--- dxr bird.log (tail) ---" >&2; tail -n 15 "$LAB/dx/bird.log" >&2 2>/dev/null
    fi
    cgwctl status >&2 2>/dev/null || true
}

lab_cleanup() {
    set +e
    [ -n "${CGWD_PID:-}" ] && kill "$CGWD_PID" 2>/dev/null && wait "$CGWD_PID" 2>/dev/null
    local n
    for n in 1 2; do
        [ -f "$LAB/aws$n/charon.pid" ] && kill "$(cat "$LAB/aws$n/charon.pid")" 2>/dev/null
        [ -f "$LAB/aws$n/bird.pid" ] && kill "$(cat "$LAB/aws$n/bird.pid")" 2>/dev/null
    done
    sleep 0.5
    [ -f "$LAB/dx/bird.pid" ] && kill "$(cat "$LAB/dx/bird.pid")" 2>/dev/null
    for ns in $NS_ONPREM $NS_CGW $NS_INET $NS_VPC $NS_T1 $NS_T2 ${NS_DXR:-}; do
        ip netns del "$ns" 2>/dev/null
    done
    # LAB_SAVE=DIR: a copy of the lab's files (logs, configs) survives the kernel lab's VM.
    [ -n "${LAB_SAVE:-}" ] && mkdir -p "$LAB_SAVE" &&
        tar -C "$(dirname "$LAB")" --exclude='*.vici' --exclude='*.ctl' --exclude='*.sock' \
            -cf - "$(basename "$LAB")" | tar -C "$LAB_SAVE" -xf -
    [ "${LAB_KEEP:-0}" = 1 ] || rm -rf "$LAB"
}
