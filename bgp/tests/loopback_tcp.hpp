// Loopback TCP helpers shared by the socket-option tests (TCP-MD5, GTSM): an owning fd, a
// listener on 127.0.0.1 with an ephemeral port, and a bounded non-blocking connect.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>

namespace cgwd::bgp::test {

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

// Listens on 127.0.0.1 (ephemeral port); returns the port.
inline std::uint16_t listen_loopback(const Fd& l) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(l.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(l.fd, 4) == 0);
    socklen_t len = sizeof sa;
    REQUIRE(::getsockname(l.fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    return ntohs(sa.sin_port);
}

// Non-blocking connect; true when the handshake completes within `ms`.
inline bool connects_within(const Fd& c, std::uint16_t port, int ms) {
    ::fcntl(c.fd, F_SETFL, O_NONBLOCK);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) return true;
    if (errno != EINPROGRESS) return false;
    pollfd p{c.fd, POLLOUT, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0;
}

}  // namespace cgwd::bgp::test
