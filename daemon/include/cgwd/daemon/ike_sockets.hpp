// The IKE transport of the daemon: UDP port 500 and the NAT-T port 4500 (RFC 3948), with the
// 4-byte Non-ESP Marker added on 4500 and removed on receipt, and NAT keepalives (one 0xFF
// byte) passed through unmarked. Received IKE messages are handed to one receiver with the
// sender and the local port they arrived on; the daemon dispatches them to tunnels by the
// sender's address.
//
// Port 4500 is shared with ESP in UDP. Whoever owns that socket decides how it is reached:
// the userspace dataplane owns it and demultiplexes ESP from IKE itself (deliver_natt() is fed
// from its IKE handler, send_natt sends through it); otherwise this class opens it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "cgwd/config/net.hpp"

namespace cgwd::daemon {

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

  private:
    void receive(boost::asio::ip::udp::socket& s, std::vector<std::uint8_t>& buf,
                 boost::asio::ip::udp::endpoint& from, bool natt);

    Options options_;
    Receiver receiver_;
    boost::asio::ip::udp::socket ike_;
    std::optional<boost::asio::ip::udp::socket> natt_;
    std::vector<std::uint8_t> ike_buf_, natt_buf_;
    boost::asio::ip::udp::endpoint ike_from_, natt_from_;
    std::vector<std::uint8_t> scratch_;
    std::uint64_t send_errors_ = 0;
};

}  // namespace cgwd::daemon
