// The running daemon: one Boost.Asio event loop that owns the control socket, signals
// (SIGHUP reload, SIGTERM/SIGINT stop), systemd notification (READY, STATUS, WATCHDOG), the
// loaded configuration and the engines: the dataplane, the IKE sockets, one TunnelRunner per
// AWS tunnel (IKE SA + its CHILD_SAs in the dataplane) and Routing (BGP sessions over the
// tunnels, the RIB and its routes; static routes of static-routing connections).
//
// Start-up order: config check (done by the caller) -> control socket -> dataplane -> IKE
// sockets and tunnels (initiating) -> BGP (each session starts when its tunnel is up) ->
// READY=1. Stop: BGP CEASE to every peer, IKE Delete to every peer, SAs, routes and tunnel
// interfaces removed, loop stopped. Reload restarts changed connections, stops removed ones
// and starts new ones; unchanged ones are not touched.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/bfd_runner.hpp"
#include "cgwd/daemon/control.hpp"
#include "cgwd/daemon/ike_sockets.hpp"
#include "cgwd/daemon/observe.hpp"
#include "cgwd/daemon/routing.hpp"
#include "cgwd/daemon/status.hpp"
#include "cgwd/daemon/tunnel_runner.hpp"
#include "cgwd/dataplane/dataplane.hpp"
#include "cgwd/dataplane/nft_mss.hpp"
#include "cgwd/ike/crypto.hpp"

namespace cgwd::daemon {

class ControlServer;

// What a reload changes, decided by comparing each connection as imported (Kea-style staging).
struct ReloadPlan {
    std::vector<std::string> unchanged, changed, added, removed;  // connection ids
    // [bgp] advertise prefixes the reload announces and withdraws (to every BGP peer, no reset).
    std::vector<config::IpPrefix> advertised, withdrawn;
    // The AS, router ID or ECMP changed: all of [bgp] keeps its running value, advertise too.
    bool bgp_kept = false;
    // Changed settings a reload does not apply (they take effect when cgwd restarts): "[bgp]"
    // (when bgp_kept), "[[direct_connect]]", "[daemon] routes" (route table, protocol,
    // metric), "[daemon] dataplane".
    std::vector<std::string> not_applied;
    std::string summary() const;
};
ReloadPlan plan_reload(const config::DaemonConfig& old_cfg, const config::DaemonConfig& new_cfg);

struct DaemonOptions {
    // Makes the dataplane; unset: chosen by the [daemon] dataplane setting. Tests inject a
    // FakeDataplane. Called once by start().
    std::function<std::unique_ptr<dataplane::Dataplane>()> make_dataplane;
    bool userspace_encap = false;  // with make_dataplane: force UDP encapsulation as userspace
    std::uint16_t ike_port = 500;  // 0: any (tests)
    std::uint16_t natt_port = 4500;
    std::uint16_t bgp_port = 179;
    bool engines = true;  // false: control surface only (no sockets, no dataplane)
    // A control connection with no request for this long is closed (tests shorten it).
    std::chrono::milliseconds control_idle_timeout{60000};
    // After start-up keep only CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE (cgwd does;
    // tests running the daemon in their own process do not).
    bool drop_capabilities = false;
};

class Daemon {
  public:
    Daemon(boost::asio::io_context& io, std::string config_path, config::DaemonConfig cfg,
           DaemonOptions options = {});
    ~Daemon();

    // Binds the control socket (mode 0660), installs signal handlers, tells systemd READY=1.
    // Throws std::runtime_error with a clear message when the socket cannot be bound.
    void start();
    // Closes the control socket, removes it, and stops the loop.
    void stop();

    // Re-reads the configuration through the same validation as start-up. A bad file changes
    // nothing and is reported.
    Response reload();

    const CommandRegistry& commands() const { return commands_; }
    const config::DaemonConfig& config() const { return cfg_; }
    nlohmann::json status() const;
    const EventLog& events() const { return events_; }
    std::string metrics() const;
    // The bound metrics port (0: none), for tests with port 0.
    std::uint16_t metrics_port() const { return metrics_ ? metrics_->port() : 0; }

    // Tunnel keys: "<connection id>/<n>".
    TunnelRunner* runner(const std::string& key);
    const dataplane::Dataplane* dataplane() const { return dataplane_.get(); }

  private:
    void register_commands();
    void notify_status();
    void arm_watchdog();
    void wait_signal();
    void start_engines();
    void watch_expiry();
    void start_connection(const config::VpnEntry& vpn, const config::Connection& c,
                          std::size_t index);
    void stop_connection(const std::string& id, const std::string& why);
    void start_direct_connect(const config::DirectConnectPeer& d);
    void tunnel_changed(const std::string& key, bool up);
    void update_static_routes(const std::string& connection_id);
    config::Ipv4Address local_outside(const config::Tunnel& t) const;
    Response tunnel_command(const nlohmann::json& args, bool rekey);

    boost::asio::io_context& io_;
    std::string config_path_;
    config::DaemonConfig cfg_;
    DaemonOptions options_;
    std::string dataplane_mode_;
    CommandRegistry commands_;
    ike::crypto::SystemRandom rng_;
    std::unique_ptr<dataplane::Dataplane> dataplane_;
    std::unique_ptr<boost::asio::posix::stream_descriptor> expiry_fd_;  // kernel expiry events
    std::unique_ptr<IkeSockets> ike_sockets_;
    std::unique_ptr<Routing> routing_;
    std::map<std::string, std::unique_ptr<TunnelRunner>> runners_;          // by tunnel key
    std::map<std::string, std::vector<config::Ipv4Prefix>> static_routes_;  // installed, by conn
    std::map<std::string, std::string> dx_interfaces_;       // Direct Connect name -> interface
    std::map<std::string, std::uint16_t> dx_mss_clamp_;      // Direct Connect name -> MSS clamped
    std::vector<std::string> dx_vlans_;                      // VLAN interfaces we created
    std::unique_ptr<dataplane::NftMssClamp> nft_;            // userspace mode: DX MSS clamps
    std::map<std::string, std::unique_ptr<BfdRunner>> bfd_;  // Direct Connect name -> BFD
    EventLog events_;
    std::unique_ptr<MetricsServer> metrics_;
    std::uint32_t next_if_id_ = 0x63670001;  // inside the kernel backend's ownership range
    bool started_ = false;
    std::unique_ptr<ControlServer> control_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer watchdog_;
    std::uint64_t watchdog_usec_ = 0;
};

}  // namespace cgwd::daemon
