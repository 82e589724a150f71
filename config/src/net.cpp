#include "cgwd/config/net.hpp"

#include <arpa/inet.h>

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

std::optional<Ipv6Address> Ipv6Address::parse(std::string_view text) {
    // inet_pton takes a C string; the longest text form is 45 characters.
    if (text.empty() || text.size() > 45) return std::nullopt;
    const std::string s(text);
    Ipv6Address a;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
}

std::string Ipv6Address::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

Ipv6Prefix Ipv6Prefix::of(const Ipv6Address& address, std::uint8_t length) {
    Ipv6Prefix p;
    p.length = length > 128 ? 128 : length;
    for (std::size_t i = 0; i < 16; ++i) {
        const int bits = static_cast<int>(p.length) - static_cast<int>(i) * 8;
        const std::uint8_t mask = bits >= 8   ? 0xff
                                  : bits <= 0 ? 0
                                              : static_cast<std::uint8_t>(0xff << (8 - bits));
        p.address.bytes[i] = address.bytes[i] & mask;
    }
    return p;
}

namespace {

// "ADDRESS/LENGTH" split; nullopt unless the length is digits only and at most `max`.
std::optional<std::pair<std::string_view, std::uint8_t>> split_prefix(std::string_view text,
                                                                      unsigned max) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto len_text = text.substr(slash + 1);
    unsigned length = 0;
    auto [next, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (len_text.empty() || ec != std::errc{} || next != len_text.data() + len_text.size() ||
        length > max)
        return std::nullopt;
    return std::pair{text.substr(0, slash), static_cast<std::uint8_t>(length)};
}

}  // namespace

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text, bool* host_bits_set) {
    auto parts = split_prefix(text, 128);
    if (!parts) return std::nullopt;
    auto address = Ipv6Address::parse(parts->first);
    if (!address) return std::nullopt;
    auto prefix = of(*address, parts->second);
    if (host_bits_set) *host_bits_set = prefix.address != *address;
    return prefix;
}

std::string Ipv6Prefix::to_string() const {
    return address.to_string() + '/' + std::to_string(length);
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.find(':') == std::string_view::npos) {
        if (auto a = Ipv4Address::parse(text)) return IpAddress(*a);
        return std::nullopt;
    }
    if (auto a = Ipv6Address::parse(text)) return IpAddress(*a);
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    return std::visit([](const auto& a) { return a.to_string(); }, value);
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text, bool* host_bits_set) {
    if (text.find(':') == std::string_view::npos) {
        if (auto p = Ipv4Prefix::parse(text, host_bits_set)) return IpPrefix(*p);
        return std::nullopt;
    }
    if (auto p = Ipv6Prefix::parse(text, host_bits_set)) return IpPrefix(*p);
    return std::nullopt;
}

IpPrefix IpPrefix::of(const IpAddress& address, std::uint8_t length) {
    if (const auto* a = address.v4()) return Ipv4Prefix::of(*a, length > 32 ? 32 : length);
    return Ipv6Prefix::of(*address.v6(), length);
}

std::optional<Ipv4Prefix> IpPrefix::v4() const {
    if (const auto* a = address.v4()) return Ipv4Prefix::of(*a, length);
    return std::nullopt;
}

std::optional<Ipv6Prefix> IpPrefix::v6() const {
    if (const auto* a = address.v6()) return Ipv6Prefix::of(*a, length);
    return std::nullopt;
}

bool IpPrefix::contains(const IpAddress& a) const {
    if (a.is_v6() != is_v6()) return false;
    return of(a, length) == *this;
}

std::string IpPrefix::to_string() const {
    return address.to_string() + '/' + std::to_string(length);
}

}  // namespace cgwd::config
