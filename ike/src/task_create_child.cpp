// CREATE_CHILD_SA exchange: rekeying of CHILD_SAs and of the IKE SA, as initiator and as
// responder (RFC 7296 sections 1.3.2, 1.3.3, 2.8, 2.8.1, 2.18, 2.25), and the scheduling of
// rekeys ahead of the lifetimes. See sa.hpp.
//
//   CHILD_SA rekey  HDR, SK{N(REKEY_SA, ESP, old SPI), SA, Ni, [KEi], TSi, TSr}
//               <-- HDR, SK{SA, Nr, [KEr], TSi, TSr}
//   IKE SA rekey    HDR, SK{SA (8-octet SPI), Ni, KEi}
//               <-- HDR, SK{SA, Nr, KEr}
// Make-before-break: the new SA is announced (ChildSaReady) when the exchange completes; the
// initiator of the rekey then deletes the old SA with an INFORMATIONAL Delete, and each side
// announces ChildSaDeleted for it when that exchange completes.
#include <algorithm>
#include <string>
#include <utility>

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

const NotifyPayload* find_notify(const std::vector<Payload>& inner, NotifyType type) {
    for (const Payload& p : inner) {
        const auto* n = p.get<NotifyPayload>();
        if (n && n->type == type) return n;
    }
    return nullptr;
}

const NotifyPayload* first_error(const std::vector<Payload>& inner) {
    for (const Payload& p : inner) {
        const auto* n = p.get<NotifyPayload>();
        if (n && is_error(n->type)) return n;
    }
    return nullptr;
}

Bytes spi4(std::uint32_t spi) {
    return {static_cast<std::uint8_t>(spi >> 24), static_cast<std::uint8_t>(spi >> 16),
            static_cast<std::uint8_t>(spi >> 8), static_cast<std::uint8_t>(spi)};
}

std::uint32_t spi4_value(const Bytes& b) {
    if (b.size() != 4) return 0;
    return static_cast<std::uint32_t>(b[0]) << 24 | static_cast<std::uint32_t>(b[1]) << 16 |
           static_cast<std::uint32_t>(b[2]) << 8 | b[3];
}

Bytes spi8(std::uint64_t spi) {
    Bytes out(8);
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(spi >> (56 - 8 * i));
    return out;
}

std::uint64_t spi8_value(const Bytes& b) {
    std::uint64_t v = 0;
    for (std::uint8_t x : b) v = v << 8 | x;
    return b.size() == 8 ? v : 0;
}

Payload notify(NotifyType type, ProtocolId protocol = ProtocolId::none, Bytes spi = {},
               Bytes data = {}) {
    return Payload{PayloadType::notify, false,
                   NotifyPayload{protocol, std::move(spi), type, std::move(data)}};
}

Bytes group_data(std::uint16_t g) {
    return {static_cast<std::uint8_t>(g >> 8), static_cast<std::uint8_t>(g)};
}

std::uint16_t group_of(const NotifyPayload& n) {
    return n.data.size() == 2 ? static_cast<std::uint16_t>(n.data[0] << 8 | n.data[1]) : 0;
}

// RFC 7296 section 2.8.1: nonces compared as octet strings.
const Bytes& lowest(const Bytes& a, const Bytes& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end()) ? a : b;
}
bool less(const Bytes& a, const Bytes& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

// Rekey `rekey_margin` plus a random fuzz in [0, rekey_margin * rekey_fuzz) before the
// lifetime ends; never earlier than half the lifetime. Lifetime 0: never.
TimePoint IkeSa::rekey_time(TimePoint established, std::uint32_t lifetime_s) {
    if (lifetime_s == 0) return TimePoint::max();
    const Millis life = std::chrono::seconds(lifetime_s);
    std::uint8_t r[4] = {};
    if (!rng_.fill(r)) std::fill(std::begin(r), std::end(r), 0);
    const double unit =
        (static_cast<std::uint32_t>(r[0]) << 24 | static_cast<std::uint32_t>(r[1]) << 16 |
         static_cast<std::uint32_t>(r[2]) << 8 | r[3]) /
        4294967296.0;
    const double span =
        static_cast<double>(settings_.rekey_margin.count()) * std::max(0.0, settings_.rekey_fuzz);
    const Millis fuzz{static_cast<Millis::rep>(span * unit)};
    Millis at = life - settings_.rekey_margin - fuzz;
    if (at < life / 2) at = life / 2;
    return established + at;
}

std::unique_ptr<IkeSa::Keys> IkeSa::make_keys(const ChosenTransforms& t, crypto::IkeSaKeys ike,
                                              bool initiator) {
    const auto& e_out = initiator ? ike.sk_ei : ike.sk_er;
    const auto& a_out = initiator ? ike.sk_ai : ike.sk_ar;
    const auto& e_in = initiator ? ike.sk_er : ike.sk_ei;
    const auto& a_in = initiator ? ike.sk_ar : ike.sk_ai;
    auto out = crypto::SkCipher::create(t.cipher, t.integ, e_out.reveal(), a_out.reveal());
    auto in = crypto::SkCipher::create(t.cipher, t.integ, e_in.reveal(), a_in.reveal());
    if (!out || !in) return nullptr;
    return std::unique_ptr<Keys>(new Keys{std::move(ike), std::move(*out), std::move(*in), {}, {}});
}

// ---------------------------------------------------------------------------------------------
// Scheduling and the public triggers

void IkeSa::run_due(TimePoint now) {
    if (state_ != SaState::established || pending_) return;
    if (!delete_queue_.empty()) {
        const std::vector<std::uint32_t> spis = std::exchange(delete_queue_, {});
        auto bytes = seal(header(ExchangeType::informational, false, next_request_id_),
                          {Payload{PayloadType::del, false, DeletePayload{ProtocolId::esp, spis}}});
        if (!bytes) return;
        send_request(std::move(*bytes), ExchangeType::informational, now);
        Exchange x;
        x.task = Task::delete_child;
        exchange_ = std::move(x);
        return;
    }
    if (ike_rekey_at_ && now >= *ike_rekey_at_ && !ike_candidate_) {
        if (ike_rekey_send(ike_selection_.transforms.dh, now)) return;
        ike_rekey_at_ = now + Millis{30000};
    }
    for (const Child& c : children_) {
        if (c.replaced || now < c.rekey_at) continue;
        const std::uint32_t spi = c.spi_in;
        if (child_rekey_send(spi, first_dh_group(settings_.esp_proposals), now)) return;
        if (Child* again = find_child_in(spi)) again->rekey_at = now + Millis{30000};
        return;
    }
}

bool IkeSa::rekey_child(TimePoint now) {
    now_ = now;
    if (state_ != SaState::established || pending_) return false;
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
        if (!it->replaced) {
            return child_rekey_send(it->spi_in, first_dh_group(settings_.esp_proposals), now);
        }
    }
    return false;
}

bool IkeSa::rekey_ike(TimePoint now) {
    now_ = now;
    if (state_ != SaState::established || pending_ || ike_candidate_) return false;
    return ike_rekey_send(ike_selection_.transforms.dh, now);
}

void IkeSa::on_child_expired(std::uint32_t spi_in, bool hard, TimePoint now) {
    now_ = now;
    Child* c = find_child_in(spi_in);
    if (!c) return;
    if (!hard) {
        if (!c->replaced) c->rekey_at = std::min(c->rekey_at, now);
    } else {
        remove_child(spi_in);
        delete_queue_.push_back(spi_in);
    }
    run_due(now);
}

// ---------------------------------------------------------------------------------------------
// Initiator

bool IkeSa::child_rekey_send(std::uint32_t spi_in, std::uint16_t group, TimePoint now,
                             std::vector<std::uint16_t> tried) {
    const Child* c = find_child_in(spi_in);
    if (!c || c->replaced || state_ != SaState::established || pending_) return false;
    auto spi = crypto::random_esp_spi(rng_);
    auto nonce = crypto::random_nonce(rng_);
    if (!spi || !nonce) return false;
    Exchange x;
    x.task = Task::rekey_child;
    x.child_spi_in = spi_in;
    x.new_spi_in = *spi;
    x.nonce = std::move(*nonce);
    if (group != 0) {
        auto ke = crypto::KeyExchange::generate(group);
        if (!ke) return false;
        x.ke.emplace(std::move(*ke));
        tried.push_back(group);
    }
    x.tried_groups = std::move(tried);
    x.sent =
        make_proposals(settings_.esp_proposals, ProtocolId::esp, spi4(x.new_spi_in), group != 0);
    std::vector<Payload> inner;
    inner.push_back(notify(NotifyType::rekey_sa, ProtocolId::esp, spi4(spi_in)));
    inner.push_back(Payload{PayloadType::sa, false, SaPayload{x.sent}});
    inner.push_back(Payload{PayloadType::nonce, false, NoncePayload{x.nonce}});
    if (x.ke) {
        inner.push_back(Payload{PayloadType::ke, false, KePayload{group, x.ke->public_value()}});
    }
    inner.push_back(Payload{PayloadType::tsi, false, c->ts_i});
    inner.push_back(Payload{PayloadType::tsr, false, c->ts_r});
    auto bytes = seal(header(ExchangeType::create_child_sa, false, next_request_id_), inner);
    if (!bytes) return false;
    send_request(std::move(*bytes), ExchangeType::create_child_sa, now);
    exchange_ = std::move(x);
    return true;
}

bool IkeSa::ike_rekey_send(std::uint16_t group, TimePoint now, std::vector<std::uint16_t> tried) {
    if (state_ != SaState::established || pending_) return false;
    auto spi = crypto::random_ike_spi(rng_);
    auto nonce = crypto::random_nonce(rng_);
    auto ke = crypto::KeyExchange::generate(group);
    if (!spi || !nonce || !ke) return false;
    Exchange x;
    x.task = Task::rekey_ike;
    x.new_ike_spi = *spi;
    x.nonce = std::move(*nonce);
    x.ke.emplace(std::move(*ke));
    tried.push_back(group);
    x.tried_groups = std::move(tried);
    x.sent = make_proposals(settings_.ike_proposals, ProtocolId::ike, spi8(x.new_ike_spi));
    std::vector<Payload> inner;
    inner.push_back(Payload{PayloadType::sa, false, SaPayload{x.sent}});
    inner.push_back(Payload{PayloadType::nonce, false, NoncePayload{x.nonce}});
    inner.push_back(Payload{PayloadType::ke, false, KePayload{group, x.ke->public_value()}});
    auto bytes = seal(header(ExchangeType::create_child_sa, false, next_request_id_), inner);
    if (!bytes) return false;
    send_request(std::move(*bytes), ExchangeType::create_child_sa, now);
    exchange_ = std::move(x);
    return true;
}

void IkeSa::create_child_handle_response(Exchange x, const std::vector<Payload>& inner,
                                         TimePoint now) {
    if (x.task == Task::rekey_child) {
        child_rekey_response(x, inner, now);
    } else if (x.task == Task::rekey_ike) {
        ike_rekey_response(x, inner, now);
    }
}

void IkeSa::child_rekey_response(Exchange& x, const std::vector<Payload>& inner, TimePoint now) {
    const std::uint32_t old_in = x.child_spi_in;
    std::optional<Collision> collision;
    if (child_collision_ && child_collision_->old_spi_in == old_in) {
        collision = std::exchange(child_collision_, std::nullopt);
    }
    auto retry_later = [&](const std::string& why, Millis delay) {
        if (Child* old = find_child_in(old_in); old && !old->replaced) old->rekey_at = now + delay;
        set_state(state_, "CHILD_SA rekey failed: " + why);
    };
    if (const NotifyPayload* err = first_error(inner)) {
        const std::uint16_t g = group_of(*err);
        if (err->type == NotifyType::invalid_ke_payload && find_child_in(old_in) &&
            offers_group(settings_.esp_proposals, g) &&
            std::find(x.tried_groups.begin(), x.tried_groups.end(), g) == x.tried_groups.end() &&
            child_rekey_send(old_in, g, now, x.tried_groups)) {
            return;
        }
        if (err->type == NotifyType::child_sa_not_found) {
            remove_child(old_in);  // the peer no longer has it
            set_state(state_, "CHILD_SA rekey: CHILD_SA_NOT_FOUND from peer, deleted");
            return;
        }
        // TEMPORARY_FAILURE (section 2.25): the peer is busy, try again in a few seconds.
        retry_later(std::string(to_string(err->type)) + " from peer",
                    err->type == NotifyType::temporary_failure ? Millis{2000} : Millis{30000});
        return;
    }
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    const auto* nonce = find_inner<NoncePayload>(inner, PayloadType::nonce);
    const auto* ke = find_inner<KePayload>(inner, PayloadType::ke);
    const auto* tsi = find_inner<TsPayload>(inner, PayloadType::tsi);
    const auto* tsr = find_inner<TsPayload>(inner, PayloadType::tsr);
    auto sel = sa ? check_chosen(*sa, x.sent, ProtocolId::esp) : std::nullopt;
    if (!sel || !nonce || !tsi || !tsr) {
        retry_later("malformed CREATE_CHILD_SA response", Millis{30000});
        return;
    }
    crypto::SecretBytes pfs;
    if (sel->transforms.dh != 0) {
        if (!ke || !x.ke || ke->group != sel->transforms.dh || x.ke->group() != ke->group) {
            retry_later("the peer's KE does not match the chosen PFS group", Millis{30000});
            return;
        }
        auto shared = x.ke->shared_secret(ke->data);
        if (!shared) {
            retry_later("invalid KE from peer", Millis{30000});
            return;
        }
        pfs = std::move(*shared);
    }
    const std::uint32_t spi_out = spi4_value(sel->chosen.spi);
    if (!install_child(sel->transforms, x.new_spi_in, spi_out, x.nonce, nonce->data, pfs.reveal(),
                       true, *tsi, *tsr)) {
        retry_later("CHILD_SA key derivation failed", Millis{30000});
        return;
    }
    ++child_rekeys_;
    if (collision) {
        // Both sides rekeyed the same CHILD_SA (section 2.8.1): the SA created by the exchange
        // with the lowest nonce is redundant; its initiator deletes it. The other initiator
        // deletes the old SA.
        if (less(lowest(x.nonce, nonce->data), lowest(collision->ni, collision->nr))) {
            if (Child* mine = find_child_in(x.new_spi_in)) mine->replaced = true;
            delete_child_send(x.new_spi_in, now);
        } else {
            if (Child* theirs = find_child_in(collision->new_spi_in)) theirs->replaced = true;
            if (find_child_in(old_in)) delete_child_send(old_in, now);
        }
        return;
    }
    if (Child* old = find_child_in(old_in)) {
        old->replaced = true;
        delete_child_send(old_in, now);
    }
}

void IkeSa::ike_rekey_response(Exchange& x, const std::vector<Payload>& inner, TimePoint now) {
    auto retry_later = [&](const std::string& why, Millis delay) {
        if (!ike_candidate_) ike_rekey_at_ = now + delay;
        set_state(state_, "IKE SA rekey failed: " + why);
    };
    if (const NotifyPayload* err = first_error(inner)) {
        const std::uint16_t g = group_of(*err);
        if (err->type == NotifyType::invalid_ke_payload &&
            offers_group(settings_.ike_proposals, g) &&
            std::find(x.tried_groups.begin(), x.tried_groups.end(), g) == x.tried_groups.end() &&
            ike_rekey_send(g, now, x.tried_groups)) {
            return;
        }
        // With a collision pending the peer's SA stays a candidate until it deletes the old one.
        retry_later(std::string(to_string(err->type)) + " from peer",
                    err->type == NotifyType::temporary_failure ? Millis{2000} : Millis{30000});
        return;
    }
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    const auto* nonce = find_inner<NoncePayload>(inner, PayloadType::nonce);
    const auto* ke = find_inner<KePayload>(inner, PayloadType::ke);
    auto sel = sa ? check_chosen(*sa, x.sent, ProtocolId::ike, 8) : std::nullopt;
    if (!sel || !nonce || !ke || !x.ke || ke->group != sel->transforms.dh ||
        ke->group != x.ke->group()) {
        retry_later("malformed CREATE_CHILD_SA response", Millis{30000});
        return;
    }
    auto shared = x.ke->shared_secret(ke->data);
    const std::uint64_t spi_r = spi8_value(sel->chosen.spi);
    if (!shared || spi_r == 0) {
        retry_later("invalid KE or SPI from peer", Millis{30000});
        return;
    }
    const ChosenTransforms& t = sel->transforms;
    auto derived = crypto::derive_rekeyed_ike_sa_keys(
        ike_selection_.transforms.prf, keys_->ike.sk_d.reveal(), {t.cipher, t.integ, t.prf},
        shared->reveal(), x.nonce, nonce->data, x.new_ike_spi, spi_r);
    if (!derived) {
        retry_later("IKE SA key derivation failed", Millis{30000});
        return;
    }
    export_ike_keys(x.new_ike_spi, spi_r, t, *derived);
    auto ctx = std::make_unique<IkeCtx>();
    ctx->initiator = true;
    ctx->spi_i = x.new_ike_spi;
    ctx->spi_r = spi_r;
    ctx->ni = x.nonce;
    ctx->nr = nonce->data;
    ctx->selection = *sel;
    ctx->keys = make_keys(t, std::move(*derived), true);
    if (!ctx->keys) {
        retry_later("IKE SA key derivation failed", Millis{30000});
        return;
    }
    ++ike_rekeys_;
    auto old = take_current();
    if (ike_candidate_ && ike_collision_) {
        // Both sides rekeyed the IKE SA (section 2.8.1).
        const bool ours_redundant =
            less(lowest(ctx->ni, ctx->nr), lowest(ike_collision_->ni, ike_collision_->nr));
        ike_collision_.reset();
        if (ours_redundant) {
            install_ike(std::move(ike_candidate_));
            retire(std::move(old), false, now);  // the peer deletes the old one
            retire(std::move(ctx), true, now);   // we delete ours
        } else {
            install_ike(std::move(ctx));
            retire(std::move(ike_candidate_), false, now);  // the peer deletes its own
            retire(std::move(old), true, now);
        }
        return;
    }
    install_ike(std::move(ctx));
    retire(std::move(old), true, now);
}

// The rekey's initiator deletes the old CHILD_SA (RFC 7296 section 2.8). A peer that rekeys
// again and again without doing so would pile them up, each installed in the dataplane until
// its hard lifetime: beyond kMaxReplacedChildren the oldest goes, and our Delete tells the peer.
// An SA that an exchange or a collision still refers to stays.
void IkeSa::drop_excess_replaced() {
    auto in_use = [&](std::uint32_t spi) {
        return (exchange_ && (exchange_->child_spi_in == spi || exchange_->new_spi_in == spi)) ||
               (child_collision_ &&
                (child_collision_->old_spi_in == spi || child_collision_->new_spi_in == spi));
    };
    std::size_t replaced = 0;
    for (const Child& c : children_) replaced += c.replaced ? 1 : 0;
    while (replaced > kMaxReplacedChildren) {
        auto it = std::find_if(children_.begin(), children_.end(),
                               [&](const Child& c) { return c.replaced && !in_use(c.spi_in); });
        if (it == children_.end()) return;
        const std::uint32_t spi = it->spi_in;
        remove_child(spi);
        delete_queue_.push_back(spi);
        --replaced;
    }
}

// ---------------------------------------------------------------------------------------------
// Responder

void IkeSa::create_child_handle_request(const Header& h, const std::vector<Payload>& inner,
                                        TimePoint now) {
    if (const NotifyPayload* rekey = find_notify(inner, NotifyType::rekey_sa)) {
        child_rekey_request(h, inner, *rekey, now);
        return;
    }
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    if (sa && !sa->proposals.empty() && sa->proposals.front().protocol == ProtocolId::ike) {
        ike_rekey_request(h, inner, now);
        return;
    }
    // A CHILD_SA in addition to the one we have: not supported (one route-based tunnel).
    respond_encrypted(h, {notify(NotifyType::no_additional_sas)});
}

void IkeSa::child_rekey_request(const Header& h, const std::vector<Payload>& inner,
                                const NotifyPayload& rekey, TimePoint now) {
    (void)now;
    Child* old =
        rekey.protocol == ProtocolId::esp ? find_child_out(spi4_value(rekey.spi)) : nullptr;
    if (!old) {
        respond_encrypted(h, {notify(NotifyType::child_sa_not_found, rekey.protocol, rekey.spi)});
        return;
    }
    // Being deleted, or the IKE SA is being rekeyed (section 2.25): not now.
    if (old->replaced || ike_candidate_ || (exchange_ && exchange_->task == Task::rekey_ike)) {
        respond_encrypted(h, {notify(NotifyType::temporary_failure)});
        return;
    }
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    const auto* nonce = find_inner<NoncePayload>(inner, PayloadType::nonce);
    const auto* ke = find_inner<KePayload>(inner, PayloadType::ke);
    const auto* tsi = find_inner<TsPayload>(inner, PayloadType::tsi);
    const auto* tsr = find_inner<TsPayload>(inner, PayloadType::tsr);
    if (!sa || !nonce || !tsi || !tsr) {
        respond_encrypted(h, {notify(NotifyType::invalid_syntax)});
        return;
    }
    auto sel = select_proposal(sa->proposals, settings_.esp_proposals, ProtocolId::esp);
    if (!sel) {
        respond_encrypted(h, {notify(NotifyType::no_proposal_chosen)});
        set_state(state_, "CHILD_SA rekey from peer refused: NO_PROPOSAL_CHOSEN sent");
        return;
    }
    const std::uint16_t group = sel->transforms.dh;
    if (group != 0 && (!ke || ke->group != group)) {
        respond_encrypted(
            h, {notify(NotifyType::invalid_ke_payload, ProtocolId::none, {}, group_data(group))});
        return;
    }
    auto spi = crypto::random_esp_spi(rng_);
    auto nr = crypto::random_nonce(rng_);
    if (!spi || !nr) return;
    crypto::SecretBytes pfs;
    std::optional<crypto::KeyExchange> our_ke;
    if (group != 0) {
        auto k = crypto::KeyExchange::generate(group);
        if (!k) return;
        auto shared = k->shared_secret(ke->data);
        if (!shared) {
            respond_encrypted(h, {notify(NotifyType::invalid_syntax)});
            return;
        }
        pfs = std::move(*shared);
        our_ke.emplace(std::move(*k));
    }
    const std::uint32_t spi_out = spi4_value(sel->chosen.spi);
    sel->chosen.spi = spi4(*spi);
    std::vector<Payload> out;
    out.push_back(Payload{PayloadType::sa, false, SaPayload{{sel->chosen}}});
    out.push_back(Payload{PayloadType::nonce, false, NoncePayload{*nr}});
    if (our_ke) {
        out.push_back(Payload{PayloadType::ke, false, KePayload{group, our_ke->public_value()}});
    }
    out.push_back(Payload{PayloadType::tsi, false, *tsi});
    out.push_back(Payload{PayloadType::tsr, false, *tsr});
    respond_encrypted(h, out);

    const std::uint32_t old_in = old->spi_in;
    if (!install_child(sel->transforms, *spi, spi_out, nonce->data, *nr, pfs.reveal(), false, *tsi,
                       *tsr)) {
        return;
    }
    ++child_rekeys_;
    if (Child* o = find_child_in(old_in)) o->replaced = true;  // the peer deletes it
    drop_excess_replaced();
    if (exchange_ && exchange_->task == Task::rekey_child && exchange_->child_spi_in == old_in) {
        child_collision_ = Collision{old_in, *spi, nonce->data, *nr};
    }
}

void IkeSa::ike_rekey_request(const Header& h, const std::vector<Payload>& inner, TimePoint now) {
    const bool colliding = exchange_ && exchange_->task == Task::rekey_ike;
    if (pending_ && !colliding) {
        if (pending_->liveness) {
            pending_.reset();  // the peer is alive; the old SA goes away anyway
        } else {
            respond_encrypted(h, {notify(NotifyType::temporary_failure)});
            return;
        }
    }
    if (ike_candidate_) {
        respond_encrypted(h, {notify(NotifyType::temporary_failure)});
        return;
    }
    const auto* sa = find_inner<SaPayload>(inner, PayloadType::sa);
    const auto* nonce = find_inner<NoncePayload>(inner, PayloadType::nonce);
    const auto* ke = find_inner<KePayload>(inner, PayloadType::ke);
    if (!sa || !nonce || !ke) {
        respond_encrypted(h, {notify(NotifyType::invalid_syntax)});
        return;
    }
    auto sel = select_proposal(sa->proposals, settings_.ike_proposals, ProtocolId::ike, false, 8);
    if (!sel) {
        respond_encrypted(h, {notify(NotifyType::no_proposal_chosen)});
        set_state(state_, "IKE SA rekey from peer refused: NO_PROPOSAL_CHOSEN sent");
        return;
    }
    const std::uint16_t group = sel->transforms.dh;
    if (ke->group != group) {
        respond_encrypted(
            h, {notify(NotifyType::invalid_ke_payload, ProtocolId::none, {}, group_data(group))});
        return;
    }
    auto our_ke = crypto::KeyExchange::generate(group);
    auto spi = crypto::random_ike_spi(rng_);
    auto nr = crypto::random_nonce(rng_);
    if (!our_ke || !spi || !nr) return;
    auto shared = our_ke->shared_secret(ke->data);
    const std::uint64_t spi_i = spi8_value(sel->chosen.spi);
    if (!shared || spi_i == 0) {
        respond_encrypted(h, {notify(NotifyType::invalid_syntax)});
        return;
    }
    const ChosenTransforms t = sel->transforms;
    auto derived = crypto::derive_rekeyed_ike_sa_keys(
        ike_selection_.transforms.prf, keys_->ike.sk_d.reveal(), {t.cipher, t.integ, t.prf},
        shared->reveal(), nonce->data, *nr, spi_i, *spi);
    if (!derived) return;
    export_ike_keys(spi_i, *spi, t, *derived);
    auto ctx = std::make_unique<IkeCtx>();
    ctx->initiator = false;
    ctx->spi_i = spi_i;
    ctx->spi_r = *spi;
    ctx->ni = nonce->data;
    ctx->nr = *nr;
    ctx->keys = make_keys(t, std::move(*derived), false);
    if (!ctx->keys) return;
    sel->chosen.spi = spi8(*spi);
    ctx->selection = *sel;
    respond_encrypted(h,
                      {Payload{PayloadType::sa, false, SaPayload{{sel->chosen}}},
                       Payload{PayloadType::nonce, false, NoncePayload{*nr}},
                       Payload{PayloadType::ke, false, KePayload{group, our_ke->public_value()}}});
    if (colliding) {
        // Our own rekey is outstanding: decide when its answer comes (section 2.8.1).
        ike_collision_ = Collision{0, 0, ctx->ni, ctx->nr};
        ike_candidate_ = std::move(ctx);
        return;
    }
    ++ike_rekeys_;
    auto old = take_current();
    install_ike(std::move(ctx));
    retire(std::move(old), false, now);  // the peer deletes the old IKE SA
}

// ---------------------------------------------------------------------------------------------
// Current and retired IKE SAs

std::unique_ptr<IkeSa::IkeCtx> IkeSa::take_current() {
    auto c = std::make_unique<IkeCtx>();
    c->initiator = initiator_;
    c->spi_i = spi_i_;
    c->spi_r = spi_r_;
    c->ni = std::move(ni_);
    c->nr = std::move(nr_);
    c->selection = std::move(ike_selection_);
    c->keys = std::move(keys_);
    c->next_request_id = next_request_id_;
    c->pending = std::exchange(pending_, std::nullopt);
    c->peer_next_id = peer_next_id_;
    c->cached = std::exchange(cached_response_, std::nullopt);
    return c;
}

// The new IKE SA takes over; the CHILD_SAs move with it (section 2.8). Message IDs restart.
void IkeSa::install_ike(std::unique_ptr<IkeCtx> c) {
    initiator_ = c->initiator;
    spi_i_ = c->spi_i;
    spi_r_ = c->spi_r;
    ni_ = std::move(c->ni);
    nr_ = std::move(c->nr);
    ike_selection_ = std::move(c->selection);
    keys_ = std::move(c->keys);
    next_request_id_ = c->next_request_id;
    pending_ = std::move(c->pending);
    peer_next_id_ = c->peer_next_id;
    cached_response_ = std::move(c->cached);
    if (!pending_) exchange_.reset();
    established_at_ = now_;
    ike_rekey_at_ = rekey_time(now_, settings_.ike_lifetime_s);
}

void IkeSa::retire(std::unique_ptr<IkeCtx> ctx, bool we_delete, TimePoint now) {
    if (!ctx || !ctx->keys) return;
    ctx->pending.reset();
    ctx->drop_at = now + Millis{60000};
    if (we_delete) {
        Header h;
        h.spi_i = ctx->spi_i;
        h.spi_r = ctx->spi_r;
        h.exchange = ExchangeType::informational;
        h.initiator = ctx->initiator;
        h.message_id = ctx->next_request_id;
        auto bytes = seal(*ctx->keys, h,
                          {Payload{PayloadType::del, false, DeletePayload{ProtocolId::ike, {}}}});
        if (bytes) {
            emit(*bytes);
            ctx->pending = Pending{std::move(*bytes),
                                   ExchangeType::informational,
                                   ctx->next_request_id,
                                   1,
                                   now + settings_.retransmit_timeouts.front(),
                                   settings_.retransmit_timeouts.size(),
                                   false};
            ++ctx->next_request_id;
        }
    }
    // The oldest goes first, its Delete exchange unfinished: it only waited for that.
    if (retired_.size() >= kMaxRetired) retired_.erase(retired_.begin());
    retired_.push_back(std::move(ctx));
}

IkeSa::IkeCtx* IkeSa::find_retired(std::uint64_t spi_i, std::uint64_t spi_r) {
    for (auto& r : retired_) {
        if (r->spi_i == spi_i && r->spi_r == spi_r) return r.get();
    }
    if (ike_candidate_ && ike_candidate_->spi_i == spi_i && ike_candidate_->spi_r == spi_r) {
        return ike_candidate_.get();
    }
    return nullptr;
}

// A message on an IKE SA that is not the current one: answers to our Delete, the peer's
// Delete, retransmitted requests (from the cache), anything else answered without effect.
void IkeSa::retired_handle(IkeCtx& ctx, const Header& h, std::span<const std::uint8_t> datagram,
                           TimePoint) {
    auto drop = [&] { std::erase_if(retired_, [&](const auto& r) { return r.get() == &ctx; }); };
    if (h.initiator == ctx.initiator) return;
    if (h.response) {
        if (!ctx.pending || h.message_id != ctx.pending->message_id) return;
        if (!open(*ctx.keys, datagram)) return;
        follow_ports();
        drop();  // our Delete of it was answered
        return;
    }
    if (ctx.cached && ctx.cached->message_id == h.message_id &&
        ctx.cached->exchange == h.exchange) {
        if (fragment_number(datagram) <= 1) emit_reply(ctx.cached->datagrams);
        return;
    }
    if (h.message_id != ctx.peer_next_id) return;
    auto inner = open(*ctx.keys, datagram);
    if (!inner) return;
    follow_ports();
    ++ctx.peer_next_id;
    bool delete_ike = false;
    std::vector<Payload> out;
    if (h.exchange == ExchangeType::create_child_sa) {
        out.push_back(notify(NotifyType::temporary_failure));
    } else {
        std::vector<std::uint32_t> ours;
        for (const Payload& p : *inner) {
            const auto* del = p.get<DeletePayload>();
            if (!del) continue;
            if (del->protocol == ProtocolId::ike) delete_ike = true;
            if (del->protocol != ProtocolId::esp) continue;
            for (std::uint32_t spi : del->spis) {
                if (const Child* c = find_child_out(spi)) ours.push_back(c->spi_in);
            }
        }
        if (!ours.empty()) {
            out.push_back(Payload{PayloadType::del, false, DeletePayload{ProtocolId::esp, ours}});
            for (std::uint32_t spi : ours) remove_child(spi);
        }
    }
    Header r;
    r.spi_i = ctx.spi_i;
    r.spi_r = ctx.spi_r;
    r.exchange = h.exchange;
    r.initiator = ctx.initiator;
    r.response = true;
    r.message_id = h.message_id;
    auto bytes = seal(*ctx.keys, r, out);
    if (bytes) {
        emit_reply(*bytes);
        ctx.cached = Cached{h.spi_i, h.spi_r, h.message_id, h.exchange, std::move(*bytes)};
    }
    if (delete_ike && &ctx != ike_candidate_.get()) drop();
}

void IkeSa::retired_timers(TimePoint now) {
    for (auto it = retired_.begin(); it != retired_.end();) {
        IkeCtx& c = **it;
        if (c.pending && now >= c.pending->deadline) {
            if (c.pending->transmissions < c.pending->max_transmissions) {
                emit(c.pending->datagrams);
                const auto& t = settings_.retransmit_timeouts;
                c.pending->deadline = now + t[std::min(c.pending->transmissions, t.size() - 1)];
                ++c.pending->transmissions;
            } else {
                c.pending.reset();
                c.drop_at = now;
            }
        }
        if (!c.pending && now >= c.drop_at) {
            it = retired_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace cgwd::ike
