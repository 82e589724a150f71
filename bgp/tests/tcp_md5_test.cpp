// TCP-MD5 (RFC 2385) socket option: argument checks, and the kernel's behaviour on loopback:
// matching keys connect, a missing or wrong key on the connecting side never does.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "cgwd/bgp/tcp_md5.hpp"
#include "loopback_tcp.hpp"

using namespace cgwd::bgp;
using namespace cgwd::bgp::test;

namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

const IpAddress kLoopback = IpAddress::v4(0x7f000001);

// A listener on 127.0.0.1 (ephemeral port) with `key` for peer 127.0.0.1.
std::uint16_t listen_with_key(const Fd& l, const std::string& key) {
    REQUIRE(set_tcp_md5(l.fd, kLoopback, bytes_of(key)).has_value());
    return listen_loopback(l);
}

}  // namespace

TEST_CASE("tcp-md5: key length limits, and the error text never holds the key") {
    Fd s(::socket(AF_INET, SOCK_STREAM, 0));
    const std::string long_key(81, 'k');
    auto r = set_tcp_md5(s.fd, kLoopback, bytes_of(long_key));
    REQUIRE_FALSE(r);
    CHECK(r.error().find("81 octets") != std::string::npos);
    CHECK(r.error().find("kkkk") == std::string::npos);
    CHECK_FALSE(set_tcp_md5(s.fd, kLoopback, {}));
    CHECK(set_tcp_md5(s.fd, kLoopback, bytes_of(std::string(80, 'k'))));
    CHECK(clear_tcp_md5(s.fd, kLoopback));
}

TEST_CASE("tcp-md5: address families (IPv4, IPv6, IPv4-mapped on an IPv6 socket)") {
    Fd v4(::socket(AF_INET, SOCK_STREAM, 0));
    Fd v6(::socket(AF_INET6, SOCK_STREAM, 0));
    const auto peer6 = *parse_address("2001:db8::1");
    const std::string key = "s3cret-Key";
    CHECK(set_tcp_md5(v4.fd, kLoopback, bytes_of(key)));
    CHECK(set_tcp_md5(v6.fd, peer6, bytes_of(key)));
    CHECK(set_tcp_md5(v6.fd, kLoopback, bytes_of(key)));
    auto wrong = set_tcp_md5(v4.fd, peer6, bytes_of(key));
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().find("2001:db8::1") != std::string::npos);
    CHECK(wrong.error().find(key) == std::string::npos);
    auto bad_fd = set_tcp_md5(-1, kLoopback, bytes_of(key));
    REQUIRE_FALSE(bad_fd);
    CHECK(bad_fd.error().find(key) == std::string::npos);
}

TEST_CASE("tcp-md5: loopback connection with matching keys, none with a wrong or missing key") {
    Fd l(::socket(AF_INET, SOCK_STREAM, 0));
    const std::uint16_t port = listen_with_key(l, "right-key");

    Fd good(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(set_tcp_md5(good.fd, kLoopback, bytes_of(std::string("right-key"))));
    CHECK(connects_within(good, port, 2000));

    // The listener's kernel drops SYNs without the right signature, so the handshake never
    // completes (the first SYN retransmission is 1 s away; loopback answers in microseconds).
    Fd wrong(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(set_tcp_md5(wrong.fd, kLoopback, bytes_of(std::string("wrong-key"))));
    CHECK_FALSE(connects_within(wrong, port, 300));
    Fd none(::socket(AF_INET, SOCK_STREAM, 0));
    CHECK_FALSE(connects_within(none, port, 300));
}
