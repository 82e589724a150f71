// IKE_SA_INIT exchange, initiator and responder tasks (RFC 7296 sections 1.2, 1.3 (INVALID_KE),
// 2.6 (stateless error answers; COOKIE retry as initiator, 2.6.1), 2.10 (nonces), 2.14 (keys),
// 2.23 (NAT detection)).
#include <algorithm>
#include <string>

#include "cgwd/ike/sa.hpp"

namespace cgwd::ike {
namespace {

std::string group_text(std::uint16_t group) {
    return config::dh_name(group);
}

// An answer without state: the initiator's SPI, responder SPI zero, one Notify.
Bytes stateless_error(const Header& request, NotifyType type, Bytes data) {
    Message m;
    m.header.spi_i = request.spi_i;
    m.header.spi_r = 0;
    m.header.exchange = ExchangeType::ike_sa_init;
    m.header.response = true;
    m.header.message_id = 0;
    m.payloads.push_back(Payload{PayloadType::notify, false,
                                 NotifyPayload{ProtocolId::none, {}, type, std::move(data)}});
    auto bytes = encode_message(m);
    return bytes ? std::move(*bytes) : Bytes{};
}

std::string offered_text(const SaPayload& sa) {
    std::string out;
    for (const Proposal& p : sa.proposals) {
        config::Proposal c;
        for (const Transform& t : p.transforms) {
            switch (t.type) {
                case TransformType::encr:
                    c.ciphers.push_back({t.id, t.key_length().value_or(0)});
                    break;
                case TransformType::integ:
                    c.integ.push_back(t.id);
                    break;
                case TransformType::prf:
                    c.prf.push_back(t.id);
                    break;
                case TransformType::dh:
                    c.dh.push_back(t.id);
                    break;
                default:
                    break;
            }
        }
        if (!out.empty()) out += ", ";
        out += config::proposal_string(c);
    }
    return out;
}

// RFC 7383 section 2.3: N(IKEV2_FRAGMENTATION_SUPPORTED), protocol 0, no SPI, no data.
Payload fragmentation_supported() {
    return Payload{
        PayloadType::notify, false,
        NotifyPayload{ProtocolId::none, {}, NotifyType::ikev2_fragmentation_supported, {}}};
}

bool announces_fragmentation(const Message& m) {
    return std::any_of(m.payloads.begin(), m.payloads.end(), [](const Payload& p) {
        const auto* n = p.get<NotifyPayload>();
        return n && n->type == NotifyType::ikev2_fragmentation_supported;
    });
}

template <class T>
const T* find_body(const Message& m, PayloadType type) {
    const Payload* p = m.find(type);
    return p ? p->get<T>() : nullptr;
}

}  // namespace

void IkeSa::init_send_request(std::uint16_t group, TimePoint now) {
    auto ke = crypto::KeyExchange::generate(group);
    if (!ke) {
        fail("cannot generate a key exchange for " + group_text(group) + ": " +
                 crypto::to_string(ke.error()),
             now);
        return;
    }
    // With a cookie from the responder the INVALID_KE retry keeps Ni, which the cookie covers
    // (RFC 7296 section 2.6.1).
    if (cookie_.empty() || ni_.empty()) {
        auto nonce = crypto::random_nonce(rng_);
        if (!nonce) {
            fail("random source failed", now);
            return;
        }
        ni_ = std::move(*nonce);
    }
    tried_groups_.push_back(group);
    sent_ike_proposals_ = make_proposals(settings_.ike_proposals, ProtocolId::ike, {});

    Message m;
    m.header = header(ExchangeType::ike_sa_init, false, 0);
    if (!cookie_.empty()) {
        m.payloads.push_back(
            Payload{PayloadType::notify, false,
                    NotifyPayload{ProtocolId::none, {}, NotifyType::cookie, cookie_}});
    }
    m.payloads.push_back(Payload{PayloadType::sa, false, SaPayload{sent_ike_proposals_}});
    m.payloads.push_back(Payload{PayloadType::ke, false, KePayload{group, ke->public_value()}});
    m.payloads.push_back(Payload{PayloadType::nonce, false, NoncePayload{ni_}});
    for (auto& p : natd_payloads(spi_i_, 0)) m.payloads.push_back(std::move(p));
    if (settings_.fragmentation) m.payloads.push_back(fragmentation_supported());
    ke_.emplace(std::move(*ke));
    auto bytes = encode_message(m);
    if (!bytes) {
        fail(std::string("cannot encode IKE_SA_INIT: ") + to_string(bytes.error()), now);
        return;
    }
    init_request_ = *bytes;
    next_request_id_ = 0;
    send_request(Datagrams{std::move(*bytes)}, ExchangeType::ike_sa_init, now);
    set_state(SaState::init_sent, "IKE_SA_INIT sent (KE " + group_text(group) + ")");
}

void IkeSa::init_handle_response(const Message& m, std::span<const std::uint8_t> datagram,
                                 TimePoint now) {
    for (const Payload& p : m.payloads) {
        const auto* n = p.get<NotifyPayload>();
        if (!n) continue;
        if (n->type == NotifyType::invalid_ke_payload) {
            const std::uint16_t wanted =
                n->data.size() == 2 ? static_cast<std::uint16_t>(n->data[0] << 8 | n->data[1]) : 0;
            const bool tried = std::find(tried_groups_.begin(), tried_groups_.end(), wanted) !=
                               tried_groups_.end();
            if (offers_group(settings_.ike_proposals, wanted) && !tried &&
                crypto::ke_group_supported(wanted)) {
                // Same SPI, message ID 0 again, new nonce and KE (RFC 7296 section 1.2).
                init_send_request(wanted, now);
                if (state_ == SaState::init_sent) {
                    set_state(SaState::init_sent,
                              "INVALID_KE_PAYLOAD from peer: retrying with " + group_text(wanted));
                }
                return;
            }
            fail("INVALID_KE_PAYLOAD from peer: it wants " + group_text(wanted) +
                     (tried ? ", already tried" : ", which we do not offer"),
                 now);
            return;
        }
        if (is_error(n->type)) {
            fail(std::string(to_string(n->type)) + " from peer", now);
            return;
        }
        if (n->type == NotifyType::cookie) {
            init_resend_with_cookie(*n, now);
            return;
        }
    }
    const auto* sa = find_body<SaPayload>(m, PayloadType::sa);
    const auto* ke = find_body<KePayload>(m, PayloadType::ke);
    const auto* nonce = find_body<NoncePayload>(m, PayloadType::nonce);
    if (!sa || !ke || !nonce || m.header.spi_r == 0) {
        fail("malformed IKE_SA_INIT response (SA, KE, Nr or SPI missing)", now);
        return;
    }
    auto sel = check_chosen(*sa, sent_ike_proposals_, ProtocolId::ike);
    if (!sel) {
        fail("peer chose an IKE proposal we did not offer: " + offered_text(*sa), now);
        return;
    }
    if (!ke_ || sel->transforms.dh != ke->group || ke->group != ke_->group()) {
        fail("peer's KE group does not match the chosen proposal", now);
        return;
    }
    auto shared = ke_->shared_secret(ke->data);
    ke_.reset();
    if (!shared) {
        fail(std::string("invalid KE from peer: ") + crypto::to_string(shared.error()), now);
        return;
    }
    spi_r_ = m.header.spi_r;
    nr_ = nonce->data;
    init_response_.assign(datagram.begin(), datagram.end());
    ike_selection_ = std::move(*sel);
    if (!derive_keys(*shared)) {
        fail("IKE SA key derivation failed", now);
        return;
    }
    check_natd(m);
    fragmentation_ = settings_.fragmentation && announces_fragmentation(m);
    // RFC 7296 section 2.23: with a NAT (or forced encapsulation) move to natt_port for
    // IKE_AUTH and everything after.
    if (natt_peer_ && (nat_detected_ || settings_.force_encap) && !floated()) {
        local_port_ = settings_.natt_port;
        remote_port_ = settings_.natt_port;
    }
    auth_send_request(now);
}

// RFC 7296 section 2.6: the same IKE_SA_INIT request again (SPIi, message ID 0, SA, KEi, Ni and
// the NAT detection payloads unchanged) with N(COOKIE) as its first payload.
void IkeSa::init_resend_with_cookie(const NotifyPayload& cookie, TimePoint now) {
    // Cookie data: 1 to 64 octets (RFC 7296 section 3.10.1).
    if (cookie.data.empty() || cookie.data.size() > 64) {
        fail("malformed COOKIE from peer (" + std::to_string(cookie.data.size()) + " octets)", now);
        return;
    }
    if (cookie_retries_ >= settings_.max_cookie_retries) {
        fail("COOKIE from peer again after " + std::to_string(cookie_retries_) + " retries", now);
        return;
    }
    auto previous = decode_message(init_request_);
    if (!previous || !ke_) {
        fail("COOKIE from peer but no IKE_SA_INIT request to resend", now);
        return;
    }
    Message m = std::move(*previous);
    if (!m.payloads.empty()) {
        const auto* first = m.payloads.front().get<NotifyPayload>();
        if (first && first->type == NotifyType::cookie) m.payloads.erase(m.payloads.begin());
    }
    m.payloads.insert(
        m.payloads.begin(),
        Payload{PayloadType::notify, false,
                NotifyPayload{ProtocolId::none, {}, NotifyType::cookie, cookie.data}});
    auto bytes = encode_message(m);
    if (!bytes) {
        fail(std::string("cannot encode IKE_SA_INIT: ") + to_string(bytes.error()), now);
        return;
    }
    cookie_ = cookie.data;
    ++cookie_retries_;
    init_request_ = *bytes;
    next_request_id_ = 0;
    send_request(Datagrams{std::move(*bytes)}, ExchangeType::ike_sa_init, now);
    set_state(SaState::init_sent, "COOKIE from peer: IKE_SA_INIT resent with it (" +
                                      std::to_string(cookie_retries_) + " of " +
                                      std::to_string(settings_.max_cookie_retries) + ")");
}

void IkeSa::init_handle_request(const Message& m, std::span<const std::uint8_t> datagram,
                                TimePoint now) {
    const auto* sa = find_body<SaPayload>(m, PayloadType::sa);
    const auto* ke = find_body<KePayload>(m, PayloadType::ke);
    const auto* nonce = find_body<NoncePayload>(m, PayloadType::nonce);
    if (!sa || !ke || !nonce) return;  // unauthenticated garbage: no answer

    auto sel = select_proposal(sa->proposals, settings_.ike_proposals, ProtocolId::ike);
    if (!sel) {
        emit_reply(stateless_error(m.header, NotifyType::no_proposal_chosen, {}));
        set_state(state_, "NO_PROPOSAL_CHOSEN sent: no acceptable IKE proposal from peer (" +
                              offered_text(*sa) + ")");
        return;
    }
    if (ke->group != sel->transforms.dh) {
        const std::uint16_t g = sel->transforms.dh;
        emit_reply(
            stateless_error(m.header, NotifyType::invalid_ke_payload,
                            {static_cast<std::uint8_t>(g >> 8), static_cast<std::uint8_t>(g)}));
        set_state(state_, "INVALID_KE_PAYLOAD sent: peer guessed " + group_text(ke->group) +
                              ", we want " + group_text(g));
        return;
    }
    auto our_ke = crypto::KeyExchange::generate(ke->group);
    auto spi = crypto::random_ike_spi(rng_);
    auto nr = crypto::random_nonce(rng_);
    if (!our_ke || !spi || !nr) return;
    auto shared = our_ke->shared_secret(ke->data);
    if (!shared) {
        set_state(state_,
                  std::string("invalid KE from peer: ") + crypto::to_string(shared.error()));
        return;
    }

    reset_sa();
    initiator_ = false;
    local_port_ = rx_local_port_;  // answer on the ports the request came on
    remote_port_ = rx_remote_port_;
    spi_i_ = m.header.spi_i;
    spi_r_ = *spi;
    ni_ = nonce->data;
    nr_ = std::move(*nr);
    ike_selection_ = std::move(*sel);
    if (!derive_keys(*shared)) {
        fail("IKE SA key derivation failed", now);
        return;
    }
    check_natd(m);
    // RFC 7383 section 2.3: announced back only to an initiator that announced it.
    fragmentation_ = settings_.fragmentation && announces_fragmentation(m);

    Message r;
    r.header = header(ExchangeType::ike_sa_init, true, 0);
    r.payloads.push_back(Payload{PayloadType::sa, false, SaPayload{{ike_selection_.chosen}}});
    r.payloads.push_back(
        Payload{PayloadType::ke, false, KePayload{ke->group, our_ke->public_value()}});
    r.payloads.push_back(Payload{PayloadType::nonce, false, NoncePayload{nr_}});
    for (auto& p : natd_payloads(spi_i_, spi_r_)) r.payloads.push_back(std::move(p));
    if (fragmentation_) r.payloads.push_back(fragmentation_supported());
    auto bytes = encode_message(r);
    if (!bytes) {
        fail(std::string("cannot encode IKE_SA_INIT response: ") + to_string(bytes.error()), now);
        return;
    }
    init_request_.assign(datagram.begin(), datagram.end());
    init_response_ = *bytes;
    peer_next_id_ = 1;
    send_response(m.header, Datagrams{std::move(*bytes)});
    half_open_deadline_ = now + settings_.half_open_timeout;
    set_state(SaState::init_replied, "IKE_SA_INIT answered, waiting for IKE_AUTH");
}

}  // namespace cgwd::ike
