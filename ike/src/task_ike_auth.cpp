// IKE_AUTH exchange with a pre-shared key, initiator and responder tasks (RFC 7296 sections
// 1.2, 2.15 (AUTH), 2.17 (CHILD_SA keys), 3.5 (ID_IPV4_ADDR), 3.13 (traffic selectors)).
#include <algorithm>
#include <string>

#include "cgwd/ike/sa.hpp"

namespace cgwd::ike {
namespace {

template <class T>
const T* find_inner(const std::vector<Payload>& inner, PayloadType type) {
    for (const Payload& p : inner) {
        if (p.type == type) return p.get<T>();
    }
    return nullptr;
}

bool has_notify(const std::vector<Payload>& inner, NotifyType type) {
    return std::any_of(inner.begin(), inner.end(), [type](const Payload& p) {
        const auto* n = p.get<NotifyPayload>();
        return n && n->type == type;
    });
}

const NotifyPayload* first_error(const std::vector<Payload>& inner) {
    for (const Payload& p : inner) {
        const auto* n = p.get<NotifyPayload>();
        if (n && is_error(n->type)) return n;
    }
    return nullptr;
}

// ID payload body as AUTH covers it: ID Type | RESERVED(3) | data (RFC 7296 section 2.15).
Bytes id_payload_body(const IdPayload& id) {
    Bytes out(4 + id.data.size(), 0);
    out[0] = static_cast<std::uint8_t>(id.type);
    std::copy(id.data.begin(), id.data.end(), out.begin() + 4);
    return out;
}

IdPayload id_of(const Bytes& body) {
    return IdPayload{static_cast<IdType>(body[0]), Bytes(body.begin() + 4, body.end())};
}

Bytes spi_bytes(std::uint32_t spi) {
    return {static_cast<std::uint8_t>(spi >> 24), static_cast<std::uint8_t>(spi >> 16),
            static_cast<std::uint8_t>(spi >> 8), static_cast<std::uint8_t>(spi)};
}

std::uint32_t spi_value(const Bytes& b) {
    return static_cast<std::uint32_t>(b[0]) << 24 | static_cast<std::uint32_t>(b[1]) << 16 |
           static_cast<std::uint32_t>(b[2]) << 8 | b[3];
}

TsPayload any_ipv4() {
    return TsPayload{{TrafficSelector::ipv4({0, 0, 0, 0}, {255, 255, 255, 255})}};
}

Payload notify(NotifyType type) {
    return Payload{PayloadType::notify, false, NotifyPayload{ProtocolId::none, {}, type, {}}};
}

}  // namespace

void IkeSa::auth_send_request(TimePoint now) {
    auto spi = crypto::random_esp_spi(rng_);
    if (!spi) {
        fail("random source failed", now);
        return;
    }
    esp_spi_in_ = *spi;
    sent_esp_proposals_ =
        make_proposals(settings_.esp_proposals, ProtocolId::esp, spi_bytes(esp_spi_in_), false);
    const std::uint16_t prf = ike_selection_.transforms.prf;
    const Bytes idi = id_body();
    auto octets =
        crypto::auth_signed_octets(prf, init_request_, nr_, keys_->ike.sk_pi.reveal(), idi);
    auto auth = octets ? crypto::psk_auth(prf, settings_.psk, *octets)
                       : std::expected<Bytes, crypto::CryptoError>(std::unexpected(octets.error()));
    if (!auth) {
        fail("cannot compute AUTH", now);
        return;
    }
    std::vector<Payload> inner;
    inner.push_back(Payload{PayloadType::idi, false, id_of(idi)});
    inner.push_back(notify(NotifyType::initial_contact));
    inner.push_back(
        Payload{PayloadType::auth, false, AuthPayload{AuthMethod::shared_key_mic, *auth}});
    inner.push_back(Payload{PayloadType::sa, false, SaPayload{sent_esp_proposals_}});
    inner.push_back(Payload{PayloadType::tsi, false, any_ipv4()});
    inner.push_back(Payload{PayloadType::tsr, false, any_ipv4()});
    auto bytes = seal(header(ExchangeType::ike_auth, false, next_request_id_), inner);
    if (!bytes) {
        fail("cannot build IKE_AUTH request", now);
        return;
    }
    send_request(std::move(*bytes), ExchangeType::ike_auth, now);
    set_state(SaState::auth_sent, "IKE_AUTH sent");
}

void IkeSa::auth_handle_response(const std::vector<Payload>& inner, TimePoint now) {
    const auto* idr = find_inner<IdPayload>(inner, PayloadType::idr);
    const auto* auth = find_inner<AuthPayload>(inner, PayloadType::auth);
    const NotifyPayload* error = first_error(inner);
    if (!idr || !auth) {
        fail(error ? std::string(to_string(error->type)) + " from peer"
                   : std::string("malformed IKE_AUTH response (IDr or AUTH missing)"),
             now);
        return;
    }
    const std::uint16_t prf = ike_selection_.transforms.prf;
    auto octets = crypto::auth_signed_octets(prf, init_response_, ni_, keys_->ike.sk_pr.reveal(),
                                             id_payload_body(*idr));
    auto expected =
        octets ? crypto::psk_auth(prf, settings_.psk, *octets)
               : std::expected<Bytes, crypto::CryptoError>(std::unexpected(octets.error()));
    if (auth->method != AuthMethod::shared_key_mic || !expected ||
        !crypto::equal_constant_time(*expected, auth->data)) {
        fail("AUTHENTICATION_FAILED: the peer's AUTH does not verify (pre-shared key mismatch?)",
             now);
        return;
    }
    if (error) {
        fail(std::string("CHILD_SA not created: ") + to_string(error->type) + " from peer", now);
        return;
    }
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    const auto* tsi = find_inner<TsPayload>(inner, PayloadType::tsi);
    const auto* tsr = find_inner<TsPayload>(inner, PayloadType::tsr);
    if (!sa || !tsi || !tsr) {
        fail("malformed IKE_AUTH response (SA, TSi or TSr missing)", now);
        return;
    }
    auto sel = check_chosen(*sa, sent_esp_proposals_, ProtocolId::esp);
    if (!sel) {
        fail("peer chose an ESP proposal we did not offer", now);
        return;
    }
    esp_spi_out_ = spi_value(sel->chosen.spi);
    state_ = SaState::established;
    actions_.push_back(IkeSaUp{spi_i_, spi_r_, true, ike_selection_.transforms, nat_detected_});
    if (!child_sa_ready(*sel, esp_spi_out_, *tsi, *tsr)) {
        fail("CHILD_SA key derivation failed", now);
        return;
    }
    retry_delay_ = Millis{0};
    status_.clear();
    set_state(SaState::established, "established");
}

void IkeSa::auth_handle_request(const Header& h, const std::vector<Payload>& inner, TimePoint now) {
    const auto* idi = find_inner<IdPayload>(inner, PayloadType::idi);
    const auto* auth = find_inner<AuthPayload>(inner, PayloadType::auth);
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    const auto* tsi = find_inner<TsPayload>(inner, PayloadType::tsi);
    const auto* tsr = find_inner<TsPayload>(inner, PayloadType::tsr);
    const std::uint16_t prf = ike_selection_.transforms.prf;
    if (!idi || !auth) {
        respond_encrypted(h, {notify(NotifyType::invalid_syntax)});
        fail("malformed IKE_AUTH request from peer (IDi or AUTH missing)", now);
        return;
    }
    auto octets = crypto::auth_signed_octets(prf, init_request_, nr_, keys_->ike.sk_pi.reveal(),
                                             id_payload_body(*idi));
    auto expected =
        octets ? crypto::psk_auth(prf, settings_.psk, *octets)
               : std::expected<Bytes, crypto::CryptoError>(std::unexpected(octets.error()));
    if (auth->method != AuthMethod::shared_key_mic || !expected ||
        !crypto::equal_constant_time(*expected, auth->data)) {
        respond_encrypted(h, {notify(NotifyType::authentication_failed)});
        fail("AUTHENTICATION_FAILED: the peer's AUTH does not verify (pre-shared key mismatch?)",
             now);
        return;
    }
    const Bytes idr = id_body();
    auto our_octets =
        crypto::auth_signed_octets(prf, init_response_, ni_, keys_->ike.sk_pr.reveal(), idr);
    auto our_auth =
        our_octets ? crypto::psk_auth(prf, settings_.psk, *our_octets)
                   : std::expected<Bytes, crypto::CryptoError>(std::unexpected(our_octets.error()));
    if (!our_auth) return;
    std::vector<Payload> out;
    out.push_back(Payload{PayloadType::idr, false, id_of(idr)});
    out.push_back(
        Payload{PayloadType::auth, false, AuthPayload{AuthMethod::shared_key_mic, *our_auth}});

    auto sel = sa ? select_proposal(sa->proposals, settings_.esp_proposals, ProtocolId::esp,
                                    /*ignore_ke=*/true)
                  : std::nullopt;
    auto spi = crypto::random_esp_spi(rng_);
    if (!sel || !tsi || !tsr || !spi) {
        out.push_back(notify(NotifyType::no_proposal_chosen));
        respond_encrypted(h, out);
        fail("CHILD_SA not created: NO_PROPOSAL_CHOSEN sent (no acceptable ESP proposal)", now);
        return;
    }
    esp_spi_in_ = *spi;
    esp_spi_out_ = spi_value(sel->chosen.spi);
    sel->chosen.spi = spi_bytes(esp_spi_in_);
    // Route-based tunnel: accept the peer's selectors as proposed.
    out.push_back(Payload{PayloadType::sa, false, SaPayload{{sel->chosen}}});
    out.push_back(Payload{PayloadType::tsi, false, *tsi});
    out.push_back(Payload{PayloadType::tsr, false, *tsr});
    respond_encrypted(h, out);

    half_open_deadline_.reset();
    retry_deadline_.reset();
    state_ = SaState::established;
    // RFC 7296 section 2.4: N(INITIAL_CONTACT) says the peer has no other IKE SA with us (it
    // restarted); the daemon then drops our older IKE SA with it without a Delete.
    actions_.push_back(IkeSaUp{spi_i_, spi_r_, false, ike_selection_.transforms, nat_detected_,
                               has_notify(inner, NotifyType::initial_contact)});
    if (!child_sa_ready(*sel, esp_spi_out_, *tsi, *tsr)) {
        fail("CHILD_SA key derivation failed", now);
        return;
    }
    retry_delay_ = Millis{0};
    status_.clear();
    set_state(SaState::established, "established");
}

}  // namespace cgwd::ike
