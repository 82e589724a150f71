// esp_tunnel: runs the userspace ESP dataplane (userspace.hpp) with one tunnel and one pair of
// hand-made SAs given on the command line (ESP in UDP, or raw ESP with --raw), until SIGTERM or
// SIGINT; then prints the SA and
// backend counters as JSON on stdout. For lab tests (tests/lab/dataplane) and manual interop
// checks; keys on a command line are visible to other local users: test keys only.
//
//   esp_tunnel --tun cgwd0 --inner-local 169.254.10.1 --inner-peer 169.254.10.2
//              --local 192.0.2.1 --remote 192.0.2.2 --cipher aes-gcm-256
//              --spi-out c0000001 --spi-in c0000002 --enc-key-out HEX --enc-key-in HEX
//              [--integ hmac-sha1-96 --integ-key-out HEX --integ-key-in HEX]
//              [--port 4500] [--remote-port 4500] [--mtu 1436] [--prefix 30] [--mss 1379]
//              [--outer-mtu 1500] [--replay-window 1024] [--esn] [--raw] [--if-id 1]
//              [--no-offload]
// --raw: SAs without UDP encapsulation (IP protocol 50 through a raw socket; needs CAP_NET_RAW).
// --no-offload: TUN without TSO/checksum offload, UDP without GSO/GRO (see userspace.hpp).
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgwd/dataplane/userspace.hpp"

namespace dp = cgwd::dataplane;
namespace cfg = cgwd::config;

namespace {

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "esp_tunnel: " << why << "\n(see the comment at the top of esp_tunnel.cpp)\n";
    std::exit(2);
}

std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view s) {
    if (s.size() % 2 != 0) return std::nullopt;
    std::vector<std::uint8_t> out(s.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        auto r = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, out[i], 16);
        if (r.ec != std::errc{} || r.ptr != s.data() + 2 * i + 2) return std::nullopt;
    }
    return out;
}

template <typename T>
T parse_number(const std::string& s, int base, const char* what) {
    T v{};
    auto r = std::from_chars(s.data(), s.data() + s.size(), v, base);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size())
        usage(std::string("bad number for ") + what);
    return v;
}

cfg::Ipv4Address parse_addr(const std::string& s, const char* what) {
    auto a = cfg::Ipv4Address::parse(s);
    if (!a) usage(std::string("bad IPv4 address for ") + what);
    return *a;
}

dp::KeyBytes parse_key(const std::string& s, const char* what) {
    auto bytes = parse_hex(s);
    if (!bytes) usage(std::string("bad hex for ") + what);
    dp::KeyBytes key(*bytes);
    std::fill(bytes->begin(), bytes->end(), 0);
    return key;
}

nlohmann::json counters_json(std::uint32_t spi, const std::expected<dp::SaStats, dp::Error>& s) {
    nlohmann::json j;
    j["spi"] = spi;
    if (!s) {
        j["error"] = s.error().message;
        return j;
    }
    j["packets"] = s->counters.packets;
    j["bytes"] = s->counters.bytes;
    j["replay_drops"] = s->counters.replay_drops;
    j["integrity_failures"] = s->counters.integrity_failures;
    return j;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> args;
    bool esn = false, raw = false, offloads = true;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--no-offload") {
            offloads = false;
            continue;
        }
        if (a == "--esn" || a == "--raw") {
            (a == "--esn" ? esn : raw) = true;
            continue;
        }
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) usage("unexpected argument " + a);
        args[a.substr(2)] = argv[++i];
    }
    auto get = [&](const char* name, std::optional<std::string> def = std::nullopt) {
        auto it = args.find(name);
        if (it != args.end()) {
            std::string v = it->second;
            args.erase(it);
            return v;
        }
        if (!def) usage(std::string("missing --") + name);
        return *def;
    };

    dp::TunnelInterface tunnel;
    tunnel.name = get("tun", "cgwd0");
    tunnel.if_id = parse_number<std::uint32_t>(get("if-id", "1"), 10, "--if-id");
    tunnel.mtu = parse_number<std::uint16_t>(get("mtu", "1436"), 10, "--mtu");
    tunnel.local_inside = parse_addr(get("inner-local"), "--inner-local");
    tunnel.peer_inside = parse_addr(get("inner-peer"), "--inner-peer");
    tunnel.prefix_length = parse_number<std::uint8_t>(get("prefix", "30"), 10, "--prefix");

    const auto local = parse_addr(get("local"), "--local");
    const auto remote = parse_addr(get("remote"), "--remote");
    const auto port = parse_number<std::uint16_t>(get("port", "4500"), 10, "--port");
    const auto remote_port =
        parse_number<std::uint16_t>(get("remote-port", "4500"), 10, "--remote-port");
    const auto mss = parse_number<std::uint16_t>(get("mss", "1379"), 10, "--mss");
    const auto outer_mtu = parse_number<std::uint16_t>(get("outer-mtu", "1500"), 10, "--outer-mtu");

    static const std::map<std::string, cfg::Cipher> ciphers = {
        {"aes-gcm-128", {cfg::encr::aes_gcm_16, 128}},
        {"aes-gcm-256", {cfg::encr::aes_gcm_16, 256}},
        {"aes-cbc-128", {cfg::encr::aes_cbc, 128}},
        {"aes-cbc-256", {cfg::encr::aes_cbc, 256}},
    };
    static const std::map<std::string, std::uint16_t> integs = {
        {"none", cfg::integ::none},
        {"hmac-sha1-96", cfg::integ::hmac_sha1_96},
        {"hmac-sha2-256-128", cfg::integ::hmac_sha2_256_128},
        {"hmac-sha2-384-192", cfg::integ::hmac_sha2_384_192},
        {"hmac-sha2-512-256", cfg::integ::hmac_sha2_512_256},
    };
    const auto cipher_it = ciphers.find(get("cipher"));
    if (cipher_it == ciphers.end()) usage("unknown --cipher");
    const auto integ_it = integs.find(get("integ", "none"));
    if (integ_it == integs.end()) usage("unknown --integ");

    dp::SaConfig out;
    out.direction = dp::Direction::outbound;
    out.spi = parse_number<std::uint32_t>(get("spi-out"), 16, "--spi-out");
    out.src = local;
    out.dst = remote;
    out.encap = dp::UdpEncap{port, remote_port};
    out.cipher = cipher_it->second;
    out.integ = integ_it->second;
    out.enc_key = parse_key(get("enc-key-out"), "--enc-key-out");
    out.esn = esn;
    out.if_id = tunnel.if_id;
    dp::SaConfig in = out;
    in.direction = dp::Direction::inbound;
    in.spi = parse_number<std::uint32_t>(get("spi-in"), 16, "--spi-in");
    in.src = remote;
    in.dst = local;
    in.encap = dp::UdpEncap{remote_port, port};
    in.enc_key = parse_key(get("enc-key-in"), "--enc-key-in");
    in.replay_window =
        parse_number<std::uint32_t>(get("replay-window", "1024"), 10, "--replay-window");
    if (raw) {
        out.encap.reset();
        in.encap.reset();
    }
    if (out.integ != cfg::integ::none) {
        out.integ_key = parse_key(get("integ-key-out"), "--integ-key-out");
        in.integ_key = parse_key(get("integ-key-in"), "--integ-key-in");
    }
    if (!args.empty()) usage("unknown option --" + args.begin()->first);

    // Block the stop signals before any thread starts, so only sigwait() sees them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    dp::UserspaceDataplane::Options options;
    options.udp_port = port;
    options.bind_address = local;
    options.outer_mtu = outer_mtu;
    options.offloads = offloads;
    auto created = dp::UserspaceDataplane::create(std::move(options));
    if (!created) {
        std::cerr << "esp_tunnel: " << created.error().message << "\n";
        return 1;
    }
    dp::UserspaceDataplane& plane = **created;
    auto check = [](const std::expected<void, dp::Error>& r, const char* what) {
        if (!r) {
            std::cerr << "esp_tunnel: " << what << ": " << r.error().message << "\n";
            std::exit(1);
        }
    };
    check(plane.create_tunnel(tunnel), "create_tunnel");
    check(plane.add_sa(in), "add_sa inbound");
    check(plane.add_sa(out), "add_sa outbound");
    if (mss != 0) check(plane.set_mss_clamp(tunnel.if_id, mss), "set_mss_clamp");
    std::cerr << "esp_tunnel: ready on " << tunnel.name << ", " << (raw ? "raw ESP" : "ESP in UDP")
              << ", UDP port " << plane.udp_port() << std::endl;

    int sig = 0;
    while (sigwait(&stop_signals, &sig) != 0) {
    }

    nlohmann::json j;
    j["outbound"] = counters_json(out.spi, plane.query_sa(out.key()));
    j["inbound"] = counters_json(in.spi, plane.query_sa(in.key()));
    const dp::UserspaceStats s = plane.stats();
    j["dataplane"] = {
        {"tun_packets_in", s.tun_packets_in},
        {"no_outbound_sa", s.no_outbound_sa},
        {"not_ipv4", s.not_ipv4},
        {"needs_fragmentation", s.needs_fragmentation},
        {"fragments", s.fragments},
        {"encap_drops", s.encap_drops},
        {"udp_send_errors", s.udp_send_errors},
        {"udp_datagrams_in", s.udp_datagrams_in},
        {"udp_unknown", s.udp_unknown},
        {"unknown_spi", s.unknown_spi},
        {"decap_drops", s.decap_drops},
        {"no_tunnel", s.no_tunnel},
        {"tun_write_errors", s.tun_write_errors},
        {"ike_datagrams", s.ike_datagrams},
        {"keepalives", s.keepalives},
        {"raw_packets_in", s.raw_packets_in},
        {"raw_not_ours", s.raw_not_ours},
        {"raw_send_errors", s.raw_send_errors},
        {"encap_mismatch", s.encap_mismatch},
        {"raw_esp_open", plane.raw_esp_open()},
        {"tun_gso_packets_in", s.tun_gso_packets_in},
        {"offload_errors", s.offload_errors},
        {"udp_gso_messages", s.udp_gso_messages},
        {"udp_gro_datagrams", s.udp_gro_datagrams},
        {"tun_coalesced_segments", s.tun_coalesced_segments},
        {"tunnel_socket_datagrams", s.tunnel_socket_datagrams},
        {"tunnel_socket_errors", s.tunnel_socket_errors},
        {"udp_gso", plane.udp_gso()},
        {"udp_gro", plane.udp_gro()},
    };
    std::cout << j.dump() << std::endl;
    return 0;
}
