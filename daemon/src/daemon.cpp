#include "cgwd/daemon/daemon.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <filesystem>
#include <set>

#include "cgwd/daemon/capabilities.hpp"
#include "cgwd/daemon/logging.hpp"
#include "cgwd/daemon/socket_address.hpp"
#include "cgwd/daemon/version.hpp"
#include "cgwd/dataplane/kernel.hpp"
#include "cgwd/dataplane/links.hpp"
#include "cgwd/dataplane/nft_mss.hpp"
#include "cgwd/dataplane/routes.hpp"
#include "cgwd/dataplane/userspace.hpp"

namespace cgwd::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using nlohmann::json;

// The unix-socket transport of the control channel: frames in, frames out, one request at a
// time per connection (pipelined requests are answered in turn, one answer held at a time);
// a bad frame closes the connection. At most kMaxConnections at once (one more is answered
// "too many control connections" and closed); a connection with no request for
// `idle_timeout` (DaemonOptions::control_idle_timeout, 60 s) is closed.
class ControlServer {
  public:
    static constexpr std::size_t kMaxConnections = 32;

    ControlServer(asio::io_context& io, std::string path, const CommandRegistry& commands,
                  std::chrono::milliseconds idle_timeout)
        : path_(std::move(path)), acceptor_(io), commands_(commands), idle_timeout_(idle_timeout) {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
        ::unlink(path_.c_str());  // a leftover of a killed run
        boost::system::error_code bec;
        acceptor_.open(local(), bec);
        if (!bec) acceptor_.bind(local::endpoint(path_), bec);
        if (!bec) acceptor_.listen(16, bec);
        if (bec) throw std::runtime_error("control socket " + path_ + ": " + bec.message());
        ::chmod(path_.c_str(), 0660);
        accept();
    }
    ~ControlServer() { close(); }

    void close() {
        if (acceptor_.is_open()) {
            boost::system::error_code ec;
            acceptor_.close(ec);
            ::unlink(path_.c_str());
        }
    }

  private:
    struct Session : std::enable_shared_from_this<Session> {
        Session(local::socket s, const CommandRegistry& c, std::chrono::milliseconds timeout,
                std::shared_ptr<std::size_t> count)
            : socket(std::move(s)),
              commands(c),
              idle_timeout(timeout),
              idle(socket.get_executor()),
              live(std::move(count)) {
            ++*live;
        }
        ~Session() { --*live; }

        void read() {
            auto self = shared_from_this();
            idle.expires_after(idle_timeout);
            idle.async_wait([self](boost::system::error_code ec) {
                if (ec) return;  // cancelled: a request came, or the connection ended
                boost::system::error_code cec;
                self->socket.close(cec);
            });
            socket.async_read_some(
                asio::buffer(buf), [self](boost::system::error_code ec, std::size_t n) {
                    self->idle.cancel();
                    if (ec) return;
                    auto frames = self->reader.feed(std::string_view(self->buf.data(), n));
                    if (!frames) {
                        // Too large or empty: answer once, then close.
                        json err{{"result", 1},
                                 {"text", frames.error() == FrameError::too_large
                                              ? "request larger than 64 KiB"
                                              : "empty request"},
                                 {"arguments", json::object()}};
                        self->send_last(err);
                        return;
                    }
                    for (auto& f : *frames) self->requests.push_back(std::move(f));
                    self->answer_next();
                });
        }

        // Answers the oldest request waiting, then the next; reads again when none is left.
        void answer_next() {
            if (requests.empty()) return read();
            out = encode_frame(commands.handle(requests.front()));
            requests.pop_front();
            auto self = shared_from_this();
            asio::async_write(socket, asio::buffer(out),
                              [self](boost::system::error_code ec, std::size_t) {
                                  if (!ec) self->answer_next();
                              });
        }

        void send_last(const json& answer) {
            out = encode_frame(answer.dump());
            auto self = shared_from_this();
            asio::async_write(socket, asio::buffer(out),
                              [self](boost::system::error_code, std::size_t) {});
        }

        local::socket socket;
        const CommandRegistry& commands;
        std::chrono::milliseconds idle_timeout;
        asio::steady_timer idle;
        std::shared_ptr<std::size_t> live;
        FrameReader reader;
        std::deque<std::string> requests;
        std::array<char, 4096> buf{};
        std::string out;
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, local::socket s) {
            if (ec) return;
            const bool full = *live_ >= kMaxConnections;
            auto session = std::make_shared<Session>(std::move(s), commands_, idle_timeout_, live_);
            if (full) {
                session->send_last({{"result", 1},
                                    {"text", "too many control connections (" +
                                                 std::to_string(kMaxConnections) + ")"},
                                    {"arguments", json::object()}});
            } else {
                session->read();
            }
            accept();
        });
    }

    std::string path_;
    local::acceptor acceptor_;
    const CommandRegistry& commands_;
    std::chrono::milliseconds idle_timeout_;
    std::shared_ptr<std::size_t> live_ = std::make_shared<std::size_t>(0);  // open connections
};

namespace {
// What a tunnel reports while no engine runs it (before start(), or after a failed start).
TunnelRuntime not_started() {
    TunnelRuntime rt;
    rt.detail = "not started";
    return rt;
}
}  // namespace

std::string ReloadPlan::summary() const {
    std::string s = "reloaded: " + std::to_string(unchanged.size()) + " unchanged, " +
                    std::to_string(changed.size()) + " changed, " + std::to_string(added.size()) +
                    " added, " + std::to_string(removed.size()) + " removed";
    if (!advertised.empty() || !withdrawn.empty())
        s += "; [bgp] advertise: " + std::to_string(advertised.size()) + " announced, " +
             std::to_string(withdrawn.size()) + " withdrawn";
    if (!not_applied.empty()) {
        s += "; changed but not applied until cgwd restarts:";
        for (const auto& what : not_applied) s += " " + what;
    }
    return s;
}

ReloadPlan plan_reload(const config::DaemonConfig& old_cfg, const config::DaemonConfig& new_cfg) {
    std::map<std::string, const config::Connection*> before, after;
    for (const auto& v : old_cfg.vpns)
        for (const auto& c : v.connections) before[c.id] = &c;
    for (const auto& v : new_cfg.vpns)
        for (const auto& c : v.connections) after[c.id] = &c;
    ReloadPlan p;
    for (const auto& [id, c] : after) {
        auto it = before.find(id);
        if (it == before.end())
            p.added.push_back(id);
        else if (*it->second == *c)
            p.unchanged.push_back(id);
        else
            p.changed.push_back(id);
    }
    for (const auto& [id, c] : before)
        if (!after.count(id)) p.removed.push_back(id);
    // Reload restarts VPN connections and applies [bgp] advertise; the other routing and the
    // Direct Connect settings are read once at start. Say so rather than pretend they took
    // effect. A change of AS, router ID or ECMP keeps all of [bgp], advertise included.
    if (old_cfg.asn != new_cfg.asn || old_cfg.router_id != new_cfg.router_id ||
        old_cfg.ecmp_max_paths != new_cfg.ecmp_max_paths) {
        p.bgp_kept = true;
        p.not_applied.push_back("[bgp]");
    } else {
        auto has = [](const std::vector<config::IpPrefix>& v, const config::IpPrefix& x) {
            return std::find(v.begin(), v.end(), x) != v.end();
        };
        for (const auto& x : new_cfg.advertise)
            if (!has(old_cfg.advertise, x)) p.advertised.push_back(x);
        for (const auto& x : old_cfg.advertise)
            if (!has(new_cfg.advertise, x)) p.withdrawn.push_back(x);
    }
    if (old_cfg.direct_connect != new_cfg.direct_connect)
        p.not_applied.push_back("[[direct_connect]]");
    if (old_cfg.route_table != new_cfg.route_table ||
        old_cfg.route_protocol != new_cfg.route_protocol ||
        old_cfg.route_metric != new_cfg.route_metric)
        p.not_applied.push_back("[daemon] routes");
    if (old_cfg.dataplane != new_cfg.dataplane) p.not_applied.push_back("[daemon] dataplane");
    return p;
}

Daemon::Daemon(asio::io_context& io, std::string config_path, config::DaemonConfig cfg,
               DaemonOptions options)
    : io_(io),
      config_path_(std::move(config_path)),
      cfg_(std::move(cfg)),
      options_(std::move(options)),
      dataplane_mode_(config::to_string(cfg_.dataplane)),
      signals_(io),
      watchdog_(io) {
    register_commands();
}

Daemon::~Daemon() {
    bfd_.clear();
    runners_.clear();
    routing_.reset();
    ike_sockets_.reset();
    expiry_fd_.reset();
    dataplane_.reset();
}

json Daemon::status() const {
    std::map<std::string, TunnelRuntime> tunnels;
    for (const auto& v : cfg_.vpns)
        for (const auto& c : v.connections)
            for (const auto& t : c.tunnels) {
                auto key = c.id + "/" + std::to_string(t.number);
                auto it = runners_.find(key);
                if (it == runners_.end()) {
                    tunnels[key] = not_started();
                    continue;
                }
                auto j = it->second->status();
                TunnelRuntime rt;
                rt.state = j.value("state", "down");
                rt.detail = j.value("detail", "");
                rt.extra = j;
                rt.extra.erase("state");
                rt.extra.erase("detail");
                if (routing_) rt.bgp = routing_->peer_status(key);
                tunnels[key] = std::move(rt);
            }
    json routes = routing_ ? routing_->routes_status() : json::array();
    for (const auto& [conn, prefixes] : static_routes_)
        for (const auto& p : prefixes)
            routes.push_back({{"prefix", p.to_string()},
                              {"path", "vpn (static)"},
                              {"via", json::array({{{"next_hop", ""}, {"tunnel", conn}}})}});
    auto doc = status_json(cfg_, tunnels, dataplane_mode_, routes);
    if (routing_)
        doc["fib"] = {{"installed", routing_->fib_size()},
                      {"errors", routing_->fib_errors()},
                      {"resyncs", routing_->fib_resyncs()}};
    if (ike_sockets_) {
        const auto in = ike_sockets_->ingress_stats();
        doc["ike_ingress"] = {{"received", in.received},
                              {"dropped_unknown_source", in.unknown_source},
                              {"dropped_malformed", in.malformed},
                              {"dropped_rate_limited", in.rate_limited},
                              {"cookies_sent", in.cookies_sent},
                              {"cookies_accepted", in.cookies_accepted},
                              {"init_passed", in.init_passed},
                              {"dropped_handoff_full", in.handoff_dropped},
                              {"cookies_required", in.cookies_required},
                              {"tracked_sources", in.tracked_sources},
                              {"send_errors", ike_sockets_->send_errors()}};
    }
    if (auto* us = dynamic_cast<const dataplane::UserspaceDataplane*>(dataplane_.get())) {
        const auto d = us->stats();
        doc["dataplane_counters"] = {{"udp_datagrams_in", d.udp_datagrams_in},
                                     {"udp_unknown", d.udp_unknown},
                                     {"esp_unknown_spi", d.unknown_spi},
                                     {"esp_decap_drops", d.decap_drops},
                                     {"no_tunnel", d.no_tunnel},
                                     {"ike_datagrams", d.ike_datagrams},
                                     {"keepalives", d.keepalives},
                                     {"no_outbound_sa", d.no_outbound_sa},
                                     {"encap_drops", d.encap_drops},
                                     {"raw_esp_in", d.raw_packets_in},
                                     {"raw_esp_not_ours", d.raw_not_ours},
                                     {"raw_esp_send_errors", d.raw_send_errors},
                                     {"esp_encap_mismatch", d.encap_mismatch},
                                     {"tun_tso_packets_in", d.tun_gso_packets_in},
                                     {"offload_errors", d.offload_errors},
                                     {"udp_gso_messages", d.udp_gso_messages},
                                     {"udp_gro_datagrams", d.udp_gro_datagrams},
                                     {"tun_coalesced_segments", d.tun_coalesced_segments},
                                     {"tunnel_socket_datagrams", d.tunnel_socket_datagrams},
                                     {"tunnel_socket_errors", d.tunnel_socket_errors},
                                     {"udp_gso", us->udp_gso()},
                                     {"udp_gro", us->udp_gro()}};
    }
    if (routing_)
        for (auto& dx : doc["direct_connect"]) {
            auto name = dx.value("name", std::string());
            auto b = routing_->peer_status("dx:" + name);
            if (b.is_object()) dx["bgp"] = b;
            if (auto it = dx_interfaces_.find(name); it != dx_interfaces_.end())
                dx["interface"] = it->second;
            if (auto it = dx_mss_clamp_.find(name); it != dx_mss_clamp_.end())
                dx["mss_clamp"] = it->second;
            if (auto it = bfd_.find(name); it != bfd_.end()) {
                dx["bfd"] = it->second->state_text();
                dx["bfd_detail"] = it->second->status();
            }
        }
    return doc;
}

TunnelRunner* Daemon::runner(const std::string& key) {
    auto it = runners_.find(key);
    return it == runners_.end() ? nullptr : it->second.get();
}

namespace {

// Every (interface, IPv4 or IPv6 address) pair of this network namespace, in getifaddrs order.
std::vector<std::pair<std::string, config::IpAddress>> interface_addresses() {
    std::vector<std::pair<std::string, config::IpAddress>> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (auto* i = list; i; i = i->ifa_next)
        if (auto a = from_sockaddr(i->ifa_addr)) out.emplace_back(i->ifa_name, *a);
    ::freeifaddrs(list);
    return out;
}

// The first IPv4 address of interface `name`; nullopt if none.
std::optional<config::Ipv4Address> address_of(const std::string& name) {
    for (const auto& [ifname, address] : interface_addresses())
        if (ifname == name && address.v4()) return *address.v4();
    return std::nullopt;
}

// The first global (not link-local) IPv6 address of interface `name`; nullopt if none.
std::optional<config::Ipv6Address> ipv6_address_of(const std::string& name) {
    for (const auto& [ifname, address] : interface_addresses())
        if (const auto* a6 = address.v6(); ifname == name && a6 && !a6->is_link_local()) return *a6;
    return std::nullopt;
}

// "7224:7300" -> the RFC 1997 community value; nullopt when malformed.
std::optional<std::uint32_t> parse_community(const std::string& text) {
    auto colon = text.find(':');
    if (colon == std::string::npos) return std::nullopt;
    try {
        auto hi = std::stoul(text.substr(0, colon)), lo = std::stoul(text.substr(colon + 1));
        if (hi > 0xFFFF || lo > 0xFFFF) return std::nullopt;
        return static_cast<std::uint32_t>((hi << 16) | lo);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// The interface holding `address` (the outside interface for XFRM interfaces); "" if none.
std::string interface_of(config::Ipv4Address address) {
    for (const auto& [ifname, a] : interface_addresses())
        if (a == config::IpAddress(address)) return ifname;
    return {};
}

}  // namespace

// The address IKE and ESP use on this box: AWS's customer gateway address when this box has it;
// else [outside] local_address; else the source the kernel picks toward the AWS endpoint (behind
// a NAT the AWS file names the public address, which is not ours).
config::Ipv4Address Daemon::local_outside(const config::Tunnel& t) const {
    if (t.cgw_outside)
        for (const auto& [ifname, address] : interface_addresses())
            if (address == config::IpAddress(*t.cgw_outside)) return *t.cgw_outside;
    if (cfg_.outside_address) return *cfg_.outside_address;
    asio::ip::udp::socket probe(io_);
    boost::system::error_code ec;
    probe.open(asio::ip::udp::v4(), ec);
    if (!ec) probe.connect({asio::ip::address_v4(t.aws_outside.value), 500}, ec);
    if (!ec) {
        auto source = probe.local_endpoint(ec);
        if (!ec) return config::Ipv4Address{source.address().to_v4().to_uint()};
    }
    return config::Ipv4Address{};
}

void Daemon::start_engines() {
    using std::chrono::steady_clock;
    const auto t_begin = steady_clock::now();
    auto ms_since = [](steady_clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - t)
            .count();
    };
    bool encap = false, kernel = false;
    std::shared_ptr<HandoffBound> natt_handoff;  // userspace dataplane -> loop, IKE on 4500
    dataplane::KernelRoutes::Options route_options;
    route_options.table = cfg_.route_table;
    route_options.protocol = static_cast<std::uint8_t>(cfg_.route_protocol);
    if (options_.make_dataplane) {
        dataplane_ = options_.make_dataplane();
        dataplane_mode_ = "injected";
        encap = options_.userspace_encap;
    } else {
        kernel = cfg_.dataplane == config::DataplaneMode::kernel;
        if (cfg_.dataplane == config::DataplaneMode::auto_detect) {
            const auto support = dataplane::probe_kernel();
            kernel = support.complete();
            logger("dataplane")
                ->info("auto: the kernel {} ESP with XFRM interfaces{}: {} dataplane",
                       kernel ? "has" : "lacks", kernel ? "" : " (" + support.detail + ")",
                       kernel ? "kernel" : "userspace");
        }
    }
    if (!dataplane_ && kernel) {
        dataplane::KernelDataplane::Options o;
        o.name_prefix = "";  // names come from the config; ownership is the if_id range
        o.routes = route_options;
        o.underlying_interface = cfg_.outside_interface == "auto" ? "" : cfg_.outside_interface;
        if (o.underlying_interface.empty())
            for (const auto& v : cfg_.vpns)
                for (const auto& c : v.connections)
                    if (o.underlying_interface.empty())
                        o.underlying_interface = interface_of(local_outside(c.tunnels[0]));
        auto dp = dataplane::KernelDataplane::create(std::move(o));
        if (!dp) throw std::runtime_error("kernel dataplane: " + dp.error().message);
        auto& kdp = **dp;
        if (auto done = kdp.cleanup_leftovers(); !done)
            logger("dataplane")
                ->warn("removing leftovers of an earlier run: {}", done.error().message);
        else if (done->sas + done->policies + done->interfaces + done->routes > 0)
            logger("dataplane")
                ->info(
                    "removed leftovers of an earlier run: {} SAs, {} policies, {} interfaces, {} "
                    "routes",
                    done->sas, done->policies, done->interfaces, done->routes);
        expiry_fd_ = std::make_unique<asio::posix::stream_descriptor>(io_, ::dup(kdp.expiry_fd()));
        dataplane_ = std::move(*dp);
        dataplane_mode_ = "kernel";
        watch_expiry();
    } else if (!dataplane_) {
        // Leftover routes of a killed run (the userspace dataplane routes through the kernel).
        if (auto routes = dataplane::KernelRoutes::open(route_options))
            if (auto n = routes->flush_protocol(); n && *n > 0)
                logger("dataplane")->info("removed {} leftover routes of an earlier run", *n);
        dataplane::UserspaceDataplane::Options o;
        o.udp_port = options_.natt_port;
        o.offloads = cfg_.userspace_offloads;
        o.routes = route_options;
        natt_handoff = std::make_shared<HandoffBound>(256);
        o.ike_handler = [this, bound = natt_handoff](std::span<const std::uint8_t> ike,
                                                     config::Ipv4Address from, std::uint16_t port) {
            // Called on the dataplane's receive thread: hand a copy to the loop (a bounded
            // number of them at once: a flood must not queue without limit).
            if (!bound->enter()) return;
            asio::post(io_, [this, bound, bytes = std::vector<std::uint8_t>(ike.begin(), ike.end()),
                             from, port] {
                bound->leave();
                if (ike_sockets_) ike_sockets_->deliver_natt(bytes, from, port);
            });
        };
        auto dp = dataplane::UserspaceDataplane::create(std::move(o));
        if (!dp)
            throw std::runtime_error("userspace dataplane on UDP port " +
                                     std::to_string(options_.natt_port) + ": " +
                                     dp.error().message);
        dataplane_ = std::move(*dp);
        dataplane_mode_ = "userspace";
        // Raw ESP (IP protocol 50) without a NAT, ESP in UDP behind one, as in kernel mode.
    }
    const auto dataplane_ms = ms_since(t_begin);
    dataplane_->set_expiry_handler([this](const dataplane::ExpiryEvent& e) {
        asio::post(io_, [this, e] {
            for (auto& [key, r] : runners_) r->on_expiry(e);
        });
    });
    options_.userspace_encap = encap;

    IkeSockets::Options so;
    so.ike_port = options_.ike_port;
    so.kernel_esp_in_udp = dataplane_mode_ == "kernel";
    so.natt_port = 4500;
    so.natt_bind_port = options_.natt_port;
    if (auto* us = dynamic_cast<dataplane::UserspaceDataplane*>(dataplane_.get()))
        so.natt_sender = [us](std::span<const std::uint8_t> d, config::Ipv4Address to,
                              std::uint16_t port, bool keepalive) {
            if (keepalive) return us->send_keepalive(to, port).has_value();
            return us->send_ike(d, to, port).has_value();
        };
    // Admission in front of the tunnels (IkeSockets): only AWS endpoints' addresses, and
    // IKE_SA_INIT requests through a CookieGuard. Each tunnel keeps one IKE SA, so its
    // half-open count is 0 or 1 even under a flood: the requests passed in the last 10 s count
    // as half-open too; more than 3 and cookies are asked for. A source may start 10 IKE SAs
    // at once, then one a second; at most 100 cookie answers a second leave.
    so.peer = [this](config::Ipv4Address from) -> std::optional<bool> {
        for (const auto& [key, r] : runners_)
            if (r->plan().tunnel.aws_outside == from) return r->half_open();
        return std::nullopt;
    };
    so.rng = &rng_;
    so.natt_handoff = natt_handoff;
    so.cookies.half_open_threshold = 3;
    so.cookies.pass_window = std::chrono::seconds(10);
    so.cookies.per_source_burst = 10;
    so.cookies.per_source_interval = std::chrono::seconds(1);
    so.cookies.max_sources = 256;  // only tunnels' peers get this far
    so.cookies.max_cookies_per_second = 100;
    ike_sockets_ = std::make_unique<IkeSockets>(
        io_, std::move(so),
        [this](std::span<const std::uint8_t> ike, config::Ipv4Address from, std::uint16_t port,
               std::uint16_t local_port) {
            for (auto& [key, r] : runners_)
                if (r->plan().tunnel.aws_outside == from)
                    return r->on_datagram(ike, port, local_port);
        });
    routing_ = std::make_unique<Routing>(io_, cfg_, *dataplane_);
    routing_->set_event_sink([this](const std::string& subject, const std::string& text) {
        events_.add(subject, text);
    });
    logger("daemon")->info(
        "dataplane {}{}", dataplane_mode_,
        encap ? " (ESP in UDP, NAT-T forced)" : " (raw ESP; ESP in UDP when a NAT is detected)");
    const auto t_tunnels = steady_clock::now();
    for (const auto& v : cfg_.vpns)
        for (std::size_t i = 0; i < v.connections.size(); ++i)
            start_connection(v, v.connections[i], i);
    for (const auto& d : cfg_.direct_connect) start_direct_connect(d);
    logger("daemon")->info(
        "start-up: dataplane ready in {} ms (probe, leftovers removed), {} tunnels and {} Direct "
        "Connect peers started in {} ms",
        dataplane_ms, runners_.size(), cfg_.direct_connect.size(), ms_since(t_tunnels));
}

// A Direct Connect virtual interface: BGP to the AWS router over it (TCP-MD5), preferred over
// the VPN tunnels by local preference; routes through the interface.
void Daemon::start_direct_connect(const config::DirectConnectPeer& d) {
    const std::string ifname = d.vlan ? d.interface + "." + std::to_string(*d.vlan) : d.interface;
    dx_interfaces_[d.name] = ifname;
    if (d.vlan) {
        // The 802.1Q interface of the virtual interface, with our /30 (or /31), as configured.
        auto links = dataplane::KernelLinks::open();
        dataplane::VlanSpec spec{d.interface, *d.vlan, d.mtu, d.local_address, d.local_prefix_len};
        auto made =
            links ? links->create_vlan(spec)
                  : std::expected<std::uint32_t, dataplane::Error>(std::unexpected(links.error()));
        if (!made) {
            logger("dataplane")
                ->error("direct connect {}: creating {}: {}", d.name, ifname, made.error().message);
            return;
        }
        // An IPv4 and an IPv6 peer may share the VLAN: it is removed once at stop.
        if (std::find(dx_vlans_.begin(), dx_vlans_.end(), ifname) == dx_vlans_.end())
            dx_vlans_.push_back(ifname);
        logger("dataplane")
            ->info("direct connect {}: {} (VLAN {} on {}) mtu {}", d.name, ifname, *d.vlan,
                   d.interface, d.mtu);
    }
    // Flows on DX may fail over to a tunnel: clamp their MSS to the VPN's from the start, so
    // nothing is black-holed by the smaller tunnel MTU after the move.
    if (!cfg_.vpns.empty() && cfg_.vpn_mss > 0) {
        std::expected<void, dataplane::Error> r;
        if (auto* k = dynamic_cast<dataplane::KernelDataplane*>(dataplane_.get())) {
            r = k->set_interface_mss_clamp(ifname, cfg_.vpn_mss);
        } else {
            if (!nft_) nft_ = std::make_unique<dataplane::NftMssClamp>();
            r = nft_->set_interface_clamp(ifname, cfg_.vpn_mss);
        }
        if (!r)
            logger("dataplane")
                ->warn("direct connect {}: MSS clamp on {}: {}", d.name, ifname, r.error().message);
        else {
            dx_mss_clamp_[d.name] = cfg_.vpn_mss;
            logger("dataplane")
                ->info("direct connect {}: TCP MSS clamped to {} on {}", d.name, cfg_.vpn_mss,
                       ifname);
        }
    }
    std::optional<config::IpAddress> ours = d.local_address;
    if (!ours && d.neighbor.is_v6()) {
        if (auto a = ipv6_address_of(ifname)) ours = *a;
    } else if (!ours) {
        if (auto a = address_of(ifname)) ours = *a;
    }
    if (!ours) {
        logger("bgp")->error("direct connect {}: {} has no {} address; set local_address", d.name,
                             ifname, d.neighbor.is_v6() ? "global IPv6" : "IPv4");
        return;
    }
    BgpPeerPlan bp;
    bp.key = "dx:" + d.name;
    bp.direct_connect = true;
    bp.local_as = d.local_asn ? d.local_asn : (cfg_.asn ? *cfg_.asn : 65000);
    bp.peer_as = d.neighbor_asn;
    bp.local_address = *ours;
    bp.peer_address = d.neighbor;
    bp.hold_time = d.hold_time;
    bp.local_preference = d.local_preference;
    bp.max_prefixes_out = d.max_prefixes_out;
    bp.max_prefixes_in = d.max_prefixes_in;
    bp.graceful_restart_time = d.graceful_restart_time;
    bp.gtsm = d.gtsm;
    bp.policy = d.policy;
    bp.interface = ifname;
    if (!d.md5_key.empty()) bp.md5 = d.md5_key;
    for (const auto& c : d.communities)
        if (auto v = parse_community(c)) bp.communities.push_back(*v);
    bp.port = options_.bgp_port;
    routing_->add_peer(bp);
    logger("bgp")->info("direct connect {}: BGP to AS{} {} over {}{}", d.name, d.neighbor_asn,
                        d.neighbor.to_string(), ifname, bp.md5 ? " with TCP-MD5" : "");
    routing_->tunnel_up(bp.key, true);
    if (!d.bfd) return;
    // BFD (RFC 5880/5881): a path failure takes the session and its routes down at once; when
    // BFD is up again, BGP starts again.
    BfdRunnerOptions bo;
    bo.name = "dx " + d.name;
    bo.local = *ours;
    bo.peer = d.neighbor;
    bo.desired_min_tx_ms = d.bfd_interval_ms;
    bo.required_min_rx_ms = d.bfd_interval_ms;
    bo.detect_mult = static_cast<std::uint8_t>(d.bfd_multiplier);
    try {
        auto bfd = std::make_unique<BfdRunner>(io_, bo);
        const auto key = bp.key;
        bfd->on_down([this, key](bool path_failure, const std::string& why) {
            logger("bgp")->warn("{}: BFD down ({}){}", key, why,
                                path_failure ? ": session and routes down now" : "");
            events_.add(key, "BFD down: " + why);
            if (path_failure && routing_) routing_->tunnel_up(key, false);
            notify_status();
        });
        bfd->on_up([this, key] {
            logger("bgp")->info("{}: BFD up", key);
            events_.add(key, "BFD up");
            if (routing_) routing_->tunnel_up(key, true);
        });
        bfd->start();
        bfd_[d.name] = std::move(bfd);
    } catch (const std::exception& e) {
        logger("bgp")->error("direct connect {}: BFD: {}", d.name, e.what());
    }
}

void Daemon::watch_expiry() {
    expiry_fd_->async_wait(
        asio::posix::stream_descriptor::wait_read, [this](boost::system::error_code ec) {
            if (ec) return;
            if (auto* k = dynamic_cast<dataplane::KernelDataplane*>(dataplane_.get()))
                k->process_expiry_events();
            watch_expiry();
        });
}

void Daemon::start_connection(const config::VpnEntry& vpn, const config::Connection& c,
                              std::size_t index) {
    for (const auto& t : c.tunnels) {
        TunnelPlan plan;
        plan.key = c.id + "/" + std::to_string(t.number);
        plan.ifname = vpn.name + (vpn.connections.size() > 1 ? std::to_string(index + 1) : "") +
                      "-t" + std::to_string(t.number);
        plan.if_id = next_if_id_++;
        plan.tunnel = t;
        plan.local_outside = local_outside(t);
        plan.local_id = t.cgw_outside.value_or(plan.local_outside);
        plan.force_encap = cfg_.force_encap || options_.userspace_encap;
        plan.wireshark_keys = cfg_.wireshark_keys;
        if (c.routing == config::Routing::bgp && t.aws_asn) {
            BgpPeerPlan bp;
            bp.key = plan.key;
            bp.local_as = cfg_.asn ? *cfg_.asn : t.cgw_asn.value_or(65000);
            bp.peer_as = *t.aws_asn;
            bp.local_address = t.cgw_inside;
            bp.peer_address = t.aws_inside;
            bp.hold_time = t.bgp_hold_time;
            bp.local_preference = vpn.local_preference;
            bp.max_prefixes_out = vpn.max_prefixes_out
                                      ? vpn.max_prefixes_out
                                      : (c.gateway == config::GatewayKind::vgw ? 100 : 1000);
            bp.max_prefixes_in = vpn.max_prefixes_in;
            bp.graceful_restart_time = vpn.graceful_restart_time;
            bp.policy = vpn.policy;
            if (bp.max_prefixes_in.limit == 0)  // AWS's figures for what it sends
                bp.max_prefixes_in.limit = c.gateway == config::GatewayKind::vgw ? 1000 : 5000;
            bp.if_id = plan.if_id;
            bp.port = options_.bgp_port;
            routing_->add_peer(bp);
        }
        auto key = plan.key;
        auto r =
            std::make_unique<TunnelRunner>(io_, std::move(plan), *dataplane_, *ike_sockets_, rng_,
                                           [this, key](bool up) { tunnel_changed(key, up); });
        auto* raw = r.get();
        raw->set_event_sink([this, key](const std::string& text) { events_.add(key, text); });
        runners_[key] = std::move(r);
        raw->start();
    }
}

void Daemon::stop_connection(const std::string& id, const std::string& why) {
    for (int n : {1, 2}) {
        auto key = id + "/" + std::to_string(n);
        if (routing_) routing_->remove_peer(key, why);
        if (auto it = runners_.find(key); it != runners_.end()) {
            it->second->stop();
            runners_.erase(it);
        }
    }
    if (auto it = static_routes_.find(id); it != static_routes_.end()) {
        for (const auto& p : it->second)
            (void)dataplane_->del_route({p, cfg_.route_metric, cfg_.route_table});
        static_routes_.erase(it);
    }
}

std::string Daemon::metrics() const {
    MetricCounters c;
    c.route_changes = routing_ ? routing_->route_changes() : 0;
    c.fib_errors = routing_ ? routing_->fib_errors() : 0;
    c.fib_resyncs = routing_ ? routing_->fib_resyncs() : 0;
    c.events = events_.last();
    return prometheus_text(status(), c);
}

void Daemon::tunnel_changed(const std::string& key, bool up) {
    events_.add(key, up ? "tunnel up" : "tunnel down");
    if (routing_) routing_->tunnel_up(key, up);
    update_static_routes(key.substr(0, key.find('/')));
    notify_status();
}

// Static-routing connections: the VPN entry's static routes through tunnel 1 while it is up,
// else tunnel 2 (active_standby), or through every tunnel that is up (ecmp).
void Daemon::update_static_routes(const std::string& connection_id) {
    const config::VpnEntry* vpn = nullptr;
    for (const auto& v : cfg_.vpns)
        for (const auto& c : v.connections)
            if (c.id == connection_id && c.routing == config::Routing::static_routes) vpn = &v;
    if (!vpn || vpn->static_routes.empty()) return;
    std::vector<dataplane::NextHop> hops;
    for (int n : {1, 2}) {
        auto* r = runner(connection_id + "/" + std::to_string(n));
        if (!r || !r->up()) continue;
        dataplane::NextHop h;
        h.if_id = r->plan().if_id;
        h.gateway = r->plan().tunnel.aws_inside;
        hops.push_back(h);
        if (vpn->static_mode == config::StaticTunnelMode::active_standby) break;
    }
    auto& installed = static_routes_[connection_id];
    for (const auto& p : vpn->static_routes) {
        if (hops.empty()) {
            (void)dataplane_->del_route({p, cfg_.route_metric, cfg_.route_table});
            continue;
        }
        if (auto r = dataplane_->add_route({p, hops, cfg_.route_metric, cfg_.route_table}); !r)
            logger("daemon")->warn("static route {}: {}", p.to_string(), r.error().message);
    }
    if (hops.empty())
        static_routes_.erase(connection_id);
    else
        installed = vpn->static_routes;
}

void Daemon::register_commands() {
    commands_.add("status", "Connections, tunnels, BGP and Direct Connect state.",
                  [this](const json&) {
                      return Response{ResultCode::success, "status", status()};
                  });
    commands_.add("version", "The daemon's version.", [](const json&) {
        return Response{ResultCode::success, version(), json{{"version", version()}}};
    });
    commands_.add("reload", "Re-read the configuration; a bad file changes nothing.",
                  [this](const json&) { return reload(); });
    commands_.add("events",
                  "State changes numbered above {\"since\": N} (cgwctl events follows them).",
                  [this](const json& a) {
                      auto since = a.value("since", std::uint64_t{0});
                      return Response{ResultCode::success, "events", events_.since(since)};
                  });
    commands_.add("rekey", "Rekey a tunnel's CHILD_SA now: {\"tunnel\": \"vpn-.../1\"}.",
                  [this](const json& a) { return tunnel_command(a, true); });
    commands_.add("reset", "Tear a tunnel down and initiate it again: {\"tunnel\": ...}.",
                  [this](const json& a) { return tunnel_command(a, false); });
    commands_.add("log-level", "Set a component's log level: {\"component\": C, \"level\": L}.",
                  [](const json& a) {
                      auto c = a.value("component", std::string());
                      auto l = a.value("level", std::string());
                      if (!set_log_level(c, l))
                          return Response{
                              ResultCode::error,
                              "unknown component or level (components: all, daemon, config, ike, "
                              "dataplane, bgp; levels: trace, debug, info, warn, error)",
                              json::object()};
                      logger("daemon")->info("log level of {} set to {}", c, l);
                      return Response{ResultCode::success, c + " logs at " + l, json::object()};
                  });
}

Response Daemon::tunnel_command(const json& a, bool rekey) {
    auto key = a.value("tunnel", std::string());
    auto* r = runner(key);
    if (!r)
        return {ResultCode::error,
                "no running tunnel \"" + key + "\" (tunnels are named <connection id>/<1|2>)",
                json::object()};
    if (rekey) {
        if (!r->rekey())
            return {ResultCode::error, key + ": no CHILD_SA to rekey now", json::object()};
        logger("daemon")->info("{}: rekey requested by operator", key);
        return {ResultCode::success, key + ": rekeying", json::object()};
    }
    logger("daemon")->info("{}: reset requested by operator", key);
    r->reset();
    return {ResultCode::success, key + ": reset, initiating again", json::object()};
}

Response Daemon::reload() {
    auto fresh = config::load_daemon_config(config_path_);
    if (!fresh) {
        logger("config")->error("reload refused, running configuration kept: {}",
                                fresh.error().to_string());
        events_.add("daemon", "reload refused: " + fresh.error().to_string());
        return {ResultCode::error, "reload refused, nothing changed: " + fresh.error().to_string(),
                json::object()};
    }
    auto plan = plan_reload(cfg_, *fresh);
    if (started_ && options_.engines) {
        for (const auto& id : plan.removed) stop_connection(id, "connection removed from config");
        for (const auto& id : plan.changed) stop_connection(id, "configuration changed");
    }
    // What a reload does not apply keeps its running value (Routing reads these from cfg_), so
    // the daemon stays as the summary says until a restart.
    fresh->asn = cfg_.asn;
    fresh->router_id = cfg_.router_id;
    if (plan.bgp_kept) fresh->advertise = cfg_.advertise;
    fresh->ecmp_max_paths = cfg_.ecmp_max_paths;
    fresh->direct_connect = cfg_.direct_connect;
    fresh->route_table = cfg_.route_table;
    fresh->route_protocol = cfg_.route_protocol;
    fresh->route_metric = cfg_.route_metric;
    fresh->dataplane = cfg_.dataplane;
    cfg_ = std::move(*fresh);
    // The peers that stay (Direct Connect, unchanged connections) get the new advertise list
    // now; the connections started below read it when their peers are added.
    if (routing_ && (!plan.advertised.empty() || !plan.withdrawn.empty()))
        routing_->advertise_changed(plan.advertised, plan.withdrawn);
    if (started_ && options_.engines) {
        std::set<std::string> start(plan.changed.begin(), plan.changed.end());
        start.insert(plan.added.begin(), plan.added.end());
        for (const auto& v : cfg_.vpns)
            for (std::size_t i = 0; i < v.connections.size(); ++i)
                if (start.count(v.connections[i].id)) start_connection(v, v.connections[i], i);
    }
    set_log_level("all", cfg_.log_level);
    if (plan.not_applied.empty())
        logger("config")->info("{}", plan.summary());
    else
        logger("config")->warn("{}", plan.summary());
    events_.add("daemon", plan.summary());
    notify_status();
    auto strings = [](const std::vector<config::IpPrefix>& v) {
        std::vector<std::string> out;
        for (const auto& p : v) out.push_back(p.to_string());
        return out;
    };
    json args{{"unchanged", plan.unchanged},
              {"changed", plan.changed},
              {"added", plan.added},
              {"removed", plan.removed},
              {"advertised", strings(plan.advertised)},
              {"withdrawn", strings(plan.withdrawn)},
              {"not_applied", plan.not_applied}};
    return {ResultCode::success, plan.summary(), args};
}

void Daemon::notify_status() {
    auto s = status();
    std::string line = "STATUS=" + std::to_string(s["tunnels_up"].get<int>()) + "/" +
                       std::to_string(s["tunnels_total"].get<int>()) + " tunnels up";
    sd_notify(0, line.c_str());
}

void Daemon::start() {
    control_ = std::make_unique<ControlServer>(io_, cfg_.control_socket, commands_,
                                               options_.control_idle_timeout);
    logger("daemon")->info("cgwd {} listening on {}", version(), cfg_.control_socket);
    if (!cfg_.wireshark_keys.empty()) {
        logger("daemon")->warn(
            "DEBUG: writing the keys of every IKE SA and CHILD_SA to {}/ikev2_decryption_table "
            "and esp_sa ([debug] wireshark_keys): whoever reads them can decrypt this traffic",
            cfg_.wireshark_keys);
    }
    if (options_.engines) start_engines();
    started_ = true;
    if (!cfg_.metrics_listen.empty()) {
        metrics_ =
            std::make_unique<MetricsServer>(io_, cfg_.metrics_listen, [this] { return metrics(); });
        logger("daemon")->info("Prometheus metrics on http://{}/metrics", cfg_.metrics_listen);
    }
    events_.add("daemon", "started, dataplane " + dataplane_mode_);
    if (options_.drop_capabilities) {
        if (auto r = keep_only_network_capabilities(); !r)
            throw std::runtime_error("dropping capabilities: " + r.error());
        logger("daemon")->info(
            "capabilities: only CAP_NET_ADMIN, CAP_NET_RAW, "
            "CAP_NET_BIND_SERVICE kept");
    }
    signals_.add(SIGHUP);
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    wait_signal();
    notify_status();
    sd_notify(0, "READY=1");
    if (sd_watchdog_enabled(0, &watchdog_usec_) > 0 && watchdog_usec_ > 0) arm_watchdog();
}

void Daemon::wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            sd_notify(0, "RELOADING=1");
            auto r = reload();
            logger("daemon")->info("SIGHUP: {}", r.text);
            sd_notify(0, "READY=1");
            wait_signal();
            return;
        }
        logger("daemon")->info("signal {}: stopping", sig);
        stop();
    });
}

void Daemon::arm_watchdog() {
    watchdog_.expires_after(std::chrono::microseconds(watchdog_usec_ / 2));
    watchdog_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        sd_notify(0, "WATCHDOG=1");  // sent from the loop: a stuck loop stops the pings
        arm_watchdog();
    });
}

void Daemon::stop() {
    sd_notify(0, "STOPPING=1");
    for (auto& [name, b] : bfd_) b->stop();  // AdminDown: the peer does not count a failure
    if (routing_) routing_->shutdown("cgwd is stopping");
    for (auto& [key, r] : runners_) r->stop();
    runners_.clear();
    for (const auto& [id, prefixes] : static_routes_)
        for (const auto& p : prefixes)
            (void)dataplane_->del_route({p, cfg_.route_metric, cfg_.route_table});
    static_routes_.clear();
    if (nft_) (void)nft_->remove_table();
    nft_.reset();
    if (!dx_vlans_.empty())
        if (auto links = dataplane::KernelLinks::open())
            for (const auto& v : dx_vlans_) (void)links->delete_vlan(v);
    dx_vlans_.clear();
    if (expiry_fd_) {
        boost::system::error_code ec;
        expiry_fd_->close(ec);
    }
    dataplane_.reset();  // the kernel backend removes what it made; userspace stops its threads
    metrics_.reset();
    if (control_) control_->close();
    boost::system::error_code ec;
    signals_.cancel(ec);
    watchdog_.cancel();
    io_.stop();
}

}  // namespace cgwd::daemon
