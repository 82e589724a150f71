// Sans-I/O BGP session finite state machine (RFC 4271 section 8).
//
// Inputs: start/stop, TCP connected/closed, received bytes and timer ticks, each with the
// current time (injected; nothing here reads a clock). Outputs: bytes to send, events (connect
// request, close request, Established, Down, routes received, route refresh), and the next
// deadline at which on_timer must be called.
//
// Transitions implemented (a subset of RFC 4271 section 8.2.2; no collision detection, no
// DelayOpen, no automatic restart -- the owner calls start() again after SessionDown):
//
//      +------+  start           +---------+ <---- ConnectRetry expiry: retry
//      | Idle |----------------->| Connect |       (ConnectRequested each time)
//      +------+  (passive: to    +---------+
//         ^       Active)          |      | TCP failed
//         |                        |      v
//         |                        |  +--------+  ConnectRetry expiry
//         |          TCP connected |  | Active |-----> Connect
//         |          (send OPEN)   |  +--------+
//         |                        v      | TCP connected (send OPEN)
//         |  error (NOTIFICATION  +----------+ <--+
//         |  sent), hold expiry,  | OpenSent |-------> Active on TCP closed
//         |  NOTIFICATION         +----------+
//         |  received, stop()          | valid OPEN: send KEEPALIVE,
//         |  -> SessionDown            v negotiate hold time
//         |<-----------------   +-------------+
//         |                     | OpenConfirm |
//         |                     +-------------+
//         |                            | KEEPALIVE: SessionEstablished
//         |                            v
//         |                     +-------------+ <--+ KEEPALIVE / UPDATE /
//         +---------------------| Established |    | ROUTE-REFRESH received:
//           (also TCP closed)   +-------------+ ---+ restart Hold timer
//
// Timers: ConnectRetry (Connect/Active), Hold (OpenSent: 4 minutes; then the negotiated value,
// restarted on every KEEPALIVE/UPDATE received), Keepalive (negotiated hold / 3, restarted on
// every KEEPALIVE or UPDATE sent). Hold time negotiation: min(local, peer); 0 disables both
// Hold and Keepalive timers; a peer value of 1 or 2 is refused with NOTIFICATION 2/6.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cgwd/bgp/framer.hpp"
#include "cgwd/bgp/open.hpp"
#include "cgwd/bgp/update.hpp"

namespace cgwd::bgp {

using TimePoint = std::chrono::steady_clock::time_point;
using Millis = std::chrono::milliseconds;

enum class SessionState : std::uint8_t {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established
};
[[nodiscard]] const char* to_string(SessionState s);

struct SessionConfig {
    std::uint32_t local_as = 0;
    std::uint32_t peer_as = 0;  // 0 accepts any peer AS
    std::uint32_t bgp_identifier = 0;
    std::uint16_t hold_time = 90;  // proposed in our OPEN
    std::chrono::seconds connect_retry{120};
    std::chrono::seconds open_sent_hold{240};  // RFC 4271 section 8.2.2: "large value"
    bool passive = false;                      // wait in Active instead of connecting
    std::vector<AfiSafi> families{kIpv4Unicast};
    bool route_refresh = true;
    bool four_octet_as = true;
    std::optional<GracefulRestart> graceful_restart;
};

// --- Events ------------------------------------------------------------------------------------
struct ConnectRequested {};  // the owner should open a TCP connection to the peer
struct CloseRequested {};    // the owner should close the TCP connection (after sending output)
struct SessionEstablished {
    std::uint16_t hold_time = 0;
    std::uint32_t peer_identifier = 0;
    std::uint32_t peer_as = 0;
    Capabilities peer_capabilities;
};
enum class DownReason : std::uint8_t {
    Stopped,
    TcpClosed,
    HoldTimerExpired,
    NotificationReceived,
    ProtocolError,  // we sent a NOTIFICATION for an error in what the peer sent
    LocalReset,     // the owner closed it with a NOTIFICATION of its choice (terminate())
};
struct SessionDown {
    DownReason reason = DownReason::Stopped;
    std::optional<Notification> notification;  // sent or received, per reason
};
struct RoutesReceived {
    Update update;
};
struct RouteRefreshReceived {
    RouteRefresh request;
};
using SessionEvent = std::variant<ConnectRequested, CloseRequested, SessionEstablished, SessionDown,
                                  RoutesReceived, RouteRefreshReceived>;

class Session {
  public:
    explicit Session(SessionConfig config);

    void start(TimePoint now);
    // Administrative stop: Cease/Administrative Shutdown with an RFC 9003 communication.
    void stop(TimePoint now, std::string_view communication = {});
    // Closes a connected session with the given NOTIFICATION, e.g. the RIB's RFC 4486
    // Cease / Maximum Number of Prefixes Reached; SessionDown{LocalReset}. No-op when idle.
    void terminate(Notification n, TimePoint now);
    void on_tcp_connected(TimePoint now);
    void on_tcp_closed(TimePoint now);
    void on_bytes(ByteView bytes, TimePoint now);
    void on_timer(TimePoint now);
    // Sends an UPDATE in Established; false if not Established or the message does not fit.
    [[nodiscard]] bool send_update(const Update& update, TimePoint now);
    // Sends a ROUTE-REFRESH in Established when the peer advertised the capability (RFC 2918).
    [[nodiscard]] bool send_route_refresh(const RouteRefresh& rr, TimePoint now);

    [[nodiscard]] std::optional<TimePoint> next_deadline() const;
    [[nodiscard]] SessionState state() const { return state_; }
    [[nodiscard]] std::uint16_t negotiated_hold_time() const { return hold_time_; }
    [[nodiscard]] const UpdateContext& update_context() const { return update_ctx_; }

    // Drain the outputs accumulated since the last call.
    [[nodiscard]] Bytes take_output();
    [[nodiscard]] std::vector<SessionEvent> take_events();

  private:
    void send(Bytes bytes);
    void send_keepalive(TimePoint now);
    void handle_message(const RawMessage& msg, TimePoint now);
    void handle_open(const RawMessage& msg, TimePoint now);
    void fail(Notification n, DownReason reason);
    void go_down(DownReason reason, std::optional<Notification> n);
    void arm_hold(TimePoint now);
    void arm_keepalive(TimePoint now);
    void enter_connect_or_active(TimePoint now, SessionState s);

    SessionConfig config_;
    SessionState state_ = SessionState::Idle;
    Framer framer_;
    Bytes output_;
    std::vector<SessionEvent> events_;
    std::optional<TimePoint> connect_retry_at_;
    std::optional<TimePoint> hold_at_;
    std::optional<TimePoint> keepalive_at_;
    std::uint16_t hold_time_ = 0;
    UpdateContext update_ctx_;
    std::optional<SessionEstablished> pending_established_;
    Capabilities peer_capabilities_;
};

}  // namespace cgwd::bgp
