#include "cgwd/bgp/tcp_md5.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cgwd::bgp {

namespace {

std::expected<void, std::string> install(int fd, const IpAddress& peer,
                                         std::span<const std::uint8_t> key) {
    int domain = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
        return std::unexpected("TCP-MD5 for " + peer.to_string() +
                               ": not a socket: " + std::strerror(errno));
    }
    tcp_md5sig sig{};
    if (domain == AF_INET && peer.afi == Afi::Ipv4) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        std::memcpy(&sa.sin_addr, peer.bytes.data(), 4);
        std::memcpy(&sig.tcpm_addr, &sa, sizeof sa);
    } else if (domain == AF_INET6) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        if (peer.afi == Afi::Ipv4) {  // IPv4-mapped: ::ffff:a.b.c.d
            sa.sin6_addr.s6_addr[10] = 0xff;
            sa.sin6_addr.s6_addr[11] = 0xff;
            std::memcpy(&sa.sin6_addr.s6_addr[12], peer.bytes.data(), 4);
        } else {
            std::memcpy(&sa.sin6_addr, peer.bytes.data(), 16);
        }
        std::memcpy(&sig.tcpm_addr, &sa, sizeof sa);
    } else {
        return std::unexpected("TCP-MD5 for " + peer.to_string() +
                               ": an IPv6 peer needs an IPv6 socket");
    }
    sig.tcpm_keylen = static_cast<std::uint16_t>(key.size());
    std::copy(key.begin(), key.end(), sig.tcpm_key);
    const int rc = ::setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig);
    const int saved = errno;
    ::explicit_bzero(&sig, sizeof sig);
    if (rc != 0) {
        return std::unexpected("setsockopt(TCP_MD5SIG) for " + peer.to_string() + ": " +
                               std::strerror(saved));
    }
    return {};
}

}  // namespace

std::expected<void, std::string> set_tcp_md5(int fd, const IpAddress& peer,
                                             std::span<const std::uint8_t> key) {
    if (key.empty()) {
        return std::unexpected("TCP-MD5 for " + peer.to_string() + ": the key is empty");
    }
    if (key.size() > kTcpMd5MaxKeyLength) {
        return std::unexpected("TCP-MD5 for " + peer.to_string() + ": the key is " +
                               std::to_string(key.size()) + " octets, at most " +
                               std::to_string(kTcpMd5MaxKeyLength) + " allowed");
    }
    return install(fd, peer, key);
}

std::expected<void, std::string> clear_tcp_md5(int fd, const IpAddress& peer) {
    return install(fd, peer, {});
}

}  // namespace cgwd::bgp
