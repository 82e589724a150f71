// The typed model every AWS input format is imported into, and the daemon's local settings.
//
// Three AWS formats (CustomerGatewayConfiguration XML, describe-vpn-connections JSON, the
// "Generic" text download) all produce `Connection`s; the TOML file produces `DaemonConfig`.
// Algorithms are kept as IKEv2 transform ids (RFC 7296 section 3.3.2, IANA "IKEv2 Transform
// Type N" registries) so the IKE engine and the dataplane can use them directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cgwd/config/net.hpp"
#include "cgwd/config/secret.hpp"

namespace cgwd::config {

// IKEv2 transform ids (IANA). Only what AWS offers plus Curve25519.
namespace encr {
inline constexpr std::uint16_t aes_cbc = 12;
inline constexpr std::uint16_t aes_gcm_16 = 20;
}  // namespace encr
namespace prf {
inline constexpr std::uint16_t hmac_sha1 = 2;
inline constexpr std::uint16_t hmac_sha2_256 = 5;
inline constexpr std::uint16_t hmac_sha2_384 = 6;
inline constexpr std::uint16_t hmac_sha2_512 = 7;
}  // namespace prf
namespace integ {
inline constexpr std::uint16_t none = 0;
inline constexpr std::uint16_t hmac_sha1_96 = 2;
inline constexpr std::uint16_t hmac_sha2_256_128 = 12;
inline constexpr std::uint16_t hmac_sha2_384_192 = 13;
inline constexpr std::uint16_t hmac_sha2_512_256 = 14;
}  // namespace integ
namespace esn {
inline constexpr std::uint16_t no = 0;
inline constexpr std::uint16_t yes = 1;
}  // namespace esn

// An encryption transform: id plus its Key Length attribute in bits (128 or 256).
struct Cipher {
    std::uint16_t id = encr::aes_cbc;
    std::uint16_t key_bits = 128;
    bool is_aead() const { return id == encr::aes_gcm_16; }
    friend bool operator==(const Cipher&, const Cipher&) = default;
};

// One IKEv2 proposal. For an IKE SA: ciphers, integ (empty for AEAD), prfs, dh groups.
// For an ESP CHILD_SA: ciphers, integ (empty for AEAD), dh groups for PFS (empty: no PFS),
// esn. AEAD and non-AEAD ciphers never share a proposal (RFC 5282 section 8).
struct Proposal {
    std::vector<Cipher> ciphers;
    std::vector<std::uint16_t> integ;
    std::vector<std::uint16_t> prf;
    std::vector<std::uint16_t> dh;
    std::vector<std::uint16_t> esn;
    friend bool operator==(const Proposal&, const Proposal&) = default;
};

enum class GatewayKind { vgw, tgw };
enum class Routing { bgp, static_routes };
enum class DpdAction { clear, none, restart };
enum class StartupAction { add, start };  // add: we initiate; start: AWS initiates

// The AWS-level algorithm choice of one phase, as the user configured it, before it is
// expanded into IKEv2 proposals. Kept for display and for comparing on reload.
struct AlgorithmSet {
    std::vector<Cipher> ciphers;
    std::vector<std::uint16_t> integ;  // integ transform ids (also decide the PRF for IKE)
    std::vector<std::uint16_t> dh;     // phase 1: KE groups; phase 2: PFS groups (may be empty)
    friend bool operator==(const AlgorithmSet&, const AlgorithmSet&) = default;
};

// Where a value came from, for error messages and the --check-config summary.
struct Origin {
    std::string file;
    int line = 0;  // 1-based; 0 when unknown
    friend bool operator==(const Origin&, const Origin&) = default;
};

struct Tunnel {
    int number = 0;                          // 1 or 2, in document order
    std::optional<Ipv4Address> cgw_outside;  // nullopt: AWS file has a placeholder -> TOML/auto
    Ipv4Address aws_outside;
    Ipv4Prefix inside_cidr;  // the /30; AWS is network+1, we are network+2
    Ipv4Address cgw_inside;
    Ipv4Address aws_inside;
    std::optional<std::string> inside_ipv6_cidr;  // TGW only, informational for now
    std::optional<std::uint32_t> cgw_asn;         // nullopt for static routing
    std::optional<std::uint32_t> aws_asn;
    std::uint16_t bgp_hold_time = 30;
    Secret psk;

    bool ikev1_allowed = true;
    bool ikev2_allowed = true;
    AlgorithmSet phase1;
    AlgorithmSet phase2;
    std::vector<Proposal> ike_proposals;  // derived from phase1
    std::vector<Proposal> esp_proposals;  // derived from phase2

    std::uint32_t ike_lifetime_s = 28800;
    std::uint32_t esp_lifetime_s = 3600;
    std::uint32_t rekey_margin_s = 270;
    std::uint32_t rekey_fuzz_pct = 100;
    std::uint32_t replay_window = 1024;
    std::uint32_t dpd_interval_s = 10;
    std::uint32_t dpd_retries = 3;
    std::uint32_t dpd_timeout_s = 30;  // AWS side; ours is interval x retries
    DpdAction dpd_action = DpdAction::restart;
    // Our side's dead peer detection when the TOML file tightens it ([[vpn]] dpd_interval_ms,
    // dpd_retries, dpd_retransmit_ms); 0: the AWS file's interval and retries, retransmissions
    // on the IKE schedule (1, 2, 4, 8 s).
    std::uint32_t local_dpd_interval_ms = 0;
    std::uint32_t local_dpd_retries = 0;
    std::uint32_t local_dpd_retransmit_ms = 0;
    // Our side's DPD in force: the TOML file's setting where it has one, else the AWS file's.
    [[nodiscard]] std::uint32_t dpd_interval_ms_in_force() const {
        return local_dpd_interval_ms ? local_dpd_interval_ms : dpd_interval_s * 1000;
    }
    [[nodiscard]] std::uint32_t dpd_retries_in_force() const {
        return local_dpd_retries ? local_dpd_retries : dpd_retries;
    }
    StartupAction startup_action = StartupAction::add;

    std::uint16_t tcp_mss = 1379;
    std::uint16_t mtu = 1436;
    bool clear_df = true;
    bool fragment_before_encryption = true;

    Origin origin;
    friend bool operator==(const Tunnel&, const Tunnel&) = default;
};

struct Connection {
    std::string id;  // vpn-...
    std::string customer_gateway_id;
    std::string vpn_gateway_id;      // empty for a TGW attachment
    std::string transit_gateway_id;  // from JSON when known
    GatewayKind gateway = GatewayKind::vgw;
    Routing routing = Routing::bgp;
    std::optional<Ipv4Prefix> local_network;  // traffic selectors (0.0.0.0/0 when unset)
    std::optional<Ipv4Prefix> remote_network;
    std::array<Tunnel, 2> tunnels;
    Origin origin;
    friend bool operator==(const Connection&, const Connection&) = default;
};

const char* to_string(GatewayKind);
const char* to_string(Routing);
const char* to_string(DpdAction);
const char* to_string(StartupAction);

// Names for display: "AES-128-CBC", "HMAC-SHA2-256-128", "PRF-HMAC-SHA1", "MODP-2048 (14)".
std::string cipher_name(const Cipher&);
std::string integ_name(std::uint16_t id);
std::string prf_name(std::uint16_t id);
std::string dh_name(std::uint16_t group);
std::string proposal_string(const Proposal&);  // "AES-128-CBC/HMAC-SHA1-96/PRF-HMAC-SHA1/MODP-1024"

// Sizes in bytes that follow from the transform ids; 0 for an unknown id. The one table the IKE
// key derivation and the ESP dataplane both use.
std::size_t cipher_keymat_bytes(const Cipher&);  // key, plus the 4-byte salt for GCM (RFC 4106 8.1)
std::size_t integ_key_bytes(std::uint16_t id);   // RFC 2404; RFC 4868 2.1.1 (key = digest size)
std::size_t integ_icv_bytes(std::uint16_t id);   // truncated output: 12, 16, 24, 32

}  // namespace cgwd::config
