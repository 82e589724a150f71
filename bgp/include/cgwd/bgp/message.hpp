// BGP-4 message header, KEEPALIVE, NOTIFICATION and ROUTE-REFRESH codecs.
//
// RFC 4271 section 4.1 (header), 4.4 (KEEPALIVE), 4.5 (NOTIFICATION), 6 (error codes);
// RFC 2918 (ROUTE-REFRESH) with the RFC 7313 subtype octet kept; RFC 9003 (Shutdown
// Communication carried in Cease subcodes 2 and 4). OPEN lives in open.hpp, UPDATE in
// update.hpp, the byte-stream framer in framer.hpp.
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                                                               |
//   +                           Marker (16 octets of 0xFF)          +
//   |                                                               |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |          Length               |      Type     |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "cgwd/bgp/wire.hpp"

namespace cgwd::bgp {

inline constexpr std::size_t kHeaderSize = 19;
inline constexpr std::size_t kMarkerSize = 16;
inline constexpr std::size_t kMaxMessageSize = 4096;

enum class MessageType : std::uint8_t {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
};

// RFC 4271 section 4.5 error codes (RFC 7313 adds 7).
enum class ErrorCode : std::uint8_t {
    MessageHeader = 1,
    OpenMessage = 2,
    UpdateMessage = 3,
    HoldTimerExpired = 4,
    FsmError = 5,
    Cease = 6,
    RouteRefreshMessage = 7,
};

namespace header_error {
inline constexpr std::uint8_t kConnectionNotSynchronized = 1;
inline constexpr std::uint8_t kBadMessageLength = 2;
inline constexpr std::uint8_t kBadMessageType = 3;
}  // namespace header_error

namespace open_error {
inline constexpr std::uint8_t kUnspecific = 0;
inline constexpr std::uint8_t kUnsupportedVersion = 1;
inline constexpr std::uint8_t kBadPeerAs = 2;
inline constexpr std::uint8_t kBadBgpIdentifier = 3;
inline constexpr std::uint8_t kUnsupportedOptionalParameter = 4;
inline constexpr std::uint8_t kUnacceptableHoldTime = 6;
inline constexpr std::uint8_t kUnsupportedCapability = 7;  // RFC 5492
}  // namespace open_error

namespace update_error {
inline constexpr std::uint8_t kMalformedAttributeList = 1;
inline constexpr std::uint8_t kUnrecognizedWellKnownAttribute = 2;
inline constexpr std::uint8_t kMissingWellKnownAttribute = 3;
inline constexpr std::uint8_t kAttributeFlagsError = 4;
inline constexpr std::uint8_t kAttributeLengthError = 5;
inline constexpr std::uint8_t kInvalidOriginAttribute = 6;
inline constexpr std::uint8_t kInvalidNextHopAttribute = 8;
inline constexpr std::uint8_t kOptionalAttributeError = 9;
inline constexpr std::uint8_t kInvalidNetworkField = 10;
inline constexpr std::uint8_t kMalformedAsPath = 11;
}  // namespace update_error

namespace cease {
inline constexpr std::uint8_t kMaxPrefixesReached = 1;
inline constexpr std::uint8_t kAdministrativeShutdown = 2;
inline constexpr std::uint8_t kPeerDeconfigured = 3;
inline constexpr std::uint8_t kAdministrativeReset = 4;
inline constexpr std::uint8_t kConnectionRejected = 5;
inline constexpr std::uint8_t kOtherConfigurationChange = 6;
inline constexpr std::uint8_t kConnectionCollisionResolution = 7;
inline constexpr std::uint8_t kOutOfResources = 8;
}  // namespace cease

// NOTIFICATION (RFC 4271 section 4.5): also the error type of every decode path, since a decode
// failure is answered by sending exactly this message.
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Error code    | Error subcode |   Data (variable)             |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct Notification {
    std::uint8_t code = 0;
    std::uint8_t subcode = 0;
    Bytes data;

    static Notification make(ErrorCode c, std::uint8_t sub, Bytes d = {}) {
        return Notification{static_cast<std::uint8_t>(c), sub, std::move(d)};
    }
    [[nodiscard]] ErrorCode error_code() const { return static_cast<ErrorCode>(code); }
    friend bool operator==(const Notification&, const Notification&) = default;
};

// RFC 9003: Cease/Administrative Shutdown (2) or Administrative Reset (4) with a
// Shutdown Communication: one length octet, then that many octets of UTF-8 (at most 255).
// The text is cut at a UTF-8 character boundary so that it fits in 255 octets.
[[nodiscard]] Notification make_shutdown_notification(std::uint8_t cease_subcode,
                                                      std::string_view message);
// The Shutdown Communication of a received Cease 2/4 NOTIFICATION; nullopt when the message is
// not such a Cease, carries no communication, the length overruns the data, or the text is not
// valid UTF-8 (RFC 9003 section 2: the receiver must not use a malformed communication).
[[nodiscard]] std::optional<std::string> shutdown_communication(const Notification& n);
[[nodiscard]] bool is_valid_utf8(std::string_view text);

// ROUTE-REFRESH (RFC 2918 section 3; the reserved octet is the RFC 7313 message subtype).
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |              AFI              |   Reserved    |     SAFI      |
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
struct RouteRefresh {
    std::uint16_t afi = 1;
    std::uint8_t subtype = 0;
    std::uint8_t safi = 1;
    friend bool operator==(const RouteRefresh&, const RouteRefresh&) = default;
};

// Whole-message encoders (header included).
[[nodiscard]] Bytes encode_message(MessageType type, ByteView body);
[[nodiscard]] Bytes encode_keepalive();
[[nodiscard]] Bytes encode_notification(const Notification& n);
[[nodiscard]] Bytes encode_route_refresh(const RouteRefresh& r);

// Body decoders (the framer has already removed and validated the header).
[[nodiscard]] std::expected<Notification, Notification> decode_notification(ByteView body);
[[nodiscard]] std::expected<RouteRefresh, Notification> decode_route_refresh(ByteView body);

}  // namespace cgwd::bgp
