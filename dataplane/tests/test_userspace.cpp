// UserspaceDataplane without TUN interfaces (those need root: tests/lab/dataplane covers them):
// SA table rules, the receive path on a loopback UDP socket (ESP decapsulation by SPI, replay
// and integrity drops, IKE/keepalive demultiplexing per RFC 3948 section 2), make-before-break
// inbound SAs, and lifetime expiry with an injected clock. The backend runs its own receive
// thread, so these tests wait (bounded, 5 s) for its counters to move.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/userspace.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::config::Ipv4Address;
using test::Bytes;

namespace {

const Ipv4Address loopback{0x7f000001};

SaConfig gcm_sa(Direction direction, std::uint32_t spi) {
    SaConfig sa;
    sa.direction = direction;
    sa.spi = spi;
    sa.src = loopback;
    sa.dst = loopback;
    sa.encap = UdpEncap{4500, 4500};
    sa.cipher = {cgwd::config::encr::aes_gcm_16, 128};
    Bytes key = test::hex("000102030405060708090a0b0c0d0e0f a0a1a2a3");
    key[0] = static_cast<std::uint8_t>(spi);  // a different key per SPI
    sa.enc_key = KeyBytes(key);
    sa.if_id = 7;
    return sa;
}

template <typename Pred>
bool wait_until(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return pred();
}

struct UdpSocket {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    UdpSocket() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(loopback.value);
        REQUIRE(::bind(fd, static_cast<sockaddr*>(static_cast<void*>(&a)), sizeof a) == 0);
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~UdpSocket() { ::close(fd); }
    void send(const Bytes& b, std::uint16_t port) const {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(loopback.value);
        REQUIRE(::sendto(fd, b.data(), b.size(), 0, static_cast<sockaddr*>(static_cast<void*>(&a)),
                         sizeof a) == static_cast<ssize_t>(b.size()));
    }
    std::uint16_t port() const {
        sockaddr_in a{};
        socklen_t len = sizeof a;
        ::getsockname(fd, static_cast<sockaddr*>(static_cast<void*>(&a)), &len);
        return ntohs(a.sin_port);
    }
};

std::unique_ptr<UserspaceDataplane> make_plane(UserspaceDataplane::Options o = {}) {
    o.udp_port = 0;  // any free port
    o.bind_address = loopback;
    auto p = UserspaceDataplane::create(std::move(o));
    REQUIRE(p.has_value());
    return std::move(*p);
}

// An inner IPv4 packet (header + 8 bytes), as a peer would protect it.
Bytes inner_packet() {
    return test::hex(
        "45000024 0000 4000 4011 0000 a9fe0a01 a9fe0a02 0001 0002 0010 0000 "
        "0102030405060708");
}

Bytes protect(EspSa& sender, const Bytes& inner) {
    Bytes out(sender.encapsulated_size(inner.size()));
    auto n = sender.encapsulate(inner, out);
    REQUIRE(n.has_value());
    out.resize(*n);
    return out;
}

}  // namespace

TEST_CASE("UserspaceDataplane: SA table rules (exists, not found, encap, update scope)") {
    auto plane = make_plane();
    SaConfig in = gcm_sa(Direction::inbound, 0x1001);

    // (Raw ESP SAs, without `encap`: test_userspace_raw.cpp, in a private network namespace.)
    REQUIRE(plane->add_sa(in).has_value());
    CHECK_FALSE(plane->raw_esp_open());  // UDP-only use opens no raw socket
    CHECK(plane->add_sa(in).error().code == Errc::already_exists);
    SaConfig same_spi = in;
    same_spi.dst = Ipv4Address{0x7f000002};  // another key, but the SPI demux would collide
    CHECK(plane->add_sa(same_spi).error().code == Errc::already_exists);

    SaConfig rekeyed = in;
    rekeyed.enc_key = gcm_sa(Direction::inbound, 0x1002).enc_key;
    CHECK(plane->update_sa(rekeyed).error().code == Errc::unsupported);
    SaConfig natted = in;
    natted.encap = UdpEncap{4500, 31000};
    CHECK(plane->update_sa(natted).has_value());

    auto stats = plane->query_sa(in.key());
    REQUIRE(stats.has_value());
    CHECK(stats->counters == SaCounters{});
    REQUIRE(plane->del_sa(in.key()).has_value());
    CHECK(plane->del_sa(in.key()).error().code == Errc::not_found);
    CHECK(plane->query_sa(in.key()).error().code == Errc::not_found);
    CHECK(plane->update_sa(in).error().code == Errc::not_found);

    // Routes go to the kernel FIB: a route without next hop is refused before any netlink.
    CHECK(plane->add_route(Route{}).error().code == Errc::invalid_argument);
    Route via_missing;
    via_missing.next_hops = {NextHop{7, std::nullopt, 1, {}}};
    CHECK(plane->add_route(via_missing).error().code == Errc::not_found);
    CHECK(plane->set_mss_clamp(7, 1379).error().code == Errc::not_found);
    CHECK(plane->delete_tunnel(7).error().code == Errc::not_found);
    CHECK_FALSE(plane->current_outbound_spi(7).has_value());

    Policy p;
    p.if_id = 7;
    REQUIRE(plane->add_policy(p).has_value());
    CHECK(plane->add_policy(p).error().code == Errc::already_exists);
    REQUIRE(plane->del_policy(key_of(p)).has_value());
    CHECK(plane->del_policy(key_of(p)).error().code == Errc::not_found);
}

TEST_CASE("UserspaceDataplane: ESP in UDP is decapsulated by SPI, replay and forgery dropped") {
    auto plane = make_plane();
    SaConfig in = gcm_sa(Direction::inbound, 0x2001);
    REQUIRE(plane->add_sa(in).has_value());
    SaConfig peer_out = in;
    peer_out.direction = Direction::outbound;
    auto sender = EspSa::create(peer_out);
    REQUIRE(sender.has_value());
    UdpSocket peer;

    const Bytes packet = protect(*sender, inner_packet());
    peer.send(packet, plane->udp_port());
    REQUIRE(wait_until([&] { return plane->query_sa(in.key())->counters.packets == 1; }));
    CHECK(plane->query_sa(in.key())->counters.bytes == inner_packet().size());
    // No TUN for if_id 7 in this test: accepted, then dropped for want of an interface.
    REQUIRE(wait_until([&] { return plane->stats().no_tunnel == 1; }));

    peer.send(packet, plane->udp_port());  // the same packet again
    REQUIRE(wait_until([&] { return plane->query_sa(in.key())->counters.replay_drops == 1; }));

    Bytes forged = protect(*sender, inner_packet());
    forged[20] ^= 0x01;  // one ciphertext bit
    peer.send(forged, plane->udp_port());
    REQUIRE(
        wait_until([&] { return plane->query_sa(in.key())->counters.integrity_failures == 1; }));
    CHECK(plane->query_sa(in.key())->counters.packets == 1);

    Bytes unknown = protect(*sender, inner_packet());
    unknown[3] ^= 0x10;  // SPI 0x2011: not installed
    peer.send(unknown, plane->udp_port());
    REQUIRE(wait_until([&] { return plane->stats().unknown_spi == 1; }));
    CHECK(plane->stats().decap_drops == 2);
    CHECK(plane->stats().udp_datagrams_in == 4);
}

TEST_CASE("UserspaceDataplane: make-before-break, two inbound SAs of one tunnel both live") {
    auto plane = make_plane();
    SaConfig old_in = gcm_sa(Direction::inbound, 0x3001);
    SaConfig new_in = gcm_sa(Direction::inbound, 0x3002);
    REQUIRE(plane->add_sa(old_in).has_value());
    REQUIRE(plane->add_sa(new_in).has_value());
    SaConfig o1 = old_in, o2 = new_in;
    o1.direction = o2.direction = Direction::outbound;
    auto s1 = EspSa::create(o1);
    auto s2 = EspSa::create(o2);
    REQUIRE((s1 && s2));
    UdpSocket peer;
    peer.send(protect(*s2, inner_packet()), plane->udp_port());
    peer.send(protect(*s1, inner_packet()), plane->udp_port());  // late packet on the old SA
    peer.send(protect(*s2, inner_packet()), plane->udp_port());
    REQUIRE(wait_until([&] { return plane->query_sa(new_in.key())->counters.packets == 2; }));
    REQUIRE(wait_until([&] { return plane->query_sa(old_in.key())->counters.packets == 1; }));
    REQUIRE(plane->del_sa(old_in.key()).has_value());
    peer.send(protect(*s1, inner_packet()), plane->udp_port());
    REQUIRE(wait_until([&] { return plane->stats().unknown_spi == 1; }));
}

TEST_CASE("UserspaceDataplane: IKE behind the Non-ESP Marker, keepalives, send_ike") {
    std::mutex m;
    Bytes got;
    std::uint16_t got_port = 0;
    UserspaceDataplane::Options o;
    o.ike_handler = [&](std::span<const std::uint8_t> ike, Ipv4Address from, std::uint16_t port) {
        std::lock_guard g(m);
        got.assign(ike.begin(), ike.end());
        got_port = from == loopback ? port : 0;
    };
    auto plane = make_plane(std::move(o));
    UdpSocket peer;
    peer.send(test::hex("00000000 1122334455667788 0000000000000000 2120"), plane->udp_port());
    REQUIRE(wait_until([&] {
        std::lock_guard g(m);
        return !got.empty();
    }));
    {
        std::lock_guard g(m);
        CHECK(got == test::hex("1122334455667788 0000000000000000 2120"));
        CHECK(got_port == peer.port());
    }
    peer.send(Bytes{0xff}, plane->udp_port());  // RFC 3948 section 2.3 NAT-keepalive
    REQUIRE(wait_until([&] { return plane->stats().keepalives == 1; }));
    peer.send(Bytes{0x01, 0x02}, plane->udp_port());  // neither
    REQUIRE(wait_until([&] { return plane->stats().udp_unknown == 1; }));
    CHECK(plane->stats().ike_datagrams == 1);

    const Bytes ike = test::hex("aabbccdd");
    REQUIRE(plane->send_ike(ike, loopback, peer.port()).has_value());
    std::uint8_t buf[64];
    const ssize_t n = ::recv(peer.fd, buf, sizeof buf, 0);
    REQUIRE(n == 8);
    CHECK(Bytes(buf, buf + n) == test::hex("00000000 aabbccdd"));
}

TEST_CASE("UserspaceDataplane: time lifetimes raise soft then hard, the handler may del_sa") {
    auto clock = std::make_shared<std::atomic<std::uint64_t>>(1000);
    UserspaceDataplane::Options o;
    o.clock = [clock] { return clock->load(); };
    auto plane = make_plane(std::move(o));
    SaConfig in = gcm_sa(Direction::inbound, 0x4001);
    in.lifetime.seconds = Limit{10, 20};
    REQUIRE(plane->add_sa(in).has_value());

    std::mutex m;
    std::vector<ExpiryEvent> events;
    plane->set_expiry_handler([&](const ExpiryEvent& e) {
        {
            std::lock_guard g(m);
            events.push_back(e);
        }
        if (e.kind == ExpiryKind::hard) (void)plane->del_sa(e.sa);
    });
    auto count = [&] {
        std::lock_guard g(m);
        return events.size();
    };
    clock->store(1009);
    clock->store(1015);
    REQUIRE(wait_until([&] { return count() == 1; }));
    clock->store(1021);
    REQUIRE(wait_until([&] { return count() == 2; }));
    REQUIRE(wait_until([&] { return !plane->query_sa(in.key()).has_value(); }));
    std::lock_guard g(m);
    CHECK(events[0] ==
          ExpiryEvent{in.key(), Direction::inbound, ExpiryKind::soft, ExpiryCause::time});
    CHECK(events[1] ==
          ExpiryEvent{in.key(), Direction::inbound, ExpiryKind::hard, ExpiryCause::time});
}
