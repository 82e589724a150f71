#include "cgwd/dataplane/userspace.hpp"

#include "route_changes.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "cgwd/dataplane/esp.hpp"
#include "cgwd/dataplane/ipv4.hpp"
#include "cgwd/dataplane/udp_encap.hpp"

namespace cgwd::dataplane {

namespace {

constexpr std::size_t batch_size = 32;    // packets per recvmmsg / TUN read burst
constexpr std::size_t max_out = 64;       // ESP packets per sendmmsg
constexpr std::size_t slot_size = 9216;   // largest packet handled (jumbo inner MTU 9000)
constexpr std::size_t udp_overhead = 28;  // outer IPv4 (20) + UDP (8) headers
constexpr std::size_t raw_overhead = 20;  // outer IPv4 header only (raw ESP)
constexpr std::uint8_t ip_proto_esp = 50;
constexpr std::uint16_t max_tunnel_mtu = 9000;
constexpr std::uint16_t min_tunnel_mtu = 576;
// Offloads (see userspace.hpp).
constexpr std::size_t gso_read_batch = 8;  // TUN reads per burst when each may be 64 kB
constexpr std::size_t gso_read_slot = offload::vnet_header_size + 65535;
constexpr std::size_t gro_batch = 16;  // recvmmsg messages when each may be 64 kB
constexpr std::size_t gro_slot = 65535;
constexpr std::size_t max_gso_segments = 64;    // UDP_MAX_SEGMENTS of Linux 6.1
constexpr std::size_t max_gso_payload = 65000;  // below 65535 - IPv4 - UDP headers
// Tunnel::want_peer of a raw ESP peer (no port): this bit and the address << 16.
constexpr std::uint64_t raw_peer_flag = std::uint64_t{1} << 63;

// Socket buffers for bursts of full-size packets (4 MB; the kernel caps them at its maxima).
void set_buffers(int fd, bool send_too) {
    const int buf = 4 << 20;
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (send_too) (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
}

// A buffer whose pages are touched only when used (not value-initialised).
std::unique_ptr<std::uint8_t[]> buffer(std::size_t size) {
    return std::unique_ptr<std::uint8_t[]>(new std::uint8_t[size]);
}

std::unexpected<Error> fail(Errc code, std::string message) {
    return std::unexpected(Error{code, std::move(message), 0});
}
std::unexpected<Error> sys_fail(std::string message) {
    const int e = errno;
    return std::unexpected(Error{Errc::system, message + ": " + std::strerror(e), e});
}

std::uint32_t load32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

sockaddr_in to_sockaddr(config::Ipv4Address a, std::uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    s.sin_addr.s_addr = htonl(a.value);
    return s;
}

// sockaddr_in through the generic pointer the socket API wants (no reinterpret at call sites).
sockaddr* as_sockaddr(sockaddr_in* s) {
    return static_cast<sockaddr*>(static_cast<void*>(s));
}

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_;
};

void wake(int event_fd) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t r = ::write(event_fd, &one, sizeof one);
}

using KeyDigest = std::array<std::uint8_t, 32>;

// SHA-256 over both keys (length-prefixed): lets update_sa notice a key change although EspSa
// wipes its copy of the keys, without keeping a second copy of them.
KeyDigest key_digest(const SaConfig& sa) {
    KeyDigest d{};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return d;
    const std::uint8_t lengths[2] = {static_cast<std::uint8_t>(sa.enc_key.size()),
                                     static_cast<std::uint8_t>(sa.integ_key.size())};
    unsigned len = 0;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
        EVP_DigestUpdate(ctx, lengths, sizeof lengths) == 1 &&
        EVP_DigestUpdate(ctx, sa.enc_key.bytes().data(), sa.enc_key.size()) == 1 &&
        EVP_DigestUpdate(ctx, sa.integ_key.bytes().data(), sa.integ_key.size()) == 1)
        (void)EVP_DigestFinal_ex(ctx, d.data(), &len);
    EVP_MD_CTX_free(ctx);
    return d;
}

// What a raw IPPROTO_ESP socket returns: the IPv4 header (already checked and reassembled by
// the kernel; ipv4::parse checks what we rely on again), then ESP from the SPI on.
struct RawEsp {
    std::uint32_t src = 0;  // host byte order
    std::uint32_t dst = 0;
    std::span<std::uint8_t> esp;
};
std::optional<RawEsp> parse_raw(std::span<std::uint8_t> packet) {
    auto h = ipv4::parse(packet);
    if (!h || h->protocol != ip_proto_esp || h->more_fragments || h->fragment_offset != 0)
        return std::nullopt;
    return RawEsp{load32(packet.data() + 12),  // source address (RFC 791 section 3.1)
                  load32(packet.data() + 16),  // destination address
                  packet.subspan(h->header_length, h->total_length - h->header_length)};
}

// Same SA apart from what update_sa may change (outer source address and UDP ports); the keys
// are compared through their digests.
bool same_except_nat(const SaConfig& a, const SaConfig& b) {
    return a.direction == b.direction && a.spi == b.spi && a.dst == b.dst && a.cipher == b.cipher &&
           a.integ == b.integ && a.esn == b.esn && a.replay_window == b.replay_window &&
           a.lifetime == b.lifetime && a.reqid == b.reqid && a.if_id == b.if_id;
}

}  // namespace

struct UserspaceDataplane::Counters {
    std::atomic<std::uint64_t> tun_packets_in{0}, no_outbound_sa{0}, not_ipv4{0},
        needs_fragmentation{0}, fragments{0}, encap_drops{0}, udp_send_errors{0},
        udp_datagrams_in{0}, udp_unknown{0}, unknown_spi{0}, decap_drops{0}, no_tunnel{0},
        tun_write_errors{0}, ike_datagrams{0}, keepalives{0}, raw_packets_in{0}, raw_not_ours{0},
        raw_send_errors{0}, encap_mismatch{0}, tun_gso_packets_in{0}, offload_errors{0},
        udp_gso_messages{0}, udp_gro_datagrams{0}, tun_coalesced_segments{0},
        tunnel_socket_datagrams{0}, tunnel_socket_errors{0};
};

namespace {
void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

struct UserspaceDataplane::SaSlot {
    SaSlot(EspSa s, const SaConfig& c, std::uint64_t o) : sa(std::move(s)), order(o) {
        direction = c.direction;
        if_id = c.if_id;
        raw = !c.encap.has_value();
        peer = to_sockaddr(c.dst, c.encap ? c.encap->dst_port : 0);
        source = c.src;
        keys = key_digest(c);
    }
    std::mutex mutex;  // guards sa and peer (the worker of one direction vs. query/update)
    EspSa sa;
    Direction direction;
    std::uint32_t if_id = 0;
    bool raw = false;            // raw ESP (IP protocol 50), else ESP in UDP
    sockaddr_in peer{};          // outbound: where the ESP(-in-UDP) packets go
    config::Ipv4Address source;  // outbound raw ESP: the outer source address (0: the kernel's)
    std::size_t max_inner = 0;   // outbound: largest inner packet that fits the outer MTU
    std::uint64_t order = 0;     // add order, for picking the newest outbound SA
    KeyDigest keys{};            // digest of the keys (update_sa refuses key changes)
};

struct UserspaceDataplane::Tunnel {
    TunnelInterface config;
    int tun_fd = -1;
    int stop_fd = -1;
    std::atomic<std::uint16_t> mss{0};
    bool vnet = false;           // IFF_VNET_HDR: every read and write starts with the header
    SaSlot* outbound = nullptr;  // guarded by the table lock
    // The outbound SA's ESP-in-UDP peer (address << 16 | port; 0: none or raw ESP): the worker
    // keeps a socket connected to it and reads that peer's datagrams itself. wake_fd tells it
    // the peer changed.
    std::atomic<std::uint64_t> want_peer{0};
    int wake_fd = -1;
    std::thread worker;
    ~Tunnel() {
        if (tun_fd >= 0) ::close(tun_fd);
        if (stop_fd >= 0) ::close(stop_fd);
        if (wake_fd >= 0) ::close(wake_fd);
    }
};

// What one receiving thread needs: buffers for a recvmmsg batch (with UDP_GRO one message may
// hold many ESP packets, up to 64 kB: bigger, fewer slots), a scratch packet and its own merger
// of decapsulated segments.
struct UserspaceDataplane::Receiver {
    static constexpr std::size_t gro_cmsg = CMSG_SPACE(sizeof(int));
    explicit Receiver(bool gro_on)
        : gro(gro_on),
          slot(gro_on ? gro_slot : slot_size),
          batch(gro_on ? gro_batch : batch_size),
          in(buffer(batch * slot)),
          scratch(slot_size),
          coalescer(gro_batch * 2) {}
    void prepare() {
        for (std::size_t i = 0; i < batch; ++i) {
            iovs[i] = iovec{in.get() + i * slot, slot};
            msgs[i] = mmsghdr{};
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            if (gro) {
                msgs[i].msg_hdr.msg_control = control.data() + i * gro_cmsg;
                msgs[i].msg_hdr.msg_controllen = gro_cmsg;
            }
        }
    }
    // One recvmmsg batch from `fd` (without waiting): the number of messages, or -1.
    int receive(int fd) {
        prepare();
        return ::recvmmsg(fd, msgs.data(), static_cast<unsigned>(batch), MSG_DONTWAIT, nullptr);
    }
    // The segment size of a GRO datagram (0: a single datagram).
    static std::size_t gro_size(msghdr& m) {
        for (cmsghdr* cm = CMSG_FIRSTHDR(&m); cm != nullptr; cm = CMSG_NXTHDR(&m, cm)) {
            if (cm->cmsg_level != IPPROTO_UDP || cm->cmsg_type != UDP_GRO) continue;
            int size = 0;
            std::memcpy(&size, CMSG_DATA(cm), sizeof size);
            return size > 0 ? static_cast<std::size_t>(size) : 0;
        }
        return 0;
    }
    bool gro;
    std::size_t slot, batch;
    std::unique_ptr<std::uint8_t[]> in;
    std::vector<std::uint8_t> scratch;
    std::array<mmsghdr, batch_size> msgs{};
    std::array<iovec, batch_size> iovs{};
    std::array<sockaddr_in, batch_size> from{};
    alignas(cmsghdr) std::array<std::uint8_t, batch_size * gro_cmsg> control{};
    offload::Coalescer coalescer;
};

UserspaceDataplane::UserspaceDataplane(Options options)
    : options_(std::move(options)), counters_(std::make_unique<Counters>()) {}

std::expected<std::unique_ptr<UserspaceDataplane>, Error> UserspaceDataplane::create(
    Options options) {
    if (options.outer_mtu < min_tunnel_mtu || options.outer_mtu > slot_size)
        return fail(Errc::invalid_argument, "outer MTU must be 576..9216");
    Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (udp.get() < 0) return sys_fail("socket(UDP)");
    set_buffers(udp.get(), true);
    // The inner packets are already sized for outer_mtu; never fail a send on a stale PMTU.
    const int pmtu = IP_PMTUDISC_DONT;
    (void)::setsockopt(udp.get(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    // The tunnels' connected sockets join this port (SO_REUSEPORT: same user only); the kernel
    // hands a datagram to the connected socket of its sender first. A port already taken must
    // still fail here, as without SO_REUSEPORT (another cgwd must not share it): probe first.
    sockaddr_in local = to_sockaddr(options.bind_address, options.udp_port);
    if (options.udp_port != 0) {
        Fd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (probe.get() < 0) return sys_fail("socket(UDP)");
        if (::bind(probe.get(), as_sockaddr(&local), sizeof local) < 0)
            return sys_fail("bind(UDP)");
    }
    const int reuse = 1;
    if (::setsockopt(udp.get(), SOL_SOCKET, SO_REUSEPORT, &reuse, sizeof reuse) < 0)
        return sys_fail("SO_REUSEPORT");
    if (::bind(udp.get(), as_sockaddr(&local), sizeof local) < 0) return sys_fail("bind(UDP)");
    bool gso = false, gro = false;
    if (options.offloads) {
        // Setting a GSO size of 0 only asks whether the kernel knows UDP_SEGMENT (4.18+).
        const int zero = 0, one = 1;
        gso = ::setsockopt(udp.get(), IPPROTO_UDP, UDP_SEGMENT, &zero, sizeof zero) == 0;
        gro = ::setsockopt(udp.get(), IPPROTO_UDP, UDP_GRO, &one, sizeof one) == 0;
    }
    socklen_t len = sizeof local;
    if (::getsockname(udp.get(), as_sockaddr(&local), &len) < 0) return sys_fail("getsockname");
    Fd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (stop.get() < 0) return sys_fail("eventfd");

    auto routes = KernelRoutes::open(options.routes);
    if (!routes) return std::unexpected(routes.error());

    std::unique_ptr<UserspaceDataplane> dp(new UserspaceDataplane(std::move(options)));
    dp->routes_ = std::make_unique<KernelRoutes>(std::move(*routes));
    dp->udp_fd_ = udp.release();
    dp->stop_fd_ = stop.release();
    dp->bound_port_ = ntohs(local.sin_port);
    dp->gso_.store(gso, std::memory_order_relaxed);
    dp->gro_ = gro;
    dp->receiver_ = std::thread([p = dp.get()] { p->receive_loop(); });
    return dp;
}

UserspaceDataplane::~UserspaceDataplane() {
    std::map<std::uint32_t, std::unique_ptr<Tunnel>> tunnels;
    {
        std::unique_lock lock(table_);
        tunnels.swap(tunnels_);
        for (auto& [id, t] : tunnels) t->outbound = nullptr;
    }
    for (auto& [id, t] : tunnels) {
        wake(t->stop_fd);
        if (t->worker.joinable()) t->worker.join();
    }
    if (stop_fd_ >= 0) wake(stop_fd_);
    if (receiver_.joinable()) receiver_.join();
    if (udp_fd_ >= 0) ::close(udp_fd_);
    if (const int raw = raw_fd_.load(); raw >= 0) ::close(raw);
    if (stop_fd_ >= 0) ::close(stop_fd_);
}

std::uint64_t UserspaceDataplane::now() const {
    if (options_.clock) return options_.clock();
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

UserspaceStats UserspaceDataplane::stats() const {
    const Counters& c = *counters_;
    auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return UserspaceStats{r(c.tun_packets_in),
                          r(c.no_outbound_sa),
                          r(c.not_ipv4),
                          r(c.needs_fragmentation),
                          r(c.fragments),
                          r(c.encap_drops),
                          r(c.udp_send_errors),
                          r(c.udp_datagrams_in),
                          r(c.udp_unknown),
                          r(c.unknown_spi),
                          r(c.decap_drops),
                          r(c.no_tunnel),
                          r(c.tun_write_errors),
                          r(c.ike_datagrams),
                          r(c.keepalives),
                          r(c.raw_packets_in),
                          r(c.raw_not_ours),
                          r(c.raw_send_errors),
                          r(c.encap_mismatch),
                          r(c.tun_gso_packets_in),
                          r(c.offload_errors),
                          r(c.udp_gso_messages),
                          r(c.udp_gro_datagrams),
                          r(c.tun_coalesced_segments),
                          r(c.tunnel_socket_datagrams),
                          r(c.tunnel_socket_errors)};
}

std::optional<std::uint32_t> UserspaceDataplane::current_outbound_spi(std::uint32_t if_id) const {
    std::shared_lock lock(table_);
    auto it = tunnels_.find(if_id);
    if (it == tunnels_.end() || it->second->outbound == nullptr) return std::nullopt;
    return it->second->outbound->sa.config().spi;
}

// ---- SAs ----

std::expected<void, Error> UserspaceDataplane::add_sa(const SaConfig& sa) {
    if (auto v = validate(sa); !v) return v;
    auto esp = EspSa::create(sa, now());
    if (!esp) return std::unexpected(esp.error());

    std::unique_lock lock(table_);
    const auto key = std::make_pair(sa.spi, sa.dst.value);
    if (sas_.contains(key)) return fail(Errc::already_exists, "SA exists");
    if (sa.direction == Direction::inbound && inbound_by_spi_.contains(sa.spi))
        return fail(Errc::already_exists, "an inbound SA with this SPI exists");
    if (!sa.encap)
        if (auto opened = open_raw(); !opened) return opened;
    auto slot = std::make_unique<SaSlot>(std::move(*esp), sa, ++add_order_);
    if (sa.direction == Direction::outbound) {
        // Largest inner packet whose ESP(-in-UDP) packet fits the outer MTU.
        const std::size_t overhead = sa.encap ? udp_overhead : raw_overhead;
        std::size_t inner = options_.outer_mtu - overhead;
        while (inner > 0 && slot->sa.encapsulated_size(inner) + overhead > options_.outer_mtu)
            --inner;
        slot->max_inner = inner;
    }
    SaSlot* raw = slot.get();
    sas_.emplace(key, std::move(slot));
    if (sa.direction == Direction::inbound) {
        inbound_by_spi_.emplace(sa.spi, raw);
        ++inbound_dsts_[sa.dst.value];
    } else {
        reselect_outbound(sa.if_id);
    }
    return {};
}

std::expected<void, Error> UserspaceDataplane::update_sa(const SaConfig& sa) {
    if (auto v = validate(sa); !v) return v;
    std::shared_lock lock(table_);
    auto it = sas_.find(std::make_pair(sa.spi, sa.dst.value));
    if (it == sas_.end()) return fail(Errc::not_found, "no such SA");
    SaSlot& slot = *it->second;
    std::lock_guard guard(slot.mutex);
    if (!same_except_nat(slot.sa.config(), sa) || slot.keys != key_digest(sa))
        return fail(Errc::unsupported,
                    "update_sa may change only the outer source address and UDP ports");
    if (slot.raw == sa.encap.has_value())
        return fail(Errc::unsupported,
                    "update_sa cannot switch an SA between raw ESP and UDP encapsulation");
    slot.peer = to_sockaddr(sa.dst, sa.encap ? sa.encap->dst_port : 0);
    slot.source = sa.src;
    if (auto t = tunnels_.find(slot.if_id); t != tunnels_.end() && t->second->outbound == &slot)
        publish_peer(*t->second);
    return {};
}

std::expected<void, Error> UserspaceDataplane::del_sa(const SaKey& key) {
    std::unique_lock lock(table_);
    auto it = sas_.find(std::make_pair(key.spi, key.dst.value));
    if (it == sas_.end()) return fail(Errc::not_found, "no such SA");
    const Direction direction = it->second->direction;
    const std::uint32_t if_id = it->second->if_id;
    if (direction == Direction::inbound) {
        inbound_by_spi_.erase(key.spi);
        if (auto d = inbound_dsts_.find(key.dst.value);
            d != inbound_dsts_.end() && --d->second == 0)
            inbound_dsts_.erase(d);
    }
    // Nobody else holds the slot: workers use it only under the table lock.
    if (auto t = tunnels_.find(if_id);
        t != tunnels_.end() && t->second->outbound == it->second.get())
        t->second->outbound = nullptr;
    sas_.erase(it);
    if (direction == Direction::outbound) reselect_outbound(if_id);
    return {};
}

std::expected<void, Error> UserspaceDataplane::open_raw() {
    if (raw_fd_.load(std::memory_order_acquire) >= 0) return {};
    Fd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ESP));
    if (raw.get() < 0) return sys_fail("socket(raw ESP, needs CAP_NET_RAW)");
    set_buffers(raw.get(), true);
    // DF clear on the outer header, as on the UDP socket (the inner packets are sized already).
    const int pmtu = IP_PMTUDISC_DONT;
    (void)::setsockopt(raw.get(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    if (options_.bind_address.value != 0) {
        // Also limits what the kernel hands us to ESP addressed to that address.
        sockaddr_in local = to_sockaddr(options_.bind_address, 0);
        if (::bind(raw.get(), as_sockaddr(&local), sizeof local) < 0)
            return sys_fail("bind(raw ESP)");
    }
    raw_fd_.store(raw.release(), std::memory_order_release);
    return {};
}

void UserspaceDataplane::reselect_outbound(std::uint32_t if_id) {
    auto t = tunnels_.find(if_id);
    if (t == tunnels_.end()) return;
    SaSlot* best = nullptr;
    for (auto& [key, slot] : sas_) {
        if (slot->direction != Direction::outbound || slot->if_id != if_id) continue;
        if (best == nullptr || slot->order > best->order) best = slot.get();
    }
    t->second->outbound = best;
    publish_peer(*t->second);
}

void UserspaceDataplane::publish_peer(Tunnel& t) {
    const SaSlot* sa = t.outbound;
    std::uint64_t key = 0;
    if (sa != nullptr) {
        key = std::uint64_t{ntohl(sa->peer.sin_addr.s_addr)} << 16;
        key |= sa->raw ? raw_peer_flag : ntohs(sa->peer.sin_port);
    }
    if (t.want_peer.exchange(key, std::memory_order_relaxed) != key) wake(t.wake_fd);
}

int UserspaceDataplane::open_peer_socket(std::uint64_t key) {
    Counters& c = *counters_;
    if ((key & raw_peer_flag) != 0) {
        // Raw ESP from that address only: a raw socket connected to it gets its own copy of
        // each such packet (the shared raw socket then leaves them alone, see process_esp).
        Fd fd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ESP));
        sockaddr_in local = to_sockaddr(options_.bind_address, 0);
        sockaddr_in peer = to_sockaddr(
            config::Ipv4Address{static_cast<std::uint32_t>((key & ~raw_peer_flag) >> 16)}, 0);
        if (fd.get() < 0 ||
            (options_.bind_address.value != 0 &&
             ::bind(fd.get(), as_sockaddr(&local), sizeof local) < 0) ||
            ::connect(fd.get(), as_sockaddr(&peer), sizeof peer) < 0) {
            bump(c.tunnel_socket_errors);
            return -1;
        }
        set_buffers(fd.get(), false);  // receive only: sending stays on the shared socket
        return fd.release();
    }
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const int reuse = 1;
    sockaddr_in local = to_sockaddr(options_.bind_address, bound_port_);
    sockaddr_in peer = to_sockaddr(config::Ipv4Address{static_cast<std::uint32_t>(key >> 16)},
                                   static_cast<std::uint16_t>(key));
    if (fd.get() < 0 ||
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &reuse, sizeof reuse) < 0 ||
        ::bind(fd.get(), as_sockaddr(&local), sizeof local) < 0 ||
        ::connect(fd.get(), as_sockaddr(&peer), sizeof peer) < 0) {
        bump(c.tunnel_socket_errors);
        return -1;
    }
    set_buffers(fd.get(), false);
    if (gro_) {
        const int one = 1;
        (void)::setsockopt(fd.get(), IPPROTO_UDP, UDP_GRO, &one, sizeof one);
    }
    return fd.release();
}

std::expected<SaStats, Error> UserspaceDataplane::query_sa(const SaKey& key) {
    std::shared_lock lock(table_);
    auto it = sas_.find(std::make_pair(key.spi, key.dst.value));
    if (it == sas_.end()) return fail(Errc::not_found, "no such SA");
    std::lock_guard guard(it->second->mutex);
    return it->second->sa.stats();
}

// ---- policies, routes, MSS ----

std::expected<void, Error> UserspaceDataplane::add_policy(const Policy& policy) {
    std::unique_lock lock(table_);
    for (const Policy& p : policies_)
        if (key_of(p) == key_of(policy)) return fail(Errc::already_exists, "policy exists");
    policies_.push_back(policy);
    return {};
}

std::expected<void, Error> UserspaceDataplane::del_policy(const PolicyKey& key) {
    std::unique_lock lock(table_);
    auto it = std::find_if(policies_.begin(), policies_.end(),
                           [&](const Policy& p) { return key_of(p) == key; });
    if (it == policies_.end()) return fail(Errc::not_found, "no such policy");
    policies_.erase(it);
    return {};
}

std::expected<RouteSpec, Error> UserspaceDataplane::route_spec(const Route& route) const {
    std::shared_lock lock(table_);
    return detail::route_spec(route, [this](std::uint32_t if_id, RouteHop& hop) {
        auto t = tunnels_.find(if_id);
        if (t == tunnels_.end()) return false;
        hop.device = t->second->config.name;
        return true;
    });
}

std::expected<void, Error> UserspaceDataplane::add_route(const Route& route) {
    auto spec = route_spec(route);
    if (!spec) return std::unexpected(spec.error());
    std::lock_guard guard(routes_mutex_);
    return routes_->replace(*spec);
}

std::expected<void, Error> UserspaceDataplane::del_route(const RouteKey& key) {
    std::lock_guard guard(routes_mutex_);
    return routes_->remove(key.destination, key.metric, key.table);
}

RouteBatchResult UserspaceDataplane::apply_routes(std::span<const RouteChange> changes) {
    return detail::apply_changes(
        changes, [this](const Route& r) { return route_spec(r); },
        [this](std::span<const RouteOp> ops) {
            std::lock_guard guard(routes_mutex_);
            return routes_->apply(ops);
        },
        [](const RouteChange&, const std::optional<Error>&) {});
}

std::expected<void, Error> UserspaceDataplane::set_mss_clamp(std::uint32_t if_id,
                                                             std::uint16_t mss) {
    if (mss != 0 && mss < 88) return fail(Errc::invalid_argument, "MSS below 88");
    std::unique_lock lock(table_);
    auto t = tunnels_.find(if_id);
    if (t == tunnels_.end()) return fail(Errc::not_found, "no such tunnel");
    t->second->mss.store(mss, std::memory_order_relaxed);
    return {};
}

void UserspaceDataplane::set_expiry_handler(ExpiryHandler handler) {
    std::lock_guard guard(handler_mutex_);
    expiry_handler_ = std::move(handler);
}

// ---- tunnels ----

std::expected<void, Error> UserspaceDataplane::create_tunnel(const TunnelInterface& t) {
    if (t.if_id == 0) return fail(Errc::invalid_argument, "if_id 0");
    if (t.name.empty() || t.name.size() >= IFNAMSIZ)
        return fail(Errc::invalid_argument, "interface name empty or too long");
    if (t.mtu < min_tunnel_mtu || t.mtu > max_tunnel_mtu)
        return fail(Errc::invalid_argument, "tunnel MTU must be 576..9000");
    if (t.prefix_length > 32) return fail(Errc::invalid_argument, "prefix length above 32");
    {
        std::shared_lock lock(table_);
        if (tunnels_.contains(t.if_id)) return fail(Errc::already_exists, "tunnel exists");
    }

    Fd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (tun.get() < 0) return sys_fail("open /dev/net/tun");
    ifreq ifr{};
    const bool vnet = options_.offloads;
    ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
    std::memcpy(ifr.ifr_name, t.name.data(), t.name.size());
    if (::ioctl(tun.get(), TUNSETIFF, &ifr) < 0) return sys_fail("TUNSETIFF " + t.name);
    // Without TSO (an old kernel refusing it) the header stays, always saying "no GSO".
    if (vnet) (void)::ioctl(tun.get(), TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4);

    Fd ctl(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (ctl.get() < 0) return sys_fail("socket(ioctl)");
    ifr.ifr_mtu = t.mtu;
    if (::ioctl(ctl.get(), SIOCSIFMTU, &ifr) < 0) return sys_fail("SIOCSIFMTU " + t.name);
    if (t.local_inside.value != 0) {
        sockaddr_in a = to_sockaddr(t.local_inside, 0);
        std::memcpy(&ifr.ifr_addr, &a, sizeof a);
        if (::ioctl(ctl.get(), SIOCSIFADDR, &ifr) < 0) return sys_fail("SIOCSIFADDR " + t.name);
        const auto prefix = config::Ipv4Prefix::of(t.local_inside, t.prefix_length);
        sockaddr_in m = to_sockaddr(config::Ipv4Address{prefix.mask()}, 0);
        std::memcpy(&ifr.ifr_netmask, &m, sizeof m);
        if (::ioctl(ctl.get(), SIOCSIFNETMASK, &ifr) < 0)
            return sys_fail("SIOCSIFNETMASK " + t.name);
    }
    if (::ioctl(ctl.get(), SIOCGIFFLAGS, &ifr) < 0) return sys_fail("SIOCGIFFLAGS " + t.name);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(ctl.get(), SIOCSIFFLAGS, &ifr) < 0) return sys_fail("SIOCSIFFLAGS " + t.name);

    Fd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (stop.get() < 0) return sys_fail("eventfd");
    Fd wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (wake_fd.get() < 0) return sys_fail("eventfd");

    auto tunnel = std::make_unique<Tunnel>();
    tunnel->config = t;
    tunnel->vnet = vnet;
    tunnel->tun_fd = tun.release();
    tunnel->stop_fd = stop.release();
    tunnel->wake_fd = wake_fd.release();
    Tunnel* raw = tunnel.get();
    {
        std::unique_lock lock(table_);
        if (tunnels_.contains(t.if_id)) return fail(Errc::already_exists, "tunnel exists");
        tunnels_.emplace(t.if_id, std::move(tunnel));
        reselect_outbound(t.if_id);
    }
    raw->worker = std::thread([this, raw] { tunnel_loop(*raw); });
    return {};
}

std::expected<void, Error> UserspaceDataplane::delete_tunnel(std::uint32_t if_id) {
    std::unique_ptr<Tunnel> tunnel;
    {
        std::unique_lock lock(table_);
        auto it = tunnels_.find(if_id);
        if (it == tunnels_.end()) return fail(Errc::not_found, "no such tunnel");
        tunnel = std::move(it->second);
        tunnel->outbound = nullptr;
        tunnels_.erase(it);
    }
    wake(tunnel->stop_fd);
    if (tunnel->worker.joinable()) tunnel->worker.join();
    return {};  // closing the TUN fd removes the interface
}

// ---- IKE ----

std::expected<void, Error> UserspaceDataplane::send_ike(std::span<const std::uint8_t> ike,
                                                        config::Ipv4Address to,
                                                        std::uint16_t to_port) {
    std::vector<std::uint8_t> datagram(ike.size() + udp::non_esp_marker_size);
    auto n = udp::add_non_esp_marker(ike, datagram);
    if (!n) return fail(Errc::invalid_argument, "IKE message does not fit");
    sockaddr_in dst = to_sockaddr(to, to_port);
    if (::sendto(udp_fd_, datagram.data(), *n, 0, as_sockaddr(&dst), sizeof dst) < 0)
        return sys_fail("sendto(IKE)");
    return {};
}

std::expected<void, Error> UserspaceDataplane::send_keepalive(config::Ipv4Address to,
                                                              std::uint16_t to_port) {
    const std::uint8_t keepalive = 0xFF;  // RFC 3948 section 2.3
    sockaddr_in dst = to_sockaddr(to, to_port);
    if (::sendto(udp_fd_, &keepalive, 1, 0, as_sockaddr(&dst), sizeof dst) < 0)
        return sys_fail("sendto(NAT keepalive)");
    return {};
}

// ---- workers ----

void UserspaceDataplane::tunnel_loop(Tunnel& tunnel) {
    // All buffers once per worker; nothing allocated per packet. Pages of the large ones are
    // touched only when traffic needs them.
    const bool vnet = tunnel.vnet;
    const std::size_t read_slot = vnet ? gso_read_slot : slot_size;
    const std::size_t read_batch = vnet ? gso_read_batch : batch_size;
    auto in = buffer(read_batch * read_slot);
    auto out = buffer(max_out * slot_size);
    auto fragment = buffer(slot_size);
    auto segment = buffer(slot_size);
    std::array<std::size_t, batch_size> in_len{};
    std::array<iovec, max_out> iovs{};         // one per ESP packet
    std::array<mmsghdr, max_out> msgs{};       // one per packet, or per GSO run of packets
    std::array<std::size_t, max_out> first{};  // msgs[i] carries iovs[first[i]] onwards
    // UDP GSO: one UDP_SEGMENT per message. Raw ESP: one IP_PKTINFO (the SA's outer source)
    // shared by every message of a batch, since a batch has one SA.
    constexpr std::size_t gso_cmsg = CMSG_SPACE(sizeof(std::uint16_t));
    alignas(cmsghdr) std::array<std::uint8_t, max_out * gso_cmsg> gso_control{};
    alignas(cmsghdr) std::array<std::uint8_t, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    bool use_control = false;
    int send_fd = udp_fd_;
    sockaddr_in peer{};
    Counters& c = *counters_;
    std::size_t pending = 0;

    // Sends iovs[from, from + count) one datagram each (also the fallback for a refused GSO).
    auto send_each = [&](std::size_t from, std::size_t count) {
        for (std::size_t i = from; i < from + count; ++i) {
            msghdr m{};
            m.msg_name = &peer;
            m.msg_namelen = sizeof peer;
            m.msg_iov = &iovs[i];
            m.msg_iovlen = 1;
            if (use_control) {
                m.msg_control = control.data();
                m.msg_controllen = control.size();
            }
            if (::sendmsg(send_fd, &m, 0) < 0)
                bump(send_fd == udp_fd_ ? c.udp_send_errors : c.raw_send_errors);
        }
    };
    auto flush = [&] {
        const bool gso = send_fd == udp_fd_ && gso_.load(std::memory_order_relaxed);
        std::size_t count = 0;
        for (std::size_t i = 0; i < pending;) {
            // A GSO run: packets of the first one's size, the last of them possibly shorter.
            const std::size_t size = iovs[i].iov_len;
            std::size_t run = 1, bytes = size;
            while (gso && i + run < pending && run < max_gso_segments &&
                   iovs[i + run - 1].iov_len == size && iovs[i + run].iov_len <= size &&
                   bytes + iovs[i + run].iov_len <= max_gso_payload)
                bytes += iovs[i + run++].iov_len;
            mmsghdr& m = msgs[count];
            m = mmsghdr{};
            m.msg_hdr.msg_name = &peer;
            m.msg_hdr.msg_namelen = sizeof peer;
            m.msg_hdr.msg_iov = &iovs[i];
            m.msg_hdr.msg_iovlen = run;
            if (run > 1) {
                std::uint8_t* area = gso_control.data() + count * gso_cmsg;
                m.msg_hdr.msg_control = area;
                m.msg_hdr.msg_controllen = gso_cmsg;
                cmsghdr* cm = CMSG_FIRSTHDR(&m.msg_hdr);
                cm->cmsg_level = IPPROTO_UDP;
                cm->cmsg_type = UDP_SEGMENT;
                cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
                const auto segment_size = static_cast<std::uint16_t>(size);
                std::memcpy(CMSG_DATA(cm), &segment_size, sizeof segment_size);
            } else if (use_control) {
                m.msg_hdr.msg_control = control.data();
                m.msg_hdr.msg_controllen = control.size();
            }
            first[count++] = i;
            i += run;
        }
        std::size_t done = 0;
        while (done < count) {
            const int r =
                ::sendmmsg(send_fd, msgs.data() + done, static_cast<unsigned>(count - done), 0);
            if (r >= 0) {
                for (std::size_t k = done; k < done + static_cast<std::size_t>(r); ++k)
                    if (msgs[k].msg_hdr.msg_iovlen > 1) bump(c.udp_gso_messages);
                done += static_cast<std::size_t>(r);
                continue;
            }
            if (errno == EINTR) continue;
            const std::size_t packets = msgs[done].msg_hdr.msg_iovlen;
            if (packets > 1 &&
                (errno == EIO || errno == EINVAL || errno == EMSGSIZE || errno == EOPNOTSUPP)) {
                // The kernel or the outgoing device cannot segment (no checksum offload, or a
                // segment above the device MTU, EINVAL before Linux 6.5 and EMSGSIZE since):
                // no GSO from now on, and this run goes out one packet at a time.
                gso_.store(false, std::memory_order_relaxed);
                send_each(first[done], packets);
            } else {
                // This message failed; go on with the rest.
                bump(send_fd == udp_fd_ ? c.udp_send_errors : c.raw_send_errors, packets);
            }
            ++done;
        }
        pending = 0;
    };
    // Encapsulates `inner` into the next output slot.
    auto emit = [&](SaSlot& sa, std::span<const std::uint8_t> inner) {
        if (pending == max_out) flush();
        std::uint8_t* slot = out.get() + pending * slot_size;
        auto n = sa.sa.encapsulate(inner, {slot, slot_size});
        if (!n) {
            bump(c.encap_drops);
            return;
        }
        iovs[pending++] = iovec{slot, *n};
    };
    // One inner packet: MSS clamp, fragment before encryption if needed, encapsulate.
    auto forward = [&](SaSlot& sa, std::uint16_t mss, std::span<std::uint8_t> packet) {
        auto header = ipv4::parse(packet);
        if (!header) {
            bump(c.not_ipv4);
            return;
        }
        packet = packet.first(header->total_length);
        if (mss != 0) (void)ipv4::clamp_mss(packet, mss);
        if (packet.size() <= sa.max_inner) {
            emit(sa, packet);
            return;
        }
        // Fragment before encryption; DF is cleared (the peer reassembles).
        auto frag =
            ipv4::Fragmenter::create(packet, static_cast<std::uint16_t>(sa.max_inner), true);
        if (!frag) {
            bump(c.needs_fragmentation);
            return;
        }
        bump(c.fragments, frag->fragment_count() - 1);
        while (!frag->done()) {
            auto n = frag->next({fragment.get(), slot_size});
            if (!n) {
                bump(c.needs_fragmentation);
                break;
            }
            emit(sa, std::span<const std::uint8_t>(fragment.get(), *n));
        }
    };
    // A packet as read from the TUN device: with a virtio-net header, a TSO packet is split
    // into segments and a partial checksum completed first.
    auto take = [&](SaSlot& sa, std::uint16_t mss, std::span<std::uint8_t> read) {
        if (!vnet) return forward(sa, mss, read);
        if (read.size() < offload::vnet_header_size) {
            bump(c.offload_errors);
            return;
        }
        const offload::VnetHeader vh = offload::decode_vnet(read);
        std::span<std::uint8_t> packet = read.subspan(offload::vnet_header_size);
        if (vh.gso_type == offload::gso_none) {
            if ((vh.flags & offload::vnet_flag_needs_csum) != 0 &&
                !offload::complete_checksum(packet, vh.csum_start, vh.csum_offset)) {
                bump(c.offload_errors);
                return;
            }
            return forward(sa, mss, packet);
        }
        auto segments = offload::TcpSegmenter::create(packet, vh);
        if (!segments || segments->max_segment_size() > slot_size) {
            bump(c.offload_errors);
            return;
        }
        bump(c.tun_gso_packets_in);
        while (!segments->done()) {
            auto n = segments->next({segment.get(), slot_size});
            if (!n) {
                bump(c.offload_errors);
                return;
            }
            forward(sa, mss, {segment.get(), *n});
        }
    };

    // Receiving from this tunnel's peer: a socket connected to it (opened and replaced here,
    // when the outbound SA's peer changes), with this worker's own buffers and merger.
    std::optional<Receiver> receiver;
    Fd peer_socket;
    std::uint64_t have_peer = 0;
    // A raw ESP peer with a socket here is registered, so the shared raw socket's thread skips
    // its packets; unregistered when the socket goes (also when the worker ends).
    auto register_raw_peer = [this](std::uint64_t key, bool add) {
        if ((key & raw_peer_flag) == 0) return;
        const auto address = static_cast<std::uint32_t>((key & ~raw_peer_flag) >> 16);
        std::unique_lock lock(table_);
        if (add) {
            ++raw_peer_sockets_[address];
        } else if (auto it = raw_peer_sockets_.find(address);
                   it != raw_peer_sockets_.end() && --it->second == 0) {
            raw_peer_sockets_.erase(it);
        }
    };
    struct Unregister {
        std::function<void()> run;
        ~Unregister() { run(); }
    } unregister{[&] {
        if (peer_socket.get() >= 0) register_raw_peer(have_peer, false);
    }};

    pollfd fds[4] = {{tunnel.tun_fd, POLLIN, 0},
                     {tunnel.stop_fd, POLLIN, 0},
                     {tunnel.wake_fd, POLLIN, 0},
                     {-1, POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 4, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents != 0) return;
        if ((fds[2].revents & POLLIN) != 0) {
            std::uint64_t ignored = 0;
            [[maybe_unused]] const ssize_t r = ::read(tunnel.wake_fd, &ignored, sizeof ignored);
            if (const std::uint64_t want = tunnel.want_peer.load(std::memory_order_relaxed);
                want != have_peer) {
                if (peer_socket.get() >= 0) register_raw_peer(have_peer, false);
                peer_socket.reset(want != 0 ? open_peer_socket(want) : -1);
                have_peer = want;
                fds[3].fd = peer_socket.get();
                if (peer_socket.get() >= 0) {
                    register_raw_peer(have_peer, true);
                    if (!receiver) receiver.emplace(gro_);
                }
            }
        }
        // Readable, or an error to collect (an ICMP unreachable reported on a connected socket).
        if (fds[3].fd >= 0 && fds[3].revents != 0) {
            if ((have_peer & raw_peer_flag) != 0)
                receive_raw(fds[3].fd, *receiver);
            else
                receive_udp(fds[3].fd, *receiver);
            flush_received(*receiver);
        }
        // The interface went away under us (deleted by someone else): nothing more to read.
        if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return;
        if ((fds[0].revents & POLLIN) == 0) continue;
        std::size_t count = 0;
        while (count < read_batch) {
            const ssize_t r = ::read(tunnel.tun_fd, in.get() + count * read_slot, read_slot);
            if (r <= 0) break;
            in_len[count++] = static_cast<std::size_t>(r);
        }
        if (count == 0) continue;
        bump(c.tun_packets_in, count);
        {
            std::shared_lock lock(table_);
            SaSlot* sa = tunnel.outbound;
            if (sa == nullptr) {
                bump(c.no_outbound_sa, count);
                continue;
            }
            const std::uint16_t mss = tunnel.mss.load(std::memory_order_relaxed);
            std::lock_guard guard(sa->mutex);
            send_fd = sa->raw ? raw_fd_.load(std::memory_order_acquire) : udp_fd_;
            peer = sa->peer;
            use_control = sa->raw && sa->source.value != 0;
            if (use_control) {
                msghdr m{};
                m.msg_control = control.data();
                m.msg_controllen = control.size();
                cmsghdr* cm = CMSG_FIRSTHDR(&m);
                cm->cmsg_level = IPPROTO_IP;
                cm->cmsg_type = IP_PKTINFO;
                cm->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
                in_pktinfo info{};
                info.ipi_spec_dst.s_addr = htonl(sa->source.value);
                std::memcpy(CMSG_DATA(cm), &info, sizeof info);
            }
            for (std::size_t i = 0; i < count; ++i)
                take(*sa, mss, {in.get() + i * read_slot, in_len[i]});
            flush();
        }
    }
}

void UserspaceDataplane::receive_udp(int fd, Receiver& r) {
    Counters& c = *counters_;
    const int n = r.receive(fd);
    for (int i = 0; i < n; ++i) {
        const auto idx = static_cast<std::size_t>(i);
        if ((r.msgs[idx].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
            bump(c.udp_datagrams_in);
            bump(c.udp_unknown);
            continue;
        }
        const std::size_t length = r.msgs[idx].msg_len;
        std::size_t step = r.gro ? Receiver::gro_size(r.msgs[idx].msg_hdr) : 0;
        if (step == 0 || step >= length) {
            step = length;
        } else {
            bump(c.udp_gro_datagrams);
        }
        std::uint8_t* data = r.in.get() + idx * r.slot;
        // A zero-length datagram is still one (it is counted and found to be unknown).
        std::size_t offset = 0;
        do {
            const std::size_t size = std::min(step, length - offset);
            bump(c.udp_datagrams_in);
            if (fd != udp_fd_) bump(c.tunnel_socket_datagrams);
            process_datagram({data + offset, size}, &r.from[idx], r);
            offset += size;
        } while (offset < length);
    }
}

void UserspaceDataplane::receive_raw(int fd, Receiver& r) {
    Counters& c = *counters_;
    const bool shared = fd == raw_fd_.load(std::memory_order_relaxed);
    const int n = r.receive(fd);
    for (int i = 0; i < n; ++i) {
        const auto idx = static_cast<std::size_t>(i);
        bump(shared ? c.raw_packets_in : c.tunnel_socket_datagrams);
        if ((r.msgs[idx].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
            bump(c.raw_not_ours);
            continue;
        }
        process_raw({r.in.get() + idx * r.slot, r.msgs[idx].msg_len}, r, shared);
    }
}

void UserspaceDataplane::flush_received(Receiver& r) {
    if (r.coalescer.empty()) return;
    std::shared_lock lock(table_);
    flush_coalesced_locked(r);
}

void UserspaceDataplane::receive_loop() {
    Receiver r(gro_);
    std::vector<ExpiryEvent> events;
    events.reserve(64);
    auto last_expiry = std::chrono::steady_clock::now();

    // The raw ESP socket (third entry) joins once open_raw() has opened it; -1 is not polled.
    pollfd fds[3] = {{udp_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}, {-1, POLLIN, 0}};
    for (;;) {
        fds[2].fd = raw_fd_.load(std::memory_order_acquire);
        fds[2].revents = 0;
        const int pr = ::poll(fds, 3, 250);
        if (pr < 0 && errno != EINTR) return;
        if (fds[1].revents != 0) return;
        if (pr > 0 && (fds[2].revents & POLLIN) != 0) receive_raw(fds[2].fd, r);
        if (pr > 0 && (fds[0].revents & POLLIN) != 0) receive_udp(udp_fd_, r);
        flush_received(r);
        const auto t = std::chrono::steady_clock::now();
        if (t - last_expiry >= std::chrono::milliseconds(250)) {
            last_expiry = t;
            run_expiry(events);
        }
    }
}

void UserspaceDataplane::flush_coalesced_locked(Receiver& r) {
    Counters& c = *counters_;
    bump(c.tun_coalesced_segments, r.coalescer.take_merged_segments());
    r.coalescer.flush([&](int sink, std::span<const std::uint8_t> bytes) {
        auto t = tunnels_.find(static_cast<std::uint32_t>(sink));
        if (t == tunnels_.end()) {
            bump(c.no_tunnel);
            return;
        }
        if (::write(t->second->tun_fd, bytes.data(), bytes.size()) < 0) bump(c.tun_write_errors);
    });
}

void UserspaceDataplane::process_datagram(std::span<std::uint8_t> payload, const void* from_addr,
                                          Receiver& r) {
    Counters& c = *counters_;
    auto kind = udp::classify(payload);
    if (!kind) {
        bump(c.udp_unknown);
        return;
    }
    if (kind->kind == udp::PayloadKind::keepalive) {
        bump(c.keepalives);
        return;
    }
    if (kind->kind == udp::PayloadKind::ike) {
        bump(c.ike_datagrams);
        if (options_.ike_handler) {
            sockaddr_in from{};
            std::memcpy(&from, from_addr, sizeof from);
            options_.ike_handler(kind->data, config::Ipv4Address{ntohl(from.sin_addr.s_addr)},
                                 ntohs(from.sin_port));
        }
        return;
    }
    process_esp(payload, true, 0, r);
}

void UserspaceDataplane::process_raw(std::span<std::uint8_t> packet, Receiver& r,
                                     bool shared_socket) {
    auto raw = parse_raw(packet);
    if (!raw) {
        bump(counters_->raw_not_ours);
        return;
    }
    process_esp(raw->esp, false, raw->dst, r, shared_socket ? raw->src : 0);
}

// `esp` starts at the SPI. Raw ESP (not `encapsulated`) counts only when `ip_dst` is the
// destination of one of our inbound SAs; UDP-encapsulated ESP was addressed to our socket.
// `shared_from` (raw ESP read on the shared socket: its source) is left to the tunnel worker
// whose raw socket is connected to that address: that socket has its own copy.
void UserspaceDataplane::process_esp(std::span<std::uint8_t> esp, bool encapsulated,
                                     std::uint32_t ip_dst, Receiver& r, std::uint32_t shared_from) {
    Counters& c = *counters_;
    std::span<std::uint8_t> scratch = r.scratch;
    std::shared_lock lock(table_);
    if (shared_from != 0 && raw_peer_sockets_.contains(shared_from)) return;
    if (!encapsulated && !inbound_dsts_.contains(ip_dst)) {
        bump(c.raw_not_ours);
        return;
    }
    if (esp.size() < 8) {  // SPI + sequence number (RFC 4303 section 2)
        bump(c.decap_drops);
        return;
    }
    auto it = inbound_by_spi_.find(load32(esp.data()));
    if (it == inbound_by_spi_.end()) {
        bump(c.unknown_spi);
        return;
    }
    SaSlot& sa = *it->second;
    if (sa.raw == encapsulated) {
        bump(c.encap_mismatch);
        return;
    }
    std::size_t length = 0;
    {
        std::lock_guard guard(sa.mutex);
        auto inner = sa.sa.decapsulate(esp, scratch);
        if (!inner) {
            bump(c.decap_drops);
            return;
        }
        length = inner->length;
    }
    auto t = tunnels_.find(sa.if_id);
    if (t == tunnels_.end()) {
        bump(c.no_tunnel);
        return;
    }
    std::span<std::uint8_t> packet = scratch.first(length);
    if (const std::uint16_t mss = t->second->mss.load(std::memory_order_relaxed); mss != 0)
        (void)ipv4::clamp_mss(packet, mss);
    if (!t->second->vnet) {
        if (::write(t->second->tun_fd, packet.data(), packet.size()) < 0) bump(c.tun_write_errors);
        return;
    }
    // Written at the end of the receive batch, merged with its flow's neighbours if it can be.
    const auto sink = static_cast<int>(sa.if_id);
    if (!r.coalescer.add(sink, packet)) {
        flush_coalesced_locked(r);
        (void)r.coalescer.add(sink, packet);
    }
}

void UserspaceDataplane::run_expiry(std::vector<ExpiryEvent>& events) {
    events.clear();
    const std::uint64_t t = now();
    {
        std::shared_lock lock(table_);
        for (auto& [key, slot] : sas_) {
            std::lock_guard guard(slot->mutex);
            slot->sa.advance_time(t);
            while (auto e = slot->sa.next_expiry()) events.push_back(*e);
        }
    }
    if (events.empty()) return;
    ExpiryHandler handler;
    {
        std::lock_guard guard(handler_mutex_);
        handler = expiry_handler_;
    }
    if (!handler) return;
    for (const ExpiryEvent& e : events) handler(e);  // no lock held: it may call del_sa
}

}  // namespace cgwd::dataplane
