// BGP NLRI prefix encoding (RFC 4271 section 4.3, RFC 4760 section 5) for IPv4 and IPv6 unicast.
//
//   +---------------------------+
//   |   Length (1 octet, bits)  |
//   +---------------------------+
//   |   Prefix (ceil(Length/8) octets, trailing bits irrelevant)
//   +---------------------------+
//
// Decoding follows RFC 7606 section 5.3: a length above 32 (IPv4) or 128 (IPv6), or a prefix
// that overruns the field, makes the whole NLRI field malformed (the caller resets the session).
// Host bits set beyond the prefix length are cleared and reported in `host_bits_set`, which the
// UPDATE decoder turns into treat-as-withdraw.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "cgwd/bgp/open.hpp"
#include "cgwd/bgp/wire.hpp"

namespace cgwd::bgp {

struct Prefix {
    Afi afi = Afi::Ipv4;
    std::uint8_t length = 0;
    std::array<std::uint8_t, 16> address{};  // network order; only the first 4 used for IPv4

    static Prefix v4(std::uint32_t addr, std::uint8_t len);
    static Prefix v6(const std::array<std::uint8_t, 16>& addr, std::uint8_t len);
    [[nodiscard]] std::uint8_t max_length() const { return afi == Afi::Ipv4 ? 32 : 128; }
    [[nodiscard]] std::string to_string() const;
    friend auto operator<=>(const Prefix&, const Prefix&) = default;
};

struct PrefixList {
    std::vector<Prefix> prefixes;
    bool host_bits_set = false;
};

enum class NlriError : std::uint8_t {
    LengthTooLarge,  // prefix length > 32 / > 128
    Truncated,       // prefix octets overrun the field
};

[[nodiscard]] std::expected<PrefixList, NlriError> decode_prefixes(ByteView field, Afi afi);
void encode_prefix(Writer& w, const Prefix& p);

}  // namespace cgwd::bgp
