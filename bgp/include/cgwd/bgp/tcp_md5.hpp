// TCP MD5 Signature Option for BGP sessions (RFC 2385), set through Linux's TCP_MD5SIG socket
// option (struct tcp_md5sig from <netinet/tcp.h>).
//
// The key is bound to one peer address on one socket. Set it on a listening socket before
// accept() (accepted connections inherit it) or on a connecting socket before connect(); the
// kernel then signs every segment to that peer and silently drops segments from it that carry
// no signature or a wrong one. An IPv4 peer on an AF_INET6 socket is registered as its
// IPv4-mapped address (::ffff:a.b.c.d), which is how the kernel sees such a peer.
//
// Keys are 1..80 octets (TCP_MD5SIG_MAXKEYLEN). Error texts name the peer and the errno text,
// never the key; the kernel argument block holding a copy of the key is wiped after use.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "cgwd/bgp/policy.hpp"

namespace cgwd::bgp {

inline constexpr std::size_t kTcpMd5MaxKeyLength = 80;

// Installs `key` for segments to/from `peer` on socket `fd` (TCP, AF_INET or AF_INET6).
[[nodiscard]] std::expected<void, std::string> set_tcp_md5(int fd, const IpAddress& peer,
                                                           std::span<const std::uint8_t> key);
// Removes the key for `peer` from `fd` (a zero-length key, which the kernel takes as delete).
[[nodiscard]] std::expected<void, std::string> clear_tcp_md5(int fd, const IpAddress& peer);

}  // namespace cgwd::bgp
