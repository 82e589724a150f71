// IKE SA engine: negotiation failures surface as a status and a bounded back-off; INVALID_KE
// makes the initiator retry once per group (RFC 7296 sections 1.2, 1.3, 2.6, 2.21).
#include <catch2/catch.hpp>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::seconds;

namespace {

const NotifyPayload* only_notify(const Message& m) {
    if (m.payloads.size() != 1) return nullptr;
    return m.payloads[0].get<NotifyPayload>();
}

}  // namespace

TEST_CASE("engine: wrong PSK gives AUTHENTICATION_FAILED and no CHILD_SA", "[engine]") {
    SeededRandom rng_i(5), rng_r(6);
    IkeSa i(settings(true, aes256_sha256_dh14(), "the initiator's key"), rng_i);
    IkeSa r(settings(false, aes256_sha256_dh14(), "the responder's key"), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();

    CHECK(i.state() == SaState::backoff);
    CHECK(i.status() == "AUTHENTICATION_FAILED from peer");
    CHECK(r.state() == SaState::idle);
    CHECK(r.status().starts_with("AUTHENTICATION_FAILED"));
    CHECK(of_type<ChildSaReady>(link.actions_i).empty());
    CHECK(of_type<ChildSaReady>(link.actions_r).empty());
    CHECK(of_type<IkeSaUp>(link.actions_i).empty());
    CHECK(of_type<IkeSaUp>(link.actions_r).empty());
    REQUIRE(of_type<IkeSaDown>(link.actions_i).size() == 1);
    CHECK(last_status(link.actions_i) == "AUTHENTICATION_FAILED from peer");
    // The responder's IKE_AUTH answer is encrypted (only SK outside).
    REQUIRE(link.sent_r.size() == 2);
    CHECK(decoded(link.sent_r[1]).payloads.at(0).type == PayloadType::sk);

    // Back-off: nothing is sent before the retry deadline, a new IKE_SA_INIT at it.
    const auto t0 = link.now;
    REQUIRE(i.next_deadline() == t0 + seconds(10));
    link.advance_to(t0 + seconds(10) - std::chrono::milliseconds(1));
    CHECK(link.sent_i.size() == 2);
    link.drop_from_i = [](std::size_t, const Bytes&) { return true; };  // peer unreachable now
    link.advance_to(t0 + seconds(10));
    REQUIRE(link.sent_i.size() == 3);
    const Message again = decoded(link.sent_i[2]);
    CHECK(again.header.exchange == ExchangeType::ike_sa_init);
    CHECK(again.header.spi_i != decoded(link.sent_i[0]).header.spi_i);  // a new IKE SA
    CHECK(i.state() == SaState::init_sent);
}

TEST_CASE("engine: a tampered IKE_AUTH response is dropped, the request still pending",
          "[engine]") {
    // One bit flipped inside the ciphertext breaks the ICV: the initiator must ignore the
    // message (RFC 7296 section 2.21) and keep its retransmission timer, not fail the SA.
    SeededRandom rng_i(7), rng_r(8);
    IkeSa i(settings(true, aes128_sha1_dh2()), rng_i);
    IkeSa r(settings(false, aes128_sha1_dh2()), rng_r);
    const TimePoint now{};
    i.start(now);
    r.on_datagram(i.take_datagrams().at(0), now);
    i.on_datagram(r.take_datagrams().at(0), now);
    r.on_datagram(i.take_datagrams().at(0), now);
    REQUIRE(r.state() == SaState::established);
    Bytes answer = r.take_datagrams().at(0);
    answer[answer.size() - 20] ^= 1;
    i.on_datagram(answer, now);
    CHECK(i.state() == SaState::auth_sent);
    CHECK(i.take_datagrams().empty());
    CHECK(of_type<IkeSaDown>(i.take_actions()).empty());
    CHECK(i.next_deadline() == now + seconds(1));
}

TEST_CASE("engine: no common proposal gives NO_PROPOSAL_CHOSEN and a growing back-off",
          "[engine]") {
    SeededRandom rng_i(9), rng_r(10);
    IkeSa i(settings(true, aes128_sha1_dh2()), rng_i);
    IkeSa r(settings(false, aes256_sha256_dh14()), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();

    CHECK(i.state() == SaState::backoff);
    CHECK(i.status() == "NO_PROPOSAL_CHOSEN from peer");
    CHECK(r.state() == SaState::idle);
    CHECK(r.status().starts_with("NO_PROPOSAL_CHOSEN sent"));
    CHECK(r.status().find("AES-128-CBC") != std::string::npos);  // what the peer offered
    // The responder answered statelessly: SPIr zero, one Notify.
    REQUIRE(link.sent_r.size() == 1);
    const Message answer = decoded(link.sent_r[0]);
    CHECK(answer.header.spi_r == 0);
    REQUIRE(only_notify(answer));
    CHECK(only_notify(answer)->type == NotifyType::no_proposal_chosen);
    CHECK(of_type<ChildSaReady>(link.actions_i).empty());

    // 10 s, then 20 s, then 40 s between attempts: no busy loop.
    auto t = link.now;
    REQUIRE(i.next_deadline() == t + seconds(10));
    link.advance_to(t + seconds(10));
    CHECK(link.sent_i.size() == 2);
    CHECK(i.status() == "NO_PROPOSAL_CHOSEN from peer");
    t = link.now;
    REQUIRE(i.next_deadline() == t + seconds(20));
    link.advance_to(t + seconds(20));
    CHECK(link.sent_i.size() == 3);
    REQUIRE(i.next_deadline() == link.now + seconds(40));
}

TEST_CASE("engine: INVALID_KE_PAYLOAD makes the initiator retry with the peer's group",
          "[engine]") {
    // Initiator allows groups 14 and 20 and guesses 14; the responder only allows 20.
    Family fi = aes256gcm_ecp384();
    fi.ike.dh = {14, 20};
    SeededRandom rng_i(11), rng_r(12);
    IkeSa i(settings(true, fi), rng_i);
    IkeSa r(settings(false, aes256gcm_ecp384()), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();

    REQUIRE(i.state() == SaState::established);
    REQUIRE(link.sent_i.size() == 3);  // INIT (group 14), INIT (group 20), AUTH
    const Message first = decoded(link.sent_i[0]);
    const Message second = decoded(link.sent_i[1]);
    CHECK(first.find(PayloadType::ke)->get<KePayload>()->group == 14);
    CHECK(second.find(PayloadType::ke)->get<KePayload>()->group == 20);
    CHECK(second.header.exchange == ExchangeType::ike_sa_init);
    CHECK(second.header.message_id == 0);
    CHECK(second.header.spi_i == first.header.spi_i);
    // The responder's stateless answer names group 20 (two octets, RFC 7296 section 3.10.1).
    const Message answer = decoded(link.sent_r[0]);
    REQUIRE(only_notify(answer));
    CHECK(only_notify(answer)->type == NotifyType::invalid_ke_payload);
    CHECK(only_notify(answer)->data == Bytes{0x00, 0x14});
    CHECK(of_type<ChildSaReady>(link.actions_i).size() == 1);
    CHECK(of_type<IkeSaUp>(link.actions_i).at(0).transforms.dh == 20);
}

TEST_CASE("engine: INVALID_KE_PAYLOAD is followed once per group, then the attempt fails",
          "[engine]") {
    Family fi = aes256gcm_ecp384();
    fi.ike.dh = {14, 20};
    SeededRandom rng_i(13);
    IkeSa i(settings(true, fi), rng_i);
    TimePoint now{};
    i.start(now);
    auto invalid_ke = [&](std::uint16_t group) {
        const Message request = decoded(i.take_datagrams().at(0));
        Message m;
        m.header = request.header;
        m.header.initiator = false;
        m.header.response = true;
        m.payloads.push_back(Payload{PayloadType::notify, false,
                                     NotifyPayload{ProtocolId::none,
                                                   {},
                                                   NotifyType::invalid_ke_payload,
                                                   {static_cast<std::uint8_t>(group >> 8),
                                                    static_cast<std::uint8_t>(group)}}});
        auto bytes = encode_message(m);
        REQUIRE(bytes.has_value());
        i.on_datagram(*bytes, now);
    };
    invalid_ke(20);  // ok: retry with 20
    CHECK(i.state() == SaState::init_sent);
    CHECK(i.status() == "INVALID_KE_PAYLOAD from peer: retrying with " + config::dh_name(20));
    invalid_ke(14);  // 14 was already tried: give up
    CHECK(i.state() == SaState::backoff);
    CHECK(i.status().starts_with("INVALID_KE_PAYLOAD from peer"));
    CHECK(i.status().find("already tried") != std::string::npos);
    CHECK(i.take_datagrams().empty());

    // A group we never offered: no retry either.
    IkeSa j(settings(true, fi), rng_i);
    j.start(now);
    const Message request = decoded(j.take_datagrams().at(0));
    Message m;
    m.header = request.header;
    m.header.initiator = false;
    m.header.response = true;
    m.payloads.push_back(
        Payload{PayloadType::notify, false,
                NotifyPayload{ProtocolId::none, {}, NotifyType::invalid_ke_payload, {0x00, 0x13}}});
    j.on_datagram(*encode_message(m), now);
    CHECK(j.state() == SaState::backoff);
    CHECK(j.status().find("which we do not offer") != std::string::npos);
    CHECK(j.take_datagrams().empty());
}
