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
#include "loopback_tcp.hpp"

using namespace cgwd::bgp;
using namespace cgwd::bgp::test;

namespace {

int get_int(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    REQUIRE(::getsockopt(fd, level, name, &v, &len) == 0);
    return v;
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
