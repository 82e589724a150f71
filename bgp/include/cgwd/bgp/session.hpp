// Sans-I/O BGP session finite state machine (RFC 4271 section 8).
//
// Inputs: start/stop, TCP connected/closed, received bytes and timer ticks, each with the
// current time (injected; nothing here reads a clock). Outputs: bytes to send, events (connect
// request, close request, Established, Down, routes received, route refresh, End-of-RIB, stale
// route flushes, collision outcomes), and the next deadline at which on_timer must be called.
//
// Transitions implemented (a subset of RFC 4271 section 8.2.2; no DelayOpen; automatic restart
// only with `damp_peer_oscillations`, below -- otherwise the owner calls start() again after
// SessionDown):
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
// every KEEPALIVE or UPDATE sent), Restart and Stale (graceful restart, below; they run across
// Idle and the restarted session). Hold time negotiation: min(local, peer); 0 disables both
// Hold and Keepalive timers; a peer value of 1 or 2 is refused with NOTIFICATION 2/6.
//
// Connection collision (RFC 4271 section 6.8): a second TCP connection (on_tcp_connected while
// OpenSent/OpenConfirm) gets its own OPEN and framer (ConnectionSlot::Second). As soon as the
// peer's BGP identifier is known (an OPEN on either connection, or already in OpenConfirm) the
// connection initiated by the side with the higher identifier is kept; the other one gets CEASE /
// Connection Collision Resolution (6/7) and is closed: CloseSecond, or PromoteSecond when the
// second connection wins (it then becomes the only one). A connection arriving in Established
// is refused with 6/7 at once.
//
// Graceful restart, receiving speaker ("helper", RFC 4724 section 4.2), when `graceful_restart`
// is configured (we advertise the capability) and the peer advertised it with a non-zero restart
// time: an Established session ending without a NOTIFICATION (TCP closed, hold timer expiry)
// reports SessionDown::stale_families -- the owner keeps those routes as stale -- and starts the
// restart timer (the peer's Restart Time). The peer's next OPEN stops it; families missing from
// that OPEN's capability or without the F bit are flushed at once, the others when the peer's
// End-of-RIB for them arrives, or all when `stale_time` runs out. Restart timer expiry flushes
// everything stale. A NOTIFICATION either way, stop() or terminate() flushes at once.
// Flushes are StaleRoutesExpired events. send_end_of_rib sends our End-of-RIB markers.
//
// Peer oscillation damping (RFC 4271 section 8.1.1 DampPeerOscillations, the IdleHoldTimer of
// 8.1.3 / IdleHoldTime of 8.2.1.3), when `damp_peer_oscillations` is set: every transition to
// Idle other than stop() is a failure. It counts one more consecutive failure -- unless the
// session had been Established for `stable` or longer, which starts the count again -- and the
// session restarts by itself (AutomaticStart) once the idle hold has run out:
//     idle hold = min(initial * 2^(failures - 1), max)    e.g. 1, 2, 4, ... 64, 120, 120 s
// SessionDown::idle_hold / consecutive_failures report it. While it runs the session stays Idle
// and an incoming connection is Refused (the owner closes it unanswered), so a flapping peer
// cannot bypass the damping by connecting to us. Staying Established for `stable` also resets
// the count while up (a timer). A TCP connection failing before the peer's OPEN (Connect,
// Active, OpenSent) is not a failure (RFC 4271 section 8.2.2: back to Active, ConnectRetry).
// start() is the ManualStart: it cancels a running idle hold and starts at once; stop() cancels
// it too and there is no automatic restart after it. The failure count survives both.
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
    // RFC 4724: advertised as is (helper: restart_state false, families without F bit) and
    // enables the helper procedures above. nullopt: no capability, routes withdrawn at once.
    std::optional<GracefulRestart> graceful_restart;
    std::chrono::seconds stale_time{360};  // after the restart: longest wait for End-of-RIB
    // RFC 4271 section 8.1.1 DampPeerOscillations (see above). nullopt: no automatic restart.
    struct IdleHold {
        Millis initial{1000};  // after the first failure
        Millis max{120000};    // cap of the doubling
        Millis stable{60000};  // Established this long: the next failure counts as the first
    };
    std::optional<IdleHold> damp_peer_oscillations;
};

enum class ConnectionDirection : std::uint8_t { Outgoing, Incoming };
// Where a new TCP connection goes. Refused: a second connection is already pending; the owner
// closes the new one without sending anything.
enum class ConnectionSlot : std::uint8_t { First, Second, Refused };

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
    // Graceful restart (RFC 4724 section 4.2): keep the peer's routes of these families as
    // stale (Rib::peer_down_graceful); empty: withdraw everything (Rib::peer_down).
    std::vector<AfiSafi> stale_families;
    // Peer oscillation damping: the automatic restart comes after this (nullopt: none, e.g.
    // after stop() or without `damp_peer_oscillations`) and the failures in a row so far.
    std::optional<Millis> idle_hold;
    std::uint32_t consecutive_failures = 0;
};
// RFC 4724 section 2: the peer finished its initial (or post-restart) advertisement.
struct EndOfRibReceived {
    AfiSafi family;
};
enum class StaleReason : std::uint8_t {
    EndOfRib,             // the peer re-announced what it still has
    RestartTimerExpired,  // the peer did not come back within its Restart Time
    StaleTimerExpired,    // it came back but sent no End-of-RIB within stale_time
    NotPreserved,         // its new OPEN lacks the family or the F bit
    SessionFailed,        // the new session ended with a NOTIFICATION (or stop/terminate)
};
// Remove the peer's routes of `families` that are still stale (Rib::flush_stale).
struct StaleRoutesExpired {
    std::vector<AfiSafi> families;
    StaleReason reason = StaleReason::EndOfRib;
};
// Collision resolution (RFC 4271 section 6.8). CloseSecond: write take_second_output() to the
// second connection, then close it. PromoteSecond: write `first_last_words` (the 6/7
// NOTIFICATION, may be empty) to the first connection and close it; the second connection
// becomes the session's connection (take_output / on_bytes / on_tcp_closed with
// ConnectionSlot::First from now on). Handle events before writing take_output().
struct CloseSecond {};
struct PromoteSecond {
    Bytes first_last_words;
};
struct RoutesReceived {
    Update update;
};
struct RouteRefreshReceived {
    RouteRefresh request;
};
using SessionEvent = std::variant<ConnectRequested, CloseRequested, SessionEstablished, SessionDown,
                                  RoutesReceived, RouteRefreshReceived, EndOfRibReceived,
                                  StaleRoutesExpired, CloseSecond, PromoteSecond>;
[[nodiscard]] const char* to_string(StaleReason r);

class Session {
  public:
    explicit Session(SessionConfig config);

    void start(TimePoint now);
    // Administrative stop: Cease/Administrative Shutdown with an RFC 9003 communication.
    void stop(TimePoint now, std::string_view communication = {});
    // Closes a connected session with the given NOTIFICATION, e.g. the RIB's RFC 4486
    // Cease / Maximum Number of Prefixes Reached; SessionDown{LocalReset}. No-op when idle.
    // `restart_after` (not 0): the session stays Idle at least that long (incoming connections
    // refused), then starts again by itself (a max-prefix restart timer).
    void terminate(Notification n, TimePoint now, Millis restart_after = Millis{0});
    // A TCP connection came up. In Connect/Active it is the session's connection (First); in
    // OpenSent/OpenConfirm/Established it is a colliding one (Second, see above). `dir` says
    // who initiated it (the collision winner is chosen by it). Refused while the idle hold of
    // peer oscillation damping runs (the owner closes it without sending anything).
    ConnectionSlot on_tcp_connected(TimePoint now,
                                    ConnectionDirection dir = ConnectionDirection::Outgoing);
    void on_tcp_closed(TimePoint now, ConnectionSlot slot = ConnectionSlot::First);
    void on_bytes(ByteView bytes, TimePoint now, ConnectionSlot slot = ConnectionSlot::First);
    void on_timer(TimePoint now);
    // Sends an UPDATE in Established; false if not Established or the message does not fit.
    [[nodiscard]] bool send_update(const Update& update, TimePoint now);
    // Sends a ROUTE-REFRESH in Established when the peer advertised the capability (RFC 2918).
    [[nodiscard]] bool send_route_refresh(const RouteRefresh& rr, TimePoint now);
    // RFC 4724 section 2: End-of-RIB for every family both sides negotiated (IPv4: empty UPDATE;
    // others: empty MP_UNREACH_NLRI). Send after the initial advertisement. False unless
    // Established.
    [[nodiscard]] bool send_end_of_rib(TimePoint now);
    [[nodiscard]] bool has_second_connection() const { return second_.has_value(); }
    [[nodiscard]] const std::vector<AfiSafi>& stale_families() const { return stale_; }

    [[nodiscard]] std::optional<TimePoint> next_deadline() const;
    [[nodiscard]] SessionState state() const { return state_; }
    [[nodiscard]] std::uint16_t negotiated_hold_time() const { return hold_time_; }
    [[nodiscard]] const UpdateContext& update_context() const { return update_ctx_; }
    // Peer oscillation damping: failures in a row (0 once stable), the running idle hold's end
    // (nullopt: none running) and the idle hold chosen last (0: none yet).
    [[nodiscard]] std::uint32_t consecutive_failures() const { return failures_; }
    [[nodiscard]] std::optional<TimePoint> idle_hold_until() const { return idle_hold_at_; }
    [[nodiscard]] Millis last_idle_hold() const { return last_idle_hold_; }

    // Drain the outputs accumulated since the last call.
    [[nodiscard]] Bytes take_output();
    [[nodiscard]] Bytes take_second_output();
    [[nodiscard]] std::vector<SessionEvent> take_events();

  private:
    void send(Bytes bytes);
    void send_keepalive(TimePoint now);
    void handle_message(const RawMessage& msg, TimePoint now);
    void handle_open(const RawMessage& msg, TimePoint now);
    void accept_open(const Open& open, TimePoint now);
    // `min_idle_hold` (not 0): Idle at least that long, then an automatic start (terminate()).
    void fail(Notification n, DownReason reason, TimePoint now, Millis min_idle_hold = Millis{0});
    void go_down(DownReason reason, std::optional<Notification> n, TimePoint now,
                 Millis min_idle_hold = Millis{0});
    void flush_stale(std::vector<AfiSafi> families, StaleReason why);
    void stale_after_open(const Open& open, TimePoint now);
    [[nodiscard]] Open make_open() const;
    [[nodiscard]] bool keep_outgoing(std::uint32_t peer_identifier) const;
    void promote_second(Bytes first_last_words, TimePoint now);
    void drop_second(Notification n);
    void handle_second(const RawMessage& msg, TimePoint now);
    void arm_hold(TimePoint now);
    void arm_keepalive(TimePoint now);
    void enter_connect_or_active(TimePoint now, SessionState s);
    [[nodiscard]] Millis damp(bool was_established, TimePoint now);

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
    ConnectionDirection first_dir_ = ConnectionDirection::Outgoing;
    struct Second {
        ConnectionDirection dir = ConnectionDirection::Incoming;
        Framer framer;
    };
    std::optional<Second> second_;
    Bytes second_output_;
    std::vector<AfiSafi> stale_;  // families whose routes the owner holds as stale
    std::optional<TimePoint> restart_at_;
    std::optional<TimePoint> stale_at_;
    // Peer oscillation damping.
    std::uint32_t failures_ = 0;
    std::optional<TimePoint> idle_hold_at_;  // automatic start then
    std::optional<TimePoint> stable_at_;     // Established since stable_at_ - stable
    Millis last_idle_hold_{0};
};

}  // namespace cgwd::bgp
