// BFD over UDP for the lab tools (RFC 5881 single hop, IPv4): the socket side of BfdSession.
//
// Receive: UDP port 3784 on the local address; IP_RECVTTL delivers each datagram's TTL, and
// anything not sent with TTL 255 (RFC 5881 section 5, the GTSM check) or not from the peer's
// address is dropped before it reaches the session. Send: a second socket bound to a source
// port picked at random from 49152-65535 (RFC 5881 section 4), IP_TTL 255, to peer:3784.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <string>

#include "cgwd/bgp/bfd_session.hpp"

namespace cgwd::bgp::tools {

class BfdSocket {
  public:
    // Empty string on success, else what failed.
    std::string open(std::uint32_t local_host_order, std::uint32_t peer_host_order) {
        peer_ = peer_host_order;
        rx_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        tx_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (rx_ < 0 || tx_ < 0) return std::string("socket: ") + std::strerror(errno);
        const int one = 1, ttl = 255;
        if (::setsockopt(rx_, IPPROTO_IP, IP_RECVTTL, &one, sizeof one) != 0 ||
            ::setsockopt(tx_, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) != 0) {
            return std::string("setsockopt: ") + std::strerror(errno);
        }
        sockaddr_in sa = address(local_host_order, kBfdControlPort);
        if (::bind(rx_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            return std::string("bind port 3784: ") + std::strerror(errno);
        }
        std::random_device rd;
        std::uniform_int_distribution<int> port(49152, 65535);
        for (int attempt = 0;; ++attempt) {
            sa = address(local_host_order, static_cast<std::uint16_t>(port(rd)));
            if (::bind(tx_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) break;
            if (errno != EADDRINUSE || attempt == 64) {
                return std::string("bind source port: ") + std::strerror(errno);
            }
        }
        return {};
    }
    ~BfdSocket() {
        if (rx_ >= 0) ::close(rx_);
        if (tx_ >= 0) ::close(tx_);
    }

    [[nodiscard]] int receive_fd() const { return rx_; }

    void send(const Bytes& packet) const {
        const sockaddr_in to = address(peer_, kBfdControlPort);
        (void)::sendto(tx_, packet.data(), packet.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                       sizeof to);
    }

    struct Datagram {
        Bytes bytes;
        int ttl = -1;
        bool from_peer = false;
    };
    // One datagram (the caller polled receive_fd()).
    [[nodiscard]] std::optional<Datagram> receive() const {
        std::uint8_t buf[512];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        sockaddr_in from{};
        iovec iov{buf, sizeof buf};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(rx_, &msg, MSG_DONTWAIT);
        if (n < 0) return std::nullopt;
        Datagram d;
        d.bytes.assign(buf, buf + n);
        d.from_peer = ntohl(from.sin_addr.s_addr) == peer_;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
                std::memcpy(&d.ttl, CMSG_DATA(c), sizeof d.ttl);
            }
        }
        return d;
    }

  private:
    static sockaddr_in address(std::uint32_t host_order, std::uint16_t port) {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(host_order);
        return sa;
    }

    int rx_ = -1;
    int tx_ = -1;
    std::uint32_t peer_ = 0;
};

}  // namespace cgwd::bgp::tools
