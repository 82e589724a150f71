// COOKIE (RFC 7296 section 2.6): the initiator's retry with N(COOKIE) first, and the
// responder-side CookieGuard (threshold, cookie check, secret rotation, per-source rate limit),
// all on a fake clock. The cookie value is recomputed here independently from the RFC's
// formula (Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>), SHA-256) with a
// Random whose output is known.
#include <catch2/catch.hpp>

#include <openssl/evp.h>

#include "cgwd/ike/cookie.hpp"
#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using namespace std::chrono_literals;

namespace {

const auto addr_i = config::Ipv4Address{0xC0000201};      // 192.0.2.1
const auto addr_other = config::Ipv4Address{0xC6336407};  // 198.51.100.7

// Fills with a counter: the n-th requested byte is n mod 256 (so the secrets are known).
class CountingRandom final : public crypto::Random {
  public:
    bool fill(std::span<std::uint8_t> out) override {
        for (auto& b : out) b = static_cast<std::uint8_t>(next_++);
        return true;
    }

  private:
    std::uint32_t next_ = 0;
};

// The RFC 7296 section 2.6 formula, computed here without CookieGuard.
Bytes expected_cookie(std::uint32_t version, const Bytes& secret, const Bytes& ni,
                      config::Ipv4Address ip, std::uint64_t spi_i) {
    Bytes input = ni;
    for (int s = 24; s >= 0; s -= 8) input.push_back(static_cast<std::uint8_t>(ip.value >> s));
    for (int s = 56; s >= 0; s -= 8) input.push_back(static_cast<std::uint8_t>(spi_i >> s));
    input.insert(input.end(), secret.begin(), secret.end());
    Bytes out;
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(version >> s));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    REQUIRE(EVP_Digest(input.data(), input.size(), md, &n, EVP_sha256(), nullptr) == 1);
    REQUIRE(n == 32);
    out.insert(out.end(), md, md + n);
    return out;
}

Bytes counting_secret(std::uint32_t first) {
    Bytes s;
    for (std::uint32_t k = 0; k < 32; ++k) s.push_back(static_cast<std::uint8_t>(first + k));
    return s;
}

const NotifyPayload* first_cookie(const Message& m) {
    if (m.payloads.empty()) return nullptr;
    const auto* n = m.payloads.front().get<NotifyPayload>();
    return n && n->type == NotifyType::cookie ? n : nullptr;
}

Bytes with_cookie(const Bytes& request, const Bytes& cookie, bool first = true) {
    Message m = decoded(request);
    auto p = Payload{PayloadType::notify, false,
                     NotifyPayload{ProtocolId::none, {}, NotifyType::cookie, cookie}};
    if (first) {
        m.payloads.insert(m.payloads.begin(), p);
    } else {
        m.payloads.push_back(p);
    }
    auto bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    return *bytes;
}

Bytes cookie_of(const CookieDecision& d) {
    REQUIRE(d.verdict == CookieVerdict::send_cookie);
    const Message m = decoded(d.response);
    REQUIRE(m.payloads.size() == 1);
    const auto* n = first_cookie(m);
    REQUIRE(n);
    return n->data;
}

// An IKE_SA_INIT request as an initiator engine sends it.
Bytes init_request(std::uint64_t seed) {
    SeededRandom rng(seed);
    IkeSa i(settings(true, aes256_sha256_dh14()), rng);
    i.start(TimePoint{});
    auto out = i.take_datagrams();
    REQUIRE(out.size() == 1);
    return out[0];
}

// An initiator and a responder with a CookieGuard in front of the responder: IKE_SA_INIT
// requests go through the guard, everything else straight across. Ports are all 500.
struct Guarded {
    Guarded(IkeSa& initiator, IkeSa& responder, CookieGuard& g)
        : i(initiator), r(responder), guard(g) {}
    IkeSa& i;
    IkeSa& r;
    CookieGuard& guard;
    TimePoint now{};
    std::vector<Bytes> sent_i, sent_r;
    std::vector<CookieVerdict> verdicts;
    std::vector<Action> actions_i, actions_r;

    void pump() {
        for (int rounds = 0; rounds < 100; ++rounds) {
            auto from_i = i.take_datagrams();
            auto from_r = r.take_datagrams();
            for (auto& a : i.take_actions()) actions_i.push_back(std::move(a));
            for (auto& a : r.take_actions()) actions_r.push_back(std::move(a));
            if (from_i.empty() && from_r.empty()) return;
            for (auto& d : from_i) {
                sent_i.push_back(d);
                auto h = decode_header(d);
                REQUIRE(h.has_value());
                if (h->exchange == ExchangeType::ike_sa_init && !h->response) {
                    auto decision = guard.on_init_request(d, addr_i, 500, now);
                    verdicts.push_back(decision.verdict);
                    if (decision.verdict == CookieVerdict::pass) r.on_datagram(d, now);
                    if (decision.verdict == CookieVerdict::send_cookie) {
                        sent_r.push_back(decision.response);
                        i.on_datagram(decision.response, now);
                    }
                } else {
                    r.on_datagram(d, now);
                }
            }
            for (auto& d : from_r) {
                sent_r.push_back(d);
                i.on_datagram(d, now);
            }
        }
        FAIL("datagram ping-pong did not settle");
    }
};

}  // namespace

TEST_CASE("cookie: initiator resends IKE_SA_INIT with N(COOKIE) first and completes", "[cookie]") {
    const Family f = aes256_sha256_dh14();
    SeededRandom rng_i(1), rng_r(2);
    CountingRandom rng_g;
    IkeSa i(settings(true, f), rng_i);
    IkeSa r(settings(false, f), rng_r);
    CookieGuard guard({}, rng_g);
    guard.set_half_open(51);  // above the default threshold of 50
    REQUIRE(guard.cookies_required());
    Guarded link{i, r, guard};
    i.start(link.now);
    link.pump();

    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);
    REQUIRE(link.verdicts.size() == 2);
    CHECK(link.verdicts[0] == CookieVerdict::send_cookie);
    CHECK(link.verdicts[1] == CookieVerdict::pass);

    // The stateless answer: SPIi echoed, SPIr 0, response, message ID 0, only N(COOKIE).
    const Message req1 = decoded(link.sent_i[0]);
    const Message answer = decoded(link.sent_r[0]);
    CHECK(answer.header.spi_i == req1.header.spi_i);
    CHECK(answer.header.spi_r == 0);
    CHECK(answer.header.response);
    CHECK_FALSE(answer.header.initiator);
    CHECK(answer.header.message_id == 0);
    CHECK(answer.header.exchange == ExchangeType::ike_sa_init);
    REQUIRE(answer.payloads.size() == 1);
    const auto* cookie = first_cookie(answer);
    REQUIRE(cookie);
    CHECK(cookie->protocol == ProtocolId::none);
    CHECK(cookie->spi.empty());
    // Version 0 of the secret = the guard's first 32 random bytes (0, 1, ..., 31).
    const Bytes ni = req1.find(PayloadType::nonce)->get<NoncePayload>()->data;
    CHECK(cookie->data == expected_cookie(0, counting_secret(0), ni, addr_i, req1.header.spi_i));

    // The retry: same header, N(COOKIE) first, then exactly the payloads of the first request.
    const Message req2 = decoded(link.sent_i[1]);
    CHECK(req2.header == req1.header);
    REQUIRE(req2.payloads.size() == req1.payloads.size() + 1);
    REQUIRE(first_cookie(req2));
    CHECK(first_cookie(req2)->data == cookie->data);
    CHECK(std::equal(req1.payloads.begin(), req1.payloads.end(), req2.payloads.begin() + 1));

    // Then IKE_AUTH (AUTH signs the cookie-bearing request on both sides: it verified).
    REQUIRE(link.sent_i.size() == 3);
    CHECK(decoded(link.sent_i[2]).header.exchange == ExchangeType::ike_auth);
    const auto child_i = of_type<ChildSaReady>(link.actions_i);
    const auto child_r = of_type<ChildSaReady>(link.actions_r);
    REQUIRE(child_i.size() == 1);
    REQUIRE(child_r.size() == 1);
    CHECK(child_i[0].spi_in == child_r[0].spi_out);
    CHECK(child_i[0].keys_in.encr == child_r[0].keys_out.encr);
    CHECK(child_i[0].keys_out.integ == child_r[0].keys_in.integ);
    CHECK(guard.stats().cookies_sent == 1);
    CHECK(guard.stats().cookies_accepted == 1);
    CHECK(guard.stats().passed == 1);
}

TEST_CASE("cookie: INVALID_KE after a cookie keeps the cookie and Ni", "[cookie]") {
    // RFC 7296 section 2.6.1: N(COOKIE), SAi1, KEi', Ni with the same Ni, so the cookie still
    // matches.
    Family fi = aes128_sha1_dh2();
    fi.ike.dh = {14, 2};
    const Family fr = aes128_sha1_dh2();
    SeededRandom rng_i(3), rng_r(4);
    CountingRandom rng_g;
    IkeSa i(settings(true, fi), rng_i);
    IkeSa r(settings(false, fr), rng_r);
    CookieGuard guard({}, rng_g);
    guard.set_half_open(100);
    Guarded link{i, r, guard};
    i.start(link.now);
    link.pump();

    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);
    REQUIRE(link.verdicts.size() == 3);
    CHECK(link.verdicts[0] == CookieVerdict::send_cookie);
    CHECK(link.verdicts[1] == CookieVerdict::pass);  // answered INVALID_KE_PAYLOAD(2)
    CHECK(link.verdicts[2] == CookieVerdict::pass);
    const Message req2 = decoded(link.sent_i[1]);
    const Message req3 = decoded(link.sent_i[2]);
    REQUIRE(first_cookie(req2));
    REQUIRE(first_cookie(req3));
    CHECK(first_cookie(req3)->data == first_cookie(req2)->data);
    CHECK(req3.find(PayloadType::ke)->get<KePayload>()->group == 2);
    CHECK(req2.find(PayloadType::ke)->get<KePayload>()->group == 14);
    CHECK(req3.find(PayloadType::nonce)->get<NoncePayload>()->data ==
          req2.find(PayloadType::nonce)->get<NoncePayload>()->data);
}

TEST_CASE("cookie: the initiator gives up after max_cookie_retries", "[cookie]") {
    SeededRandom rng_i(5);
    SaSettings s = settings(true, aes256_sha256_dh14());
    s.max_cookie_retries = 2;
    IkeSa i(s, rng_i);
    TimePoint now{};
    i.start(now);
    // A responder that never accepts: a different cookie every time.
    for (std::uint8_t round = 0; round < 3; ++round) {
        auto out = i.take_datagrams();
        REQUIRE(out.size() == 1);
        const Message req = decoded(out[0]);
        if (round > 0) {
            REQUIRE(first_cookie(req));
            CHECK(first_cookie(req)->data == Bytes(8, static_cast<std::uint8_t>(round - 1)));
        } else {
            CHECK_FALSE(first_cookie(req));
        }
        Message answer;
        answer.header = req.header;
        answer.header.initiator = false;
        answer.header.response = true;
        answer.payloads.push_back(
            Payload{PayloadType::notify, false,
                    NotifyPayload{ProtocolId::none, {}, NotifyType::cookie, Bytes(8, round)}});
        i.on_datagram(*encode_message(answer), now);
    }
    CHECK(i.take_datagrams().empty());
    CHECK(i.state() == SaState::backoff);
    CHECK(i.status().find("COOKIE from peer again after 2 retries") != std::string::npos);
}

TEST_CASE("cookie: below the threshold every well-formed request passes", "[cookie]") {
    CountingRandom rng;
    CookieGuard guard({}, rng);
    const Bytes req = init_request(7);
    const TimePoint t0{};
    guard.set_half_open(0);
    CHECK(guard.on_init_request(req, addr_i, 500, t0).verdict == CookieVerdict::pass);
    guard.set_half_open(50);  // not above 50
    CHECK_FALSE(guard.cookies_required());
    const auto d = guard.on_init_request(req, addr_i, 500, t0);
    CHECK(d.verdict == CookieVerdict::pass);
    CHECK(d.response.empty());
    // A stray cookie is ignored below the threshold.
    CHECK(guard.on_init_request(with_cookie(req, Bytes(36, 0xAA)), addr_i, 500, t0).verdict ==
          CookieVerdict::pass);
    guard.set_half_open(51);
    CHECK(guard.on_init_request(req, addr_i, 500, t0).verdict == CookieVerdict::send_cookie);
    CHECK(guard.stats().passed == 3);
    CHECK(guard.stats().cookies_sent == 1);
}

TEST_CASE("cookie: above the threshold a missing, wrong or stale cookie gets a new one",
          "[cookie]") {
    CountingRandom rng;
    CookieSettings cs;
    cs.half_open_threshold = 10;
    CookieGuard guard(cs, rng);
    guard.set_half_open(11);
    const Bytes req = init_request(8);
    const Message m = decoded(req);
    const Bytes ni = m.find(PayloadType::nonce)->get<NoncePayload>()->data;
    const TimePoint t0{};

    const Bytes cookie = cookie_of(guard.on_init_request(req, addr_i, 500, t0));
    CHECK(cookie.size() == 36);
    CHECK(cookie == expected_cookie(0, counting_secret(0), ni, addr_i, m.header.spi_i));
    CHECK(guard.on_init_request(with_cookie(req, cookie), addr_i, 500, t0).verdict ==
          CookieVerdict::pass);

    // Wrong: one bit flipped in the hash, in the version, or cut short -> a fresh cookie (the
    // correct one again: same Ni, IPi, SPIi and secret).
    Bytes flipped = cookie;
    flipped.back() ^= 0x01;
    CHECK(cookie_of(guard.on_init_request(with_cookie(req, flipped), addr_i, 500, t0)) == cookie);
    Bytes other_version = cookie;
    other_version[3] ^= 0x01;
    CHECK(cookie_of(guard.on_init_request(with_cookie(req, other_version), addr_i, 500, t0)) ==
          cookie);
    const Bytes shorter(cookie.begin(), cookie.end() - 1);
    CHECK(guard.on_init_request(with_cookie(req, shorter), addr_i, 500, t0).verdict ==
          CookieVerdict::send_cookie);
    // Not the first payload: not a cookie (RFC 7296 section 2.6).
    CHECK(guard.on_init_request(with_cookie(req, cookie, false), addr_i, 500, t0).verdict ==
          CookieVerdict::send_cookie);
    // Another source address presenting it: bound to IPi.
    const Bytes for_other =
        cookie_of(guard.on_init_request(with_cookie(req, cookie), addr_other, 500, t0));
    CHECK(for_other != cookie);
    CHECK(for_other == expected_cookie(0, counting_secret(0), ni, addr_other, m.header.spi_i));
    // Another initiator SPI / nonce: another request entirely.
    const Bytes req_b = init_request(9);
    CHECK(guard.on_init_request(with_cookie(req_b, cookie), addr_i, 500, t0).verdict ==
          CookieVerdict::send_cookie);

    // Stale: two secret lifetimes later neither version 0 nor anything before is known.
    const TimePoint late = t0 + 2 * cs.secret_lifetime;
    const Bytes renewed =
        cookie_of(guard.on_init_request(with_cookie(req, cookie), addr_i, 500, late));
    CHECK(renewed == expected_cookie(1, counting_secret(32), ni, addr_i, m.header.spi_i));
    CHECK(guard.on_init_request(with_cookie(req, renewed), addr_i, 500, late).verdict ==
          CookieVerdict::pass);

    // Not an IKE_SA_INIT request, or garbage: dropped without an answer.
    Message resp = m;
    resp.header.response = true;
    auto d = guard.on_init_request(*encode_message(resp), addr_i, 500, late);
    CHECK(d.verdict == CookieVerdict::drop);
    CHECK(d.response.empty());
    const Bytes truncated(req.begin(), req.end() - 1);
    CHECK(guard.on_init_request(truncated, addr_i, 500, late).verdict == CookieVerdict::drop);
    Message no_nonce = m;
    std::erase_if(no_nonce.payloads, [](const Payload& p) { return p.type == PayloadType::nonce; });
    CHECK(guard.on_init_request(*encode_message(no_nonce), addr_i, 500, late).verdict ==
          CookieVerdict::drop);
    CHECK(guard.stats().dropped_malformed == 3);
}

TEST_CASE("cookie: secret rotation keeps the previous version valid for one period", "[cookie]") {
    CountingRandom rng;
    CookieSettings cs;
    cs.secret_lifetime = 5min;
    CookieGuard guard(cs, rng);
    guard.set_half_open(60);
    const Bytes req = init_request(10);
    const Message m = decoded(req);
    const Bytes ni = m.find(PayloadType::nonce)->get<NoncePayload>()->data;
    const TimePoint t0{};

    const Bytes c0 = cookie_of(guard.on_init_request(req, addr_i, 500, t0));
    CHECK(c0 == expected_cookie(0, counting_secret(0), ni, addr_i, m.header.spi_i));
    // Just before the end of the period: still version 0.
    CHECK(cookie_of(guard.on_init_request(req, addr_i, 500, t0 + 5min - 1ms)) == c0);

    // Rotation at t1: version 1 for new cookies, version 0 still accepted.
    const TimePoint t1 = t0 + 5min;
    const Bytes c1 = cookie_of(guard.on_init_request(req, addr_i, 500, t1));
    CHECK(c1 == expected_cookie(1, counting_secret(32), ni, addr_i, m.header.spi_i));
    CHECK(guard.on_init_request(with_cookie(req, c0), addr_i, 500, t1 + 4min).verdict ==
          CookieVerdict::pass);
    CHECK(guard.on_init_request(with_cookie(req, c1), addr_i, 500, t1 + 4min).verdict ==
          CookieVerdict::pass);

    // Next rotation at t2 = t1 + 5 min: version 0 is gone, version 1 is the previous one.
    const TimePoint t2 = t1 + 5min;
    const Bytes c2 = cookie_of(guard.on_init_request(with_cookie(req, c0), addr_i, 500, t2));
    CHECK(c2 == expected_cookie(2, counting_secret(64), ni, addr_i, m.header.spi_i));
    CHECK(guard.on_init_request(with_cookie(req, c1), addr_i, 500, t2).verdict ==
          CookieVerdict::pass);
    CHECK(guard.on_init_request(with_cookie(req, c2), addr_i, 500, t2).verdict ==
          CookieVerdict::pass);
    // And at t3 version 1 goes too.
    const TimePoint t3 = t2 + 5min;
    CHECK(guard.on_init_request(with_cookie(req, c1), addr_i, 500, t3).verdict ==
          CookieVerdict::send_cookie);
    CHECK(guard.on_init_request(with_cookie(req, c2), addr_i, 500, t3).verdict ==
          CookieVerdict::pass);
}

TEST_CASE("cookie: per-source token bucket for half-open attempts", "[cookie]") {
    CountingRandom rng;
    CookieSettings cs;
    cs.per_source_burst = 3;
    cs.per_source_interval = 1000ms;
    cs.max_sources = 2;
    CookieGuard guard(cs, rng);
    const Bytes req = init_request(11);
    const TimePoint t0{};

    for (int k = 0; k < 3; ++k) {
        CHECK(guard.on_init_request(req, addr_i, 500, t0).verdict == CookieVerdict::pass);
    }
    CHECK(guard.on_init_request(req, addr_i, 500, t0).verdict == CookieVerdict::drop);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 999ms).verdict == CookieVerdict::drop);
    // Another source has its own bucket.
    CHECK(guard.on_init_request(req, addr_other, 500, t0).verdict == CookieVerdict::pass);
    // One token per second comes back, up to the burst.
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 1000ms).verdict == CookieVerdict::pass);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 1000ms).verdict == CookieVerdict::drop);
    CHECK(guard.stats().dropped_rate == 3);

    // Cookie answers cost no token; the request with the cookie then spends one.
    guard.set_half_open(51);
    const TimePoint t1 = t0 + 10s;  // buckets full again
    for (int k = 0; k < 10; ++k) {
        CHECK(guard.on_init_request(req, addr_i, 500, t1).verdict == CookieVerdict::send_cookie);
    }
    const Bytes cookie = cookie_of(guard.on_init_request(req, addr_i, 500, t1));
    for (int k = 0; k < 3; ++k) {
        CHECK(guard.on_init_request(with_cookie(req, cookie), addr_i, 500, t1).verdict ==
              CookieVerdict::pass);
    }
    CHECK(guard.on_init_request(with_cookie(req, cookie), addr_i, 500, t1).verdict ==
          CookieVerdict::drop);

    // The table stays bounded (max_sources 2).
    guard.set_half_open(0);
    for (std::uint32_t k = 0; k < 20; ++k) {
        CHECK(guard.on_init_request(req, config::Ipv4Address{0x0A000000 + k}, 500, t1).verdict ==
              CookieVerdict::pass);
        CHECK(guard.tracked_sources() <= 2);
    }
}

TEST_CASE("cookie: requests passed within pass_window count as half-open", "[cookie]") {
    // A responder with one IKE SA per peer never reports more than one half-open SA: the
    // requests that passed recently are the load instead.
    CountingRandom rng;
    CookieSettings cs;
    cs.half_open_threshold = 3;
    cs.pass_window = 10s;
    cs.per_source_burst = 100;
    CookieGuard guard(cs, rng);
    const Bytes req = init_request(21);
    const TimePoint t0{};

    for (int k = 0; k < 4; ++k) {
        CHECK(guard.on_init_request(req, addr_i, 500, t0 + k * 1s).verdict == CookieVerdict::pass);
    }
    CHECK(guard.recent_passes() == 4);
    CHECK(guard.cookies_required());
    // The fifth within the window needs a cookie; so does one from another source.
    const auto fifth = guard.on_init_request(req, addr_i, 500, t0 + 4s);
    REQUIRE(fifth.verdict == CookieVerdict::send_cookie);
    CHECK(guard.on_init_request(req, addr_other, 500, t0 + 4s).verdict ==
          CookieVerdict::send_cookie);
    // With the cookie it passes (and counts).
    CHECK(guard.on_init_request(with_cookie(req, cookie_of(fifth)), addr_i, 500, t0 + 4s).verdict ==
          CookieVerdict::pass);
    // The pass times kept are 1, 2, 3 and 4 s (the ring holds threshold + 1): at 10.5 s all
    // four are within 10 s; at 11.5 s the one at 1 s is not.
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 10500ms).verdict ==
          CookieVerdict::send_cookie);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 11500ms).verdict == CookieVerdict::pass);
    // Reported half-open SAs add to the recent passes: at 12.5 s three passes are recent
    // (3, 4 and 11.5 s), plus one half-open SA is above the threshold.
    guard.set_half_open(1);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 12500ms).verdict ==
          CookieVerdict::send_cookie);
    CHECK(guard.recent_passes() == 3);
    guard.set_half_open(0);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 12500ms).verdict == CookieVerdict::pass);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 30s).verdict == CookieVerdict::pass);
    CHECK(guard.recent_passes() == 1);
    CHECK(guard.stats().passed == 8);
}

TEST_CASE("cookie: cookie answers are limited to max_cookies_per_second", "[cookie]") {
    CountingRandom rng;
    CookieSettings cs;
    cs.max_cookies_per_second = 5;
    CookieGuard guard(cs, rng);
    guard.set_half_open(cs.half_open_threshold + 1);
    const Bytes req = init_request(31);
    const TimePoint t0{};
    int sent = 0;
    for (int k = 0; k < 20; ++k)
        if (guard.on_init_request(req, addr_i, 500, t0).verdict == CookieVerdict::send_cookie)
            ++sent;
    CHECK(sent == 5);
    CHECK(guard.stats().cookies_sent == 5);
    CHECK(guard.stats().dropped_cookie_rate == 15);
    // 200 ms later one more token is back (5 per second).
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 200ms).verdict ==
          CookieVerdict::send_cookie);
    CHECK(guard.on_init_request(req, addr_i, 500, t0 + 200ms).verdict == CookieVerdict::drop);
    // Out of cookie answers, a request not starting with a Notify is refused before it is
    // decoded: a truncated one counts as over the rate, not as malformed.
    const Bytes truncated(req.begin(), req.begin() + 40);
    CHECK(guard.on_init_request(truncated, addr_i, 500, t0 + 200ms).verdict == CookieVerdict::drop);
    CHECK(guard.stats().dropped_malformed == 0);
    CHECK(guard.stats().dropped_cookie_rate == 17);
    // A valid cookie still passes while answers are limited (no answer needed).
    const TimePoint t1 = t0 + 400ms;
    const Bytes cookie = cookie_of(guard.on_init_request(req, addr_i, 500, t1));
    CHECK(guard.on_init_request(with_cookie(req, cookie), addr_i, 500, t1).verdict ==
          CookieVerdict::pass);
}

TEST_CASE(
    "cookie: an unsolicited IKE_SA_INIT leaves an established SA alone, replaces a "
    "half-open one",
    "[cookie]") {
    // Why the daemon asks a half-open tunnel's peer for a cookie at once: IkeSa keeps one IKE
    // SA, and a request with a new SPIi (from the peer's address, e.g. spoofed) replaces a
    // half-open SA; an established SA and its CHILD_SA ignore it.
    const Family f = aes128_sha1_dh2();
    SeededRandom rng_i(1), rng_r(2), rng_x(3);
    IkeSa i(settings(true, f), rng_i);
    IkeSa r(settings(false, f), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(r.state() == SaState::established);
    const auto before = r.info();
    REQUIRE(before.child);

    // A fresh request (random SPIi) and a replay of the original IKE_SA_INIT request.
    IkeSa x(settings(true, f), rng_x);
    x.start(link.now);
    const auto spoofed = x.take_datagrams();
    REQUIRE(spoofed.size() == 1);
    r.on_datagram(spoofed[0], link.now);
    r.on_datagram(link.sent_i[0], link.now);
    CHECK(r.take_outgoing().empty());
    CHECK(r.take_actions().empty());
    CHECK(r.state() == SaState::established);
    CHECK(r.info().spi_i == before.spi_i);
    CHECK(r.info().spi_r == before.spi_r);
    REQUIRE(r.info().child);
    CHECK(r.info().child->spi_in == before.child->spi_in);

    // Half-open (IKE_SA_INIT answered, IKE_AUTH not yet arrived): the new request wins.
    SeededRandom rng_i2(4), rng_r2(5), rng_x2(6);
    IkeSa i2(settings(true, f), rng_i2);
    IkeSa r2(settings(false, f), rng_r2);
    i2.start(TimePoint{});
    const auto init = i2.take_datagrams();
    REQUIRE(init.size() == 1);
    r2.on_datagram(init[0], TimePoint{});
    REQUIRE(r2.state() == SaState::init_replied);
    IkeSa x2(settings(true, f), rng_x2);
    x2.start(TimePoint{});
    const auto spoofed2 = x2.take_datagrams();
    REQUIRE(spoofed2.size() == 1);
    r2.on_datagram(spoofed2[0], TimePoint{});
    CHECK(r2.state() == SaState::init_replied);
    CHECK(r2.info().spi_i == decoded(spoofed2[0]).header.spi_i);
    CHECK(r2.info().spi_i != decoded(init[0]).header.spi_i);
}
