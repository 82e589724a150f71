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
    s.dpd_interval = Millis{tunnel.dpd_interval_ms_in_force()};
    s.dpd_retries = tunnel.dpd_retries_in_force();
    s.dpd_action = tunnel.dpd_action;
    s.dpd_retransmit = Millis{tunnel.local_dpd_retransmit_ms};
    s.rekey_margin = std::chrono::seconds(tunnel.rekey_margin_s);
    s.rekey_fuzz = tunnel.rekey_fuzz_pct / 100.0;
    return s;
}

IkeSa::IkeSa(SaSettings settings, crypto::Random& rng) : settings_(std::move(settings)), rng_(rng) {
    if (settings_.retransmit_timeouts.empty()) settings_.retransmit_timeouts = {Millis{1000}};
    local_port_ = rx_local_port_ = settings_.local_port;
    remote_port_ = rx_remote_port_ = settings_.remote_port;
}

IkeSa::~IkeSa() = default;

std::vector<OutDatagram> IkeSa::take_outgoing() {
    return std::exchange(outgoing_, {});
}

std::vector<Bytes> IkeSa::take_datagrams() {
    std::vector<Bytes> out;
    for (auto& d : take_outgoing()) {
        if (!d.keepalive) out.push_back(std::move(d.bytes));
    }
    return out;
}

void IkeSa::emit(Bytes bytes) {
    if (floated()) last_sent_natt_ = now_;
    outgoing_.push_back(OutDatagram{std::move(bytes), local_port_, remote_port_, false});
}

void IkeSa::emit_reply(Bytes bytes) {
    if (rx_local_port_ == settings_.natt_port) last_sent_natt_ = now_;
    outgoing_.push_back(OutDatagram{std::move(bytes), rx_local_port_, rx_remote_port_, false});
}

void IkeSa::emit(const Datagrams& datagrams) {
    for (const Bytes& d : datagrams) emit(d);
}

void IkeSa::emit_reply(const Datagrams& datagrams) {
    for (const Bytes& d : datagrams) emit_reply(d);
}

// RFC 7296 section 2.23: after an authenticated message, use the ports it came on. Once on
// natt_port we stay there (a stray message on port 500 does not move us back); the peer's port
// is followed (NAT rebinding).
void IkeSa::follow_ports() {
    last_received_ = now_;
    if (rx_local_port_ == settings_.natt_port) {
        local_port_ = rx_local_port_;
        remote_port_ = rx_remote_port_;
    } else if (!floated()) {
        local_port_ = rx_local_port_;
        remote_port_ = rx_remote_port_;
    }
}

void IkeSa::on_peer_traffic(TimePoint now) {
    if (state_ == SaState::established && (!last_received_ || now > *last_received_)) {
        last_received_ = now;
    }
}

bool IkeSa::dpd_enabled() const {
    return settings_.dpd_interval.count() > 0 && settings_.dpd_action != config::DpdAction::none;
}

bool IkeSa::keepalive_enabled() const {
    return state_ == SaState::established && settings_.nat_keepalive.count() > 0 && floated() &&
           (nat_local_ || settings_.force_encap);
}

std::optional<TimePoint> IkeSa::dpd_deadline() const {
    if (!dpd_enabled() || state_ != SaState::established || pending_ || !last_received_) {
        return std::nullopt;
    }
    return *last_received_ + settings_.dpd_interval;
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
    fragmentation_ = false;
    natt_peer_ = nat_local_ = nat_remote_ = false;
    local_port_ = settings_.local_port;
    remote_port_ = settings_.remote_port;
    last_sent_natt_.reset();
    last_received_.reset();
    established_at_.reset();
    child_established_at_.reset();
    children_.clear();
    exchange_.reset();
    child_collision_.reset();
    ike_candidate_.reset();
    ike_collision_.reset();
    retired_.clear();
    ike_rekey_at_.reset();
    delete_queue_.clear();
    next_request_id_ = 0;
    pending_.reset();
    peer_next_id_ = 0;
    half_open_deadline_.reset();
}

void IkeSa::fail(std::string status, TimePoint now) {
    if (state_ == SaState::established) {
        for (const Child& c : children_)
            actions_.emplace_back(std::in_place_type<ChildSaDeleted>, c.spi_in, c.spi_out);
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
    now_ = now;
    if (state_ != SaState::idle && state_ != SaState::backoff) return;
    initiator_role_ = true;
    begin(now);
}

void IkeSa::begin(TimePoint now) {
    retry_deadline_.reset();
    reset_sa();
    tried_groups_.clear();
    cookie_.clear();
    cookie_retries_ = 0;
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

// How long to wait for the answer after transmission `n` (0: the first) of a request.
Millis IkeSa::retransmit_timeout(bool liveness, std::size_t n) const {
    if (liveness && settings_.dpd_retransmit.count() > 0) return settings_.dpd_retransmit;
    const auto& t = settings_.retransmit_timeouts;
    return t[std::min(n, t.size() - 1)];
}

void IkeSa::send_request(Datagrams datagrams, ExchangeType exchange, TimePoint now, bool liveness) {
    emit(datagrams);
    const std::size_t max =
        liveness ? std::size_t{1} + settings_.dpd_retries : settings_.retransmit_timeouts.size();
    pending_ = Pending{std::move(datagrams),
                       exchange,
                       next_request_id_,
                       1,
                       now + retransmit_timeout(liveness, 0),
                       max,
                       liveness};
    ++next_request_id_;
}

void IkeSa::send_response(const Header& request, Datagrams datagrams) {
    emit_reply(datagrams);
    cached_response_ = Cached{request.spi_i, request.spi_r, request.message_id, request.exchange,
                              std::move(datagrams)};
}

void IkeSa::respond_encrypted(const Header& request, const std::vector<Payload>& inner) {
    auto bytes = seal(header(request.exchange, true, request.message_id), inner);
    if (bytes) send_response(request, std::move(*bytes));
}

void IkeSa::on_timer(TimePoint now) {
    now_ = now;
    if (pending_ && now >= pending_->deadline) {
        if (pending_->transmissions < pending_->max_transmissions) {
            emit(pending_->datagrams);  // all fragments again (RFC 7383 section 2.6.1)
            pending_->deadline =
                now + retransmit_timeout(pending_->liveness, pending_->transmissions);
            ++pending_->transmissions;
        } else {
            const auto n = pending_->transmissions;
            const char* exchange = to_string(pending_->exchange);
            const bool liveness = pending_->liveness;
            pending_.reset();
            std::string reason = std::string("peer not responding: no answer to ") + exchange +
                                 " after " + std::to_string(n) + " transmissions";
            if (liveness) {
                peer_dead(std::move(reason), now);
            } else {
                fail(std::move(reason), now);
            }
        }
    }
    retired_timers(now);
    if (state_ == SaState::established && !pending_) run_due(now);
    if (const auto d = dpd_deadline(); d && now >= *d) send_liveness_check(now);
    // NAT keepalive (RFC 3948 section 2.3): when nothing was sent on natt_port for an interval.
    if (keepalive_enabled() && last_sent_natt_ &&
        now >= *last_sent_natt_ + settings_.nat_keepalive) {
        outgoing_.push_back(OutDatagram{{0xFF}, local_port_, remote_port_, true});
        last_sent_natt_ = now;
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
        if (t && *t != TimePoint::max() && (!d || *t < *d)) d = t;  // max: never
    };
    if (pending_) consider(pending_->deadline);
    consider(dpd_deadline());
    for (const auto& r : retired_) {
        if (r->pending) consider(r->pending->deadline);
    }
    if (state_ == SaState::established && !pending_) {
        if (!delete_queue_.empty()) consider(now_);
        consider(ike_rekey_at_);
        for (const Child& c : children_) {
            if (!c.replaced) consider(c.rekey_at);
        }
    }
    if (keepalive_enabled() && last_sent_natt_) {
        consider(*last_sent_natt_ + settings_.nat_keepalive);
    }
    consider(half_open_deadline_);
    consider(retry_deadline_);
    return d;
}

void IkeSa::on_datagram(std::span<const std::uint8_t> datagram, TimePoint now,
                        std::uint16_t local_port, std::uint16_t remote_port) {
    now_ = now;
    rx_local_port_ = local_port;
    rx_remote_port_ = remote_port;
    auto h = decode_header(datagram);
    if (!h) return;
    if (!(h->spi_i == spi_i_ && h->spi_r == spi_r_)) {
        if (IkeCtx* ctx = find_retired(h->spi_i, h->spi_r)) {
            retired_handle(*ctx, *h, datagram, now);
            return;
        }
    }
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
    follow_ports();
    pending_.reset();
    std::optional<Exchange> x = std::exchange(exchange_, std::nullopt);
    if (h.exchange == ExchangeType::ike_auth && state_ == SaState::auth_sent) {
        auth_handle_response(*inner, now);
    } else if (h.exchange == ExchangeType::create_child_sa && x) {
        create_child_handle_response(std::move(*x), *inner, now);
    } else if (h.exchange == ExchangeType::informational && x) {
        delete_handle_response(*x, now);
    }
    // INFORMATIONAL (liveness check): the answer itself is all we needed.
    if (state_ == SaState::established && !pending_) run_due(now);
}

void IkeSa::handle_request(const Header& h, std::span<const std::uint8_t> datagram, TimePoint now) {
    // A retransmitted request: the same answer again (RFC 7296 section 2.1), for a fragmented
    // request once, on its fragment 1 (RFC 7383 section 2.6.1).
    if (cached_response_ && cached_response_->spi_i == h.spi_i &&
        cached_response_->spi_r == h.spi_r && cached_response_->message_id == h.message_id &&
        cached_response_->exchange == h.exchange) {
        if (fragment_number(datagram) <= 1) emit_reply(cached_response_->datagrams);
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
    follow_ports();
    ++peer_next_id_;
    if (h.exchange == ExchangeType::ike_auth) {
        if (state_ == SaState::init_replied) auth_handle_request(h, *inner, now);
        return;
    }
    if (state_ != SaState::established) return;
    if (h.exchange == ExchangeType::informational) {
        info_handle_request(h, *inner, now);
    } else if (h.exchange == ExchangeType::create_child_sa) {
        create_child_handle_request(h, *inner, now);
    }
}

bool IkeSa::derive_keys(const crypto::SecretBytes& shared) {
    const ChosenTransforms& t = ike_selection_.transforms;
    auto ike = crypto::derive_ike_sa_keys({t.cipher, t.integ, t.prf}, shared.reveal(), ni_, nr_,
                                          spi_i_, spi_r_);
    if (!ike) return false;
    export_ike_keys(spi_i_, spi_r_, t, *ike);
    const auto& e_out = initiator_ ? ike->sk_ei : ike->sk_er;
    const auto& a_out = initiator_ ? ike->sk_ai : ike->sk_ar;
    const auto& e_in = initiator_ ? ike->sk_er : ike->sk_ei;
    const auto& a_in = initiator_ ? ike->sk_ar : ike->sk_ai;
    auto out = crypto::SkCipher::create(t.cipher, t.integ, e_out.reveal(), a_out.reveal());
    auto in = crypto::SkCipher::create(t.cipher, t.integ, e_in.reveal(), a_in.reveal());
    if (!out || !in) return false;
    keys_.reset(new Keys{std::move(*ike), std::move(*out), std::move(*in), {}, {}});
    return true;
}

void IkeSa::export_ike_keys(std::uint64_t spi_i, std::uint64_t spi_r, const ChosenTransforms& t,
                            const crypto::IkeSaKeys& keys) const {
    if (settings_.on_ike_keys) settings_.on_ike_keys({spi_i, spi_r, t.cipher, t.integ, &keys});
}

std::optional<IkeSa::Datagrams> IkeSa::seal(const Header& h, const std::vector<Payload>& inner) {
    if (!keys_) return std::nullopt;
    return seal(*keys_, h, inner);
}

std::optional<std::vector<Payload>> IkeSa::open(std::span<const std::uint8_t> datagram) {
    if (!keys_) return std::nullopt;
    return open(*keys_, datagram);
}

Bytes IkeSa::id_body() const {
    const std::uint32_t a = settings_.local_id.value_or(settings_.local).value;
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

std::vector<Payload> IkeSa::natd_payloads(std::uint64_t spi_i, std::uint64_t spi_r) {
    std::vector<Payload> out;
    Bytes source = natd_hash(spi_i, spi_r, settings_.local, local_port_);
    // force_encap: a random value instead, so the peer sees a NAT (RFC 7296 section 2.23
    // allows faking it to get UDP encapsulation).
    if (settings_.force_encap && !rng_.fill(source)) source.assign(source.size(), 0);
    NotifyPayload src{ProtocolId::none, {}, NotifyType::nat_detection_source_ip, std::move(source)};
    NotifyPayload dst{ProtocolId::none,
                      {},
                      NotifyType::nat_detection_destination_ip,
                      natd_hash(spi_i, spi_r, settings_.remote, remote_port_)};
    out.push_back(Payload{PayloadType::notify, false, std::move(src)});
    out.push_back(Payload{PayloadType::notify, false, std::move(dst)});
    return out;
}

// The peer's SOURCE hash must match its address as we see it, its DESTINATION hash ours.
void IkeSa::check_natd(const Message& m) {
    const Bytes peer = natd_hash(m.header.spi_i, m.header.spi_r, settings_.remote, remote_port_);
    const Bytes self = natd_hash(m.header.spi_i, m.header.spi_r, settings_.local, local_port_);
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
    natt_peer_ = any_source && dest_seen;
    nat_remote_ = any_source && !source_match;
    nat_local_ = dest_seen && !dest_match;
    nat_detected_ = nat_remote_ || nat_local_ || (natt_peer_ && settings_.force_encap);
}

// The peer did not answer a liveness check: down, then what dpd_action says.
void IkeSa::peer_dead(std::string reason, TimePoint now) {
    fail(std::move(reason), now);
    if (settings_.dpd_action == config::DpdAction::clear && state_ == SaState::backoff) {
        retry_deadline_.reset();
        retry_delay_ = Millis{0};
        set_state(SaState::idle, status_);
    } else if (settings_.dpd_action == config::DpdAction::restart && initiator_role_) {
        retry_delay_ = Millis{0};
        begin(now);
    }
}

SaInfo IkeSa::info() const {
    SaInfo i;
    i.state = state_;
    i.status = status_;
    i.initiator = initiator_;
    i.spi_i = spi_i_;
    i.spi_r = spi_r_;
    i.nat_detected = nat_detected_;
    i.floated = floated();
    i.local_port = local_port_;
    i.remote_port = remote_port_;
    if (keys_) {
        const ChosenTransforms& t = ike_selection_.transforms;
        i.ike_transforms = config::cipher_name(t.cipher);
        if (t.integ != config::integ::none) i.ike_transforms += "/" + config::integ_name(t.integ);
        i.ike_transforms += "/" + config::prf_name(t.prf) + "/" + config::dh_name(t.dh);
    }
    i.established_at = established_at_;
    i.retired_ike_sas = retired_.size();
    if (state_ == SaState::established) {
        if (ike_rekey_at_ != TimePoint::max()) i.next_ike_rekey = ike_rekey_at_;
        for (const Child& ch : children_) {
            if (ch.replaced) continue;
            ChildSaInfo c;
            c.spi_in = ch.spi_in;
            c.spi_out = ch.spi_out;
            c.transforms = config::cipher_name(ch.transforms.cipher);
            if (ch.transforms.integ != config::integ::none) {
                c.transforms += "/" + config::integ_name(ch.transforms.integ);
            }
            if (ch.transforms.dh != 0) c.transforms += "/" + config::dh_name(ch.transforms.dh);
            if (ch.transforms.esn) c.transforms += "/ESN";
            c.established_at = ch.established_at;
            if (ch.rekey_at != TimePoint::max()) c.next_rekey = ch.rekey_at;
            i.child = c;  // the newest wins
        }
    }
    i.ike_rekeys = ike_rekeys_;
    i.child_rekeys = child_rekeys_;
    i.last_dpd_sent = last_dpd_sent_;
    i.fragmentation = fragmentation_;
    i.fragments_sent = fragments_sent_;
    i.fragments_received = fragments_received_;
    i.fragments_dropped = fragments_dropped_;
    return i;
}

bool IkeSa::child_sa_ready(const Selection& esp, std::uint32_t spi_out, const TsPayload& tsi,
                           const TsPayload& tsr) {
    if (!install_child(esp.transforms, esp_spi_in_, spi_out, ni_, nr_, {}, initiator_, tsi, tsr)) {
        return false;
    }
    if (!established_at_) established_at_ = now_;
    if (!ike_rekey_at_) ike_rekey_at_ = rekey_time(now_, settings_.ike_lifetime_s);
    return true;
}

bool IkeSa::install_child(const ChosenTransforms& t, std::uint32_t spi_in, std::uint32_t spi_out,
                          const Bytes& ni, const Bytes& nr, crypto::ByteView pfs,
                          bool exchange_initiator, const TsPayload& tsi, const TsPayload& tsr) {
    ChildSaReady c;
    c.spi_in = spi_in;
    c.spi_out = spi_out;
    c.cipher = t.cipher;
    c.integ = t.integ;
    auto keys = crypto::derive_child_sa_keys(
        ike_selection_.transforms.prf, keys_->ike.sk_d.reveal(), {c.cipher, c.integ}, ni, nr, pfs);
    if (!keys) return false;
    c.keys_out = exchange_initiator ? keys->initiator_to_responder : keys->responder_to_initiator;
    c.keys_in = exchange_initiator ? keys->responder_to_initiator : keys->initiator_to_responder;
    c.esn = t.esn;
    c.replay_window = settings_.replay_window;
    c.lifetime_s = settings_.esp_lifetime_s;
    c.local = settings_.local;
    c.remote = settings_.remote;
    // TSi are the exchange initiator's selectors.
    c.ts_local = exchange_initiator ? tsi : tsr;
    c.ts_remote = exchange_initiator ? tsr : tsi;
    c.nat_detected = nat_detected_;
    c.exchange_initiator = exchange_initiator;
    if (floated() && nat_detected_) {
        c.encap_local_port = local_port_;
        c.encap_remote_port = remote_port_;
    }
    Child child;
    child.spi_in = spi_in;
    child.spi_out = spi_out;
    child.transforms = t;
    child.ts_i = c.ts_local;
    child.ts_r = c.ts_remote;
    child.established_at = now_;
    child.rekey_at = rekey_time(now_, settings_.esp_lifetime_s);
    children_.push_back(std::move(child));
    child_established_at_ = now_;
    actions_.push_back(std::move(c));
    return true;
}

IkeSa::Child* IkeSa::find_child_in(std::uint32_t spi_in) {
    for (Child& c : children_) {
        if (c.spi_in == spi_in) return &c;
    }
    return nullptr;
}

IkeSa::Child* IkeSa::find_child_out(std::uint32_t spi_out) {
    for (Child& c : children_) {
        if (c.spi_out == spi_out) return &c;
    }
    return nullptr;
}

void IkeSa::remove_child(std::uint32_t spi_in) {
    for (auto it = children_.begin(); it != children_.end(); ++it) {
        if (it->spi_in == spi_in) {
            actions_.emplace_back(std::in_place_type<ChildSaDeleted>, it->spi_in, it->spi_out);
            children_.erase(it);
            return;
        }
    }
}

}  // namespace cgwd::ike
