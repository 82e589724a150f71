// Dropping privileges after start-up: once the sockets are bound and the interfaces made, the
// daemon keeps only CAP_NET_ADMIN (XFRM, routes, links, nftables, TUN), CAP_NET_RAW and
// CAP_NET_BIND_SERVICE (BGP on 179 for tunnels added by a reload), in the effective,
// permitted and bounding sets; everything else is dropped for good (capabilities(7)).
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace cgwd::daemon {

// The mask of the three capabilities kept (bits CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW).
std::uint64_t kept_capabilities();

// Drops every other capability. The bounding set is trimmed only where the process may
// (CAP_SETPCAP); under systemd's CapabilityBoundingSet it is already trimmed.
[[nodiscard]] std::expected<void, std::string> keep_only_network_capabilities();

// Keeps PSKs, MD5 keys and keying material out of core dumps: the process is made non-dumpable
// (PR_SET_DUMPABLE 0, prctl(2)), so the kernel writes no core and no other unprivileged process
// may ptrace it or read its memory. Called first thing in cgwd's main, before any key is read.
[[nodiscard]] std::expected<void, std::string> keep_secrets_out_of_core_dumps();

}  // namespace cgwd::daemon
