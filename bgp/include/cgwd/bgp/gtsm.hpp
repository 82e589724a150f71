// Generalized TTL Security Mechanism for BGP sessions (RFC 5082), through Linux socket options.
//
// RFC 5082 section 3: both sides send with TTL 255 and accept only segments whose TTL is at
// least 255 - TrustRadius. Our default TrustRadius is 1 (minimum 254): a peer on the link or one
// router away passes, anything from further away or sent with an ordinary TTL (eBGP's usual 1,
// or 64) is dropped. TrustRadius 0 (minimum 255, what BIRD and FRR use for a directly connected
// peer) is the strict setting. On Linux: IP_TTL 255 plus IP_MINTTL for IPv4, IPV6_UNICAST_HOPS
// 255 plus IPV6_MINHOPCOUNT for IPv6. The kernel
// drops segments below the minimum before TCP sees them (counted as TcpExtTCPMinTTLDrop), so a
// peer sending with a low TTL never completes the handshake.
//
// Set it on a listening socket before accept() (accepted sockets inherit both options) or on a
// connecting socket before connect(). An AF_INET6 socket that may carry IPv4 (mapped) peers gets
// both the IPv4 and the IPv6 options.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace cgwd::bgp {

inline constexpr int kGtsmTtl = 255;

inline constexpr std::uint8_t kGtsmDefaultTrustRadius = 1;

// Sends with TTL 255 and drops segments with a TTL below 255 - trust_radius.
[[nodiscard]] std::expected<void, std::string> set_gtsm(
    int fd, std::uint8_t trust_radius = kGtsmDefaultTrustRadius);

}  // namespace cgwd::bgp
