#include "cgwd/bgp/bfd.hpp"

#include <array>

namespace cgwd::bgp {

namespace {

// Flag bits of the second octet (RFC 5880 section 4.1): Sta(2) P F C A D M.
constexpr std::uint8_t kPoll = 0x20;
constexpr std::uint8_t kFinal = 0x10;
constexpr std::uint8_t kCpi = 0x08;
constexpr std::uint8_t kAuth = 0x04;
constexpr std::uint8_t kDemand = 0x02;
constexpr std::uint8_t kMultipoint = 0x01;

// Every field of the fixed part, as read, before any check.
struct Raw {
    std::uint8_t version = 0;
    std::uint8_t diag = 0;
    std::uint8_t state = 0;
    std::uint8_t flags = 0;
    std::uint8_t detect_mult = 0;
    std::uint8_t length = 0;
    std::uint32_t my_disc = 0;
    std::uint32_t your_disc = 0;
    std::uint32_t desired_min_tx = 0;
    std::uint32_t required_min_rx = 0;
    std::uint32_t required_min_echo_rx = 0;
    std::size_t datagram = 0;
};

struct Check {
    BfdDecodeError error;
    bool (*rejects)(const Raw&);
};

// RFC 5880 section 6.8.6, packet-only rules in the RFC's order; the last row is the exact
// consumption rule (no Authentication Section is accepted, so nothing may follow octet 24).
constexpr std::array kChecks{
    Check{BfdDecodeError::BadVersion, [](const Raw& r) { return r.version != kBfdVersion; }},
    Check{BfdDecodeError::LengthTooShort,
          [](const Raw& r) { return r.length < kBfdControlLength; }},
    Check{BfdDecodeError::LengthExceedsPayload, [](const Raw& r) { return r.length > r.datagram; }},
    Check{BfdDecodeError::ZeroDetectMult, [](const Raw& r) { return r.detect_mult == 0; }},
    Check{BfdDecodeError::Multipoint, [](const Raw& r) { return (r.flags & kMultipoint) != 0; }},
    Check{BfdDecodeError::ZeroMyDiscriminator, [](const Raw& r) { return r.my_disc == 0; }},
    Check{BfdDecodeError::ZeroYourDiscriminator,
          [](const Raw& r) {
              const auto s = static_cast<BfdState>(r.state);
              return r.your_disc == 0 && s != BfdState::Down && s != BfdState::AdminDown;
          }},
    Check{BfdDecodeError::AuthenticationUnsupported,
          [](const Raw& r) { return (r.flags & kAuth) != 0; }},
    Check{BfdDecodeError::TrailingBytes,
          [](const Raw& r) { return r.length != kBfdControlLength || r.datagram != r.length; }},
};

}  // namespace

const char* to_string(BfdState s) {
    switch (s) {
        case BfdState::AdminDown:
            return "AdminDown";
        case BfdState::Down:
            return "Down";
        case BfdState::Init:
            return "Init";
        case BfdState::Up:
            return "Up";
    }
    return "?";
}

const char* to_string(BfdDiag d) {
    static constexpr const char* kNames[] = {
        "no-diagnostic",
        "control-detection-time-expired",
        "echo-function-failed",
        "neighbor-signaled-session-down",
        "forwarding-plane-reset",
        "path-down",
        "concatenated-path-down",
        "administratively-down",
        "reverse-concatenated-path-down",
    };
    const auto i = static_cast<std::size_t>(d);
    return i < std::size(kNames) ? kNames[i] : "unknown-diagnostic";
}

const char* to_string(BfdDecodeError e) {
    switch (e) {
        case BfdDecodeError::Truncated:
            return "truncated";
        case BfdDecodeError::BadVersion:
            return "bad version";
        case BfdDecodeError::LengthTooShort:
            return "length below 24";
        case BfdDecodeError::LengthExceedsPayload:
            return "length exceeds the datagram";
        case BfdDecodeError::ZeroDetectMult:
            return "detect mult 0";
        case BfdDecodeError::Multipoint:
            return "multipoint bit set";
        case BfdDecodeError::ZeroMyDiscriminator:
            return "my discriminator 0";
        case BfdDecodeError::ZeroYourDiscriminator:
            return "your discriminator 0 outside Down/AdminDown";
        case BfdDecodeError::AuthenticationUnsupported:
            return "authentication not supported";
        case BfdDecodeError::TrailingBytes:
            return "octets beyond the control packet";
    }
    return "?";
}

Bytes encode_bfd_control(const BfdControl& c) {
    Bytes out;
    out.reserve(kBfdControlLength);
    Writer w(out);
    w.u8(
        static_cast<std::uint8_t>((kBfdVersion << 5) | (static_cast<std::uint8_t>(c.diag) & 0x1f)));
    std::uint8_t flags = static_cast<std::uint8_t>(static_cast<std::uint8_t>(c.state) << 6);
    if (c.poll) flags |= kPoll;
    if (c.final) flags |= kFinal;
    if (c.control_plane_independent) flags |= kCpi;
    if (c.demand) flags |= kDemand;
    w.u8(flags);
    w.u8(c.detect_mult);
    w.u8(static_cast<std::uint8_t>(kBfdControlLength));
    w.u32(c.my_discriminator);
    w.u32(c.your_discriminator);
    w.u32(c.desired_min_tx_us);
    w.u32(c.required_min_rx_us);
    w.u32(c.required_min_echo_rx_us);
    return out;
}

std::expected<BfdControl, BfdDecodeError> decode_bfd_control(ByteView datagram) {
    Reader r(datagram);
    if (!r.has(kBfdControlLength)) return std::unexpected(BfdDecodeError::Truncated);
    Raw raw;
    const std::uint8_t vers_diag = r.u8();
    raw.version = static_cast<std::uint8_t>(vers_diag >> 5);
    raw.diag = vers_diag & 0x1f;
    const std::uint8_t sta_flags = r.u8();
    raw.state = static_cast<std::uint8_t>(sta_flags >> 6);
    raw.flags = sta_flags & 0x3f;
    raw.detect_mult = r.u8();
    raw.length = r.u8();
    raw.my_disc = r.u32();
    raw.your_disc = r.u32();
    raw.desired_min_tx = r.u32();
    raw.required_min_rx = r.u32();
    raw.required_min_echo_rx = r.u32();
    raw.datagram = datagram.size();
    for (const auto& check : kChecks) {
        if (check.rejects(raw)) return std::unexpected(check.error);
    }
    if (!r.empty()) return std::unexpected(BfdDecodeError::TrailingBytes);  // kChecks covers it

    BfdControl c;
    c.diag = static_cast<BfdDiag>(raw.diag);
    c.state = static_cast<BfdState>(raw.state);
    c.poll = (raw.flags & kPoll) != 0;
    c.final = (raw.flags & kFinal) != 0;
    c.control_plane_independent = (raw.flags & kCpi) != 0;
    c.demand = (raw.flags & kDemand) != 0;
    c.detect_mult = raw.detect_mult;
    c.my_discriminator = raw.my_disc;
    c.your_discriminator = raw.your_disc;
    c.desired_min_tx_us = raw.desired_min_tx;
    c.required_min_rx_us = raw.required_min_rx;
    c.required_min_echo_rx_us = raw.required_min_echo_rx;
    return c;
}

}  // namespace cgwd::bgp
