// IKE SA engine plumbing: dispatch, message IDs, retransmission, SK protection, back-off.
// The exchanges themselves are in task_ike_init.cpp, task_ike_auth.cpp and
// task_informational.cpp. See sa.hpp.
#include "cgwd/ike/sa.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

namespace cgwd::ike {

const char* to_string(SaState s) {
    switch (s) {
        case SaState::idle:
            return "Idle";
        case SaState::init_sent:
            return "InitSent";
        case SaState::auth_sent:
            return "AuthSent";
        case SaState::init_replied:
            return "InitReplied";
        case SaState::established:
            return "Established";
        case SaState::backoff:
            return "Backoff";
    }
    return "?";
}

SaSettings SaSettings::from_tunnel(const config::Tunnel& tunnel, config::Ipv4Address local) {
    SaSettings s;
    s.local = local;
    s.remote = tunnel.aws_outside;
    s.psk = tunnel.psk;
    s.ike_proposals = tunnel.ike_proposals;
    s.esp_proposals = tunnel.esp_proposals;
    s.replay_window = tunnel.replay_window;
    s.ike_lifetime_s = tunnel.ike_lifetime_s;
    s.esp_lifetime_s = tunnel.esp_lifetime_s;
    return s;
}

IkeSa::IkeSa(SaSettings settings, crypto::Random& rng) : settings_(std::move(settings)), rng_(rng) {
    if (settings_.retransmit_timeouts.empty()) settings_.retransmit_timeouts = {Millis{1000}};
}

IkeSa::~IkeSa() = default;

std::vector<Bytes> IkeSa::take_datagrams() {
    return std::exchange(datagrams_, {});
}

std::vector<Action> IkeSa::take_actions() {
    return std::exchange(actions_, {});
}

void IkeSa::set_state(SaState s, std::string status) {
    if (s == state_ && status == status_) return;
    state_ = s;
    status_ = std::move(status);
    actions_.push_back(StatusChanged{state_, status_});
}

void IkeSa::reset_sa() {
    initiator_ = false;
    spi_i_ = spi_r_ = 0;
    ni_.clear();
    nr_.clear();
    init_request_.clear();
    init_response_.clear();
    ke_.reset();
    sent_ike_proposals_.clear();
    sent_esp_proposals_.clear();
    esp_spi_in_ = esp_spi_out_ = 0;
    ike_selection_ = {};
    keys_.reset();
    nat_detected_ = false;
    next_request_id_ = 0;
    pending_.reset();
    peer_next_id_ = 0;
    half_open_deadline_.reset();
}

void IkeSa::fail(std::string status, TimePoint now) {
    if (state_ == SaState::established && esp_spi_in_ != 0) {
        actions_.push_back(ChildSaDeleted{esp_spi_in_, esp_spi_out_});
    }
    actions_.push_back(IkeSaDown{status});
    reset_sa();
    if (initiator_role_) {
        retry_delay_ = retry_delay_.count() == 0 ? settings_.retry_initial
                                                 : std::min(retry_delay_ * 2, settings_.retry_max);
        retry_deadline_ = now + retry_delay_;
        set_state(SaState::backoff, std::move(status));
    } else {
        set_state(SaState::idle, std::move(status));
    }
}

void IkeSa::start(TimePoint now) {
    if (state_ != SaState::idle && state_ != SaState::backoff) return;
    initiator_role_ = true;
    begin(now);
}

void IkeSa::begin(TimePoint now) {
    retry_deadline_.reset();
    reset_sa();
    tried_groups_.clear();
    initiator_ = true;
    auto spi = crypto::random_ike_spi(rng_);
    if (!spi) {
        fail("random source failed", now);
        return;
    }
    spi_i_ = *spi;
    init_send_request(first_dh_group(settings_.ike_proposals), now);
}

Header IkeSa::header(ExchangeType exchange, bool response, std::uint32_t message_id) const {
    Header h;
    h.spi_i = spi_i_;
    h.spi_r = spi_r_;
    h.exchange = exchange;
    h.initiator = initiator_;
    h.response = response;
    h.message_id = message_id;
    return h;
}

void IkeSa::send_request(Bytes bytes, ExchangeType exchange, TimePoint now) {
    datagrams_.push_back(bytes);
    pending_ = Pending{std::move(bytes), exchange, next_request_id_, 1,
                       now + settings_.retransmit_timeouts.front()};
    ++next_request_id_;
}

void IkeSa::send_response(const Header& request, Bytes bytes) {
    datagrams_.push_back(bytes);
    cached_response_ = Cached{request.spi_i, request.spi_r, request.message_id, request.exchange,
                              std::move(bytes)};
}

void IkeSa::respond_encrypted(const Header& request, const std::vector<Payload>& inner) {
    auto bytes = seal(header(request.exchange, true, request.message_id), inner);
    if (bytes) send_response(request, std::move(*bytes));
}

void IkeSa::on_timer(TimePoint now) {
    if (pending_ && now >= pending_->deadline) {
        if (pending_->transmissions < settings_.retransmit_timeouts.size()) {
            datagrams_.push_back(pending_->bytes);
            pending_->deadline = now + settings_.retransmit_timeouts[pending_->transmissions];
            ++pending_->transmissions;
        } else {
            const auto n = pending_->transmissions;
            const char* exchange = to_string(pending_->exchange);
            pending_.reset();
            fail(std::string("peer not responding: no answer to ") + exchange + " after " +
                     std::to_string(n) + " transmissions",
                 now);
        }
    }
    if (half_open_deadline_ && now >= *half_open_deadline_) {
        half_open_deadline_.reset();
        if (state_ == SaState::init_replied) fail("half-open IKE SA timed out: no IKE_AUTH", now);
    }
    if (retry_deadline_ && now >= *retry_deadline_) {
        retry_deadline_.reset();
        if (state_ == SaState::backoff) begin(now);
    }
}

std::optional<TimePoint> IkeSa::next_deadline() const {
    std::optional<TimePoint> d;
    auto consider = [&](const std::optional<TimePoint>& t) {
        if (t && (!d || *t < *d)) d = t;
    };
    if (pending_) consider(pending_->deadline);
    consider(half_open_deadline_);
    consider(retry_deadline_);
    return d;
}

void IkeSa::on_datagram(std::span<const std::uint8_t> datagram, TimePoint now) {
    auto h = decode_header(datagram);
    if (!h) return;
    if (h->response) {
        handle_response(*h, datagram, now);
    } else {
        handle_request(*h, datagram, now);
    }
}

void IkeSa::handle_response(const Header& h, std::span<const std::uint8_t> datagram,
                            TimePoint now) {
    if (!pending_ || h.exchange != pending_->exchange || h.message_id != pending_->message_id ||
        h.spi_i != spi_i_ || h.initiator == initiator_) {
        return;
    }
    if (h.exchange == ExchangeType::ike_sa_init) {
        auto m = decode_message(datagram);
        if (!m) return;
        pending_.reset();
        init_handle_response(*m, datagram, now);
        return;
    }
    if (h.spi_r != spi_r_) return;
    auto inner = open(datagram);
    if (!inner) return;  // not authentic: keep waiting (RFC 7296 section 2.21)
    pending_.reset();
    if (h.exchange == ExchangeType::ike_auth && state_ == SaState::auth_sent) {
        auth_handle_response(*inner, now);
    }
    // INFORMATIONAL (liveness check): the answer itself is all we needed.
}

void IkeSa::handle_request(const Header& h, std::span<const std::uint8_t> datagram, TimePoint now) {
    // A retransmitted request: the same answer again (RFC 7296 section 2.1).
    if (cached_response_ && cached_response_->spi_i == h.spi_i &&
        cached_response_->spi_r == h.spi_r && cached_response_->message_id == h.message_id &&
        cached_response_->exchange == h.exchange) {
        datagrams_.push_back(cached_response_->bytes);
        return;
    }
    if (h.exchange == ExchangeType::ike_sa_init) {
        if (h.spi_r != 0 || h.message_id != 0 || !h.initiator) return;
        const bool can_accept = state_ == SaState::idle || state_ == SaState::backoff ||
                                (state_ == SaState::init_replied && h.spi_i != spi_i_);
        if (!can_accept) return;
        auto m = decode_message(datagram);
        if (!m) return;
        init_handle_request(*m, datagram, now);
        return;
    }
    if (state_ != SaState::init_replied && state_ != SaState::established) return;
    if (h.spi_i != spi_i_ || h.spi_r != spi_r_ || h.initiator == initiator_) return;
    if (h.message_id != peer_next_id_) return;
    auto inner = open(datagram);
    if (!inner) return;
    ++peer_next_id_;
    if (h.exchange == ExchangeType::ike_auth) {
        if (state_ == SaState::init_replied) auth_handle_request(h, *inner, now);
        return;
    }
    if (state_ == SaState::established && (h.exchange == ExchangeType::informational ||
                                           h.exchange == ExchangeType::create_child_sa)) {
        info_handle_request(h, *inner, now);
    }
}

bool IkeSa::derive_keys(const crypto::SecretBytes& shared) {
    const ChosenTransforms& t = ike_selection_.transforms;
    auto ike = crypto::derive_ike_sa_keys({t.cipher, t.integ, t.prf}, shared.reveal(), ni_, nr_,
                                          spi_i_, spi_r_);
    if (!ike) return false;
    const auto& e_out = initiator_ ? ike->sk_ei : ike->sk_er;
    const auto& a_out = initiator_ ? ike->sk_ai : ike->sk_ar;
    const auto& e_in = initiator_ ? ike->sk_er : ike->sk_ei;
    const auto& a_in = initiator_ ? ike->sk_ar : ike->sk_ai;
    auto out = crypto::SkCipher::create(t.cipher, t.integ, e_out.reveal(), a_out.reveal());
    auto in = crypto::SkCipher::create(t.cipher, t.integ, e_in.reveal(), a_in.reveal());
    if (!out || !in) return false;
    keys_.reset(new Keys{std::move(*ike), std::move(*out), std::move(*in)});
    return true;
}

std::optional<Bytes> IkeSa::seal(const Header& h, const std::vector<Payload>& inner) {
    if (!keys_) return std::nullopt;
    Bytes plaintext;
    if (!inner.empty()) {
        auto p = encode_payloads(inner);
        if (!p) return std::nullopt;
        plaintext = std::move(*p);
    }
    Message m;
    m.header = h;
    m.payloads.push_back(Payload{PayloadType::sk, false,
                                 SkPayload{inner.empty() ? PayloadType::none : inner.front().type,
                                           Bytes(keys_->out.sealed_size(plaintext.size()))}});
    auto bytes = encode_message(m);
    if (!bytes) return std::nullopt;
    auto layout = encrypted_layout(*bytes);
    if (!layout) return std::nullopt;
    const std::span<const std::uint8_t> ad(bytes->data(), layout->body_offset);
    auto body = keys_->out.seal(ad, plaintext, rng_);
    if (!body || body->size() != bytes->size() - layout->body_offset) return std::nullopt;
    std::copy(body->begin(), body->end(),
              bytes->begin() + static_cast<std::ptrdiff_t>(layout->body_offset));
    return std::move(*bytes);
}

std::optional<std::vector<Payload>> IkeSa::open(std::span<const std::uint8_t> datagram) {
    if (!keys_) return std::nullopt;
    auto m = decode_message(datagram);
    if (!m || m->payloads.empty()) return std::nullopt;
    const auto* sk = m->payloads.back().get<SkPayload>();
    if (!sk) return std::nullopt;  // SKF (fragmentation) is not supported
    auto layout = encrypted_layout(datagram);
    if (!layout) return std::nullopt;
    auto plaintext =
        keys_->in.open(datagram.first(layout->body_offset), datagram.subspan(layout->body_offset));
    if (!plaintext) return std::nullopt;
    auto inner = decode_payloads(sk->first_inner, *plaintext, layout->body_offset);
    if (!inner) return std::nullopt;
    return std::move(*inner);
}

Bytes IkeSa::id_body() const {
    const std::uint32_t a = settings_.local.value;
    return {static_cast<std::uint8_t>(IdType::ipv4_addr),
            0,
            0,
            0,
            static_cast<std::uint8_t>(a >> 24),
            static_cast<std::uint8_t>(a >> 16),
            static_cast<std::uint8_t>(a >> 8),
            static_cast<std::uint8_t>(a)};
}

// RFC 7296 section 2.23: SHA-1(SPIi | SPIr | IP address | port), all in network order.
Bytes IkeSa::natd_hash(std::uint64_t spi_i, std::uint64_t spi_r, config::Ipv4Address address,
                       std::uint16_t port) const {
    std::uint8_t input[8 + 8 + 4 + 2];
    for (int i = 0; i < 8; ++i) {
        input[i] = static_cast<std::uint8_t>(spi_i >> (56 - 8 * i));
        input[8 + i] = static_cast<std::uint8_t>(spi_r >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; ++i) {
        input[16 + i] = static_cast<std::uint8_t>(address.value >> (24 - 8 * i));
    }
    input[20] = static_cast<std::uint8_t>(port >> 8);
    input[21] = static_cast<std::uint8_t>(port);
    Bytes digest(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (EVP_Digest(input, sizeof input, digest.data(), &size, EVP_sha1(), nullptr) != 1) {
        return {};
    }
    digest.resize(size);
    return digest;
}

std::vector<Payload> IkeSa::natd_payloads(std::uint64_t spi_i, std::uint64_t spi_r) const {
    std::vector<Payload> out;
    NotifyPayload src{ProtocolId::none,
                      {},
                      NotifyType::nat_detection_source_ip,
                      natd_hash(spi_i, spi_r, settings_.local, settings_.local_port)};
    NotifyPayload dst{ProtocolId::none,
                      {},
                      NotifyType::nat_detection_destination_ip,
                      natd_hash(spi_i, spi_r, settings_.remote, settings_.remote_port)};
    out.push_back(Payload{PayloadType::notify, false, std::move(src)});
    out.push_back(Payload{PayloadType::notify, false, std::move(dst)});
    return out;
}

// The peer's SOURCE hash must match its address as we see it, its DESTINATION hash ours.
void IkeSa::check_natd(const Message& m) {
    const Bytes peer =
        natd_hash(m.header.spi_i, m.header.spi_r, settings_.remote, settings_.remote_port);
    const Bytes self =
        natd_hash(m.header.spi_i, m.header.spi_r, settings_.local, settings_.local_port);
    bool any_source = false, source_match = false, dest_seen = false, dest_match = true;
    for (const Payload& p : m.payloads) {
        const auto* n = p.get<NotifyPayload>();
        if (!n) continue;
        if (n->type == NotifyType::nat_detection_source_ip) {
            any_source = true;
            source_match = source_match || n->data == peer;
        } else if (n->type == NotifyType::nat_detection_destination_ip) {
            dest_seen = true;
            dest_match = n->data == self;
        }
    }
    nat_detected_ = (any_source && !source_match) || (dest_seen && !dest_match);
}

bool IkeSa::child_sa_ready(const Selection& esp, std::uint32_t spi_out, const TsPayload& tsi,
                           const TsPayload& tsr) {
    ChildSaReady c;
    c.spi_in = esp_spi_in_;
    c.spi_out = spi_out;
    c.cipher = esp.transforms.cipher;
    c.integ = esp.transforms.integ;
    auto keys = crypto::derive_child_sa_keys(
        ike_selection_.transforms.prf, keys_->ike.sk_d.reveal(), {c.cipher, c.integ}, ni_, nr_);
    if (!keys) return false;
    c.keys_out = initiator_ ? keys->initiator_to_responder : keys->responder_to_initiator;
    c.keys_in = initiator_ ? keys->responder_to_initiator : keys->initiator_to_responder;
    c.esn = esp.transforms.esn;
    c.replay_window = settings_.replay_window;
    c.lifetime_s = settings_.esp_lifetime_s;
    c.local = settings_.local;
    c.remote = settings_.remote;
    c.ts_local = initiator_ ? tsi : tsr;
    c.ts_remote = initiator_ ? tsr : tsi;
    c.nat_detected = nat_detected_;
    actions_.push_back(std::move(c));
    return true;
}

}  // namespace cgwd::ike
