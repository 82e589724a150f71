// The IKE transport of the daemon: UDP port 500 and the NAT-T port 4500 (RFC 3948), with the
// 4-byte Non-ESP Marker added on 4500 and removed on receipt, and NAT keepalives (one 0xFF
// byte) passed through unmarked. Received IKE messages are handed to one receiver with the
// sender and the local port they arrived on; the daemon dispatches them to tunnels by the
// sender's address.
//
// Port 4500 is shared with ESP in UDP. Whoever owns that socket decides how it is reached:
// the userspace dataplane owns it and demultiplexes ESP from IKE itself (deliver_natt() is fed
// from its IKE handler, send_natt sends through it); otherwise this class opens it.
//
// Admission (when Options::peer is set): before the receiver sees a datagram, its source must
// be a tunnel's peer (else dropped and counted, no allocation), it must carry an IKE header
// (else counted as malformed), and an IKE_SA_INIT request must get past one ike::CookieGuard
// (RFC 7296 section 2.6 stateless cookies above a load threshold, a token bucket per source
// address, a cap on cookie answers). Cookie answers are sent from here; the counters are in
// ingress_stats().
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cgwd/config/net.hpp"
#include "cgwd/ike/cookie.hpp"

namespace cgwd::daemon {

// IKE datagrams handed over from another thread (the userspace dataplane's receive thread owns
// port 4500) wait in the loop's queue, one copy each: at most `limit` at once, the rest are
// dropped and counted, so a flood to port 4500 can grow neither memory nor the loop's delay
// without bound. enter() on the other thread before posting, leave() when handled.
class HandoffBound {
  public:
    explicit HandoffBound(std::uint32_t limit) : limit_(limit) {}
    [[nodiscard]] bool enter() {
        if (in_flight_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
            in_flight_.fetch_sub(1, std::memory_order_relaxed);
            dropped_.fetch_add(1, std::memory_order_relaxed);
            return false;
        }
        return true;
    }
    void leave() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
    std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  private:
    const std::uint32_t limit_;
    std::atomic<std::uint32_t> in_flight_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

// What admission did with received IKE datagrams (cgwctl status --json "ike_ingress").
struct IkeIngressStats {
    std::uint64_t received = 0;
    std::uint64_t unknown_source = 0;  // not from any tunnel's peer address
    std::uint64_t malformed = 0;       // no IKE header, or a malformed IKE_SA_INIT request
    std::uint64_t rate_limited = 0;    // over the source's bucket or the cookie-answer cap
    std::uint64_t cookies_sent = 0;
    std::uint64_t cookies_accepted = 0;
    std::uint64_t init_passed = 0;      // IKE_SA_INIT requests handed to the tunnels
    std::uint64_t handoff_dropped = 0;  // port 4500 datagrams over the HandoffBound
    bool cookies_required = false;
    std::size_t tracked_sources = 0;
};

class IkeSockets {
  public:
    using Receiver = std::function<void(std::span<const std::uint8_t> ike, config::Ipv4Address from,
                                        std::uint16_t from_port, std::uint16_t local_port)>;
    // Sends one datagram from port 4500 for the other owner of that socket: an IKE message
    // (the owner adds the Non-ESP Marker) or, when `keepalive`, the one-byte keepalive as is.
    using NattSender =
        std::function<bool(std::span<const std::uint8_t> datagram, config::Ipv4Address to,
                           std::uint16_t to_port, bool keepalive)>;

    struct Options {
        std::uint16_t ike_port = 500;    // 0: any (tests)
        std::uint16_t natt_port = 4500;  // the engine's name for the NAT-T port
        // Set when another owner (the userspace dataplane) has the 4500 socket; otherwise this
        // class binds `natt_bind_port` (0: any, tests).
        NattSender natt_sender;
        std::uint16_t natt_bind_port = 4500;
        // Tests with two instances on one host: what the engine addresses to the peer's port
        // 500 / NAT-T port goes to these ports instead (0: as addressed).
        std::uint16_t peer_ike_port = 0;
        std::uint16_t peer_natt_port = 0;
        // Kernel ESP: mark our 4500 socket UDP_ENCAP_ESPINUDP so the kernel takes the ESP
        // (RFC 3948) and leaves IKE (behind the Non-ESP Marker) to us.
        bool kernel_esp_in_udp = false;
        // Admission (see the top): peer(from) is nullopt when `from` is no tunnel's peer,
        // else whether that tunnel's IKE SA is half-open; a half-open tunnel's peer must
        // always present a cookie. Unset: everything goes through.
        std::function<std::optional<bool>(config::Ipv4Address)> peer;
        ike::crypto::Random* rng = nullptr;  // cookie secrets; no CookieGuard without it
        ike::CookieSettings cookies;
        std::shared_ptr<const HandoffBound> natt_handoff;  // its drops show in ingress_stats()
    };

    // Throws std::runtime_error naming the port when a socket cannot be bound.
    IkeSockets(boost::asio::io_context& io, Options options, Receiver receiver);
    ~IkeSockets();

    // One engine datagram: from `local_port` (500 or the NAT-T port) to the peer.
    void send(std::span<const std::uint8_t> ike, config::Ipv4Address to, std::uint16_t to_port,
              std::uint16_t local_port, bool keepalive);
    // A datagram that arrived on the NAT-T port through its other owner (marker already
    // removed by that owner, as the userspace dataplane does).
    void deliver_natt(std::span<const std::uint8_t> ike, config::Ipv4Address from,
                      std::uint16_t from_port);

    std::uint16_t ike_port() const;
    std::uint16_t natt_port() const;
    std::uint64_t send_errors() const { return send_errors_; }
    IkeIngressStats ingress_stats() const;

  private:
    void receive(boost::asio::ip::udp::socket& s, std::vector<std::uint8_t>& buf,
                 boost::asio::ip::udp::endpoint& from, bool natt);
    void dispatch(std::span<const std::uint8_t> ike, config::Ipv4Address from,
                  std::uint16_t from_port, std::uint16_t local_port);

    Options options_;
    Receiver receiver_;
    boost::asio::ip::udp::socket ike_;
    std::optional<boost::asio::ip::udp::socket> natt_;
    std::vector<std::uint8_t> ike_buf_, natt_buf_;
    boost::asio::ip::udp::endpoint ike_from_, natt_from_;
    std::vector<std::uint8_t> scratch_;
    std::uint64_t send_errors_ = 0;
    std::optional<ike::CookieGuard> guard_;
    IkeIngressStats ingress_;
    std::chrono::steady_clock::time_point last_unknown_log_{};
};

}  // namespace cgwd::daemon
