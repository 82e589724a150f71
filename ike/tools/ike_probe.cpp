// ike_probe: runs one IkeSa (initiator, PSK) over UDP ports 500 and 4500 against a real peer,
// for the interop lab tests (tests/lab/ike/). Without --hold it exits 0 once the first
// CHILD_SA is up; with --hold S it keeps the SA S seconds longer (DPD, rekeys: our own with
// --rekey-child-after / --rekey-ike-after / short lifetimes, and the peer's) and exits 0 if
// it never went down. 1 on failure or timeout. Keys are never printed; with
// --wireshark-keys DIR (debug) they are appended to DIR/ikev2_decryption_table and DIR/esp_sa
// for Wireshark (keylog.hpp).
//
// Liveness and restarts (RFC 7296 2.4): --dpd S (0: none), --dpd-retries N, --dpd-action,
// --retransmit-base MS (the retransmission schedule MS, 2 MS, 4 MS, 8 MS, 16 MS), --retry S
// (back-off after a failure); with --keep-going an IKE SA going down does not end the run:
// the engine's dpd_action (restart: initiate again) goes on until --hold ends, and the exit
// status is 0 if an SA is established then.
// Cookies (RFC 7296 2.6): --require-cookie puts a CookieGuard (cookie.hpp) that always asks
// for a cookie in front of the responder; --init-only stops once IKE_SA_INIT is answered (no
// IKE_AUTH: the peer keeps a half-open SA, to push a responder over its cookie threshold).
//
// Output, one line per event (stdout, line-buffered):
//   status <State> <status text>
//   ike-sa-up spi_i 0x... spi_r 0x... <cipher>/<prf>/<group> nat <0|1>
//   child-sa spi_in 0x... spi_out 0x... <cipher> <integ> encap <local port> <remote port>
//   child-deleted spi_in 0x... spi_out 0x...
//   ike-rekeyed spi_i 0x... spi_r 0x...
//   summary ike_rekeys N child_rekeys N child spi_in 0x... spi_out 0x... ports L R
//   fragments negotiated <0|1> sent N received N dropped N   (RFC 7383, at exit)
//   cookies sent N accepted N                  (--require-cookie, at exit)
//   init-only IKE_SA_INIT answered spi_r 0x...  (--init-only)
//   done | timeout | down <reason>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "cgwd/ike/codec_natt.hpp"
#include "cgwd/ike/cookie.hpp"
#include "cgwd/ike/keylog.hpp"
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
    int hold_s = 0, rekey_child_after = 0, rekey_ike_after = 0;
    std::uint32_t esp_lifetime = 3600, ike_lifetime = 28800, margin_s = 270;
    bool force_encap = false;
    std::size_t fragment_size = 1280;
    bool no_fragmentation = false;
    app.add_option("--hold", hold_s, "seconds to keep the SA after the first CHILD_SA");
    app.add_option("--rekey-child-after", rekey_child_after,
                   "seconds after the first CHILD_SA: rekey it (once)");
    app.add_option("--rekey-ike-after", rekey_ike_after,
                   "seconds after the first CHILD_SA: rekey the IKE SA (once)");
    app.add_option("--esp-lifetime", esp_lifetime, "seconds");
    app.add_option("--ike-lifetime", ike_lifetime, "seconds");
    app.add_option("--rekey-margin", margin_s, "seconds");
    app.add_flag("--force-encap", force_encap, "fake a NAT: UDP encapsulation on 4500");
    bool responder = false;
    app.add_flag("--responder", responder,
                 "do not initiate: answer the peer's IKE_SA_INIT (AWS's startup action 'start')");
    app.add_option("--fragment-size", fragment_size,
                   "largest IP datagram for an encrypted IKE message (RFC 7383 fragments)");
    app.add_flag("--no-fragmentation", no_fragmentation,
                 "do not announce IKEV2_FRAGMENTATION_SUPPORTED");
    int dpd_s = 10, retry_s = -1;
    std::uint32_t dpd_retries = 3;
    long retransmit_base_ms = 1000;
    std::string dpd_action = "restart";
    bool keep_going = false, require_cookie = false, init_only = false;
    app.add_option("--dpd", dpd_s, "seconds of silence before a liveness check (0: no DPD)");
    app.add_option("--dpd-retries", dpd_retries, "liveness check retransmissions");
    app.add_option("--dpd-action", dpd_action, "after a dead peer")
        ->check(CLI::IsMember({"restart", "clear", "none"}));
    app.add_option("--retransmit-base", retransmit_base_ms,
                   "milliseconds: retransmission schedule base, 2x, 4x, 8x, 16x")
        ->check(CLI::Range(10L, 60000L));
    app.add_option("--retry", retry_s, "seconds of back-off after a failure (default: --timeout)");
    app.add_flag("--keep-going", keep_going,
                 "an IKE SA going down does not end the run (dpd_action, back-off go on)");
    app.add_flag("--require-cookie", require_cookie,
                 "responder: always answer IKE_SA_INIT without a valid cookie with N(COOKIE)");
    app.add_flag("--init-only", init_only,
                 "stop once IKE_SA_INIT is answered, without IKE_AUTH (a half-open SA)");
    std::string wireshark_keys;
    app.add_option("--wireshark-keys", wireshark_keys,
                   "debug: append the SA keys to DIR/ikev2_decryption_table and DIR/esp_sa");
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
    // One attempt is enough here, unless told otherwise.
    settings.retry_initial = std::chrono::seconds(retry_s >= 0 ? retry_s : timeout_s);
    settings.dpd_interval = std::chrono::seconds(dpd_s);
    settings.dpd_retries = dpd_retries;
    settings.dpd_action = dpd_action == "clear"  ? config::DpdAction::clear
                          : dpd_action == "none" ? config::DpdAction::none
                                                 : config::DpdAction::restart;
    settings.retransmit_timeouts.clear();
    for (long k = 0; k < 5; ++k)
        settings.retransmit_timeouts.push_back(Millis{retransmit_base_ms << k});
    settings.force_encap = force_encap;
    settings.esp_lifetime_s = esp_lifetime;
    settings.ike_lifetime_s = ike_lifetime;
    settings.rekey_margin = std::chrono::seconds(margin_s);
    settings.rekey_fuzz = 0.2;
    settings.fragment_size = fragment_size;
    settings.fragmentation = !no_fragmentation;
    std::optional<keylog::WiresharkKeyLog> key_log;
    if (!wireshark_keys.empty()) {
        key_log.emplace(wireshark_keys);
        std::fprintf(stderr, "WARNING: writing IKE and ESP keys to %s (debug)\n",
                     wireshark_keys.c_str());
        settings.on_ike_keys = [&key_log](const IkeSaKeysDerived& keys) {
            if (auto ok = key_log->write(keys); !ok) {
                std::fprintf(stderr, "wireshark keys: %s\n", ok.error().c_str());
            }
        };
    }

    auto open_socket = [&](std::uint16_t port) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(local->value);
        const int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            std::perror("bind");
            std::exit(2);
        }
        return fd;
    };
    const int fd = open_socket(500);
    const int fd_natt = open_socket(4500);
    auto send_to = [&](const OutDatagram& d) {
        sockaddr_in peer{};
        peer.sin_family = AF_INET;
        peer.sin_port = htons(d.remote_port);
        peer.sin_addr.s_addr = htonl(remote->value);
        std::vector<std::uint8_t> bytes = d.bytes;
        const bool natt = d.local_port == 4500;
        if (natt && !d.keepalive) bytes = add_non_esp_marker(d.bytes);
        if (::sendto(natt ? fd_natt : fd, bytes.data(), bytes.size(), 0,
                     reinterpret_cast<sockaddr*>(&peer), sizeof peer) < 0) {
            std::perror("sendto");
        }
    };

    crypto::SystemRandom rng;
    IkeSa sa_engine(settings, rng);
    // --require-cookie: threshold 0 and one half-open SA reported, so every IKE_SA_INIT
    // request needs a valid cookie (the daemon reports its real half-open count instead).
    std::optional<CookieGuard> guard;
    if (require_cookie) {
        CookieSettings cs;
        cs.half_open_threshold = 0;
        guard.emplace(cs, rng);
        guard->set_half_open(1);
    }
    const auto start = Clock::now();
    if (!responder) sa_engine.start(start);
    int result = -1;
    std::optional<Clock::time_point> up_at;
    bool child_rekey_done = false, ike_rekey_done = false;
    std::uint64_t last_spi_i = 0;
    auto give_up = start + std::chrono::seconds(timeout_s);
    std::vector<std::uint8_t> buf(65536);
    while (result < 0) {
        for (const auto& d : sa_engine.take_outgoing()) send_to(d);
        for (const auto& action : sa_engine.take_actions()) {
            if (const auto* s = std::get_if<StatusChanged>(&action)) {
                std::printf("status %s %s\n", to_string(s->state), s->status.c_str());
            } else if (const auto* up = std::get_if<IkeSaUp>(&action)) {
                last_spi_i = up->spi_i;  // a new IKE SA (after a restart), not a rekey
                std::printf("ike-sa-up spi_i %s spi_r %s %s/%s/%s nat %d\n", hex(up->spi_i).c_str(),
                            hex(up->spi_r).c_str(),
                            config::cipher_name(up->transforms.cipher).c_str(),
                            config::prf_name(up->transforms.prf).c_str(),
                            config::dh_name(up->transforms.dh).c_str(), up->nat_detected ? 1 : 0);
            } else if (const auto* c = std::get_if<ChildSaReady>(&action)) {
                if (key_log) {
                    if (auto ok = key_log->write(*c); !ok) {
                        std::fprintf(stderr, "wireshark keys: %s\n", ok.error().c_str());
                    }
                }
                std::printf("child-sa spi_in %s spi_out %s %s %s encap %u %u\n",
                            hex(c->spi_in).c_str(), hex(c->spi_out).c_str(),
                            config::cipher_name(c->cipher).c_str(),
                            c->integ ? config::integ_name(c->integ).c_str() : "none",
                            unsigned{c->encap_local_port}, unsigned{c->encap_remote_port});
                if (!up_at) {
                    up_at = Clock::now();
                    last_spi_i = sa_engine.info().spi_i;
                    if (hold_s <= 0) result = 0;
                    give_up = *up_at + std::chrono::seconds(hold_s);
                }
            } else if (const auto* del = std::get_if<ChildSaDeleted>(&action)) {
                std::printf("child-deleted spi_in %s spi_out %s\n", hex(del->spi_in).c_str(),
                            hex(del->spi_out).c_str());
            } else if (const auto* down = std::get_if<IkeSaDown>(&action)) {
                std::printf("down %s\n", down->reason.c_str());
                if (!keep_going) result = 1;
            }
        }
        if (result >= 0) break;
        auto now = Clock::now();
        if (up_at && sa_engine.state() == SaState::established &&
            sa_engine.info().spi_i != last_spi_i) {
            const SaInfo info = sa_engine.info();
            last_spi_i = info.spi_i;
            std::printf("ike-rekeyed spi_i %s spi_r %s\n", hex(info.spi_i).c_str(),
                        hex(info.spi_r).c_str());
        }
        if (now >= give_up) {
            if (up_at) {
                const SaInfo info = sa_engine.info();
                std::printf("summary ike_rekeys %u child_rekeys %u", info.ike_rekeys,
                            info.child_rekeys);
                if (info.child) {
                    std::printf(" child spi_in %s spi_out %s", hex(info.child->spi_in).c_str(),
                                hex(info.child->spi_out).c_str());
                }
                std::printf(" ports %u %u\n", unsigned{info.local_port},
                            unsigned{info.remote_port});
                result = sa_engine.state() == SaState::established ? 0 : 1;
                if (result != 0) std::printf("not established at the end\n");
                break;
            }
            std::printf("timeout\n");
            result = 1;
            break;
        }
        if (up_at && rekey_child_after > 0 && !child_rekey_done &&
            now >= *up_at + std::chrono::seconds(rekey_child_after)) {
            child_rekey_done = sa_engine.rekey_child(now);
            if (child_rekey_done) continue;
        }
        if (up_at && rekey_ike_after > 0 && !ike_rekey_done &&
            now >= *up_at + std::chrono::seconds(rekey_ike_after)) {
            ike_rekey_done = sa_engine.rekey_ike(now);
            if (ike_rekey_done) continue;
        }
        auto wake = give_up;
        if (auto d = sa_engine.next_deadline(); d && *d < wake) wake = *d;
        const auto wait =
            std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
        pollfd p[2] = {{fd, POLLIN, 0}, {fd_natt, POLLIN, 0}};
        const int n = ::poll(p, 2, static_cast<int>(std::min<long long>(wait, 500)));
        now = Clock::now();
        for (int k = 0; n > 0 && k < 2; ++k) {
            if (!(p[k].revents & POLLIN)) continue;
            sockaddr_in from{};
            socklen_t len = sizeof from;
            const auto got = ::recvfrom(p[k].fd, buf.data(), buf.size(), 0,
                                        reinterpret_cast<sockaddr*>(&from), &len);
            if (got <= 0) continue;
            const std::span<const std::uint8_t> data(buf.data(), static_cast<std::size_t>(got));
            if (k == 0) {
                const auto h = decode_header(data);
                if (guard && h && h->exchange == ExchangeType::ike_sa_init && !h->response &&
                    h->message_id == 0) {
                    config::Ipv4Address source;
                    source.value = ntohl(from.sin_addr.s_addr);
                    auto decision = guard->on_init_request(data, source, ntohs(from.sin_port), now);
                    std::printf("cookie-guard %s\n", to_string(decision.verdict));
                    if (decision.verdict == CookieVerdict::send_cookie) {
                        send_to(OutDatagram{std::move(decision.response), 500, ntohs(from.sin_port),
                                            false});
                    }
                    if (decision.verdict != CookieVerdict::pass) continue;
                }
                sa_engine.on_datagram(data, now, 500, ntohs(from.sin_port));
            } else {
                const auto pkt = classify_udp4500(data);
                if (pkt.kind == Udp4500Kind::ike) {
                    sa_engine.on_datagram(pkt.data, now, 4500, ntohs(from.sin_port));
                }
            }
        }
        // --init-only: the IKE_AUTH request the engine just built is never sent.
        if (init_only && sa_engine.state() == SaState::auth_sent) {
            std::printf("init-only IKE_SA_INIT answered spi_r %s\n",
                        hex(sa_engine.info().spi_r).c_str());
            result = 0;
            break;
        }
        sa_engine.on_timer(now);
    }
    const SaInfo final_info = sa_engine.info();
    std::printf("fragments negotiated %d sent %llu received %llu dropped %llu\n",
                final_info.fragmentation ? 1 : 0,
                static_cast<unsigned long long>(final_info.fragments_sent),
                static_cast<unsigned long long>(final_info.fragments_received),
                static_cast<unsigned long long>(final_info.fragments_dropped));
    if (guard) {
        std::printf("cookies sent %llu accepted %llu\n",
                    static_cast<unsigned long long>(guard->stats().cookies_sent),
                    static_cast<unsigned long long>(guard->stats().cookies_accepted));
    }
    if (result == 0) std::printf("done\n");
    ::close(fd);
    ::close(fd_natt);
    return result;
}
