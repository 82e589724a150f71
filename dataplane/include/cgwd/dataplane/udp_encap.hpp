// UDP encapsulation of ESP (RFC 3948) and the port-4500 demultiplexer.
//
// On UDP port 4500 three things arrive (RFC 3948 section 2):
//
//   UDP-encapsulated ESP          IKE with Non-ESP Marker        NAT-keepalive
//   +------------------------+    +------------------------+    +------+
//   | UDP header (8)         |    | UDP header (8)         |    | UDP  |
//   +------------------------+    +------------------------+    +------+
//   | SPI (nonzero, 4)       |    | 0x00000000 (4)         |    | 0xFF |
//   | ESP ...                |    | IKE header ...         |    +------+
//
// The UDP header is  src port (2) | dst port (2) | length (2) | checksum (2); the checksum of
// UDP-encapsulated ESP is sent as zero (RFC 3948 section 2.1). No OpenSSL, no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>

namespace cgwd::dataplane::udp {

inline constexpr std::uint16_t nat_t_port = 4500;
inline constexpr std::size_t header_size = 8;
inline constexpr std::size_t non_esp_marker_size = 4;

enum class PayloadKind : std::uint8_t { esp, ike, keepalive };

enum class UdpError : std::uint8_t {
    truncated,         // shorter than a UDP header / than the length field says
    bad_length,        // UDP length field inconsistent with the datagram
    unknown,           // neither ESP, IKE nor keepalive (e.g. 1..3 bytes, short ESP)
    buffer_too_small,  // caller's output buffer too small
};

struct Classified {
    PayloadKind kind = PayloadKind::esp;
    std::span<const std::uint8_t> data;  // ESP from the SPI on, IKE without the marker, or empty
};

// Classifies a UDP payload received on port 4500 (what a UDP socket returns).
[[nodiscard]] std::expected<Classified, UdpError> classify(std::span<const std::uint8_t> payload);

struct Datagram {
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::span<const std::uint8_t> payload;
};

// Parses a UDP header + payload (e.g. from a raw socket); the length field must match exactly.
[[nodiscard]] std::expected<Datagram, UdpError> parse(std::span<const std::uint8_t> datagram);

// Writes a UDP header (checksum 0) in front of an ESP packet that already sits at
// out[header_size, header_size + esp_length). Returns the datagram length.
[[nodiscard]] std::expected<std::size_t, UdpError> wrap_esp(std::uint16_t src_port,
                                                            std::uint16_t dst_port,
                                                            std::size_t esp_length,
                                                            std::span<std::uint8_t> out);

// Writes the Non-ESP Marker followed by `ike` (an IKE message) into `out`; returns the length.
[[nodiscard]] std::expected<std::size_t, UdpError> add_non_esp_marker(
    std::span<const std::uint8_t> ike, std::span<std::uint8_t> out);

// The NAT-keepalive payload (RFC 3948 section 2.3): one byte 0xFF.
inline constexpr std::uint8_t keepalive_byte = 0xff;

}  // namespace cgwd::dataplane::udp
