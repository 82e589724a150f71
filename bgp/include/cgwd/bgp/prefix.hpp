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
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
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
    // Ordered by family, then length, then address (the order a defaulted <=> gives), compared
    // as two big-endian 64-bit integers inline: prefixes are the keys of every RIB map.
    friend std::strong_ordering operator<=>(const Prefix& a, const Prefix& b) {
        if (a.afi != b.afi) return a.afi <=> b.afi;
        if (a.length != b.length) return a.length <=> b.length;
        if (const auto hi = a.word(0) <=> b.word(0); hi != 0) return hi;
        return a.word(1) <=> b.word(1);
    }
    friend bool operator==(const Prefix& a, const Prefix& b) {
        return a.afi == b.afi && a.length == b.length && a.word(0) == b.word(0) &&
               a.word(1) == b.word(1);
    }

  private:
    // Octets 8*i .. 8*i+7 of the address as a big-endian integer.
    [[nodiscard]] std::uint64_t word(std::size_t i) const {
        std::uint64_t v;
        std::memcpy(&v, address.data() + 8 * i, sizeof v);
        if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
        return v;
    }
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
