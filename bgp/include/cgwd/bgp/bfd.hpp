// BFD Control packet codec (RFC 5880 section 4.1, reception checks of section 6.8.6), for
// asynchronous-mode single-hop BFD over UDP (RFC 5881). The session state machine is in
// bfd_session.hpp; sockets, TTL 255 and ports are the owner's job.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       My Discriminator                        |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                      Your Discriminator                       |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                    Desired Min TX Interval                    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                   Required Min RX Interval                    |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                 Required Min Echo RX Interval                 |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   (An optional Authentication Section follows when A is set: not supported, see below.)
//
// Intervals are in microseconds. Decoding applies the packet-only checks of section 6.8.6, in the
// RFC's order, from one table (kChecks in bfd.cpp); the first failing row names the error:
//   version != 1; Length < 24; Length > datagram; Detect Mult 0; M set; My Discriminator 0;
//   Your Discriminator 0 while State is not Down or AdminDown; A set (no authentication is
//   configured, so section 6.8.6 says discard).
// Beyond the RFC (the "exact consumption" rule): without an Authentication Section the Length
// must be exactly 24 and the datagram must end there.
#pragma once

#include <cstdint>
#include <expected>

#include "cgwd/bgp/wire.hpp"

namespace cgwd::bgp {

inline constexpr std::uint8_t kBfdVersion = 1;
inline constexpr std::size_t kBfdControlLength = 24;    // without Authentication Section
inline constexpr std::uint16_t kBfdControlPort = 3784;  // RFC 5881 section 4

enum class BfdState : std::uint8_t { AdminDown = 0, Down = 1, Init = 2, Up = 3 };
[[nodiscard]] const char* to_string(BfdState s);

// RFC 5880 section 4.1 "Diagnostic (Diag)".
enum class BfdDiag : std::uint8_t {
    None = 0,
    ControlDetectionTimeExpired = 1,
    EchoFunctionFailed = 2,
    NeighborSignaledSessionDown = 3,
    ForwardingPlaneReset = 4,
    PathDown = 5,
    ConcatenatedPathDown = 6,
    AdministrativelyDown = 7,
    ReverseConcatenatedPathDown = 8,
};
[[nodiscard]] const char* to_string(BfdDiag d);

struct BfdControl {
    BfdDiag diag = BfdDiag::None;
    BfdState state = BfdState::Down;
    bool poll = false;
    bool final = false;
    bool control_plane_independent = false;
    bool demand = false;
    std::uint8_t detect_mult = 0;
    std::uint32_t my_discriminator = 0;
    std::uint32_t your_discriminator = 0;
    std::uint32_t desired_min_tx_us = 0;
    std::uint32_t required_min_rx_us = 0;
    std::uint32_t required_min_echo_rx_us = 0;
    friend bool operator==(const BfdControl&, const BfdControl&) = default;
};

enum class BfdDecodeError : std::uint8_t {
    Truncated,                  // datagram shorter than 24 octets
    BadVersion,                 // version != 1
    LengthTooShort,             // Length field < 24
    LengthExceedsPayload,       // Length field > datagram
    ZeroDetectMult,             // Detect Mult 0
    Multipoint,                 // M bit set
    ZeroMyDiscriminator,        // My Discriminator 0
    ZeroYourDiscriminator,      // Your Discriminator 0 with State Init or Up
    AuthenticationUnsupported,  // A bit set
    TrailingBytes,              // Length != 24, or the datagram continues past Length
};
[[nodiscard]] const char* to_string(BfdDecodeError e);

[[nodiscard]] Bytes encode_bfd_control(const BfdControl& c);
[[nodiscard]] std::expected<BfdControl, BfdDecodeError> decode_bfd_control(ByteView datagram);

}  // namespace cgwd::bgp
