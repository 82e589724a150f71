// UDP/4500 demultiplexing: non-ESP marker, ESP, NAT-keepalive (RFC 3948 sections 2.2, 2.3;
// RFC 7296 section 2.23).
#include "cgwd/ike/codec_natt.hpp"

#include <algorithm>

namespace cgwd::ike {
namespace {

constexpr std::size_t esp_min = 8;  // SPI + Sequence Number (RFC 4303 section 2)
constexpr std::uint8_t keepalive_byte = 0xFF;

}  // namespace

Udp4500Packet classify_udp4500(std::span<const std::uint8_t> udp_payload) {
    if (udp_payload.size() == 1 && udp_payload[0] == keepalive_byte)
        return {Udp4500Kind::keepalive, {}};
    if (udp_payload.size() < non_esp_marker_size) return {Udp4500Kind::invalid, {}};
    const auto marker = udp_payload.first(non_esp_marker_size);
    const bool zero = std::all_of(marker.begin(), marker.end(), [](auto b) { return b == 0; });
    if (zero) return {Udp4500Kind::ike, udp_payload.subspan(non_esp_marker_size)};
    if (udp_payload.size() < esp_min) return {Udp4500Kind::invalid, {}};
    return {Udp4500Kind::esp, udp_payload};
}

std::vector<std::uint8_t> add_non_esp_marker(std::span<const std::uint8_t> ike_message) {
    // Sized once and copied into: GCC 12 at -O2 reports a false -Warray-bounds for insert().
    std::vector<std::uint8_t> out(non_esp_marker_size + ike_message.size(), 0);
    std::copy(ike_message.begin(), ike_message.end(), out.begin() + non_esp_marker_size);
    return out;
}

}  // namespace cgwd::ike
