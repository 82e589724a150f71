// IKE SA engine: N(INITIAL_CONTACT) in the initiator's IKE_AUTH request (RFC 7296 section 2.4,
// "the receiving peer ... SHOULD delete all other IKE SAs and CHILD SAs with the same
// authenticated identity") is reported to the daemon in the responder's IkeSaUp
// (initial_contact), so it can drop the IKE SA of a peer that restarted at once instead of
// waiting for DPD. The initiator side's IkeSaUp never has it (a response does not carry it).
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine_test_util.hpp"

using namespace cgwd;
using namespace cgwd::ike;
using namespace cgwd::ike::test;

namespace {

bool has_notify(const std::vector<Payload>& payloads, NotifyType type) {
    // (NotifyPayload has no protocol / SPI for these status notifies; the type is enough.)
    return std::any_of(payloads.begin(), payloads.end(), [type](const Payload& p) {
        const auto* n = p.get<NotifyPayload>();
        return n && n->type == type;
    });
}

// The initiator's SK_ei / SK_ai and transforms, taken from the debug key export hook.
struct InitiatorKeys {
    config::Cipher cipher;
    std::uint16_t integ = config::integ::none;
    Bytes sk_ei, sk_ai;
};

// Records the keys of the initiator's IKE SA (SaSettings::on_ike_keys).
void capture_keys(SaSettings& s, InitiatorKeys& keys) {
    s.on_ike_keys = [&keys](const IkeSaKeysDerived& k) {
        keys.cipher = k.cipher;
        keys.integ = k.integ;
        keys.sk_ei = Bytes(k.keys->sk_ei.reveal().begin(), k.keys->sk_ei.reveal().end());
        keys.sk_ai = Bytes(k.keys->sk_ai.reveal().begin(), k.keys->sk_ai.reveal().end());
    };
}

crypto::SkCipher sk_cipher(const InitiatorKeys& k) {
    auto c = crypto::SkCipher::create(k.cipher, k.integ, k.sk_ei, k.sk_ai);
    REQUIRE(c.has_value());
    return std::move(*c);
}

// Decrypts an unfragmented SK message sent by the initiator and returns its inner payloads.
std::vector<Payload> open_request(const InitiatorKeys& k, const Bytes& datagram) {
    auto layout = encrypted_layout(datagram);
    REQUIRE(layout.has_value());
    REQUIRE(layout->type == PayloadType::sk);
    const Message m = decoded(datagram);
    const auto* sk = m.payloads.back().get<SkPayload>();
    REQUIRE(sk);
    auto cipher = sk_cipher(k);
    const std::span<const std::uint8_t> bytes(datagram);
    auto plaintext =
        cipher.open(bytes.first(layout->body_offset), bytes.subspan(layout->body_offset));
    REQUIRE(plaintext.has_value());
    auto inner = decode_payloads(sk->first_inner, *plaintext);
    REQUIRE(inner.has_value());
    return *inner;
}

// The same request (header unchanged) with `inner` as its encrypted payloads, sealed with the
// initiator's keys as the engine seals (the AUTH payload does not cover the notifies: 2.15).
Bytes seal_request(const InitiatorKeys& k, const Header& h, const std::vector<Payload>& inner,
                   crypto::Random& rng) {
    auto plaintext = encode_payloads(inner);
    REQUIRE(plaintext.has_value());
    auto cipher = sk_cipher(k);
    Message m;
    m.header = h;
    m.payloads.push_back(
        Payload{PayloadType::sk, false,
                SkPayload{inner.front().type, Bytes(cipher.sealed_size(plaintext->size()))}});
    auto bytes = encode_message(m);
    REQUIRE(bytes.has_value());
    auto layout = encrypted_layout(*bytes);
    REQUIRE(layout.has_value());
    auto body = cipher.seal(std::span<const std::uint8_t>(*bytes).first(layout->body_offset),
                            *plaintext, rng);
    REQUIRE(body.has_value());
    REQUIRE(body->size() == bytes->size() - layout->body_offset);
    std::copy(body->begin(), body->end(),
              bytes->begin() + static_cast<std::ptrdiff_t>(layout->body_offset));
    return *bytes;
}

}  // namespace

TEST_CASE("engine: INITIAL_CONTACT in IKE_AUTH is reported in the responder's IkeSaUp",
          "[engine]") {
    const auto f = aes256gcm_ecp384();
    SeededRandom rng_i(31), rng_r(32);
    InitiatorKeys keys;
    auto si = without_rekey(settings(true, f));
    capture_keys(si, keys);
    IkeSa i(std::move(si), rng_i);
    IkeSa r(without_rekey(settings(false, f)), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(i.state() == SaState::established);
    REQUIRE(r.state() == SaState::established);

    // On the wire: the IKE_AUTH request carries N(INITIAL_CONTACT) (task_ike_auth.cpp).
    REQUIRE(link.sent_i.size() == 2);
    CHECK(decoded(link.sent_i[1]).header.exchange == ExchangeType::ike_auth);
    CHECK(has_notify(open_request(keys, link.sent_i[1]), NotifyType::initial_contact));

    auto up_r = of_type<IkeSaUp>(link.actions_r);
    auto up_i = of_type<IkeSaUp>(link.actions_i);
    REQUIRE(up_r.size() == 1);
    REQUIRE(up_i.size() == 1);
    CHECK(up_r[0].initial_contact);
    CHECK_FALSE(up_r[0].initiator);
    CHECK_FALSE(up_i[0].initial_contact);  // the initiator never gets it from a response
    CHECK(up_i[0].initiator);
    CHECK(up_r[0].spi_i == up_i[0].spi_i);
    CHECK(up_r[0].spi_r == up_i[0].spi_r);
}

TEST_CASE("engine: IKE_AUTH without INITIAL_CONTACT gives IkeSaUp without it", "[engine]") {
    for (const auto& f : {aes256gcm_ecp384(), aes128_sha1_dh2()}) {
        INFO(f.name);
        SeededRandom rng_i(41), rng_r(42), rng_rewrite(43);
        InitiatorKeys keys;
        auto si = without_rekey(settings(true, f));
        capture_keys(si, keys);
        IkeSa i(std::move(si), rng_i);
        IkeSa r(without_rekey(settings(false, f)), rng_r);
        Link link{i, r};
        // The initiator's IKE_AUTH request (its datagram 1) is replaced by the same request
        // without N(INITIAL_CONTACT), re-encrypted with the initiator's keys.
        bool stripped = false;
        link.drop_from_i = [&](std::size_t n, const Bytes& bytes) {
            if (n != 1) return false;
            const Message m = decoded(bytes);
            REQUIRE(m.header.exchange == ExchangeType::ike_auth);
            auto inner = open_request(keys, bytes);
            REQUIRE(has_notify(inner, NotifyType::initial_contact));
            std::erase_if(inner, [](const Payload& p) {
                const auto* x = p.get<NotifyPayload>();
                return x && x->type == NotifyType::initial_contact;
            });
            REQUIRE_FALSE(has_notify(inner, NotifyType::initial_contact));
            const Bytes rewritten = seal_request(keys, m.header, inner, rng_rewrite);
            // Sanity: the rewrite decrypts to the stripped chain.
            CHECK(open_request(keys, rewritten) == inner);
            r.on_datagram(rewritten, link.now, 500, 500);
            stripped = true;
            return true;
        };
        i.start(link.now);
        link.pump();
        REQUIRE(stripped);
        REQUIRE(i.state() == SaState::established);
        REQUIRE(r.state() == SaState::established);
        auto up_r = of_type<IkeSaUp>(link.actions_r);
        REQUIRE(up_r.size() == 1);
        CHECK_FALSE(up_r[0].initial_contact);
        // The CHILD_SA comes up as usual.
        CHECK(of_type<ChildSaReady>(link.actions_r).size() == 1);
        CHECK(of_type<ChildSaReady>(link.actions_i).size() == 1);
    }
}

TEST_CASE("engine: a responder that adopts the initiator role re-initiates after a failure",
          "[engine]") {
    // The daemon keeps a replacement IKE SA (answered as responder) for a tunnel it initiates:
    // when the peer then deletes it, the SA must back off and initiate again like a start()ed
    // one, where a pure responder goes Idle and waits.
    const bool adopt = GENERATE(false, true);
    CAPTURE(adopt);
    const auto f = aes128_sha1_dh2();
    SeededRandom rng_i(51), rng_r(52);
    auto sr = without_rekey(settings(false, f));
    sr.retry_initial = std::chrono::seconds(10);
    IkeSa i(without_rekey(settings(true, f)), rng_i);
    IkeSa r(std::move(sr), rng_r);
    Link link{i, r};
    i.start(link.now);
    link.pump();
    REQUIRE(r.state() == SaState::established);
    if (adopt) r.adopt_initiator_role();

    i.stop(link.now);  // the peer deletes the IKE SA
    link.pump();
    CHECK(of_type<IkeSaDown>(link.actions_r).size() == 1);
    CHECK(r.state() == (adopt ? SaState::backoff : SaState::idle));
    const auto sent = link.sent_r.size();
    link.advance_to(link.now + std::chrono::seconds(10));
    if (adopt) {
        // Its IKE_SA_INIT request; the stopped peer answers it as a responder.
        REQUIRE(link.sent_r.size() > sent);
        const Message m = decoded(link.sent_r[sent]);
        CHECK(m.header.exchange == ExchangeType::ike_sa_init);
        CHECK_FALSE(m.header.response);
        CHECK(m.header.initiator);
        CHECK(r.state() == SaState::established);
        CHECK(r.info().initiator);
    } else {
        CHECK(link.sent_r.size() == sent);
        CHECK(r.state() == SaState::idle);
        CHECK(r.next_deadline() == std::nullopt);
    }
}
