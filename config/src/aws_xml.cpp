// CustomerGatewayConfiguration XML (the document AWS returns for a VPN connection).
//
//   vpn_connection@id
//     customer_gateway_id, vpn_gateway_id (empty for a Transit Gateway), vpn_connection_type,
//     vpn_connection_attributes (NoBGPVPNConnection: static routing)
//     ipsec_tunnel x2 (document order = tunnel 1, 2)
//       customer_gateway | vpn_gateway
//         tunnel_outside_address/ip_address
//         tunnel_inside_address/{ip_address,network_mask,network_cidr}
//         bgp/{asn,hold_time}                      (absent for static routing)
//       ike/{authentication_protocol,encryption_protocol,lifetime,perfect_forward_secrecy,
//            mode,pre_shared_key}
//       ipsec/{protocol,authentication_protocol,encryption_protocol,lifetime,
//              perfect_forward_secrecy,mode,clear_df_bit,fragmentation_before_encryption,
//              tcp_mss_adjustment,dead_peer_detection/{interval,retries}}
#include <pugixml.hpp>

#include <algorithm>

#include "aws_common.hpp"

namespace cgwd::config::detail {
namespace {

class XmlDoc {
  public:
    XmlDoc(std::string_view text, const Loc& base) : text_(text), base_(base) {
        auto result =
            doc_.load_buffer(text.data(), text.size(), pugi::parse_default, pugi::encoding_utf8);
        if (!result)
            fail(at(static_cast<std::size_t>(result.offset), ""),
                 std::string("XML is not well formed: ") + result.description());
    }

    pugi::xml_node root() const { return doc_.document_element(); }

    Loc at(std::size_t offset, const std::string& path) const {
        int line =
            1 +
            static_cast<int>(std::count(
                text_.begin(),
                text_.begin() + static_cast<std::ptrdiff_t>(std::min(offset, text_.size())), '\n'));
        Loc loc = base_;
        if (base_.where.empty()) {
            loc.line = line;
            loc.where = path;
        } else {  // XML inside a JSON string: keep the JSON path, say where inside the XML
            loc.where = base_.where + " (XML line " + std::to_string(line) +
                        (path.empty() ? "" : " " + path) + ")";
        }
        return loc;
    }
    Loc at(pugi::xml_node n) const {
        return at(static_cast<std::size_t>(n.offset_debug()), path_of(n));
    }

    static std::string path_of(pugi::xml_node n) {
        std::string path;
        for (; n && n.type() == pugi::node_element; n = n.parent()) {
            std::string part = "<" + std::string(n.name()) + ">";
            if (std::string_view(n.name()) == "ipsec_tunnel") {
                int index = 1;
                for (auto s = n.previous_sibling("ipsec_tunnel"); s;
                     s = s.previous_sibling("ipsec_tunnel"))
                    ++index;
                part += "[" + std::to_string(index) + "]";
            }
            path = path.empty() ? part : part + "/" + path;
        }
        return path;
    }

    // The child element at `path` ("a/b/c"); fails naming the deepest element that exists.
    pugi::xml_node need(pugi::xml_node from, const std::string& path) const {
        auto n = from.first_element_by_path(path.c_str());
        if (!n) fail(at(from), "missing element <" + path + ">");
        return n;
    }
    std::string need_text(pugi::xml_node from, const std::string& path) const {
        auto n = need(from, path);
        auto v = trim(n.child_value());
        if (v.empty()) fail(at(n), "element is empty");
        return v;
    }

  private:
    std::string_view text_;
    Loc base_;
    pugi::xml_document doc_;
};

void parse_side_inside(const XmlDoc& x, pugi::xml_node side, Ipv4Address& address,
                       std::uint32_t& prefix_len, std::uint32_t& mask) {
    auto inside = x.need(side, "tunnel_inside_address");
    auto addr_node = x.need(inside, "ip_address");
    address = parse_ipv4(addr_node.child_value(), x.at(addr_node));
    if (auto c = inside.child("network_cidr")) prefix_len = parse_uint(c.child_value(), x.at(c));
    if (auto m = inside.child("network_mask")) mask = parse_ipv4(m.child_value(), x.at(m)).value;
}

Tunnel parse_tunnel(const XmlDoc& x, pugi::xml_node node, int number, Routing routing) {
    Tunnel t;
    t.number = number;
    auto here = x.at(node);
    t.origin = Origin{here.file, here.line};

    auto cgw = x.need(node, "customer_gateway");
    auto aws = x.need(node, "vpn_gateway");

    auto cgw_out = x.need(cgw, "tunnel_outside_address/ip_address");
    if (!is_placeholder(cgw_out.child_value()))
        t.cgw_outside = parse_ipv4(cgw_out.child_value(), x.at(cgw_out));
    auto aws_out = x.need(aws, "tunnel_outside_address/ip_address");
    t.aws_outside = parse_ipv4(aws_out.child_value(), x.at(aws_out));

    // Inside addresses: both sides name their address and the /30.
    std::uint32_t cgw_len = 30, aws_len = 30, cgw_mask = 0xfffffffc, aws_mask = 0xfffffffc;
    parse_side_inside(x, cgw, t.cgw_inside, cgw_len, cgw_mask);
    parse_side_inside(x, aws, t.aws_inside, aws_len, aws_mask);
    auto cgw_inside_node = cgw.first_element_by_path("tunnel_inside_address");
    auto loc = x.at(cgw_inside_node);
    if (cgw_len != 30 || aws_len != 30 || cgw_mask != 0xfffffffc || aws_mask != 0xfffffffc)
        fail(loc,
             "tunnel inside network must be a /30 (network_cidr 30, network_mask 255.255.255.252)");
    auto cidr = Ipv4Prefix::of(t.cgw_inside, 30);
    check_inside_cidr(cidr, loc);
    t.inside_cidr = cidr;
    check_inside_roles(t, loc);

    if (routing == Routing::bgp) {
        auto cgw_asn = x.need(cgw, "bgp/asn");
        auto aws_asn = x.need(aws, "bgp/asn");
        t.cgw_asn = parse_uint(cgw_asn.child_value(), x.at(cgw_asn));
        check_cgw_asn(*t.cgw_asn, x.at(cgw_asn));
        t.aws_asn = parse_uint(aws_asn.child_value(), x.at(aws_asn));
        check_aws_asn(*t.aws_asn, x.at(aws_asn));
        if (auto h = aws.first_element_by_path("bgp/hold_time"))
            t.bgp_hold_time = static_cast<std::uint16_t>(
                std::min<std::uint32_t>(parse_uint(h.child_value(), x.at(h)), 65535));
    }

    auto ike = x.need(node, "ike");
    auto psk_node = x.need(ike, "pre_shared_key");
    t.psk = Secret(trim(psk_node.child_value()));
    check_psk(t.psk, x.at(psk_node));
    auto ike_enc = x.need(ike, "encryption_protocol");
    t.phase1.ciphers = {parse_cipher(ike_enc.child_value(), x.at(ike_enc))};
    auto ike_auth = x.need(ike, "authentication_protocol");
    t.phase1.integ = {parse_integ(ike_auth.child_value(), x.at(ike_auth))};
    auto ike_dh = x.need(ike, "perfect_forward_secrecy");
    t.phase1.dh = {parse_dh_group(ike_dh.child_value(), x.at(ike_dh))};
    check_phase1_dh(t.phase1.dh[0], x.at(ike_dh));
    auto ike_life = x.need(ike, "lifetime");
    t.ike_lifetime_s = parse_uint(ike_life.child_value(), x.at(ike_life));
    check_range(t.ike_lifetime_s, 900, 28800, x.at(ike_life), "phase 1 lifetime (s)");
    // <mode>main</mode> is the template's IKEv1 minimum; AWS accepts IKEv2 unless the tunnel
    // options say otherwise (only the JSON carries IkeVersions).

    auto ipsec = x.need(node, "ipsec");
    auto proto = x.need(ipsec, "protocol");
    if (lower(trim(proto.child_value())) != "esp") fail(x.at(proto), "only ESP is supported");
    auto mode = ipsec.child("mode");
    if (mode && lower(trim(mode.child_value())) != "tunnel")
        fail(x.at(mode), "only tunnel mode is supported");
    auto esp_enc = x.need(ipsec, "encryption_protocol");
    t.phase2.ciphers = {parse_cipher(esp_enc.child_value(), x.at(esp_enc))};
    if (!t.phase2.ciphers[0].is_aead()) {
        auto esp_auth = x.need(ipsec, "authentication_protocol");
        t.phase2.integ = {parse_integ(esp_auth.child_value(), x.at(esp_auth))};
    }
    if (auto pfs = ipsec.child("perfect_forward_secrecy")) {
        t.phase2.dh = {parse_dh_group(pfs.child_value(), x.at(pfs))};
        check_phase2_dh(t.phase2.dh[0], x.at(pfs));
    }
    auto esp_life = x.need(ipsec, "lifetime");
    t.esp_lifetime_s = parse_uint(esp_life.child_value(), x.at(esp_life));
    check_range(t.esp_lifetime_s, 900, 3600, x.at(esp_life), "phase 2 lifetime (s)");
    if (auto n = ipsec.child("clear_df_bit")) t.clear_df = parse_flag(n.child_value(), x.at(n));
    if (auto n = ipsec.child("fragmentation_before_encryption"))
        t.fragment_before_encryption = parse_flag(n.child_value(), x.at(n));
    if (auto n = ipsec.child("tcp_mss_adjustment")) {
        t.tcp_mss = static_cast<std::uint16_t>(
            std::min<std::uint32_t>(parse_uint(n.child_value(), x.at(n)), 65535));
        check_range(t.tcp_mss, 536, 1406, x.at(n), "TCP MSS");
    }
    if (auto n = ipsec.first_element_by_path("dead_peer_detection/interval")) {
        t.dpd_interval_s = parse_uint(n.child_value(), x.at(n));
        check_range(t.dpd_interval_s, 1, 3600, x.at(n), "DPD interval (s)");
    }
    if (auto n = ipsec.first_element_by_path("dead_peer_detection/retries")) {
        t.dpd_retries = parse_uint(n.child_value(), x.at(n));
        check_range(t.dpd_retries, 1, 100, x.at(n), "DPD retries");
    }
    if (auto v6 = cgw.first_element_by_path("tunnel_inside_ipv6_address/ip_address")) {
        std::string text = trim(v6.child_value());
        if (auto len = cgw.first_element_by_path("tunnel_inside_ipv6_address/prefix_length"))
            text += "/" + trim(len.child_value());
        t.inside_ipv6_cidr = text;
    }
    return t;
}

}  // namespace

Connection parse_cgw_xml(std::string_view text, const Loc& base) {
    XmlDoc x(text, base);
    auto root = x.root();
    if (!root || std::string_view(root.name()) != "vpn_connection")
        fail(x.at(0, ""),
             "not a CustomerGatewayConfiguration document (expected <vpn_connection>)");
    Connection c;
    auto root_loc = x.at(root);
    c.origin = Origin{root_loc.file, root_loc.line};
    c.id = trim(root.attribute("id").value());
    if (c.id.empty()) fail(root_loc, "<vpn_connection> has no id attribute");
    c.customer_gateway_id = trim(root.child_value("customer_gateway_id"));
    c.vpn_gateway_id = trim(root.child_value("vpn_gateway_id"));
    c.gateway = c.vpn_gateway_id.empty() ? GatewayKind::tgw : GatewayKind::vgw;
    if (auto type = root.child("vpn_connection_type");
        type && trim(type.child_value()) != "ipsec.1")
        fail(x.at(type),
             "unsupported connection type '" + trim(type.child_value()) + "' (expected ipsec.1)");
    auto attrs = trim(root.child_value("vpn_connection_attributes"));
    c.routing = attrs == "NoBGPVPNConnection" ? Routing::static_routes : Routing::bgp;

    std::vector<pugi::xml_node> tunnels;
    for (auto t : root.children("ipsec_tunnel")) tunnels.push_back(t);
    if (tunnels.size() < 2)
        fail(root_loc, "a VPN connection has two <ipsec_tunnel> elements, this one has " +
                           std::to_string(tunnels.size()));
    if (tunnels.size() > 2)
        fail(x.at(tunnels[2]),
             "a VPN connection has exactly two <ipsec_tunnel> elements; found a third");
    for (int i = 0; i < 2; ++i)
        c.tunnels[static_cast<std::size_t>(i)] =
            parse_tunnel(x, tunnels[static_cast<std::size_t>(i)], i + 1, c.routing);
    return c;
}

}  // namespace cgwd::config::detail
