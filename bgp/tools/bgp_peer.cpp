// bgp_peer: a small BGP speaker for interop lab tests (tests/lab/bgp/). Drives the sans-I/O
// Session FSM and the Rib over a plain POSIX TCP socket: connects to (or accepts) one peer,
// reaches Established, announces the given prefixes, prints what it receives, and exits 0 once
// every expectation is met (1 on timeout or session failure).
//
// Output, one line per event (stdout, line-buffered):
//   state Established peer-as 64512 peer-id 10.0.0.1 hold 90
//   route 10.0.0.0/16 next-hop 10.99.0.1 as-path 64512 med 50 origin 0
//   withdraw 10.0.0.0/16
//   fib 10.0.0.0/16 via 10.99.0.1      (or "fib 10.0.0.0/16 remove")
//   done | timeout | down <reason>
//   rfc7606 treat-as-withdraw type 1 <reason>   (or attribute-discard)
//   bfd up wall-ms 1700000000123
//   bfd down diag 1 control-detection-time-expired path-failure yes wall-ms 1700000000999
//   bfd-took-bgp-down wall-ms 1700000001000
//
// --md5-key-file: TCP-MD5 (RFC 2385) with the key in a file readable by its owner only (a file
// group or others can access is refused). --bfd: a BFD session (RFC 5880/5881) to the peer;
// BFD going Down on a path failure takes the BGP session down at once with
// Session::terminate(Cease) -- a peer's BFD AdminDown does not (RFC 5882 section 3.2).
// --wait-bfd-down: stay up after the expectations are met until BFD takes BGP down; exit 0 then.
//
// --graceful-restart SECONDS: advertise the RFC 4724 capability (helper) with that Restart Time;
// a peer's silent restart keeps its routes stale. --reconnect: start the session again after it
// goes down instead of exiting. --until-eor N / --until-established N: also wait for N End-of-RIB
// markers / N times Established. Lines:
//   gr-stale ipv4 ipv6 routes 2          (session down, routes kept as stale)
//   eor ipv4
//   stale-flush ipv4 reason end-of-rib removed 1
// --gtsm: RFC 5082 on every socket (TTL 255 out, TTL < 254 dropped by the kernel).
// --connect and --listen together: both sides open; --collide: once the peer's connection is
// accepted, connect to it as well, so that RFC 4271 section 6.8 collision resolution runs:
//   collision close-second | collision promote-second
//   connection outgoing | incoming     (after Established: who opened the surviving connection)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bfd_socket.hpp"
#include "cgwd/bgp/gtsm.hpp"
#include "cgwd/bgp/policy.hpp"
#include "cgwd/bgp/rib.hpp"
#include "cgwd/bgp/session.hpp"
#include "cgwd/bgp/tcp_md5.hpp"
#include "cgwd/config/daemon_config.hpp"
#include "cgwd/config/secret.hpp"

using namespace cgwd::bgp;
using Clock = std::chrono::steady_clock;

namespace {

std::string path_text(const AsPath& path) {
    std::string out;
    for (const auto& seg : path) {
        const bool set = seg.type == AsPathSegment::Type::Set;
        if (!out.empty()) out += ' ';
        if (set) out += '{';
        for (std::size_t i = 0; i < seg.asns.size(); ++i) {
            if (i) out += set ? "," : " ";
            out += std::to_string(seg.asns[i]);
        }
        if (set) out += '}';
    }
    return out;
}

struct Expect {
    Prefix prefix;
    std::optional<std::string> as_path;
    std::optional<std::uint32_t> med;
};

// Splits "ADDR" or "ADDR:PORT" (IPv4 only, which is all the lab needs).
bool parse_endpoint(const std::string& text, sockaddr_in& sa) {
    std::string host = text;
    std::uint16_t port = 179;
    if (auto colon = text.rfind(':'); colon != std::string::npos) {
        host = text.substr(0, colon);
        port = static_cast<std::uint16_t>(std::stoi(text.substr(colon + 1)));
    }
    sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    return inet_pton(AF_INET, host.c_str(), &sa.sin_addr) == 1;
}

bool send_all(int fd, const Bytes& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The TCP-MD5 key from `path`: refused unless only the owner can access the file; one trailing
// newline is not part of the key. The key itself is never printed.
std::optional<cgwd::config::Secret> read_key_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read the MD5 key file %s\n", path.c_str());
        return std::nullopt;
    }
    if (cgwd::config::accessible_by_others(path)) {
        std::fprintf(stderr,
                     "refusing the MD5 key file %s: group or others can access it; "
                     "run: chmod 600 %s\n",
                     path.c_str(), path.c_str());
        return std::nullopt;
    }
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!key.empty() && key.back() == '\n') key.pop_back();
    if (!key.empty() && key.back() == '\r') key.pop_back();
    return cgwd::config::Secret(std::move(key));
}

const char* reason_text(DownReason r) {
    switch (r) {
        case DownReason::Stopped:
            return "stopped";
        case DownReason::TcpClosed:
            return "tcp-closed";
        case DownReason::HoldTimerExpired:
            return "hold-timer-expired";
        case DownReason::NotificationReceived:
            return "notification-received";
        case DownReason::ProtocolError:
            return "protocol-error";
        case DownReason::LocalReset:
            return "local-reset";
    }
    return "?";
}

std::string families_text(const std::vector<AfiSafi>& families) {
    std::string out;
    for (const auto& f : families) {
        if (!out.empty()) out += ' ';
        out += f == kIpv4Unicast   ? "ipv4"
               : f == kIpv6Unicast ? "ipv6"
                                   : "afi-" + std::to_string(f.afi);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bgp_peer: BGP interop test speaker"};
    std::uint32_t local_as = 0, peer_as = 0;
    std::string router_id_text, connect_to, listen_on, local_address_text;
    std::vector<std::string> announce_text, expect_text, expect_withdraw_text;
    std::optional<std::string> expect_as_path;
    std::optional<std::uint32_t> expect_med;
    int timeout_s = 30;
    std::uint16_t hold = 90;
    std::string md5_key_file, peer_address_text, local_v6_text;
    bool bfd = false, wait_bfd_down = false;
    unsigned bfd_interval_ms = 300;
    unsigned bfd_mult = 3;
    std::optional<std::uint16_t> gr_time;
    bool reconnect = false, gtsm = false, collide = false;
    unsigned until_eor = 0, until_established = 0, established_count = 0;
    app.add_option("--local-as", local_as)->required();
    app.add_option("--peer-as", peer_as)->required();
    app.add_option("--router-id", router_id_text)->required();
    app.add_option("--connect", connect_to, "ADDR[:PORT] to connect to");
    app.add_option("--listen", listen_on, "ADDR[:PORT] to accept one connection on");
    app.add_option("--local-address", local_address_text, "our address: NEXT_HOP we announce")
        ->required();
    app.add_option("--announce", announce_text, "prefix to originate (repeatable)");
    app.add_option("--expect-prefix", expect_text, "prefix that must be received (repeatable)");
    app.add_option("--expect-as-path", expect_as_path, "AS_PATH of the expected prefixes");
    app.add_option("--expect-med", expect_med, "MED of the expected prefixes");
    app.add_option("--expect-withdraw", expect_withdraw_text,
                   "prefix that must be withdrawn after being received (repeatable)");
    app.add_option("--timeout", timeout_s, "seconds before giving up");
    app.add_option("--hold", hold, "hold time to propose");
    app.add_option("--local-address-v6", local_v6_text,
                   "also negotiate IPv6 unicast; our IPv6 NEXT_HOP");
    app.add_option("--peer-address", peer_address_text,
                   "the peer's address (default: the --connect address)");
    app.add_option("--md5-key-file", md5_key_file, "TCP-MD5 key (RFC 2385), file mode 0600");
    app.add_flag("--bfd", bfd, "run BFD (RFC 5880/5881) to the peer");
    app.add_option("--bfd-interval", bfd_interval_ms, "BFD min tx / rx interval, ms");
    app.add_option("--bfd-mult", bfd_mult, "BFD detect multiplier")->check(CLI::Range(1, 255));
    app.add_flag("--wait-bfd-down", wait_bfd_down,
                 "after the expectations, wait until BFD takes the session down");
    app.add_option("--graceful-restart", gr_time,
                   "advertise Graceful Restart (RFC 4724, helper) with this restart time, s")
        ->check(CLI::Range(1, 4095));
    app.add_flag("--reconnect", reconnect, "start the session again after it goes down");
    app.add_option("--until-eor", until_eor, "also wait for this many End-of-RIB markers");
    app.add_option("--until-established", until_established,
                   "also wait until the session was Established this many times");
    app.add_flag("--gtsm", gtsm, "GTSM (RFC 5082): send TTL 255, drop TTL < 254");
    app.add_flag("--collide", collide,
                 "with --connect and --listen: connect as well once the peer's connection is in");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    if (connect_to.empty() && listen_on.empty()) {
        std::fprintf(stderr, "--connect and/or --listen\n");
        return 2;
    }
    const bool both = !connect_to.empty() && !listen_on.empty();
    sockaddr_in listen_endpoint{};
    if (both && !parse_endpoint(listen_on, listen_endpoint)) {
        std::fprintf(stderr, "bad --listen address\n");
        return 2;
    }
    const auto rid = parse_address(router_id_text);
    const auto local_address = parse_address(local_address_text);
    sockaddr_in endpoint{};
    if (!rid || rid->afi != Afi::Ipv4 || !local_address ||
        !parse_endpoint(connect_to.empty() ? listen_on : connect_to, endpoint)) {
        std::fprintf(stderr, "bad address\n");
        return 2;
    }
    std::uint32_t peer_host_order = ntohl(endpoint.sin_addr.s_addr);
    if (!peer_address_text.empty()) {
        const auto pa = parse_address(peer_address_text);
        if (!pa || pa->afi != Afi::Ipv4) return std::fprintf(stderr, "bad --peer-address\n"), 2;
        peer_host_order = pa->v4_host_order();
    } else if (!listen_on.empty() && (bfd || !md5_key_file.empty())) {
        return std::fprintf(stderr, "--listen with --bfd / --md5-key-file needs --peer-address\n"),
               2;
    }
    const IpAddress peer_address = IpAddress::v4(peer_host_order);
    std::optional<cgwd::config::Secret> md5_key;
    if (!md5_key_file.empty()) {
        md5_key = read_key_file(md5_key_file);
        if (!md5_key) return 2;
    }
    auto apply_md5 = [&](int sock) {
        if (gtsm) {
            if (auto r = set_gtsm(sock); !r) {
                std::fprintf(stderr, "%s\n", r.error().c_str());
                return false;
            }
        }
        if (!md5_key) return true;
        const auto key = md5_key->reveal();
        auto r = set_tcp_md5(sock, peer_address,
                             {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()});
        if (!r) std::fprintf(stderr, "%s\n", r.error().c_str());
        return r.has_value();
    };
    std::vector<Prefix> announce;
    std::vector<Expect> expects;
    std::set<Prefix> expect_withdraw;
    for (const auto& t : announce_text) {
        auto p = parse_prefix(t);
        if (!p) return std::fprintf(stderr, "bad prefix %s\n", t.c_str()), 2;
        announce.push_back(*p);
    }
    for (const auto& t : expect_text) {
        auto p = parse_prefix(t);
        if (!p) return std::fprintf(stderr, "bad prefix %s\n", t.c_str()), 2;
        expects.push_back({*p, expect_as_path, expect_med});
    }
    for (const auto& t : expect_withdraw_text) {
        auto p = parse_prefix(t);
        if (!p) return std::fprintf(stderr, "bad prefix %s\n", t.c_str()), 2;
        expect_withdraw.insert(*p);
    }

    SessionConfig sc;
    sc.local_as = local_as;
    sc.peer_as = peer_as;
    sc.bgp_identifier = rid->v4_host_order();
    sc.hold_time = hold;
    sc.connect_retry = std::chrono::seconds(2);
    sc.passive = connect_to.empty() || collide;
    if (gr_time) {
        sc.graceful_restart = GracefulRestart{false, false, *gr_time, {{kIpv4Unicast, false}}};
    }
    std::optional<IpAddress> local_v6;
    if (!local_v6_text.empty()) {
        local_v6 = parse_address(local_v6_text);
        if (!local_v6 || local_v6->afi != Afi::Ipv6) {
            return std::fprintf(stderr, "bad --local-address-v6\n"), 2;
        }
        sc.families = {kIpv4Unicast, kIpv6Unicast};
        if (sc.graceful_restart) sc.graceful_restart->families.push_back({kIpv6Unicast, false});
    }
    Session session(sc);

    Rib rib({local_as, rid->v4_host_order(), 4, false, 100});
    PeerConfig pc;
    pc.peer_as = peer_as;
    pc.address = peer_address;
    pc.local_address = *local_address;
    pc.local_address_v6 = local_v6;
    pc.import_policy = ImportPolicy{};  // accept all (explicitly configured: RFC 8212)
    pc.export_policy = ExportPolicy{};
    const PeerId peer = rib.add_peer(pc);
    for (const auto& p : announce) rib.originate(p);

    int listen_fd = -1;
    if (!listen_on.empty()) {
        listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (!apply_md5(listen_fd)) return 1;
        sockaddr_in& where = both ? listen_endpoint : endpoint;
        if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&where), sizeof where) != 0 ||
            ::listen(listen_fd, 1) != 0) {
            std::perror("listen");
            return 1;
        }
    }

    std::optional<BfdSession> bfd_session;
    cgwd::bgp::tools::BfdSocket bfd_socket;
    bool bfd_took_down = false;
    if (bfd) {
        if (auto err = bfd_socket.open(local_address->v4_host_order(), peer_host_order);
            !err.empty()) {
            std::fprintf(stderr, "bfd: %s\n", err.c_str());
            return 1;
        }
        std::random_device rd;
        BfdConfig bc;
        bc.local_discriminator = (static_cast<std::uint32_t>(rd()) | 1u);
        bc.desired_min_tx = std::chrono::milliseconds(bfd_interval_ms);
        bc.required_min_rx = std::chrono::milliseconds(bfd_interval_ms);
        bc.detect_mult = static_cast<std::uint8_t>(bfd_mult);
        bfd_session.emplace(
            bc, [rng = std::mt19937(rd())]() mutable { return static_cast<std::uint32_t>(rng()); });
        bfd_session->start(Clock::now());
    }

    int fd = -1;
    int fd2 = -1;  // a colliding second connection (RFC 4271 section 6.8)
    bool fd_outgoing = false, fd2_outgoing = false;
    unsigned eor_seen = 0;
    std::map<Prefix, bool> seen;  // expected prefix -> matched
    std::set<Prefix> received, withdrawn_after_seen;
    const auto give_up = Clock::now() + std::chrono::seconds(timeout_s);
    session.start(Clock::now());
    int exit_code = -1;
    bool session_down = false;

    auto done = [&] {
        for (const auto& e : expects) {
            if (!seen[e.prefix]) return false;
        }
        for (const auto& p : expect_withdraw) {
            if (!withdrawn_after_seen.contains(p)) return false;
        }
        if (eor_seen < until_eor || established_count < until_established) return false;
        return !wait_bfd_down || bfd_took_down;
    };
    auto print_fib = [&] {
        for (const auto& c : rib.take_fib_changes()) {
            std::string hops;
            for (const auto& h : c.next_hops) hops += " " + h.address.to_string();
            std::printf("fib %s %s%s\n", c.prefix.to_string().c_str(),
                        c.next_hops.empty() ? "remove" : "via", hops.c_str());
        }
    };
    auto connect_out = [&]() -> int {
        int s = ::socket(AF_INET, SOCK_STREAM, 0);
        // Bounded connect: a peer that drops our SYNs (wrong TCP-MD5 key, GTSM) must not hang
        // the loop for the kernel's two-minute SYN retry budget.
        const timeval connect_timeout{3, 0};
        ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &connect_timeout, sizeof connect_timeout);
        if (!apply_md5(s)) {
            ::close(s);
            return -2;
        }
        if (::connect(s, reinterpret_cast<sockaddr*>(&endpoint), sizeof endpoint) != 0) {
            std::printf("connect failed: %s\n", std::strerror(errno));
            ::close(s);
            return -1;
        }
        return s;
    };

    auto flush = [&] {
        if (const Bytes out2 = session.take_second_output(); fd2 >= 0 && !out2.empty()) {
            (void)send_all(fd2, out2);
        }
        const Bytes out = session.take_output();
        if (fd >= 0 && !out.empty() && !send_all(fd, out)) {
            ::close(fd);
            fd = -1;
            session.on_tcp_closed(Clock::now());
        }
    };

    while (exit_code < 0) {
        for (auto& ev : session.take_events()) {
            const auto now = Clock::now();
            if (std::holds_alternative<ConnectRequested>(ev) && !connect_to.empty()) {
                if (fd >= 0) continue;  // the peer's connection came first
                const int s = connect_out();
                if (s == -2) return 1;
                if (s >= 0) {
                    fd = s;
                    fd_outgoing = true;
                    session.on_tcp_connected(now, ConnectionDirection::Outgoing);
                } else {
                    session.on_tcp_closed(now);
                }
            } else if (std::holds_alternative<CloseSecond>(ev)) {
                std::printf("collision close-second\n");
                flush();
                if (fd2 >= 0) ::close(fd2);
                fd2 = -1;
            } else if (auto* pr = std::get_if<PromoteSecond>(&ev)) {
                std::printf("collision promote-second\n");
                if (fd >= 0) {
                    (void)send_all(fd, pr->first_last_words);
                    ::close(fd);
                }
                fd = fd2;
                fd_outgoing = fd2_outgoing;
                fd2 = -1;
            } else if (auto* eor = std::get_if<EndOfRibReceived>(&ev)) {
                std::printf("eor %s\n", families_text({eor->family}).c_str());
                ++eor_seen;
            } else if (auto* stale = std::get_if<StaleRoutesExpired>(&ev)) {
                const std::size_t n = rib.flush_stale(peer, stale->families);
                std::printf("stale-flush %s reason %s removed %zu\n",
                            families_text(stale->families).c_str(), to_string(stale->reason), n);
                print_fib();
            } else if (auto* est = std::get_if<SessionEstablished>(&ev)) {
                std::printf("state Established peer-as %u peer-id %s hold %u\n", est->peer_as,
                            IpAddress::v4(est->peer_identifier).to_string().c_str(),
                            est->hold_time);
                ++established_count;
                if (both) std::printf("connection %s\n", fd_outgoing ? "outgoing" : "incoming");
                rib.peer_up(peer, *est);
                for (const auto& u : rib.take_updates(peer).updates) {
                    if (!session.send_update(u, now)) std::printf("error update-too-large\n");
                }
                (void)session.send_end_of_rib(now);  // RFC 4724 section 2
            } else if (auto* rr = std::get_if<RoutesReceived>(&ev)) {
                const Update& u = rr->update;
                for (const auto& err : u.errors) {
                    if (auto* w = std::get_if<TreatAsWithdraw>(&err)) {
                        std::printf("rfc7606 treat-as-withdraw type %u %.*s\n", w->type,
                                    static_cast<int>(w->reason.size()), w->reason.data());
                    } else if (auto* a = std::get_if<AttributeDiscard>(&err)) {
                        std::printf("rfc7606 attribute-discard type %u %.*s\n", a->type,
                                    static_cast<int>(a->reason.size()), a->reason.data());
                    }
                }
                const std::string nh4 =
                    u.attributes.next_hop ? IpAddress::v4(*u.attributes.next_hop).to_string() : "-";
                std::string nh6 = "-";
                if (u.attributes.mp_reach && u.attributes.mp_reach->next_hop.size() >= 16) {
                    std::array<std::uint8_t, 16> b{};
                    std::copy_n(u.attributes.mp_reach->next_hop.begin(), 16, b.begin());
                    nh6 = IpAddress::v6(b).to_string();
                }
                for (const auto& p : u.routes_withdrawn()) {
                    std::printf("withdraw %s\n", p.to_string().c_str());
                    if (received.contains(p)) withdrawn_after_seen.insert(p);
                }
                const std::string path = path_text(effective_as_path(u.attributes));
                for (const auto& p : u.routes_announced()) {
                    received.insert(p);
                    std::printf("route %s next-hop %s as-path %s med %s origin %d\n",
                                p.to_string().c_str(), (p.afi == Afi::Ipv6 ? nh6 : nh4).c_str(),
                                path.c_str(),
                                u.attributes.med ? std::to_string(*u.attributes.med).c_str() : "-",
                                static_cast<int>(u.attributes.origin.value_or(Origin::Incomplete)));
                    for (const auto& e : expects) {
                        if (e.prefix != p) continue;
                        const bool ok = (!e.as_path || *e.as_path == path) &&
                                        (!e.med || u.attributes.med == e.med);
                        if (!ok) std::printf("mismatch %s\n", p.to_string().c_str());
                        seen[p] = seen[p] || ok;
                    }
                }
                const auto report = rib.apply_update(peer, u);
                if (report.reset) session.terminate(*report.reset, now);
                print_fib();
            } else if (auto* down = std::get_if<SessionDown>(&ev)) {
                std::printf("down %s", reason_text(down->reason));
                if (down->notification) {
                    std::printf(" notification %u/%u", down->notification->code,
                                down->notification->subcode);
                }
                std::printf("\n");
                if (!down->stale_families.empty()) {
                    rib.peer_down_graceful(peer, down->stale_families);
                    std::printf("gr-stale %s routes %zu\n",
                                families_text(down->stale_families).c_str(), rib.stale_count(peer));
                } else {
                    rib.peer_down(peer);
                }
                print_fib();
                if (fd2 >= 0) ::close(fd2);
                fd2 = -1;
                if (reconnect) {
                    session.start(now);
                } else {
                    session_down = true;
                }
                if (bfd_took_down) std::printf("bfd-took-bgp-down wall-ms %lld\n", wall_ms());
            } else if (std::holds_alternative<CloseRequested>(ev)) {
                flush();
                if (fd >= 0) ::close(fd);
                fd = -1;
            }
        }
        flush();
        bool terminated_now = false;
        if (bfd_session) {
            for (const auto& pkt : bfd_session->take_packets()) bfd_socket.send(pkt);
            for (const auto& ev : bfd_session->take_events()) {
                if (std::holds_alternative<BfdUp>(ev)) {
                    std::printf("bfd up wall-ms %lld\n", wall_ms());
                } else if (auto* d = std::get_if<BfdDown>(&ev)) {
                    std::printf("bfd down diag %u %s path-failure %s wall-ms %lld\n",
                                static_cast<unsigned>(d->diag), to_string(d->diag),
                                d->path_failure ? "yes" : "no", wall_ms());
                    const auto st = session.state();
                    if (d->path_failure &&
                        (st == SessionState::OpenSent || st == SessionState::OpenConfirm ||
                         st == SessionState::Established)) {
                        bfd_took_down = terminated_now = true;
                        session.terminate(Notification::make(ErrorCode::Cease, 0), Clock::now());
                    }
                }
            }
            if (terminated_now) continue;  // deliver the SessionDown this produced first
        }
        if (exit_code >= 0) break;
        if (done()) {
            if (session_down) {
                std::printf("done\n");
                exit_code = 0;
                break;
            }
            std::printf("done\n");
            session.stop(Clock::now(), "bgp_peer: test complete");
            (void)session.take_events();
            flush();
            exit_code = 0;
            break;
        }
        if (session_down) {
            exit_code = 1;
            break;
        }
        const auto now = Clock::now();
        if (now >= give_up) {
            std::printf("timeout state %s\n", to_string(session.state()));
            exit_code = 1;
            break;
        }
        auto wake = give_up;
        if (auto d = session.next_deadline(); d && *d < wake) wake = *d;
        if (bfd_session) {
            if (auto d = bfd_session->next_deadline(); d && *d < wake) wake = *d;
        }
        // Rounded up so a deadline is never polled for too early.
        const auto ms =
            std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration{}))
                .count();
        // In both-ways mode the listener stays polled while a connection is up (collisions).
        const int first_fd = fd >= 0 ? fd : listen_fd;
        const int accept_fd = both && fd >= 0 && fd2 < 0 ? listen_fd : -1;
        pollfd pfds[4] = {{first_fd, POLLIN, 0},
                          {bfd_session ? bfd_socket.receive_fd() : -1, POLLIN, 0},
                          {fd2, POLLIN, 0},
                          {accept_fd, POLLIN, 0}};
        int n = ::poll(pfds, 4, static_cast<int>(ms));
        if (n > 0 && fd2 >= 0 && (pfds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            std::uint8_t buf[4096];
            const ssize_t got = ::recv(fd2, buf, sizeof buf, 0);
            if (got <= 0) {
                ::close(fd2);
                fd2 = -1;
                session.on_tcp_closed(Clock::now(), ConnectionSlot::Second);
            } else {
                session.on_bytes(ByteView(buf, static_cast<std::size_t>(got)), Clock::now(),
                                 ConnectionSlot::Second);
            }
            continue;
        }
        if (n > 0 && accept_fd >= 0 && (pfds[3].revents & POLLIN)) {
            const int s = ::accept(listen_fd, nullptr, nullptr);
            if (s >= 0) {
                if (session.on_tcp_connected(Clock::now(), ConnectionDirection::Incoming) ==
                    ConnectionSlot::Second) {
                    fd2 = s;
                    fd2_outgoing = false;
                } else {
                    ::close(s);
                }
            }
            continue;
        }
        if (n > 0 && (pfds[1].revents & POLLIN)) {
            --n;
            while (auto dg = bfd_socket.receive()) {
                if (!dg->from_peer || dg->ttl != 255) {
                    std::printf("bfd drop ttl %d%s\n", dg->ttl, dg->from_peer ? "" : " not-peer");
                    continue;
                }
                if (auto r = bfd_session->on_datagram(dg->bytes, Clock::now()); !r) {
                    std::printf("bfd reject %s\n", r.error().decode_error
                                                       ? to_string(*r.error().decode_error)
                                                       : "discriminator");
                }
            }
            if (n == 0 || pfds[0].fd < 0 || !(pfds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
                n = 0;
            }
        }
        if (bfd_session) bfd_session->on_timer(Clock::now());
        if (n > 0 && fd < 0 && listen_fd >= 0 && (pfds[0].revents & POLLIN)) {
            fd = ::accept(listen_fd, nullptr, nullptr);
            fd_outgoing = false;
            if (fd >= 0 &&
                session.on_tcp_connected(Clock::now(), ConnectionDirection::Incoming) ==
                    ConnectionSlot::First &&
                collide) {
                // Open the other direction too: both connections are up at once.
                const int s = connect_out();
                if (s == -2) return 1;
                if (s >= 0) {
                    fd2 = s;
                    fd2_outgoing = true;
                    (void)session.on_tcp_connected(Clock::now(), ConnectionDirection::Outgoing);
                }
            }
        } else if (n > 0 && (pfds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            std::uint8_t buf[4096];
            const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
            if (got <= 0) {
                ::close(fd);
                fd = -1;
                session.on_tcp_closed(Clock::now());
            } else {
                session.on_bytes(ByteView(buf, static_cast<std::size_t>(got)), Clock::now());
            }
        }
        session.on_timer(Clock::now());
    }
    if (fd >= 0) ::close(fd);
    if (fd2 >= 0) ::close(fd2);
    if (listen_fd >= 0) ::close(listen_fd);
    return exit_code;
}
