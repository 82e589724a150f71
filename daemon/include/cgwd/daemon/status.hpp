// What the daemon reports about itself: one JSON document built from its state (for
// `cgwctl status --json`, the Prometheus endpoint and tests) and its one-screen text rendering
// (`cgwctl status`), colour on a TTY, plain otherwise. Secrets never enter the document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "cgwd/config/daemon_config.hpp"

namespace cgwd::daemon {

// Per-tunnel runtime state the engines will fill in; until an engine runs a tunnel, its state
// says so instead of pretending.
struct TunnelRuntime {
    TunnelRuntime() = default;
    TunnelRuntime(std::string s, std::string d) : state(std::move(s)), detail(std::move(d)) {}
    std::string state = "down";                       // down | connecting | up
    std::string detail;                               // why, in words
    nlohmann::json extra = nlohmann::json::object();  // engine fields merged into the tunnel
    nlohmann::json bgp;                               // BGP session state; null: not running
};

// The status document for a loaded configuration and the tunnels' runtime state (looked up by
// "<connection id>/<tunnel number>").
nlohmann::json status_json(const config::DaemonConfig& cfg,
                           const std::map<std::string, TunnelRuntime>& tunnels,
                           const std::string& dataplane_mode,
                           const nlohmann::json& routes = nlohmann::json::array());

// `cgwctl status` text from the document. `color` adds ANSI colours to states.
std::string render_status(const nlohmann::json& status, bool color);

// Nagios-style summary for `cgwctl check`: exit code 0 OK, 1 WARNING, 2 CRITICAL, and a line.
std::pair<int, std::string> check_summary(const nlohmann::json& status);

}  // namespace cgwd::daemon
