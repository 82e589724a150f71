// Interop probe: our userspace ESP (EspSa) against Linux kernel ESP. Sends ICMP echo requests,
// encapsulated by EspSa, to a peer whose kernel holds the matching XFRM states and policies, and
// decapsulates the kernel's ESP-protected echo replies with EspSa. Exit 0 when every request got
// its reply and nothing failed integrity; prints counters.
//
//   esp_kernel_probe --cipher gcm256|cbc128-sha1|cbc256-sha256 --local A --remote B
//       --spi-out X --spi-in Y --key-out HEX --key-in HEX [--auth-out HEX --auth-in HEX]
//       --inner-src S --inner-dst D [--count N] [--udp-port P]
// Raw ESP (IP protocol 50) by default; --udp-port sends and receives ESP in UDP (RFC 3948)
// between port P on both sides.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/ipv4.hpp"

namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace cgwd;

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "esp_kernel_probe: %s\n", m.c_str());
    std::exit(2);
}

Bytes hex(const std::string& s) {
    if (s.size() % 2) die("odd hex length");
    Bytes b;
    for (std::size_t i = 0; i < s.size(); i += 2)
        b.push_back(static_cast<std::uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
    return b;
}

config::Ipv4Address addr(const std::string& s) {
    auto a = config::Ipv4Address::parse(s);
    if (!a) die("bad address " + s);
    return *a;
}

Bytes echo_request(config::Ipv4Address src, config::Ipv4Address dst, std::uint16_t seq) {
    Bytes p(20 + 8 + 56, 0);
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(p.size() >> 8);
    p[3] = static_cast<std::uint8_t>(p.size());
    p[8] = 64;
    p[9] = 1;
    for (int i = 0; i < 4; ++i) {
        p[12 + i] = static_cast<std::uint8_t>(src.value >> (24 - 8 * i));
        p[16 + i] = static_cast<std::uint8_t>(dst.value >> (24 - 8 * i));
    }
    auto c = cgwd::dataplane::ipv4::internet_checksum(std::span(p.data(), 20));
    p[10] = static_cast<std::uint8_t>(c >> 8);
    p[11] = static_cast<std::uint8_t>(c);
    p[20] = 8;  // echo request
    p[24] = 0x42;
    p[25] = 0x42;  // identifier
    p[26] = static_cast<std::uint8_t>(seq >> 8);
    p[27] = static_cast<std::uint8_t>(seq);
    for (std::size_t i = 28; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i);
    c = cgwd::dataplane::ipv4::internet_checksum(std::span(p.data() + 20, p.size() - 20));
    p[22] = static_cast<std::uint8_t>(c >> 8);
    p[23] = static_cast<std::uint8_t>(c);
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    std::string cipher = "gcm256", local, remote, key_out, key_in, auth_out, auth_in, inner_src,
                inner_dst;
    std::uint32_t spi_out = 0, spi_in = 0;
    int count = 5, udp_port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i], v = argv[i + 1];
        if (k == "--cipher")
            cipher = v;
        else if (k == "--local")
            local = v;
        else if (k == "--remote")
            remote = v;
        else if (k == "--spi-out")
            spi_out = static_cast<std::uint32_t>(std::stoul(v, nullptr, 0));
        else if (k == "--spi-in")
            spi_in = static_cast<std::uint32_t>(std::stoul(v, nullptr, 0));
        else if (k == "--key-out")
            key_out = v;
        else if (k == "--key-in")
            key_in = v;
        else if (k == "--auth-out")
            auth_out = v;
        else if (k == "--auth-in")
            auth_in = v;
        else if (k == "--inner-src")
            inner_src = v;
        else if (k == "--inner-dst")
            inner_dst = v;
        else if (k == "--count")
            count = std::stoi(v);
        else if (k == "--udp-port")
            udp_port = std::stoi(v);
        else
            die("unknown option " + k);
    }
    dataplane::SaConfig out, in;
    out.direction = dataplane::Direction::outbound;
    in.direction = dataplane::Direction::inbound;
    out.src = in.dst = addr(local);
    out.dst = in.src = addr(remote);
    out.spi = spi_out;
    in.spi = spi_in;
    if (cipher == "gcm256") {
        out.cipher = in.cipher = {config::encr::aes_gcm_16, 256};
    } else if (cipher == "cbc128-sha1") {
        out.cipher = in.cipher = {config::encr::aes_cbc, 128};
        out.integ = in.integ = config::integ::hmac_sha1_96;
    } else if (cipher == "cbc256-sha256") {
        out.cipher = in.cipher = {config::encr::aes_cbc, 256};
        out.integ = in.integ = config::integ::hmac_sha2_256_128;
    } else {
        die("unknown cipher " + cipher);
    }
    out.enc_key = dataplane::KeyBytes(hex(key_out));
    in.enc_key = dataplane::KeyBytes(hex(key_in));
    if (!auth_out.empty()) out.integ_key = dataplane::KeyBytes(hex(auth_out));
    if (!auth_in.empty()) in.integ_key = dataplane::KeyBytes(hex(auth_in));
    auto tx = dataplane::EspSa::create(out);
    auto rx = dataplane::EspSa::create(in);
    if (!tx || !rx)
        die("SA rejected: " + std::string(!tx ? tx.error().message : rx.error().message));

    int fd = udp_port ? ::socket(AF_INET, SOCK_DGRAM, 0) : ::socket(AF_INET, SOCK_RAW, IPPROTO_ESP);
    if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(out.dst.value);
    peer.sin_port = htons(static_cast<std::uint16_t>(udp_port));
    if (udp_port) {
        sockaddr_in me{};
        me.sin_family = AF_INET;
        me.sin_addr.s_addr = htonl(out.src.value);
        me.sin_port = htons(static_cast<std::uint16_t>(udp_port));
        if (::bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof me) != 0)
            die(std::string("bind: ") + std::strerror(errno));
    }

    auto isrc = addr(inner_src), idst = addr(inner_dst);
    int replies = 0, bad = 0;
    Bytes buf(4096), plain(4096);
    for (int seq = 1; seq <= count; ++seq) {
        auto req = echo_request(isrc, idst, static_cast<std::uint16_t>(seq));
        Bytes esp(tx->encapsulated_size(req.size()));
        auto n = tx->encapsulate(req, esp);
        if (!n) die("encapsulate failed");
        if (::sendto(fd, esp.data(), *n, 0, reinterpret_cast<sockaddr*>(&peer), sizeof peer) < 0)
            die(std::string("sendto: ") + std::strerror(errno));
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        bool got = false;
        while (!got && std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            auto r = ::recv(fd, buf.data(), buf.size(), 0);
            if (r <= 0) continue;
            std::size_t off = 0;
            if (!udp_port)
                off = static_cast<std::size_t>(buf[0] & 0x0f) * 4;  // raw socket: IP header first
            if (static_cast<std::size_t>(r) < off + 8) continue;
            std::uint32_t spi = static_cast<std::uint32_t>(buf[off] << 24 | buf[off + 1] << 16 |
                                                           buf[off + 2] << 8 | buf[off + 3]);
            if (spi != spi_in) continue;  // e.g. our own packet seen on the raw socket
            auto d = rx->decapsulate(std::span(buf.data() + off, static_cast<std::size_t>(r) - off),
                                     plain);
            if (!d) {
                ++bad;
                continue;
            }
            // ICMP echo reply with our identifier and this sequence number.
            const auto* ip = plain.data();
            std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
            if (d->length >= ihl + 8 && ip[9] == 1 && ip[ihl] == 0 && ip[ihl + 4] == 0x42 &&
                ip[ihl + 6] == static_cast<std::uint8_t>(seq >> 8) &&
                ip[ihl + 7] == static_cast<std::uint8_t>(seq))
                got = true;
        }
        if (got) ++replies;
    }
    std::printf(
        "{\"sent\": %d, \"replies\": %d, \"integrity_failures\": %d, \"rx_packets\": %llu}\n",
        count, replies, bad, static_cast<unsigned long long>(rx->counters().packets));
    return replies == count && bad == 0 ? 0 : 1;
}
