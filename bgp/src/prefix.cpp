#include "cgwd/bgp/prefix.hpp"

#include <cstdio>

namespace cgwd::bgp {

Prefix Prefix::v4(std::uint32_t addr, std::uint8_t len) {
    Prefix p;
    p.afi = Afi::Ipv4;
    p.length = len;
    for (int i = 0; i < 4; ++i)
        p.address[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(addr >> (24 - 8 * i));
    return p;
}

Prefix Prefix::v6(const std::array<std::uint8_t, 16>& addr, std::uint8_t len) {
    Prefix p;
    p.afi = Afi::Ipv6;
    p.length = len;
    p.address = addr;
    return p;
}

std::string Prefix::to_string() const {
    char buf[64];
    if (afi == Afi::Ipv4) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u/%u", address[0], address[1], address[2],
                      address[3], length);
        return buf;
    }
    std::string out;
    for (std::size_t i = 0; i < 16; i += 2) {
        std::snprintf(buf, sizeof buf, "%s%x", i ? ":" : "", (address[i] << 8) | address[i + 1]);
        out += buf;
    }
    std::snprintf(buf, sizeof buf, "/%u", length);
    return out + buf;
}

std::expected<PrefixList, NlriError> decode_prefixes(ByteView field, Afi afi) {
    PrefixList out;
    Reader r(field);
    const std::uint8_t max = afi == Afi::Ipv4 ? 32 : 128;
    while (!r.empty()) {
        const std::uint8_t len = r.u8();
        if (len > max) return std::unexpected(NlriError::LengthTooLarge);
        const std::size_t octets = (len + 7u) / 8u;
        if (!r.has(octets)) return std::unexpected(NlriError::Truncated);
        const ByteView bytes = r.bytes(octets);
        Prefix p;
        p.afi = afi;
        p.length = len;
        for (std::size_t i = 0; i < octets; ++i) p.address[i] = bytes[i];
        if (len % 8 != 0) {
            const auto mask = static_cast<std::uint8_t>(0xff << (8 - len % 8));
            if (p.address[octets - 1] & ~mask) {
                out.host_bits_set = true;
                p.address[octets - 1] &= mask;
            }
        }
        out.prefixes.push_back(p);
    }
    return out;
}

void encode_prefix(Writer& w, const Prefix& p) {
    w.u8(p.length);
    const std::size_t octets = (p.length + 7u) / 8u;
    for (std::size_t i = 0; i < octets; ++i) {
        std::uint8_t b = p.address[i];
        if (i + 1 == octets && p.length % 8 != 0) {
            b &= static_cast<std::uint8_t>(0xff << (8 - p.length % 8));
        }
        w.u8(b);
    }
}

}  // namespace cgwd::bgp
