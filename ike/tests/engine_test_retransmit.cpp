// IKE SA engine: retransmission with exponential back-off, message ID window 1, and the
// responder answering a retransmitted request from its cache (RFC 7296 sections 2.1, 2.3, 2.4).
#include <catch2/catch.hpp>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("engine: lost IKE_SA_INIT response is retransmitted at exactly 1 s", "[engine]") {
    SeededRandom rng_i(21), rng_r(22);
    IkeSa i(settings(true, aes256_sha256_dh14()), rng_i);
    IkeSa r(settings(false, aes256_sha256_dh14()), rng_r);
    Link link{i, r};
    link.drop_from_r = [](std::size_t n, const Bytes&) { return n == 0; };
    const TimePoint t0 = link.now;
    i.start(t0);
    link.pump();
    REQUIRE(link.sent_i.size() == 1);
    REQUIRE(link.sent_r.size() == 1);  // answered, but the answer was lost
    CHECK(i.state() == SaState::init_sent);
    CHECK(r.state() == SaState::init_replied);
    REQUIRE(i.next_deadline() == t0 + seconds(1));

    link.advance_to(t0 + seconds(1) - milliseconds(1));
    CHECK(link.sent_i.size() == 1);  // not yet
    link.advance_to(t0 + seconds(1));
    REQUIRE(link.sent_i.size() >= 2);
    CHECK(link.sent_i[1] == link.sent_i[0]);  // the same bytes again
    // The responder replays its cached response (byte for byte, not a new SPI / KE).
    REQUIRE(link.sent_r.size() >= 2);
    CHECK(link.sent_r[1] == link.sent_r[0]);
    CHECK(i.state() == SaState::established);
    CHECK(r.state() == SaState::established);
    CHECK(of_type<ChildSaReady>(link.actions_i).size() == 1);
    CHECK(of_type<ChildSaReady>(link.actions_r).size() == 1);
}

TEST_CASE("engine: retransmissions back off 1, 2, 4, 8, 16 s, then the SA is given up",
          "[engine]") {
    SeededRandom rng_i(23);
    IkeSa i(settings(true, aes128_sha1_dh2()), rng_i);
    const TimePoint t0{};
    i.start(t0);
    const auto first = i.take_datagrams();
    REQUIRE(first.size() == 1);
    (void)i.take_actions();

    // Sent at 0; retransmitted at 1, 3, 7, 15; given up at 31.
    const int at[] = {1, 3, 7, 15};
    for (int s : at) {
        const TimePoint t = t0 + seconds(s);
        REQUIRE(i.next_deadline() == t);
        i.on_timer(t - milliseconds(1));
        CHECK(i.take_datagrams().empty());
        i.on_timer(t);
        const auto again = i.take_datagrams();
        REQUIRE(again.size() == 1);
        CHECK(again[0] == first[0]);
    }
    REQUIRE(i.next_deadline() == t0 + seconds(31));
    i.on_timer(t0 + seconds(31) - milliseconds(1));
    CHECK(i.take_datagrams().empty());
    CHECK(i.state() == SaState::init_sent);
    i.on_timer(t0 + seconds(31));
    CHECK(i.take_datagrams().empty());
    const auto actions = i.take_actions();
    const auto down = of_type<IkeSaDown>(actions);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason == "peer not responding: no answer to IKE_SA_INIT after 5 transmissions");
    CHECK(i.state() == SaState::backoff);
    CHECK(i.next_deadline() == t0 + seconds(41));  // back-off before the next attempt
}

TEST_CASE("engine: duplicate IKE_AUTH request is answered from the cache", "[engine]") {
    SeededRandom rng_i(24), rng_r(25);
    IkeSa i(settings(true, aes256gcm_ecp384()), rng_i);
    IkeSa r(settings(false, aes256gcm_ecp384()), rng_r);
    Link link{i, r};
    link.drop_from_r = [](std::size_t n, const Bytes&) { return n == 1; };  // IKE_AUTH response
    i.start(link.now);
    link.pump();
    CHECK(r.state() == SaState::established);
    CHECK(i.state() == SaState::auth_sent);
    REQUIRE(link.sent_r.size() == 2);

    link.advance_to(link.now + seconds(1));
    REQUIRE(link.sent_i.size() == 3);
    CHECK(link.sent_i[2] == link.sent_i[1]);  // IKE_AUTH retransmitted unchanged
    REQUIRE(link.sent_r.size() == 3);
    CHECK(link.sent_r[2] == link.sent_r[1]);  // cached response, byte for byte
    CHECK(i.state() == SaState::established);
    // The responder did not process the request twice.
    CHECK(of_type<ChildSaReady>(link.actions_r).size() == 1);
    CHECK(of_type<IkeSaUp>(link.actions_r).size() == 1);
    const auto a = of_type<ChildSaReady>(link.actions_i).at(0);
    const auto b = of_type<ChildSaReady>(link.actions_r).at(0);
    CHECK(a.spi_in == b.spi_out);
    CHECK(a.keys_in.encr == b.keys_out.encr);
}

TEST_CASE("engine: requests outside the window and stray responses are ignored", "[engine]") {
    SeededRandom rng_i(26), rng_r(27);
    IkeSa i(settings(true, aes128_sha1_dh2()), rng_i);
    IkeSa r(settings(false, aes128_sha1_dh2()), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);

    // The IKE_AUTH request replayed long after: the cache answers, nothing else happens.
    r.on_datagram(link.sent_i[1], link.now);
    const auto replay = r.take_datagrams();
    REQUIRE(replay.size() == 1);
    CHECK(replay[0] == link.sent_r[1]);
    CHECK(r.take_actions().empty());

    // A request with a message ID beyond the window (2 is expected next, 5 is not in it):
    // take the IKE_AUTH request and change its message ID; dropped before decryption.
    Bytes future = link.sent_i[1];
    future[23] = 5;  // message ID (big-endian, offset 20..23)
    r.on_datagram(future, link.now);
    CHECK(r.take_datagrams().empty());

    // A response nobody asked for (the IKE_AUTH response again) is dropped by the initiator.
    i.on_datagram(link.sent_r[1], link.now);
    CHECK(i.take_datagrams().empty());
    CHECK(i.take_actions().empty());
    CHECK(i.state() == SaState::established);
}

TEST_CASE("engine: a half-open responder SA expires without IKE_AUTH", "[engine]") {
    SeededRandom rng_i(28), rng_r(29);
    IkeSa i(settings(true, aes128_sha1_dh2()), rng_i);
    IkeSa r(settings(false, aes128_sha1_dh2()), rng_r);
    TimePoint now{};
    i.start(now);
    r.on_datagram(i.take_datagrams().at(0), now);
    REQUIRE(r.state() == SaState::init_replied);
    REQUIRE(r.next_deadline() == now + seconds(30));
    r.on_timer(now + seconds(30));
    CHECK(r.state() == SaState::idle);
    CHECK(r.status() == "half-open IKE SA timed out: no IKE_AUTH");
    CHECK(r.next_deadline() == std::nullopt);  // a pure responder does not initiate
}
