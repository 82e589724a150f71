// cgwctl: the operator's tool. `import` turns an AWS file into a starter TOML; the other
// commands talk to a running cgwd over its control socket.
#include <CLI/CLI.hpp>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <thread>

#include <unistd.h>
#include "cgwd/config/aws_import.hpp"
#include "cgwd/config/daemon_config.hpp"
#include "cgwd/daemon/client.hpp"
#include "cgwd/daemon/status.hpp"
#include "cgwd/daemon/version.hpp"

namespace {

// "vpn-0a1b2c3d4e5f60718" -> "vpn-f60718": short enough for interface names.
std::string default_name(const std::string& id) {
    std::string tail = id.size() > 6 ? id.substr(id.size() - 6) : id;
    return "vpn-" + tail;
}

int import_command(const std::string& file, std::string name) {
    auto conns = cgwd::config::import_aws_file(file);
    if (!conns) {
        std::cerr << "cgwctl: " << conns.error().to_string() << "\n";
        return 1;
    }
    if (name.empty()) name = default_name(conns->front().id);
    if (!cgwd::config::valid_vpn_name(name)) {
        std::cerr << "cgwctl: --name '" << name
                  << "' must be 1-10 characters of a-z, 0-9 and '-'\n";
        return 1;
    }
    auto absolute = std::filesystem::absolute(file).lexically_normal().string();
    if (cgwd::config::accessible_by_others(file))
        std::cerr << "cgwctl: warning: " << file
                  << " holds pre-shared keys and is accessible by group or "
                  << "others; cgwd refuses it until you run: chmod 600 " << absolute << "\n";
    std::cout << cgwd::config::starter_toml(absolute, name, *conns);
    std::cerr << "cgwctl: " << file << ": " << conns->size() << " connection(s) imported\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"cgwctl - control and inspect cgwd"};
    app.set_version_flag("-V,--version", std::string("cgwctl ") + cgwd::daemon::version());
    app.require_subcommand(1);

    std::string file, name;
    auto* import = app.add_subcommand(
        "import",
        "Validate an AWS VPN configuration file (XML, describe-vpn-connections JSON or "
        "Generic text) and write a starter cgwd.toml for it to standard output");
    import->add_option("AWS-FILE", file, "The file downloaded from AWS")->required();
    import->add_option("--name", name, "Short name for the connection (1-10 of a-z 0-9 -)");

    std::string socket_path = "/run/cgwd/cgwd.sock";
    app.add_option("-s,--socket", socket_path, "cgwd's control socket")->capture_default_str();
    bool as_json = false;
    auto* status = app.add_subcommand(
        "status", "One screen of state: connections, tunnels, BGP, Direct Connect");
    status->add_flag("--json", as_json, "The status document as JSON, for scripts");
    auto* check =
        app.add_subcommand("check", "Monitoring check: exit 0 OK, 1 WARNING, 2 CRITICAL, one line");
    auto* reload = app.add_subcommand("reload",
                                      "Re-read the configuration (a bad file changes nothing; "
                                      "[bgp] advertise is applied at once, other [bgp] and "
                                      "[[direct_connect]] changes wait for a restart)");
    std::string component, level;
    auto* loglevel = app.add_subcommand("log-level", "Set a component's log level at run time");
    loglevel->add_option("COMPONENT", component, "all, daemon, config, ike, dataplane, bgp")
        ->required();
    loglevel->add_option("LEVEL", level, "trace, debug, info, warn, error")->required();

    auto* routes = app.add_subcommand("routes", "Routes cgwd installed and the path each takes");
    routes->add_flag("--json", as_json, "As JSON");
    auto* bgp = app.add_subcommand("bgp", "BGP sessions: state, uptime, prefixes");
    bgp->add_flag("--json", as_json, "As JSON");
    auto* tunnels = app.add_subcommand("tunnels", "One line per tunnel: state, interface, SAs");
    tunnels->add_flag("--json", as_json, "As JSON");
    bool no_follow = false;
    auto* events = app.add_subcommand(
        "events", "State changes (tunnels, IKE, BGP, BFD, routes, reloads), then follows new ones");
    events->add_flag("--no-follow", no_follow, "Print what is logged so far and exit");
    std::string tunnel;
    auto* rekey = app.add_subcommand("rekey", "Rekey a tunnel's CHILD_SA now");
    rekey->add_option("TUNNEL", tunnel, "<connection id>/<1|2>, as `cgwctl status --json` names it")
        ->required();
    auto* reset = app.add_subcommand("reset", "Tear a tunnel down and initiate it again");
    reset->add_option("TUNNEL", tunnel, "<connection id>/<1|2>")->required();

    CLI11_PARSE(app, argc, argv);
    if (import->parsed()) return import_command(file, name);

    auto ask = [&](const std::string& cmd,
                   const nlohmann::json& args) -> std::optional<nlohmann::json> {
        auto r = cgwd::daemon::call(socket_path, cmd, args);
        if (!r) {
            std::cerr << "cgwctl: " << r.error() << "\n";
            return std::nullopt;
        }
        if (r->value("result", 1) != 0) {
            std::cerr << "cgwctl: " << r->value("text", std::string("failed")) << "\n";
            return std::nullopt;
        }
        return *r;
    };
    if (status->parsed()) {
        auto r = ask("status", nlohmann::json::object());
        if (!r) return 1;
        if (as_json)
            std::cout << (*r)["arguments"].dump(2) << "\n";
        else
            std::cout << cgwd::daemon::render_status((*r)["arguments"], ::isatty(1) != 0);
        return 0;
    }
    if (check->parsed()) {
        auto r = cgwd::daemon::call(socket_path, "status");
        if (!r) {
            std::cout << "CGWD CRITICAL - " << r.error() << "\n";
            return 2;
        }
        auto [code, line] = cgwd::daemon::check_summary((*r)["arguments"]);
        std::cout << line << "\n";
        return code;
    }
    if (routes->parsed() || bgp->parsed()) {
        auto r = ask("status", nlohmann::json::object());
        if (!r) return 1;
        const auto& doc = (*r)["arguments"];
        if (routes->parsed()) {
            auto list = doc.value("routes", nlohmann::json::array());
            if (as_json) {
                std::cout << list.dump(2) << "\n";
                return 0;
            }
            if (list.empty()) std::cout << "no routes installed\n";
            for (const auto& rt : list) {
                std::cout << rt.value("prefix", "") << "  " << rt.value("path", "") << " via";
                for (const auto& v : rt.value("via", nlohmann::json::array()))
                    std::cout << " " << v.value("next_hop", "") << " (" << v.value("tunnel", "")
                              << ")";
                std::cout << "\n";
            }
            return 0;
        }
        nlohmann::json sessions = nlohmann::json::array();
        for (const auto& c : doc.value("connections", nlohmann::json::array()))
            for (const auto& t : c.value("tunnels", nlohmann::json::array()))
                if (t.contains("bgp")) {
                    auto b = t["bgp"];
                    b["tunnel"] = c.value("id", "") + "/" + std::to_string(t.value("number", 0));
                    b["neighbor"] = t.value("remote_inside", "");
                    sessions.push_back(b);
                }
        if (as_json) {
            std::cout << sessions.dump(2) << "\n";
            return 0;
        }
        for (const auto& b : sessions)
            std::cout << b.value("tunnel", "") << "  " << b.value("neighbor", "") << " AS"
                      << b.value("remote_asn", 0) << "  " << b.value("state", "") << "  "
                      << b.value("prefixes_received", 0) << " received, "
                      << b.value("prefixes_advertised", 0) << " advertised\n";
        return 0;
    }
    if (tunnels->parsed()) {
        auto r = ask("status", nlohmann::json::object());
        if (!r) return 1;
        nlohmann::json list = nlohmann::json::array();
        for (const auto& c : (*r)["arguments"].value("connections", nlohmann::json::array()))
            for (auto t : c.value("tunnels", nlohmann::json::array())) {
                t["tunnel"] = c.value("id", "") + "/" + std::to_string(t.value("number", 0));
                list.push_back(t);
            }
        if (as_json) {
            std::cout << list.dump(2) << "\n";
            return 0;
        }
        for (const auto& t : list) {
            std::cout << t.value("tunnel", "") << "  " << t.value("state", "") << "  "
                      << t.value("interface", "-") << "  " << t.value("local_outside", "") << " -> "
                      << t.value("remote_outside", "");
            for (const auto& sa : t.value("child_sas", nlohmann::json::array()))
                std::cout << "  esp " << sa.value("spi_in", "") << "/" << sa.value("spi_out", "");
            if (t.contains("bgp") && t["bgp"].is_object())
                std::cout << "  bgp " << t["bgp"].value("state", "");
            std::cout << "\n";
        }
        return 0;
    }
    if (events->parsed()) {
        std::uint64_t since = 0;
        for (;;) {
            auto r = ask("events", {{"since", since}});
            if (!r) return 1;
            const auto& a = (*r)["arguments"];
            for (const auto& e : a.value("events", nlohmann::json::array())) {
                const auto ms = e.value("unix_ms", std::int64_t{0});
                std::time_t t = ms / 1000;
                char when[32];
                std::strftime(when, sizeof when, "%F %T", std::localtime(&t));
                std::cout << when << "." << std::setw(3) << std::setfill('0') << ms % 1000
                          << std::setfill(' ') << "  " << e.value("subject", "") << "  "
                          << e.value("text", "") << "\n";
            }
            std::cout.flush();
            since = a.value("last", since);
            if (no_follow) return 0;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
    if (rekey->parsed() || reset->parsed()) {
        auto r = ask(rekey->parsed() ? "rekey" : "reset", {{"tunnel", tunnel}});
        if (!r) return 1;
        std::cout << (*r)["text"].get<std::string>() << "\n";
        return 0;
    }
    if (reload->parsed()) {
        auto r = ask("reload", nlohmann::json::object());
        if (!r) return 1;
        std::cout << (*r)["text"].get<std::string>() << "\n";
        return 0;
    }
    if (loglevel->parsed()) {
        auto r = ask("log-level", {{"component", component}, {"level", level}});
        if (!r) return 1;
        std::cout << (*r)["text"].get<std::string>() << "\n";
        return 0;
    }
    return 2;
}
