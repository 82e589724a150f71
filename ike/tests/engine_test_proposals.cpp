// Proposal handling (RFC 7296 sections 2.7, 3.3, 3.3.6; RFC 5282 section 8) and NAT detection
// (RFC 7296 section 2.23) of the IKE SA engine.
#include <catch2/catch.hpp>

#include "cgwd/ike/sa_proposals.hpp"
#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;

namespace {

Proposal ike_offer(std::uint8_t number, std::vector<Transform> transforms) {
    return Proposal{number, ProtocolId::ike, {}, std::move(transforms)};
}

}  // namespace

TEST_CASE("proposals: configured proposals become numbered SA proposals", "[engine]") {
    const auto p = make_proposals(std::vector{aes128_sha1_dh2().ike, aes256gcm_ecp384().ike},
                                  ProtocolId::ike, {});
    REQUIRE(p.size() == 2);
    CHECK(p[0].number == 1);
    CHECK(p[1].number == 2);
    CHECK(p[0].transforms == std::vector<Transform>{
                                 Transform::make(TransformType::encr, 12, 128),
                                 Transform::make(TransformType::prf, 2),
                                 Transform::make(TransformType::integ, 2),
                                 Transform::make(TransformType::dh, 2),
                             });
    // AEAD: no INTEG transform at all.
    CHECK(p[1].transforms == std::vector<Transform>{
                                 Transform::make(TransformType::encr, 20, 256),
                                 Transform::make(TransformType::prf, 6),
                                 Transform::make(TransformType::dh, 20),
                             });
    // ESP for IKE_AUTH: the SPI, no KE, ESN "no" when none is configured.
    const auto esp =
        make_proposals(std::vector{aes256_sha256_dh14().esp}, ProtocolId::esp, {1, 2, 3, 4}, false);
    REQUIRE(esp.size() == 1);
    CHECK(esp[0].spi == Bytes{1, 2, 3, 4});
    CHECK(esp[0].transforms.back() == Transform::make(TransformType::esn, 0));
}

TEST_CASE("proposals: the responder takes the peer's first acceptable proposal and transform",
          "[engine]") {
    const std::vector<config::Proposal> ours{aes256_sha256_dh14().ike};
    const std::vector<Proposal> offered{
        // Wrong key length for AES-CBC: unacceptable.
        ike_offer(
            1,
            {Transform::make(TransformType::encr, 12, 128), Transform::make(TransformType::prf, 5),
             Transform::make(TransformType::integ, 12), Transform::make(TransformType::dh, 14)}),
        // Acceptable; the peer lists group 19 first, which we do not allow, then 14.
        ike_offer(
            2, {Transform::make(TransformType::encr, 12, 256),
                Transform::make(TransformType::prf, 5), Transform::make(TransformType::integ, 12),
                Transform::make(TransformType::dh, 19), Transform::make(TransformType::dh, 14)}),
    };
    auto s = select_proposal(offered, ours, ProtocolId::ike);
    REQUIRE(s);
    CHECK(s->chosen.number == 2);
    CHECK(s->transforms.dh == 14);
    CHECK(s->chosen.transforms.size() == 4);  // one per type
    CHECK(check_chosen(SaPayload{{s->chosen}}, offered, ProtocolId::ike));
}

TEST_CASE("proposals: unacceptable offers and answers are refused", "[engine]") {
    const std::vector<config::Proposal> ours{aes256gcm_ecp384().ike};
    // A transform with an unknown attribute (RFC 7296 section 3.3.6).
    Transform odd = Transform::make(TransformType::encr, 20, 256);
    odd.attributes.push_back(Attribute{99, true, 1, {}});
    CHECK_FALSE(
        select_proposal(std::vector{ike_offer(1, {odd, Transform::make(TransformType::prf, 6),
                                                  Transform::make(TransformType::dh, 20)})},
                        ours, ProtocolId::ike));
    // AEAD with a real integrity algorithm (RFC 5282 section 8).
    CHECK_FALSE(select_proposal(
        std::vector{ike_offer(
            1,
            {Transform::make(TransformType::encr, 20, 256), Transform::make(TransformType::prf, 6),
             Transform::make(TransformType::integ, 12), Transform::make(TransformType::dh, 20)})},
        ours, ProtocolId::ike));
    // Missing PRF.
    CHECK_FALSE(
        select_proposal(std::vector{ike_offer(1, {Transform::make(TransformType::encr, 20, 256),
                                                  Transform::make(TransformType::dh, 20)})},
                        ours, ProtocolId::ike));

    // Initiator side: the answer must be one proposal of transforms we sent.
    const auto sent = make_proposals(ours, ProtocolId::ike, {});
    Proposal answer = sent[0];
    CHECK(check_chosen(SaPayload{{answer}}, sent, ProtocolId::ike));
    CHECK_FALSE(check_chosen(SaPayload{{answer, answer}}, sent, ProtocolId::ike));
    Proposal other_group = answer;
    other_group.transforms.back() = Transform::make(TransformType::dh, 14);
    CHECK_FALSE(check_chosen(SaPayload{{other_group}}, sent, ProtocolId::ike));
    Proposal renumbered = answer;
    renumbered.number = 7;
    CHECK_FALSE(check_chosen(SaPayload{{renumbered}}, sent, ProtocolId::ike));
    Proposal two_groups = answer;
    two_groups.transforms.push_back(Transform::make(TransformType::dh, 20));
    CHECK_FALSE(check_chosen(SaPayload{{two_groups}}, sent, ProtocolId::ike));
}

TEST_CASE("engine: NAT detection notices a translated address", "[engine]") {
    // The responder sees the initiator as 198.51.100.7 (a NAT rewrote 192.0.2.1), so neither
    // side's NAT_DETECTION hashes match what the other computes.
    SeededRandom rng_i(31), rng_r(32);
    SaSettings sr = settings(false, aes256_sha256_dh14());
    sr.remote = config::Ipv4Address{0xC6336407};
    IkeSa i(settings(true, aes256_sha256_dh14()), rng_i);
    IkeSa r(sr, rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    CHECK(of_type<IkeSaUp>(link.actions_i).at(0).nat_detected);
    CHECK(of_type<IkeSaUp>(link.actions_r).at(0).nat_detected);
    CHECK(of_type<ChildSaReady>(link.actions_i).at(0).nat_detected);
}

TEST_CASE("engine: settings from an AWS tunnel", "[engine]") {
    config::Tunnel t;
    t.aws_outside = config::Ipv4Address{0xCB007105};
    t.psk = config::Secret("tunnel key");
    t.ike_proposals = {aes256_sha256_dh14().ike};
    t.esp_proposals = {aes256_sha256_dh14().esp};
    t.replay_window = 2048;
    t.esp_lifetime_s = 1800;
    const SaSettings s = SaSettings::from_tunnel(t, config::Ipv4Address{0xC0000201});
    CHECK(s.local == config::Ipv4Address{0xC0000201});
    CHECK(s.remote == t.aws_outside);
    CHECK(s.psk == t.psk);
    CHECK(s.ike_proposals == t.ike_proposals);
    CHECK(s.esp_proposals == t.esp_proposals);
    CHECK(s.replay_window == 2048);
    CHECK(s.esp_lifetime_s == 1800);
}
