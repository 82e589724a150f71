// UDP port 4500 demultiplexing for NAT traversal (RFC 3948 sections 2.2 and 2.3,
// RFC 7296 section 2.23).
//
// On port 4500, IKE messages are prefixed with a 4-byte non-ESP marker (all zero), ESP packets
// start with their non-zero SPI, and a NAT-keepalive is the single byte 0xFF. This module only
// classifies and frames; it does not parse ESP or IKE.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cgwd::ike {

inline constexpr std::size_t non_esp_marker_size = 4;

enum class Udp4500Kind {
    ike,        // `data` is the IKE message after the non-ESP marker
    esp,        // `data` is the whole ESP packet (SPI first)
    keepalive,  // single 0xFF byte; `data` is empty
    invalid,    // too short to be anything; drop
};

struct Udp4500Packet {
    Udp4500Kind kind = Udp4500Kind::invalid;
    std::span<const std::uint8_t> data;
};

// Classify a UDP/4500 payload. ESP needs at least SPI + sequence number (8 bytes).
[[nodiscard]] Udp4500Packet classify_udp4500(std::span<const std::uint8_t> udp_payload);

// The bytes to send on port 4500 for an encoded IKE message: marker + message.
std::vector<std::uint8_t> add_non_esp_marker(std::span<const std::uint8_t> ike_message);

}  // namespace cgwd::ike
