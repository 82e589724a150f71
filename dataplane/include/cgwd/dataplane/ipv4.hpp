// IPv4 packet helpers for the tunnel path: Internet checksum (RFC 1071) and its incremental
// update (RFC 1624), DF clearing, TCP MSS clamping on SYN / SYN-ACK, and fragmentation of an
// inner packet before encryption (RFC 791 section 3.2, "fragment before encryption").
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |Version|  IHL  |Type of Service|          Total Length         |  0
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |         Identification        |0|D|M|      Fragment Offset    |  4
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Time to Live |    Protocol   |         Header Checksum       |  8
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |                       Source Address                          | 12
//   |                    Destination Address                        | 16
//   |                    Options (copied flag = top bit of type)    | 20..
//
// All functions work in place or into caller buffers; none allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>

namespace cgwd::dataplane::ipv4 {

enum class Ipv4Error : std::uint8_t {
    truncated,            // shorter than its headers / total length say
    malformed,            // not IPv4, IHL < 5, bad options
    needs_fragmentation,  // larger than the MTU with DF set and clear_df off: send ICMP 3/4
    mtu_too_small,        // MTU below 68 (RFC 791) or below header + 8 bytes
    buffer_too_small,
};

// RFC 1071: one's complement of the one's complement sum of 16-bit words (odd length padded).
std::uint16_t internet_checksum(std::span<const std::uint8_t> data);
// Writes the header checksum of the IPv4 header `header` (its IHL bytes, at least 20).
void set_header_checksum(std::span<std::uint8_t> header);
// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for one 16-bit word changed from m to m'.
std::uint16_t checksum_adjust(std::uint16_t checksum, std::uint16_t old_word,
                              std::uint16_t new_word);

// Validated view of an IPv4 header; the packet is `total_length` bytes (trailing bytes of
// the buffer ignored).
struct Header {
    std::size_t header_length = 0;
    std::size_t total_length = 0;
    std::uint8_t protocol = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    std::uint16_t fragment_offset = 0;  // in 8-byte units
};
[[nodiscard]] std::expected<Header, Ipv4Error> parse(std::span<const std::uint8_t> packet);

// Clears DF and fixes the header checksum incrementally. Returns whether DF was set.
[[nodiscard]] std::expected<bool, Ipv4Error> clear_df(std::span<std::uint8_t> packet);

// On a TCP segment with SYN (SYN or SYN-ACK) whose MSS option exceeds `max_mss`, rewrites the
// option to `max_mss` and fixes the TCP checksum incrementally. Returns whether it rewrote.
// Other packets (not TCP, not SYN, non-first fragments, no MSS option) are left alone.
[[nodiscard]] std::expected<bool, Ipv4Error> clamp_mss(std::span<std::uint8_t> packet,
                                                       std::uint16_t max_mss);

// Splits an IPv4 packet into fragments of at most `mtu` bytes, one at a time into caller
// buffers. A packet that fits yields one piece, a copy. Options without the copied flag only
// go into the first fragment. With DF set: refused (needs_fragmentation) unless `clear_df`,
// in which case DF is cleared in every fragment.
class Fragmenter {
  public:
    [[nodiscard]] static std::expected<Fragmenter, Ipv4Error> create(
        std::span<const std::uint8_t> packet, std::uint16_t mtu, bool clear_df);

    bool done() const { return pos_ >= payload_length_ && started_; }
    std::size_t fragment_count() const;
    // Writes the next fragment into `out` (at least mtu bytes suffice); returns its length.
    [[nodiscard]] std::expected<std::size_t, Ipv4Error> next(std::span<std::uint8_t> out);

  private:
    Fragmenter() = default;
    std::span<const std::uint8_t> packet_;
    Header header_;
    std::size_t mtu_ = 0;
    bool clear_df_ = false;
    std::size_t payload_length_ = 0;
    std::size_t pos_ = 0;
    bool started_ = false;
    std::array<std::uint8_t, 40> copied_options_{};
    std::size_t copied_length_ = 0;  // padded to a multiple of 4
};

}  // namespace cgwd::dataplane::ipv4
