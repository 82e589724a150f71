// The "Generic / Vendor Agnostic" text download, old and new layouts.
//
//   Your VPN Connection ID : vpn-...            (header, before the first tunnel)
//   IPsec Tunnel #1                              (also IPSec / IPSEC)
//   #1: Internet Key Exchange Configuration      - Pre-Shared Key, Authentication Algorithm,
//                                                  Encryption Algorithm, Lifetime, Diffie-Hellman
//   #2: IPsec Configuration                      - Protocol, Authentication Algorithm, ...,
//                                                  Perfect Forward Secrecy, DPD Interval/Retries,
//                                                  TCP MSS Adjustment, Clear Don't Fragment Bit
//   #3: Tunnel Interface Configuration           Outside IP Addresses: / Inside IP Addresses
//                                                  - Customer Gateway, - Virtual Private Gateway
//                                                  - Tunnel interface MTU
//   #4: Border Gateway Protocol (BGP) ...        - Customer Gateway ASN, - Virtual Private
//     or #4: Static Routing Configuration          Gateway ASN, - Neighbor IP Address, ...
//
// Value lines are "- Label : value": split on the first colon, labels padded with any mix of
// tabs and spaces (and "Virtual Private  Gateway ASN" has two spaces inside). "Customer
// Gateway:   :" has two colons. Older files say "VPN Gateway"; CRLF line ends occur.
#include <algorithm>
#include <map>
#include <optional>

#include "aws_common.hpp"

namespace cgwd::config::detail {
namespace {

// Collapses runs of blanks and lower-cases: "Virtual Private  Gateway ASN" -> "virtual private
// gateway asn".
std::string normalize_label(std::string_view s) {
    std::string out;
    bool blank = false;
    for (char c : trim(s)) {
        if (c == ' ' || c == '\t') {
            blank = true;
            continue;
        }
        if (blank && !out.empty()) out += ' ';
        blank = false;
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    while (!out.empty() && (out.back() == ':' || out.back() == ' ')) out.pop_back();
    return out;
}

// "virtual private gateway ..." / "vpn gateway ..." / "transit gateway ..." -> "aws ...".
std::string canonical_side(std::string label) {
    for (std::string_view aws : {"virtual private gateway", "vpn gateway", "transit gateway"}) {
        if (label.rfind(aws, 0) == 0) return "aws" + label.substr(aws.size());
    }
    if (label.rfind("customer gateway", 0) == 0) return "cgw" + label.substr(16);
    return label;
}

struct Value {
    std::string text;
    int line = 0;
};

enum class Section { none, ike, ipsec, interface, bgp, static_routing };
enum class Block { none, outside, inside };

struct RawTunnel {
    int header_line = 0;
    int number = 0;
    bool static_routing = false;
    std::map<std::string, Value> values;  // key: "<section>/<canonical label>"
};

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == prefix;
}

}  // namespace

std::vector<Connection> parse_aws_text(std::string_view text, const std::string& file) {
    std::map<std::string, Value> header;
    std::vector<RawTunnel> tunnels;
    Section section = Section::none;
    Block block = Block::none;

    int line_no = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view raw = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        auto line = trim(raw);
        if (line.empty()) {
            if (pos > text.size()) break;
            continue;
        }

        if (starts_with_ci(line, "ipsec tunnel #")) {
            RawTunnel t;
            t.header_line = line_no;
            auto num = trim(std::string_view(line).substr(14));
            t.number = static_cast<int>(parse_uint(num, Loc{file, line_no, "tunnel header"}));
            tunnels.push_back(std::move(t));
            section = Section::none;
            block = Block::none;
            continue;
        }
        if (line.size() > 3 && line[0] == '#' && line[2] == ':') {
            auto title = lower(line);
            block = Block::none;
            if (title.find("internet key exchange") != std::string::npos)
                section = Section::ike;
            else if (title.find("ipsec configuration") != std::string::npos)
                section = Section::ipsec;
            else if (title.find("tunnel interface") != std::string::npos)
                section = Section::interface;
            else if (title.find("border gateway protocol") != std::string::npos)
                section = Section::bgp;
            else if (title.find("static routing") != std::string::npos) {
                section = Section::static_routing;
                if (!tunnels.empty()) tunnels.back().static_routing = true;
            } else
                section = Section::none;
            continue;
        }
        auto lowered = lower(line);
        if (lowered.rfind("outside ip addresses", 0) == 0) {
            block = Block::outside;
            continue;
        }
        if (lowered.rfind("inside ip addresses", 0) == 0) {
            block = Block::inside;
            continue;
        }

        bool item = line[0] == '-';
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;  // prose
        std::string_view body = std::string_view(line).substr(item ? 1 : 0);
        colon = body.find(':');
        auto label = canonical_side(normalize_label(body.substr(0, colon)));
        std::string_view rest = body.substr(colon + 1);
        while (!rest.empty() &&
               (rest.front() == ':' || rest.front() == ' ' || rest.front() == '\t'))
            rest.remove_prefix(1);  // "Customer Gateway:   : x" has two colons
        Value value{trim(rest), line_no};

        if (tunnels.empty()) {
            if (!item) header[label] = value;
            continue;
        }
        if (!item) continue;
        std::string key;
        switch (section) {
            case Section::ike:
                key = "ike/" + label;
                break;
            case Section::ipsec:
                key = "ipsec/" + label;
                break;
            case Section::interface:
                key = block == Block::outside  ? "outside/" + label
                      : block == Block::inside ? "inside/" + label
                                               : "interface/" + label;
                break;
            case Section::bgp:
                key = "bgp/" + label;
                break;
            case Section::static_routing:
                key = "static/" + label;
                break;
            case Section::none:
                key = "other/" + label;
                break;
        }
        tunnels.back().values.emplace(key, value);  // first one wins
    }

    auto at = [&](int line, const std::string& where) { return Loc{file, line, where}; };
    if (tunnels.size() < 2)
        fail(at(tunnels.empty() ? 0 : tunnels[0].header_line, ""),
             "a VPN connection has two 'IPsec Tunnel #' sections, this file has " +
                 std::to_string(tunnels.size()));
    if (tunnels.size() > 2)
        fail(at(tunnels[2].header_line, "IPsec Tunnel #" + std::to_string(tunnels[2].number)),
             "a VPN connection has exactly two tunnels; found a third");

    Connection c;
    c.origin = Origin{file, 1};
    auto header_value = [&](std::initializer_list<const char*> labels) -> std::optional<Value> {
        for (auto l : labels)
            if (auto it = header.find(l); it != header.end()) return it->second;
        return std::nullopt;
    };
    auto id = header_value({"your vpn connection id"});
    if (!id) fail(at(1, ""), "no 'Your VPN Connection ID' line before the first tunnel");
    c.id = id->text;
    c.origin.line = id->line;
    if (auto v = header_value({"your customer gateway id"})) c.customer_gateway_id = v->text;
    if (auto v = header_value({"your virtual private gateway id", "your vpn gateway id"}))
        c.vpn_gateway_id = v->text;
    if (auto v = header_value({"your transit gateway id"})) c.transit_gateway_id = v->text;
    c.gateway = c.vpn_gateway_id.empty() ? GatewayKind::tgw : GatewayKind::vgw;
    c.routing = tunnels[0].static_routing ? Routing::static_routes : Routing::bgp;

    for (std::size_t i = 0; i < 2; ++i) {
        const RawTunnel& raw = tunnels[i];
        Tunnel& t = c.tunnels[i];
        t.number = static_cast<int>(i) + 1;
        t.origin = Origin{file, raw.header_line};
        std::string tname = "IPsec Tunnel #" + std::to_string(raw.number);
        if (raw.number != t.number)
            fail(at(raw.header_line, tname), "expected tunnel #" + std::to_string(t.number));
        if (raw.static_routing != tunnels[0].static_routing)
            fail(at(raw.header_line, tname), "one tunnel uses BGP and the other static routing");
        auto find = [&](std::initializer_list<const char*> keys) -> const Value* {
            for (auto k : keys)
                if (auto it = raw.values.find(k); it != raw.values.end()) return &it->second;
            return nullptr;
        };
        auto need = [&](std::initializer_list<const char*> keys, const char* what) -> const Value& {
            if (auto v = find(keys)) return *v;
            fail(at(raw.header_line, tname), std::string("missing '") + what + "'");
        };
        auto loc = [&](const Value& v, const char* what) {
            return at(v.line, tname + ": " + what);
        };

        // #1 IKE
        const auto& psk = need({"ike/pre-shared key"}, "Pre-Shared Key");
        t.psk = Secret(psk.text);
        check_psk(t.psk, loc(psk, "Pre-Shared Key"));
        const auto& ike_auth = need({"ike/authentication algorithm"}, "Authentication Algorithm");
        t.phase1.integ = {parse_integ(ike_auth.text, loc(ike_auth, "Authentication Algorithm"))};
        const auto& ike_enc = need({"ike/encryption algorithm"}, "Encryption Algorithm");
        t.phase1.ciphers = {parse_cipher(ike_enc.text, loc(ike_enc, "Encryption Algorithm"))};
        const auto& ike_dh = need({"ike/diffie-hellman"}, "Diffie-Hellman");
        t.phase1.dh = {parse_dh_group(ike_dh.text, loc(ike_dh, "Diffie-Hellman"))};
        check_phase1_dh(t.phase1.dh[0], loc(ike_dh, "Diffie-Hellman"));
        if (auto v = find({"ike/lifetime"})) {
            t.ike_lifetime_s = parse_uint(v->text, loc(*v, "Lifetime"), "seconds");
            check_range(t.ike_lifetime_s, 900, 28800, loc(*v, "Lifetime"), "phase 1 lifetime (s)");
        }
        // "IKE version : IKEv1" is the template's minimum; AWS accepts IKEv2 unless told otherwise.

        // #2 IPsec
        if (auto v = find({"ipsec/protocol"}); v && lower(v->text) != "esp")
            fail(loc(*v, "Protocol"), "only ESP is supported");
        if (auto v = find({"ipsec/mode"}); v && lower(v->text) != "tunnel")
            fail(loc(*v, "Mode"), "only tunnel mode is supported");
        const auto& esp_enc = need({"ipsec/encryption algorithm"}, "Encryption Algorithm");
        t.phase2.ciphers = {parse_cipher(esp_enc.text, loc(esp_enc, "Encryption Algorithm"))};
        if (!t.phase2.ciphers[0].is_aead()) {
            const auto& esp_auth =
                need({"ipsec/authentication algorithm"}, "Authentication Algorithm");
            t.phase2.integ = {
                parse_integ(esp_auth.text, loc(esp_auth, "Authentication Algorithm"))};
        }
        if (auto v = find({"ipsec/perfect forward secrecy"})) {
            t.phase2.dh = {parse_dh_group(v->text, loc(*v, "Perfect Forward Secrecy"))};
            check_phase2_dh(t.phase2.dh[0], loc(*v, "Perfect Forward Secrecy"));
        }
        if (auto v = find({"ipsec/lifetime"})) {
            t.esp_lifetime_s = parse_uint(v->text, loc(*v, "Lifetime"), "seconds");
            check_range(t.esp_lifetime_s, 900, 3600, loc(*v, "Lifetime"), "phase 2 lifetime (s)");
        }
        if (auto v = find({"ipsec/dpd interval"})) {
            t.dpd_interval_s = parse_uint(v->text, loc(*v, "DPD Interval"), "seconds");
            check_range(t.dpd_interval_s, 1, 3600, loc(*v, "DPD Interval"), "DPD interval (s)");
        }
        if (auto v = find({"ipsec/dpd retries"})) {
            t.dpd_retries = parse_uint(v->text, loc(*v, "DPD Retries"));
            check_range(t.dpd_retries, 1, 100, loc(*v, "DPD Retries"), "DPD retries");
        }
        if (auto v = find({"ipsec/tcp mss adjustment"})) {
            auto mss = parse_uint(v->text, loc(*v, "TCP MSS Adjustment"), "bytes");
            check_range(mss, 536, 1406, loc(*v, "TCP MSS Adjustment"), "TCP MSS");
            t.tcp_mss = static_cast<std::uint16_t>(mss);
        }
        if (auto v = find({"ipsec/clear don't fragment bit"}))
            t.clear_df = parse_flag(v->text, loc(*v, "Clear Don't Fragment Bit"));
        if (auto v = find({"ipsec/fragmentation"})) {
            auto f = lower(v->text);
            if (f.find("before") != std::string::npos)
                t.fragment_before_encryption = true;
            else if (f.find("after") != std::string::npos)
                t.fragment_before_encryption = false;
            else
                fail(loc(*v, "Fragmentation"),
                     "expected 'Before encryption' or 'After encryption'");
        }

        // #3 Tunnel interface
        const auto& cgw_out = need({"outside/cgw"}, "Outside IP Addresses: Customer Gateway");
        if (!is_placeholder(cgw_out.text))
            t.cgw_outside =
                parse_ipv4(cgw_out.text, loc(cgw_out, "Customer Gateway outside address"));
        const auto& aws_out =
            need({"outside/aws"}, "Outside IP Addresses: Virtual Private Gateway");
        t.aws_outside =
            parse_ipv4(aws_out.text, loc(aws_out, "Virtual Private Gateway outside address"));
        const auto& cgw_in = need({"inside/cgw"}, "Inside IP Addresses: Customer Gateway");
        const auto& aws_in = need({"inside/aws"}, "Inside IP Addresses: Virtual Private Gateway");
        auto in_loc = loc(cgw_in, "Customer Gateway inside address");
        bool host_bits = false;
        auto cgw_prefix = Ipv4Prefix::parse(cgw_in.text, &host_bits);
        if (!cgw_prefix)
            fail(in_loc, "expected an address with its prefix length, like 169.254.10.2/30");
        auto aws_prefix = Ipv4Prefix::parse(aws_in.text);
        if (!aws_prefix)
            fail(loc(aws_in, "Virtual Private Gateway inside address"),
                 "expected an address with its prefix length, like 169.254.10.1/30");
        check_inside_cidr(*cgw_prefix, in_loc);
        t.inside_cidr = *cgw_prefix;
        t.cgw_inside = *Ipv4Address::parse(cgw_in.text.substr(0, cgw_in.text.find('/')));
        t.aws_inside = *Ipv4Address::parse(aws_in.text.substr(0, aws_in.text.find('/')));
        check_inside_roles(t, in_loc);
        if (auto v = find({"interface/tunnel interface mtu", "inside/tunnel interface mtu",
                           "outside/tunnel interface mtu"})) {
            auto mtu = parse_uint(v->text, loc(*v, "Tunnel interface MTU"), "bytes");
            check_range(mtu, 576, 1446, loc(*v, "Tunnel interface MTU"), "tunnel MTU");
            t.mtu = static_cast<std::uint16_t>(mtu);
        }

        // #4 BGP
        if (c.routing == Routing::bgp) {
            const auto& cgw_asn = need({"bgp/cgw asn"}, "Customer Gateway ASN");
            if (is_placeholder(cgw_asn.text))
                fail(loc(cgw_asn, "Customer Gateway ASN"),
                     "the file holds the placeholder '" + cgw_asn.text + "' instead of your ASN");
            t.cgw_asn = parse_uint(cgw_asn.text, loc(cgw_asn, "Customer Gateway ASN"));
            check_cgw_asn(*t.cgw_asn, loc(cgw_asn, "Customer Gateway ASN"));
            const auto& aws_asn = need({"bgp/aws asn"}, "Virtual Private Gateway ASN");
            t.aws_asn = parse_uint(aws_asn.text, loc(aws_asn, "Virtual Private Gateway ASN"));
            check_aws_asn(*t.aws_asn, loc(aws_asn, "Virtual Private Gateway ASN"));
            if (auto v = find({"bgp/neighbor ip address"})) {
                auto n = parse_ipv4(v->text, loc(*v, "Neighbor IP Address"));
                if (n != t.aws_inside)
                    fail(loc(*v, "Neighbor IP Address"), n.to_string() +
                                                             " is not the AWS inside address " +
                                                             t.aws_inside.to_string());
            }
            if (auto v = find({"bgp/neighbor hold time"})) {
                auto hold = parse_uint(v->text, loc(*v, "Neighbor Hold Time"), "seconds");
                check_range(hold, 3, 65535, loc(*v, "Neighbor Hold Time"), "BGP hold time");
                t.bgp_hold_time = static_cast<std::uint16_t>(hold);
            }
        } else if (auto v = find({"static/next hop"})) {
            auto n = parse_ipv4(v->text, loc(*v, "Next hop"));
            if (n != t.aws_inside)
                fail(loc(*v, "Next hop"),
                     n.to_string() + " is not the AWS inside address " + t.aws_inside.to_string());
        }
    }
    finish_connection(c, Loc{file, c.origin.line, c.id});
    return {std::move(c)};
}

}  // namespace cgwd::config::detail
