// Traffic Selector payload codec (TSi / TSr, RFC 7296 sections 3.13 and 3.13.1).
//
// TS payload body (after the generic header):
//                      1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | Number of TSs |                 RESERVED                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                       <Traffic Selectors>                     ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Traffic selector:
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   TS Type     |IP Protocol ID*|       Selector Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Start Port*         |           End Port*           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                         Starting Address*                     ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// ~                         Ending Address*                       ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   TS_IPV4_ADDR_RANGE (7): length 16, 4-byte addresses.
//   TS_IPV6_ADDR_RANGE (8): length 40, 16-byte addresses.
// Other TS types (e.g. RFC 9478 security labels) are rejected as INVALID_SYNTAX.
// Start Port 65535 / End Port 0 is the RFC's OPAQUE encoding, so ports are not range-checked.
#include <algorithm>

#include "payload_codec.hpp"

namespace cgwd::ike {

TrafficSelector TrafficSelector::ipv4(std::array<std::uint8_t, 4> start,
                                      std::array<std::uint8_t, 4> end, std::uint8_t protocol,
                                      std::uint16_t start_port, std::uint16_t end_port) {
    TrafficSelector ts;
    ts.type = TsType::ipv4_addr_range;
    ts.ip_protocol = protocol;
    ts.start_port = start_port;
    ts.end_port = end_port;
    std::copy(start.begin(), start.end(), ts.start_address.begin());
    std::copy(end.begin(), end.end(), ts.end_address.begin());
    return ts;
}

TrafficSelector TrafficSelector::ipv6(const std::array<std::uint8_t, 16>& start,
                                      const std::array<std::uint8_t, 16>& end,
                                      std::uint8_t protocol, std::uint16_t start_port,
                                      std::uint16_t end_port) {
    return TrafficSelector{TsType::ipv6_addr_range, protocol, start_port, end_port, start, end};
}

}  // namespace cgwd::ike

namespace cgwd::ike::detail {
namespace {

constexpr std::size_t address_size(TsType t) {
    switch (t) {
        case TsType::ipv4_addr_range:
            return 4;
        case TsType::ipv6_addr_range:
            return 16;
    }
    return 0;
}

}  // namespace

std::expected<TsPayload, DecodeError> decode_ts(Reader& r, const PayloadContext& ctx) {
    const std::size_t at = r.offset();
    const std::uint8_t count = r.u8();
    r.skip(3);
    if (count == 0) return fail(DecodeErrorKind::invalid_syntax, at, ctx.self);
    if (count > limits::max_selectors) return fail(DecodeErrorKind::too_many, at, ctx.self);
    TsPayload out;
    out.selectors.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t ts_at = r.offset();
        if (!r.has(8)) return fail(DecodeErrorKind::bad_length, ts_at, ctx.self);
        TrafficSelector ts;
        ts.type = static_cast<TsType>(r.u8());
        ts.ip_protocol = r.u8();
        const std::uint16_t length = r.u16();
        const std::size_t addr = address_size(ts.type);
        if (addr == 0) return fail(DecodeErrorKind::invalid_syntax, ts_at, ctx.self);
        if (length != 8 + 2 * addr || !r.has(length - 4u))
            return fail(DecodeErrorKind::bad_length, ts_at + 2, ctx.self);
        ts.start_port = r.u16();
        ts.end_port = r.u16();
        auto start = r.span(addr);
        auto end = r.span(addr);
        std::copy(start.begin(), start.end(), ts.start_address.begin());
        std::copy(end.begin(), end.end(), ts.end_address.begin());
        out.selectors.push_back(ts);
    }
    return out;
}

std::expected<void, EncodeError> encode_ts(const TsPayload& ts, Writer& w) {
    if (ts.selectors.empty()) return std::unexpected(EncodeError::invalid_value);
    if (ts.selectors.size() > limits::max_selectors) return std::unexpected(EncodeError::too_many);
    w.u8(static_cast<std::uint8_t>(ts.selectors.size()));
    w.zeros(3);
    for (const auto& s : ts.selectors) {
        const std::size_t addr = address_size(s.type);
        if (addr == 0) return std::unexpected(EncodeError::invalid_value);
        w.u8(static_cast<std::uint8_t>(s.type));
        w.u8(s.ip_protocol);
        w.u16(static_cast<std::uint16_t>(8 + 2 * addr));
        w.u16(s.start_port);
        w.u16(s.end_port);
        w.bytes(std::span(s.start_address).first(addr));
        w.bytes(std::span(s.end_address).first(addr));
    }
    return {};
}

}  // namespace cgwd::ike::detail
