// Small IPv4 value types used by the configuration model (no sockets, no OS calls).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace cgwd::config
