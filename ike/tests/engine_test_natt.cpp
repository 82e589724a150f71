// IKE SA engine: NAT traversal (RFC 7296 section 2.23, RFC 3948): floating to port 4500,
// forced encapsulation from either side, the responder answering on the ports a request came
// on, NAT rebinding, NAT keepalives and the CHILD_SA's UDP encapsulation ports.
#include <catch2/catch.hpp>

#include "cgwd/ike/codec_natt.hpp"
#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// The IKE message must be the bytes as they are, without a non-ESP marker: it decodes, and
// framed by the adapter's rule it classifies as IKE on port 4500 and gives the same bytes back.
void check_no_marker(const OutDatagram& d) {
    INFO("datagram of " << d.bytes.size() << " bytes");
    CHECK_FALSE(d.keepalive);
    REQUIRE(decode_message(d.bytes).has_value());
    const auto framed = add_non_esp_marker(d.bytes);
    const auto kind = classify_udp4500(framed);
    CHECK(kind.kind == Udp4500Kind::ike);
    CHECK(Bytes(kind.data.begin(), kind.data.end()) == d.bytes);
}

// Runs a handshake with force_encap on one side and checks the float and the CHILD_SAs.
void forced_float(bool on_initiator) {
    SaSettings si = settings(true, aes256gcm_ecp384());
    SaSettings sr = settings(false, aes256gcm_ecp384());
    (on_initiator ? si : sr).force_encap = true;
    SeededRandom rng_i(61), rng_r(62);
    IkeSa i(si, rng_i);
    IkeSa r(sr, rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);

    // IKE_SA_INIT on 500 <-> 500, IKE_AUTH and everything after on 4500 <-> 4500.
    REQUIRE(link.out_i.size() == 2);
    REQUIRE(link.out_r.size() == 2);
    CHECK(link.out_i[0].local_port == 500);
    CHECK(link.out_i[0].remote_port == 500);
    CHECK(link.out_r[0].local_port == 500);
    CHECK(link.out_r[0].remote_port == 500);
    CHECK(link.out_i[1].local_port == 4500);
    CHECK(link.out_i[1].remote_port == 4500);
    CHECK(link.out_r[1].local_port == 4500);
    CHECK(link.out_r[1].remote_port == 4500);
    CHECK(decoded(link.out_i[1].bytes).header.exchange == ExchangeType::ike_auth);
    for (const auto& d : link.out_i) check_no_marker(d);
    for (const auto& d : link.out_r) check_no_marker(d);

    // Both see a NAT and install UDP-encapsulated ESP on 4500.
    const auto up_i = of_type<IkeSaUp>(link.actions_i).at(0);
    const auto up_r = of_type<IkeSaUp>(link.actions_r).at(0);
    CHECK(up_i.nat_detected);
    CHECK(up_r.nat_detected);
    const auto ci = of_type<ChildSaReady>(link.actions_i).at(0);
    const auto cr = of_type<ChildSaReady>(link.actions_r).at(0);
    CHECK(ci.nat_detected);
    CHECK(ci.encap_local_port == 4500);
    CHECK(ci.encap_remote_port == 4500);
    CHECK(cr.encap_local_port == 4500);
    CHECK(cr.encap_remote_port == 4500);
    CHECK(i.info().floated);
    CHECK(r.info().floated);
    CHECK(i.info().local_port == 4500);
    CHECK(r.info().remote_port == 4500);

    // A later exchange stays on 4500 in both directions.
    REQUIRE(i.send_liveness_check(link.now));
    link.pump();
    CHECK(link.out_i.back().local_port == 4500);
    CHECK(link.out_r.back().local_port == 4500);
    CHECK(link.out_r.back().remote_port == 4500);
}

}  // namespace

TEST_CASE("natt: without a NAT nothing floats and ESP is not encapsulated", "[engine][natt]") {
    SeededRandom rng_i(60), rng_r(59);
    IkeSa i(settings(true, aes256_sha256_dh14()), rng_i);
    IkeSa r(settings(false, aes256_sha256_dh14()), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    for (const auto& d : link.out_i) CHECK(d.local_port == 500);
    for (const auto& d : link.out_r) CHECK(d.remote_port == 500);
    const auto c = of_type<ChildSaReady>(link.actions_i).at(0);
    CHECK(c.encap_local_port == 0);
    CHECK(c.encap_remote_port == 0);
    CHECK_FALSE(i.info().floated);
    CHECK_FALSE(i.info().nat_detected);
}

TEST_CASE("natt: force_encap on the initiator floats both sides to 4500", "[engine][natt]") {
    forced_float(true);
}

TEST_CASE("natt: force_encap on the responder floats both sides to 4500", "[engine][natt]") {
    forced_float(false);
}

TEST_CASE(
    "natt: a NAT in front of the initiator: the responder answers on the mapped ports, "
    "only the NATed side sends keepalives, every 20 s of silence",
    "[engine][natt]") {
    SaSettings si = without_rekey(settings(true, aes256_sha256_dh14()));
    SaSettings sr = without_rekey(settings(false, aes256_sha256_dh14()));
    si.dpd_interval = sr.dpd_interval = Millis{0};  // keep the link quiet
    SeededRandom rng_i(63), rng_r(64);
    IkeSa i(si, rng_i);
    IkeSa r(sr, rng_r);
    Link link{i, r};
    // The NAT maps the initiator's 500 to 31000 and 4500 to 31001.
    link.nat_i = [](std::uint16_t p) -> std::uint16_t { return p == 500 ? 31000 : 31001; };
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);
    REQUIRE(link.out_r.size() == 2);
    CHECK(link.out_r[0].local_port == 500);
    CHECK(link.out_r[0].remote_port == 31000);  // IKE_SA_INIT answered where it came from
    CHECK(link.out_r[1].local_port == 4500);
    CHECK(link.out_r[1].remote_port == 31001);  // IKE_AUTH too, after the float
    CHECK(link.out_i[1].local_port == 4500);
    CHECK(link.out_i[1].remote_port == 4500);
    const auto cr = of_type<ChildSaReady>(link.actions_r).at(0);
    CHECK(cr.encap_local_port == 4500);
    CHECK(cr.encap_remote_port == 31001);
    const auto ci = of_type<ChildSaReady>(link.actions_i).at(0);
    CHECK(ci.encap_local_port == 4500);
    CHECK(ci.encap_remote_port == 4500);

    // Keepalives: the initiator (behind the NAT) every 20 s after its last datagram on 4500;
    // the responder never.
    const TimePoint t0 = link.now;
    CHECK(i.next_deadline() == t0 + seconds(20));
    CHECK(r.next_deadline() == std::nullopt);
    link.advance_to(t0 + seconds(20) - milliseconds(1));
    CHECK(link.out_i.size() == 2);
    link.advance_to(t0 + seconds(20));
    REQUIRE(link.out_i.size() == 3);
    const OutDatagram& k = link.out_i[2];
    CHECK(k.keepalive);
    CHECK(k.bytes == Bytes{0xFF});
    CHECK(k.local_port == 4500);
    CHECK(k.remote_port == 4500);
    CHECK(link.sent_i.size() == 2);  // not an IKE message
    CHECK(i.next_deadline() == t0 + seconds(40));
    link.advance_to(t0 + seconds(40));
    REQUIRE(link.out_i.size() == 4);
    CHECK(link.out_i[3].keepalive);

    // An IKE message on 4500 at 50 s restarts the count: the next keepalive is due at 70 s.
    REQUIRE(i.send_liveness_check(t0 + seconds(50)));
    link.advance_to(t0 + seconds(50));
    CHECK(link.out_i.size() == 5);
    CHECK(i.next_deadline() == t0 + seconds(70));
    link.advance_to(t0 + seconds(70));
    REQUIRE(link.out_i.size() == 6);
    CHECK(link.out_i[5].keepalive);
    for (const auto& d : link.out_r) CHECK_FALSE(d.keepalive);

    // The NAT rebinds the initiator's 4500 to 32000: the responder follows after the next
    // authenticated request.
    link.nat_i = [](std::uint16_t) -> std::uint16_t { return 32000; };
    REQUIRE(i.send_liveness_check(link.now));
    link.pump();
    CHECK(link.out_r.back().remote_port == 32000);
    CHECK(r.info().remote_port == 32000);
    REQUIRE(r.send_liveness_check(link.now));
    link.pump();
    CHECK(link.out_r.back().remote_port == 32000);
    CHECK(i.state() == SaState::established);
}

TEST_CASE("natt: keepalives off with nat_keepalive 0", "[engine][natt]") {
    SaSettings si = without_rekey(settings(true, aes128_sha1_dh2()));
    si.force_encap = true;
    si.nat_keepalive = Millis{0};
    si.dpd_interval = Millis{0};
    SaSettings sr = settings(false, aes128_sha1_dh2());
    sr.dpd_interval = Millis{0};
    SeededRandom rng_i(65), rng_r(66);
    IkeSa i(si, rng_i);
    IkeSa r(sr, rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.info().floated);
    CHECK(i.next_deadline() == std::nullopt);
}
