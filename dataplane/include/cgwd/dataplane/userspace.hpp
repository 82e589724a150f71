// The userspace ESP dataplane: a Dataplane backend that runs RFC 4303 tunnel-mode ESP in
// userspace, either as raw ESP (IP protocol 50) or over RFC 3948 UDP encapsulation (NAT-T),
// for hosts whose kernel has no ESP/XFRM.
//
// Per tunnel (create_tunnel): one TUN interface (IFF_TUN | IFF_NO_PI, plus IFF_VNET_HDR with
// the offloads below) with the requested name, MTU and inside address, and one worker thread
// moving packets
//   TUN -> (TSO segmentation) -> TCP MSS clamp -> DF clear + fragment before encryption (RFC 4459
//   section 3, fragments sized so the outer packet fits `outer_mtu`) -> EspSa::encapsulate -> UDP
//   or raw.
// One UDP socket (port 4500 by default, RFC 3948) is shared by all tunnels, and each tunnel's
// worker also keeps a socket on the same port connected to its outbound SA's peer (SO_REUSEPORT,
// so the kernel hands that peer's datagrams to it: each tunnel's receiving runs on its own
// thread, and tunnels scale over cores both ways); whichever socket a datagram arrives on, it is
// demultiplexed the same way (RFC 3948 section 2): ESP (looked up by SPI among the inbound
// SAs, decapsulated, MSS-clamped and written to the TUN of the SA's if_id), IKE behind the
// Non-ESP Marker (handed to Options::ike_handler, from either thread), NAT-keepalives (counted
// and dropped). A port already in use still fails create() (it is probed without SO_REUSEPORT
// first). The shared socket's receive thread also advances SA lifetimes and delivers expiry
// events to the expiry handler.
//
// Raw ESP: an SA without `encap` is carried as plain IP protocol 50. A raw socket
// (AF_INET, SOCK_RAW, IPPROTO_ESP; needs CAP_NET_RAW) is opened lazily when the first such SA
// is added, so UDP-only use needs no raw socket. Sending: the kernel builds the outer IPv4
// header (protocol 50, DF clear as on the UDP socket); the outer source is the SA's `src`
// (IP_PKTINFO on each batch), the destination its `dst`. Receiving: the shared receive thread
// polls the raw socket too; a tunnel whose outbound SA is raw has its worker read a raw socket
// connected to the SA's peer (the kernel gives every matching raw socket a copy; the shared
// thread leaves that peer's packets to the worker); the kernel hands it every ESP packet
// addressed to this host (reassembled, IP header included): the header is skipped by its IHL, and
// packets whose destination is not the `dst` of one of our inbound SAs are ignored (counted
// raw_not_ours: another process's or the kernel's ESP). If the host kernel has ESP (esp4) and no
// XFRM state matches, the kernel drops the packet in its own ESP handler (XfrmInNoStates) but raw
// sockets have already received their copy, so this backend works next to a kernel with ESP;
// without esp4 the kernel sends no protocol-unreachable for a packet a raw socket took. A packet of
// the other kind than its SA (raw ESP for a UDP-encapsulated SA or the reverse) is dropped
// and counted (encap_mismatch), as XFRM does. A new raw socket is polled within 250 ms.
//
// Make-before-break: any number of inbound SAs may be installed at once (lookup by SPI); a
// tunnel's outbound SA is the most recently added outbound SA with its if_id, switched under
// the table lock, so a batch uses either the old or the new SA, never a mix. Deleting the
// current outbound SA falls back to the newest remaining one.
//
// Scope: update_sa may change only the UDP ports and the outer source address (as XFRM's
// UPDSA does for NAT-T), not keys or lifetimes, and refuses to switch an SA between raw ESP
// and UDP encapsulation. Policies are stored and checked for existence only: the
// tunnel is route-based and the SA binding is its if_id. Routes go into the kernel FIB through
// KernelRoutes (routes.hpp): a next hop's if_id is that tunnel's TUN device, NextHop::interface
// names any other device. I/O is batched with recvmmsg/sendmmsg; buffers are allocated once per
// thread, nothing per packet.
//
// Offloads (Options::offloads, on by default; each falls back by itself where the kernel lacks
// it): the TUN devices are opened with IFF_VNET_HDR and offer TSO4 and checksum offload, so the
// kernel hands over TCP segments of up to 64 kB (split by offload::TcpSegmenter before
// encryption) and partial checksums (completed here); equal-sized ESP-in-UDP packets of a batch
// leave in one sendmsg with UDP_SEGMENT (UDP GSO; turned off for good, and the packets resent
// one by one, if the kernel refuses it); the socket has UDP_GRO, so a coalesced datagram is
// split at its segment size on receipt; decapsulated TCP segments of one flow are merged
// (offload::Coalescer) into one GSO packet per TUN write. Raw ESP has no GSO/GRO.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/dataplane/offload.hpp"
#include "cgwd/dataplane/routes.hpp"

namespace cgwd::dataplane {

// Counters of the backend itself (per-SA counters come from query_sa).
struct UserspaceStats {
    std::uint64_t tun_packets_in = 0;       // read from TUN interfaces
    std::uint64_t no_outbound_sa = 0;       // TUN packet dropped: tunnel has no outbound SA
    std::uint64_t not_ipv4 = 0;             // TUN packet dropped: not a valid IPv4 packet
    std::uint64_t needs_fragmentation = 0;  // could not fragment (e.g. MTU too small)
    std::uint64_t fragments = 0;            // extra fragments made before encryption
    std::uint64_t encap_drops = 0;          // EspSa::encapsulate refused (expired, ...)
    std::uint64_t udp_send_errors = 0;
    std::uint64_t udp_datagrams_in = 0;
    std::uint64_t udp_unknown = 0;  // neither ESP, IKE nor keepalive
    std::uint64_t unknown_spi = 0;  // ESP for no installed inbound SA
    std::uint64_t decap_drops = 0;  // all decapsulation drops (details in the SA counters)
    std::uint64_t no_tunnel = 0;    // decapsulated, but the SA's if_id has no tunnel
    std::uint64_t tun_write_errors = 0;
    std::uint64_t ike_datagrams = 0;
    std::uint64_t keepalives = 0;
    std::uint64_t raw_packets_in = 0;           // read from the raw ESP socket
    std::uint64_t raw_not_ours = 0;             // raw ESP not addressed to an inbound SA's dst
    std::uint64_t raw_send_errors = 0;          // sendmmsg on the raw ESP socket failed
    std::uint64_t encap_mismatch = 0;           // raw ESP for a UDP-encapsulated SA or the reverse
    std::uint64_t tun_gso_packets_in = 0;       // TUN reads that were TSO packets (segmented here)
    std::uint64_t offload_errors = 0;           // TUN packet with a bad virtio-net header dropped
    std::uint64_t udp_gso_messages = 0;         // sendmsg calls that carried several ESP packets
    std::uint64_t udp_gro_datagrams = 0;        // received datagrams that held several ESP packets
    std::uint64_t tun_coalesced_segments = 0;   // segments merged into a preceding TUN write
    std::uint64_t tunnel_socket_datagrams = 0;  // UDP or raw ESP read by a tunnel's worker
    std::uint64_t tunnel_socket_errors = 0;     // a tunnel's connected socket could not be opened
};

class UserspaceDataplane final : public Dataplane {
  public:
    using IkeHandler = std::function<void(std::span<const std::uint8_t> ike,
                                          config::Ipv4Address from, std::uint16_t from_port)>;
    using Clock = std::function<std::uint64_t()>;  // seconds

    struct Options {
        std::uint16_t udp_port = 4500;     // local port of the shared UDP socket (0: any, tests)
        config::Ipv4Address bind_address;  // 0.0.0.0: all addresses
        std::uint16_t outer_mtu = 1500;    // path MTU for the outer (encapsulated) packets
        IkeHandler ike_handler;            // called on the receive thread
        Clock clock;                       // lifetime clock; default: system clock seconds
        KernelRoutes::Options routes;      // table and route protocol of add_route
        bool offloads = true;              // TUN TSO/checksum offload, UDP GSO and GRO
    };

    // Opens and binds the UDP socket and starts its receive thread.
    [[nodiscard]] static std::expected<std::unique_ptr<UserspaceDataplane>, Error> create(
        Options options);
    ~UserspaceDataplane() override;
    UserspaceDataplane(const UserspaceDataplane&) = delete;
    UserspaceDataplane& operator=(const UserspaceDataplane&) = delete;

    std::expected<void, Error> add_sa(const SaConfig& sa) override;
    std::expected<void, Error> update_sa(const SaConfig& sa) override;
    std::expected<void, Error> del_sa(const SaKey& key) override;
    std::expected<SaStats, Error> query_sa(const SaKey& key) override;
    std::expected<void, Error> add_policy(const Policy& policy) override;
    std::expected<void, Error> del_policy(const PolicyKey& key) override;
    std::expected<void, Error> create_tunnel(const TunnelInterface& t) override;
    std::expected<void, Error> delete_tunnel(std::uint32_t if_id) override;
    std::expected<void, Error> add_route(const Route& route) override;
    std::expected<void, Error> del_route(const RouteKey& key) override;
    // Batched through KernelRoutes::apply (routes.hpp), ENOBUFS resync included.
    RouteBatchResult apply_routes(std::span<const RouteChange> changes) override;
    std::expected<void, Error> set_mss_clamp(std::uint32_t if_id, std::uint16_t mss) override;
    void set_expiry_handler(ExpiryHandler handler) override;

    // Sends an IKE message from the shared socket, prefixed with the Non-ESP Marker.
    [[nodiscard]] std::expected<void, Error> send_ike(std::span<const std::uint8_t> ike,
                                                      config::Ipv4Address to,
                                                      std::uint16_t to_port);
    // Sends a NAT-keepalive (one 0xFF byte, RFC 3948 section 2.3) from the shared socket.
    [[nodiscard]] std::expected<void, Error> send_keepalive(config::Ipv4Address to,
                                                            std::uint16_t to_port);
    // Whether the raw ESP socket is open (the first SA without `encap` opens it).
    bool raw_esp_open() const { return raw_fd_.load(std::memory_order_acquire) >= 0; }
    // The bound UDP port (useful with udp_port 0).
    std::uint16_t udp_port() const { return bound_port_; }
    UserspaceStats stats() const;
    // Which offloads are in force (UDP GSO can turn off at run time, see above).
    bool udp_gso() const { return gso_.load(std::memory_order_relaxed); }
    bool udp_gro() const { return gro_; }
    // The SPI of the tunnel's current outbound SA (nullopt: none).
    std::optional<std::uint32_t> current_outbound_spi(std::uint32_t if_id) const;

    struct SaSlot;  // one installed SA (implementation detail)
    struct Tunnel;  // one TUN interface and its worker
    struct Counters;
    struct Receiver;  // buffers and merger of one receiving thread

  private:
    explicit UserspaceDataplane(Options options);
    void receive_loop();
    void tunnel_loop(Tunnel& tunnel);
    void receive_udp(int fd, Receiver& r);  // one recvmmsg batch from a UDP socket
    void receive_raw(int fd, Receiver& r);  // one recvmmsg batch from the raw ESP socket
    void flush_received(Receiver& r);       // writes what r holds for the TUN devices
    void process_datagram(std::span<std::uint8_t> payload, const void* from, Receiver& r);
    void process_raw(std::span<std::uint8_t> packet, Receiver& r, bool shared_socket);
    void process_esp(std::span<std::uint8_t> esp, bool encapsulated, std::uint32_t ip_dst,
                     Receiver& r, std::uint32_t shared_from = 0);
    void flush_coalesced_locked(Receiver& r);  // table lock held (shared is enough)
    void publish_peer(Tunnel& t);              // table lock held (shared is enough)
    int open_peer_socket(std::uint64_t peer);  // -1 (counted) on failure
    std::expected<void, Error> open_raw();     // table lock held exclusively
    void run_expiry(std::vector<ExpiryEvent>& events);
    void reselect_outbound(std::uint32_t if_id);  // table lock held exclusively
    std::uint64_t now() const;
    // A route's hops for KernelRoutes (tunnel if_id -> its TUN device); takes the table lock.
    [[nodiscard]] std::expected<RouteSpec, Error> route_spec(const Route& route) const;

    Options options_;
    int udp_fd_ = -1;
    std::atomic<int> raw_fd_{-1};  // raw IPPROTO_ESP socket, opened once by open_raw()
    int stop_fd_ = -1;             // eventfd: wakes the receive thread on shutdown
    std::uint16_t bound_port_ = 0;
    std::atomic<bool> gso_{false};  // UDP_SEGMENT usable on udp_fd_
    bool gro_ = false;              // UDP_GRO set on udp_fd_
    std::unique_ptr<Counters> counters_;
    std::unique_ptr<KernelRoutes> routes_;  // guarded by routes_mutex_
    std::mutex routes_mutex_;

    mutable std::shared_mutex table_;  // guards everything below except the SA internals
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::unique_ptr<SaSlot>> sas_;  // spi,dst
    std::unordered_map<std::uint32_t, SaSlot*> inbound_by_spi_;
    std::map<std::uint32_t, unsigned> inbound_dsts_;  // dst (host order) of inbound SAs -> count
    std::map<std::uint32_t, std::unique_ptr<Tunnel>> tunnels_;
    // Raw ESP peers (host order) a tunnel worker reads on its own socket -> how many workers.
    std::map<std::uint32_t, unsigned> raw_peer_sockets_;
    std::map<std::uint32_t, std::uint16_t> mss_;  // if_id -> clamp (kept across tunnel re-create)
    std::vector<Policy> policies_;
    std::uint64_t add_order_ = 0;

    std::mutex handler_mutex_;
    ExpiryHandler expiry_handler_;

    std::thread receiver_;
};

}  // namespace cgwd::dataplane
