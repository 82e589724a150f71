// `aws ec2 describe-vpn-connections` JSON: {"VpnConnections": [ ... ]} (also a single
// {"VpnConnection": {...}} as create-vpn-connection prints it). Each connection carries the
// CustomerGatewayConfiguration XML as a string; Options.TunnelOptions, when present, are the
// truth and override the XML's fixed minimum template.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "aws_common.hpp"

namespace cgwd::config::detail {
namespace {

using json = nlohmann::json;

struct JsonCtx {
    std::string file;
    Loc at(const std::string& path) const { return Loc{file, 0, path}; }
};

const json* member(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string need_string(const json& v, const Loc& loc) {
    if (!v.is_string()) fail(loc, "expected a string");
    return v.get<std::string>();
}

std::uint64_t need_uint(const json& v, const Loc& loc) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
        return static_cast<std::uint64_t>(v.get<std::int64_t>());
    fail(loc, "expected a non-negative integer");
}

// [{"Value": x}, ...] -> the values, each with its own path for errors.
template <typename F>
void for_each_value(const json& list, const std::string& path, const JsonCtx& ctx, F&& f) {
    if (!list.is_array()) fail(ctx.at(path), "expected a list of {\"Value\": ...}");
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto p = path + "[" + std::to_string(i) + "]";
        const json* v = member(list[i], "Value");
        if (!v) fail(ctx.at(p), "expected {\"Value\": ...}");
        f(*v, p + ".Value");
    }
}

void apply_tunnel_options(Tunnel& t, const json& o, const std::string& path, const JsonCtx& ctx) {
    auto field = [&](const char* key) { return path + "." + key; };
    if (auto v = member(o, "TunnelInsideCidr")) {
        auto loc = ctx.at(field("TunnelInsideCidr"));
        auto text = need_string(*v, loc);
        auto cidr = Ipv4Prefix::parse(trim(text));
        if (!cidr) fail(loc, "not an IPv4 CIDR: '" + text + "'");
        set_inside_addresses(t, *cidr, loc);
    }
    if (auto v = member(o, "TunnelInsideIpv6Cidr"))
        t.inside_ipv6_cidr = need_string(*v, ctx.at(field("TunnelInsideIpv6Cidr")));
    if (auto v = member(o, "PreSharedKey")) {
        auto loc = ctx.at(field("PreSharedKey"));
        t.psk = Secret(need_string(*v, loc));
        check_psk(t.psk, loc);
    }
    if (auto v = member(o, "Phase1EncryptionAlgorithms")) {
        t.phase1.ciphers.clear();
        for_each_value(
            *v, field("Phase1EncryptionAlgorithms"), ctx, [&](const json& x, const std::string& p) {
                t.phase1.ciphers.push_back(parse_cipher(need_string(x, ctx.at(p)), ctx.at(p)));
            });
    }
    if (auto v = member(o, "Phase2EncryptionAlgorithms")) {
        t.phase2.ciphers.clear();
        for_each_value(
            *v, field("Phase2EncryptionAlgorithms"), ctx, [&](const json& x, const std::string& p) {
                t.phase2.ciphers.push_back(parse_cipher(need_string(x, ctx.at(p)), ctx.at(p)));
            });
    }
    if (auto v = member(o, "Phase1IntegrityAlgorithms")) {
        t.phase1.integ.clear();
        for_each_value(
            *v, field("Phase1IntegrityAlgorithms"), ctx, [&](const json& x, const std::string& p) {
                t.phase1.integ.push_back(parse_integ(need_string(x, ctx.at(p)), ctx.at(p)));
            });
    }
    if (auto v = member(o, "Phase2IntegrityAlgorithms")) {
        t.phase2.integ.clear();
        for_each_value(
            *v, field("Phase2IntegrityAlgorithms"), ctx, [&](const json& x, const std::string& p) {
                t.phase2.integ.push_back(parse_integ(need_string(x, ctx.at(p)), ctx.at(p)));
            });
    }
    if (auto v = member(o, "Phase1DHGroupNumbers")) {
        t.phase1.dh.clear();
        for_each_value(
            *v, field("Phase1DHGroupNumbers"), ctx, [&](const json& x, const std::string& p) {
                auto g = need_uint(x, ctx.at(p));
                check_phase1_dh(static_cast<std::uint16_t>(std::min<std::uint64_t>(g, 0xffff)),
                                ctx.at(p));
                t.phase1.dh.push_back(static_cast<std::uint16_t>(g));
            });
    }
    if (auto v = member(o, "Phase2DHGroupNumbers")) {
        t.phase2.dh.clear();
        for_each_value(
            *v, field("Phase2DHGroupNumbers"), ctx, [&](const json& x, const std::string& p) {
                auto g = need_uint(x, ctx.at(p));
                check_phase2_dh(static_cast<std::uint16_t>(std::min<std::uint64_t>(g, 0xffff)),
                                ctx.at(p));
                t.phase2.dh.push_back(static_cast<std::uint16_t>(g));
            });
    }
    if (auto v = member(o, "IkeVersions")) {
        t.ikev1_allowed = t.ikev2_allowed = false;
        for_each_value(*v, field("IkeVersions"), ctx, [&](const json& x, const std::string& p) {
            auto s = lower(need_string(x, ctx.at(p)));
            if (s == "ikev1")
                t.ikev1_allowed = true;
            else if (s == "ikev2")
                t.ikev2_allowed = true;
            else
                fail(ctx.at(p), "unknown IKE version '" + s + "' (ikev1 or ikev2)");
        });
    }
    struct Num {
        const char* key;
        std::uint32_t* target;
        std::uint64_t lo, hi;
        const char* what;
    };
    const Num nums[] = {
        {"Phase1LifetimeSeconds", &t.ike_lifetime_s, 900, 28800, "phase 1 lifetime (s)"},
        {"Phase2LifetimeSeconds", &t.esp_lifetime_s, 900, 3600, "phase 2 lifetime (s)"},
        {"RekeyMarginTimeSeconds", &t.rekey_margin_s, 60, 1800, "rekey margin (s)"},
        {"RekeyFuzzPercentage", &t.rekey_fuzz_pct, 0, 100, "rekey fuzz (%)"},
        {"ReplayWindowSize", &t.replay_window, 64, 2048, "replay window (packets)"},
        {"DpdTimeoutSeconds", &t.dpd_timeout_s, 30, 3600, "DPD timeout (s)"},
    };
    for (const auto& n : nums) {
        if (auto v = member(o, n.key)) {
            auto loc = ctx.at(field(n.key));
            auto value = need_uint(*v, loc);
            check_range(value, n.lo, n.hi, loc, n.what);
            *n.target = static_cast<std::uint32_t>(value);
        }
    }
    if (auto v = member(o, "DpdTimeoutAction"))
        t.dpd_action = parse_dpd_action(need_string(*v, ctx.at(field("DpdTimeoutAction"))),
                                        ctx.at(field("DpdTimeoutAction")));
    if (auto v = member(o, "StartupAction"))
        t.startup_action = parse_startup_action(need_string(*v, ctx.at(field("StartupAction"))),
                                                ctx.at(field("StartupAction")));
}

Connection parse_connection(const json& vc, const std::string& path, const JsonCtx& ctx) {
    if (!vc.is_object()) fail(ctx.at(path), "expected an object");
    const json* xml = member(vc, "CustomerGatewayConfiguration");
    if (!xml)
        fail(ctx.at(path),
             "no CustomerGatewayConfiguration: describe the connection with a role that "
             "may read it, or download the configuration file instead");
    auto xml_path = path + ".CustomerGatewayConfiguration";
    auto xml_text = need_string(*xml, ctx.at(xml_path));
    Connection c = parse_cgw_xml(xml_text, Loc{ctx.file, 0, xml_path});
    c.origin = Origin{ctx.file, 0};
    for (auto& t : c.tunnels) t.origin = Origin{ctx.file, 0};

    if (auto v = member(vc, "VpnConnectionId")) {
        auto id = need_string(*v, ctx.at(path + ".VpnConnectionId"));
        if (id != c.id)
            fail(ctx.at(path + ".VpnConnectionId"),
                 "'" + id + "' differs from the id in the XML ('" + c.id + "')");
    }
    if (auto v = member(vc, "TransitGatewayId")) {
        c.transit_gateway_id = need_string(*v, ctx.at(path + ".TransitGatewayId"));
        if (!c.transit_gateway_id.empty()) c.gateway = GatewayKind::tgw;
    }
    if (auto v = member(vc, "VpnGatewayId"); v && c.vpn_gateway_id.empty())
        c.vpn_gateway_id = need_string(*v, ctx.at(path + ".VpnGatewayId"));

    const json* options = member(vc, "Options");
    if (!options) return c;
    auto opath = path + ".Options";
    if (auto v = member(*options, "StaticRoutesOnly")) {
        if (!v->is_boolean()) fail(ctx.at(opath + ".StaticRoutesOnly"), "expected true or false");
        if (v->get<bool>()) {
            c.routing = Routing::static_routes;
            for (auto& t : c.tunnels) t.cgw_asn = t.aws_asn = std::nullopt;
        } else if (c.routing == Routing::static_routes) {
            fail(ctx.at(opath + ".StaticRoutesOnly"),
                 "false, but the XML has no BGP configuration");
        }
    }
    for (auto [key, target] : {std::pair{"LocalIpv4NetworkCidr", &c.local_network},
                               std::pair{"RemoteIpv4NetworkCidr", &c.remote_network}}) {
        if (auto v = member(*options, key)) {
            auto loc = ctx.at(opath + "." + key);
            auto prefix = Ipv4Prefix::parse(trim(need_string(*v, loc)));
            if (!prefix) fail(loc, "not an IPv4 CIDR");
            *target = *prefix;
        }
    }
    const json* tos = member(*options, "TunnelOptions");
    if (!tos) return c;
    auto tpath = opath + ".TunnelOptions";
    if (!tos->is_array()) fail(ctx.at(tpath), "expected a list");
    if (tos->size() != 2)
        fail(ctx.at(tpath), "a VPN connection has two tunnels; TunnelOptions lists " +
                                std::to_string(tos->size()));
    // Match each entry to its XML tunnel by the AWS outside address; fall back to list order.
    for (std::size_t i = 0; i < 2; ++i) {
        auto p = tpath + "[" + std::to_string(i) + "]";
        const json& o = (*tos)[i];
        std::size_t target = i;
        if (auto v = member(o, "OutsideIpAddress")) {
            auto addr = parse_ipv4(need_string(*v, ctx.at(p + ".OutsideIpAddress")),
                                   ctx.at(p + ".OutsideIpAddress"));
            auto it = std::find_if(c.tunnels.begin(), c.tunnels.end(),
                                   [&](const Tunnel& t) { return t.aws_outside == addr; });
            if (it == c.tunnels.end())
                fail(ctx.at(p + ".OutsideIpAddress"), addr.to_string() +
                                                          " is not the outside address of "
                                                          "either tunnel in the XML");
            target = static_cast<std::size_t>(it - c.tunnels.begin());
        }
        apply_tunnel_options(c.tunnels[target], o, p, ctx);
    }
    return c;
}

}  // namespace

std::vector<Connection> parse_aws_json(std::string_view text, const std::string& file) {
    JsonCtx ctx{file};
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        auto offset = std::min<std::size_t>(e.byte, text.size());
        int line = 1 + static_cast<int>(std::count(
                           text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
        throw ConfigException(
            ConfigError{file, line, 0, "", std::string("JSON is not well formed: ") + e.what()});
    } catch (const json::exception& e) {
        // Not a syntax error but still a bad document, e.g. a number too large for a double
        // (out_of_range 406, found by config_aws_fuzz): no position is known.
        throw ConfigException(
            ConfigError{file, 0, 0, "", std::string("JSON is not usable: ") + e.what()});
    }
    std::vector<Connection> out;
    if (auto list = member(doc, "VpnConnections")) {
        if (!list->is_array()) fail(ctx.at("VpnConnections"), "expected a list");
        if (list->empty()) fail(ctx.at("VpnConnections"), "the list is empty");
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto path = "VpnConnections[" + std::to_string(i) + "]";
            Connection c = parse_connection((*list)[i], path, ctx);
            finish_connection(c, ctx.at(path));
            out.push_back(std::move(c));
        }
    } else if (auto one = member(doc, "VpnConnection")) {
        Connection c = parse_connection(*one, "VpnConnection", ctx);
        finish_connection(c, ctx.at("VpnConnection"));
        out.push_back(std::move(c));
    } else {
        fail(ctx.at(""),
             "no \"VpnConnections\" list: expected the output of aws ec2 describe-vpn-connections");
    }
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (out[i].id == out[j].id)
                fail(ctx.at("VpnConnections[" + std::to_string(i) + "]"),
                     "connection " + out[i].id + " appears twice");
    return out;
}

}  // namespace cgwd::config::detail
