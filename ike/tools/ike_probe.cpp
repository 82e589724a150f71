// ike_probe: runs one IkeSa (initiator, PSK) over a UDP socket on port 500 against a real peer,
// for the interop lab tests (tests/lab/ike/). Exits 0 once the first CHILD_SA is up, 1 on
// failure or timeout. Keys are never printed.
//
// Output, one line per event (stdout, line-buffered):
//   status <State> <status text>
//   ike-sa-up spi_i 0x... spi_r 0x... <cipher>/<prf>/<group>
//   child-sa spi_in 0x... spi_out 0x... <cipher> <integ>
//   done | timeout | down <reason>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "cgwd/ike/sa.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using Clock = std::chrono::steady_clock;

namespace {

config::Proposal ike_family(int n) {
    using namespace config;
    switch (n) {
        case 1:
            return {{{encr::aes_cbc, 128}}, {integ::hmac_sha1_96}, {prf::hmac_sha1}, {2}, {}};
        case 2:
            return {
                {{encr::aes_cbc, 256}}, {integ::hmac_sha2_256_128}, {prf::hmac_sha2_256}, {14}, {}};
        case 3:
            return {{{encr::aes_gcm_16, 256}}, {}, {prf::hmac_sha2_384}, {20}, {}};
        default:
            return {
                {{encr::aes_cbc, 256}}, {integ::hmac_sha2_512_256}, {prf::hmac_sha2_512}, {24}, {}};
    }
}

config::Proposal esp_family(int n) {
    using namespace config;
    switch (n) {
        case 1:
            return {{{encr::aes_cbc, 128}}, {integ::hmac_sha1_96}, {}, {}, {}};
        case 2:
            return {{{encr::aes_cbc, 256}}, {integ::hmac_sha2_256_128}, {}, {}, {}};
        case 3:
            return {{{encr::aes_gcm_16, 256}}, {}, {}, {}, {}};
        default:
            return {{{encr::aes_cbc, 256}}, {integ::hmac_sha2_512_256}, {}, {}, {}};
    }
}

std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"IKEv2 initiator probe for interop tests"};
    std::string local_text, remote_text, psk_file;
    int family = 2;
    int timeout_s = 30;
    std::vector<int> extra_dh;
    app.add_option("--local", local_text, "our IPv4 address (bound, port 500)")->required();
    app.add_option("--remote", remote_text, "the peer's IPv4 address (port 500)")->required();
    app.add_option("--psk-file", psk_file, "file holding the pre-shared key")->required();
    app.add_option("--family", family, "AWS proposal family 1..4")->check(CLI::Range(1, 4));
    app.add_option("--guess-dh", extra_dh,
                   "KE groups offered before the family's own (to exercise INVALID_KE)");
    app.add_option("--timeout", timeout_s, "seconds");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    auto local = config::Ipv4Address::parse(local_text);
    auto remote = config::Ipv4Address::parse(remote_text);
    if (!local || !remote) {
        std::fprintf(stderr, "bad address\n");
        return 2;
    }
    std::ifstream in(psk_file);
    std::string psk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!psk.empty() && (psk.back() == '\n' || psk.back() == '\r')) psk.pop_back();
    if (psk.empty()) {
        std::fprintf(stderr, "empty or unreadable PSK file\n");
        return 2;
    }

    SaSettings settings;
    settings.local = *local;
    settings.remote = *remote;
    settings.psk = config::Secret(std::move(psk));
    auto ike = ike_family(family);
    std::vector<std::uint16_t> dh(extra_dh.begin(), extra_dh.end());
    dh.insert(dh.end(), ike.dh.begin(), ike.dh.end());
    ike.dh = dh;
    settings.ike_proposals = {ike};
    settings.esp_proposals = {esp_family(family)};
    settings.retry_initial = std::chrono::seconds(timeout_s);  // one attempt is enough here

    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(500);
    sa.sin_addr.s_addr = htonl(local->value);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::perror("bind udp/500");
        return 2;
    }
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(500);
    peer.sin_addr.s_addr = htonl(remote->value);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
        std::perror("connect");
        return 2;
    }

    crypto::SystemRandom rng;
    IkeSa sa_engine(settings, rng);
    const auto start = Clock::now();
    const auto give_up = start + std::chrono::seconds(timeout_s);
    sa_engine.start(start);
    int result = -1;
    std::vector<std::uint8_t> buf(65536);
    while (result < 0) {
        for (const auto& d : sa_engine.take_datagrams()) {
            if (::send(fd, d.data(), d.size(), 0) < 0) std::perror("send");
        }
        for (const auto& action : sa_engine.take_actions()) {
            if (const auto* s = std::get_if<StatusChanged>(&action)) {
                std::printf("status %s %s\n", to_string(s->state), s->status.c_str());
            } else if (const auto* up = std::get_if<IkeSaUp>(&action)) {
                std::printf("ike-sa-up spi_i %s spi_r %s %s/%s/%s nat %d\n", hex(up->spi_i).c_str(),
                            hex(up->spi_r).c_str(),
                            config::cipher_name(up->transforms.cipher).c_str(),
                            config::prf_name(up->transforms.prf).c_str(),
                            config::dh_name(up->transforms.dh).c_str(), up->nat_detected ? 1 : 0);
            } else if (const auto* c = std::get_if<ChildSaReady>(&action)) {
                std::printf("child-sa spi_in %s spi_out %s %s %s\n", hex(c->spi_in).c_str(),
                            hex(c->spi_out).c_str(), config::cipher_name(c->cipher).c_str(),
                            c->integ ? config::integ_name(c->integ).c_str() : "none");
                result = 0;
            } else if (const auto* down = std::get_if<IkeSaDown>(&action)) {
                std::printf("down %s\n", down->reason.c_str());
                result = 1;
            }
        }
        if (result >= 0) break;
        auto now = Clock::now();
        if (now >= give_up) {
            std::printf("timeout\n");
            result = 1;
            break;
        }
        auto wake = give_up;
        if (auto d = sa_engine.next_deadline(); d && *d < wake) wake = *d;
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
        pollfd p{fd, POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(wait));
        now = Clock::now();
        if (n > 0 && (p.revents & POLLIN)) {
            const auto got = ::recv(fd, buf.data(), buf.size(), 0);
            if (got > 0) {
                sa_engine.on_datagram({buf.data(), static_cast<std::size_t>(got)}, now);
            }
        }
        sa_engine.on_timer(now);
    }
    if (result == 0) std::printf("done\n");
    ::close(fd);
    return result;
}
