// IKE SA engine: full IKE_SA_INIT + IKE_AUTH handshakes between two engines in one process,
// one per AWS proposal family. Both ends must derive the same CHILD_SA (SPIs and keys match
// crosswise) and the messages on the wire must carry what RFC 7296 sections 1.2 and 2.23 ask
// for. The key derivation functions themselves are checked against published vectors in
// crypto_test_*.cpp.
#include <catch2/catch.hpp>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;

namespace {

const NotifyPayload* find_notify(const std::vector<Payload>& payloads, NotifyType type) {
    for (const auto& p : payloads) {
        const auto* n = p.get<NotifyPayload>();
        if (n && n->type == type) return n;
    }
    return nullptr;
}

void handshake(const Family& f) {
    INFO(f.name);
    SeededRandom rng_i(1), rng_r(2);
    IkeSa i(settings(true, f), rng_i);
    IkeSa r(settings(false, f), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();

    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);
    CHECK(i.status() == "established");
    // Nothing outstanding: the next timer is the first DPD check (10 s of silence).
    CHECK(i.next_deadline() == link.now + std::chrono::seconds(10));
    CHECK(r.next_deadline() == link.now + std::chrono::seconds(10));

    // Exactly two exchanges on the wire.
    REQUIRE(link.sent_i.size() == 2);
    REQUIRE(link.sent_r.size() == 2);

    // IKE_SA_INIT request: SA, KE of the configured group, Ni, both NAT detection notifies.
    const Message init = decoded(link.sent_i[0]);
    CHECK(init.header.exchange == ExchangeType::ike_sa_init);
    CHECK(init.header.initiator);
    CHECK_FALSE(init.header.response);
    CHECK(init.header.spi_r == 0);
    CHECK(init.header.message_id == 0);
    REQUIRE(init.find(PayloadType::ke));
    CHECK(init.find(PayloadType::ke)->get<KePayload>()->group == f.ike.dh.front());
    CHECK(init.find(PayloadType::ke)->get<KePayload>()->data.size() ==
          crypto::ke_public_size(f.ike.dh.front()));
    REQUIRE(init.find(PayloadType::nonce));
    CHECK(init.find(PayloadType::nonce)->get<NoncePayload>()->data.size() == 32);
    const auto* natd_s = find_notify(init.payloads, NotifyType::nat_detection_source_ip);
    const auto* natd_d = find_notify(init.payloads, NotifyType::nat_detection_destination_ip);
    REQUIRE(natd_s);
    REQUIRE(natd_d);
    CHECK(natd_s->data.size() == 20);  // SHA-1
    CHECK(natd_s->data != natd_d->data);

    // IKE_SA_INIT response: one proposal, our numbers, non-zero responder SPI.
    const Message init_r = decoded(link.sent_r[0]);
    CHECK(init_r.header.response);
    CHECK_FALSE(init_r.header.initiator);
    CHECK(init_r.header.spi_i == init.header.spi_i);
    CHECK(init_r.header.spi_r != 0);
    REQUIRE(init_r.find(PayloadType::sa));
    REQUIRE(init_r.find(PayloadType::sa)->get<SaPayload>()->proposals.size() == 1);

    // IKE_AUTH: message ID 1, only an SK payload outside.
    const Message auth = decoded(link.sent_i[1]);
    CHECK(auth.header.exchange == ExchangeType::ike_auth);
    CHECK(auth.header.message_id == 1);
    CHECK(auth.header.spi_r == init_r.header.spi_r);
    REQUIRE(auth.payloads.size() == 1);
    CHECK(auth.payloads[0].type == PayloadType::sk);
    CHECK(auth.payloads[0].get<SkPayload>()->first_inner == PayloadType::idi);
    const Message auth_r = decoded(link.sent_r[1]);
    CHECK(auth_r.header.response);
    CHECK(auth_r.payloads[0].get<SkPayload>()->first_inner == PayloadType::idr);

    // The actions: one IkeSaUp and one ChildSaReady per side.
    const auto up_i = of_type<IkeSaUp>(link.actions_i);
    const auto up_r = of_type<IkeSaUp>(link.actions_r);
    REQUIRE(up_i.size() == 1);
    REQUIRE(up_r.size() == 1);
    CHECK(up_i[0].initiator);
    CHECK_FALSE(up_r[0].initiator);
    CHECK(up_i[0].spi_i == up_r[0].spi_i);
    CHECK(up_i[0].spi_r == up_r[0].spi_r);
    CHECK(up_i[0].transforms == up_r[0].transforms);
    CHECK(up_i[0].transforms.cipher == f.ike.ciphers.front());
    CHECK(up_i[0].transforms.prf == f.ike.prf.front());
    CHECK(up_i[0].transforms.dh == f.ike.dh.front());
    CHECK_FALSE(up_i[0].nat_detected);

    const auto child_i = of_type<ChildSaReady>(link.actions_i);
    const auto child_r = of_type<ChildSaReady>(link.actions_r);
    REQUIRE(child_i.size() == 1);
    REQUIRE(child_r.size() == 1);
    const ChildSaReady& a = child_i[0];
    const ChildSaReady& b = child_r[0];
    CHECK(a.spi_in == b.spi_out);
    CHECK(a.spi_out == b.spi_in);
    CHECK(a.spi_in != a.spi_out);
    CHECK(a.spi_in > 255);
    CHECK(a.spi_out > 255);
    CHECK(a.cipher == f.esp.ciphers.front());
    CHECK(b.cipher == a.cipher);
    CHECK(a.integ == (f.esp.integ.empty() ? config::integ::none : f.esp.integ.front()));
    CHECK(b.integ == a.integ);
    CHECK(a.keys_in.encr == b.keys_out.encr);
    CHECK(a.keys_in.integ == b.keys_out.integ);
    CHECK(a.keys_out.encr == b.keys_in.encr);
    CHECK(a.keys_out.integ == b.keys_in.integ);
    CHECK_FALSE(a.keys_in.encr == a.keys_out.encr);
    CHECK(a.keys_in.encr.size() == config::cipher_keymat_bytes(a.cipher));
    CHECK(a.keys_in.integ.size() == config::integ_key_bytes(a.integ));
    CHECK_FALSE(a.esn);
    CHECK(a.replay_window == 1024);
    CHECK(a.local == b.remote);
    CHECK(a.remote == b.local);
    // Tunnel mode, 0.0.0.0/0 on both sides.
    const auto any = TrafficSelector::ipv4({0, 0, 0, 0}, {255, 255, 255, 255});
    REQUIRE(a.ts_local.selectors.size() == 1);
    CHECK(a.ts_local.selectors[0] == any);
    CHECK(a.ts_remote.selectors[0] == any);
    CHECK(b.ts_local.selectors[0] == any);
    CHECK_FALSE(a.nat_detected);
}

}  // namespace

TEST_CASE("engine: handshake AES-128-CBC/HMAC-SHA1-96/MODP-1024 (AWS legacy)", "[engine]") {
    handshake(aes128_sha1_dh2());
}

TEST_CASE("engine: handshake AES-256-CBC/HMAC-SHA2-256/MODP-2048", "[engine]") {
    handshake(aes256_sha256_dh14());
}

TEST_CASE("engine: handshake AES-256-GCM-16/ECP-384 (group 20)", "[engine]") {
    handshake(aes256gcm_ecp384());
}

TEST_CASE("engine: handshake AES-256-CBC/HMAC-SHA2-512/MODP-2048-256 (group 24)", "[engine]") {
    handshake(aes256_sha512_dh24());
}

TEST_CASE("engine: responder picks the first of the peer's proposals it accepts", "[engine]") {
    // The initiator offers all four families in AWS order; the responder allows two, in the
    // opposite order of preference. The peer's order wins (RFC 7296 section 2.7).
    SaSettings si = settings(true, aes128_sha1_dh2());
    si.ike_proposals = {aes256gcm_ecp384().ike, aes256_sha256_dh14().ike, aes128_sha1_dh2().ike,
                        aes256_sha512_dh24().ike};
    si.esp_proposals = {aes256gcm_ecp384().esp, aes256_sha256_dh14().esp, aes128_sha1_dh2().esp};
    SaSettings sr = settings(false, aes128_sha1_dh2());
    sr.ike_proposals = {aes128_sha1_dh2().ike, aes256_sha256_dh14().ike};
    sr.esp_proposals = {aes128_sha1_dh2().esp, aes256_sha256_dh14().esp};
    SeededRandom rng_i(3), rng_r(4);
    IkeSa i(si, rng_i);
    IkeSa r(sr, rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    // The first guess of KE group was 20, which the responder does not allow in its chosen
    // proposal (group 14): one INVALID_KE round trip, then success.
    REQUIRE(i.state() == SaState::established);
    const auto up = of_type<IkeSaUp>(link.actions_i);
    REQUIRE(up.size() == 1);
    CHECK(up[0].transforms.cipher == config::Cipher{config::encr::aes_cbc, 256});
    CHECK(up[0].transforms.dh == 14);
    const auto child = of_type<ChildSaReady>(link.actions_i);
    REQUIRE(child.size() == 1);
    CHECK(child[0].cipher == config::Cipher{config::encr::aes_cbc, 256});
    CHECK(child[0].integ == config::integ::hmac_sha2_256_128);
    // The chosen proposal keeps the initiator's proposal number (2).
    const Message init_r = decoded(link.sent_r.at(1));
    CHECK(init_r.find(PayloadType::sa)->get<SaPayload>()->proposals.at(0).number == 2);
}
