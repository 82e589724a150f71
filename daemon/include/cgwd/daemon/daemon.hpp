// The running daemon: one Boost.Asio event loop that owns the control socket, signals
// (SIGHUP reload, SIGTERM/SIGINT stop), systemd notification (READY, STATUS, WATCHDOG) and the
// loaded configuration. Protocol engines are wired in as they land; until then each tunnel's
// status says it is not started instead of pretending.
//
// Start-up order: config check (done by the caller) -> control socket -> READY=1.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <string>

#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/control.hpp"
#include "cgwd/daemon/status.hpp"

namespace cgwd::daemon {

class ControlServer;

// What a reload changes, decided by comparing each connection as imported (Kea-style staging).
struct ReloadPlan {
    std::vector<std::string> unchanged, changed, added, removed;  // connection ids
    std::string summary() const;
};
ReloadPlan plan_reload(const config::DaemonConfig& old_cfg, const config::DaemonConfig& new_cfg);

class Daemon {
  public:
    Daemon(boost::asio::io_context& io, std::string config_path, config::DaemonConfig cfg);
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

  private:
    void register_commands();
    void notify_status();
    void arm_watchdog();
    void wait_signal();

    boost::asio::io_context& io_;
    std::string config_path_;
    config::DaemonConfig cfg_;
    std::map<std::string, TunnelRuntime> tunnels_;
    CommandRegistry commands_;
    std::unique_ptr<ControlServer> control_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer watchdog_;
    std::uint64_t watchdog_usec_ = 0;
};

}  // namespace cgwd::daemon
