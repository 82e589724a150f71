// The dataplane control interface: what the IKE engine and the daemon program into a
// forwarding plane (Linux XFRM, the userspace ESP path, or FakeDataplane in tests).
//
// Objects: ESP SAs (RFC 4303, tunnel mode, optional RFC 3948 UDP encapsulation), security
// policies (RFC 4301 SPD entries bound to a tunnel by if_id), route-based tunnel interfaces
// with an MTU, IPv4 and IPv6 routes with multipath next hops (a hop leaves by a tunnel, named by
// its if_id, or by any device named in NextHop::interface, via a gateway of the destination's
// family or none; one at a time or as a batch, apply_routes), and a TCP MSS clamp per tunnel.
// SA lifetime expiries (RFC 4301 section 4.4.2.1: soft -> rekey, hard -> delete) come back as
// ExpiryEvents through the handler set with set_expiry_handler().
//
// Key layout (what the IKE engine derives, RFC 7296 section 2.17):
//   AES-GCM-16 (RFC 4106 section 8.1): enc_key = AES key (16/32 bytes) followed by the 4-byte
//     salt; integ = integ::none; integ_key empty.
//   AES-CBC (RFC 3602): enc_key = AES key (16/32 bytes); integ_key = HMAC key whose length is
//     the hash output length (RFC 2404: 20; RFC 4868 section 2.1.1: 32/48/64).
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cgwd/config/model.hpp"
#include "cgwd/config/net.hpp"
#include "cgwd/dataplane/error.hpp"
#include "cgwd/dataplane/keys.hpp"

namespace cgwd::dataplane {

enum class Direction : std::uint8_t { inbound, outbound };

// RFC 3948 UDP encapsulation of ESP (NAT traversal); ports are normally 4500/4500.
struct UdpEncap {
    std::uint16_t src_port = 4500;
    std::uint16_t dst_port = 4500;
    friend bool operator==(const UdpEncap&, const UdpEncap&) = default;
};

// One soft/hard pair; 0 means "no limit".
struct Limit {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
    friend bool operator==(const Limit&, const Limit&) = default;
};

struct Lifetime {
    Limit bytes;    // bytes of inner (plaintext) IP packets
    Limit packets;  // packets
    Limit seconds;  // seconds since the SA was added
    friend bool operator==(const Lifetime&, const Lifetime&) = default;
};

// An SA is identified the way RFC 4301 section 4.1 / XFRM do: destination address + SPI
// (the protocol is always ESP here).
struct SaKey {
    std::uint32_t spi = 0;
    config::Ipv4Address dst;
    friend bool operator==(const SaKey&, const SaKey&) = default;
};

struct SaConfig {
    Direction direction = Direction::outbound;
    std::uint32_t spi = 0;    // host byte order; 1..255 are reserved (RFC 4303 section 2.1)
    config::Ipv4Address src;  // outer (tunnel endpoint) addresses
    config::Ipv4Address dst;
    std::optional<UdpEncap> encap;  // nullopt: plain ESP (IP protocol 50)
    config::Cipher cipher;          // encr::aes_cbc or encr::aes_gcm_16, 128 or 256 bits
    std::uint16_t integ = config::integ::none;  // integ::* id; none with AES-GCM
    KeyBytes enc_key;
    KeyBytes integ_key;
    bool esn = false;                    // RFC 4303 extended (64-bit) sequence numbers
    std::uint32_t replay_window = 1024;  // inbound only: 64..4096 packets (AWS default 1024)
    Lifetime lifetime;
    std::uint32_t reqid = 0;  // links the SA to its policies' templates
    std::uint32_t if_id = 0;  // the tunnel interface this SA belongs to

    SaKey key() const { return {spi, dst}; }
};

// Checks what every backend needs: transform ids, key lengths, SPI range, window range,
// soft <= hard. Backends call it first in add_sa/update_sa.
[[nodiscard]] std::expected<void, Error> validate(const SaConfig& sa);

// Expected key lengths in bytes for a transform (0 when the transform is unknown).
std::size_t enc_key_length(const config::Cipher& cipher);  // includes the GCM salt
std::size_t integ_key_length(std::uint16_t integ);

struct SaCounters {
    std::uint64_t bytes = 0;    // inner bytes protected/accepted
    std::uint64_t packets = 0;  // packets protected/accepted
    std::uint64_t replay_drops = 0;
    std::uint64_t integrity_failures = 0;  // ICV and padding failures, one counter
    friend bool operator==(const SaCounters&, const SaCounters&) = default;
};

struct SaStats {
    SaCounters counters;
    Lifetime lifetime;           // the configured limits
    std::uint64_t add_time = 0;  // Unix seconds when added (0: unknown)
    std::uint64_t use_time = 0;  // Unix seconds of first use (0: not used yet)
    friend bool operator==(const SaStats&, const SaStats&) = default;
};

enum class PolicyDirection : std::uint8_t { in, out, fwd };

// One SPD entry with a single ESP tunnel-mode template.
struct Policy {
    PolicyDirection direction = PolicyDirection::out;
    config::Ipv4Prefix src;  // traffic selectors (0.0.0.0/0 for route-based tunnels)
    config::Ipv4Prefix dst;
    config::Ipv4Address tunnel_src;  // template: outer addresses
    config::Ipv4Address tunnel_dst;
    std::uint32_t reqid = 0;
    std::uint32_t if_id = 0;
    std::uint32_t priority = 0;
    friend bool operator==(const Policy&, const Policy&) = default;
};

struct PolicyKey {
    PolicyDirection direction = PolicyDirection::out;
    config::Ipv4Prefix src;
    config::Ipv4Prefix dst;
    std::uint32_t if_id = 0;
    friend bool operator==(const PolicyKey&, const PolicyKey&) = default;
};
inline PolicyKey key_of(const Policy& p) {
    return {p.direction, p.src, p.dst, p.if_id};
}

// A route-based tunnel interface (XFRM interface / VTI), identified by if_id.
struct TunnelInterface {
    std::string name;                  // e.g. "cgwd1"
    std::uint32_t if_id = 0;           // nonzero
    std::uint16_t mtu = 1436;          // AWS recommends 1436 for the inner MTU
    config::Ipv4Address local_inside;  // our inside address (AWS /30 network + 2)
    config::Ipv4Address peer_inside;   // AWS inside address (network + 1)
    std::uint8_t prefix_length = 30;
    friend bool operator==(const TunnelInterface&, const TunnelInterface&) = default;
};

struct NextHop {
    std::uint32_t if_id = 0;                   // tunnel the traffic leaves by
    std::optional<config::IpAddress> gateway;  // nullopt: directly over the tunnel; else of the
                                               // destination's family (invalid_argument if not)
    std::uint8_t weight = 1;                   // ECMP weight (1..255)
    std::string interface;                     // a device by name (TUN, DX VLAN) instead of if_id
    friend bool operator==(const NextHop&, const NextHop&) = default;
};

struct RouteKey {
    config::IpPrefix destination;  // IPv4 or IPv6
    std::uint32_t metric = 0;
    std::uint32_t table = 0;  // 0: the main table
    friend bool operator==(const RouteKey&, const RouteKey&) = default;
};

struct Route {
    config::IpPrefix destination;
    std::vector<NextHop> next_hops;  // one or more (multipath)
    std::uint32_t metric = 0;
    std::uint32_t table = 0;
    RouteKey key() const { return {destination, metric, table}; }
    friend bool operator==(const Route&, const Route&) = default;
};

// One change of a route batch (Dataplane::apply_routes): add or replace `route`, or delete the
// route with key `key`.
struct RouteChange {
    enum class Kind : std::uint8_t { add, remove };
    Kind kind = Kind::add;
    Route route;   // Kind::add
    RouteKey key;  // Kind::remove
    static RouteChange add(Route r) { return {Kind::add, std::move(r), {}}; }
    static RouteChange remove(RouteKey k) { return {Kind::remove, {}, k}; }
    RouteKey target() const { return kind == Kind::add ? route.key() : key; }
    friend bool operator==(const RouteChange&, const RouteChange&) = default;
};

struct RouteBatchResult {
    std::vector<std::optional<Error>> errors;  // one per change; nullopt: done
    std::size_t failures = 0;                  // changes that failed
    // The kernel's acknowledgements were lost (ENOBUFS): the routes were read back and the
    // differences re-applied one by one (`repaired` requests).
    bool resynced = false;
    std::size_t repaired = 0;
    bool ok() const { return failures == 0; }
};

enum class ExpiryKind : std::uint8_t { soft, hard };
enum class ExpiryCause : std::uint8_t {
    bytes,
    packets,
    time,
    sequence,  // 32-bit sequence space exhausted (RFC 4303 section 3.3.3): always hard
};

struct ExpiryEvent {
    SaKey sa;
    Direction direction = Direction::outbound;
    ExpiryKind kind = ExpiryKind::soft;
    ExpiryCause cause = ExpiryCause::time;
    friend bool operator==(const ExpiryEvent&, const ExpiryEvent&) = default;
};

using ExpiryHandler = std::function<void(const ExpiryEvent&)>;

class Dataplane {
  public:
    virtual ~Dataplane() = default;

    [[nodiscard]] virtual std::expected<void, Error> add_sa(const SaConfig& sa) = 0;
    // Replaces the attributes of an existing SA with the same key (e.g. new NAT-T ports).
    [[nodiscard]] virtual std::expected<void, Error> update_sa(const SaConfig& sa) = 0;
    [[nodiscard]] virtual std::expected<void, Error> del_sa(const SaKey& key) = 0;
    [[nodiscard]] virtual std::expected<SaStats, Error> query_sa(const SaKey& key) = 0;

    [[nodiscard]] virtual std::expected<void, Error> add_policy(const Policy& policy) = 0;
    [[nodiscard]] virtual std::expected<void, Error> del_policy(const PolicyKey& key) = 0;

    [[nodiscard]] virtual std::expected<void, Error> create_tunnel(const TunnelInterface& t) = 0;
    [[nodiscard]] virtual std::expected<void, Error> delete_tunnel(std::uint32_t if_id) = 0;

    // Add, or replace a route with the same key (next hops change as BGP paths come and go).
    [[nodiscard]] virtual std::expected<void, Error> add_route(const Route& route) = 0;
    [[nodiscard]] virtual std::expected<void, Error> del_route(const RouteKey& key) = 0;
    // Many route changes at once, applied in order; each succeeds or fails alone, with the
    // same errors as add_route / del_route. The default calls those one by one; the kernel and
    // userspace backends send them batched (KernelRoutes::apply, routes.hpp).
    [[nodiscard]] virtual RouteBatchResult apply_routes(std::span<const RouteChange> changes);

    // Clamp the MSS of TCP SYN / SYN-ACK crossing tunnel `if_id` to `mss` (0: no clamping).
    [[nodiscard]] virtual std::expected<void, Error> set_mss_clamp(std::uint32_t if_id,
                                                                   std::uint16_t mss) = 0;

    // Where expiry events go. The handler may call back into the dataplane (e.g. del_sa).
    virtual void set_expiry_handler(ExpiryHandler handler) = 0;
};

}  // namespace cgwd::dataplane
