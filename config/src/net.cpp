#include "cgwd/config/net.hpp"

#include <charconv>

namespace cgwd::config {

std::optional<Ipv4Address> Ipv4Address::parse(std::string_view text) {
    std::uint32_t value = 0;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
        if (p == end || *p < '0' || *p > '9') return std::nullopt;
        // No leading zeros ("010" is ambiguous: octal to some tools).
        if (*p == '0' && p + 1 != end && p[1] >= '0' && p[1] <= '9') return std::nullopt;
        unsigned part = 0;
        auto [next, ec] = std::from_chars(p, end, part);
        if (ec != std::errc{} || part > 255 || next - p > 3) return std::nullopt;
        value = (value << 8) | part;
        p = next;
    }
    if (p != end) return std::nullopt;
    return Ipv4Address{value};
}

std::string Ipv4Address::to_string() const {
    return std::to_string(value >> 24) + '.' + std::to_string((value >> 16) & 0xff) + '.' +
           std::to_string((value >> 8) & 0xff) + '.' + std::to_string(value & 0xff);
}

Ipv4Prefix Ipv4Prefix::of(Ipv4Address address, std::uint8_t length) {
    Ipv4Prefix p;
    p.length = length;
    p.address = Ipv4Address{address.value & p.mask()};
    return p;
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text, bool* host_bits_set) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto address = Ipv4Address::parse(text.substr(0, slash));
    auto len_text = text.substr(slash + 1);
    unsigned length = 0;
    auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (!address || len_text.empty() || ec != std::errc{} ||
        next != len_text.data() + len_text.size() || length > 32)
        return std::nullopt;
    auto prefix = of(*address, static_cast<std::uint8_t>(length));
    if (host_bits_set) *host_bits_set = prefix.address != *address;
    return prefix;
}

std::string Ipv4Prefix::to_string() const {
    return address.to_string() + '/' + std::to_string(length);
}

}  // namespace cgwd::config
