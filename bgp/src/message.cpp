#include "cgwd/bgp/message.hpp"

#include <algorithm>

namespace cgwd::bgp {

Bytes encode_message(MessageType type, ByteView body) {
    Bytes out;
    out.reserve(kHeaderSize + body.size());
    Writer w(out);
    for (std::size_t i = 0; i < kMarkerSize; ++i) w.u8(0xff);
    w.u16(static_cast<std::uint16_t>(kHeaderSize + body.size()));
    w.u8(static_cast<std::uint8_t>(type));
    w.bytes(body);
    return out;
}

Bytes encode_keepalive() {
    return encode_message(MessageType::Keepalive, {});
}

Bytes encode_notification(const Notification& n) {
    Bytes body;
    Writer w(body);
    w.u8(n.code);
    w.u8(n.subcode);
    // Data is capped so the message never exceeds the 4096-octet maximum.
    const std::size_t room = kMaxMessageSize - kHeaderSize - 2;
    w.bytes(ByteView(n.data).first(std::min(n.data.size(), room)));
    return encode_message(MessageType::Notification, body);
}

Bytes encode_route_refresh(const RouteRefresh& r) {
    Bytes body;
    Writer w(body);
    w.u16(r.afi);
    w.u8(r.subtype);
    w.u8(r.safi);
    return encode_message(MessageType::RouteRefresh, body);
}

std::expected<Notification, Notification> decode_notification(ByteView body) {
    Reader r(body);
    if (!r.has(2)) {
        return std::unexpected(
            Notification::make(ErrorCode::MessageHeader, header_error::kBadMessageLength));
    }
    Notification n;
    n.code = r.u8();
    n.subcode = r.u8();
    auto rest = r.rest();
    n.data.assign(rest.begin(), rest.end());
    return n;
}

std::expected<RouteRefresh, Notification> decode_route_refresh(ByteView body) {
    Reader r(body);
    if (body.size() != 4) {
        return std::unexpected(
            Notification::make(ErrorCode::MessageHeader, header_error::kBadMessageLength));
    }
    RouteRefresh rr;
    rr.afi = r.u16();
    rr.subtype = r.u8();
    rr.safi = r.u8();
    return rr;
}

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (text.size() - i <= extra) return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Reject overlong forms, surrogates and values past U+10FFFF.
        static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += extra + 1;
    }
    return true;
}

Notification make_shutdown_notification(std::uint8_t cease_subcode, std::string_view message) {
    std::size_t len = std::min<std::size_t>(message.size(), 255);
    // Step back over continuation octets so a multi-octet character is never split.
    if (len < message.size()) {
        while (len > 0 && (static_cast<unsigned char>(message[len]) & 0xc0) == 0x80) --len;
    }
    Notification n = Notification::make(ErrorCode::Cease, cease_subcode);
    // Sized once and copied into: GCC 12 at -O2 reports a false -Warray-bounds for insert().
    n.data.assign(1 + len, static_cast<std::uint8_t>(len));
    std::copy(message.begin(), message.begin() + static_cast<long>(len), n.data.begin() + 1);
    return n;
}

std::optional<std::string> shutdown_communication(const Notification& n) {
    if (n.error_code() != ErrorCode::Cease) return std::nullopt;
    if (n.subcode != cease::kAdministrativeShutdown && n.subcode != cease::kAdministrativeReset) {
        return std::nullopt;
    }
    if (n.data.empty()) return std::nullopt;
    const std::size_t len = n.data[0];
    if (len == 0 || len > n.data.size() - 1) return std::nullopt;
    std::string text(n.data.begin() + 1, n.data.begin() + 1 + static_cast<long>(len));
    if (!is_valid_utf8(text)) return std::nullopt;
    return text;
}

}  // namespace cgwd::bgp
