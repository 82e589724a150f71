// GTSM (RFC 5082) socket options, and the kernel's behaviour on loopback: a client sending with
// TTL 255 connects to a GTSM listener, one sending with TTL 1 (eBGP's usual TTL) or 64 never
// does (loopback does not decrement the TTL, so what the client sets is what the listener sees).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "cgwd/bgp/gtsm.hpp"

using namespace cgwd::bgp;

namespace {

struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
};

int get_int(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(::getsockopt(fd, level, name, &v, &len) == 0);
    return v;
}

std::uint16_t listen_loopback(const Fd& l) {
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
bool connects_within(const Fd& c, std::uint16_t port, int ms) {
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

}  // namespace

TEST_CASE("gtsm: TTL 255 out, minimum 254 in by default, 255 with trust radius 0") {
    Fd v4(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(set_gtsm(v4.fd).has_value());
    CHECK(get_int(v4.fd, IPPROTO_IP, IP_TTL) == 255);
    CHECK(get_int(v4.fd, IPPROTO_IP, IP_MINTTL) == 254);
    REQUIRE(set_gtsm(v4.fd, 0).has_value());
    CHECK(get_int(v4.fd, IPPROTO_IP, IP_MINTTL) == 255);

    Fd v6(::socket(AF_INET6, SOCK_STREAM, 0));
    REQUIRE(set_gtsm(v6.fd).has_value());
    CHECK(get_int(v6.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS) == 255);
    CHECK(get_int(v6.fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT) == 254);
    CHECK(get_int(v6.fd, IPPROTO_IP, IP_TTL) == 255);  // IPv4-mapped peers
    CHECK(get_int(v6.fd, IPPROTO_IP, IP_MINTTL) == 254);

    CHECK_FALSE(set_gtsm(-1).has_value());
    CHECK_FALSE(set_gtsm(v4.fd, 255).has_value());
}

TEST_CASE("gtsm: a listener accepts TTL 255, drops SYNs sent with TTL 1 or 64") {
    Fd l(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(set_gtsm(l.fd).has_value());
    const std::uint16_t port = listen_loopback(l);

    Fd good(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(set_gtsm(good.fd).has_value());
    CHECK(connects_within(good, port, 2000));

    // The first SYN retransmission is 1 s away; loopback answers in microseconds.
    for (int ttl : {1, 64}) {
        Fd low(::socket(AF_INET, SOCK_STREAM, 0));
        REQUIRE(::setsockopt(low.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) == 0);
        CHECK_FALSE(connects_within(low, port, 300));
    }
}
