#include "cgwd/bgp/session.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace cgwd::bgp {
namespace {

// RFC 6608 FSM error subcodes: unexpected message in OpenSent / OpenConfirm / Established.
constexpr std::uint8_t kFsmUnexpectedInOpenSent = 1;
constexpr std::uint8_t kFsmUnexpectedInOpenConfirm = 2;
constexpr std::uint8_t kFsmUnexpectedInEstablished = 3;

bool connected(SessionState s) {
    return s == SessionState::OpenSent || s == SessionState::OpenConfirm ||
           s == SessionState::Established;
}

bool contains(const std::vector<AfiSafi>& v, AfiSafi af) {
    return std::find(v.begin(), v.end(), af) != v.end();
}

Notification collision_cease() {
    return Notification::make(ErrorCode::Cease, cease::kConnectionCollisionResolution);
}

}  // namespace

const char* to_string(SessionState s) {
    switch (s) {
        case SessionState::Idle:
            return "Idle";
        case SessionState::Connect:
            return "Connect";
        case SessionState::Active:
            return "Active";
        case SessionState::OpenSent:
            return "OpenSent";
        case SessionState::OpenConfirm:
            return "OpenConfirm";
        case SessionState::Established:
            return "Established";
    }
    return "?";
}

const char* to_string(StaleReason r) {
    switch (r) {
        case StaleReason::EndOfRib:
            return "end-of-rib";
        case StaleReason::RestartTimerExpired:
            return "restart-timer-expired";
        case StaleReason::StaleTimerExpired:
            return "stale-timer-expired";
        case StaleReason::NotPreserved:
            return "not-preserved";
        case StaleReason::SessionFailed:
            return "session-failed";
    }
    return "?";
}

Session::Session(SessionConfig config) : config_(std::move(config)) {}

Bytes Session::take_output() {
    return std::exchange(output_, {});
}
Bytes Session::take_second_output() {
    return std::exchange(second_output_, {});
}
std::vector<SessionEvent> Session::take_events() {
    return std::exchange(events_, {});
}

std::optional<TimePoint> Session::next_deadline() const {
    std::optional<TimePoint> best;
    for (const auto& t : {connect_retry_at_, hold_at_, keepalive_at_, restart_at_, stale_at_,
                          idle_hold_at_, stable_at_}) {
        if (t && (!best || *t < *best)) best = t;
    }
    return best;
}

void Session::send(Bytes bytes) {
    output_.insert(output_.end(), bytes.begin(), bytes.end());
}

void Session::arm_hold(TimePoint now) {
    if (hold_time_ == 0) {
        hold_at_.reset();
    } else {
        hold_at_ = now + std::chrono::seconds(hold_time_);
    }
}

void Session::arm_keepalive(TimePoint now) {
    if (hold_time_ == 0) {
        keepalive_at_.reset();
    } else {
        // RFC 4271 section 10: KeepaliveTime is one third of the Hold Time.
        keepalive_at_ = now + Millis(std::uint32_t{hold_time_} * 1000u / 3u);
    }
}

void Session::send_keepalive(TimePoint now) {
    send(encode_keepalive());
    arm_keepalive(now);
}

void Session::enter_connect_or_active(TimePoint now, SessionState s) {
    state_ = s;
    hold_at_.reset();
    keepalive_at_.reset();
    if (s == SessionState::Connect) {
        events_.emplace_back(ConnectRequested{});
        connect_retry_at_ = now + config_.connect_retry;
    } else if (config_.passive) {
        connect_retry_at_.reset();  // a passive session only waits for the peer
    } else {
        connect_retry_at_ = now + config_.connect_retry;
    }
}

void Session::start(TimePoint now) {
    if (state_ != SessionState::Idle) return;
    idle_hold_at_.reset();  // ManualStart is not damped
    enter_connect_or_active(now, config_.passive ? SessionState::Active : SessionState::Connect);
}

void Session::stop(TimePoint now, std::string_view communication) {
    idle_hold_at_.reset();  // no automatic restart after an administrative stop
    if (state_ == SessionState::Idle) return;
    if (connected(state_)) {
        Notification n =
            communication.empty()
                ? Notification::make(ErrorCode::Cease, cease::kAdministrativeShutdown)
                : make_shutdown_notification(cease::kAdministrativeShutdown, communication);
        send(encode_notification(n));
        go_down(DownReason::Stopped, std::move(n), now);
        return;
    }
    go_down(DownReason::Stopped, std::nullopt, now);
}

void Session::terminate(Notification n, TimePoint now, Millis restart_after) {
    if (state_ == SessionState::Idle) return;
    if (!connected(state_)) {
        go_down(DownReason::LocalReset, std::nullopt, now, restart_after);
        return;
    }
    fail(std::move(n), DownReason::LocalReset, now, restart_after);
}

Open Session::make_open() const {
    Open open;
    open.local_as = config_.local_as;
    open.hold_time = config_.hold_time;
    open.bgp_identifier = config_.bgp_identifier;
    open.capabilities.multiprotocol = config_.families;
    open.capabilities.route_refresh = config_.route_refresh;
    if (config_.four_octet_as) open.capabilities.four_octet_as = config_.local_as;
    open.capabilities.graceful_restart = config_.graceful_restart;
    return open;
}

// RFC 4271 section 6.8: the connection initiated by the speaker with the higher BGP Identifier
// (compared as host-order unsigned integers) survives.
bool Session::keep_outgoing(std::uint32_t peer_identifier) const {
    return config_.bgp_identifier > peer_identifier;
}

ConnectionSlot Session::on_tcp_connected(TimePoint now, ConnectionDirection dir) {
    if (state_ == SessionState::Idle && idle_hold_at_) return ConnectionSlot::Refused;
    if (state_ == SessionState::Connect || state_ == SessionState::Active) {
        framer_ = Framer{};
        first_dir_ = dir;
        connect_retry_at_.reset();
        keepalive_at_.reset();
        send(encode_open(make_open()));
        hold_at_ = now + config_.open_sent_hold;
        state_ = SessionState::OpenSent;
        return ConnectionSlot::First;
    }
    if (second_) return ConnectionSlot::Refused;  // a third one: nowhere to put it
    second_output_.clear();
    if (!connected(state_) || state_ == SessionState::Established || dir == first_dir_) {
        // Idle, Established (RFC 4271 section 6.8: the Established connection wins), or the
        // same direction twice: refuse the new one.
        second_output_ = encode_notification(collision_cease());
        events_.emplace_back(CloseSecond{});
        return ConnectionSlot::Second;
    }
    second_ = Second{dir, Framer{}};
    second_output_ = encode_open(make_open());
    if (state_ == SessionState::OpenConfirm) {
        // The peer's identifier is known already: resolve now.
        const auto winner = keep_outgoing(pending_established_->peer_identifier)
                                ? ConnectionDirection::Outgoing
                                : ConnectionDirection::Incoming;
        if (first_dir_ == winner) {
            drop_second(collision_cease());
        } else {
            promote_second(encode_notification(collision_cease()), now);
        }
    }
    return ConnectionSlot::Second;
}

void Session::drop_second(Notification n) {
    second_output_ = encode_notification(n);
    second_.reset();
    events_.emplace_back(CloseSecond{});
}

void Session::promote_second(Bytes first_last_words, TimePoint now) {
    framer_ = std::move(second_->framer);
    first_dir_ = second_->dir;
    second_.reset();
    output_ = std::exchange(second_output_, {});  // its OPEN, if not taken yet
    state_ = SessionState::OpenSent;
    hold_time_ = 0;
    keepalive_at_.reset();
    connect_retry_at_.reset();
    pending_established_.reset();
    hold_at_ = now + config_.open_sent_hold;
    events_.emplace_back(PromoteSecond{std::move(first_last_words)});
}

void Session::on_tcp_closed(TimePoint now, ConnectionSlot slot) {
    if (slot == ConnectionSlot::Second) {
        second_.reset();
        second_output_.clear();
        return;
    }
    if (second_ && (state_ == SessionState::OpenSent || state_ == SessionState::OpenConfirm)) {
        promote_second({}, now);  // the other connection carries on
        return;
    }
    switch (state_) {
        case SessionState::Idle:
            return;
        case SessionState::Connect:
        case SessionState::Active:
        case SessionState::OpenSent:
            // RFC 4271 section 8.2.2: back to Active, ConnectRetry running.
            enter_connect_or_active(now, SessionState::Active);
            return;
        case SessionState::OpenConfirm:
        case SessionState::Established:
            go_down(DownReason::TcpClosed, std::nullopt, now);
            return;
    }
}

void Session::on_bytes(ByteView bytes, TimePoint now, ConnectionSlot slot) {
    if (slot == ConnectionSlot::Second) {
        if (!second_) return;
        second_->framer.feed(bytes);
        while (second_) {
            auto next = second_->framer.next();
            if (!next) {
                drop_second(next.error());
                return;
            }
            if (!*next) return;
            handle_second(**next, now);
        }
        return;
    }
    if (!connected(state_)) return;
    framer_.feed(bytes);
    while (connected(state_)) {
        auto next = framer_.next();
        if (!next) {
            fail(next.error(), DownReason::ProtocolError, now);
            return;
        }
        if (!*next) return;
        handle_message(**next, now);
    }
}

void Session::on_timer(TimePoint now) {
    if (restart_at_ && *restart_at_ <= now) {
        restart_at_.reset();
        flush_stale(stale_, StaleReason::RestartTimerExpired);
    }
    if (stale_at_ && *stale_at_ <= now) {
        stale_at_.reset();
        flush_stale(stale_, StaleReason::StaleTimerExpired);
    }
    if (stable_at_ && *stable_at_ <= now) {
        stable_at_.reset();
        failures_ = 0;  // a stable session: the next failure is a first one again
    }
    if (idle_hold_at_ && *idle_hold_at_ <= now) {
        // RFC 4271 section 8.2.2, Idle: IdleHoldTimer expiry, then AutomaticStart.
        idle_hold_at_.reset();
        if (state_ == SessionState::Idle) {
            enter_connect_or_active(now,
                                    config_.passive ? SessionState::Active : SessionState::Connect);
        }
    }
    if (connect_retry_at_ && *connect_retry_at_ <= now) {
        // Connect: retry the attempt; Active: start one (RFC 4271 section 8.2.2).
        enter_connect_or_active(now, SessionState::Connect);
    }
    if (hold_at_ && *hold_at_ <= now) {
        fail(Notification::make(ErrorCode::HoldTimerExpired, 0), DownReason::HoldTimerExpired, now);
        return;
    }
    if (keepalive_at_ && *keepalive_at_ <= now) send_keepalive(now);
}

bool Session::send_update(const Update& update, TimePoint now) {
    if (state_ != SessionState::Established) return false;
    auto bytes = encode_update(update, update_ctx_);
    if (!bytes) return false;
    send(std::move(*bytes));
    arm_keepalive(now);  // RFC 4271 section 4.4: UPDATEs also keep the session alive
    return true;
}

bool Session::send_route_refresh(const RouteRefresh& rr, TimePoint) {
    if (state_ != SessionState::Established || !peer_capabilities_.route_refresh) return false;
    send(encode_route_refresh(rr));
    return true;
}

bool Session::send_end_of_rib(TimePoint now) {
    if (state_ != SessionState::Established) return false;
    for (const AfiSafi& af : config_.families) {
        if (peer_capabilities_.supports(af)) send(encode_end_of_rib(af));
    }
    arm_keepalive(now);
    return true;
}

void Session::fail(Notification n, DownReason reason, TimePoint now, Millis min_idle_hold) {
    send(encode_notification(n));
    go_down(reason, std::move(n), now, min_idle_hold);
}

void Session::flush_stale(std::vector<AfiSafi> families, StaleReason why) {
    std::erase_if(families, [this](AfiSafi af) { return !contains(stale_, af); });
    if (families.empty()) return;
    std::erase_if(stale_, [&families](AfiSafi af) { return contains(families, af); });
    if (stale_.empty()) {
        restart_at_.reset();
        stale_at_.reset();
    }
    events_.emplace_back(StaleRoutesExpired{std::move(families), why});
}

// RFC 4271 section 8.1.1 DampPeerOscillations: one more failure; the idle hold doubles with
// each failure in a row, capped, and starts again from `initial` after a stable session.
Millis Session::damp(bool was_established, TimePoint now) {
    const auto& d = *config_.damp_peer_oscillations;
    if (was_established && stable_at_ && *stable_at_ <= now) failures_ = 0;
    if (failures_ < std::numeric_limits<std::uint32_t>::max()) ++failures_;
    Millis hold = d.initial;
    for (std::uint32_t i = 1; i < failures_ && hold > Millis{0} && hold < d.max; ++i) hold *= 2;
    hold = std::min(hold, d.max);
    idle_hold_at_ = now + hold;
    last_idle_hold_ = hold;
    return hold;
}

void Session::go_down(DownReason reason, std::optional<Notification> n, TimePoint now,
                      Millis min_idle_hold) {
    const bool had_connection = connected(state_);
    const bool was_established = state_ == SessionState::Established;
    std::optional<Millis> idle_hold;
    if (reason != DownReason::Stopped && config_.damp_peer_oscillations) {
        idle_hold = damp(was_established, now);
    }
    // terminate(..., restart_after): Idle at least that long, then an automatic start.
    if (min_idle_hold > Millis{0} && (!idle_hold || *idle_hold < min_idle_hold)) {
        idle_hold = min_idle_hold;
        idle_hold_at_ = now + min_idle_hold;
        last_idle_hold_ = min_idle_hold;
    }
    stable_at_.reset();
    state_ = SessionState::Idle;
    connect_retry_at_.reset();
    hold_at_.reset();
    keepalive_at_.reset();
    hold_time_ = 0;
    pending_established_.reset();
    if (second_) {
        second_.reset();
        events_.emplace_back(CloseSecond{});
    }
    SessionDown down{reason, std::move(n), {}, idle_hold, failures_};
    // RFC 4724 section 4.2: the session ended without a NOTIFICATION exchange (hold timer expiry
    // sends one, but a restarting peer cannot read it).
    const bool silent = reason == DownReason::TcpClosed || reason == DownReason::HoldTimerExpired;
    const auto& peer_gr = peer_capabilities_.graceful_restart;
    if (silent && was_established && config_.graceful_restart && peer_gr &&
        peer_gr->restart_time > 0) {
        std::vector<AfiSafi> keep;
        for (const auto& f : peer_gr->families) {
            if (contains(config_.families, f.af) && peer_capabilities_.supports(f.af) &&
                !contains(keep, f.af)) {
                keep.push_back(f.af);
            }
        }
        if (!keep.empty()) {
            stale_ = keep;  // families no longer listed go with the non-retained routes
            restart_at_ = now + std::chrono::seconds(peer_gr->restart_time);
            stale_at_.reset();
            down.stale_families = std::move(keep);
        }
    }
    if (!silent) flush_stale(stale_, StaleReason::SessionFailed);
    events_.emplace_back(std::move(down));
    if (had_connection) events_.emplace_back(CloseRequested{});
}

// The restarted peer's OPEN (RFC 4724 section 4.2): the restart timer stops; families it no
// longer preserves are flushed now, the rest once its End-of-RIB arrives (or stale_time).
void Session::stale_after_open(const Open& open, TimePoint now) {
    if (stale_.empty()) return;
    restart_at_.reset();
    std::vector<AfiSafi> gone;
    const auto& gr = open.capabilities.graceful_restart;
    for (const AfiSafi af : stale_) {
        const bool preserved =
            gr && std::any_of(gr->families.begin(), gr->families.end(),
                              [af](const auto& f) { return f.af == af && f.forwarding_preserved; });
        if (!preserved) gone.push_back(af);
    }
    flush_stale(std::move(gone), StaleReason::NotPreserved);
    if (!stale_.empty()) stale_at_ = now + config_.stale_time;
}

void Session::handle_second(const RawMessage& msg, TimePoint now) {
    if (msg.type == MessageType::Notification) {
        second_.reset();  // the peer resolved the collision its way
        second_output_.clear();
        events_.emplace_back(CloseSecond{});
        return;
    }
    if (msg.type != MessageType::Open) {
        drop_second(Notification::make(ErrorCode::FsmError, kFsmUnexpectedInOpenSent));
        return;
    }
    auto open = decode_open(msg.body);
    if (!open) {
        drop_second(std::move(open.error()));
        return;
    }
    const OpenPolicy policy{config_.peer_as, config_.bgp_identifier, config_.hold_time};
    if (auto ok = validate_open(*open, policy); !ok) {
        drop_second(std::move(ok.error()));
        return;
    }
    const auto winner = keep_outgoing(open->bgp_identifier) ? ConnectionDirection::Outgoing
                                                            : ConnectionDirection::Incoming;
    if (second_->dir != winner) {
        drop_second(collision_cease());
        return;
    }
    promote_second(encode_notification(collision_cease()), now);
    accept_open(*open, now);
}

void Session::handle_message(const RawMessage& msg, TimePoint now) {
    if (msg.type == MessageType::Notification) {
        if (second_ && state_ != SessionState::Established) {
            promote_second({}, now);  // e.g. the peer closed this one to resolve a collision
            return;
        }
        auto n = decode_notification(msg.body);
        go_down(DownReason::NotificationReceived, n ? std::optional(*n) : std::nullopt, now);
        return;
    }
    switch (state_) {
        case SessionState::OpenSent:
            if (msg.type == MessageType::Open) {
                handle_open(msg, now);
            } else {
                fail(Notification::make(ErrorCode::FsmError, kFsmUnexpectedInOpenSent),
                     DownReason::ProtocolError, now);
            }
            return;
        case SessionState::OpenConfirm:
            if (msg.type == MessageType::Keepalive) {
                state_ = SessionState::Established;
                arm_hold(now);
                if (config_.damp_peer_oscillations)
                    stable_at_ = now + config_.damp_peer_oscillations->stable;
                events_.emplace_back(std::move(*pending_established_));
                pending_established_.reset();
            } else {
                fail(Notification::make(ErrorCode::FsmError, kFsmUnexpectedInOpenConfirm),
                     DownReason::ProtocolError, now);
            }
            return;
        case SessionState::Established:
            break;
        default:
            return;
    }
    switch (msg.type) {
        case MessageType::Keepalive:
            arm_hold(now);
            return;
        case MessageType::Update: {
            arm_hold(now);
            auto update = decode_update(msg.body, update_ctx_);
            if (!update) {
                fail(std::move(update.error().notification), DownReason::ProtocolError, now);
                return;
            }
            if (auto eor = update->end_of_rib()) {
                events_.emplace_back(EndOfRibReceived{*eor});
                flush_stale({*eor}, StaleReason::EndOfRib);
                return;
            }
            events_.emplace_back(RoutesReceived{std::move(*update)});
            return;
        }
        case MessageType::RouteRefresh: {
            arm_hold(now);
            auto rr = decode_route_refresh(msg.body);
            // RFC 2918 section 4: a request for a family not advertised is ignored.
            if (rr && std::find(config_.families.begin(), config_.families.end(),
                                AfiSafi{rr->afi, rr->safi}) != config_.families.end()) {
                events_.emplace_back(RouteRefreshReceived{*rr});
            }
            return;
        }
        default:
            fail(Notification::make(ErrorCode::FsmError, kFsmUnexpectedInEstablished),
                 DownReason::ProtocolError, now);
            return;
    }
}

void Session::handle_open(const RawMessage& msg, TimePoint now) {
    auto open = decode_open(msg.body);
    if (!open) {
        fail(std::move(open.error()), DownReason::ProtocolError, now);
        return;
    }
    const OpenPolicy policy{config_.peer_as, config_.bgp_identifier, config_.hold_time};
    if (auto ok = validate_open(*open, policy); !ok) {
        fail(std::move(ok.error()), DownReason::ProtocolError, now);
        return;
    }
    if (second_) {
        // RFC 4271 section 6.8, resolved with the identifier from this OPEN.
        const auto winner = keep_outgoing(open->bgp_identifier) ? ConnectionDirection::Outgoing
                                                                : ConnectionDirection::Incoming;
        if (first_dir_ != winner && second_->dir == winner) {
            promote_second(encode_notification(collision_cease()), now);
            return;
        }
        drop_second(collision_cease());
    }
    accept_open(*open, now);
}

void Session::accept_open(const Open& open, TimePoint now) {
    hold_time_ = negotiate_hold_time(config_.hold_time, open.hold_time);
    update_ctx_.four_octet_as =
        config_.four_octet_as && open.capabilities.four_octet_as.has_value();
    update_ctx_.external = open.effective_as() != config_.local_as;
    peer_capabilities_ = open.capabilities;
    pending_established_ =
        SessionEstablished{hold_time_, open.bgp_identifier, open.effective_as(), open.capabilities};
    stale_after_open(open, now);
    send_keepalive(now);
    if (hold_time_ == 0) {
        hold_at_.reset();
    } else {
        arm_hold(now);
    }
    state_ = SessionState::OpenConfirm;
}

}  // namespace cgwd::bgp
