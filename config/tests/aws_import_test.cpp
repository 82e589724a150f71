// AWS file import: the three formats agree, overrides apply, and every validation error
// names the right place. Fixtures in tests/fixtures are the project's own (documentation
// address ranges, made-up ids and keys).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "cgwd/config/aws_import.hpp"

using namespace cgwd::config;

namespace {

std::string fixture(const std::string& name) {
    return std::string(CGWD_TEST_DATA) + "/" + name;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// 1-based line of the n-th line containing `needle` (so tests do not hard-code line numbers).
int line_of(const std::string& file, const std::string& needle, int nth = 1) {
    std::istringstream in(slurp(fixture(file)));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(needle) != std::string::npos && --nth == 0) return n;
    FAIL("fixture " << file << " has no line with " << needle);
    return 0;
}

std::vector<Connection> load(const std::string& name) {
    auto r = import_aws_file(fixture(name));
    if (!r) FAIL("import of " << name << " failed: " << r.error().to_string());
    return *r;
}

ConfigError load_error(const std::string& name) {
    auto r = import_aws_file(fixture(name));
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

Connection without_origins(Connection c) {
    c.origin = {};
    for (auto& t : c.tunnels) t.origin = {};
    return c;
}

}  // namespace

TEST_CASE("format is detected from content") {
    CHECK(detect_aws_format("\xEF\xBB\xBF  <?xml version='1.0'?><vpn_connection/>") ==
          AwsFormat::xml);
    CHECK(detect_aws_format("\n{\"VpnConnections\": []}") == AwsFormat::json);
    CHECK(detect_aws_format("Amazon Web Services\r\n\r\nIPSEC Tunnel #1\r\n") ==
          AwsFormat::generic_text);
    CHECK(detect_aws_format("hello") == AwsFormat::unknown);
    auto r = import_aws("hello", "x.conf");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().to_string(), Catch::StartsWith("x.conf: not an AWS VPN configuration"));
}

TEST_CASE("XML import yields the full model") {
    auto conns = load("vgw-bgp.xml");
    REQUIRE(conns.size() == 1);
    const auto& c = conns[0];
    CHECK(c.id == "vpn-0a1b2c3d4e5f60718");
    CHECK(c.customer_gateway_id == "cgw-0123456789abcdef0");
    CHECK(c.vpn_gateway_id == "vgw-0fedcba9876543210");
    CHECK(c.gateway == GatewayKind::vgw);
    CHECK(c.routing == Routing::bgp);
    const auto& t1 = c.tunnels[0];
    const auto& t2 = c.tunnels[1];
    CHECK(t1.number == 1);
    CHECK(t2.number == 2);
    CHECK(t1.cgw_outside->to_string() == "198.51.100.10");
    CHECK(t1.aws_outside.to_string() == "203.0.113.11");
    CHECK(t2.aws_outside.to_string() == "203.0.113.12");
    CHECK(t1.inside_cidr.to_string() == "169.254.11.0/30");
    CHECK(t1.aws_inside.to_string() == "169.254.11.1");
    CHECK(t1.cgw_inside.to_string() == "169.254.11.2");
    CHECK(t2.inside_cidr.to_string() == "169.254.12.4/30");
    CHECK(t2.cgw_inside.to_string() == "169.254.12.6");
    CHECK(*t1.cgw_asn == 65010);
    CHECK(*t1.aws_asn == 64512);
    CHECK(t1.bgp_hold_time == 30);
    CHECK(t1.psk.reveal() == "Xk3_9vTq.b7LmN2p");
    CHECK(t2.psk.reveal() == "Rr8w_Qz1.Hs5Jd4e");
    CHECK(t1.ike_lifetime_s == 28800);
    CHECK(t1.esp_lifetime_s == 3600);
    CHECK(t1.dpd_interval_s == 10);
    CHECK(t1.dpd_retries == 3);
    CHECK(t1.tcp_mss == 1379);
    CHECK(t1.mtu == 1436);  // the XML has no MTU: AWS's recommended default
    CHECK(t1.clear_df);
    CHECK(t1.fragment_before_encryption);
    CHECK(t1.ikev2_allowed);
    // AES128/SHA1/DH2 mapped to IKEv2 transform ids (RFC 7296 3.3.2).
    REQUIRE(t1.ike_proposals.size() == 1);
    const auto& ike = t1.ike_proposals[0];
    CHECK(ike.ciphers == std::vector<Cipher>{{12, 128}});
    CHECK(ike.integ == std::vector<std::uint16_t>{2});
    CHECK(ike.prf == std::vector<std::uint16_t>{2});
    CHECK(ike.dh == std::vector<std::uint16_t>{2});
    REQUIRE(t1.esp_proposals.size() == 1);
    CHECK(proposal_string(t1.esp_proposals[0]) == "AES-128-CBC/HMAC-SHA1-96/MODP-1024");
    CHECK(t1.esp_proposals[0].esn == std::vector<std::uint16_t>{0});
    CHECK(t1.origin.line == line_of("vgw-bgp.xml", "<ipsec_tunnel>", 1));
}

TEST_CASE("XML, JSON and both Generic text layouts import to equal models") {
    auto xml = without_origins(load("vgw-bgp.xml").at(0));
    auto json = without_origins(load("vgw-bgp.json").at(0));
    auto text_new = without_origins(load("vgw-bgp-new.txt").at(0));
    auto text_old = without_origins(load("vgw-bgp-old.txt").at(0));
    CHECK(json == xml);
    CHECK(text_new == xml);
    // The old layout recommends MSS 1387; everything else is the same connection.
    CHECK(text_old.tunnels[0].tcp_mss == 1387);
    for (auto& t : text_old.tunnels) t.tcp_mss = 1379;
    CHECK(text_old == xml);
}

TEST_CASE("JSON TunnelOptions override the XML template") {
    auto c = load("vgw-tunnel-options.json").at(0);
    // TunnelOptions are listed in the other order; they are matched by outside address.
    const auto& t1 = c.tunnels[0];
    const auto& t2 = c.tunnels[1];
    CHECK(t2.aws_outside.to_string() == "203.0.113.12");
    CHECK(t2.inside_cidr.to_string() == "169.254.44.8/30");
    CHECK(t2.aws_inside.to_string() == "169.254.44.9");
    CHECK(t2.cgw_inside.to_string() == "169.254.44.10");
    CHECK(t2.psk.reveal() == "Tt6_uV.w3Xy9Za1b");
    CHECK_FALSE(t2.ikev1_allowed);
    CHECK(t2.ikev2_allowed);
    REQUIRE(t2.ike_proposals.size() == 1);
    CHECK(proposal_string(t2.ike_proposals[0]) == "AES-256-GCM-16/PRF-HMAC-SHA2-384/ECP-384");
    CHECK(t2.ike_proposals[0].integ.empty());  // AEAD: no integrity transform
    REQUIRE(t2.esp_proposals.size() == 1);
    CHECK(proposal_string(t2.esp_proposals[0]) == "AES-256-GCM-16/ECP-384");
    CHECK(t2.ike_lifetime_s == 28000);
    CHECK(t2.esp_lifetime_s == 3000);
    CHECK(t2.rekey_margin_s == 300);
    CHECK(t2.rekey_fuzz_pct == 50);
    CHECK(t2.replay_window == 2048);
    CHECK(t2.dpd_timeout_s == 40);
    CHECK(t2.dpd_action == DpdAction::restart);
    CHECK(t2.startup_action == StartupAction::start);

    CHECK(t1.psk.reveal() == "Xk3_9vTq.b7LmN2p");  // not overridden
    CHECK(t1.dpd_action == DpdAction::clear);
    // CBC and GCM in one phase become two proposals, in the configured order.
    REQUIRE(t1.ike_proposals.size() == 2);
    CHECK(proposal_string(t1.ike_proposals[0]) ==
          "AES-128-CBC,AES-256-CBC/HMAC-SHA1-96,HMAC-SHA2-256-128/PRF-HMAC-SHA1,PRF-HMAC-SHA2-256/"
          "MODP-2048,MODP-2048-S256");
    CHECK(proposal_string(t1.ike_proposals[1]) ==
          "AES-128-GCM-16/PRF-HMAC-SHA1,PRF-HMAC-SHA2-256/MODP-2048,MODP-2048-S256");
    REQUIRE(t1.esp_proposals.size() == 1);
    CHECK(proposal_string(t1.esp_proposals[0]) ==
          "AES-128-CBC/HMAC-SHA2-512-256/MODP-1536,MODP-2048");
    REQUIRE(c.local_network);
    CHECK(c.local_network->to_string() == "0.0.0.0/0");
}

TEST_CASE("a JSON with two connections imports both, VGW and TGW") {
    auto conns = load("two-connections.json");
    REQUIRE(conns.size() == 2);
    CHECK(conns[0].id == "vpn-0a1b2c3d4e5f60718");
    CHECK(conns[0].gateway == GatewayKind::vgw);
    CHECK(conns[1].id == "vpn-0d0d0d0d0d0d0d0d0");
    CHECK(conns[1].gateway == GatewayKind::tgw);
    CHECK(conns[1].transit_gateway_id == "tgw-0e0e0e0e0e0e0e0e0");
    CHECK(conns[1].tunnels[0].aws_outside.to_string() == "192.0.2.21");
    CHECK(conns[1].tunnels[1].psk.reveal() == "Ff5_gG6.hH7iI8jJ");
}

TEST_CASE("static routing is recognised in every format") {
    for (auto name : {"vgw-static.xml", "static.json", "vgw-static.txt"}) {
        INFO(name);
        auto c = load(name).at(0);
        CHECK(c.routing == Routing::static_routes);
        CHECK_FALSE(c.tunnels[0].cgw_asn);
        CHECK_FALSE(c.tunnels[1].aws_asn);
        CHECK(c.tunnels[1].aws_inside.to_string() == "169.254.12.5");
    }
}

TEST_CASE("an empty vpn_gateway_id means a Transit Gateway") {
    auto c = load("tgw-bgp.xml").at(0);
    CHECK(c.gateway == GatewayKind::tgw);
    CHECK(c.vpn_gateway_id.empty());
}

TEST_CASE("validation errors name the file and the line or element") {
    struct Case {
        const char* file;
        const char* needle;  // text on the offending line
        int nth;
        const char* message;
    };
    const Case cases[] = {
        {"bad-third-tunnel.xml", "<ipsec_tunnel>", 3, "found a third"},
        {"bad-missing-tunnel.xml", "<vpn_connection", 1,
         "two <ipsec_tunnel> elements, this one has 1"},
        {"bad-psk.xml", "<pre_shared_key>short", 1, "pre-shared key must be 8 to 64 characters"},
        {"bad-roles.xml", "<tunnel_inside_address>", 1, "inside address roles are inconsistent"},
        {"bad-reserved.xml", "<tunnel_inside_address>", 1, "169.254.3.0/30 is reserved by AWS"},
        {"bad-asn.xml", "<asn>65535</asn>", 1, "Amazon-side ASN 65535 is not one AWS assigns"},
        {"bad-algorithm.xml", "3des-cbc", 1, "unknown encryption algorithm '3des-cbc'"},
        {"bad-lifetime.xml", "<lifetime>7200", 1,
         "phase 2 lifetime (s) 7200 is out of range 900..3600"},
        {"bad-not-30.xml", "<tunnel_inside_address>", 1, "must be a /30"},
        {"bad-third-tunnel.txt", "Tunnel #3", 1, "found a third"},
        {"bad-reserved.txt", "169.254.169.254/30", 1, "169.254.169.252/30 is reserved by AWS"},
        {"bad-roles.txt", "169.254.11.9/30", 1, "are not both in 169.254.11.8/30"},
        {"bad-psk.txt", "0Rr8w_Qz1", 1, "must not start with '0'"},
        {"bad-dh.txt", "Group 7", 1, "group 7 is not allowed for phase 1"},
    };
    for (const auto& c : cases) {
        INFO(c.file);
        auto e = load_error(c.file);
        CHECK(e.file == fixture(c.file));
        CHECK(e.line == line_of(c.file, c.needle, c.nth));
        CHECK_THAT(e.message, Catch::Contains(c.message));
        CHECK_THAT(e.to_string(),
                   Catch::StartsWith(fixture(c.file) + ":" + std::to_string(e.line) + ": "));
    }
    // Errors never quote the key itself.
    CHECK_THAT(load_error("bad-psk.txt").to_string(), !Catch::Contains("Rr8w_Qz1"));
}

TEST_CASE("XML errors name the element path") {
    CHECK_THAT(load_error("bad-psk.xml").where,
               Catch::Equals("<vpn_connection>/<ipsec_tunnel>[2]/<ike>/<pre_shared_key>"));
    CHECK_THAT(load_error("bad-algorithm.xml").where,
               Catch::Equals("<vpn_connection>/<ipsec_tunnel>[1]/<ike>/<encryption_protocol>"));
}

TEST_CASE("JSON errors name the JSON path") {
    auto e = load_error("bad-ikev1-only.json");
    CHECK_THAT(e.message, Catch::Contains("IKEv2 is not enabled"));
    CHECK_THAT(e.where, Catch::Contains("VpnConnections[0]") && Catch::Contains("tunnel 2"));

    auto r = load_error("bad-json-reserved.json");
    CHECK(r.where == "VpnConnections[0].Options.TunnelOptions[1].TunnelInsideCidr");
    CHECK_THAT(r.message, Catch::Contains("reserved by AWS"));

    auto bad = import_aws("{\"VpnConnections\": [\n{\"x\": 1,}\n]}", "broken.json");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().line == 2);
    CHECK_THAT(bad.error().message, Catch::StartsWith("JSON is not well formed"));

    // A number too large for a double is no syntax error to nlohmann::json but out_of_range
    // (406): refused like any bad file, not thrown out of the importer (config_aws_fuzz found it).
    auto huge =
        import_aws("{\n  \"VpnConnections\": 333E3333333333333333333333333333333333}", "huge.json");
    REQUIRE_FALSE(huge);
    CHECK_THAT(huge.error().message,
               Catch::StartsWith("JSON is not usable") && Catch::Contains("number overflow"));
}

TEST_CASE("XML inside JSON reports the JSON path and the XML line") {
    auto text = slurp(fixture("vgw-bgp.json"));
    auto pos = text.find("Rr8w_Qz1.Hs5Jd4e");
    REQUIRE(pos != std::string::npos);
    text.replace(pos, 16, "bad-key!");
    auto r = import_aws(text, "conn.json");
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().where,
               Catch::StartsWith("VpnConnections[0].CustomerGatewayConfiguration (XML line "));
    CHECK_THAT(r.error().where, Catch::EndsWith("<ipsec_tunnel>[2]/<ike>/<pre_shared_key>)"));
}

TEST_CASE(
    "Generic text placeholders: uplink address becomes auto, an ASN placeholder is an error") {
    auto text = slurp(fixture("vgw-bgp-new.txt"));
    auto pos = text.find("Customer Gateway:        : 198.51.100.10");
    REQUIRE(pos != std::string::npos);
    text.replace(pos, 40, "Customer Gateway:        : YOUR_UPLINK_ADDRESS");
    auto r = import_aws(text, "t.txt");
    REQUIRE(r);
    CHECK_FALSE(r->at(0).tunnels[0].cgw_outside);
    CHECK(r->at(0).tunnels[1].cgw_outside);

    auto asn = text.find("Customer Gateway ASN          : 65010");
    REQUIRE(asn != std::string::npos);
    text.replace(asn, 37, "Customer Gateway ASN          : YOUR_BGP_ASN");
    auto e = import_aws(text, "t.txt");
    REQUIRE_FALSE(e);
    CHECK_THAT(e.error().message, Catch::Contains("placeholder 'YOUR_BGP_ASN'"));
}

TEST_CASE("IPv4 value types") {
    CHECK(Ipv4Address::parse("169.254.11.2")->value == 0xa9fe0b02);
    CHECK_FALSE(Ipv4Address::parse("169.254.11"));
    CHECK_FALSE(Ipv4Address::parse("169.254.11.256"));
    CHECK_FALSE(Ipv4Address::parse("169.254.011.2"));
    CHECK_FALSE(Ipv4Address::parse("1.2.3.4 "));
    bool host = false;
    auto p = Ipv4Prefix::parse("169.254.15.193/30", &host);
    REQUIRE(p);
    CHECK(host);
    CHECK(p->to_string() == "169.254.15.192/30");
    CHECK(p->contains(*Ipv4Address::parse("169.254.15.195")));
    CHECK_FALSE(p->contains(*Ipv4Address::parse("169.254.15.196")));
    CHECK_FALSE(Ipv4Prefix::parse("10.0.0.0/33"));
    CHECK(Ipv4Prefix::parse("0.0.0.0/0")->mask() == 0);
}

TEST_CASE("IPv6 and either-family addresses and prefixes parse and print canonically") {
    auto a = Ipv6Address::parse("2001:DB8:0:0:0::1");
    REQUIRE(a);
    CHECK(a->to_string() == "2001:db8::1");  // RFC 5952: lower case, longest zero run "::"
    CHECK(a->bytes[0] == 0x20);
    CHECK(a->bytes[15] == 1);
    CHECK_FALSE(Ipv6Address::parse("2001:db8::1::2"));
    CHECK_FALSE(Ipv6Address::parse("2001:db8::1 "));
    CHECK_FALSE(Ipv6Address::parse("fe80::1%eth0"));  // no zone index
    CHECK(Ipv6Address::parse("fe80::1")->is_link_local());
    CHECK_FALSE(a->is_link_local());

    bool host = false;
    auto p = Ipv6Prefix::parse("2001:db8:1::2/125", &host);
    REQUIRE(p);
    CHECK(host);  // ::2 is a host of the /125
    CHECK(p->to_string() == "2001:db8:1::/125");
    CHECK(Ipv6Prefix::parse("2001:db8:1::9/125", &host)->to_string() == "2001:db8:1::8/125");
    CHECK(host);
    CHECK(p->contains(*Ipv6Address::parse("2001:db8:1::7")));
    CHECK_FALSE(p->contains(*Ipv6Address::parse("2001:db8:1::8")));
    CHECK(Ipv6Prefix::parse("2001:db8:ff::/41")->to_string() == "2001:db8:80::/41");
    CHECK_FALSE(Ipv6Prefix::parse("2001:db8::/129"));
    CHECK_FALSE(Ipv6Prefix::parse("2001:db8::/"));
    CHECK_FALSE(Ipv6Prefix::parse("10.0.0.0/8"));

    auto v4 = IpPrefix::parse("10.1.0.0/16");
    auto v6 = IpPrefix::parse("2001:db8::/32");
    REQUIRE(v4);
    REQUIRE(v6);
    CHECK_FALSE(v4->is_v6());
    CHECK(v6->is_v6());
    CHECK(*v4 == IpPrefix(*Ipv4Prefix::parse("10.1.0.0/16")));  // same as the IPv4 type's
    CHECK(v4->v4()->to_string() == "10.1.0.0/16");
    CHECK_FALSE(v4->v6());
    CHECK(v6->v6()->to_string() == "2001:db8::/32");
    CHECK(*v4 < *v6);  // IPv4 first
    CHECK(v6->contains(*IpAddress::parse("2001:db8:ffff::1")));
    CHECK_FALSE(v6->contains(*IpAddress::parse("10.1.2.3")));
    CHECK(v4->contains(*IpAddress::parse("10.1.2.3")));
    CHECK_FALSE(IpPrefix::parse("10.1.0.0/33"));
    CHECK_FALSE(IpPrefix::parse("2001:db8::/200"));
    CHECK(IpAddress::parse("169.254.11.2")->v4()->value == 0xa9fe0b02);
    CHECK(IpAddress::parse("fd00::2")->to_string() == "fd00::2");
    CHECK_FALSE(IpAddress::parse("fd00::2/64"));
}
