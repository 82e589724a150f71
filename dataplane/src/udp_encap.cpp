#include "cgwd/dataplane/udp_encap.hpp"

#include <cstring>

namespace cgwd::dataplane::udp {

namespace {

std::uint16_t load16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
void store16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::expected<Classified, UdpError> classify(std::span<const std::uint8_t> payload) {
    if (payload.size() == 1 && payload[0] == keepalive_byte)
        return Classified{PayloadKind::keepalive, {}};
    if (payload.size() < non_esp_marker_size) return std::unexpected(UdpError::unknown);
    const bool marker = payload[0] == 0 && payload[1] == 0 && payload[2] == 0 && payload[3] == 0;
    if (marker) return Classified{PayloadKind::ike, payload.subspan(non_esp_marker_size)};
    // ESP needs at least SPI + sequence number (RFC 3948 section 2.2).
    if (payload.size() < 8) return std::unexpected(UdpError::unknown);
    return Classified{PayloadKind::esp, payload};
}

std::expected<Datagram, UdpError> parse(std::span<const std::uint8_t> datagram) {
    if (datagram.size() < header_size) return std::unexpected(UdpError::truncated);
    const std::uint8_t* p = datagram.data();
    const std::uint16_t length = load16(p + 4);
    if (length < header_size) return std::unexpected(UdpError::bad_length);
    if (length > datagram.size()) return std::unexpected(UdpError::truncated);
    if (length != datagram.size()) return std::unexpected(UdpError::bad_length);
    return Datagram{load16(p), load16(p + 2), datagram.subspan(header_size)};
}

std::expected<std::size_t, UdpError> wrap_esp(std::uint16_t src_port, std::uint16_t dst_port,
                                              std::size_t esp_length, std::span<std::uint8_t> out) {
    const std::size_t total = header_size + esp_length;
    if (total > 0xffff) return std::unexpected(UdpError::bad_length);
    if (out.size() < total) return std::unexpected(UdpError::buffer_too_small);
    std::uint8_t* p = out.data();
    store16(p, src_port);
    store16(p + 2, dst_port);
    store16(p + 4, static_cast<std::uint16_t>(total));
    store16(p + 6, 0);  // RFC 3948 section 2.1: checksum zero
    return total;
}

std::expected<std::size_t, UdpError> add_non_esp_marker(std::span<const std::uint8_t> ike,
                                                        std::span<std::uint8_t> out) {
    const std::size_t total = non_esp_marker_size + ike.size();
    if (out.size() < total) return std::unexpected(UdpError::buffer_too_small);
    std::memmove(out.data() + non_esp_marker_size, ike.data(), ike.size());
    std::memset(out.data(), 0, non_esp_marker_size);
    return total;
}

}  // namespace cgwd::dataplane::udp
