// Small address and prefix value types used by the configuration model and the dataplane's
// route and address messages (no sockets, no OS calls). IPv4 types, IPv6 types, and IpAddress /
// IpPrefix holding either family (constructible from the IPv4 ones, so IPv4-only code reads as
// before).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace cgwd::config {

struct Ipv4Address {
    std::uint32_t value = 0;  // host byte order
    static std::optional<Ipv4Address> parse(std::string_view text);
    std::string to_string() const;
    friend auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

struct Ipv4Prefix {
    Ipv4Address address;  // always the network address (host bits cleared)
    std::uint8_t length = 0;
    // "a.b.c.d/n"; host bits are cleared. `host_bits_set` tells the caller if any were.
    static std::optional<Ipv4Prefix> parse(std::string_view text, bool* host_bits_set = nullptr);
    static Ipv4Prefix of(Ipv4Address address, std::uint8_t length);
    std::uint32_t mask() const { return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length); }
    bool contains(Ipv4Address a) const { return (a.value & mask()) == address.value; }
    std::string to_string() const;
    friend auto operator<=>(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

struct Ipv6Address {
    std::array<std::uint8_t, 16> bytes{};  // network order
    // RFC 4291 section 2.2 text forms (no zone index, no prefix length).
    static std::optional<Ipv6Address> parse(std::string_view text);
    std::string to_string() const;  // RFC 5952 canonical form
    bool is_link_local() const { return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }
    friend auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;
};

struct Ipv6Prefix {
    Ipv6Address address;  // always the network address (host bits cleared)
    std::uint8_t length = 0;
    static std::optional<Ipv6Prefix> parse(std::string_view text, bool* host_bits_set = nullptr);
    static Ipv6Prefix of(const Ipv6Address& address, std::uint8_t length);
    bool contains(const Ipv6Address& a) const { return of(a, length).address == address; }
    std::string to_string() const;
    friend auto operator<=>(const Ipv6Prefix&, const Ipv6Prefix&) = default;
};

// An address of either family. IPv4 orders before IPv6.
struct IpAddress {
    std::variant<Ipv4Address, Ipv6Address> value;
    IpAddress() = default;
    IpAddress(Ipv4Address a) : value(a) {}  // NOLINT(google-explicit-constructor)
    IpAddress(Ipv6Address a) : value(a) {}  // NOLINT(google-explicit-constructor)
    // Either text form; IPv4 when the text has no ':'.
    static std::optional<IpAddress> parse(std::string_view text);
    bool is_v6() const { return value.index() == 1; }
    const Ipv4Address* v4() const { return std::get_if<Ipv4Address>(&value); }
    const Ipv6Address* v6() const { return std::get_if<Ipv6Address>(&value); }
    std::uint8_t max_length() const { return is_v6() ? 128 : 32; }
    std::string to_string() const;
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

// A prefix of either family.
struct IpPrefix {
    IpAddress address;  // the network address (host bits cleared)
    std::uint8_t length = 0;
    IpPrefix() = default;
    IpPrefix(Ipv4Prefix p)  // NOLINT(google-explicit-constructor)
        : address(p.address), length(p.length) {}
    IpPrefix(Ipv6Prefix p)  // NOLINT(google-explicit-constructor)
        : address(p.address), length(p.length) {}
    static std::optional<IpPrefix> parse(std::string_view text, bool* host_bits_set = nullptr);
    static IpPrefix of(const IpAddress& address, std::uint8_t length);
    bool is_v6() const { return address.is_v6(); }
    std::optional<Ipv4Prefix> v4() const;
    std::optional<Ipv6Prefix> v6() const;
    bool contains(const IpAddress& a) const;
    std::string to_string() const;
    friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
};

}  // namespace cgwd::config
