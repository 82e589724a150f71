// BfdRunner over loopback: two runners on 127.0.0.1 and 127.0.0.2 (the same port, which also
// shows that runners bound to different local addresses coexist), real sockets and timers.
// These are functional tests of the socket adapter: the protocol timing itself is tested with
// injected time in bgp/tests. Wall-clock bounds here are loose upper limits only.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "cgwd/bgp/bfd.hpp"
#include "cgwd/daemon/bfd_runner.hpp"

using namespace cgwd;
using cgwd::daemon::BfdRunner;
using cgwd::daemon::BfdRunnerOptions;
namespace asio = boost::asio;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const config::Ipv4Address kA = *config::Ipv4Address::parse("127.0.0.1");
const config::Ipv4Address kB = *config::Ipv4Address::parse("127.0.0.2");
const config::Ipv4Address kStranger = *config::Ipv4Address::parse("127.0.0.3");

// A UDP port that is free on 127.0.0.1 right now (the kernel's pick).
std::uint16_t free_port() {
    asio::io_context io;
    udp::socket s(io, udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    return s.local_endpoint().port();
}

BfdRunnerOptions options(config::Ipv4Address local, config::Ipv4Address peer, std::uint16_t port) {
    BfdRunnerOptions o;
    o.name = "test " + local.to_string();
    o.local = local;
    o.peer = peer;
    o.listen_port = port;
    o.peer_port = port;
    return o;
}

template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::milliseconds bound) {
    const auto end = Clock::now() + bound;
    while (!pred()) {
        if (Clock::now() > end) return false;
        io.restart();
        io.run_for(5ms);
    }
    return true;
}

struct Down {
    bool path_failure = false;
    std::string diagnostic;
    Clock::time_point at;
};

struct Pair {
    asio::io_context io;
    std::uint16_t port = free_port();
    std::unique_ptr<BfdRunner> a, b;
    int a_ups = 0, b_ups = 0;
    std::optional<Down> a_down, b_down;

    Pair() {
        a = std::make_unique<BfdRunner>(io, options(kA, kB, port));
        b = std::make_unique<BfdRunner>(io, options(kB, kA, port));
        a->on_up([this] { ++a_ups; });
        b->on_up([this] { ++b_ups; });
        a->on_down([this](bool pf, const std::string& d) { a_down = Down{pf, d, Clock::now()}; });
        b->on_down([this](bool pf, const std::string& d) { b_down = Down{pf, d, Clock::now()}; });
    }

    // Both Up, and the Poll Sequence that leaves the 1 s start-up rate is over on both sides.
    void bring_up() {
        a->start();
        b->start();
        REQUIRE(run_until(
            io,
            [&] {
                return a->up() && b->up() && a->status()["tx_interval_ms"] == 300 &&
                       b->status()["tx_interval_ms"] == 300 &&
                       a->status()["detect_time_ms"] == 900 && b->status()["detect_time_ms"] == 900;
            },
            5s));
    }
};

// Sends `bytes` from `from` (any port) with `ttl` to `to`:`port`.
void send_with_ttl(config::Ipv4Address from, config::Ipv4Address to, std::uint16_t port, int ttl,
                   const bgp::Bytes& bytes) {
    asio::io_context io;
    udp::socket s(io, udp::endpoint(asio::ip::address_v4(from.value), 0));
    REQUIRE(::setsockopt(s.native_handle(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) == 0);
    s.send_to(asio::buffer(bytes), udp::endpoint(asio::ip::address_v4(to.value), port));
}

bgp::Bytes down_packet(std::uint32_t my_discriminator) {
    bgp::BfdControl c;
    c.state = bgp::BfdState::Down;
    c.detect_mult = 3;
    c.my_discriminator = my_discriminator;
    c.desired_min_tx_us = 1'000'000;
    c.required_min_rx_us = 300'000;
    return bgp::encode_bfd_control(c);
}

}  // namespace

TEST_CASE("bfd runner: two runners on loopback come Up with the configured timers",
          "[daemon][bfd]") {
    Pair p;
    CHECK(p.a->state_text() == "down");
    p.bring_up();
    CHECK(p.a_ups == 1);
    CHECK(p.b_ups == 1);
    CHECK(p.a->listen_port() == p.port);
    CHECK(p.b->listen_port() == p.port);

    const auto a = p.a->status();
    const auto b = p.b->status();
    CHECK(a["state"] == "up");
    CHECK(a["local_address"] == "127.0.0.1");
    CHECK(a["peer_address"] == "127.0.0.2");
    CHECK(a["local_discriminator"] == p.a->local_discriminator());
    CHECK(a["remote_discriminator"] == p.b->local_discriminator());
    CHECK(b["remote_discriminator"] == p.a->local_discriminator());
    CHECK(a["remote_state"] == "Up");
    CHECK(a["flaps"] == 0);
    CHECK(a["up_since"].is_number());
    CHECK(a["dropped_ttl"] == 0);
    CHECK(a["dropped_not_peer"] == 0);
    CHECK(a["rejected"] == 0);
    CHECK(a["packets_in"].get<int>() > 0);
    CHECK(b["packets_out"].get<int>() > 0);
    CHECK(p.a->source_port() >= 49152);
    CHECK(!p.a_down);
    CHECK(!p.b_down);
}

TEST_CASE("bfd runner: the peer going silent is a path failure", "[daemon][bfd]") {
    Pair p;
    p.bring_up();
    const auto silent_at = Clock::now();
    p.b.reset();  // its sockets close: nothing reaches A any more
    REQUIRE(run_until(
        p.io, [&] { return p.a_down.has_value(); }, 5s));
    CHECK(p.a_down->path_failure);
    CHECK(p.a_down->diagnostic == "control-detection-time-expired");
    // Detection time is 3 x 300 ms; the bound is loose on purpose (a busy CI machine).
    CHECK(p.a_down->at - silent_at < 3s);
    const auto a = p.a->status();
    CHECK(a["state"] == "down");
    CHECK(a["flaps"] == 1);
    CHECK(a["last_down"] == "control-detection-time-expired");
    CHECK(a["up_since"].is_null());
}

TEST_CASE("bfd runner: AdminDown is not a path failure, and start() brings it back",
          "[daemon][bfd]") {
    Pair p;
    p.bring_up();
    p.b->stop();
    CHECK(p.b->state_text() == "admin-down");
    REQUIRE(p.b_down);  // our own AdminDown is reported at once
    CHECK(!p.b_down->path_failure);
    CHECK(p.b_down->diagnostic == "administratively-down");
    REQUIRE(run_until(
        p.io, [&] { return p.a_down.has_value(); }, 3s));
    CHECK(!p.a_down->path_failure);
    CHECK(p.a_down->diagnostic == "neighbor-signaled-session-down");
    CHECK(p.a->state_text() == "down");
    CHECK(p.a->status()["remote_state"] == "AdminDown");

    // Stays down while B is AdminDown (its packets keep saying so).
    run_until(
        p.io, [] { return false; }, 300ms);
    CHECK(p.a->state_text() == "down");

    p.b->start();
    REQUIRE(run_until(
        p.io, [&] { return p.a->up() && p.b->up(); }, 5s));
    CHECK(p.a_ups == 2);
    CHECK(p.b_ups == 2);
    CHECK(p.a->status()["flaps"] == 1);
    CHECK(p.b->status()["flaps"] == 1);
}

TEST_CASE("bfd runner: the down handler may destroy its runner", "[daemon][bfd]") {
    Pair p;
    p.bring_up();
    bool called = false;
    p.a->on_down([&](bool, const std::string&) {
        called = true;
        p.a.reset();  // e.g. the daemon removing the session when BGP gives up
    });
    p.b->stop();  // A learns it from a received packet, inside its receive handler
    REQUIRE(run_until(
        p.io, [&] { return called; }, 3s));
    CHECK(!p.a);
    run_until(
        p.io, [] { return false; }, 100ms);  // the loop goes on without it
    CHECK(p.b->state_text() == "admin-down");
}

TEST_CASE("bfd runner: Control packets leave from 49152-65535 with TTL 255 to the peer",
          "[daemon][bfd]") {
    asio::io_context io;
    const auto port = free_port();
    // A stand-in for the peer at 127.0.0.2, reading the TTL of what arrives.
    udp::socket peer(io);
    peer.open(udp::v4());
    peer.set_option(udp::socket::reuse_address(true));
    const int one = 1;
    REQUIRE(::setsockopt(peer.native_handle(), IPPROTO_IP, IP_RECVTTL, &one, sizeof one) == 0);
    peer.bind(udp::endpoint(asio::ip::address_v4(kB.value), port));

    BfdRunner a(io, options(kA, kB, port));
    a.start();  // the first packet goes out at once

    pollfd pfd{peer.native_handle(), POLLIN, 0};
    REQUIRE(::poll(&pfd, 1, 3000) == 1);
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
    const ssize_t n = ::recvmsg(peer.native_handle(), &msg, 0);
    REQUIRE(n == 24);
    int ttl = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL)
            std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
    }
    CHECK(ttl == 255);                               // RFC 5881 section 5
    CHECK(ntohl(from.sin_addr.s_addr) == kA.value);  // from the local address
    CHECK(ntohs(from.sin_port) == a.source_port());  // from the send socket
    CHECK(ntohs(from.sin_port) >= 49152);            // RFC 5881 section 4

    auto c = bgp::decode_bfd_control(bgp::ByteView(buf, static_cast<std::size_t>(n)));
    REQUIRE(c);
    CHECK(c->state == bgp::BfdState::Down);
    CHECK(c->my_discriminator == a.local_discriminator());
    CHECK(c->your_discriminator == 0);
    CHECK(c->detect_mult == 3);
    CHECK(c->desired_min_tx_us == 1'000'000);  // at least 1 s while not Up (RFC 5880 6.8.3)
    CHECK(c->required_min_rx_us == 300'000);
    CHECK(a.status()["packets_out"] == 1);
}

TEST_CASE("bfd runner: packets without TTL 255 or not from the peer are dropped", "[daemon][bfd]") {
    asio::io_context io;
    const auto port = free_port();
    BfdRunner a(io, options(kA, kB, port));
    a.start();
    const auto pkt = down_packet(0x1234);

    send_with_ttl(kB, kA, port, 64, pkt);  // from the peer, but routed (TTL not 255)
    REQUIRE(run_until(
        io, [&] { return a.status()["dropped_ttl"] == 1; }, 3s));
    send_with_ttl(kStranger, kA, port, 255, pkt);  // TTL 255, but not the peer
    REQUIRE(run_until(
        io, [&] { return a.status()["dropped_not_peer"] == 1; }, 3s));
    CHECK(a.state_text() == "down");
    CHECK(a.status()["remote_discriminator"] == 0);
    CHECK(a.status()["packets_in"] == 0);

    // The same packet from the peer with TTL 255 is taken: Down -> Init (RFC 5880 6.8.6).
    send_with_ttl(kB, kA, port, 255, pkt);
    REQUIRE(run_until(
        io, [&] { return a.state_text() == "init"; }, 3s));
    CHECK(a.status()["remote_discriminator"] == 0x1234);
    CHECK(a.status()["packets_in"] == 1);
}

TEST_CASE("bfd runner: a socket that cannot be bound is an error naming it", "[daemon][bfd]") {
    asio::io_context io;
    auto o = options(kA, kB, free_port());
    BfdRunner first(io, o);
    // The same fixed source port twice cannot be bound (the send socket has no SO_REUSEADDR).
    o.source_port = first.source_port();
    o.listen_port = free_port();
    CHECK_THROWS_WITH([&] { BfdRunner second(io, o); }(), Catch::Contains("bind source port"));
}

namespace {

const config::Ipv6Address kLoop6 = *config::Ipv6Address::parse("::1");

// Receives one datagram on `s` within 3 s: its bytes, sender and hop limit (IPV6_HOPLIMIT).
struct Received6 {
    bgp::Bytes bytes;
    sockaddr_in6 from{};
    int hop_limit = -1;
};
Received6 receive6(udp::socket& s) {
    pollfd pfd{s.native_handle(), POLLIN, 0};
    REQUIRE(::poll(&pfd, 1, 3000) == 1);
    Received6 r;
    std::uint8_t buf[512];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &r.from;
    msg.msg_namelen = sizeof r.from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(s.native_handle(), &msg, 0);
    REQUIRE(n > 0);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)
            std::memcpy(&r.hop_limit, CMSG_DATA(c), sizeof r.hop_limit);
    r.bytes.assign(buf, buf + n);
    return r;
}

}  // namespace

// IPv6 (a Direct Connect virtual interface's IPv6 BGP peer): loopback has one IPv6 address, so
// both runners use ::1 and are told apart by their ports.
TEST_CASE("bfd runner: over IPv6, Control packets carry hop limit 255 and a session comes Up",
          "[daemon][bfd]") {
    asio::io_context io;
    const auto port_a = free_port();
    auto port_b = free_port();
    while (port_b == port_a) port_b = free_port();
    // First a stand-in peer reading what A sends.
    {
        udp::socket peer(io);
        peer.open(udp::v6());
        const int one = 1;
        REQUIRE(::setsockopt(peer.native_handle(), IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one,
                             sizeof one) == 0);
        peer.bind(udp::endpoint(asio::ip::address_v6::loopback(), port_b));
        auto o = options(config::Ipv4Address{}, config::Ipv4Address{}, port_a);
        o.local = kLoop6;
        o.peer = kLoop6;
        o.peer_port = port_b;
        BfdRunner a(io, o);
        a.start();
        const auto r = receive6(peer);
        CHECK(r.hop_limit == 255);  // RFC 5881 section 5
        CHECK(ntohs(r.from.sin6_port) == a.source_port());
        CHECK(ntohs(r.from.sin6_port) >= 49152);
        CHECK(std::memcmp(&r.from.sin6_addr, kLoop6.bytes.data(), 16) == 0);
        auto c = bgp::decode_bfd_control(r.bytes);
        REQUIRE(c);
        CHECK(c->my_discriminator == a.local_discriminator());
        CHECK(a.status()["local_address"] == "::1");

        // From the peer's address but not with hop limit 255: dropped before the session.
        udp::socket routed(io, udp::endpoint(asio::ip::address_v6::loopback(), 0));
        const int hops = 64;
        REQUIRE(::setsockopt(routed.native_handle(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops,
                             sizeof hops) == 0);
        routed.send_to(asio::buffer(down_packet(0x77)),
                       udp::endpoint(asio::ip::address_v6::loopback(), port_a));
        REQUIRE(run_until(
            io, [&] { return a.status()["dropped_ttl"] == 1; }, 3s));
        CHECK(a.status()["packets_in"] == 0);
    }

    // Two runners: Up with the configured timers, then B silent is a path failure.
    auto oa = options(config::Ipv4Address{}, config::Ipv4Address{}, port_a);
    oa.local = oa.peer = kLoop6;
    oa.peer_port = port_b;
    auto ob = oa;
    ob.listen_port = port_b;
    ob.peer_port = port_a;
    auto a = std::make_unique<BfdRunner>(io, oa);
    auto b = std::make_unique<BfdRunner>(io, ob);
    std::optional<Down> a_down;
    a->on_down([&](bool pf, const std::string& d) { a_down = Down{pf, d, Clock::now()}; });
    a->start();
    b->start();
    REQUIRE(run_until(
        io,
        [&] {
            return a->up() && b->up() && a->status()["detect_time_ms"] == 900 &&
                   b->status()["detect_time_ms"] == 900;
        },
        5s));
    CHECK(a->status()["remote_discriminator"] == b->local_discriminator());
    CHECK(a->status()["dropped_not_peer"] == 0);
    b.reset();
    REQUIRE(run_until(
        io, [&] { return a_down.has_value(); }, 5s));
    CHECK(a_down->path_failure);
    CHECK(a_down->diagnostic == "control-detection-time-expired");
}

TEST_CASE("bfd runner: the two addresses must be of one family", "[daemon][bfd]") {
    asio::io_context io;
    auto o = options(kA, kB, free_port());
    o.peer = kLoop6;
    CHECK_THROWS_WITH([&] { BfdRunner r(io, o); }(), Catch::Contains("different families"));
}
