// Sans-I/O BFD session, asynchronous mode (RFC 5880), single hop (RFC 5881), no authentication,
// no Echo, never Demand mode itself (a peer's Demand mode is honoured, section 6.8.7).
//
// Inputs: start / admin_down / admin_up / set_parameters, received Control packets and timer
// ticks, each with the current time. Outputs: encoded Control packets to send (UDP to port 3784,
// TTL 255: the owner's job), events (BfdUp; BfdDown with the diagnostic) and next_deadline().
//
// State machine (section 6.2; reception per section 6.8.6):
//
//                             +--+
//                             |  | UP, ADMIN DOWN, TIMER
//                             |  V
//                     DOWN  +------+  INIT
//              +------------|      |------------+
//              |            | DOWN |            |
//              |  +-------->|      |<--------+  |
//              |  |         +------+         |  |
//              |  |                          |  |
//              |  |               ADMIN DOWN,|  |
//              |  |ADMIN DOWN,          DOWN,|  |
//              |  |TIMER                TIMER|  |
//              V  |                          |  V
//            +------+                      +------+
//       +----|      |                      |      |----+
//   DOWN|    | INIT |--------------------->|  UP  |    |INIT, UP
//       +--->|      | INIT, UP             |      |<---+
//            +------+                      +------+
//
// Timing:
// - Transmit interval = max(bfd.DesiredMinTxInterval, bfd.RemoteMinRxInterval) (6.8.7); none
//   while the remote's Required Min RX is 0. Each interval is jittered to 75-100% of that value
//   (75-90% when Detect Mult is 1) with the injected random source.
// - While not Up, the advertised Desired Min TX is at least 1 s (6.8.3).
// - Detection time = remote Detect Mult x max(bfd.RequiredMinRxInterval, remote Desired Min TX)
//   (6.8.4), counted from the last valid packet; expiry in Init or Up -> Down with diagnostic 1.
// - Parameter changes while Up (set_parameters, and the 1 s -> configured switch on reaching Up)
//   start a Poll Sequence (6.5): P is set on every packet until one with F arrives. A larger
//   Desired Min TX, and a smaller Required Min RX for the detection time, take effect only when
//   the poll ends (6.8.3); a received P is answered at once with F (6.8.7).
// - A state change sends a packet at once; periodic packets follow on the jittered schedule.
//
// RFC 5882 section 3.2: the peer signalling AdminDown takes us Down (diagnostic 3) but is not a
// path failure; BfdDown::path_failure tells the client (BGP) whether to act on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <variant>
#include <vector>

#include "cgwd/bgp/bfd.hpp"

namespace cgwd::bgp {

using TimePoint = std::chrono::steady_clock::time_point;
using Micros = std::chrono::microseconds;

struct BfdConfig {
    std::uint32_t local_discriminator = 1;  // nonzero, unique among the owner's sessions
    Micros desired_min_tx{300'000};
    Micros required_min_rx{300'000};
    std::uint8_t detect_mult = 3;
};

// Uniform 32-bit random values for the transmit jitter (tests inject a fixed or seeded source).
using BfdRandom = std::function<std::uint32_t()>;

struct BfdUp {};
struct BfdDown {
    BfdDiag diag = BfdDiag::None;
    // False when the session went down on purpose (our admin_down, or the peer signalling
    // AdminDown): RFC 5882 section 3.2, the client must not treat it as a forwarding failure.
    bool path_failure = true;
};
using BfdEvent = std::variant<BfdUp, BfdDown>;

enum class BfdRejectReason : std::uint8_t {
    Malformed,              // see the BfdDecodeError
    DiscriminatorMismatch,  // Your Discriminator is nonzero and not ours
};
struct BfdReject {
    BfdRejectReason reason = BfdRejectReason::Malformed;
    std::optional<BfdDecodeError> decode_error;
};

class BfdSession {
  public:
    BfdSession(BfdConfig config, BfdRandom random);

    // Begins transmitting (first packet at once) in Down.
    void start(TimePoint now);
    // Local AdminDown (diagnostic 7); packets keep going out at the slow rate saying so.
    void admin_down(TimePoint now);
    // Leaves AdminDown for Down; no-op otherwise.
    void admin_up(TimePoint now);
    // New local parameters; a Poll Sequence when Up.
    void set_parameters(Micros desired_min_tx, Micros required_min_rx, std::uint8_t detect_mult,
                        TimePoint now);

    // One received datagram (after the owner's TTL 255 and source-address checks).
    [[nodiscard]] std::expected<void, BfdReject> on_datagram(ByteView datagram, TimePoint now);
    [[nodiscard]] std::expected<void, BfdReject> on_packet(const BfdControl& packet, TimePoint now);
    void on_timer(TimePoint now);

    [[nodiscard]] std::optional<TimePoint> next_deadline() const;
    [[nodiscard]] BfdState state() const { return state_; }
    [[nodiscard]] BfdState remote_state() const { return remote_state_; }
    [[nodiscard]] BfdDiag local_diag() const { return local_diag_; }
    [[nodiscard]] std::uint32_t remote_discriminator() const { return remote_discr_; }
    [[nodiscard]] bool poll_active() const { return poll_active_; }
    // The current transmit interval before jitter, and the current detection time.
    [[nodiscard]] Micros transmit_interval() const;
    [[nodiscard]] Micros detection_time() const;

    [[nodiscard]] std::vector<Bytes> take_packets();
    [[nodiscard]] std::vector<BfdEvent> take_events();

  private:
    void set_state(BfdState s, BfdDiag diag, TimePoint now, bool path_failure = true);
    void send(TimePoint now, bool final = false);
    void schedule_tx(TimePoint now);
    void start_poll();
    void end_poll();
    [[nodiscard]] Micros advertised_tx() const;
    [[nodiscard]] Micros jittered(Micros interval);

    BfdConfig config_;
    BfdRandom random_;
    bool started_ = false;
    BfdState state_ = BfdState::Down;
    BfdState remote_state_ = BfdState::Down;
    BfdDiag local_diag_ = BfdDiag::None;
    std::uint32_t remote_discr_ = 0;
    Micros remote_min_rx_{1};  // bfd.RemoteMinRxInterval starts at 1 (6.8.1)
    Micros remote_desired_tx_{0};
    std::uint8_t remote_detect_mult_ = 0;
    bool remote_demand_ = false;
    // Values in force for timing (they lag the advertised ones during a Poll Sequence).
    Micros tx_in_force_{1'000'000};
    Micros rx_in_force_{0};
    bool poll_active_ = false;
    bool poll_pending_ = false;
    std::optional<TimePoint> next_tx_at_;
    std::optional<TimePoint> detect_at_;
    std::vector<Bytes> packets_;
    std::vector<BfdEvent> events_;
};

}  // namespace cgwd::bgp
