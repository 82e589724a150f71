#include "cgwd/bgp/gtsm.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace cgwd::bgp {
namespace {

std::expected<void, std::string> setopt(int fd, int level, int name, int value, const char* what) {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
        return std::unexpected(std::string("GTSM: ") + what + ": " + std::strerror(errno));
    }
    return {};
}

}  // namespace

std::expected<void, std::string> set_gtsm(int fd, std::uint8_t trust_radius) {
    if (trust_radius > 254) return std::unexpected(std::string("GTSM: trust radius above 254"));
    int domain = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
        return std::unexpected(std::string("GTSM: not a socket: ") + std::strerror(errno));
    }
    const int min_ttl = kGtsmTtl - trust_radius;
    if (domain == AF_INET6) {
        if (auto r = setopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kGtsmTtl, "IPV6_UNICAST_HOPS");
            !r) {
            return r;
        }
        if (auto r = setopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, min_ttl, "IPV6_MINHOPCOUNT"); !r) {
            return r;
        }
    } else if (domain != AF_INET) {
        return std::unexpected(std::string("GTSM: not an IP socket"));
    }
    // IPv4, or IPv4-mapped peers on an IPv6 socket.
    if (auto r = setopt(fd, IPPROTO_IP, IP_TTL, kGtsmTtl, "IP_TTL"); !r) return r;
    return setopt(fd, IPPROTO_IP, IP_MINTTL, min_ttl, "IP_MINTTL");
}

}  // namespace cgwd::bgp
