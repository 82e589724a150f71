#include "cgwd/daemon/routing.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include "cgwd/bgp/gtsm.hpp"
#include "cgwd/bgp/tcp_md5.hpp"
#include "cgwd/daemon/logging.hpp"
#include "cgwd/daemon/socket_address.hpp"
#include "cgwd/daemon/tcp_outbox.hpp"

namespace cgwd::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

bgp::Prefix to_bgp(const config::IpPrefix& p) {
    if (const auto* a = p.address.v4()) return bgp::Prefix::v4(a->value, p.length);
    return bgp::Prefix::v6(p.address.v6()->bytes, p.length);
}

config::IpPrefix to_config(const bgp::Prefix& p) {
    if (p.afi == bgp::Afi::Ipv6) {
        config::Ipv6Address a;
        a.bytes = p.address;
        return config::Ipv6Prefix::of(a, p.length);
    }
    std::uint32_t a = 0;
    for (int i = 0; i < 4; ++i) a = (a << 8) | p.address[static_cast<std::size_t>(i)];
    return config::Ipv4Prefix::of(config::Ipv4Address{a}, p.length);
}

bgp::IpAddress to_bgp(const config::IpAddress& a) {
    if (const auto* v4 = a.v4()) return bgp::IpAddress::v4(v4->value);
    return bgp::IpAddress::v6(a.v6()->bytes);
}

config::IpAddress to_config(const bgp::IpAddress& a) {
    if (a.afi == bgp::Afi::Ipv4) return config::Ipv4Address{a.v4_host_order()};
    config::Ipv6Address v6;
    v6.bytes = a.bytes;
    return v6;
}

tcp::endpoint endpoint_of(const config::IpAddress& a, std::uint16_t port) {
    return tcp::endpoint(to_asio(a), port);
}

std::uint32_t router_id(const config::DaemonConfig& cfg) {
    if (cfg.router_id) return cfg.router_id->value;
    if (cfg.outside_address) return cfg.outside_address->value;
    for (const auto& v : cfg.vpns)
        for (const auto& c : v.connections) return c.tunnels[0].cgw_inside.value;
    return 1;
}

std::uint32_t local_as(const config::DaemonConfig& cfg) {
    if (cfg.asn) return *cfg.asn;
    for (const auto& v : cfg.vpns)
        for (const auto& c : v.connections)
            if (c.tunnels[0].cgw_asn) return *c.tunnels[0].cgw_asn;
    return 65000;
}

const char* down_text(bgp::DownReason r) {
    switch (r) {
        case bgp::DownReason::Stopped:
            return "stopped";
        case bgp::DownReason::TcpClosed:
            return "TCP connection closed";
        case bgp::DownReason::HoldTimerExpired:
            return "hold timer expired";
        case bgp::DownReason::NotificationReceived:
            return "NOTIFICATION received";
        case bgp::DownReason::ProtocolError:
            return "protocol error (NOTIFICATION sent)";
        case bgp::DownReason::LocalReset:
            return "reset by us";
    }
    return "?";
}

bgp::MaxPrefixAction to_bgp(config::MaxPrefixInAction a) {
    switch (a) {
        case config::MaxPrefixInAction::warn:
            return bgp::MaxPrefixAction::Warn;
        case config::MaxPrefixInAction::drop:
            return bgp::MaxPrefixAction::DropExcess;
        case config::MaxPrefixInAction::reset:
            return bgp::MaxPrefixAction::Reset;
    }
    return bgp::MaxPrefixAction::DropExcess;
}

}  // namespace

// One BGP session over TCP: connects to the peer and accepts its connection. A connection
// from the peer while ours is in OpenSent / OpenConfirm is kept beside it until the session
// resolves the collision by BGP identifier (RFC 4271 section 6.8); one arriving in Established
// is refused with CEASE / Connection Collision Resolution.
class BgpPeerRunner {
  public:
    BgpPeerRunner(asio::io_context& io, Routing& routing, BgpPeerPlan plan, std::uint32_t rid,
                  bgp::PeerId id)
        : io_(io),
          routing_(routing),
          plan_(std::move(plan)),
          id_(id),
          session_(config_of(plan_, rid)),
          timer_(io),
          acceptor_(io) {}
    ~BgpPeerRunner() { close_all(); }

    const BgpPeerPlan& plan() const { return plan_; }
    bgp::PeerId id() const { return id_; }
    bgp::Session& session() { return session_; }
    const bgp::Session& session() const { return session_; }
    bool enabled() const { return enabled_; }
    std::optional<Clock::time_point> established_since() const { return established_since_; }
    std::uint64_t flaps() const { return flaps_; }
    const std::string& last_down() const { return last_down_; }
    std::uint64_t refused() const { return refused_; }
    std::uint64_t collisions() const { return collisions_; }
    // max_prefixes_in: announcements dropped over the limit / resets, since the daemon started.
    std::uint64_t dropped_over_limit = 0;
    std::uint64_t max_prefix_resets = 0;

    void enable() {
        if (enabled_) return;
        enabled_ = true;
        listen();
        session_.start(Clock::now());
        pump();
    }

    // Session down with CEASE (when established) and no restart until enable().
    void disable(const std::string& why) {
        if (!enabled_) return;
        enabled_ = false;
        session_.stop(Clock::now(), why);
        pump_sync();
        close_all();
    }

    // Writes what the session has for its connections and acts on its events. Collision
    // resolution (RFC 4271 section 6.8) comes first: after a PromoteSecond the session's output
    // belongs to the promoted connection, and a CloseSecond's NOTIFICATION goes out before
    // that connection is closed.
    void pump() {
        pump_sync();
        arm_timer();
    }

  private:
    static bgp::SessionConfig config_of(const BgpPeerPlan& p, std::uint32_t rid) {
        bgp::SessionConfig c;
        c.local_as = p.local_as;
        c.peer_as = p.peer_as;
        c.bgp_identifier = rid;
        c.hold_time = p.hold_time;
        c.connect_retry = std::chrono::seconds(5);
        // One family per session, the one of its addresses (AWS's sessions: IPv4 over the
        // tunnels, IPv4 and IPv6 each on their own Direct Connect peering).
        c.families = {p.peer_address.is_v6() ? bgp::kIpv6Unicast : bgp::kIpv4Unicast};
        // RFC 4271 section 8.1.1 peer oscillation damping: the session restarts by itself 1 s
        // after a failure, 2, 4, ... up to 120 s after failures in a row; a session that stayed
        // Established for 60 s (or twice the hold time, when longer) starts the count again.
        c.damp_peer_oscillations = bgp::SessionConfig::IdleHold{
            std::chrono::seconds(1), std::chrono::seconds(120),
            std::max<bgp::Millis>(std::chrono::seconds(60),
                                  std::chrono::seconds(2 * std::uint32_t{p.hold_time}))};
        // RFC 4724 helper mode: the capability with no AFI/SAFI (section 3: we do not preserve
        // our own forwarding state across a restart, but keep the peer's routes across its).
        if (p.graceful_restart_time > 0)
            c.graceful_restart = bgp::GracefulRestart{false, false, p.graceful_restart_time, {}};
        return c;
    }

    // pump() without arming the timer, for shutdown (the loop may not run again). The last
    // words (CEASE) go to the kernel at once; writes never block, so a peer that does not
    // read cannot hold up the shutdown.
    void pump_sync() {
        auto events = session_.take_events();
        resolve_collisions(events);
        write(socket_, session_.take_output());
        write(second_, session_.take_second_output());
        handle_events(events);
    }

    // Bytes for a connection, in order, one write at a time, never blocking: what the kernel
    // does not take now goes out when the socket is writable again (TcpOutbox). A peer that
    // stops reading has its connection closed once more than kOutboxLimit bytes wait.
    void write(const std::shared_ptr<tcp::socket>& s, bgp::Bytes out) {
        if (out.empty() || !s || !s->is_open()) return;
        auto it = outboxes_.find(s.get());
        if (it == outboxes_.end()) {
            auto failed = [this, s](const std::string& why) {
                if (s != socket_ && s != second_) return;
                logger("bgp")->warn("{}: connection to {} closed: {}", plan_.key,
                                    plan_.peer_address.to_string(), why);
                if (s == socket_) {
                    tcp_closed();
                } else {
                    second_closed();
                }
            };
            it = outboxes_.try_emplace(s.get(), s, kOutboxLimit, std::move(failed)).first;
        }
        it->second.send(std::move(out));
    }

    void resolve_collisions(const std::vector<bgp::SessionEvent>& events) {
        for (const auto& ev : events) {
            if (std::holds_alternative<bgp::CloseSecond>(ev)) {
                // The session keeps its first connection: the second one gets its last words
                // (CEASE / Connection Collision Resolution, when the session has any) and goes.
                if (second_ && session_.state() != bgp::SessionState::Idle)
                    count_collision(first_incoming_);
                write(second_, session_.take_second_output());
                close(second_);
            } else if (auto* pr = std::get_if<bgp::PromoteSecond>(&ev)) {
                count_collision(true);  // second_ is always the peer's (accept())
                write(socket_, pr->first_last_words);
                close(socket_);
                socket_ = std::exchange(second_, nullptr);
                first_incoming_ = true;
            }
        }
    }

    void count_collision(bool kept_incoming) {
        ++collisions_;
        logger("bgp")->info("{}: connection collision with {}: kept {} connection", plan_.key,
                            plan_.peer_address.to_string(), kept_incoming ? "the peer's" : "our");
    }

    void handle_events(std::vector<bgp::SessionEvent>& events) {
        for (auto& ev : events) {
            if (std::holds_alternative<bgp::ConnectRequested>(ev)) {
                connect();
            } else if (std::holds_alternative<bgp::CloseRequested>(ev)) {
                close_socket();
            } else if (auto* e = std::get_if<bgp::SessionEstablished>(&ev)) {
                established_since_ = Clock::now();
                logger("bgp")->info("{}: BGP established with AS{} {} (hold {} s)", plan_.key,
                                    e->peer_as, plan_.peer_address.to_string(), e->hold_time);
                routing_.event(plan_.key, "BGP established with AS" + std::to_string(e->peer_as));
                routing_.on_established(*this, *e);
            } else if (auto* r = std::get_if<bgp::RoutesReceived>(&ev)) {
                routing_.on_routes(*this, r->update);
            } else if (auto* d = std::get_if<bgp::SessionDown>(&ev)) {
                bool was_up = established_since_.has_value();
                established_since_.reset();
                last_down_ = down_text(d->reason);
                if (d->notification)
                    last_down_ += " (" + std::to_string(d->notification->code) + "/" +
                                  std::to_string(d->notification->subcode) + ")";
                if (was_up) ++flaps_;
                logger("bgp")->log(was_up ? spdlog::level::warn : spdlog::level::debug,
                                   "{}: BGP session down: {}", plan_.key, last_down_);
                if (was_up) routing_.event(plan_.key, "BGP down: " + last_down_);
                close_socket();
                routing_.on_down(*this, d->stale_families);
                log_damping(*d);
            } else if (auto* st = std::get_if<bgp::StaleRoutesExpired>(&ev)) {
                routing_.on_stale_expired(*this, *st);
            } else if (auto* eor = std::get_if<bgp::EndOfRibReceived>(&ev)) {
                logger("bgp")->debug("{}: End-of-RIB received (AFI {})", plan_.key,
                                     eor->family.afi);
            }
        }
    }

    // The session restarts by itself after its idle hold (bgp::Session, peer oscillation
    // damping); say so when the peer is being damped.
    void log_damping(const bgp::SessionDown& d) {
        if (!d.idle_hold) return;
        const double next_s = std::chrono::duration<double>(*d.idle_hold).count();
        if (d.consecutive_failures >= 2) {
            logger("bgp")->warn(
                "{}: BGP peer {} flapping ({} failures in a row): next attempt in {:.0f} s",
                plan_.key, plan_.peer_address.to_string(), d.consecutive_failures, next_s);
        } else {
            logger("bgp")->debug("{}: next attempt in {:.0f} s", plan_.key, next_s);
        }
    }

    void arm_timer() {
        auto d = session_.next_deadline();
        if (!d) {
            timer_.cancel();
            return;
        }
        timer_.expires_at(*d);
        timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            session_.on_timer(Clock::now());
            pump();
        });
    }

    void listen() {
        boost::system::error_code ec;
        const auto family = plan_.local_address.is_v6() ? tcp::v6() : tcp::v4();
        acceptor_.open(family, ec);
        if (!ec && plan_.local_address.is_v6()) acceptor_.set_option(asio::ip::v6_only(true), ec);
        if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acceptor_.bind(endpoint_of(plan_.local_address, plan_.port), ec);
        if (!ec && !apply_md5(acceptor_.native_handle())) {
            acceptor_.close(ec);
            return;
        }
        if (!ec && !apply_gtsm(acceptor_.native_handle())) {
            acceptor_.close(ec);
            return;
        }
        if (!ec) acceptor_.listen(4, ec);
        if (ec) {
            logger("bgp")->warn("{}: not accepting BGP on {}:{}: {}", plan_.key,
                                plan_.local_address.to_string(), plan_.port, ec.message());
            acceptor_.close(ec);
            return;
        }
        accept();
    }

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec) return;
            boost::system::error_code rec;
            auto remote = s.remote_endpoint(rec);
            auto st = session_.state();
            const bool from_peer = !rec && remote.address() == to_asio(plan_.peer_address);
            if (from_peer && enabled_ && st == bgp::SessionState::Idle &&
                session_.on_tcp_connected(Clock::now(), bgp::ConnectionDirection::Incoming) ==
                    bgp::ConnectionSlot::Refused) {
                // Peer oscillation damping: the idle hold runs, the connection is closed
                // unanswered (below, with `s`).
                ++refused_;
                logger("bgp")->debug("{}: connection from {} refused during the idle hold",
                                     plan_.key, plan_.peer_address.to_string());
            } else if (from_peer && enabled_ &&
                       (st == bgp::SessionState::Connect || st == bgp::SessionState::Active)) {
                close_socket();
                socket_ = std::make_shared<tcp::socket>(std::move(s));
                first_incoming_ = true;
                read(socket_);
                session_.on_tcp_connected(Clock::now(), bgp::ConnectionDirection::Incoming);
                pump();
            } else if (from_peer && enabled_ && !second_ &&
                       (st == bgp::SessionState::OpenSent || st == bgp::SessionState::OpenConfirm ||
                        st == bgp::SessionState::Established)) {
                // A second connection from the peer while ours is up: the session resolves the
                // collision (or refuses it in Established with CEASE 6/7), see resolve_collisions.
                auto second = std::make_shared<tcp::socket>(std::move(s));
                if (session_.on_tcp_connected(Clock::now(), bgp::ConnectionDirection::Incoming) ==
                    bgp::ConnectionSlot::Second) {
                    second_ = second;
                    read(second_);
                    pump();
                }
            }
            accept();
        });
    }

    void connect() {
        close_socket();
        auto s = std::make_shared<tcp::socket>(io_);
        boost::system::error_code ec;
        s->open(plan_.local_address.is_v6() ? tcp::v6() : tcp::v4(), ec);
        if (!ec) s->bind(endpoint_of(plan_.local_address, 0), ec);
        if (!ec && !apply_md5(s->native_handle())) ec = asio::error::access_denied;
        if (!ec && !apply_gtsm(s->native_handle())) ec = asio::error::access_denied;
        if (ec) {
            session_.on_tcp_closed(Clock::now());
            return;
        }
        socket_ = s;
        first_incoming_ = false;
        s->async_connect(endpoint_of(plan_.peer_address, plan_.port),
                         [this, s](boost::system::error_code cec) {
                             if (s != socket_) return;  // replaced by an accepted connection
                             if (cec) {
                                 close_socket();
                                 session_.on_tcp_closed(Clock::now());
                             } else {
                                 read(s);
                                 session_.on_tcp_connected(Clock::now());
                             }
                             pump();
                         });
    }

    // TCP-MD5 (RFC 2385) toward the peer on a socket, when the plan has a key.
    // GTSM (RFC 5082) on a socket, when the plan asks for it.
    bool apply_gtsm(int fd) {
        if (!plan_.gtsm) return true;
        auto r = bgp::set_gtsm(fd);
        if (!r) logger("bgp")->error("{}: GTSM: {}", plan_.key, r.error());
        return r.has_value();
    }

    bool apply_md5(int fd) {
        if (!plan_.md5) return true;
        auto key = plan_.md5->reveal();
        auto r = bgp::set_tcp_md5(
            fd, to_bgp(plan_.peer_address),
            std::span(reinterpret_cast<const std::uint8_t*>(key.data()), key.size()));
        if (!r) logger("bgp")->error("{}: TCP-MD5: {}", plan_.key, r.error());
        return r.has_value();
    }

    // Reads a connection until it closes; its bytes go to the session's first or second
    // connection slot, whichever the socket is when they arrive (a promotion moves it).
    void read(std::shared_ptr<tcp::socket> s,
              std::shared_ptr<std::array<std::uint8_t, 65536>> buf = nullptr) {
        if (!buf) buf = std::make_shared<std::array<std::uint8_t, 65536>>();
        s->async_read_some(
            asio::buffer(*buf), [this, s, buf](boost::system::error_code ec, std::size_t n) {
                if (s != socket_ && s != second_) return;
                const auto slot =
                    s == socket_ ? bgp::ConnectionSlot::First : bgp::ConnectionSlot::Second;
                if (ec) return slot == bgp::ConnectionSlot::First ? tcp_closed() : second_closed();
                session_.on_bytes(bgp::ByteView(buf->data(), n), Clock::now(), slot);
                pump();
                if ((s == socket_ || s == second_) && s->is_open()) read(s, buf);
            });
    }

    void tcp_closed() {
        close_socket();
        session_.on_tcp_closed(Clock::now());
        pump();
    }

    void second_closed() {
        close(second_);
        session_.on_tcp_closed(Clock::now(), bgp::ConnectionSlot::Second);
        pump();
    }

    // Closes a connection; what is still waiting in its outbox is dropped (the kernel still
    // sends what it took, then FIN).
    void close(std::shared_ptr<tcp::socket>& s) {
        if (!s) return;
        outboxes_.erase(s.get());
        boost::system::error_code ec;
        s->shutdown(tcp::socket::shutdown_both, ec);
        s->close(ec);
        s.reset();
    }

    void close_socket() { close(socket_); }

    void close_all() {
        close_socket();
        close(second_);
        boost::system::error_code ec;
        acceptor_.close(ec);
        timer_.cancel();
    }

    asio::io_context& io_;
    Routing& routing_;
    BgpPeerPlan plan_;
    bgp::PeerId id_;
    bgp::Session session_;
    asio::steady_timer timer_;
    tcp::acceptor acceptor_;
    std::shared_ptr<tcp::socket> socket_;
    // A colliding connection (RFC 4271 section 6.8): always one the peer opened.
    std::shared_ptr<tcp::socket> second_;
    bool first_incoming_ = false;  // socket_ was opened by the peer
    // One per open connection (socket_, second_), created with its first bytes to send.
    std::map<const tcp::socket*, TcpOutbox> outboxes_;
    // Bytes that may wait for a peer that does not read: far above anything cgwd sends a
    // peer (its advertise list; a full UPDATE is 4096 bytes).
    static constexpr std::size_t kOutboxLimit = std::size_t{1} << 20;
    std::uint64_t collisions_ = 0;
    bool enabled_ = false;
    std::optional<Clock::time_point> established_since_;
    std::uint64_t flaps_ = 0;
    std::string last_down_;
    std::uint64_t refused_ = 0;  // connections from the peer closed during an idle hold
};

Routing::Routing(asio::io_context& io, const config::DaemonConfig& cfg, dataplane::Dataplane& dp)
    : io_(io),
      cfg_(cfg),
      dp_(dp),
      rib_(bgp::RibConfig{local_as(cfg), router_id(cfg), cfg.ecmp_max_paths, false, 100}) {
    for (const auto& p : cfg_.advertise) rib_.originate(to_bgp(p));
}

Routing::~Routing() = default;

void Routing::add_peer(const BgpPeerPlan& plan) {
    bgp::PeerConfig pc;
    pc.peer_as = plan.peer_as;
    pc.address = to_bgp(plan.peer_address);
    // Our address as the next hop of what we advertise: NEXT_HOP (IPv4) or in MP_REACH_NLRI.
    if (plan.local_address.is_v6())
        pc.local_address_v6 = to_bgp(plan.local_address);
    else
        pc.local_address = to_bgp(plan.local_address);
    bgp::ImportPolicy import;
    import.local_pref = plan.local_preference;
    import.max_prefix =
        bgp::MaxPrefix{plan.max_prefixes_in.limit, to_bgp(plan.max_prefixes_in.action)};
    // accept_prefixes: each entry permits its prefix and the longer ones inside it up to `le`;
    // anything else is ignored (not counted against the limit).
    if (!plan.policy.accept.empty()) {
        bgp::PrefixListPolicy accept;
        for (const auto& a : plan.policy.accept)
            accept.entries.push_back({true, to_bgp(a.prefix), a.prefix.length, a.le});
        import.prefix_list = std::move(accept);
    }
    pc.import_policy = import;
    bgp::ExportPolicy exp;
    exp.prefix_list = advertise_list(plan.peer_address.is_v6());
    exp.max_prefix_out = plan.max_prefixes_out;
    exp.communities = plan.communities;
    exp.as_path_prepend = plan.policy.as_path_prepend;
    exp.med = plan.policy.med;
    for (const auto& c : plan.policy.large_communities)
        exp.large_communities.push_back({c[0], c[1], c[2]});
    pc.export_policy = exp;
    auto id = rib_.add_peer(pc);
    via_[id] = Via{plan.if_id, plan.interface, plan.direct_connect, plan.key};
    peers_[plan.key] = std::make_unique<BgpPeerRunner>(io_, *this, plan, router_id(cfg_), id);
}

// The [bgp] advertise prefixes of one family only (an IPv4 session never carries IPv6 NLRI,
// whatever else the peer can do).
bgp::PrefixListPolicy Routing::advertise_list(bool v6) const {
    bgp::PrefixListPolicy pl;
    for (const auto& p : cfg_.advertise)
        if (p.is_v6() == v6) pl.entries.push_back({true, to_bgp(p), {}, {}});
    return pl;
}

void Routing::advertise_changed(const std::vector<config::IpPrefix>& added,
                                const std::vector<config::IpPrefix>& withdrawn) {
    for (const auto& p : withdrawn) rib_.withdraw_local(to_bgp(p));
    for (const auto& p : added) rib_.originate(to_bgp(p));
    // Every peer's export list anew: the RIB re-evaluates what it advertised and what it may.
    for (auto& [key, runner] : peers_) {
        const auto* pc = rib_.peer_config(runner->id());
        if (pc == nullptr) continue;
        auto import = pc->import_policy;
        auto exp = pc->export_policy.value_or(bgp::ExportPolicy{});
        exp.prefix_list = advertise_list(runner->plan().peer_address.is_v6());
        rib_.set_policies(runner->id(), std::move(import), std::move(exp));
    }
    flush_exports();
}

void Routing::remove_peer(const std::string& key, const std::string& why) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    it->second->disable(why);
    rib_.peer_down(it->second->id());
    rib_.remove_peer(it->second->id());
    via_.erase(it->second->id());
    peers_.erase(it);
    flush_fib();
}

void Routing::tunnel_up(const std::string& key, bool up) {
    auto it = peers_.find(key);
    if (it == peers_.end()) return;
    if (up) {
        it->second->enable();
    } else {
        it->second->disable("tunnel down");
        // Also drops routes kept stale for a graceful restart (the session will not come back).
        if (rib_.is_up(it->second->id()) || rib_.stale_count(it->second->id()) > 0)
            rib_.peer_down(it->second->id());
        flush_fib();
    }
}

void Routing::shutdown(const std::string& why) {
    // Sessions going down one by one would move each route to a peer that is about to go too
    // (a kernel change and an event each): the RIB's changes are no longer applied, and what
    // is installed is removed once, below.
    stopping_ = true;
    for (auto& [key, p] : peers_) p->disable(why);
    std::vector<dataplane::RouteChange> removals;
    for_each_installed([&](const bgp::Prefix& prefix, std::span<const bgp::NextHop>) {
        removals.push_back(dataplane::RouteChange::remove(
            {to_config(prefix), cfg_.route_metric, cfg_.route_table}));
    });
    if (removals.empty()) return;
    const auto done = dp_.apply_routes(removals);
    if (done.failures > 0)
        logger("bgp")->warn("stopping: {} routes removed, {} could not be",
                            removals.size() - done.failures, done.failures);
    else
        logger("bgp")->info("stopping: {} routes removed", removals.size());
}

// What flush_fib has put in the kernel: the RIB's FIB as last taken (IPv4 and IPv6). The RIB
// keeps it; Routing keeps no copy (memory per route).
template <typename F>
void Routing::for_each_installed(F&& f) const {
    rib_.for_each_fib(
        [&](const bgp::Prefix& prefix, std::span<const bgp::NextHop> hops) { f(prefix, hops); });
}

std::size_t Routing::fib_size() const {
    std::size_t n = 0;
    for_each_installed([&](const bgp::Prefix&, std::span<const bgp::NextHop>) { ++n; });
    return n;
}

void Routing::on_established(BgpPeerRunner& peer, const bgp::SessionEstablished& e) {
    rib_.peer_up(peer.id(), e);
    flush_exports();
    // RFC 4724 section 2: End-of-RIB after the initial advertisement, to peers that know it.
    if (e.peer_capabilities.graceful_restart) {
        (void)peer.session().send_end_of_rib(Clock::now());
        peer.pump();
    }
}

void Routing::on_routes(BgpPeerRunner& peer, const bgp::Update& u) {
    auto report = rib_.apply_update(peer.id(), u);
    const auto& key = peer.plan().key;
    const auto& limit = peer.plan().max_prefixes_in;
    if (report.max_prefix_warning) {
        const char* what = limit.action == config::MaxPrefixInAction::warn
                               ? "all accepted (max_prefixes_in_action = warn)"
                               : "the excess is dropped";
        logger("bgp")->warn("{}: the peer sent more than {} prefixes (max_prefixes_in): {}", key,
                            limit.limit, what);
        event(key, "more than " + std::to_string(limit.limit) + " prefixes received: " + what);
    }
    peer.dropped_over_limit += report.dropped_excess.size();
    if (report.reset) {
        ++peer.max_prefix_resets;
        logger("bgp")->warn(
            "{}: the peer sent more than {} prefixes (max_prefixes_in): session closed (Cease, "
            "maximum number of prefixes reached), restart in {} s",
            key, limit.limit, limit.restart_s);
        event(key, "more than " + std::to_string(limit.limit) +
                       " prefixes received: session reset, restart in " +
                       std::to_string(limit.restart_s) + " s");
        peer.session().terminate(*report.reset, Clock::now(),
                                 std::chrono::seconds(limit.restart_s));
        peer.pump();  // the NOTIFICATION leaves and the connection closes now, not at the next read
    }
    flush_fib();
    flush_exports();
}

void Routing::on_down(BgpPeerRunner& peer, const std::vector<bgp::AfiSafi>& stale) {
    if (!stale.empty()) {
        rib_.peer_down_graceful(peer.id(), stale);  // kernel routes stay until the flush
        logger("bgp")->info("{}: graceful restart: {} routes kept as stale", peer.plan().key,
                            rib_.stale_count(peer.id()));
    } else if (rib_.is_up(peer.id())) {
        rib_.peer_down(peer.id());
    }
    flush_fib();
}

void Routing::on_stale_expired(BgpPeerRunner& peer, const bgp::StaleRoutesExpired& e) {
    auto n = rib_.flush_stale(peer.id(), e.families);
    logger("bgp")->info("{}: graceful restart: {} stale routes removed ({})", peer.plan().key, n,
                        bgp::to_string(e.reason));
    flush_fib();
}

void Routing::flush_fib() {
    if (stopping_) return;  // shutdown removes what is installed
    // The RIB's changes go to the dataplane as one batch (Dataplane::apply_routes); logging
    // and events follow each change's own result.
    struct Pending {
        bgp::Prefix prefix;
        config::IpPrefix dst;
        std::vector<bgp::NextHop> next_hops;  // empty: withdrawn
        std::string via;
        bool replaced = false;  // it had other next hops before
    };
    std::vector<Pending> pending;
    std::vector<dataplane::RouteChange> changes;
    for (const auto& change : rib_.take_fib_changes()) {
        auto dst = to_config(change.prefix);
        if (change.next_hops.empty()) {
            changes.push_back(
                dataplane::RouteChange::remove({dst, cfg_.route_metric, cfg_.route_table}));
            pending.push_back({change.prefix, dst, {}, {}});
            continue;
        }
        dataplane::Route route{dst, {}, cfg_.route_metric, cfg_.route_table};
        std::string via;
        for (const auto& nh : change.next_hops) {
            auto it = via_.find(nh.peer);
            if (it == via_.end()) continue;
            dataplane::NextHop hop;
            hop.if_id = it->second.if_id;
            hop.interface = it->second.interface;
            hop.gateway = to_config(nh.address);
            route.next_hops.push_back(hop);
            via += " " + nh.address.to_string();
        }
        if (route.next_hops.empty()) continue;
        changes.push_back(dataplane::RouteChange::add(std::move(route)));
        pending.push_back({change.prefix, dst, change.next_hops, std::move(via), change.replaced});
    }
    if (changes.empty()) return;
    const dataplane::RouteBatchResult done = dp_.apply_routes(changes);
    // One log line per route for small batches; past fib_log_each, a summary (and the first
    // few failures).
    constexpr std::size_t fib_log_each = 50, fib_log_failures = 10;
    const bool each = pending.size() <= fib_log_each;
    std::size_t installed = 0, withdrawn = 0, failed = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
        const Pending& p = pending[i];
        const std::optional<dataplane::Error> error =
            i < done.errors.size() ? done.errors[i] : std::nullopt;
        const bool log_error = error && (each || failed < fib_log_failures);
        if (error) {
            ++fib_errors_;
            ++failed;
        }
        if (p.next_hops.empty()) {
            if (log_error)
                logger("bgp")->warn("route {} not removed: {}", p.dst.to_string(), error->message);
            ++withdrawn;
            if (each) logger("bgp")->info("route {} withdrawn", p.dst.to_string());
            event("routes", p.dst.to_string() + " withdrawn");
            continue;
        }
        if (log_error) {
            logger("bgp")->warn("route {} via{} not installed: {}", p.dst.to_string(), p.via,
                                error->message);
        } else if (!error) {
            ++installed;
            if (each) logger("bgp")->info("route {} via{}", p.dst.to_string(), p.via);
        }
        if (p.replaced) ++route_changes_;
        std::string path;
        for (const auto& nh : p.next_hops)
            if (auto v = via_.find(nh.peer); v != via_.end())
                path += (path.empty() ? "" : ", ") + v->second.key;
        event("routes", p.dst.to_string() + " via" + p.via + " (" + path + ")");
    }
    if (!each)
        logger("bgp")->info("FIB: {} routes installed or replaced, {} withdrawn, {} failed",
                            installed, withdrawn, failed);
    if (done.resynced) {
        ++fib_resyncs_;
        logger("bgp")->warn(
            "FIB: the kernel's acknowledgements were lost (ENOBUFS): routes read back and "
            "resynchronised, {} requests re-sent",
            done.repaired);
        event("routes", "FIB resynchronised with the kernel (" + std::to_string(done.repaired) +
                            " routes re-sent)");
    }
}

void Routing::flush_exports() {
    for (auto& [key, p] : peers_) {
        if (!rib_.is_up(p->id())) continue;
        auto batch = rib_.take_updates(p->id());
        for (const auto& u : batch.updates)
            if (!p->session().send_update(u, Clock::now()))
                logger("bgp")->error("{}: UPDATE too large, not sent", key);
        for (const auto& held : batch.newly_held_back)
            logger("bgp")->warn(
                "{}: {} not advertised: AWS accepts at most {} prefixes from "
                "this customer gateway (max_prefixes_out)",
                key, held.to_string(), p->plan().max_prefixes_out);
        p->pump();
    }
}

json Routing::peer_status(const std::string& key) const {
    auto it = peers_.find(key);
    if (it == peers_.end()) return nullptr;
    const auto& p = *it->second;
    json j{{"local_asn", p.plan().local_as},
           {"remote_asn", p.plan().peer_as},
           {"state", bgp::to_string(p.session().state())},
           {"flaps", p.flaps()}};
    if (auto since = p.established_since())
        j["uptime_s"] =
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - *since).count();
    if (!p.last_down().empty()) j["last_down"] = p.last_down();
    // Peer oscillation damping: failures in a row, the running idle hold, refused connections.
    j["consecutive_failures"] = p.session().consecutive_failures();
    if (auto until = p.session().idle_hold_until()) {
        j["idle_hold_s"] = std::chrono::duration<double>(p.session().last_idle_hold()).count();
        j["next_attempt_in_s"] =
            std::max(0.0, std::chrono::duration<double>(*until - Clock::now()).count());
    }
    if (p.refused() > 0) j["connections_refused"] = p.refused();
    if (p.collisions() > 0) j["connection_collisions"] = p.collisions();
    j["prefixes_received"] = rib_.adj_rib_in_size(p.id());
    j["prefixes_advertised"] = rib_.adj_rib_out_size(p.id());
    std::size_t used = 0;
    for_each_installed([&](const bgp::Prefix&, std::span<const bgp::NextHop> hops) {
        for (const auto& h : hops) used += h.peer == p.id();
    });
    j["prefixes_installed"] = used;
    if (auto stale = rib_.stale_count(p.id()); stale > 0) j["prefixes_stale"] = stale;
    auto held = rib_.held_back(p.id());
    if (!held.empty()) j["prefixes_held_back"] = held.size();
    j["max_prefixes_in"] = p.plan().max_prefixes_in.limit;
    j["graceful_restart_time"] = p.plan().graceful_restart_time;
    if (p.plan().gtsm) j["gtsm"] = true;
    const auto& policy = p.plan().policy;
    if (policy.as_path_prepend > 0) j["as_path_prepend"] = policy.as_path_prepend;
    if (policy.med) j["med"] = *policy.med;
    if (!policy.large_communities.empty()) {
        json large = json::array();
        for (const auto& c : policy.large_communities)
            large.push_back(config::large_community_text(c));
        j["large_communities"] = std::move(large);
    }
    if (!policy.accept.empty()) {
        json accept = json::array();
        for (const auto& a : policy.accept) accept.push_back(a.to_string());
        j["accept_prefixes"] = std::move(accept);
    }
    if (p.dropped_over_limit > 0) j["prefixes_dropped_over_limit"] = p.dropped_over_limit;
    if (p.max_prefix_resets > 0) j["max_prefix_resets"] = p.max_prefix_resets;
    return j;
}

json Routing::routes_status() const {
    json out = json::array();
    for_each_installed([&](const bgp::Prefix& prefix, std::span<const bgp::NextHop> hops) {
        json via = json::array();
        std::string path = "vpn";
        for (const auto& h : hops) {
            auto it = via_.find(h.peer);
            bool dx = it != via_.end() && it->second.direct_connect;
            path = dx ? "direct connect" : "vpn";
            via.push_back({{"next_hop", h.address.to_string()},
                           {"tunnel", it == via_.end() ? "" : it->second.key}});
        }
        out.push_back({{"prefix", prefix.to_string()}, {"path", path}, {"via", via}});
    });
    return out;
}

}  // namespace cgwd::daemon
