#include "cgwd/bgp/session.hpp"

#include <algorithm>
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

Session::Session(SessionConfig config) : config_(std::move(config)) {}

Bytes Session::take_output() {
    return std::exchange(output_, {});
}
std::vector<SessionEvent> Session::take_events() {
    return std::exchange(events_, {});
}

std::optional<TimePoint> Session::next_deadline() const {
    std::optional<TimePoint> best;
    for (const auto& t : {connect_retry_at_, hold_at_, keepalive_at_}) {
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
    enter_connect_or_active(now, config_.passive ? SessionState::Active : SessionState::Connect);
}

void Session::stop(TimePoint, std::string_view communication) {
    if (state_ == SessionState::Idle) return;
    if (connected(state_)) {
        Notification n =
            communication.empty()
                ? Notification::make(ErrorCode::Cease, cease::kAdministrativeShutdown)
                : make_shutdown_notification(cease::kAdministrativeShutdown, communication);
        send(encode_notification(n));
        go_down(DownReason::Stopped, std::move(n));
        return;
    }
    go_down(DownReason::Stopped, std::nullopt);
}

void Session::terminate(Notification n, TimePoint) {
    if (state_ == SessionState::Idle) return;
    if (!connected(state_)) {
        go_down(DownReason::LocalReset, std::nullopt);
        return;
    }
    fail(std::move(n), DownReason::LocalReset);
}

void Session::on_tcp_connected(TimePoint now) {
    if (state_ != SessionState::Connect && state_ != SessionState::Active) return;
    framer_ = Framer{};
    connect_retry_at_.reset();
    keepalive_at_.reset();
    Open open;
    open.local_as = config_.local_as;
    open.hold_time = config_.hold_time;
    open.bgp_identifier = config_.bgp_identifier;
    open.capabilities.multiprotocol = config_.families;
    open.capabilities.route_refresh = config_.route_refresh;
    if (config_.four_octet_as) open.capabilities.four_octet_as = config_.local_as;
    open.capabilities.graceful_restart = config_.graceful_restart;
    send(encode_open(open));
    hold_at_ = now + config_.open_sent_hold;
    state_ = SessionState::OpenSent;
}

void Session::on_tcp_closed(TimePoint now) {
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
            go_down(DownReason::TcpClosed, std::nullopt);
            return;
    }
}

void Session::on_bytes(ByteView bytes, TimePoint now) {
    if (!connected(state_)) return;
    framer_.feed(bytes);
    while (connected(state_)) {
        auto next = framer_.next();
        if (!next) {
            fail(next.error(), DownReason::ProtocolError);
            return;
        }
        if (!*next) return;
        handle_message(**next, now);
    }
}

void Session::on_timer(TimePoint now) {
    if (connect_retry_at_ && *connect_retry_at_ <= now) {
        // Connect: retry the attempt; Active: start one (RFC 4271 section 8.2.2).
        enter_connect_or_active(now, SessionState::Connect);
    }
    if (hold_at_ && *hold_at_ <= now) {
        fail(Notification::make(ErrorCode::HoldTimerExpired, 0), DownReason::HoldTimerExpired);
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

void Session::fail(Notification n, DownReason reason) {
    send(encode_notification(n));
    go_down(reason, std::move(n));
}

void Session::go_down(DownReason reason, std::optional<Notification> n) {
    const bool had_connection = connected(state_);
    state_ = SessionState::Idle;
    connect_retry_at_.reset();
    hold_at_.reset();
    keepalive_at_.reset();
    hold_time_ = 0;
    pending_established_.reset();
    events_.emplace_back(SessionDown{reason, std::move(n)});
    if (had_connection) events_.emplace_back(CloseRequested{});
}

void Session::handle_message(const RawMessage& msg, TimePoint now) {
    if (msg.type == MessageType::Notification) {
        auto n = decode_notification(msg.body);
        go_down(DownReason::NotificationReceived, n ? std::optional(*n) : std::nullopt);
        return;
    }
    switch (state_) {
        case SessionState::OpenSent:
            if (msg.type == MessageType::Open) {
                handle_open(msg, now);
            } else {
                fail(Notification::make(ErrorCode::FsmError, kFsmUnexpectedInOpenSent),
                     DownReason::ProtocolError);
            }
            return;
        case SessionState::OpenConfirm:
            if (msg.type == MessageType::Keepalive) {
                state_ = SessionState::Established;
                arm_hold(now);
                events_.emplace_back(std::move(*pending_established_));
                pending_established_.reset();
            } else {
                fail(Notification::make(ErrorCode::FsmError, kFsmUnexpectedInOpenConfirm),
                     DownReason::ProtocolError);
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
                fail(std::move(update.error().notification), DownReason::ProtocolError);
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
                 DownReason::ProtocolError);
            return;
    }
}

void Session::handle_open(const RawMessage& msg, TimePoint now) {
    auto open = decode_open(msg.body);
    if (!open) {
        fail(std::move(open.error()), DownReason::ProtocolError);
        return;
    }
    const OpenPolicy policy{config_.peer_as, config_.bgp_identifier, config_.hold_time};
    if (auto ok = validate_open(*open, policy); !ok) {
        fail(std::move(ok.error()), DownReason::ProtocolError);
        return;
    }
    hold_time_ = negotiate_hold_time(config_.hold_time, open->hold_time);
    update_ctx_.four_octet_as =
        config_.four_octet_as && open->capabilities.four_octet_as.has_value();
    update_ctx_.external = open->effective_as() != config_.local_as;
    peer_capabilities_ = open->capabilities;
    pending_established_ = SessionEstablished{hold_time_, open->bgp_identifier,
                                              open->effective_as(), open->capabilities};
    send_keepalive(now);
    if (hold_time_ == 0) {
        hold_at_.reset();
    } else {
        arm_hold(now);
    }
    state_ = SessionState::OpenConfirm;
}

}  // namespace cgwd::bgp
