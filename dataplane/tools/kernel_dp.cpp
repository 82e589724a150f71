// kernel_dp: drives the kernel backend (kernel.hpp: KernelDataplane, routes.hpp, nft_mss.hpp)
// with commands read from stdin, one per line, for the lab tests (tests/lab/dataplane,
// tests/kernel). Each command prints "ok <command>" (plus its result) or "FAIL <line>: why" and
// then exits 1. End of input runs the destructor (= shutdown()). Keys on the command input are
// test keys only; they are never printed.
//
//   kernel_dp [--underlying IF] [--table N] [--protocol N] [--name-prefix P] [--route-rcvbuf B]
//   (--route-rcvbuf: SO_RCVBUF of the route socket; tiny values force ENOBUFS and the resync)
//
// Numbers take 0x for hex. Commands (key=value words):
//   probe                                        kernel support (esp_cbc= esp_gcm= xfrm_interface=)
//   cleanup                                      cleanup_leftovers(), prints the counts
//   tunnel name=N if_id=I [mtu=1436] [local=A] [prefix=30]
//   deltunnel if_id=I
//   sa dir=in|out spi=S src=A dst=A cipher=gcm128|gcm256|cbc128|cbc256 key=HEX
//      [integ=sha1|sha256|sha384|sha512 ikey=HEX] [encap=SPORT:DPORT] [esn=1] [window=N]
//      [reqid=R] if_id=I [soft_bytes= hard_bytes= soft_packets= hard_packets= soft_seconds=
//      hard_seconds=]                            (updsa: same words, XFRM_MSG_UPDSA)
//   delsa spi=S dst=A      query spi=S dst=A     (query prints bytes= packets= ...)
//   policy dir=in|out|fwd src=P dst=P tsrc=A tdst=A [reqid=R] if_id=I [priority=N]
//   delpolicy dir=.. src=P dst=P if_id=I
//   route dst=P [metric=M] [table=T] hop=SPEC [hop=SPEC...]     (P and gw: IPv4 or IPv6)
//      SPEC: if_id,... or dev:NAME,... then optional ,gw=A ,w=N
//   delroute dst=P [metric=M] [table=T]
//   routes                                       our routes, both families (KernelRoutes::list)
//   bulkroutes count=N dev=NAME [base=172.16.0.0] [len=32] [op=add|del] [mode=batch|single]
//      [metric=M] [table=T] [gw=A]  N routes base, base+1<<(32-len), ... via dev: one apply_routes
//                               (batch) or N add_route/del_route calls (single); prints
//                               failures= resynced= repaired= ms=
//   flushroutes                                  KernelRoutes::flush_protocol (both families)
//   mss if_id=I mss=M
//   clamp dev=NAME mss=M                         NftMssClamp on any device (hosts without XFRM
//                                                interfaces); removed by cleanup
//   ifclamp dev=NAME mss=M                       KernelDataplane::set_interface_mss_clamp
//   dxclamp dev=NAME mss=M                       standalone NftMssClamp::set_interface_clamp
//   vlan parent=IF id=N [mtu=1500] [addr=A/P]    KernelLinks::create_vlan (A IPv4 or IPv6),
//                                                prints ifindex=
//   delvlan name=NAME                            KernelLinks::delete_vlan
//   ifindex name=NAME                            KernelLinks::ifindex_of
//   expiry count=N timeout=S                     waits for N expiry events, prints them
//   touch file=F      wait file=F [timeout=S]    lab synchronisation
//   shutdown                                     KernelDataplane::shutdown()
//   crash                                        exits without any cleanup (a crash)
#include <poll.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cgwd/dataplane/kernel.hpp"
#include "cgwd/dataplane/links.hpp"

namespace dp = cgwd::dataplane;
namespace cfg = cgwd::config;

namespace {

struct Failure {
    std::string why;
};

using Words = std::map<std::string, std::vector<std::string>>;

std::uint64_t number(const std::string& s) {
    std::uint64_t v = 0;
    const bool hex = s.starts_with("0x");
    const char* b = s.data() + (hex ? 2 : 0);
    auto r = std::from_chars(b, s.data() + s.size(), v, hex ? 16 : 10);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || b == s.data() + s.size())
        throw Failure{"bad number " + s};
    return v;
}

const std::string& word(const Words& w, const std::string& key) {
    auto it = w.find(key);
    if (it == w.end() || it->second.empty()) throw Failure{"missing " + key + "="};
    return it->second.front();
}
std::optional<std::string> maybe(const Words& w, const std::string& key) {
    auto it = w.find(key);
    if (it == w.end() || it->second.empty()) return std::nullopt;
    return it->second.front();
}
std::uint64_t num(const Words& w, const std::string& key, std::uint64_t fallback) {
    auto v = maybe(w, key);
    return v ? number(*v) : fallback;
}
template <class T>
T num_as(const Words& w, const std::string& key, T fallback) {
    return static_cast<T>(num(w, key, fallback));
}
// T::parse(s), or a Failure naming `what` and the text.
template <class T>
T parsed(const std::string& s, const char* what) {
    auto v = T::parse(s);
    if (!v) throw Failure{std::string("bad ") + what + " " + s};
    return *v;
}
cfg::Ipv4Address addr(const std::string& s) {
    return parsed<cfg::Ipv4Address>(s, "address");
}
cfg::Ipv4Prefix prefix(const std::string& s) {
    return parsed<cfg::Ipv4Prefix>(s, "prefix");
}
// Either family (routes, gateways, VLAN addresses).
cfg::IpAddress any_addr(const std::string& s) {
    return parsed<cfg::IpAddress>(s, "address");
}
cfg::IpPrefix any_prefix(const std::string& s) {
    return parsed<cfg::IpPrefix>(s, "prefix");
}
dp::KeyBytes key_hex(const std::string& s) {
    if (s.size() % 2 != 0) throw Failure{"odd hex key"};
    std::vector<std::uint8_t> b(s.size() / 2);
    for (std::size_t i = 0; i < b.size(); ++i) {
        auto r = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, b[i], 16);
        if (r.ec != std::errc{}) throw Failure{"bad hex key"};
    }
    return dp::KeyBytes(b);
}
dp::PolicyDirection policy_dir(const std::string& s) {
    if (s == "in") return dp::PolicyDirection::in;
    if (s == "out") return dp::PolicyDirection::out;
    if (s == "fwd") return dp::PolicyDirection::fwd;
    throw Failure{"bad dir " + s};
}

template <class T>
T check(std::expected<T, dp::Error> r) {
    if (!r) throw Failure{r.error().message};
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

dp::SaConfig sa_config(const Words& w) {
    dp::SaConfig sa;
    const std::string dir = word(w, "dir");
    if (dir != "in" && dir != "out") throw Failure{"bad dir " + dir};
    sa.direction = dir == "in" ? dp::Direction::inbound : dp::Direction::outbound;
    sa.spi = static_cast<std::uint32_t>(number(word(w, "spi")));
    sa.src = addr(word(w, "src"));
    sa.dst = addr(word(w, "dst"));
    const std::string cipher = word(w, "cipher");
    if (cipher == "gcm128" || cipher == "gcm256") {
        sa.cipher = {cfg::encr::aes_gcm_16,
                     static_cast<std::uint16_t>(cipher == "gcm128" ? 128 : 256)};
    } else if (cipher == "cbc128" || cipher == "cbc256") {
        sa.cipher = {cfg::encr::aes_cbc,
                     static_cast<std::uint16_t>(cipher == "cbc128" ? 128 : 256)};
    } else {
        throw Failure{"bad cipher " + cipher};
    }
    sa.enc_key = key_hex(word(w, "key"));
    if (auto integ = maybe(w, "integ")) {
        const std::map<std::string, std::uint16_t> ids = {
            {"sha1", cfg::integ::hmac_sha1_96},
            {"sha256", cfg::integ::hmac_sha2_256_128},
            {"sha384", cfg::integ::hmac_sha2_384_192},
            {"sha512", cfg::integ::hmac_sha2_512_256}};
        auto it = ids.find(*integ);
        if (it == ids.end()) throw Failure{"bad integ " + *integ};
        sa.integ = it->second;
        sa.integ_key = key_hex(word(w, "ikey"));
    }
    if (auto encap = maybe(w, "encap")) {
        const auto colon = encap->find(':');
        if (colon == std::string::npos) throw Failure{"encap=SPORT:DPORT"};
        sa.encap = dp::UdpEncap{static_cast<std::uint16_t>(number(encap->substr(0, colon))),
                                static_cast<std::uint16_t>(number(encap->substr(colon + 1)))};
    }
    sa.esn = num(w, "esn", 0) != 0;
    sa.replay_window = num_as<std::uint32_t>(w, "window", 1024);
    sa.reqid = num_as<std::uint32_t>(w, "reqid", 0);
    sa.if_id = static_cast<std::uint32_t>(number(word(w, "if_id")));
    sa.lifetime.bytes = {num(w, "soft_bytes", 0), num(w, "hard_bytes", 0)};
    sa.lifetime.packets = {num(w, "soft_packets", 0), num(w, "hard_packets", 0)};
    sa.lifetime.seconds = {num(w, "soft_seconds", 0), num(w, "hard_seconds", 0)};
    return sa;
}

dp::NextHop hop(const std::string& spec) {
    dp::NextHop h;
    std::stringstream ss(spec);
    std::string part;
    bool first = true;
    while (std::getline(ss, part, ',')) {
        if (first) {
            if (part.starts_with("dev:")) {
                h.interface = part.substr(4);
            } else {
                h.if_id = static_cast<std::uint32_t>(number(part));
            }
            first = false;
        } else if (part.starts_with("gw=")) {
            h.gateway = any_addr(part.substr(3));
        } else if (part.starts_with("w=")) {
            h.weight = static_cast<std::uint8_t>(number(part.substr(2)));
        } else {
            throw Failure{"bad hop part " + part};
        }
    }
    return h;
}

const char* kind_name(dp::ExpiryKind k) {
    return k == dp::ExpiryKind::soft ? "soft" : "hard";
}
const char* cause_name(dp::ExpiryCause c) {
    switch (c) {
        case dp::ExpiryCause::bytes:
            return "bytes";
        case dp::ExpiryCause::packets:
            return "packets";
        case dp::ExpiryCause::time:
            return "time";
        case dp::ExpiryCause::sequence:
            return "sequence";
    }
    return "?";
}

}  // namespace

int main(int argc, char** argv) {
    dp::KernelDataplane::Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--underlying") {
            options.underlying_interface = v;
        } else if (a == "--table") {
            options.routes.table = static_cast<std::uint32_t>(number(v));
        } else if (a == "--protocol") {
            options.routes.protocol = static_cast<std::uint8_t>(number(v));
        } else if (a == "--name-prefix") {
            options.name_prefix = v;
        } else if (a == "--route-rcvbuf") {
            options.routes.receive_buffer = static_cast<int>(number(v));
        } else {
            std::cerr << "kernel_dp: unknown option " << a << "\n";
            return 2;
        }
    }
    auto created = dp::KernelDataplane::create(options);
    if (!created) {
        std::cout << "FAIL create: " << created.error().message << std::endl;
        return 1;
    }
    std::unique_ptr<dp::KernelDataplane> plane = std::move(*created);
    dp::NftMssClamp device_clamp;
    std::vector<dp::ExpiryEvent> events;
    plane->set_expiry_handler([&](const dp::ExpiryEvent& e) { events.push_back(e); });

    std::string line;
    int line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        std::stringstream ss(line);
        std::string cmd, item;
        if (!(ss >> cmd) || cmd.starts_with("#")) continue;
        Words w;
        while (ss >> item) {
            const auto eq = item.find('=');
            if (eq == std::string::npos) {
                std::cout << "FAIL " << line_no << ": expected key=value: " << item << std::endl;
                return 1;
            }
            w[item.substr(0, eq)].push_back(item.substr(eq + 1));
        }
        try {
            std::string result;
            if (cmd == "probe") {
                const dp::KernelSupport s = dp::probe_kernel();
                result = "esp_cbc=" + std::to_string(s.esp_cbc) +
                         " esp_gcm=" + std::to_string(s.esp_gcm) +
                         " xfrm_interface=" + std::to_string(s.xfrm_interface) +
                         " kernel_has_esp=" + std::to_string(dp::kernel_has_esp());
            } else if (cmd == "cleanup") {
                const auto c = check(plane->cleanup_leftovers());
                result = "sas=" + std::to_string(c.sas) +
                         " policies=" + std::to_string(c.policies) +
                         " interfaces=" + std::to_string(c.interfaces) +
                         " routes=" + std::to_string(c.routes);
            } else if (cmd == "tunnel") {
                dp::TunnelInterface t;
                t.name = word(w, "name");
                t.if_id = static_cast<std::uint32_t>(number(word(w, "if_id")));
                t.mtu = num_as<std::uint16_t>(w, "mtu", 1436);
                if (auto l = maybe(w, "local")) t.local_inside = addr(*l);
                t.prefix_length = num_as<std::uint8_t>(w, "prefix", 30);
                check(plane->create_tunnel(t));
            } else if (cmd == "deltunnel") {
                check(plane->delete_tunnel(static_cast<std::uint32_t>(number(word(w, "if_id")))));
            } else if (cmd == "sa") {
                check(plane->add_sa(sa_config(w)));
            } else if (cmd == "updsa") {
                check(plane->update_sa(sa_config(w)));
            } else if (cmd == "delsa") {
                check(plane->del_sa(
                    {static_cast<std::uint32_t>(number(word(w, "spi"))), addr(word(w, "dst"))}));
            } else if (cmd == "query") {
                const auto s = check(plane->query_sa(
                    {static_cast<std::uint32_t>(number(word(w, "spi"))), addr(word(w, "dst"))}));
                result = "bytes=" + std::to_string(s.counters.bytes) +
                         " packets=" + std::to_string(s.counters.packets) +
                         " replay_drops=" + std::to_string(s.counters.replay_drops) +
                         " integrity_failures=" + std::to_string(s.counters.integrity_failures);
            } else if (cmd == "policy") {
                dp::Policy p;
                p.direction = policy_dir(word(w, "dir"));
                p.src = prefix(word(w, "src"));
                p.dst = prefix(word(w, "dst"));
                p.tunnel_src = addr(word(w, "tsrc"));
                p.tunnel_dst = addr(word(w, "tdst"));
                p.reqid = num_as<std::uint32_t>(w, "reqid", 0);
                p.if_id = static_cast<std::uint32_t>(number(word(w, "if_id")));
                p.priority = num_as<std::uint32_t>(w, "priority", 0);
                check(plane->add_policy(p));
            } else if (cmd == "delpolicy") {
                check(plane->del_policy({policy_dir(word(w, "dir")), prefix(word(w, "src")),
                                         prefix(word(w, "dst")),
                                         static_cast<std::uint32_t>(number(word(w, "if_id")))}));
            } else if (cmd == "route") {
                dp::Route r;
                r.destination = any_prefix(word(w, "dst"));
                r.metric = num_as<std::uint32_t>(w, "metric", 0);
                r.table = num_as<std::uint32_t>(w, "table", 0);
                if (!w.contains("hop")) throw Failure{"missing hop="};
                for (const auto& h : w.at("hop")) r.next_hops.push_back(hop(h));
                check(plane->add_route(r));
            } else if (cmd == "delroute") {
                check(plane->del_route({any_prefix(word(w, "dst")),
                                        num_as<std::uint32_t>(w, "metric", 0),
                                        num_as<std::uint32_t>(w, "table", 0)}));
            } else if (cmd == "bulkroutes") {
                const std::size_t count = num(w, "count", 0);
                const std::string dev = word(w, "dev");
                const auto base = addr(maybe(w, "base").value_or("172.16.0.0"));
                const auto len = num_as<std::uint8_t>(w, "len", 32);
                if (len == 0 || len > 32) throw Failure{"len=1..32"};
                const std::string op = maybe(w, "op").value_or("add");
                const std::string mode = maybe(w, "mode").value_or("batch");
                if ((op != "add" && op != "del") || (mode != "batch" && mode != "single"))
                    throw Failure{"op=add|del mode=batch|single"};
                std::vector<dp::RouteChange> changes;
                changes.reserve(count);
                for (std::size_t i = 0; i < count; ++i) {
                    dp::Route r;
                    r.destination = cfg::Ipv4Prefix::of(
                        {base.value + static_cast<std::uint32_t>(i << (32 - len))}, len);
                    r.metric = num_as<std::uint32_t>(w, "metric", 0);
                    r.table = num_as<std::uint32_t>(w, "table", 0);
                    dp::NextHop h;
                    h.interface = dev;
                    if (auto gw = maybe(w, "gw")) h.gateway = addr(*gw);
                    r.next_hops.push_back(h);
                    changes.push_back(op == "add" ? dp::RouteChange::add(r)
                                                  : dp::RouteChange::remove(r.key()));
                }
                const auto start = std::chrono::steady_clock::now();
                dp::RouteBatchResult done;
                if (mode == "batch") {
                    done = plane->apply_routes(changes);
                } else {
                    for (const auto& c : changes) {
                        auto r = op == "add" ? plane->add_route(c.route) : plane->del_route(c.key);
                        done.errors.push_back(r ? std::nullopt
                                                : std::optional<dp::Error>(r.error()));
                        done.failures += !r;
                    }
                }
                const auto ms = std::chrono::duration<double, std::milli>(
                                    std::chrono::steady_clock::now() - start)
                                    .count();
                char took[32];
                std::snprintf(took, sizeof took, "%.1f", ms);
                result = "count=" + std::to_string(count) +
                         " failures=" + std::to_string(done.failures) +
                         " resynced=" + std::to_string(done.resynced) +
                         " repaired=" + std::to_string(done.repaired) + " ms=" + took;
                for (const auto& e : done.errors)
                    if (e) {
                        result += " first_error=\"" + e->message + "\"";
                        break;
                    }
            } else if (cmd == "routes" || cmd == "flushroutes") {
                auto routes = check(dp::KernelRoutes::open(options.routes));
                if (cmd == "flushroutes") {
                    result = "removed=" + std::to_string(check(routes.flush_protocol()));
                } else {
                    for (const auto& r : check(routes.list())) {
                        result += "\n  " + r.destination.to_string() + " table " +
                                  std::to_string(r.table) + " metric " + std::to_string(r.metric);
                        for (const auto& h : r.hops)
                            result += " [ifindex " + std::to_string(h.ifindex) +
                                      (h.gateway ? " via " + h.gateway->to_string() : "") +
                                      " weight " + std::to_string(h.weight) + "]";
                    }
                }
            } else if (cmd == "mss") {
                check(plane->set_mss_clamp(static_cast<std::uint32_t>(number(word(w, "if_id"))),
                                           num_as<std::uint16_t>(w, "mss", 0)));
            } else if (cmd == "clamp") {
                check(device_clamp.set(word(w, "dev"), num_as<std::uint16_t>(w, "mss", 0)));
            } else if (cmd == "ifclamp") {
                check(plane->set_interface_mss_clamp(word(w, "dev"),
                                                     num_as<std::uint16_t>(w, "mss", 0)));
            } else if (cmd == "dxclamp") {
                check(device_clamp.set_interface_clamp(word(w, "dev"),
                                                       num_as<std::uint16_t>(w, "mss", 0)));
            } else if (cmd == "vlan" || cmd == "delvlan" || cmd == "ifindex") {
                auto links = check(dp::KernelLinks::open());
                if (cmd == "vlan") {
                    dp::VlanSpec spec;
                    spec.parent = word(w, "parent");
                    spec.vlan_id = num_as<std::uint16_t>(w, "id", 0);
                    spec.mtu = num_as<std::uint16_t>(w, "mtu", 1500);
                    if (auto a = maybe(w, "addr")) {
                        const auto slash = a->find('/');
                        if (slash == std::string::npos) throw Failure{"addr=A/P"};
                        spec.address = any_addr(a->substr(0, slash));
                        spec.prefix_length =
                            static_cast<std::uint8_t>(number(a->substr(slash + 1)));
                    }
                    result = "ifindex=" + std::to_string(check(links.create_vlan(spec)));
                } else if (cmd == "delvlan") {
                    check(links.delete_vlan(word(w, "name")));
                } else {
                    result = "ifindex=" + std::to_string(check(links.ifindex_of(word(w, "name"))));
                }
            } else if (cmd == "expiry") {
                const std::size_t want = num(w, "count", 1);
                const auto deadline =
                    std::chrono::steady_clock::now() + std::chrono::seconds(num(w, "timeout", 30));
                while (events.size() < want && std::chrono::steady_clock::now() < deadline) {
                    pollfd p{plane->expiry_fd(), POLLIN, 0};
                    if (::poll(&p, 1, 200) > 0) plane->process_expiry_events();
                }
                for (const auto& e : events)
                    result += " " + std::string(kind_name(e.kind)) + ":" + cause_name(e.cause) +
                              ":" + std::to_string(e.sa.spi) + ":" +
                              (e.direction == dp::Direction::inbound ? "in" : "out");
                if (!result.empty()) result.erase(0, 1);  // the leading separator
                if (events.size() < want) throw Failure{"only " + result};
                events.clear();
            } else if (cmd == "touch") {
                std::ofstream(word(w, "file")) << "ready\n";
            } else if (cmd == "wait") {
                const std::string f = word(w, "file");
                const auto deadline =
                    std::chrono::steady_clock::now() + std::chrono::seconds(num(w, "timeout", 120));
                while (!std::filesystem::exists(f)) {
                    if (std::chrono::steady_clock::now() > deadline) throw Failure{"timeout"};
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            } else if (cmd == "shutdown") {
                check(plane->shutdown());
            } else if (cmd == "crash") {
                std::cout << "ok crash" << std::endl;
                ::_exit(0);
            } else {
                throw Failure{"unknown command"};
            }
            std::cout << "ok " << cmd << (result.empty() ? "" : " ") << result << std::endl;
        } catch (const Failure& f) {
            std::cout << "FAIL " << line_no << " (" << cmd << "): " << f.why << std::endl;
            return 1;
        }
    }
    return 0;
}
