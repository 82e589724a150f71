// One single-hop BFD session at run time (RFC 5880 asynchronous mode over UDP on IPv4 or
// IPv6, RFC 5881): the Boost.Asio adapter around the sans-I/O bgp::BfdSession, driven by
// received datagrams and one steady_timer set from next_deadline().
//
// Sockets (RFC 5881 sections 4 and 5), of the addresses' family:
// - Receive: UDP port 3784 bound to the local address (not the wildcard) with SO_REUSEADDR, so
//   one runner per local address can coexist on the host; IP_FREEBIND (IPV6_FREEBIND), because
//   a tunnel's inside address may appear after the runner starts. IP_RECVTTL
//   (IPV6_RECVHOPLIMIT) delivers each datagram's TTL or hop limit: anything not sent with 255
//   (the GTSM check of section 5) or not from the peer's address is dropped and counted before
//   it reaches the session.
// - Send: a second socket bound to the local address and a source port picked at random from
//   49152-65535 (section 4), IP_TTL (IPV6_UNICAST_HOPS) 255, to peer:3784.
// Ports are options so tests can run several pairs on loopback.
//
// stop() is BFD AdminDown (diagnostic 7): the session keeps telling the peer so at the slow
// rate until start() again or destruction, and the peer goes Down without a path failure
// (RFC 5882 section 3.2). on_down's path_failure says whether the client (BGP) should act.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cgwd/bgp/bfd_session.hpp"
#include "cgwd/config/net.hpp"

namespace cgwd::daemon {

struct BfdRunnerOptions {
    std::string name;         // for logs, e.g. the tunnel key; the peer address when empty
    config::IpAddress local;  // both of one family: the session runs over IPv4 or over IPv6
    config::IpAddress peer;
    std::uint32_t desired_min_tx_ms = 300;
    std::uint32_t required_min_rx_ms = 300;
    std::uint8_t detect_mult = 3;
    std::uint16_t listen_port = bgp::kBfdControlPort;  // our receive port; 0: any (tests)
    std::uint16_t peer_port = bgp::kBfdControlPort;    // where Control packets are sent
    std::uint16_t source_port = 0;                     // 0: random in 49152-65535
    std::uint32_t local_discriminator = 0;             // 0: random nonzero
};

class BfdRunner {
  public:
    using UpHandler = std::function<void()>;
    // `diagnostic` is the RFC 5880 Diag name, e.g. "control-detection-time-expired".
    using DownHandler = std::function<void(bool path_failure, const std::string& diagnostic)>;

    // Opens and binds both sockets; throws std::runtime_error naming what failed. Nothing is
    // sent before start().
    BfdRunner(boost::asio::io_context& io, BfdRunnerOptions options);
    ~BfdRunner();
    BfdRunner(const BfdRunner&) = delete;
    BfdRunner& operator=(const BfdRunner&) = delete;

    // Called on the loop when the session reaches Up / leaves Up.
    void on_up(UpHandler h) { on_up_ = std::move(h); }
    void on_down(DownHandler h) { on_down_ = std::move(h); }

    // Starts the session (first packet at once), or leaves AdminDown after stop().
    void start();
    // Local AdminDown: the peer is told (diagnostic 7); reported as not a path failure.
    void stop();

    [[nodiscard]] bgp::BfdState state() const { return session_.state(); }
    [[nodiscard]] std::string state_text() const;  // "down", "init", "up", "admin-down"
    [[nodiscard]] bool up() const { return session_.state() == bgp::BfdState::Up; }
    [[nodiscard]] std::uint16_t listen_port() const;
    [[nodiscard]] std::uint16_t source_port() const;
    [[nodiscard]] const BfdRunnerOptions& options() const { return options_; }
    [[nodiscard]] std::uint32_t local_discriminator() const { return local_discriminator_; }

    // {"state", "local_address", "peer_address", "local_discriminator",
    //  "remote_discriminator", "remote_state", "diagnostic", "tx_interval_ms",
    //  "detect_time_ms", "up_since" (Unix seconds or null), "up_for_s", "flaps",
    //  "packets_in", "packets_out", "dropped_ttl", "dropped_not_peer", "rejected",
    //  "send_errors"}
    [[nodiscard]] nlohmann::json status() const;

  private:
    void wait_readable();
    void drain();
    void pump();
    void arm_timer();

    BfdRunnerOptions options_;
    std::uint32_t local_discriminator_;
    bgp::BfdSession session_;
    boost::asio::ip::udp::socket rx_;
    boost::asio::ip::udp::socket tx_;
    boost::asio::ip::udp::endpoint peer_endpoint_;
    boost::asio::steady_timer timer_;
    UpHandler on_up_;
    DownHandler on_down_;
    bool started_ = false;
    std::optional<std::chrono::system_clock::time_point> up_since_wall_;
    std::optional<std::chrono::steady_clock::time_point> up_since_;
    std::uint64_t flaps_ = 0;  // Up -> Down transitions
    std::string last_down_diag_;
    std::uint64_t packets_in_ = 0;
    std::uint64_t packets_out_ = 0;
    std::uint64_t dropped_ttl_ = 0;
    std::uint64_t dropped_not_peer_ = 0;
    std::uint64_t rejected_ = 0;
    std::uint64_t send_errors_ = 0;
    // Handlers hold a weak_ptr to this: once it is gone (destruction), they return at once.
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace cgwd::daemon
