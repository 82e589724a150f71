// Every key of the TOML file, documented once. The loader rejects keys not listed here, the
// man page cgwd.toml(5) is generated from this table, and so are the starter file's comments.
#include "cgwd/config/daemon_config.hpp"

namespace cgwd::config {

const std::vector<OptionDoc>& option_docs() {
    static const std::vector<OptionDoc> docs{
        {"daemon", "log_level", "string", "\"info\"",
         "Initial log level: trace, debug, info, warn, error. Changeable at run time with "
         "cgwctl log-level."},
        {"daemon", "control_socket", "string", "\"/run/cgwd/cgwd.sock\"",
         "Path of the control socket cgwctl talks to (mode 0660)."},
        {"daemon", "dataplane", "string", "\"auto\"",
         "Where ESP runs: kernel (XFRM), userspace (TUN + raw ESP, or UDP behind a NAT) or auto "
         "(kernel when it has ESP)."},
        {"daemon", "route_table", "integer", "254",
         "Linux routing table the learned routes are installed into (254 is main)."},
        {"daemon", "route_protocol", "integer", "240",
         "rtnetlink protocol number that marks cgwd's routes, so leftovers can be found."},
        {"daemon", "route_metric", "integer", "20", "Metric of installed routes."},
        {"daemon", "metrics_listen", "string", "\"\"",
         "Local address:port of the Prometheus text endpoint; empty turns it off."},
        {"daemon", "userspace_offloads", "boolean", "true",
         "Userspace dataplane only: TCP segmentation and checksum offload on the TUN devices, "
         "UDP GSO and GRO on the ESP socket (each falls back by itself where the kernel lacks "
         "it). With them a capture taken on this host can show up to 64 kB of ESP packets in one "
         "frame; turn them off to see one packet per frame. Read at start."},

        {"outside", "interface", "string", "\"auto\"",
         "Interface facing the Internet; auto uses the one with the default route."},
        {"outside", "local_address", "string", "\"auto\"",
         "Our outside IPv4 address; auto takes the AWS file's customer gateway address, "
         "else the outside interface's address."},
        {"outside", "force_encap", "boolean", "false",
         "Carry IKE and ESP in UDP 4500 (NAT-T) even when no NAT is detected, e.g. through a "
         "firewall that passes only UDP."},

        {"bgp", "asn", "integer", "(from the AWS file)",
         "Our ASN. Must match the customer gateway ASN in the AWS files when both are given."},
        {"bgp", "router_id", "string", "(an inside address)", "BGP identifier."},
        {"bgp", "advertise", "array of strings", "[]",
         "On-premises prefixes announced to AWS, e.g. [\"10.10.0.0/16\"]. IPv6 prefixes "
         "(\"2001:db8:10::/48\") go to IPv6 Direct Connect peers only. A reload applies a "
         "change on the running sessions (the other [bgp] keys need a restart)."},
        {"bgp", "ecmp_max_paths", "integer", "8",
         "Most equal-cost next hops installed for one prefix."},

        {"failover", "prefer_direct_connect", "boolean", "true",
         "Prefer Direct Connect over VPN for the same prefix (local preference DX > VPN)."},
        {"failover", "vpn_mss", "integer", "1379",
         "TCP MSS clamp for traffic that can fail over to a VPN tunnel, applied on every path "
         "(the tunnels, and IPv4 on each Direct Connect interface) so flows survive a move to "
         "the smaller VPN MTU."},

        {"vpn", "name", "string", "(required)",
         "Short name, 1-10 of a-z 0-9 -, used in interface names and cgwctl output."},
        {"vpn", "aws_file", "string", "(required)",
         "The AWS configuration file (XML, describe-vpn-connections JSON or Generic text), "
         "relative to this file's folder. It holds PSKs: mode 0600."},
        {"vpn", "connections", "array of strings", "[]",
         "Connection ids to use from a JSON with several; empty uses all."},
        {"vpn", "tunnel1_psk", "string", "(from the AWS file)",
         "Overrides tunnel 1's pre-shared key (this file must then be mode 0600)."},
        {"vpn", "tunnel1_psk_file", "string", "(none)",
         "Reads tunnel 1's pre-shared key from a file of mode 0600."},
        {"vpn", "tunnel2_psk", "string", "(from the AWS file)", "As tunnel1_psk, for tunnel 2."},
        {"vpn", "tunnel2_psk_file", "string", "(none)", "As tunnel1_psk_file, for tunnel 2."},
        {"vpn", "local_preference", "integer", "100",
         "Local preference of routes learned over VPN."},
        {"vpn", "max_prefixes_out", "integer", "(100 to a VGW, 1000 to a TGW)",
         "Most prefixes advertised to AWS; the rest are held back and reported."},
        {"vpn", "max_prefixes_in", "integer", "(1000 from a VGW, 5000 from a TGW)",
         "Most prefixes accepted from each AWS tunnel peer (AWS's own figures by default)."},
        {"vpn", "max_prefixes_in_action", "string", "\"drop\"",
         "Past max_prefixes_in: warn (accept all, log once), drop (accept up to the limit, drop "
         "and count the rest) or reset (close the session with an RFC 4486 Cease, restart it "
         "after max_prefixes_in_restart)."},
        {"vpn", "max_prefixes_in_restart", "integer", "60",
         "Seconds the session stays down after a max_prefixes_in reset."},
        {"vpn", "as_path_prepend", "integer", "0",
         "Extra copies of our ASN (0-10) on what we announce to this entry's tunnels: AWS prefers "
         "the shorter "
         "AS_PATH, so this makes the path a backup (after AWS's own local preference "
         "communities)."},
        {"vpn", "med", "integer", "(none)",
         "MULTI_EXIT_DISC on what we announce to this entry's tunnels; AWS prefers the lower one."},
        {"vpn", "large_communities", "array of strings", "[]",
         "RFC 8092 large communities on what we announce to this entry's tunnels, e.g. "
         "[\"65010:1:2\"] (GLOBAL:LOCAL1:LOCAL2)."},
        {"vpn", "accept_prefixes", "array of strings", "[] (all)",
         "Inbound filter: only these prefixes, and longer ones inside them up to \"le N\", are "
         "accepted from this entry's tunnels, e.g. [\"10.0.0.0/16\", \"172.16.0.0/12 le 24\"]; the "
         "rest are "
         "ignored. Empty: everything (up to max_prefixes_in)."},
        {"vpn", "graceful_restart_time", "integer", "120",
         "BGP graceful restart helper (RFC 4724): when an AWS endpoint's BGP restarts without "
         "the tunnel going down, its routes stay installed (stale) until it is back and sends "
         "End-of-RIB, or for at most its restart time. 0 turns it off (routes go at once)."},
        {"vpn", "dpd_interval_ms", "integer", "(the AWS file's DPD interval, usually 10000)",
         "Our side's dead peer detection: a liveness check after this much silence from the "
         "AWS endpoint (500 minimum). With dpd_retries and dpd_retransmit_ms it sets how fast "
         "a dead tunnel is noticed and its routes withdrawn; AWS's own side keeps its settings."},
        {"vpn", "dpd_retries", "integer", "(the AWS file's, usually 3)",
         "Retransmissions of a liveness check before the AWS endpoint is declared dead."},
        {"vpn", "dpd_retransmit_ms", "integer", "(IKE's schedule: 1, 2, 4, 8 s)",
         "Fixed wait for the answer to each liveness check transmission (100 minimum), e.g. "
         "dpd_interval_ms = 1000, dpd_retries = 2, dpd_retransmit_ms = 300: dead 1.9 s after "
         "the last sign of life."},
        {"vpn", "static_mode", "string", "\"active-standby\"",
         "Static-routing connections: active-standby (tunnel 1 while up) or ecmp (both)."},
        {"vpn", "static_routes", "array of strings", "[]",
         "AWS-side prefixes routed into the tunnels of a static-routing connection."},

        {"direct_connect", "name", "string", "(required)", "Short name of the virtual interface."},
        {"direct_connect", "interface", "string", "(required)",
         "Interface toward the Direct Connect router (the parent when vlan is set)."},
        {"direct_connect", "vlan", "integer", "(none)",
         "802.1Q VLAN id: cgwd creates INTERFACE.VLAN and puts local_address on it."},
        {"direct_connect", "local_address", "string", "(none)",
         "Our address with prefix length (/30 or /31), e.g. \"169.254.100.2/30\"; for an "
         "IPv6 peer the /125 AWS assigned, e.g. \"2001:db8:1::2/125\" (added without duplicate "
         "address detection)."},
        {"direct_connect", "neighbor", "string", "(required)",
         "The AWS router's address, IPv4 or IPv6 (global, not link-local). Each BGP session of "
         "a virtual interface is one [[direct_connect]]: an IPv4 and an IPv6 peer on the same "
         "interface and vlan share the VLAN interface (their mtu must agree)."},
        {"direct_connect", "neighbor_asn", "integer", "64512", "The AWS side's ASN."},
        {"direct_connect", "local_asn", "integer", "([bgp] asn)", "Our ASN on this session."},
        {"direct_connect", "md5_key", "string", "(required, or md5_key_file)",
         "TCP-MD5 key, 6-80 characters (this file must then be mode 0600)."},
        {"direct_connect", "md5_key_file", "string", "(none)",
         "Reads the TCP-MD5 key from a file of mode 0600."},
        {"direct_connect", "bfd", "boolean", "true", "Run BFD on this session."},
        {"direct_connect", "bfd_interval_ms", "integer", "300",
         "BFD transmit/receive interval (300 minimum)."},
        {"direct_connect", "bfd_multiplier", "integer", "3", "BFD detection multiplier."},
        {"direct_connect", "hold_time", "integer", "90", "BGP hold time (0 or 3-65535)."},
        {"direct_connect", "keepalive", "integer", "30", "BGP keepalive interval."},
        {"direct_connect", "local_preference", "integer", "200",
         "Local preference of routes learned over this interface."},
        {"direct_connect", "max_prefixes_out", "integer", "100",
         "Most prefixes advertised to AWS."},
        {"direct_connect", "max_prefixes_in", "integer", "1000",
         "Most prefixes accepted from the Direct Connect peer."},
        {"direct_connect", "max_prefixes_in_action", "string", "\"drop\"",
         "As [[vpn]] max_prefixes_in_action."},
        {"direct_connect", "max_prefixes_in_restart", "integer", "60",
         "As [[vpn]] max_prefixes_in_restart."},
        {"direct_connect", "graceful_restart_time", "integer", "0",
         "As [[vpn]] graceful_restart_time; off by default so that a session lost without BFD "
         "moves traffic to the VPN at once instead of keeping stale routes."},
        {"direct_connect", "as_path_prepend", "integer", "0", "As [[vpn]] as_path_prepend."},
        {"direct_connect", "med", "integer", "(none)", "As [[vpn]] med."},
        {"direct_connect", "large_communities", "array of strings", "[]",
         "As [[vpn]] large_communities."},
        {"direct_connect", "accept_prefixes", "array of strings", "[] (all)",
         "As [[vpn]] accept_prefixes, of the peer's family."},
        {"direct_connect", "gtsm", "boolean", "false",
         "GTSM (RFC 5082): send BGP with TTL 255 and drop segments below 254; the AWS side must "
         "be set to match, which AWS does not offer on its routers."},
        {"direct_connect", "communities", "array of strings", "[]",
         "Communities on our advertisements, e.g. [\"7224:7300\"] for high preference in AWS."},
        {"direct_connect", "mtu", "integer", "1500",
         "MTU of the virtual interface (1500 or 9001)."},

        {"debug", "wireshark_keys", "string", "\"\"",
         "DEBUG ONLY, defeats the encryption: an existing directory (absolute path) where the "
         "keys of every IKE SA and CHILD_SA are appended to ikev2_decryption_table and esp_sa "
         "(mode 0600) for Wireshark to decrypt captures; cgwd warns at start-up. Empty: off."},
    };
    return docs;
}

}  // namespace cgwd::config
