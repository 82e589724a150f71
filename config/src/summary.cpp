// The --check-config summary and cgwctl import's starter file.
#include <sstream>

#include "cgwd/config/daemon_config.hpp"

namespace cgwd::config {
namespace {

template <typename P>
std::string join_prefixes(const std::vector<P>& list) {
    std::string out;
    for (const auto& p : list) out += (out.empty() ? "" : ", ") + p.to_string();
    return out.empty() ? "(none)" : out;
}

// The policy line of a peer, "" when it has none beyond the defaults.
std::string policy_text(const PeerPolicy& p) {
    std::string out;
    if (p.as_path_prepend > 0) out += "AS_PATH prepend " + std::to_string(p.as_path_prepend);
    if (p.med) out += std::string(out.empty() ? "" : ", ") + "MED " + std::to_string(*p.med);
    for (const auto& c : p.large_communities)
        out += std::string(out.empty() ? "" : ", ") + "large community " + large_community_text(c);
    if (!p.accept.empty()) {
        out += std::string(out.empty() ? "" : ", ") + "accepts only";
        for (std::size_t i = 0; i < p.accept.size(); ++i)
            out += (i ? ", " : " ") + p.accept[i].to_string();
    }
    return out;
}

std::string proposals(const std::vector<Proposal>& list) {
    std::string out;
    for (const auto& p : list) out += (out.empty() ? "" : " | ") + proposal_string(p);
    return out;
}

// "10 s x 3", or the TOML file's tighter setting with the AWS file's beside it.
std::string dpd(const Tunnel& t) {
    std::ostringstream o;
    if (!t.local_dpd_interval_ms && !t.local_dpd_retries && !t.local_dpd_retransmit_ms) {
        o << t.dpd_interval_s << " s x " << t.dpd_retries;
        return o.str();
    }
    o << t.dpd_interval_ms_in_force() << " ms x " << t.dpd_retries_in_force();
    if (t.local_dpd_retransmit_ms) o << " every " << t.local_dpd_retransmit_ms << " ms";
    o << " (AWS file: " << t.dpd_interval_s << " s x " << t.dpd_retries << ")";
    return o.str();
}

// "1000 prefixes, then drop" (limit 0: AWS's figure for the gateway kind).
std::string max_in(const MaxPrefixesIn& m, GatewayKind kind) {
    std::ostringstream o;
    o << (m.limit ? m.limit : (kind == GatewayKind::vgw ? 1000U : 5000U)) << " prefixes, then "
      << to_string(m.action);
    if (m.action == MaxPrefixInAction::reset) o << " (restart after " << m.restart_s << " s)";
    return o.str();
}

std::string graceful(std::uint16_t restart_time) {
    return restart_time ? std::to_string(restart_time) + " s" : std::string("off");
}

}  // namespace

std::string config_summary(const DaemonConfig& cfg) {
    std::ostringstream o;
    o << cfg.file << ": configuration is valid\n";
    o << "dataplane " << to_string(cfg.dataplane) << ", control socket " << cfg.control_socket
      << ", log level " << cfg.log_level << "\n";
    o << "outside interface " << cfg.outside_interface << ", local address "
      << (cfg.outside_address ? cfg.outside_address->to_string() : "auto") << "\n";
    o << "local ASN " << (cfg.asn ? std::to_string(*cfg.asn) : "(none)") << ", advertise "
      << join_prefixes(cfg.advertise) << "\n";
    if (!cfg.wireshark_keys.empty())
        o << "WARNING (debug): the keys of every SA will be written to " << cfg.wireshark_keys
          << "/ikev2_decryption_table and esp_sa ([debug] wireshark_keys)\n";
    for (const auto& v : cfg.vpns) {
        o << "\nvpn " << v.name << " (" << v.aws_file << ")\n";
        for (const auto& c : v.connections) {
            o << "  connection " << c.id << ": " << to_string(c.gateway) << " "
              << (c.gateway == GatewayKind::vgw ? c.vpn_gateway_id : c.transit_gateway_id)
              << ", routing " << to_string(c.routing) << "\n";
            if (c.routing == Routing::static_routes)
                o << "    static routes into the tunnels (" << to_string(v.static_mode)
                  << "): " << join_prefixes(v.static_routes)
                  << (v.static_routes.empty() ? "  WARNING: nothing will be routed to AWS" : "")
                  << "\n";
            o << "    bgp import limit " << max_in(v.max_prefixes_in, c.gateway)
              << ", graceful restart helper " << graceful(v.graceful_restart_time) << "\n";
            if (c.routing == Routing::bgp && !policy_text(v.policy).empty())
                o << "    bgp policy: " << policy_text(v.policy) << "\n";
            for (const auto& t : c.tunnels) {
                std::string ours = t.cgw_outside         ? t.cgw_outside->to_string()
                                   : cfg.outside_address ? cfg.outside_address->to_string()
                                                         : "auto";
                o << "    tunnel " << t.number << "\n";
                o << "      outside   us " << ours << "  aws " << t.aws_outside.to_string() << "\n";
                o << "      inside    us " << t.cgw_inside.to_string() << "  aws "
                  << t.aws_inside.to_string() << "  (" << t.inside_cidr.to_string() << ")\n";
                if (t.cgw_asn)
                    o << "      bgp       us AS" << *t.cgw_asn << "  aws AS" << *t.aws_asn
                      << "  hold " << t.bgp_hold_time << " s\n";
                o << "      ike       " << proposals(t.ike_proposals) << "  lifetime "
                  << t.ike_lifetime_s << " s\n";
                o << "      esp       " << proposals(t.esp_proposals) << "  lifetime "
                  << t.esp_lifetime_s << " s, rekey margin " << t.rekey_margin_s << " s, fuzz "
                  << t.rekey_fuzz_pct << " %\n";
                o << "      psk " << t.psk.redacted() << ", dpd " << dpd(t) << " ("
                  << to_string(t.dpd_action) << "), replay window " << t.replay_window << ", mtu "
                  << t.mtu << ", mss " << t.tcp_mss << (t.clear_df ? ", DF cleared" : "")
                  << (t.fragment_before_encryption ? ", fragment before encryption" : "") << "\n";
            }
        }
    }
    for (const auto& d : cfg.direct_connect) {
        o << "\ndirect connect " << d.name << ": "
          << d.interface << (d.vlan ? "." + std::to_string(*d.vlan) : std::string()) << "  us "
          << (d.local_address
                  ? d.local_address->to_string() + "/" + std::to_string(d.local_prefix_len)
                  : std::string("(existing address)"))
          << " AS" << d.local_asn << "  neighbor " << d.neighbor.to_string() << " AS"
          << d.neighbor_asn << "\n      md5 " << d.md5_key.redacted() << ", hold " << d.hold_time
          << " s, bfd "
          << (d.bfd
                  ? std::to_string(d.bfd_interval_ms) + " ms x " + std::to_string(d.bfd_multiplier)
                  : "off")
          << ", local preference " << d.local_preference << "\n      import limit "
          << max_in(d.max_prefixes_in, GatewayKind::vgw) << ", graceful restart helper "
          << graceful(d.graceful_restart_time) << ", gtsm " << (d.gtsm ? "on" : "off") << "\n";
        if (!policy_text(d.policy).empty())
            o << "      bgp policy: " << policy_text(d.policy) << "\n";
    }
    return o.str();
}

std::string starter_toml(const std::string& aws_file_path, const std::string& name,
                         const std::vector<Connection>& connections) {
    std::ostringstream o;
    o << "# cgwd settings written by `cgwctl import` for";
    for (const auto& c : connections) o << " " << c.id;
    o << ".\n# Every key is described in cgwd.toml(5); commented keys show their defaults.\n"
         "# Check with: cgwd --check-config THIS-FILE\n\n";
    o << "[daemon]\n# log_level = \"info\"\n# dataplane = \"auto\"            # kernel | userspace "
         "| auto\n"
         "# control_socket = \"/run/cgwd/cgwd.sock\"\n\n";
    o << "[outside]\ninterface = \"auto\"\nlocal_address = \"auto\"\n\n";
    o << "[bgp]\n# On-premises prefixes to announce to AWS:\n# advertise = [\"10.10.0.0/16\"]\n\n";
    o << "[[vpn]]\nname = \"" << name << "\"\naws_file = \"" << aws_file_path << "\"\n";
    bool any_static = false;
    for (const auto& c : connections) any_static |= c.routing == Routing::static_routes;
    if (any_static)
        o << "# Static routing: the AWS-side prefixes to send into the tunnels:\n"
             "# static_routes = [\"10.0.0.0/16\"]\n# static_mode = \"active-standby\"   # or "
             "\"ecmp\"\n";
    o << "\n# A Direct Connect virtual interface, if you have one:\n"
         "# [[direct_connect]]\n# name = \"dx1\"\n# interface = \"eth1\"\n# vlan = 101\n"
         "# local_address = \"169.254.100.2/30\"\n# neighbor = \"169.254.100.1\"\n# neighbor_asn = "
         "64512\n"
         "# md5_key_file = \"/etc/cgwd/dx1.md5\"   # mode 0600\n";
    return o.str();
}

}  // namespace cgwd::config
