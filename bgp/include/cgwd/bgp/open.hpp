// BGP OPEN message and capabilities codec, plus OPEN validation.
//
// RFC 4271 section 4.2 (OPEN), 6.2 (OPEN errors); RFC 5492 (Capabilities Optional Parameter);
// RFC 4760 section 8 (Multiprotocol capability); RFC 2918 section 2 (Route Refresh capability);
// RFC 6793 (4-octet AS capability, AS_TRANS); RFC 4724 section 3 (Graceful Restart capability);
// RFC 9072 (Extended Optional Parameters Length, decoded and used when needed); RFC 7607 (AS 0).
// Capabilities the codec does not know are kept verbatim in `Capabilities::unknown`.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+
//   |    Version    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |     My Autonomous System      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |           Hold Time           |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                         BGP Identifier                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Opt Parm Len  |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |             Optional Parameters (variable)                    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   Optional parameter: Parm. Type (1) | Parm. Length (1) | Parameter Value (variable)
//   Capability (type 2 value, RFC 5492): Code (1) | Length (1) | Value (variable)
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <vector>

#include "cgwd/bgp/message.hpp"
#include "cgwd/bgp/wire.hpp"

namespace cgwd::bgp {

inline constexpr std::uint16_t kAsTrans = 23456;  // RFC 6793 section 2
inline constexpr std::uint8_t kBgpVersion = 4;

enum class Afi : std::uint16_t { Ipv4 = 1, Ipv6 = 2 };
inline constexpr std::uint8_t kSafiUnicast = 1;

struct AfiSafi {
    std::uint16_t afi = 1;
    std::uint8_t safi = 1;
    friend auto operator<=>(const AfiSafi&, const AfiSafi&) = default;
};
inline constexpr AfiSafi kIpv4Unicast{1, 1};
inline constexpr AfiSafi kIpv6Unicast{2, 1};

namespace capability_code {
inline constexpr std::uint8_t kMultiprotocol = 1;
inline constexpr std::uint8_t kRouteRefresh = 2;
inline constexpr std::uint8_t kGracefulRestart = 64;
inline constexpr std::uint8_t kFourOctetAs = 65;
}  // namespace capability_code

// RFC 4724 section 3:
//   +--------------------------------------------------+
//   | Restart Flags (4 bits)                           |
//   | Restart Time in seconds (12 bits)                |
//   +--------------------------------------------------+
//   | AFI (16 bits) | SAFI (8 bits) | Flags for AF (8) |  repeated
//   +--------------------------------------------------+
struct GracefulRestart {
    bool restart_state = false;      // R bit
    bool notification = false;       // N bit (RFC 8538), kept for fidelity
    std::uint16_t restart_time = 0;  // 0..4095 seconds
    struct Family {
        AfiSafi af;
        bool forwarding_preserved = false;  // F bit
        friend bool operator==(const Family&, const Family&) = default;
    };
    std::vector<Family> families;
    friend bool operator==(const GracefulRestart&, const GracefulRestart&) = default;
};

struct RawCapability {
    std::uint8_t code = 0;
    Bytes value;
    friend bool operator==(const RawCapability&, const RawCapability&) = default;
};

struct Capabilities {
    std::vector<AfiSafi> multiprotocol;
    bool route_refresh = false;
    std::optional<std::uint32_t> four_octet_as;
    std::optional<GracefulRestart> graceful_restart;
    std::vector<RawCapability> unknown;
    friend bool operator==(const Capabilities&, const Capabilities&) = default;

    [[nodiscard]] bool supports(AfiSafi af) const;
};

struct Open {
    std::uint8_t version = kBgpVersion;
    std::uint32_t local_as = 0;     // the real AS; encoded as AS_TRANS in My AS when > 65535
    std::uint16_t my_as_field = 0;  // as received on the wire (decode only)
    std::uint16_t hold_time = 90;
    std::uint32_t bgp_identifier = 0;
    Capabilities capabilities;

    // The peer's AS: the 4-octet AS capability when present, else the 2-octet field.
    [[nodiscard]] std::uint32_t effective_as() const {
        return capabilities.four_octet_as.value_or(my_as_field);
    }
};

// Encodes a whole OPEN message (header included). The 4-octet AS capability is emitted with
// `local_as` whenever `capabilities.four_octet_as` is set.
[[nodiscard]] Bytes encode_open(const Open& open);
[[nodiscard]] std::expected<Open, Notification> decode_open(ByteView body);

// What the local side expects of the peer's OPEN (RFC 4271 section 6.2).
struct OpenPolicy {
    std::uint32_t peer_as = 0;  // 0 accepts any AS
    std::uint32_t local_bgp_identifier = 0;
    std::uint16_t local_hold_time = 90;
};

// Validates a decoded OPEN: version 4 (2/1, data = supported version), peer AS (2/2),
// BGP identifier non-zero and different from ours (2/3), hold time 0 or >= 3 (2/6).
[[nodiscard]] std::expected<void, Notification> validate_open(const Open& open,
                                                              const OpenPolicy& policy);
// RFC 4271 section 4.2: the smaller of the two hold times.
[[nodiscard]] inline std::uint16_t negotiate_hold_time(std::uint16_t local, std::uint16_t peer) {
    return local < peer ? local : peer;
}

}  // namespace cgwd::bgp
