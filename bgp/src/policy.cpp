#include "cgwd/bgp/policy.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace cgwd::bgp {

IpAddress IpAddress::v4(std::uint32_t host_order) {
    IpAddress a;
    for (std::size_t i = 0; i < 4; ++i) {
        a.bytes[i] = static_cast<std::uint8_t>(host_order >> (24 - 8 * i));
    }
    return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& b) {
    IpAddress a;
    a.afi = Afi::Ipv6;
    a.bytes = b;
    return a;
}

std::uint32_t IpAddress::v4_host_order() const {
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
           (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(afi == Afi::Ipv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<IpAddress> parse_address(std::string_view text) {
    const std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
    a.afi = Afi::Ipv6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
    return std::nullopt;
}

namespace {

// True when the first `len` bits of a and b agree.
bool same_bits(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
               unsigned len) {
    for (unsigned i = 0; i < len / 8; ++i) {
        if (a[i] != b[i]) return false;
    }
    if (len % 8 == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xFF << (8 - len % 8));
    return (a[len / 8] & mask) == (b[len / 8] & mask);
}

}  // namespace

std::optional<Prefix> parse_prefix(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = parse_address(text.substr(0, slash));
    if (!addr) return std::nullopt;
    const auto len_text = text.substr(slash + 1);
    unsigned len = 0;
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (ec != std::errc{} || ptr != len_text.data() + len_text.size()) return std::nullopt;
    Prefix p;
    p.afi = addr->afi;
    if (len > p.max_length()) return std::nullopt;
    p.length = static_cast<std::uint8_t>(len);
    p.address = addr->bytes;
    // Refuse host bits: the prefix must equal its own masked form.
    std::array<std::uint8_t, 16> masked{};
    for (unsigned i = 0; i < 16; ++i) {
        if (i * 8 + 8 <= len) {
            masked[i] = p.address[i];
        } else if (i * 8 < len) {
            masked[i] = static_cast<std::uint8_t>(p.address[i] & (0xFF << (8 - len % 8)));
        }
    }
    if (masked != p.address) return std::nullopt;
    return p;
}

bool PrefixListEntry::matches(const Prefix& p) const {
    if (p.afi != prefix.afi || p.length < prefix.length) return false;
    if (!same_bits(p.address, prefix.address, prefix.length)) return false;
    const unsigned lo = ge ? *ge : prefix.length;
    const unsigned hi = le ? *le : (ge ? p.max_length() : prefix.length);
    return p.length >= lo && p.length <= hi;
}

bool PrefixListPolicy::permits(const Prefix& p) const {
    for (const auto& e : entries) {
        if (e.matches(p)) return e.permit;
    }
    return false;
}

Notification make_max_prefix_notification(AfiSafi af, std::uint32_t limit) {
    Bytes data;
    Writer w(data);
    w.u16(af.afi);
    w.u8(af.safi);
    w.u32(limit);
    return Notification::make(ErrorCode::Cease, cease::kMaxPrefixesReached, std::move(data));
}

}  // namespace cgwd::bgp
