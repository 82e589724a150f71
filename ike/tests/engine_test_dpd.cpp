// IKE SA engine: dead peer detection scheduled by the engine (RFC 7296 section 2.4) and the
// status snapshot info().
#include <catch2/catch.hpp>

#include <functional>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

struct Pair {
    SeededRandom rng_i{71}, rng_r{72};
    IkeSa i;
    IkeSa r;
    Link link{i, r};
    explicit Pair(config::DpdAction action = config::DpdAction::restart,
                  const Family& f = aes256_sha256_dh14())
        : i(with_action(settings(true, f), action), rng_i),
          r(with_action(settings(false, f), action), rng_r) {
        i.start(link.now);
        link.pump();
        REQUIRE(i.state() == SaState::established);
        REQUIRE(r.state() == SaState::established);
        link.actions_i.clear();
        link.actions_r.clear();
    }
    static SaSettings with_action(SaSettings s, config::DpdAction a) {
        s.dpd_action = a;
        return without_rekey(std::move(s));
    }
};

// AES-128/SHA-1/DH 2 engines without rekeying, the responder without DPD of its own (the
// initiator's checks are the subject), established; `tune` adjusts the initiator's settings.
struct Quiet {
    SeededRandom rng_i, rng_r;
    IkeSa i;
    IkeSa r;
    Link link{i, r};
    Quiet(std::uint64_t seed, const std::function<void(SaSettings&)>& tune = {})
        : rng_i(seed), rng_r(seed + 1), i(initiator(tune), rng_i), r(responder(), rng_r) {
        i.start(link.now);
        link.pump();
        REQUIRE(i.state() == SaState::established);
    }
    static SaSettings initiator(const std::function<void(SaSettings&)>& tune) {
        SaSettings s = without_rekey(settings(true, aes128_sha1_dh2()));
        if (tune) tune(s);
        return s;
    }
    static SaSettings responder() {
        SaSettings s = without_rekey(settings(false, aes128_sha1_dh2()));
        s.dpd_interval = Millis{0};
        return s;
    }
};

bool is_liveness_request(const Bytes& b) {
    const Message m = decoded(b);
    return m.header.exchange == ExchangeType::informational && !m.header.response &&
           m.payloads.at(0).get<SkPayload>()->first_inner == PayloadType::none;
}

}  // namespace

TEST_CASE("dpd: a liveness check after exactly dpd_interval of silence, not before",
          "[engine][dpd]") {
    Pair p;
    const TimePoint t0 = p.link.now;
    CHECK(p.i.next_deadline() == t0 + seconds(10));
    p.link.advance_to(t0 + seconds(10) - milliseconds(1));
    CHECK(p.link.sent_i.size() == 2);
    p.link.advance_to(t0 + seconds(10));
    // Its own check, and the answer to the responder's check (also due at 10 s).
    REQUIRE(p.link.sent_i.size() == 4);
    CHECK(is_liveness_request(p.link.sent_i[2]));
    CHECK(decoded(p.link.sent_i[3]).header.response);
    CHECK(p.i.info().last_dpd_sent == t0 + seconds(10));
    CHECK(p.i.state() == SaState::established);
    CHECK(p.link.actions_i.empty());

    // An authenticated request from the peer counts as a sign of life: the responder checks
    // at 10 s too, so the next check of the initiator is 10 s after that.
    CHECK(p.i.next_deadline() == t0 + seconds(20));
}

TEST_CASE("dpd: a request from the peer postpones the check", "[engine][dpd]") {
    Quiet q(73);
    IkeSa& i = q.i;
    IkeSa& r = q.r;
    Link& link = q.link;
    const TimePoint t0 = link.now;
    REQUIRE(r.next_deadline() == std::nullopt);
    REQUIRE(r.send_liveness_check(t0 + seconds(6)));
    link.advance_to(t0 + seconds(6));
    CHECK(i.next_deadline() == t0 + seconds(16));
    link.advance_to(t0 + seconds(10));
    CHECK(link.sent_i.size() == 3);  // only the answer to r's check
    CHECK(decoded(link.sent_i[2]).header.response);
}

TEST_CASE("dpd: the peer is dead after dpd_retries retransmissions - restart re-initiates",
          "[engine][dpd]") {
    Pair p;
    p.link.drop_from_r = [](std::size_t n, const Bytes&) { return n >= 2; };  // peer gone
    const TimePoint t0 = p.link.now;
    // Check at 10 s, retransmissions at 11, 13 and 17 s (1, 2, 4 s), dead at 25 s (8 s).
    p.link.advance_to(t0 + seconds(10));
    const std::size_t first = p.link.sent_i.size() - 1;
    REQUIRE(is_liveness_request(p.link.sent_i[first]));
    for (int s : {11, 13, 17}) {
        p.link.advance_to(t0 + seconds(s) - milliseconds(1));
        const std::size_t before = p.link.sent_i.size();
        p.link.advance_to(t0 + seconds(s));
        REQUIRE(p.link.sent_i.size() == before + 1);
        CHECK(p.link.sent_i.back() == p.link.sent_i[first]);
    }
    p.link.advance_to(t0 + seconds(25) - milliseconds(1));
    CHECK(p.i.state() == SaState::established);
    CHECK(of_type<IkeSaDown>(p.link.actions_i).empty());
    p.link.advance_to(t0 + seconds(25));
    const auto deleted = of_type<ChildSaDeleted>(p.link.actions_i);
    REQUIRE(deleted.size() == 1);
    const auto down = of_type<IkeSaDown>(p.link.actions_i);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason ==
          "peer not responding: no answer to INFORMATIONAL after 4 transmissions");
    // ChildSaDeleted comes before IkeSaDown.
    std::size_t del_at = 0, down_at = 0;
    for (std::size_t k = 0; k < p.link.actions_i.size(); ++k) {
        if (std::holds_alternative<ChildSaDeleted>(p.link.actions_i[k])) del_at = k;
        if (std::holds_alternative<IkeSaDown>(p.link.actions_i[k])) down_at = k;
    }
    CHECK(del_at < down_at);
    // restart: a new IKE_SA_INIT right away (no back-off).
    CHECK(p.i.state() == SaState::init_sent);
    CHECK(decoded(p.link.sent_i.back()).header.exchange == ExchangeType::ike_sa_init);
}

TEST_CASE("dpd: a tight local DPD (1 s, 2 x 300 ms) declares the peer dead 1.6 s after silence",
          "[engine][dpd]") {
    // The TOML keys dpd_interval_ms / dpd_retries / dpd_retransmit_ms reach the engine through
    // the tunnel model; the AWS file's 10 s x 3 are overridden.
    config::Tunnel t;
    t.psk = config::Secret("shared secret 123");
    t.dpd_interval_s = 10;
    t.dpd_retries = 3;
    t.local_dpd_interval_ms = 1000;
    t.local_dpd_retries = 2;
    t.local_dpd_retransmit_ms = 300;
    const SaSettings tuned = SaSettings::from_tunnel(t, config::Ipv4Address{0x0a000001});
    CHECK(tuned.dpd_interval == Millis{1000});
    CHECK(tuned.dpd_retries == 2);
    CHECK(tuned.dpd_retransmit == Millis{300});
    CHECK(SaSettings::from_tunnel(config::Tunnel{}, {}).dpd_retransmit == Millis{0});

    Quiet q(75, [&](SaSettings& si) {
        si.dpd_interval = tuned.dpd_interval;
        si.dpd_retries = tuned.dpd_retries;
        si.dpd_retransmit = tuned.dpd_retransmit;
    });
    Link& link = q.link;
    link.drop_from_r = [](std::size_t n, const Bytes&) { return n >= 2; };  // peer gone
    const TimePoint t0 = link.now;
    // Check at 1.0 s, retransmissions at 1.3 and 1.6 s, dead at 1.9 s.
    link.advance_to(t0 + milliseconds(1000));
    const std::size_t first = link.sent_i.size() - 1;
    REQUIRE(is_liveness_request(link.sent_i[first]));
    for (int ms : {1300, 1600}) {
        link.advance_to(t0 + milliseconds(ms - 1));
        const std::size_t before = link.sent_i.size();
        link.advance_to(t0 + milliseconds(ms));
        REQUIRE(link.sent_i.size() == before + 1);
        CHECK(link.sent_i.back() == link.sent_i[first]);
    }
    link.advance_to(t0 + milliseconds(1899));
    CHECK(of_type<IkeSaDown>(link.actions_i).empty());
    link.advance_to(t0 + milliseconds(1900));
    const auto down = of_type<IkeSaDown>(link.actions_i);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason ==
          "peer not responding: no answer to INFORMATIONAL after 3 transmissions");
}

TEST_CASE("dpd: dpd_action clear leaves the SA down without re-initiating", "[engine][dpd]") {
    Pair p(config::DpdAction::clear);
    p.link.drop_from_r = [](std::size_t n, const Bytes&) { return n >= 2; };
    const TimePoint t0 = p.link.now;
    for (int s : {10, 11, 13, 17, 25}) p.link.advance_to(t0 + seconds(s));
    CHECK(of_type<IkeSaDown>(p.link.actions_i).size() == 1);
    CHECK(p.i.state() == SaState::idle);
    CHECK(p.i.next_deadline() == std::nullopt);
    const std::size_t sent = p.link.sent_i.size();
    p.link.advance_to(t0 + seconds(600));
    CHECK(p.link.sent_i.size() == sent);
}

TEST_CASE("dpd: dpd_action none sends no liveness checks", "[engine][dpd]") {
    Pair p(config::DpdAction::none);
    CHECK(p.i.next_deadline() == std::nullopt);
    p.link.advance_to(p.link.now + seconds(3600));
    CHECK(p.link.sent_i.size() == 2);
    CHECK(p.i.state() == SaState::established);
}

TEST_CASE("dpd: a pure responder with restart goes idle when the peer dies", "[engine][dpd]") {
    Pair p;
    p.link.drop_from_i = [](std::size_t n, const Bytes&) { return n >= 2; };
    const TimePoint t0 = p.link.now;
    for (int s : {10, 11, 13, 17, 25}) p.link.advance_to(t0 + seconds(s));
    CHECK(of_type<IkeSaDown>(p.link.actions_r).size() == 1);
    CHECK(p.r.state() == SaState::idle);
}

TEST_CASE("info: the status snapshot after a handshake", "[engine][info]") {
    Pair p(config::DpdAction::restart, aes256gcm_ecp384());
    const SaInfo a = p.i.info();
    const SaInfo b = p.r.info();
    CHECK(a.state == SaState::established);
    CHECK(a.status == "established");
    CHECK(a.initiator);
    CHECK_FALSE(b.initiator);
    CHECK(a.spi_i != 0);
    CHECK(a.spi_i == b.spi_i);
    CHECK(a.spi_r == b.spi_r);
    CHECK(a.ike_transforms == "AES-256-GCM-16/PRF-HMAC-SHA2-384/ECP-384");
    CHECK(a.established_at == p.link.now);
    REQUIRE(a.child);
    REQUIRE(b.child);
    CHECK(a.child->spi_in == b.child->spi_out);
    CHECK(a.child->spi_out == b.child->spi_in);
    CHECK(a.child->transforms == "AES-256-GCM-16");
    CHECK(a.child->established_at == p.link.now);
    CHECK(a.local_port == 500);
    CHECK_FALSE(a.floated);
    CHECK(a.ike_rekeys == 0);
    CHECK(a.child_rekeys == 0);
    CHECK_FALSE(a.last_dpd_sent);

    SeededRandom rng(75);
    IkeSa idle(settings(true, aes128_sha1_dh2()), rng);
    const SaInfo z = idle.info();
    CHECK(z.state == SaState::idle);
    CHECK(z.spi_i == 0);
    CHECK(z.ike_transforms.empty());
    CHECK_FALSE(z.child);
}

TEST_CASE("dpd: ESP from the peer postpones the check - silence brings it back", "[engine][dpd]") {
    Quiet q(77);
    IkeSa& i = q.i;
    Link& link = q.link;
    const TimePoint t0 = link.now;
    const std::size_t before = link.sent_i.size();
    // The dataplane reports inbound ESP at 4 s and 12 s: no liveness check until 22 s.
    i.on_peer_traffic(t0 + seconds(4));
    CHECK(i.next_deadline() == t0 + seconds(14));
    link.advance_to(t0 + seconds(12));
    i.on_peer_traffic(t0 + seconds(12));
    link.advance_to(t0 + seconds(22) - milliseconds(1));
    CHECK(link.sent_i.size() == before);
    link.advance_to(t0 + seconds(22));
    REQUIRE(link.sent_i.size() == before + 1);
    CHECK(is_liveness_request(link.sent_i.back()));
    // An older report changes nothing.
    i.on_peer_traffic(t0 + seconds(1));
    CHECK(i.info().last_dpd_sent == t0 + seconds(22));
}
