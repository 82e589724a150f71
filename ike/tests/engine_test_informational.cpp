// IKE SA engine on an established SA: liveness checks and Delete (RFC 7296 sections 1.4.1,
// 2.4), both directions.
#include <catch2/catch.hpp>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::seconds;

namespace {

struct Pair {
    SeededRandom rng_i{41}, rng_r{42};
    IkeSa i{settings(true, aes256_sha256_dh14()), rng_i};
    IkeSa r{settings(false, aes256_sha256_dh14()), rng_r};
    Link link{i, r};
    Pair() {
        i.start(link.now);
        link.pump();
        REQUIRE(i.state() == SaState::established);
        REQUIRE(r.state() == SaState::established);
        link.actions_i.clear();
        link.actions_r.clear();
    }
};

}  // namespace

TEST_CASE("engine: liveness check in both directions is answered with an empty message",
          "[engine]") {
    Pair p;
    REQUIRE(p.i.send_liveness_check(p.link.now));
    CHECK_FALSE(p.i.send_liveness_check(p.link.now));  // window 1: one request at a time
    p.link.pump();
    REQUIRE(p.link.sent_i.size() == 3);
    const Message req = decoded(p.link.sent_i[2]);
    CHECK(req.header.exchange == ExchangeType::informational);
    CHECK(req.header.message_id == 2);  // after IKE_SA_INIT (0) and IKE_AUTH (1)
    CHECK(req.payloads.at(0).get<SkPayload>()->first_inner == PayloadType::none);
    const Message resp = decoded(p.link.sent_r.at(2));
    CHECK(resp.header.response);
    CHECK(resp.header.message_id == 2);
    CHECK(p.i.next_deadline() == p.link.now + seconds(10));  // answered: only the DPD timer
    CHECK(p.link.actions_i.empty());
    CHECK(p.link.actions_r.empty());

    // The responder's own requests use its own counter, starting at 0.
    REQUIRE(p.r.send_liveness_check(p.link.now));
    p.link.pump();
    CHECK(decoded(p.link.sent_r.at(3)).header.message_id == 0);
    CHECK_FALSE(decoded(p.link.sent_r.at(3)).header.initiator);
    CHECK(p.r.next_deadline() == p.link.now + seconds(10));
    // And the initiator still accepts the next one (window moved to 1).
    REQUIRE(p.r.send_liveness_check(p.link.now));
    p.link.pump();
    CHECK(decoded(p.link.sent_i.back()).header.message_id == 1);
    CHECK(p.r.next_deadline() == p.link.now + seconds(10));
}

TEST_CASE("engine: an unanswered liveness check takes the SA and its CHILD_SA down", "[engine]") {
    Pair p;
    p.link.drop_from_i = [](std::size_t, const Bytes&) { return true; };  // peer gone
    const TimePoint t0 = p.link.now;
    REQUIRE(p.i.send_liveness_check(t0));
    p.link.pump();
    // Sent at 0, dpd_retries (3) retransmissions at 1, 3 and 7 s, dead at 15 s.
    for (int s : {1, 3, 7}) p.link.advance_to(t0 + seconds(s));
    CHECK(of_type<IkeSaDown>(p.link.actions_i).empty());
    p.link.advance_to(t0 + seconds(15));
    // It was start()ed and dpd_action is restart: a new IKE_SA_INIT at once.
    CHECK(p.i.state() == SaState::init_sent);
    CHECK(decoded(p.link.sent_i.back()).header.exchange == ExchangeType::ike_sa_init);
    const auto deleted = of_type<ChildSaDeleted>(p.link.actions_i);
    REQUIRE(deleted.size() == 1);
    CHECK(deleted[0].spi_in != 0);
    const auto down = of_type<IkeSaDown>(p.link.actions_i);
    REQUIRE(down.size() == 1);
    CHECK(down[0].reason ==
          "peer not responding: no answer to INFORMATIONAL after 4 transmissions");
}

TEST_CASE("engine: stop() deletes the IKE SA on both ends", "[engine]") {
    Pair p;
    p.i.stop(p.link.now);
    p.link.pump();
    CHECK(p.i.state() == SaState::idle);
    CHECK(p.i.status() == "stopped");
    CHECK(p.i.next_deadline() == std::nullopt);  // no re-initiation after stop()
    const Message del = decoded(p.link.sent_i.at(2));
    CHECK(del.header.exchange == ExchangeType::informational);
    CHECK(del.payloads.at(0).get<SkPayload>()->first_inner == PayloadType::del);

    CHECK(p.r.state() == SaState::idle);
    CHECK(p.r.status() == "IKE SA deleted by peer");
    const auto di = of_type<ChildSaDeleted>(p.link.actions_i);
    const auto dr = of_type<ChildSaDeleted>(p.link.actions_r);
    REQUIRE(di.size() == 1);
    REQUIRE(dr.size() == 1);
    CHECK(di[0].spi_in == dr[0].spi_out);
    CHECK(di[0].spi_out == dr[0].spi_in);
    CHECK(of_type<IkeSaDown>(p.link.actions_r).size() == 1);
    // The responder answered the Delete with an empty INFORMATIONAL response.
    const Message ack = decoded(p.link.sent_r.at(2));
    CHECK(ack.header.response);
    CHECK(ack.payloads.at(0).get<SkPayload>()->first_inner == PayloadType::none);
}
