// Helpers for the IKE SA engine tests: a seeded deterministic Random, the AWS proposal
// families as config::Proposal, and a lossy in-process link between two IkeSa engines driven
// by a fake clock.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "cgwd/ike/sa.hpp"

namespace cgwd::ike::test {

// xorshift64*: deterministic, different streams per seed (so both engines pick different SPIs
// and nonces).
class SeededRandom final : public crypto::Random {
  public:
    explicit SeededRandom(std::uint64_t seed) : state_(seed ? seed : 1) {}
    bool fill(std::span<std::uint8_t> out) override {
        for (auto& b : out) {
            state_ ^= state_ >> 12;
            state_ ^= state_ << 25;
            state_ ^= state_ >> 27;
            b = static_cast<std::uint8_t>((state_ * 0x2545F4914F6CDD1DULL) >> 56);
        }
        return true;
    }

  private:
    std::uint64_t state_;
};

struct Family {
    const char* name;
    config::Proposal ike;
    config::Proposal esp;
};

// The four AWS Site-to-Site VPN proposal families.
inline Family aes128_sha1_dh2() {
    return {"AES-128-CBC/SHA1/DH2",
            {{{config::encr::aes_cbc, 128}},
             {config::integ::hmac_sha1_96},
             {config::prf::hmac_sha1},
             {2},
             {}},
            {{{config::encr::aes_cbc, 128}}, {config::integ::hmac_sha1_96}, {}, {}, {}}};
}
inline Family aes256_sha256_dh14() {
    return {"AES-256-CBC/SHA2-256/DH14",
            {{{config::encr::aes_cbc, 256}},
             {config::integ::hmac_sha2_256_128},
             {config::prf::hmac_sha2_256},
             {14},
             {}},
            {{{config::encr::aes_cbc, 256}}, {config::integ::hmac_sha2_256_128}, {}, {}, {}}};
}
inline Family aes256gcm_ecp384() {
    return {"AES-256-GCM-16/ECP-384",
            {{{config::encr::aes_gcm_16, 256}}, {}, {config::prf::hmac_sha2_384}, {20}, {}},
            {{{config::encr::aes_gcm_16, 256}}, {}, {}, {}, {}}};
}
inline Family aes256_sha512_dh24() {
    return {"AES-256-CBC/SHA2-512/DH24",
            {{{config::encr::aes_cbc, 256}},
             {config::integ::hmac_sha2_512_256},
             {config::prf::hmac_sha2_512},
             {24},
             {}},
            {{{config::encr::aes_cbc, 256}}, {config::integ::hmac_sha2_512_256}, {}, {}, {}}};
}

inline SaSettings settings(bool left, const Family& f, std::string psk = "shared secret 123") {
    SaSettings s;
    const auto a = config::Ipv4Address{0xC0000201};  // 192.0.2.1   (customer gateway)
    const auto b = config::Ipv4Address{0xCB007105};  // 203.0.113.5 (AWS endpoint)
    s.local = left ? a : b;
    s.remote = left ? b : a;
    s.psk = config::Secret(std::move(psk));
    s.ike_proposals = {f.ike};
    s.esp_proposals = {f.esp};
    return s;
}

// Lifetime 0: no scheduled rekeying, so next_deadline() shows only the timers under test.
inline SaSettings without_rekey(SaSettings s) {
    s.ike_lifetime_s = 0;
    s.esp_lifetime_s = 0;
    return s;
}

// Two engines ("i" and "r") handing datagrams across, with a fake clock and scripted loss.
// Ports travel with the datagrams: what one side sends from local port L to remote port R the
// other receives on local port R from remote port `nat_i(L)` / `nat_r(L)` (a NAT in front of
// that side may change the source port). Keepalives are recorded but not delivered (the socket
// adapter drops them).
struct Link {
    Link(IkeSa& initiator, IkeSa& responder) : i(initiator), r(responder) {}
    IkeSa& i;
    IkeSa& r;
    TimePoint now{};
    std::vector<Action> actions_i, actions_r;
    std::vector<Bytes> sent_i, sent_r;      // every IKE message each side emitted, in order
    std::vector<OutDatagram> out_i, out_r;  // the same with ports, plus keepalives
    std::function<std::uint16_t(std::uint16_t)> nat_i = [](std::uint16_t p) { return p; };
    std::function<std::uint16_t(std::uint16_t)> nat_r = [](std::uint16_t p) { return p; };
    // Return true to drop the n-th datagram (0-based, per direction) sent by i / by r.
    std::function<bool(std::size_t, const Bytes&)> drop_from_i = [](std::size_t, const Bytes&) {
        return false;
    };
    std::function<bool(std::size_t, const Bytes&)> drop_from_r = [](std::size_t, const Bytes&) {
        return false;
    };

    void collect() {
        for (auto& a : i.take_actions()) actions_i.push_back(std::move(a));
        for (auto& a : r.take_actions()) actions_r.push_back(std::move(a));
    }
    // Deliver until nobody has anything to send.
    void pump() {
        for (int rounds = 0; rounds < 100; ++rounds) {
            auto from_i = i.take_outgoing();
            auto from_r = r.take_outgoing();
            collect();
            if (from_i.empty() && from_r.empty()) return;
            for (auto& d : from_i) {
                out_i.push_back(d);
                if (d.keepalive) continue;
                const std::size_t n = sent_i.size();
                sent_i.push_back(d.bytes);
                if (!drop_from_i(n, d.bytes)) {
                    r.on_datagram(d.bytes, now, d.remote_port, nat_i(d.local_port));
                }
            }
            for (auto& d : from_r) {
                out_r.push_back(d);
                if (d.keepalive) continue;
                const std::size_t n = sent_r.size();
                sent_r.push_back(d.bytes);
                if (!drop_from_r(n, d.bytes)) {
                    i.on_datagram(d.bytes, now, d.remote_port, nat_r(d.local_port));
                }
            }
        }
        FAIL("datagram ping-pong did not settle");
    }
    void advance_to(TimePoint t) {
        now = t;
        i.on_timer(now);
        r.on_timer(now);
        pump();
    }
};

template <class T>
std::vector<T> of_type(const std::vector<Action>& actions) {
    std::vector<T> out;
    for (const auto& a : actions) {
        if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
    }
    return out;
}

inline std::string last_status(const std::vector<Action>& actions) {
    auto s = of_type<StatusChanged>(actions);
    return s.empty() ? std::string() : s.back().status;
}

inline Message decoded(const Bytes& bytes) {
    auto m = decode_message(bytes);
    REQUIRE(m.has_value());
    return *m;
}

}  // namespace cgwd::ike::test
