// Conversions between the configuration's addresses (config::IpAddress, either family) and the
// socket layer's: Boost.Asio addresses, and the sockaddr the kernel hands back (recvmsg,
// getifaddrs).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <optional>

#include "cgwd/config/net.hpp"

namespace cgwd::daemon {

inline boost::asio::ip::address to_asio(const config::IpAddress& a) {
    if (const auto* v4 = a.v4()) return boost::asio::ip::address_v4(v4->value);
    return boost::asio::ip::address_v6(a.v6()->bytes);
}

// The address of an AF_INET or AF_INET6 sockaddr; nullopt for null or another family.
inline std::optional<config::IpAddress> from_sockaddr(const sockaddr* sa) {
    if (sa && sa->sa_family == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, sa, sizeof sin);
        return config::IpAddress(config::Ipv4Address{ntohl(sin.sin_addr.s_addr)});
    }
    if (sa && sa->sa_family == AF_INET6) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, sa, sizeof sin6);
        config::Ipv6Address a;
        std::memcpy(a.bytes.data(), &sin6.sin6_addr, 16);
        return config::IpAddress(a);
    }
    return std::nullopt;
}

}  // namespace cgwd::daemon
