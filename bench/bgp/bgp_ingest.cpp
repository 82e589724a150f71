// bgp_ingest: the receiving end of the route-ingestion benchmark (bench/bgp/run). Accepts one
// BGP session (passive, plain POSIX TCP), drives cgwd's sans-I/O Session FSM and Rib the way the
// daemon's Routing does for every UPDATE (daemon/src/routing.cpp on_routes: apply_update, then
// the FIB change batch, whose state the Rib keeps as the daemon's installed routes, then
// take_updates to the peer), and stops once `--prefixes` IPv4 prefixes are in the FIB.
// With `--kernel-table T --kernel-device DEV` the FIB changes of each UPDATE also go into the
// kernel's table T as the daemon installs them (one KernelRoutes::apply batch per UPDATE, via
// the peer's address on DEV, route protocol 199), and it stops once that many prefixes are
// acknowledged by the kernel; without it kernel installation is not part of the measurement.
//
// Output (stdout), one line each:
//   ready
//   established wall-ns 1700000000123456789
//   done prefixes 100000 updates 95 ms 812.4 cpu-ms 790.1 rss-kb 51234 hwm-kb 51234
//        base-rss-kb 4100
// ms is the steady-clock time from the session reaching Established to the last of the prefixes
// entering the FIB (with --kernel-table: the kernel's acknowledgement of the last one);
// cpu-ms is this process's user + system CPU time over the same span; rss
// is VmRSS / VmHWM from /proc/self/status at that moment, base-rss-kb VmRSS before the session.
// Exit 0 when done; 1 on timeout or when the session goes down first.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cgwd/bgp/policy.hpp"
#include "cgwd/bgp/rib.hpp"
#include "cgwd/bgp/session.hpp"
#include "cgwd/dataplane/routes.hpp"

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

// A "VmRSS:" style line of /proc/self/status, in kB (0 when absent).
long status_kb(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string k(key);
    while (std::getline(in, line)) {
        if (line.rfind(k, 0) == 0) return std::stol(line.substr(k.size()));
    }
    return 0;
}

double cpu_ms() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto ms = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
    };
    return ms(ru.ru_utime) + ms(ru.ru_stime);
}

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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bgp_ingest: route-ingestion benchmark receiver (cgwd Session + Rib)"};
    std::uint32_t local_as = 0, peer_as = 0;
    std::string router_id_text, listen_on, local_address_text, peer_address_text;
    std::size_t prefixes = 0;
    int timeout_s = 120;
    bool trace = false;
    std::uint32_t kernel_table = 0;
    std::string kernel_device;
    app.add_option("--local-as", local_as)->required();
    app.add_option("--peer-as", peer_as)->required();
    app.add_option("--router-id", router_id_text)->required();
    app.add_option("--listen", listen_on, "ADDR[:PORT] to accept one connection on")->required();
    app.add_option("--local-address", local_address_text, "our address on the session")->required();
    app.add_option("--peer-address", peer_address_text, "the peer's address")->required();
    app.add_option("--prefixes", prefixes, "stop once this many prefixes are installed")
        ->required();
    app.add_option("--timeout", timeout_s, "seconds before giving up");
    app.add_flag("--trace", trace, "print one line per UPDATE: ms since Established, prefixes");
    app.add_option("--kernel-table", kernel_table,
                   "also install the routes into this kernel table (needs --kernel-device)");
    app.add_option("--kernel-device", kernel_device, "the device the routes point through");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    const auto rid = parse_address(router_id_text);
    const auto local_address = parse_address(local_address_text);
    const auto peer_address = parse_address(peer_address_text);
    sockaddr_in endpoint{};
    if (!rid || rid->afi != Afi::Ipv4 || !local_address || !peer_address ||
        !parse_endpoint(listen_on, endpoint)) {
        std::fprintf(stderr, "bad address\n");
        return 2;
    }

    std::optional<cgwd::dataplane::KernelRoutes> kernel;
    std::uint32_t kernel_ifindex = 0;
    if (kernel_table != 0) {
        kernel_ifindex = ::if_nametoindex(kernel_device.c_str());
        if (kernel_ifindex == 0) {
            std::fprintf(stderr, "--kernel-device %s: no such device\n", kernel_device.c_str());
            return 2;
        }
        cgwd::dataplane::KernelRoutes::Options ko;
        ko.table = kernel_table;
        auto k = cgwd::dataplane::KernelRoutes::open(ko);
        if (!k) {
            std::fprintf(stderr, "route socket: %s\n", k.error().message.c_str());
            return 1;
        }
        kernel.emplace(std::move(*k));
    }
    const cgwd::config::Ipv4Address gateway{peer_address->v4_host_order()};
    std::size_t kernel_errors = 0;

    SessionConfig sc;
    sc.local_as = local_as;
    sc.peer_as = peer_as;
    sc.bgp_identifier = rid->v4_host_order();
    sc.passive = true;
    Session session(sc);
    Rib rib({local_as, rid->v4_host_order(), 4, false, 100});
    PeerConfig pc;
    pc.peer_as = peer_as;
    pc.address = *peer_address;
    pc.local_address = *local_address;
    pc.import_policy = ImportPolicy{};  // accept all (configured, so RFC 8212 allows it)
    pc.export_policy = ExportPolicy{};
    const PeerId peer = rib.add_peer(pc);

    const int listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&endpoint), sizeof endpoint) != 0 ||
        ::listen(listen_fd, 1) != 0) {
        std::perror("listen");
        return 1;
    }
    const long base_rss = status_kb("VmRSS:");
    std::printf("ready\n");

    int fd = -1;
    // Prefixes in the FIB: the Rib keeps the installed state for the daemon too (fib_size),
    // less those the kernel refused.
    auto in_fib = [&] { return rib.fib_size() - std::min(rib.fib_size(), kernel_errors); };
    std::size_t updates = 0;
    std::optional<Clock::time_point> t0;
    double cpu0 = 0;
    bool down = false;
    const auto give_up = Clock::now() + std::chrono::seconds(timeout_s);
    session.start(Clock::now());
    std::array<std::uint8_t, 65536> buf{};  // the daemon's read buffer size

    auto flush = [&] {
        const Bytes out = session.take_output();
        if (fd >= 0 && !out.empty() && !send_all(fd, out)) {
            ::close(fd);
            fd = -1;
            session.on_tcp_closed(Clock::now());
        }
    };
    auto export_to_peer = [&](Clock::time_point now) {
        for (const auto& u : rib.take_updates(peer).updates) (void)session.send_update(u, now);
    };

    while (true) {
        for (auto& ev : session.take_events()) {
            const auto now = Clock::now();
            if (auto* est = std::get_if<SessionEstablished>(&ev)) {
                t0 = now;
                cpu0 = cpu_ms();
                std::printf(
                    "established wall-ns %lld\n",
                    static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count()));
                rib.peer_up(peer, *est);
                export_to_peer(now);
            } else if (auto* rr = std::get_if<RoutesReceived>(&ev)) {
                ++updates;
                if (trace && t0) {
                    std::printf("update %zu at-ms %.3f nlri %zu withdrawn %zu\n", updates,
                                std::chrono::duration<double, std::milli>(now - *t0).count(),
                                rr->update.routes_announced().size(),
                                rr->update.routes_withdrawn().size());
                }
                const auto report = rib.apply_update(peer, rr->update);
                if (report.reset) session.terminate(*report.reset, now);
                auto changes = rib.take_fib_changes();
                std::vector<cgwd::dataplane::RouteOp> ops;
                if (kernel) {
                    ops.reserve(changes.size());
                    for (const auto& c : changes) {
                        cgwd::dataplane::RouteOp op;
                        op.remove = c.next_hops.empty();
                        std::uint32_t a = 0;
                        for (std::size_t b = 0; b < 4; ++b) a = (a << 8) | c.prefix.address[b];
                        op.route.destination = cgwd::config::Ipv4Prefix::of(
                            cgwd::config::Ipv4Address{a}, c.prefix.length);
                        if (!op.remove) op.route.hops.push_back({kernel_ifindex, {}, gateway, 1});
                        ops.push_back(std::move(op));
                    }
                }
                const auto outcome = kernel ? kernel->apply(ops) : cgwd::dataplane::RouteBatchOutcome{};
                for (std::size_t i = 0; kernel && i < changes.size(); ++i)
                    if (outcome.errors.at(i)) ++kernel_errors;
                export_to_peer(now);
            } else if (std::holds_alternative<SessionDown>(ev)) {
                down = true;
            } else if (std::holds_alternative<CloseRequested>(ev)) {
                flush();
                if (fd >= 0) ::close(fd);
                fd = -1;
            }
        }
        flush();
        if (t0 && in_fib() >= prefixes) {
            const double ms = std::chrono::duration<double, std::milli>(Clock::now() - *t0).count();
            const double cpu = cpu_ms() - cpu0;
            std::printf(
                "done prefixes %zu updates %zu ms %.1f cpu-ms %.1f rss-kb %ld hwm-kb %ld "
                "base-rss-kb %ld\n",
                in_fib(), updates, ms, cpu, status_kb("VmRSS:"), status_kb("VmHWM:"), base_rss);
            session.stop(Clock::now(), "bgp_ingest: done");
            (void)session.take_events();
            flush();
            // Skip tearing down the RIB's maps: that is not ingestion, and it would take a while
            // and show up in a profile of this run.
            std::fflush(stdout);
            if (fd >= 0) ::close(fd);
            ::_exit(0);
        }
        const auto now = Clock::now();
        if (down || now >= give_up) {
            std::printf("%s prefixes %zu updates %zu state %s kernel-errors %zu\n",
                        down ? "down" : "timeout", in_fib(), updates, to_string(session.state()),
                        kernel_errors);
            return 1;
        }
        auto wake = give_up;
        if (auto d = session.next_deadline(); d && *d < wake) wake = *d;
        const auto ms =
            std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration{}))
                .count();
        pollfd pfd{fd >= 0 ? fd : listen_fd, POLLIN, 0};
        const int n = ::poll(&pfd, 1, static_cast<int>(ms));
        if (n > 0 && fd < 0) {
            fd = ::accept(listen_fd, nullptr, nullptr);
            if (fd >= 0) session.on_tcp_connected(Clock::now());
        } else if (n > 0) {
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
}
