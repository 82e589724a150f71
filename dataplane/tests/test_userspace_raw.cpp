// UserspaceDataplane's raw ESP path (SAs without `encap`: IP protocol 50 through a raw
// IPPROTO_ESP socket) on loopback. A raw socket needs CAP_NET_RAW and sees every ESP packet of
// its network namespace, so each case runs in a forked child inside a private network
// namespace (as root: unshare(CLONE_NEWNET); otherwise a user namespace as well, which Debian
// allows unprivileged users). If the namespace cannot be made, the case FAILS (never skips).
// The child reports its first failure through a pipe; Catch2 asserts it reported "ok".
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/userspace.hpp"
#include "netns_child.hpp"
#include "test_util.hpp"

using namespace cgwd::dataplane;
using cgwd::config::Ipv4Address;
using test::Bytes;

namespace {

const Ipv4Address lo1{0x7f000001};  // 127.0.0.1
const Ipv4Address lo2{0x7f000002};
const Ipv4Address lo3{0x7f000003};

void check(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what);
}

sockaddr* as_sa(sockaddr_in* a) {
    return static_cast<sockaddr*>(static_cast<void*>(a));
}

sockaddr_in address(Ipv4Address a, std::uint16_t port = 0) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    s.sin_addr.s_addr = htonl(a.value);
    return s;
}

SaConfig gcm_sa(Direction direction, std::uint32_t spi, bool raw) {
    SaConfig sa;
    sa.direction = direction;
    sa.spi = spi;
    sa.src = lo2;
    sa.dst = lo1;
    if (!raw) sa.encap = UdpEncap{4500, 4500};
    sa.cipher = {cgwd::config::encr::aes_gcm_16, 128};
    Bytes key = test::hex("000102030405060708090a0b0c0d0e0f a0a1a2a3");
    key[0] = static_cast<std::uint8_t>(spi);
    sa.enc_key = KeyBytes(key);
    sa.if_id = 7;
    return sa;
}

// An inner IPv4 packet (UDP, 8 bytes of data), as a peer would protect it.
Bytes inner_packet() {
    return test::hex(
        "45000024 0000 4000 4011 0000 a9fe0a01 a9fe0a02 0001 0002 0010 0000 "
        "0102030405060708");
}

Bytes protect(EspSa& sender) {
    const Bytes inner = inner_packet();
    Bytes out(sender.encapsulated_size(inner.size()));
    auto n = sender.encapsulate(inner, out);
    check(n.has_value(), "encapsulate");
    out.resize(*n);
    return out;
}

template <typename Pred>
void wait_for(Pred pred, const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("timeout: " + what);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

struct Socket {
    int fd;
    explicit Socket(int type, int protocol) : fd(::socket(AF_INET, type, protocol)) {
        check(fd >= 0, "socket");
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~Socket() { ::close(fd); }
    void send(const Bytes& b, Ipv4Address to, std::uint16_t port = 0) const {
        sockaddr_in a = address(to, port);
        check(::sendto(fd, b.data(), b.size(), 0, as_sa(&a), sizeof a) ==
                  static_cast<ssize_t>(b.size()),
              "sendto");
    }
};

std::unique_ptr<UserspaceDataplane> make_plane() {
    UserspaceDataplane::Options o;
    o.udp_port = 0;  // any port, all addresses (raw ESP to 127.0.0.2 must reach us to be ignored)
    auto p = UserspaceDataplane::create(std::move(o));
    check(p.has_value(), "create");
    return std::move(*p);
}

}  // namespace

TEST_CASE("UserspaceDataplane raw ESP: lazy socket, demux by SPI and destination, drops counted") {
    const std::string result = test::run_in_netns([] {
        auto plane = make_plane();
        const SaConfig in_udp = gcm_sa(Direction::inbound, 0x3001, false);
        const SaConfig in_raw = gcm_sa(Direction::inbound, 0x3002, true);
        check(plane->add_sa(in_udp).has_value(), "add_sa UDP");
        check(!plane->raw_esp_open(), "raw socket opened by a UDP-encapsulated SA");
        check(plane->add_sa(in_raw).has_value(), "add_sa raw");
        check(plane->raw_esp_open(), "raw socket not opened by the first raw SA");

        SaConfig out_raw = in_raw;  // the peer's side of in_raw / in_udp
        out_raw.direction = Direction::outbound;
        SaConfig out_udp = in_udp;
        out_udp.direction = Direction::outbound;
        auto sender = EspSa::create(out_raw);
        auto udp_sender = EspSa::create(out_udp);
        check(sender.has_value() && udp_sender.has_value(), "EspSa::create");
        Socket peer(SOCK_RAW, IPPROTO_ESP);
        Socket udp_peer(SOCK_DGRAM, 0);
        auto stats = [&](const SaConfig& sa) {
            auto q = plane->query_sa(sa.key());
            check(q.has_value(), "query_sa");
            return q->counters;
        };

        const Bytes packet = protect(*sender);
        peer.send(packet, lo1);
        wait_for([&] { return stats(in_raw).packets == 1; }, "raw ESP accepted");
        check(stats(in_raw).bytes == inner_packet().size(), "inner bytes");
        wait_for([&] { return plane->stats().no_tunnel == 1; }, "no tunnel for if_id 7");
        check(plane->stats().raw_packets_in >= 1, "raw_packets_in");

        peer.send(packet, lo1);  // the same packet again
        wait_for([&] { return stats(in_raw).replay_drops == 1; }, "replay dropped");
        Bytes forged = protect(*sender);
        forged[20] ^= 0x01;  // one ciphertext bit
        peer.send(forged, lo1);
        wait_for([&] { return stats(in_raw).integrity_failures == 1; }, "forgery dropped");
        Bytes unknown = protect(*sender);
        unknown[3] ^= 0x10;  // SPI 0x3012: not installed
        peer.send(unknown, lo1);
        wait_for([&] { return plane->stats().unknown_spi == 1; }, "unknown SPI counted");

        // Valid ESP addressed to 127.0.0.2, which is no inbound SA's destination: not ours.
        peer.send(protect(*sender), lo2);
        wait_for([&] { return plane->stats().raw_not_ours == 1; }, "foreign ESP ignored");
        check(stats(in_raw).packets == 1, "foreign ESP was accepted");

        // Each SA takes only its own kind: raw SA's ESP in UDP, UDP SA's ESP raw.
        udp_peer.send(protect(*sender), lo1, plane->udp_port());
        wait_for([&] { return plane->stats().encap_mismatch == 1; }, "ESP in UDP for a raw SA");
        peer.send(protect(*udp_sender), lo1);
        wait_for([&] { return plane->stats().encap_mismatch == 2; }, "raw ESP for a UDP SA");
        check(stats(in_udp) == SaCounters{} && stats(in_raw).packets == 1, "mismatch accepted");

        // update_sa never switches kinds; a raw SA's source may change.
        SaConfig to_udp = in_raw;
        to_udp.encap = UdpEncap{4500, 4500};
        check(plane->update_sa(to_udp).error().code == Errc::unsupported, "raw -> UDP allowed");
        SaConfig to_raw = in_udp;
        to_raw.encap.reset();
        check(plane->update_sa(to_raw).error().code == Errc::unsupported, "UDP -> raw allowed");
        SaConfig moved = in_raw;
        moved.src = lo3;
        check(plane->update_sa(moved).has_value(), "update_sa of the source refused");

        // 127.0.0.1 stays ours while in_udp lives; then nothing is addressed to it any more.
        check(plane->del_sa(in_raw.key()).has_value(), "del_sa raw");
        peer.send(protect(*sender), lo1);
        wait_for([&] { return plane->stats().unknown_spi == 2; }, "deleted SA: unknown SPI");
        check(plane->del_sa(in_udp.key()).has_value(), "del_sa UDP");
        peer.send(protect(*sender), lo1);
        wait_for([&] { return plane->stats().raw_not_ours == 2; }, "no SA left for 127.0.0.1");
        check(plane->stats().decap_drops == 2, "decap_drops (replay + forgery)");
    });
    CHECK(result == "ok");
}

TEST_CASE("UserspaceDataplane raw ESP: TUN packets leave as IP protocol 50 from the SA source") {
    const std::string result = test::run_in_netns([] {
        auto plane = make_plane();
        TunnelInterface tunnel;
        tunnel.name = "cgwraw0";
        tunnel.if_id = 7;
        tunnel.local_inside = Ipv4Address{0x0a630001};  // 10.99.0.1/30
        tunnel.peer_inside = Ipv4Address{0x0a630002};
        check(plane->create_tunnel(tunnel).has_value(), "create_tunnel (TUN)");
        SaConfig out = gcm_sa(Direction::outbound, 0x4001, true);
        out.src = lo3;  // not what the kernel would pick for 127.0.0.2: IP_PKTINFO must set it
        out.dst = lo2;
        check(plane->add_sa(out).has_value(), "add_sa outbound raw");
        SaConfig far_in = out;  // what the peer at 127.0.0.2 would install
        far_in.direction = Direction::inbound;
        auto far = EspSa::create(far_in);
        check(far.has_value(), "EspSa::create");

        Socket capture(SOCK_RAW, IPPROTO_ESP);  // sees every ESP packet of the namespace
        Socket app(SOCK_DGRAM, 0);
        const Bytes hello = {'h', 'e', 'l', 'l', 'o'};
        app.send(hello, tunnel.peer_inside, 9);  // routed into the TUN

        std::uint8_t buf[2048];
        for (;;) {
            const ssize_t n = ::recv(capture.fd, buf, sizeof buf, 0);
            check(n > 0, "no ESP packet left the dataplane");
            const std::size_t len = static_cast<std::size_t>(n);
            const std::size_t ihl = (buf[0] & 0x0f) * 4u;
            check(len > ihl + 8, "short packet");
            if (Ipv4Address{(std::uint32_t{buf[16]} << 24) | (std::uint32_t{buf[17]} << 16) |
                            (std::uint32_t{buf[18]} << 8) | buf[19]} != lo2)
                continue;
            check(buf[9] == 50, "outer protocol is not ESP");
            check(buf[12] == 127 && buf[13] == 0 && buf[14] == 0 && buf[15] == 3,
                  "outer source is not the SA's 127.0.0.3");
            check((buf[6] & 0x40) == 0, "DF set on the outer header");
            check(buf[ihl] == 0 && buf[ihl + 1] == 0 && buf[ihl + 2] == 0x40 && buf[ihl + 3] == 1,
                  "SPI is not 0x00004001");
            Bytes esp(buf + ihl, buf + len);
            Bytes inner(esp.size());
            auto d = far->decapsulate(esp, inner);
            check(d.has_value(), "the far side cannot decapsulate it");
            inner.resize(d->length);
            check(inner.size() == 20 + 8 + hello.size() && inner[9] == 17,
                  "inner packet is not the UDP datagram");
            check(Bytes(inner.begin() + 28, inner.end()) == hello, "inner payload differs");
            break;
        }
        const auto sent = plane->query_sa(out.key());
        check(sent.has_value() && sent->counters.packets == 1, "outbound SA counters");
        check(plane->stats().raw_send_errors == 0, "raw send errors");
    });
    CHECK(result == "ok");
}
