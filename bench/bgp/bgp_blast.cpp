// bgp_blast: a route generator for the ingestion benchmark (bench/bgp/run --generator blast).
// Connects to the receiver, reaches Established through cgwd's Session FSM, then writes N IPv4
// /24 prefixes (16.0.0.0/24 upward) as fast as TCP takes them: UPDATEs of up to 900 prefixes
// that share one attribute set (ORIGIN IGP, AS_PATH = our AS, NEXT_HOP = our address, with
// --distinct-attrs K > 1 also the community (local-as, i mod K)), then End-of-RIB (RFC 4724).
// All UPDATEs are encoded before the session comes up, so the receiver is the bottleneck. Stays
// up (answering KEEPALIVEs) until the receiver closes the session or --timeout passes.
// Output: "established wall-ns T" (system clock) when the session comes up, then
// "sent prefixes N updates U bytes B" once the last byte is in the socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cgwd/bgp/policy.hpp"
#include "cgwd/bgp/session.hpp"
#include "cgwd/bgp/update.hpp"

using namespace cgwd::bgp;
using Clock = std::chrono::steady_clock;

namespace {

bool send_all(int fd, const Bytes& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bgp_blast: route generator for the ingestion benchmark"};
    std::uint32_t local_as = 0, peer_as = 0;
    std::string router_id_text, connect_to, local_address_text;
    std::uint32_t prefixes = 0, distinct = 1;
    int timeout_s = 120;
    app.add_option("--local-as", local_as)->required();
    app.add_option("--peer-as", peer_as)->required();
    app.add_option("--router-id", router_id_text)->required();
    app.add_option("--connect", connect_to, "receiver ADDR (port 179)")->required();
    app.add_option("--local-address", local_address_text, "our address: the NEXT_HOP")->required();
    app.add_option("--prefixes", prefixes)->required()->check(CLI::Range(1u, 4000000u));
    app.add_option("--distinct-attrs", distinct)->check(CLI::Range(1u, 65535u));
    app.add_option("--timeout", timeout_s, "seconds before giving up");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    const auto rid = parse_address(router_id_text);
    const auto local_address = parse_address(local_address_text);
    sockaddr_in endpoint{};
    endpoint.sin_family = AF_INET;
    endpoint.sin_port = htons(179);
    if (!rid || rid->afi != Afi::Ipv4 || !local_address || local_address->afi != Afi::Ipv4 ||
        inet_pton(AF_INET, connect_to.c_str(), &endpoint.sin_addr) != 1) {
        std::fprintf(stderr, "bad address\n");
        return 2;
    }

    // Route i is 16.0.0.0/24 + i; with K attribute sets, set k holds the i with i mod K == k.
    std::vector<Update> updates;
    constexpr std::size_t kPerUpdate = 900;  // 900 x 4 octets + attributes < 4096
    for (std::uint32_t k = 0; k < distinct; ++k) {
        Update u;
        u.attributes.origin = Origin::Igp;
        u.attributes.as_path = AsPath{{AsPathSegment::Type::Sequence, {local_as}}};
        u.attributes.next_hop = local_address->v4_host_order();
        if (distinct > 1) u.attributes.communities = {((local_as & 0xFFFFu) << 16) | k};
        for (std::uint32_t i = k; i < prefixes; i += distinct) {
            u.nlri.push_back(Prefix::v4((16u << 24) + (i << 8), 24));
            if (u.nlri.size() == kPerUpdate) {
                updates.push_back(u);
                u.nlri.clear();
            }
        }
        if (!u.nlri.empty()) updates.push_back(std::move(u));
    }

    SessionConfig sc;
    sc.local_as = local_as;
    sc.peer_as = peer_as;
    sc.bgp_identifier = rid->v4_host_order();
    sc.connect_retry = std::chrono::seconds(1);
    Session session(sc);
    int fd = -1;
    bool down = false;
    const auto give_up = Clock::now() + std::chrono::seconds(timeout_s);
    session.start(Clock::now());
    std::array<std::uint8_t, 65536> buf{};

    auto flush = [&] {
        const Bytes out = session.take_output();
        if (fd >= 0 && !out.empty() && !send_all(fd, out)) {
            ::close(fd);
            fd = -1;
            session.on_tcp_closed(Clock::now());
        }
    };

    while (!down && Clock::now() < give_up) {
        for (auto& ev : session.take_events()) {
            const auto now = Clock::now();
            if (std::holds_alternative<ConnectRequested>(ev)) {
                fd = ::socket(AF_INET, SOCK_STREAM, 0);
                if (::connect(fd, reinterpret_cast<sockaddr*>(&endpoint), sizeof endpoint) == 0) {
                    session.on_tcp_connected(now);
                } else {
                    ::close(fd);
                    fd = -1;
                    session.on_tcp_closed(now);
                }
            } else if (std::holds_alternative<SessionEstablished>(ev)) {
                std::printf(
                    "established wall-ns %lld\n",
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count()));
                flush();  // the KEEPALIVE first
                std::size_t bytes = 0;
                for (const auto& u : updates) {
                    if (!session.send_update(u, now)) {
                        std::fprintf(stderr, "UPDATE too large\n");
                        return 1;
                    }
                }
                (void)session.send_update(Update{}, now);  // End-of-RIB
                const Bytes out = session.take_output();
                bytes = out.size();
                if (!send_all(fd, out)) {
                    std::printf("down while sending\n");
                    return 1;
                }
                std::printf("sent prefixes %u updates %zu bytes %zu\n", prefixes, updates.size(),
                            bytes);
            } else if (std::holds_alternative<SessionDown>(ev)) {
                down = true;
            } else if (std::holds_alternative<CloseRequested>(ev)) {
                flush();
                if (fd >= 0) ::close(fd);
                fd = -1;
            }
        }
        flush();
        if (down) break;
        const auto now = Clock::now();
        auto wake = give_up;
        if (auto d = session.next_deadline(); d && *d < wake) wake = *d;
        const auto ms =
            std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration{}))
                .count();
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, fd >= 0 ? 1 : 0, static_cast<int>(ms)) > 0) {
            const ssize_t got = ::recv(fd, buf.data(), buf.size(), 0);
            if (got <= 0) {
                ::close(fd);
                fd = -1;
                session.on_tcp_closed(Clock::now());
            } else {
                session.on_bytes(ByteView(buf.data(), static_cast<std::size_t>(got)), Clock::now());
            }
        }
        session.on_timer(Clock::now());
    }
    if (fd >= 0) ::close(fd);
    return 0;
}
