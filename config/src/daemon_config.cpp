// TOML loading: parse with toml++, reject unknown keys (file:line:col), type-check every value,
// import the AWS files it names, enforce file permissions on secrets, cross-check.
#include "cgwd/config/daemon_config.hpp"

#include <sys/stat.h>

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>
#include <type_traits>

#include "aws_common.hpp"
#include "cgwd/config/aws_import.hpp"

namespace cgwd::config {

const char* to_string(DataplaneMode m) {
    switch (m) {
        case DataplaneMode::auto_detect:
            return "auto";
        case DataplaneMode::kernel:
            return "kernel";
        case DataplaneMode::userspace:
            return "userspace";
    }
    return "?";
}
const char* to_string(MaxPrefixInAction a) {
    switch (a) {
        case MaxPrefixInAction::warn:
            return "warn";
        case MaxPrefixInAction::drop:
            return "drop";
        case MaxPrefixInAction::reset:
            return "reset";
    }
    return "?";
}

const char* to_string(StaticTunnelMode m) {
    return m == StaticTunnelMode::ecmp ? "ecmp" : "active-standby";
}

namespace {

using detail::fail;
using detail::Loc;

std::string read_file(const std::string& path, std::size_t limit) {
    auto text = detail::read_file_bounded(path, limit, std::to_string(limit) + " bytes");
    if (!text) throw ConfigException(text.error());
    return std::move(*text);
}

// Files holding secrets must be private to their owner.
void check_private(const std::string& path, const std::string& what) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw ConfigException(ConfigError{path, 0, 0, "", "cannot stat the file"});
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw ConfigException(ConfigError{path, 0, 0, "",
                                          what + " is accessible by group or others (mode " + mode +
                                              "); run: chmod 600 " + path});
    }
}

class Reader {
  public:
    Reader(std::string file, std::string base_dir, LoadOptions opts)
        : file_(std::move(file)), base_dir_(std::move(base_dir)), opts_(opts) {}

    DaemonConfig read(std::string_view text) {
        toml::table root;
        try {
            root = toml::parse(text, file_);
        } catch (const toml::parse_error& e) {
            throw ConfigException(ConfigError{file_, static_cast<int>(e.source().begin.line),
                                              static_cast<int>(e.source().begin.column), "",
                                              std::string(e.description())});
        }
        check_keys(root);
        DaemonConfig cfg;
        cfg.file = file_;
        if (auto t = root["daemon"].as_table()) read_daemon(*t, cfg);
        if (auto t = root["outside"].as_table()) read_outside(*t, cfg);
        if (auto t = root["bgp"].as_table()) read_bgp(*t, cfg);
        if (auto t = root["failover"].as_table()) read_failover(*t, cfg);
        if (auto t = root["debug"].as_table()) read_debug(*t, cfg);
        if (auto a = root["vpn"].as_array())
            for (auto& n : *a) cfg.vpns.push_back(read_vpn(*n.as_table()));
        if (auto a = root["direct_connect"].as_array())
            for (auto& n : *a) cfg.direct_connect.push_back(read_dx(*n.as_table(), cfg));
        if (cfg.vpns.empty() && cfg.direct_connect.empty())
            fail(Loc{file_, 1, ""},
                 "nothing to do: add a [[vpn]] with an aws_file, or a [[direct_connect]]");
        if (has_inline_secret_ && opts_.check_permissions)
            check_private(file_, "this file holds a key inline and");
        cross_check(cfg, root);
        return cfg;
    }

  private:
    Loc at(const toml::node& n, const std::string& where) const {
        return Loc{file_, static_cast<int>(n.source().begin.line), where};
    }
    [[noreturn]] void fail_at(const toml::node& n, const std::string& where,
                              const std::string& msg) const {
        throw ConfigException(ConfigError{file_, static_cast<int>(n.source().begin.line),
                                          static_cast<int>(n.source().begin.column), where, msg});
    }

    // Unknown tables and keys are errors, with the position of the key itself.
    void check_keys(const toml::table& root) const {
        const auto& docs = option_docs();
        auto known_table = [&](std::string_view t) {
            return std::any_of(docs.begin(), docs.end(),
                               [&](const OptionDoc& d) { return d.table == t; });
        };
        auto check_table = [&](std::string_view name, const toml::table& t) {
            for (auto&& [k, v] : t) {
                bool known = std::any_of(docs.begin(), docs.end(), [&](const OptionDoc& d) {
                    return d.table == name && d.key == k.str();
                });
                if (!known)
                    throw ConfigException(ConfigError{
                        file_, static_cast<int>(k.source().begin.line),
                        static_cast<int>(k.source().begin.column), "[" + std::string(name) + "]",
                        "unknown key '" + std::string(k.str()) + "'"});
            }
        };
        for (auto&& [k, v] : root) {
            std::string name(k.str());
            auto line = static_cast<int>(k.source().begin.line),
                 col = static_cast<int>(k.source().begin.column);
            if (!known_table(name))
                throw ConfigException(
                    ConfigError{file_, line, col, "", "unknown table or key '" + name + "'"});
            bool array = name == "vpn" || name == "direct_connect";
            if (array) {
                auto a = v.as_array();
                if (!a || !a->is_array_of_tables())
                    throw ConfigException(ConfigError{
                        file_, line, col, "", "'" + name + "' must be written [[" + name + "]]"});
                for (auto& e : *a) check_table(name, *e.as_table());
            } else {
                auto t = v.as_table();
                if (!t)
                    throw ConfigException(ConfigError{
                        file_, line, col, "", "'" + name + "' must be a table [" + name + "]"});
                check_table(name, *t);
            }
        }
    }

    std::optional<std::string> str(const toml::table& t, std::string_view key,
                                   const std::string& where) const {
        auto n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_string()) fail_at(*n, where + " " + std::string(key), "expected a string");
        return n->value<std::string>();
    }
    std::optional<std::uint64_t> integer(const toml::table& t, std::string_view key,
                                         const std::string& where, std::uint64_t lo,
                                         std::uint64_t hi) const {
        auto n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_integer()) fail_at(*n, where + " " + std::string(key), "expected an integer");
        auto v = *n->value<std::int64_t>();
        if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi)
            fail_at(*n, where + " " + std::string(key),
                    std::to_string(v) + " is out of range " + std::to_string(lo) + ".." +
                        std::to_string(hi));
        return static_cast<std::uint64_t>(v);
    }
    std::optional<bool> boolean(const toml::table& t, std::string_view key,
                                const std::string& where) const {
        auto n = t.get(key);
        if (!n) return std::nullopt;
        if (!n->is_boolean()) fail_at(*n, where + " " + std::string(key), "expected true or false");
        return n->value<bool>();
    }
    std::vector<std::string> strings(const toml::table& t, std::string_view key,
                                     const std::string& where) const {
        std::vector<std::string> out;
        auto n = t.get(key);
        if (!n) return out;
        auto a = n->as_array();
        if (!a) fail_at(*n, where + " " + std::string(key), "expected an array of strings");
        for (auto& e : *a) {
            if (!e.is_string())
                fail_at(e, where + " " + std::string(key), "expected an array of strings");
            out.push_back(*e.value<std::string>());
        }
        return out;
    }
    // A list of prefixes of type P: Ipv4Prefix, or IpPrefix for either family.
    template <typename P = Ipv4Prefix>
    std::vector<P> prefixes(const toml::table& t, std::string_view key,
                            const std::string& where) const {
        std::vector<P> out;
        auto list = strings(t, key, where);
        auto a = t.get(key) ? t.get(key)->as_array() : nullptr;
        for (std::size_t i = 0; i < list.size(); ++i) {
            bool host_bits = false;
            auto p = P::parse(list[i], &host_bits);
            if (!p)
                fail_at(*a->get(i), where + " " + std::string(key),
                        std::string(std::is_same_v<P, Ipv4Prefix> ? "not an IPv4 prefix: '"
                                                                  : "not a prefix: '") +
                            list[i] + "'");
            if (host_bits)
                fail_at(
                    *a->get(i), where + " " + std::string(key),
                    "'" + list[i] + "' has host bits set; did you mean " + p->to_string() + "?");
            out.push_back(*p);
        }
        return out;
    }
    std::string resolve(const std::string& path) const {
        std::filesystem::path p(path);
        if (p.is_relative() && !base_dir_.empty()) p = std::filesystem::path(base_dir_) / p;
        return p.lexically_normal().string();
    }
    Secret secret_from_file(const toml::table& t, std::string_view key,
                            const std::string& where) const {
        auto path = resolve(*str(t, key, where));
        if (opts_.check_permissions) check_private(path, "key file");
        auto text = read_file(path, 4096);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        if (text.empty())
            fail_at(*t.get(key), where + " " + std::string(key), "key file " + path + " is empty");
        return Secret(std::move(text));
    }

    void read_daemon(const toml::table& t, DaemonConfig& cfg) {
        const std::string w = "[daemon]";
        if (auto v = str(t, "log_level", w)) {
            static const std::set<std::string> levels{"trace", "debug",    "info", "warn",
                                                      "error", "critical", "off"};
            if (!levels.count(*v))
                fail_at(*t.get("log_level"), w + " log_level",
                        "unknown level '" + *v + "' (trace, debug, info, warn, error)");
            cfg.log_level = *v;
        }
        if (auto v = str(t, "control_socket", w)) {
            if (v->empty() || (*v)[0] != '/')
                fail_at(*t.get("control_socket"), w + " control_socket",
                        "must be an absolute path");
            cfg.control_socket = *v;
        }
        if (auto v = str(t, "dataplane", w)) {
            if (*v == "auto")
                cfg.dataplane = DataplaneMode::auto_detect;
            else if (*v == "kernel")
                cfg.dataplane = DataplaneMode::kernel;
            else if (*v == "userspace")
                cfg.dataplane = DataplaneMode::userspace;
            else
                fail_at(*t.get("dataplane"), w + " dataplane",
                        "expected kernel, userspace or auto, got '" + *v + "'");
        }
        if (auto v = integer(t, "route_table", w, 1, 0xfffffffe))
            cfg.route_table = static_cast<std::uint32_t>(*v);
        if (auto v = integer(t, "route_protocol", w, 5, 255))
            cfg.route_protocol = static_cast<std::uint32_t>(*v);
        if (auto v = integer(t, "route_metric", w, 0, 0xffffffff))
            cfg.route_metric = static_cast<std::uint32_t>(*v);
        if (auto v = str(t, "metrics_listen", w)) cfg.metrics_listen = *v;
        if (auto v = boolean(t, "userspace_offloads", w)) cfg.userspace_offloads = *v;
    }

    void read_outside(const toml::table& t, DaemonConfig& cfg) {
        const std::string w = "[outside]";
        if (auto v = str(t, "interface", w)) cfg.outside_interface = *v;
        if (auto v = str(t, "local_address", w); v && *v != "auto") {
            cfg.outside_address = Ipv4Address::parse(*v);
            if (!cfg.outside_address)
                fail_at(*t.get("local_address"), w + " local_address",
                        "expected an IPv4 address or \"auto\"");
        }
        if (auto v = boolean(t, "force_encap", w)) cfg.force_encap = *v;
    }

    void read_bgp(const toml::table& t, DaemonConfig& cfg) {
        const std::string w = "[bgp]";
        if (auto v = integer(t, "asn", w, 1, 4294967294ULL))
            cfg.asn = static_cast<std::uint32_t>(*v);
        if (auto v = str(t, "router_id", w)) {
            cfg.router_id = Ipv4Address::parse(*v);
            if (!cfg.router_id)
                fail_at(*t.get("router_id"), w + " router_id", "expected an IPv4 address");
        }
        cfg.advertise = prefixes<IpPrefix>(t, "advertise", w);
        if (auto v = integer(t, "ecmp_max_paths", w, 1, 64))
            cfg.ecmp_max_paths = static_cast<std::uint32_t>(*v);
    }

    void read_failover(const toml::table& t, DaemonConfig& cfg) {
        const std::string w = "[failover]";
        if (auto v = boolean(t, "prefer_direct_connect", w)) cfg.prefer_direct_connect = *v;
        if (auto v = integer(t, "vpn_mss", w, 536, 1460))
            cfg.vpn_mss = static_cast<std::uint16_t>(*v);
    }

    void read_debug(const toml::table& t, DaemonConfig& cfg) {
        const std::string w = "[debug]";
        if (auto v = str(t, "wireshark_keys", w)) {
            if (!v->empty() && (*v)[0] != '/')
                fail_at(*t.get("wireshark_keys"), w + " wireshark_keys",
                        "must be an absolute path (or empty: off)");
            cfg.wireshark_keys = *v;
        }
    }

    VpnEntry read_vpn(const toml::table& t) {
        VpnEntry v;
        std::string w = "[[vpn]]";
        auto name = str(t, "name", w);
        if (!name) fail_at(t, w, "missing key 'name'");
        if (!valid_vpn_name(*name))
            fail_at(*t.get("name"), w + " name",
                    "'" + *name + "' must be 1-10 characters of a-z, 0-9 and '-'");
        v.name = *name;
        w = "[[vpn]] " + v.name;
        auto file = str(t, "aws_file", w);
        if (!file) fail_at(t, w, "missing key 'aws_file'");
        v.aws_file = resolve(*file);
        v.only_connections = strings(t, "connections", w);
        for (int i = 0; i < 2; ++i) {
            std::string key = "tunnel" + std::to_string(i + 1) + "_psk";
            if (t.get(key) && t.get(key + "_file"))
                fail_at(*t.get(key), w + " " + key,
                        "give " + key + " or " + key + "_file, not both");
            std::optional<Secret> psk;
            if (auto s = str(t, key, w)) {
                psk = Secret(*s);
                has_inline_secret_ = true;
            } else if (t.get(key + "_file")) {
                psk = secret_from_file(t, key + "_file", w);
            }
            if (psk) {
                detail::check_psk(*psk,
                                  at(*t.get(t.get(key) ? key : key + "_file"), w + " " + key));
                v.psk_override[static_cast<std::size_t>(i)] = std::move(psk);
            }
        }
        if (auto x = integer(t, "local_preference", w, 0, 0xffffffff))
            v.local_preference = static_cast<std::uint32_t>(*x);
        if (auto x = integer(t, "max_prefixes_out", w, 1, 100000))
            v.max_prefixes_out = static_cast<std::uint32_t>(*x);
        read_max_prefixes_in(t, w, v.max_prefixes_in);
        v.policy = read_policy(t, w, false);
        if (auto x = integer(t, "graceful_restart_time", w, 0, 4095))
            v.graceful_restart_time = static_cast<std::uint16_t>(*x);
        // Our side's dead peer detection, tighter than the AWS file's (for a fast failover).
        std::uint32_t dpd_interval_ms = 0, dpd_retries = 0, dpd_retransmit_ms = 0;
        if (auto x = integer(t, "dpd_interval_ms", w, 500, 3600000))
            dpd_interval_ms = static_cast<std::uint32_t>(*x);
        if (auto x = integer(t, "dpd_retries", w, 1, 100))
            dpd_retries = static_cast<std::uint32_t>(*x);
        if (auto x = integer(t, "dpd_retransmit_ms", w, 100, 60000))
            dpd_retransmit_ms = static_cast<std::uint32_t>(*x);
        if (auto s = str(t, "static_mode", w)) {
            if (*s == "active-standby")
                v.static_mode = StaticTunnelMode::active_standby;
            else if (*s == "ecmp")
                v.static_mode = StaticTunnelMode::ecmp;
            else
                fail_at(*t.get("static_mode"), w + " static_mode",
                        "expected active-standby or ecmp");
        }
        v.static_routes = prefixes(t, "static_routes", w);

        if (opts_.check_permissions)
            check_private(v.aws_file, "the AWS file holds pre-shared keys and");
        auto imported = import_aws_file(v.aws_file);
        if (!imported) throw ConfigException(imported.error());
        for (auto& c : *imported) {
            if (!v.only_connections.empty() &&
                std::find(v.only_connections.begin(), v.only_connections.end(), c.id) ==
                    v.only_connections.end())
                continue;
            for (std::size_t i = 0; i < 2; ++i)
                if (v.psk_override[i]) c.tunnels[i].psk = *v.psk_override[i];
            for (auto& tunnel : c.tunnels) {
                tunnel.local_dpd_interval_ms = dpd_interval_ms;
                tunnel.local_dpd_retries = dpd_retries;
                tunnel.local_dpd_retransmit_ms = dpd_retransmit_ms;
            }
            v.connections.push_back(std::move(c));
        }
        for (const auto& id : v.only_connections)
            if (std::none_of(v.connections.begin(), v.connections.end(),
                             [&](const Connection& c) { return c.id == id; }))
                fail_at(*t.get("connections"), w + " connections",
                        "connection " + id + " is not in " + v.aws_file);
        if (v.connections.size() > 1 && (v.psk_override[0] || v.psk_override[1]))
            fail_at(t, w, "PSK overrides need exactly one connection; list it in 'connections'");
        return v;
    }

    // as_path_prepend, med, accept_prefixes (a VPN entry or a DX peer). `v6`: the session is
    // IPv6 (a DX peer's neighbor), so the accept list must be IPv6; otherwise IPv4.
    PeerPolicy read_policy(const toml::table& t, const std::string& w, bool v6) {
        PeerPolicy p;
        if (auto x = integer(t, "as_path_prepend", w, 0, 10))
            p.as_path_prepend = static_cast<std::uint8_t>(*x);
        if (auto x = integer(t, "med", w, 0, 0xffffffff)) p.med = static_cast<std::uint32_t>(*x);
        auto list = strings(t, "accept_prefixes", w);
        auto a = t.get("accept_prefixes") ? t.get("accept_prefixes")->as_array() : nullptr;
        for (std::size_t i = 0; i < list.size(); ++i) {
            const std::string where = w + " accept_prefixes";
            std::string text = list[i];
            std::optional<unsigned> le;
            if (auto at = text.find(" le "); at != std::string::npos) {
                unsigned n = 0;
                auto tail = text.substr(at + 4);
                auto [end, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), n);
                if (ec != std::errc{} || end != tail.data() + tail.size())
                    fail_at(*a->get(i), where, "'" + list[i] + "': expected PREFIX or PREFIX le N");
                le = n;
                text.resize(at);
            }
            bool host_bits = false;
            auto prefix = IpPrefix::parse(text, &host_bits);
            if (!prefix)
                fail_at(
                    *a->get(i), where,
                    "'" + list[i] + "': expected PREFIX or PREFIX le N, like 10.0.0.0/16 le 24");
            if (host_bits)
                fail_at(
                    *a->get(i), where,
                    "'" + text + "' has host bits set; did you mean " + prefix->to_string() + "?");
            if (prefix->is_v6() != v6)
                fail_at(*a->get(i), where,
                        "'" + list[i] + "' is " + (v6 ? "IPv4" : "IPv6") + " but the session is " +
                            (v6 ? "IPv6" : "IPv4"));
            const unsigned max = prefix->address.max_length();
            if (le && (*le < prefix->length || *le > max))
                fail_at(*a->get(i), where,
                        "'" + list[i] + "': le must be from " + std::to_string(prefix->length) +
                            " to " + std::to_string(max));
            p.accept.push_back({*prefix, static_cast<std::uint8_t>(le.value_or(max))});
        }
        auto large = strings(t, "large_communities", w);
        for (std::size_t i = 0; i < large.size(); ++i) {
            auto parsed = parse_large_community(large[i]);
            if (!parsed)
                fail_at(*t.get("large_communities")->as_array()->get(i), w + " large_communities",
                        "'" + large[i] +
                            "' is not a large community (GLOBAL:LOCAL1:LOCAL2, each "
                            "0-4294967295)");
            p.large_communities.push_back(*parsed);
        }
        return p;
    }

    // max_prefixes_in, max_prefixes_in_action, max_prefixes_in_restart (a VPN entry or a DX peer).
    void read_max_prefixes_in(const toml::table& t, const std::string& w, MaxPrefixesIn& m) {
        if (auto x = integer(t, "max_prefixes_in", w, 1, 10000000))
            m.limit = static_cast<std::uint32_t>(*x);
        if (auto s = str(t, "max_prefixes_in_action", w)) {
            if (*s == "warn")
                m.action = MaxPrefixInAction::warn;
            else if (*s == "drop")
                m.action = MaxPrefixInAction::drop;
            else if (*s == "reset")
                m.action = MaxPrefixInAction::reset;
            else
                fail_at(*t.get("max_prefixes_in_action"), w + " max_prefixes_in_action",
                        "expected warn, drop or reset");
        }
        if (auto x = integer(t, "max_prefixes_in_restart", w, 1, 86400))
            m.restart_s = static_cast<std::uint32_t>(*x);
    }

    DirectConnectPeer read_dx(const toml::table& t, const DaemonConfig& cfg) {
        DirectConnectPeer d;
        std::string w = "[[direct_connect]]";
        auto name = str(t, "name", w);
        if (!name || name->empty()) fail_at(t, w, "missing key 'name'");
        d.name = *name;
        w += " " + d.name;
        auto iface = str(t, "interface", w);
        if (!iface || iface->empty()) fail_at(t, w, "missing key 'interface'");
        d.interface = *iface;
        if (auto v = integer(t, "vlan", w, 1, 4094)) d.vlan = static_cast<std::uint16_t>(*v);
        std::size_t ifname_len =
            d.interface.size() + (d.vlan ? 1 + std::to_string(*d.vlan).size() : 0);
        if (ifname_len > 15)
            fail_at(*t.get("interface"), w + " interface",
                    "interface name (with .vlan) longer than 15 characters");
        if (auto v = str(t, "local_address", w)) {
            auto slash = v->find('/');
            auto addr = IpAddress::parse(v->substr(0, slash));
            auto prefix = IpPrefix::parse(*v);
            const bool length_ok =
                prefix && (prefix->is_v6() ? prefix->length >= 64 && prefix->length <= 127
                                           : prefix->length == 30 || prefix->length == 31);
            if (!addr || !length_ok)
                fail_at(*t.get("local_address"), w + " local_address",
                        "expected an address with /30 or /31, like 169.254.100.2/30, or an IPv6 "
                        "address with /64 to /127, like 2001:db8:1::2/125");
            if (const auto* a6 = addr->v6(); a6 && a6->is_link_local())
                fail_at(*t.get("local_address"), w + " local_address",
                        "a link-local address cannot be configured here; give the global one");
            d.local_address = addr;
            d.local_prefix_len = prefix->length;
        }
        auto neighbor = str(t, "neighbor", w);
        if (!neighbor) fail_at(t, w, "missing key 'neighbor'");
        auto n = IpAddress::parse(*neighbor);
        if (!n) fail_at(*t.get("neighbor"), w + " neighbor", "expected an IPv4 or IPv6 address");
        if (const auto* a6 = n->v6(); a6 && a6->is_link_local())
            fail_at(*t.get("neighbor"), w + " neighbor",
                    "a link-local neighbor is not supported; give the peer's global address");
        d.neighbor = *n;
        if (d.local_address && d.local_address->is_v6() != d.neighbor.is_v6())
            fail_at(*t.get("neighbor"), w + " neighbor",
                    "local_address and neighbor must be of one family (one BGP session each for "
                    "IPv4 and IPv6)");
        if (d.local_address &&
            !IpPrefix::of(*d.local_address, d.local_prefix_len).contains(d.neighbor))
            fail_at(*t.get("neighbor"), w + " neighbor", "not in the local_address subnet");
        if (d.local_address && *d.local_address == d.neighbor)
            fail_at(*t.get("neighbor"), w + " neighbor", "the same as local_address");
        d.neighbor_asn = static_cast<std::uint32_t>(
            integer(t, "neighbor_asn", w, 1, 4294967294ULL).value_or(64512));
        if (auto v = integer(t, "local_asn", w, 1, 4294967294ULL))
            d.local_asn = static_cast<std::uint32_t>(*v);
        else if (cfg.asn)
            d.local_asn = *cfg.asn;
        if (t.get("md5_key") && t.get("md5_key_file"))
            fail_at(*t.get("md5_key"), w + " md5_key", "give md5_key or md5_key_file, not both");
        if (auto s = str(t, "md5_key", w)) {
            d.md5_key = Secret(*s);
            has_inline_secret_ = true;
        } else if (t.get("md5_key_file")) {
            d.md5_key = secret_from_file(t, "md5_key_file", w);
        } else {
            fail_at(t, w, "Direct Connect requires TCP-MD5: set md5_key_file (or md5_key)");
        }
        if (d.md5_key.size() < 6 || d.md5_key.size() > 80)
            fail_at(*t.get(t.get("md5_key") ? "md5_key" : "md5_key_file"), w + " md5 key",
                    "the MD5 key must be 6 to 80 characters (it has " +
                        std::to_string(d.md5_key.size()) + ")");
        if (auto v = boolean(t, "bfd", w)) d.bfd = *v;
        if (auto v = integer(t, "bfd_interval_ms", w, 300, 60000))
            d.bfd_interval_ms = static_cast<std::uint32_t>(*v);
        if (auto v = integer(t, "bfd_multiplier", w, 2, 255))
            d.bfd_multiplier = static_cast<std::uint32_t>(*v);
        if (auto v = integer(t, "hold_time", w, 0, 65535)) {
            if (*v == 1 || *v == 2)
                fail_at(*t.get("hold_time"), w + " hold_time", "must be 0 or at least 3");
            d.hold_time = static_cast<std::uint16_t>(*v);
        }
        if (auto v = integer(t, "keepalive", w, 1, 21845))
            d.keepalive = static_cast<std::uint16_t>(*v);
        if (d.hold_time != 0 && d.keepalive * 3 > d.hold_time && t.get("keepalive"))
            fail_at(*t.get("keepalive"), w + " keepalive", "must be at most a third of hold_time");
        if (auto v = integer(t, "local_preference", w, 0, 0xffffffff))
            d.local_preference = static_cast<std::uint32_t>(*v);
        if (auto v = integer(t, "max_prefixes_out", w, 1, 100000))
            d.max_prefixes_out = static_cast<std::uint32_t>(*v);
        read_max_prefixes_in(t, w, d.max_prefixes_in);
        d.policy = read_policy(t, w, d.neighbor.is_v6());
        if (auto v = integer(t, "graceful_restart_time", w, 0, 4095))
            d.graceful_restart_time = static_cast<std::uint16_t>(*v);
        if (auto v = boolean(t, "gtsm", w)) d.gtsm = *v;
        d.communities = strings(t, "communities", w);
        for (const auto& c : d.communities) {
            auto colon = c.find(':');
            bool ok = colon != std::string::npos && colon > 0 && colon + 1 < c.size() &&
                      std::all_of(c.begin(), c.end(),
                                  [](char ch) { return (ch >= '0' && ch <= '9') || ch == ':'; }) &&
                      std::count(c.begin(), c.end(), ':') == 1 &&
                      std::stoul(c.substr(0, colon)) <= 65535 && c.size() - colon - 1 <= 5 &&
                      std::stoul(c.substr(colon + 1)) <= 65535;
            if (!ok)
                fail_at(*t.get("communities"), w + " communities",
                        "'" + c + "' is not a community (ASN:value)");
        }
        if (auto v = integer(t, "mtu", w, 1280, 9001)) d.mtu = static_cast<std::uint16_t>(*v);
        return d;
    }

    void cross_check(DaemonConfig& cfg, const toml::table& root) const {
        std::set<std::string> names, ids;
        auto vpns = root["vpn"].as_array();
        for (std::size_t i = 0; i < cfg.vpns.size(); ++i) {
            const auto& v = cfg.vpns[i];
            const toml::node& node = *vpns->get(i);
            if (!names.insert(v.name).second)
                fail_at(node, "[[vpn]] " + v.name, "the name '" + v.name + "' is used twice");
            for (const auto& c : v.connections) {
                if (!ids.insert(c.id).second)
                    fail_at(node, "[[vpn]] " + v.name,
                            "connection " + c.id + " is configured twice");
                if (c.routing == Routing::bgp) {
                    auto asn = *c.tunnels[0].cgw_asn;
                    if (cfg.asn && *cfg.asn != asn)
                        fail_at(*root["bgp"]["asn"].node(), "[bgp] asn",
                                std::to_string(*cfg.asn) +
                                    " differs from the customer gateway ASN " +
                                    std::to_string(asn) + " of " + c.id + " in " + v.aws_file);
                    if (!cfg.asn) cfg.asn = asn;
                }
            }
        }
        auto dxs = root["direct_connect"].as_array();
        for (std::size_t i = 0; i < cfg.direct_connect.size(); ++i) {
            auto& d = cfg.direct_connect[i];
            if (!names.insert(d.name).second)
                fail_at(*dxs->get(i), "[[direct_connect]] " + d.name,
                        "the name '" + d.name + "' is used twice");
            for (std::size_t j = 0; j < i; ++j) {
                const auto& e = cfg.direct_connect[j];
                if (e.interface == d.interface && e.vlan == d.vlan && e.mtu != d.mtu)
                    fail_at(*dxs->get(i), "[[direct_connect]] " + d.name,
                            "shares its interface with " + e.name + " but not its mtu (" +
                                std::to_string(d.mtu) + " and " + std::to_string(e.mtu) + ")");
                if (e.neighbor == d.neighbor && e.interface == d.interface && e.vlan == d.vlan)
                    fail_at(*dxs->get(i), "[[direct_connect]] " + d.name,
                            "the same neighbor as " + e.name + " on the same interface");
            }
            if (d.local_asn == 0) {
                if (!cfg.asn)
                    fail_at(*dxs->get(i), "[[direct_connect]] " + d.name,
                            "no local ASN: set [bgp] asn or local_asn");
                d.local_asn = *cfg.asn;
            }
        }
    }

    std::string file_;
    std::string base_dir_;
    LoadOptions opts_;
    bool has_inline_secret_ = false;
};

}  // namespace

std::optional<std::array<std::uint32_t, 3>> parse_large_community(std::string_view text) {
    std::array<std::uint32_t, 3> out{};
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (std::size_t i = 0; i < 3; ++i) {
        if (i > 0) {
            if (p == end || *p != ':') return std::nullopt;
            ++p;
        }
        if (p == end || *p < '0' || *p > '9') return std::nullopt;
        auto [next, ec] = std::from_chars(p, end, out[i]);
        if (ec != std::errc{}) return std::nullopt;
        p = next;
    }
    if (p != end) return std::nullopt;
    return out;
}

std::string large_community_text(const std::array<std::uint32_t, 3>& c) {
    return std::to_string(c[0]) + ":" + std::to_string(c[1]) + ":" + std::to_string(c[2]);
}

std::string AcceptPrefix::to_string() const {
    auto s = prefix.to_string();
    if (le != prefix.length) s += " le " + std::to_string(le);
    return s;
}

bool valid_vpn_name(std::string_view s) {
    return !s.empty() && s.size() <= 10 && s.front() != '-' &&
           std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
           });
}

bool accessible_by_others(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0;
}

std::expected<DaemonConfig, ConfigError> parse_daemon_config(std::string_view toml_text,
                                                             const std::string& file,
                                                             const std::string& base_dir,
                                                             LoadOptions opts) {
    try {
        return Reader(file, base_dir, opts).read(toml_text);
    } catch (const ConfigException& e) {
        return std::unexpected(e.error);
    }
}

std::expected<DaemonConfig, ConfigError> load_daemon_config(const std::string& path,
                                                            LoadOptions opts) {
    try {
        auto text = read_file(path, 1024 * 1024);
        auto dir = std::filesystem::path(path).parent_path().string();
        return Reader(path, dir, opts).read(text);
    } catch (const ConfigException& e) {
        return std::unexpected(e.error);
    }
}

}  // namespace cgwd::config
