// The daemon's own settings: a small TOML file (toml++) that points at one or more AWS files
// and holds what AWS does not know (outside interface, prefixes to advertise, dataplane mode,
// Direct Connect peers, failover preferences, control socket, log level).
//
// Pipeline: parse -> validate (errors carry file:line:col) -> the caller stages and commits.
// `cgwd --check-config` and reload use the same entry point, load_daemon_config().
#pragma once

#include <array>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgwd/config/error.hpp"
#include "cgwd/config/model.hpp"

namespace cgwd::config {

enum class DataplaneMode { auto_detect, kernel, userspace };
enum class StaticTunnelMode { active_standby, ecmp };
// What happens when a BGP peer sends more prefixes than max_prefixes_in: a warning only; the
// excess dropped (and reported); or the session closed (RFC 4486 Cease / Maximum Number of
// Prefixes Reached) and restarted after max_prefixes_in_restart seconds.
enum class MaxPrefixInAction { warn, drop, reset };
const char* to_string(DataplaneMode);
const char* to_string(StaticTunnelMode);
const char* to_string(MaxPrefixInAction);

// The import limit of one BGP peer (a VPN entry's tunnels or a Direct Connect peer).
struct MaxPrefixesIn {
    std::uint32_t limit = 0;
    MaxPrefixInAction action = MaxPrefixInAction::drop;
    std::uint32_t restart_s = 60;
    friend bool operator==(const MaxPrefixesIn&, const MaxPrefixesIn&) = default;
};

// An inbound prefix filter entry: `prefix` itself and the longer prefixes inside it, up to
// length `le` ("10.0.0.0/16" or "10.0.0.0/16 le 24").
struct AcceptPrefix {
    IpPrefix prefix;
    std::uint8_t le = 32;  // the longest length accepted (>= prefix.length)
    std::string to_string() const;
    friend bool operator==(const AcceptPrefix&, const AcceptPrefix&) = default;
};

// Per-peer BGP policy besides AWS's defaults (a VPN entry's tunnels, or a Direct Connect peer).
struct PeerPolicy {
    std::uint8_t as_path_prepend = 0;  // extra copies of our ASN on what we announce (0-10)
    std::optional<std::uint32_t> med;  // MULTI_EXIT_DISC on what we announce
    std::vector<AcceptPrefix> accept;  // empty: every prefix the peer sends (up to the limit)
    // RFC 8092 large communities on what we announce: global administrator, two local data.
    std::vector<std::array<std::uint32_t, 3>> large_communities;
    friend bool operator==(const PeerPolicy&, const PeerPolicy&) = default;
};

struct VpnEntry {
    std::string name;                           // short, used in interface names: [a-z0-9-]{1,10}
    std::string aws_file;                       // resolved path
    std::vector<std::string> only_connections;  // empty: every connection in the file
    std::array<std::optional<Secret>, 2> psk_override;
    std::uint32_t local_preference = 100;
    std::uint32_t max_prefixes_out = 0;         // 0: AWS's limit (100 to a VGW, 1000 to a TGW)
    MaxPrefixesIn max_prefixes_in;              // limit 0: AWS's (1000 from a VGW, 5000 from a TGW)
    std::uint16_t graceful_restart_time = 120;  // RFC 4724 helper mode; 0: off
    PeerPolicy policy;
    StaticTunnelMode static_mode = StaticTunnelMode::active_standby;
    std::vector<Ipv4Prefix> static_routes;  // AWS-side prefixes for static-routing connections
    std::vector<Connection> connections;    // imported and validated
};

struct DirectConnectPeer {
    std::string name;
    std::string interface;              // parent (or the VLAN interface itself when vlan unset)
    std::optional<std::uint16_t> vlan;  // 802.1Q id: cgwd creates <interface>.<vlan>
    // One BGP session: IPv4 or IPv6, by the neighbor's address (AWS gives a virtual interface
    // one IPv4 and one IPv6 peer; two [[direct_connect]] entries may share an interface/VLAN).
    std::optional<IpAddress> local_address;  // with local_prefix_len; nullopt: already configured
    std::uint8_t local_prefix_len = 30;      // /30 or /31; IPv6: /64-/127 (AWS assigns a /125)
    IpAddress neighbor;                      // of the same family as local_address
    std::uint32_t neighbor_asn = 0;
    std::uint32_t local_asn = 0;
    Secret md5_key;
    std::uint32_t bfd_interval_ms = 300;
    std::uint32_t bfd_multiplier = 3;
    bool bfd = true;
    std::uint16_t hold_time = 90;
    std::uint16_t keepalive = 30;
    std::uint32_t local_preference = 200;
    std::uint32_t max_prefixes_out = 100;
    MaxPrefixesIn max_prefixes_in{1000};
    std::uint16_t graceful_restart_time = 0;  // RFC 4724 helper mode; off: DX fails over at once
    bool gtsm = false;                        // RFC 5082 (TTL 255 out, below 254 dropped)
    PeerPolicy policy;
    std::vector<std::string> communities;  // "7224:7300" style, sent with our prefixes
    std::uint16_t mtu = 1500;
    friend bool operator==(const DirectConnectPeer&, const DirectConnectPeer&) = default;
};

struct DaemonConfig {
    std::string file;
    // [daemon]
    std::string log_level = "info";
    std::string control_socket = "/run/cgwd/cgwd.sock";
    DataplaneMode dataplane = DataplaneMode::auto_detect;
    std::uint32_t route_table = 254;     // main
    std::uint32_t route_protocol = 240;  // rtnetlink protocol number marking our routes
    std::uint32_t route_metric = 20;
    std::string metrics_listen;      // "127.0.0.1:9469"; empty: off
    bool userspace_offloads = true;  // TUN TSO/checksum offload, UDP GSO/GRO (userspace mode)
    // [outside]
    std::string outside_interface = "auto";
    std::optional<Ipv4Address> outside_address;  // nullopt: auto
    bool force_encap = false;  // ESP in UDP 4500 even without a NAT (RFC 7296 2.23, RFC 3948)
    // [bgp]
    std::optional<std::uint32_t> asn;  // our ASN; defaults to the AWS file's customer ASN
    std::optional<Ipv4Address> router_id;
    std::vector<IpPrefix> advertise;  // IPv6 ones go to IPv6 peers only (Direct Connect)
    std::uint32_t ecmp_max_paths = 8;
    // [failover]
    bool prefer_direct_connect = true;
    std::uint16_t vpn_mss = 1379;  // MSS clamp applied to flows that may fail over to VPN
    // [debug]
    // Directory for Wireshark's ikev2_decryption_table and esp_sa (every SA's keys, debug only;
    // ike/include/cgwd/ike/keylog.hpp); empty: off.
    std::string wireshark_keys;

    std::vector<VpnEntry> vpns;
    std::vector<DirectConnectPeer> direct_connect;
};

struct LoadOptions {
    // Files holding secrets (AWS files, key files, a TOML with inline keys) must not be
    // readable or writable by group or others. Tests of parsing alone may switch this off.
    bool check_permissions = true;
};

[[nodiscard]] std::expected<DaemonConfig, ConfigError> load_daemon_config(const std::string& path,
                                                                          LoadOptions = {});
// Parses TOML text; relative AWS file paths are resolved against `base_dir`.
[[nodiscard]] std::expected<DaemonConfig, ConfigError> parse_daemon_config(
    std::string_view toml_text, const std::string& file, const std::string& base_dir,
    LoadOptions = {});

// The documentation of every TOML key, the one source for validation of key names, the
// man page and `cgwctl import`'s starter file.
struct OptionDoc {
    std::string_view table;  // "daemon", "vpn" (array of tables), ...
    std::string_view key;
    std::string_view type;
    std::string_view default_value;
    std::string_view doc;
};
const std::vector<OptionDoc>& option_docs();

// "GLOBAL:LOCAL1:LOCAL2" (RFC 8092 large community, decimal, each 0-4294967295) and back.
std::optional<std::array<std::uint32_t, 3>> parse_large_community(std::string_view text);
std::string large_community_text(const std::array<std::uint32_t, 3>& c);

// A [[vpn]] name: 1-10 of a-z, 0-9 and '-', not starting with '-' (it goes into interface names).
bool valid_vpn_name(std::string_view name);
// True when group or others may access the file (the rule for files holding keys is 0600).
// False when the file cannot be stat'ed.
bool accessible_by_others(const std::string& path);

// The human summary `cgwd --check-config` prints (secrets redacted).
std::string config_summary(const DaemonConfig&);

// A starter TOML for one AWS file, as `cgwctl import` writes it.
std::string starter_toml(const std::string& aws_file_path, const std::string& name,
                         const std::vector<Connection>& connections);

}  // namespace cgwd::config
