#include "cgwd/daemon/status.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace cgwd::daemon {

using nlohmann::json;

json status_json(const config::DaemonConfig& cfg,
                 const std::map<std::string, TunnelRuntime>& tunnels,
                 const std::string& dataplane_mode, const json& routes) {
    json doc;
    doc["dataplane"] = dataplane_mode;
    doc["config_file"] = cfg.file;
    json conns = json::array();
    int up = 0, total = 0;
    for (const auto& v : cfg.vpns) {
        for (const auto& c : v.connections) {
            json jc{{"name", v.name},
                    {"id", c.id},
                    {"gateway", config::to_string(c.gateway)},
                    {"routing", config::to_string(c.routing)}};
            json jt = json::array();
            for (const auto& t : c.tunnels) {
                auto it = tunnels.find(c.id + "/" + std::to_string(t.number));
                TunnelRuntime rt = it == tunnels.end() ? TunnelRuntime{} : it->second;
                ++total;
                if (rt.state == "up") ++up;
                json tj{{"number", t.number},
                        {"state", rt.state},
                        {"detail", rt.detail},
                        {"local_outside", t.cgw_outside ? t.cgw_outside->to_string() : "auto"},
                        {"remote_outside", t.aws_outside.to_string()},
                        {"local_inside", t.cgw_inside.to_string() + "/30"},
                        {"remote_inside", t.aws_inside.to_string()},
                        {"mtu", t.mtu},
                        {"mss", t.tcp_mss},
                        {"dpd",
                         {{"interval_ms", t.dpd_interval_ms_in_force()},
                          {"retries", t.dpd_retries_in_force()},
                          {"action", config::to_string(t.dpd_action)}}}};
                if (t.cgw_asn)
                    tj["bgp"] = {
                        {"local_asn", *t.cgw_asn}, {"remote_asn", *t.aws_asn}, {"state", "idle"}};
                if (rt.bgp.is_object()) tj["bgp"] = rt.bgp;
                for (const auto& item : rt.extra.items()) tj[item.key()] = item.value();
                jt.push_back(std::move(tj));
            }
            jc["tunnels"] = std::move(jt);
            conns.push_back(std::move(jc));
        }
    }
    doc["connections"] = std::move(conns);
    json dx = json::array();
    for (const auto& d : cfg.direct_connect)
        dx.push_back({{"name", d.name},
                      {"neighbor", d.neighbor.to_string()},
                      {"remote_asn", d.neighbor_asn},
                      {"bgp", "idle"},
                      {"bfd", d.bfd ? "down" : "off"}});
    doc["direct_connect"] = std::move(dx);
    doc["routes"] = routes;
    doc["tunnels_up"] = up;
    doc["tunnels_total"] = total;
    return doc;
}

namespace {

std::string paint(const std::string& state, bool color) {
    if (!color) return state;
    const char* code = state == "up" ? "32" : state == "connecting" ? "33" : "31";
    return std::string("\033[") + code + "m" + state + "\033[0m";
}

// ", 20 dropped over the limit of 100" / ", reset 2 times for more than 100 prefixes": the
// inbound prefix limit at work (max_prefixes_in), when it is.
std::string limit_note(const json& b) {
    std::string note;
    const auto limit = std::to_string(b.value("max_prefixes_in", 0));
    if (const auto n = b.value("prefixes_dropped_over_limit", std::uint64_t{0}); n > 0)
        note += ", " + std::to_string(n) + " dropped over the limit of " + limit;
    if (const auto n = b.value("max_prefix_resets", std::uint64_t{0}); n > 0)
        note += ", reset " + std::to_string(n) + " times for more than " + limit + " prefixes";
    return note;
}

// 1436 B, 12.3 kB, 4.5 MB, 1.2 GB (decimal units, as interface counters are read).
std::string bytes_text(std::uint64_t n) {
    if (n < 1000) return std::to_string(n) + " B";
    const char* units[] = {"kB", "MB", "GB", "TB"};
    double v = static_cast<double>(n);
    int u = -1;
    while (v >= 1000 && u < 3) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

// 10 s, 1.5 s, 300 ms.
std::string seconds_text(std::uint64_t ms) {
    if (ms < 1000) return std::to_string(ms) + " ms";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000);
    return buf;
}

}  // namespace

std::string render_status(const json& s, bool color) {
    constexpr std::size_t kStatusRoutes = 20;  // routes listed one by one on the status screen
    std::ostringstream o;
    o << "cgwd: " << s.value("tunnels_up", 0) << "/" << s.value("tunnels_total", 0)
      << " tunnels up, dataplane " << s.value("dataplane", "?") << "\n";
    for (const auto& c : s.value("connections", json::array())) {
        o << "\n"
          << c.value("name", "") << "  " << c.value("id", "") << "  " << c.value("gateway", "")
          << ", " << c.value("routing", "") << "\n";
        for (const auto& t : c.value("tunnels", json::array())) {
            o << "  tunnel " << t.value("number", 0) << "  " << paint(t.value("state", "?"), color)
              << "  " << t.value("local_outside", "") << " -> " << t.value("remote_outside", "")
              << "  inside " << t.value("local_inside", "") << " -> "
              << t.value("remote_inside", "") << "  mtu " << t.value("mtu", 0) << " mss "
              << t.value("mss", 0) << "\n";
            if (t.contains("ike")) {
                const auto& ike = t["ike"];
                o << "           ike " << ike.value("algorithms", "") << "  age "
                  << ike.value("age_s", 0) << " s";
                if (ike.contains("next_rekey_s"))
                    o << ", rekey in " << ike.value("next_rekey_s", 0) << " s";
                if (ike.contains("next_child_rekey_s"))
                    o << ", esp rekey in " << ike.value("next_child_rekey_s", 0) << " s";
                o << (ike.value("udp_encapsulation", false) ? ", UDP 4500" : "")
                  << (t.value("nat_detected", false) ? ", NAT detected" : "")
                  << (t.contains("ike_id") ? ", id " + t.value("ike_id", "") : "") << "\n";
            }
            for (const auto& sa : t.value("child_sas", json::array()))
                o << "           esp in " << sa.value("spi_in", "") << " out "
                  << sa.value("spi_out", "") << "  " << sa.value("algorithms", "") << "  "
                  << sa.value("packets_in", 0) << "/" << sa.value("packets_out", 0)
                  << " packets, " << bytes_text(sa.value("bytes_in", std::uint64_t{0})) << "/"
                  << bytes_text(sa.value("bytes_out", std::uint64_t{0})) << " in/out, "
                  << sa.value("replay_drops", 0) << " replay drops, "
                  << sa.value("integrity_failures", 0) << " integrity failures, age "
                  << sa.value("age_s", 0) << " s\n";
            if (t.contains("dpd") && t.contains("ike")) {
                const auto& d = t["dpd"];
                o << "           dpd every " << seconds_text(d.value("interval_ms", 0)) << ", "
                  << d.value("retries", 0) << " retries, then " << d.value("action", "");
                if (t["ike"].contains("last_dpd_s"))
                    o << "; last check " << t["ike"].value("last_dpd_s", 0) << " s ago";
                if (t.contains("last_rekey_s"))
                    o << "; last esp rekey " << t.value("last_rekey_s", 0) << " s ago";
                o << "\n";
            }
            if (t.contains("bgp")) {
                const auto& b = t["bgp"];
                o << "           bgp AS" << b.value("local_asn", 0) << " -> AS"
                  << b.value("remote_asn", 0) << "  " << b.value("state", "");
                if (b.contains("prefixes_received"))
                    o << "  " << b.value("prefixes_received", 0) << " received, "
                      << b.value("prefixes_installed", 0) << " installed, "
                      << b.value("prefixes_advertised", 0) << " advertised" << limit_note(b);
                if (b.contains("uptime_s")) o << ", up " << b.value("uptime_s", 0) << " s";
                // Peer oscillation damping (RFC 4271 section 8.1.1): the idle hold runs.
                if (b.contains("next_attempt_in_s"))
                    o << "  damped: " << b.value("consecutive_failures", 0)
                      << " failures in a row, next attempt in "
                      << static_cast<long>(std::ceil(b.value("next_attempt_in_s", 0.0))) << " s";
                o << "\n";
            }
            // What the IKE engine is doing, unless it only repeats "up".
            if (const auto detail = t.value("detail", "");
                !detail.empty() && !(detail == "established" && t.value("state", "") == "up"))
                o << "           " << detail << "\n";
        }
    }
    // Hostile traffic toward the IKE ports, once there is any.
    if (const auto in = s.value("ike_ingress", json::object());
        in.value("dropped_unknown_source", std::uint64_t{0}) +
            in.value("dropped_malformed", std::uint64_t{0}) +
            in.value("dropped_rate_limited", std::uint64_t{0}) +
            in.value("cookies_sent", std::uint64_t{0}) >
        0)
        o << "\nike input: " << in.value("dropped_unknown_source", std::uint64_t{0})
          << " from unknown sources, " << in.value("dropped_malformed", std::uint64_t{0})
          << " malformed, " << in.value("dropped_rate_limited", std::uint64_t{0})
          << " rate-limited; " << in.value("cookies_sent", std::uint64_t{0}) << " cookies sent"
          << (in.value("cookies_required", false) ? " (cookies required now)" : "") << "\n";
    const auto routes = s.value("routes", json::array());
    if (!routes.empty()) {
        // One screen: a short list in full; a long one (a Direct Connect full of VPC and
        // on-prem prefixes) counted by path, the first few shown, all in `cgwctl routes`.
        std::size_t dx = 0;
        for (const auto& r : routes) dx += r.value("path", "") == "direct connect";
        o << "\nroutes";
        if (routes.size() > kStatusRoutes)
            o << "  " << routes.size() << " installed (" << dx << " via direct connect, "
              << routes.size() - dx << " via vpn); the first " << kStatusRoutes
              << " below, all with `cgwctl routes`";
        o << "\n";
    }
    if (const auto fib = s.value("fib", json::object());
        fib.value("errors", std::uint64_t{0}) + fib.value("resyncs", std::uint64_t{0}) > 0)
        o << "  (kernel refused " << fib.value("errors", std::uint64_t{0})
          << " route changes; routes re-read after lost acknowledgements "
          << fib.value("resyncs", std::uint64_t{0}) << " times)\n";
    for (std::size_t i = 0; i < routes.size() && i < kStatusRoutes; ++i) {
        const auto& r = routes[i];
        o << "  " << r.value("prefix", "") << "  " << r.value("path", "") << " via";
        for (const auto& v : r.value("via", json::array()))
            o << " " << v.value("next_hop", "") << " (" << v.value("tunnel", "") << ")";
        o << "\n";
    }
    for (const auto& d : s.value("direct_connect", json::array())) {
        // Before the engines run, "bgp" is a state word; afterwards the session object.
        const json& b = d.contains("bgp") ? d["bgp"] : json();
        std::string bgp_state = b.is_object()   ? b.value("state", "?")
                                : b.is_string() ? b.get<std::string>()
                                                : "?";
        o << "\ndirect connect " << d.value("name", "") << "  neighbor " << d.value("neighbor", "")
          << " AS" << d.value("remote_asn", 0);
        if (d.contains("interface")) o << " on " << d.value("interface", "");
        o << "  bgp " << bgp_state << "  bfd " << d.value("bfd", "");
        if (const auto bfd = d.value("bfd_detail", json::object()); bfd.contains("tx_interval_ms"))
            o << " (" << seconds_text(bfd.value("tx_interval_ms", 0)) << " x "
              << bfd.value("detect_multiplier", 0) << ")";
        if (d.contains("mss_clamp")) o << "  mss " << d.value("mss_clamp", 0);
        if (b.is_object() && b.contains("prefixes_received"))
            o << "  " << b.value("prefixes_received", 0) << " received, "
              << b.value("prefixes_installed", 0) << " installed, "
              << b.value("prefixes_advertised", 0) << " advertised";
        if (b.is_object()) o << limit_note(b);
        o << "\n";
    }
    return o.str();
}

std::pair<int, std::string> check_summary(const json& s) {
    int up = s.value("tunnels_up", 0), total = s.value("tunnels_total", 0);
    std::string text = std::to_string(up) + "/" + std::to_string(total) + " tunnels up";
    if (total > 0 && up == total) return {0, "CGWD OK - " + text};
    // A connection with at least one tunnel up still carries traffic: WARNING; none up: CRITICAL.
    bool every_connection_has_one = total > 0;
    for (const auto& c : s.value("connections", json::array())) {
        bool any = false;
        for (const auto& t : c.value("tunnels", json::array())) any |= t.value("state", "") == "up";
        every_connection_has_one &= any;
    }
    if (every_connection_has_one) return {1, "CGWD WARNING - " + text};
    return {2, "CGWD CRITICAL - " + text};
}

}  // namespace cgwd::daemon
