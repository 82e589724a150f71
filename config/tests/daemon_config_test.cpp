// The TOML settings file: keys, types, positions of errors, permissions of secret files,
// the --check-config summary and the starter file cgwctl import writes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <thread>

#include <filesystem>
#include <fstream>

#include "cgwd/config/aws_import.hpp"
#include "cgwd/config/daemon_config.hpp"

using namespace cgwd::config;
namespace fs = std::filesystem;

namespace {

// A private temporary folder holding copies of fixtures with the modes a test asks for.
class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/cgwd-config-test-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string write(const std::string& name, const std::string& text,
                      unsigned mode = 0600) const {
        auto p = (fs::path(path_) / name).string();
        std::ofstream(p) << text;
        ::chmod(p.c_str(), mode);
        return p;
    }
    std::string copy_fixture(const std::string& name, unsigned mode = 0600) const {
        auto p = (fs::path(path_) / name).string();
        fs::copy_file(std::string(CGWD_TEST_DATA) + "/" + name, p,
                      fs::copy_options::overwrite_existing);
        ::chmod(p.c_str(), mode);
        return p;
    }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

const char* kMinimal = R"(# cgwd.toml
[daemon]
log_level = "debug"
dataplane = "userspace"

[outside]
interface = "eth0"
local_address = "198.51.100.10"

[bgp]
advertise = ["10.10.0.0/16", "10.20.0.0/16"]

[[vpn]]
name = "prod"
aws_file = "vgw-bgp.xml"
)";

// `base` with `from` replaced by `to` must be refused at `line` with a message containing `says`.
void check_refused(const std::string& base, const std::string& from, const std::string& to,
                   int line, const std::string& says) {
    std::string text = base;
    REQUIRE(text.find(from) != std::string::npos);
    text.replace(text.find(from), from.size(), to);
    auto e = parse_daemon_config(text, "c.toml", "/tmp", LoadOptions{.check_permissions = false});
    REQUIRE_FALSE(e);
    CHECK(e.error().line == line);
    CHECK_THAT(e.error().message, Catch::Contains(says));
}

}  // namespace

TEST_CASE("a minimal TOML loads and imports its AWS file") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    auto path = dir.write("cgwd.toml", kMinimal, 0644);  // no inline secret: may be world-readable
    auto cfg = load_daemon_config(path);
    REQUIRE(cfg);
    CHECK(cfg->log_level == "debug");
    CHECK(cfg->dataplane == DataplaneMode::userspace);
    CHECK(cfg->outside_interface == "eth0");
    CHECK(cfg->outside_address->to_string() == "198.51.100.10");
    REQUIRE(cfg->advertise.size() == 2);
    CHECK(cfg->advertise[1].to_string() == "10.20.0.0/16");
    CHECK(*cfg->asn == 65010);  // taken from the AWS file
    REQUIRE(cfg->vpns.size() == 1);
    CHECK(cfg->vpns[0].aws_file == dir.path() + "/vgw-bgp.xml");  // relative to the TOML's folder
    REQUIRE(cfg->vpns[0].connections.size() == 1);
    CHECK(cfg->vpns[0].connections[0].id == "vpn-0a1b2c3d4e5f60718");
    CHECK(cfg->control_socket == "/run/cgwd/cgwd.sock");  // default
    CHECK_FALSE(cfg->force_encap);                        // default: UDP only behind a NAT
    CHECK(cfg->userspace_offloads);                       // default: on
}

TEST_CASE("[daemon] userspace_offloads is a boolean") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    std::string text = kMinimal;
    text.insert(text.find("dataplane"), "userspace_offloads = false\n");
    auto cfg = load_daemon_config(dir.write("cgwd.toml", text, 0644));
    REQUIRE(cfg);
    CHECK_FALSE(cfg->userspace_offloads);

    text = kMinimal;
    text.insert(text.find("dataplane"), "userspace_offloads = 1\n");
    auto bad = load_daemon_config(dir.write("cgwd.toml", text, 0644));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() ==
          dir.path() + "/cgwd.toml:4:22: [daemon] userspace_offloads: expected true or false");
}

TEST_CASE("[outside] force_encap is a boolean") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    std::string text = kMinimal;
    text.insert(text.find("local_address"), "force_encap = true\n");
    auto cfg = load_daemon_config(dir.write("cgwd.toml", text, 0644));
    REQUIRE(cfg);
    CHECK(cfg->force_encap);

    text = kMinimal;
    text.insert(text.find("local_address"), "force_encap = \"yes\"\n");
    auto bad = load_daemon_config(dir.write("cgwd.toml", text, 0644));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() ==
          dir.path() + "/cgwd.toml:8:15: [outside] force_encap: expected true or false");
}

TEST_CASE("unknown keys and tables are errors with line and column") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    std::string text = kMinimal;
    text.insert(text.find("dataplane"), "  log_levle = \"info\"\n");
    auto e = load_daemon_config(dir.write("cgwd.toml", text));
    REQUIRE_FALSE(e);
    CHECK(e.error().line == 4);
    CHECK(e.error().column == 3);
    CHECK(e.error().to_string() ==
          dir.path() + "/cgwd.toml:4:3: [daemon]: unknown key 'log_levle'");

    auto t = parse_daemon_config("[deamon]\nx = 1\n", "c.toml", dir.path());
    REQUIRE_FALSE(t);
    CHECK(t.error().to_string() == "c.toml:1:2: unknown table or key 'deamon'");

    auto v = parse_daemon_config("[[vpn]]\nname = \"a\"\naws_file = \"x\"\nsecret = 1\n", "c.toml",
                                 dir.path());
    REQUIRE_FALSE(v);
    CHECK(v.error().to_string() == "c.toml:4:1: [vpn]: unknown key 'secret'");
}

TEST_CASE("TOML syntax and type errors carry positions") {
    auto syntax = parse_daemon_config("[daemon]\nlog_level = \"info\n", "c.toml", "/tmp");
    REQUIRE_FALSE(syntax);
    CHECK(syntax.error().line == 2);

    auto type = parse_daemon_config("[daemon]\nroute_table = \"main\"\n", "c.toml", "/tmp");
    REQUIRE_FALSE(type);
    CHECK(type.error().to_string() == "c.toml:2:15: [daemon] route_table: expected an integer");

    auto mode = parse_daemon_config("[daemon]\ndataplane = \"dpdk\"\n", "c.toml", "/tmp");
    REQUIRE_FALSE(mode);
    CHECK_THAT(mode.error().message, Catch::Contains("expected kernel, userspace or auto"));

    auto prefix = parse_daemon_config("[bgp]\nadvertise = [\"10.10.0.1/16\"]\n", "c.toml", "/tmp");
    REQUIRE_FALSE(prefix);
    CHECK_THAT(prefix.error().message, Catch::Contains("did you mean 10.10.0.0/16"));
    CHECK(prefix.error().line == 2);
}

TEST_CASE("an error in the AWS file is reported with the AWS file's line") {
    TempDir dir;
    auto aws = dir.copy_fixture("bad-psk.txt");
    std::string text = kMinimal;
    text.replace(text.find("vgw-bgp.xml"), 11, "bad-psk.txt");
    auto e = load_daemon_config(dir.write("cgwd.toml", text));
    REQUIRE_FALSE(e);
    CHECK(e.error().file == aws);
    CHECK(e.error().line > 0);
    CHECK_THAT(e.error().message, Catch::Contains("must not start with '0'"));
}

TEST_CASE("files with secrets must not be readable by group or others") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml", 0644);
    auto toml = dir.write("cgwd.toml", kMinimal, 0644);
    auto e = load_daemon_config(toml);
    REQUIRE_FALSE(e);
    CHECK_THAT(e.error().message, Catch::Contains("mode 0644") && Catch::Contains("chmod 600"));
    CHECK(load_daemon_config(toml, LoadOptions{.check_permissions = false}));

    // An inline key makes the TOML itself secret.
    dir.copy_fixture("vgw-bgp.xml", 0600);
    std::string dx = std::string(kMinimal) +
                     "\n[[direct_connect]]\nname = \"dx1\"\ninterface = \"eth1\"\nvlan = 101\n"
                     "local_address = \"169.254.100.2/30\"\nneighbor = \"169.254.100.1\"\n"
                     "md5_key = \"Md5-Key-For-Tests\"\n";
    auto inline_key = load_daemon_config(dir.write("dx.toml", dx, 0640));
    REQUIRE_FALSE(inline_key);
    CHECK_THAT(inline_key.error().message,
               Catch::Contains("holds a key inline") && Catch::Contains("0640"));
    auto ok = load_daemon_config(dir.write("dx.toml", dx, 0600));
    REQUIRE(ok);
    const auto& d = ok->direct_connect.at(0);
    CHECK(d.vlan == 101);
    CHECK(d.local_address->to_string() == "169.254.100.2");
    CHECK(d.local_prefix_len == 30);
    CHECK(d.neighbor_asn == 64512);
    CHECK(d.local_asn == 65010);  // from the AWS file's customer ASN
    CHECK(d.md5_key.reveal() == "Md5-Key-For-Tests");
    CHECK(d.bfd_interval_ms == 300);
    CHECK(d.bfd_multiplier == 3);
    CHECK(d.hold_time == 90);

    // A key file must be private too.
    std::string with_file = dx;
    with_file.replace(with_file.find("md5_key = \"Md5-Key-For-Tests\""), 29,
                      "md5_key_file = \"dx1.key\"");
    dir.write("dx1.key", "Md5-Key-From-File\n", 0644);
    auto bad_key_file = load_daemon_config(dir.write("dx.toml", with_file, 0644));
    REQUIRE_FALSE(bad_key_file);
    CHECK(bad_key_file.error().file == dir.path() + "/dx1.key");
    dir.write("dx1.key", "Md5-Key-From-File\n", 0600);
    auto good = load_daemon_config(dir.write("dx.toml", with_file, 0644));
    REQUIRE(good);
    CHECK(good->direct_connect[0].md5_key.reveal() == "Md5-Key-From-File");
}

TEST_CASE("PSK overrides in the TOML are validated like AWS's") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    std::string text = std::string(kMinimal) + "tunnel2_psk = \"Override_Key.2\"\n";
    auto ok = load_daemon_config(dir.write("cgwd.toml", text));
    REQUIRE(ok);
    CHECK(ok->vpns[0].connections[0].tunnels[1].psk.reveal() == "Override_Key.2");
    CHECK(ok->vpns[0].connections[0].tunnels[0].psk.reveal() == "Xk3_9vTq.b7LmN2p");

    auto bad = load_daemon_config(
        dir.write("cgwd.toml", std::string(kMinimal) + "tunnel1_psk = \"has space\"\n"));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().line == 16);
    CHECK_THAT(bad.error().message, Catch::Contains("only letters, digits"));
}

TEST_CASE("cross checks: ASN mismatch, duplicate names and connections") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    dir.copy_fixture("two-connections.json");
    std::string asn = kMinimal;
    asn.insert(asn.find("advertise"), "asn = 65099\n");
    auto e = load_daemon_config(dir.write("cgwd.toml", asn));
    REQUIRE_FALSE(e);
    CHECK(e.error().line == 11);
    CHECK_THAT(e.error().message,
               Catch::Contains("65099 differs from the customer gateway ASN 65010"));

    auto dup = load_daemon_config(dir.write(
        "cgwd.toml", std::string(kMinimal) +
                         "\n[[vpn]]\nname = \"other\"\naws_file = \"two-connections.json\"\n"));
    REQUIRE_FALSE(dup);
    CHECK_THAT(dup.error().message, Catch::Contains("vpn-0a1b2c3d4e5f60718 is configured twice"));

    auto filtered = load_daemon_config(dir.write(
        "cgwd.toml", std::string(kMinimal) +
                         "\n[[vpn]]\nname = \"other\"\naws_file = \"two-connections.json\"\n"
                         "connections = [\"vpn-0d0d0d0d0d0d0d0d0\"]\n"));
    REQUIRE(filtered);
    REQUIRE(filtered->vpns[1].connections.size() == 1);
    CHECK(filtered->vpns[1].connections[0].gateway == GatewayKind::tgw);

    auto name =
        parse_daemon_config("[[vpn]]\nname = \"Prod_1\"\naws_file = \"x\"\n", "c.toml", "/tmp");
    REQUIRE_FALSE(name);
    CHECK_THAT(name.error().message, Catch::Contains("1-10 characters of a-z, 0-9 and '-'"));
}

TEST_CASE("the --check-config summary shows both ends of each tunnel and no secret") {
    TempDir dir;
    dir.copy_fixture("vgw-tunnel-options.json");
    std::string text = kMinimal;
    text.replace(text.find("vgw-bgp.xml"), 11, "vgw-tunnel-options.json");
    auto cfg = load_daemon_config(dir.write("cgwd.toml", text));
    REQUIRE(cfg);
    auto s = config_summary(*cfg);
    CHECK_THAT(s, Catch::Contains(
                      "connection vpn-0a1b2c3d4e5f60718: VGW vgw-0fedcba9876543210, routing BGP"));
    CHECK_THAT(s, Catch::Contains("outside   us 198.51.100.10  aws 203.0.113.12"));
    CHECK_THAT(s,
               Catch::Contains("inside    us 169.254.44.10  aws 169.254.44.9  (169.254.44.8/30)"));
    CHECK_THAT(s, Catch::Contains("bgp       us AS65010  aws AS64512"));
    CHECK_THAT(s, Catch::Contains("ike       AES-256-GCM-16/PRF-HMAC-SHA2-384/ECP-384"));
    CHECK_THAT(s, Catch::Contains("dataplane userspace"));
    CHECK_THAT(s, Catch::Contains("psk <redacted>"));
    CHECK_THAT(s, !Catch::Contains("Tt6_uV.w3Xy9Za1b") && !Catch::Contains("Xk3_9vTq.b7LmN2p"));
}

TEST_CASE("the starter TOML written for an AWS file passes validation as written") {
    TempDir dir;
    for (auto name : {"vgw-bgp-new.txt", "vgw-static.xml", "two-connections.json"}) {
        INFO(name);
        auto aws = dir.copy_fixture(name);
        auto conns = import_aws_file(aws);
        REQUIRE(conns);
        auto text = starter_toml(aws, "lab", *conns);
        auto cfg = parse_daemon_config(text, "starter.toml", dir.path());
        if (!cfg) FAIL(cfg.error().to_string());
        CHECK(cfg->vpns.at(0).connections.size() == conns->size());
        CHECK(cfg->vpns[0].name == "lab");
    }
}

TEST_CASE("every option is documented once") {
    const auto& docs = option_docs();
    for (std::size_t i = 0; i < docs.size(); ++i) {
        CHECK_FALSE(docs[i].doc.empty());
        for (std::size_t j = 0; j < i; ++j)
            CHECK_FALSE((docs[i].table == docs[j].table && docs[i].key == docs[j].key));
    }
}

TEST_CASE("[[vpn]] DPD tuning reaches every tunnel - AWS's values stay beside it") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    auto plain = load_daemon_config(dir.write("cgwd.toml", kMinimal, 0644));
    REQUIRE(plain);
    for (const auto& t : plain->vpns[0].connections[0].tunnels) {
        CHECK(t.local_dpd_interval_ms == 0);  // not set: the AWS file's DPD
        CHECK(t.local_dpd_retries == 0);
        CHECK(t.local_dpd_retransmit_ms == 0);
    }
    CHECK_THAT(config_summary(*plain), Catch::Contains("dpd 10 s x 3 (restart)"));

    std::string text = std::string(kMinimal) +
                       "dpd_interval_ms = 1000\ndpd_retries = 2\ndpd_retransmit_ms = 300\n";
    auto cfg = load_daemon_config(dir.write("cgwd.toml", text, 0644));
    REQUIRE(cfg);
    for (const auto& t : cfg->vpns[0].connections[0].tunnels) {
        CHECK(t.local_dpd_interval_ms == 1000);
        CHECK(t.local_dpd_retries == 2);
        CHECK(t.local_dpd_retransmit_ms == 300);
        CHECK(t.dpd_interval_s == 10);  // the AWS file's, unchanged
    }
    CHECK_THAT(config_summary(*cfg),
               Catch::Contains("dpd 1000 ms x 2 every 300 ms (AWS file: 10 s x 3) (restart)"));
    // A reload with other DPD settings counts as a change of the connection.
    CHECK_FALSE(plain->vpns[0].connections[0] == cfg->vpns[0].connections[0]);

    auto low = load_daemon_config(
        dir.write("cgwd.toml", std::string(kMinimal) + "dpd_interval_ms = 100\n", 0644));
    REQUIRE_FALSE(low);
    CHECK_THAT(
        low.error().to_string(),
        Catch::Contains(
            "cgwd.toml:16:19: [[vpn]] prod dpd_interval_ms: 100 is out of range 500..3600000"));
}

TEST_CASE("max_prefixes_in: AWS's figures by default, actions and restart time by key") {
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    auto plain = load_daemon_config(dir.write("cgwd.toml", kMinimal, 0644));
    REQUIRE(plain);
    CHECK(plain->vpns[0].max_prefixes_in.limit == 0);  // resolved per gateway kind by the daemon
    CHECK(plain->vpns[0].max_prefixes_in.action == MaxPrefixInAction::drop);
    CHECK_THAT(config_summary(*plain), Catch::Contains("bgp import limit 1000 prefixes, then drop, "
                                                       "graceful restart helper 120 s"));

    std::string text = std::string(kMinimal) +
                       "max_prefixes_in = 50\nmax_prefixes_in_action = \"reset\"\n"
                       "max_prefixes_in_restart = 30\n";
    auto cfg = load_daemon_config(dir.write("cgwd.toml", text, 0644));
    REQUIRE(cfg);
    CHECK(cfg->vpns[0].max_prefixes_in == MaxPrefixesIn{50, MaxPrefixInAction::reset, 30});
    CHECK_THAT(config_summary(*cfg),
               Catch::Contains("bgp import limit 50 prefixes, then reset (restart after 30 s)"));

    auto bad = load_daemon_config(dir.write(
        "cgwd.toml", std::string(kMinimal) + "max_prefixes_in_action = \"block\"\n", 0644));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().to_string() == dir.path() +
                                         "/cgwd.toml:16:26: [[vpn]] prod max_prefixes_in_action: "
                                         "expected warn, drop or reset");
}

TEST_CASE("[[direct_connect]] IPv6 peers: one session per family on a shared VLAN") {
    const std::string base = R"([bgp]
asn = 65010
advertise = ["10.10.0.0/16", "2001:db8:10::/48"]

[[direct_connect]]
name = "dx4"
interface = "eth1"
vlan = 101
local_address = "169.254.100.2/30"
neighbor = "169.254.100.1"
md5_key = "Md5-Key-For-Tests"

[[direct_connect]]
name = "dx6"
interface = "eth1"
vlan = 101
local_address = "2001:db8:1::2/125"
neighbor = "2001:db8:1::1"
md5_key = "Md5-Key-For-Six"
)";
    const LoadOptions no_perm{.check_permissions = false};
    auto ok = parse_daemon_config(base, "c.toml", "/tmp", no_perm);
    REQUIRE(ok);
    REQUIRE(ok->direct_connect.size() == 2);
    const auto& six = ok->direct_connect[1];
    CHECK(six.neighbor.is_v6());
    CHECK(six.neighbor.to_string() == "2001:db8:1::1");
    CHECK(six.local_address->to_string() == "2001:db8:1::2");
    CHECK(six.local_prefix_len == 125);
    CHECK_FALSE(ok->direct_connect[0].neighbor.is_v6());
    REQUIRE(ok->advertise.size() == 2);
    CHECK(ok->advertise[1].is_v6());
    CHECK(ok->advertise[1].to_string() == "2001:db8:10::/48");
    const auto summary = config_summary(*ok);
    CHECK_THAT(summary, Catch::Contains("2001:db8:1::2/125") &&
                            Catch::Contains("neighbor 2001:db8:1::1") &&
                            Catch::Contains("2001:db8:10::/48"));

    // Each refusal names the key and its line.
    auto refuse = [&](const std::string& from, const std::string& to, int line,
                      const std::string& says) { check_refused(base, from, to, line, says); };
    refuse("neighbor = \"2001:db8:1::1\"", "neighbor = \"169.254.100.5\"", 18, "of one family");
    refuse("neighbor = \"2001:db8:1::1\"", "neighbor = \"2001:db8:2::1\"", 18,

           "not in the local_address subnet");
    refuse("neighbor = \"2001:db8:1::1\"", "neighbor = \"fe80::1\"", 18, "link-local");
    refuse("neighbor = \"2001:db8:1::1\"", "neighbor = \"2001:db8:1::2\"", 18,
           "the same as local_address");
    refuse("\"2001:db8:1::2/125\"", "\"2001:db8:1::2/48\"", 17, "/64 to /127");
    refuse("\"2001:db8:1::2/125\"", "\"fe80::2/64\"", 17, "link-local");
    refuse("\"2001:db8:10::/48\"", "\"2001:db8:10::1/48\"", 3, "has host bits set");
    refuse("\"2001:db8:10::/48\"", "\"2001:db8:10::/129\"", 3, "not a prefix");
    refuse("md5_key = \"Md5-Key-For-Six\"", "md5_key = \"Md5-Key-For-Six\"\nmtu = 9001", 13,
           "shares its interface with dx4 but not its mtu");
}

TEST_CASE("per-peer BGP policy: as_path_prepend, med, accept_prefixes") {
    const std::string base = R"([bgp]
asn = 65010

[[direct_connect]]
name = "dx4"
interface = "eth1"
neighbor = "169.254.100.1"
md5_key = "Md5-Key-For-Tests"
as_path_prepend = 2
med = 50
accept_prefixes = ["10.0.0.0/16", "172.16.0.0/12 le 24"]
large_communities = ["65010:1:2", "4294967295:0:4294967295"]

[[direct_connect]]
name = "dx6"
interface = "eth1"
neighbor = "2001:db8:1::1"
md5_key = "Md5-Key-For-Six"
accept_prefixes = ["2001:db8:f000::/36 le 48"]
)";
    const LoadOptions no_perm{.check_permissions = false};
    auto ok = parse_daemon_config(base, "c.toml", "/tmp", no_perm);
    REQUIRE(ok);
    const auto& p = ok->direct_connect[0].policy;
    CHECK(p.as_path_prepend == 2);
    CHECK(p.med == 50u);
    REQUIRE(p.accept.size() == 2);
    CHECK(p.accept[0].prefix.to_string() == "10.0.0.0/16");
    CHECK(p.accept[0].le == 32);  // no "le": every longer prefix inside it
    CHECK(p.accept[0].to_string() == "10.0.0.0/16 le 32");
    CHECK(p.accept[1].le == 24);
    CHECK(p.accept[1].to_string() == "172.16.0.0/12 le 24");
    REQUIRE(p.large_communities.size() == 2);
    CHECK(p.large_communities[0] == std::array<std::uint32_t, 3>{65010, 1, 2});
    CHECK(p.large_communities[1] == std::array<std::uint32_t, 3>{4294967295u, 0, 4294967295u});
    const auto& six = ok->direct_connect[1].policy;
    CHECK(six.as_path_prepend == 0);
    CHECK_FALSE(six.med);
    REQUIRE(six.accept.size() == 1);
    CHECK(six.accept[0].le == 48);
    CHECK_THAT(config_summary(*ok),
               Catch::Contains("bgp policy: AS_PATH prepend 2, MED 50, large community "
                               "65010:1:2, large community 4294967295:0:4294967295, accepts only "
                               "10.0.0.0/16 le 32, 172.16.0.0/12 le 24") &&
                   Catch::Contains("bgp policy: accepts only 2001:db8:f000::/36 le 48"));

    auto refuse = [&](const std::string& from, const std::string& to, int line,
                      const std::string& says) { check_refused(base, from, to, line, says); };
    // A [[vpn]] entry takes the same keys (IPv4: the tunnels' sessions).
    TempDir dir;
    dir.copy_fixture("vgw-bgp.xml");
    auto vpn = load_daemon_config(
        dir.write("cgwd.toml", std::string(kMinimal) + "as_path_prepend = 1\naccept_prefixes = "
                                                       "[\"10.0.0.0/8 le 16\"]\n"));
    REQUIRE(vpn);
    CHECK(vpn->vpns[0].policy.as_path_prepend == 1);
    CHECK_THAT(config_summary(*vpn),
               Catch::Contains("bgp policy: AS_PATH prepend 1, accepts only 10.0.0.0/8 le 16"));

    refuse("as_path_prepend = 2", "as_path_prepend = 11", 9, "out of range 0..10");
    refuse("med = 50", "med = -1", 10, "out of range 0..4294967295");
    for (const char* bad : {"65010:1", "65010:1:2:3", "65010:1:4294967296", "a:1:2", "1::2"})
        refuse("\"65010:1:2\"", std::string("\"") + bad + "\"", 12, "is not a large community");
    refuse("\"172.16.0.0/12 le 24\"", "\"172.16.0.0/12 le 8\"", 11, "le must be from 12 to 32");
    refuse("\"172.16.0.0/12 le 24\"", "\"172.16.0.0/12 le x\"", 11,
           "expected PREFIX or PREFIX le N");
    refuse("\"10.0.0.0/16\"", "\"10.0.0.1/16\"", 11, "has host bits set");
    refuse("\"10.0.0.0/16\"", "\"2001:db8::/32\"", 11, "is IPv6 but the session is IPv4");
    refuse("\"2001:db8:f000::/36 le 48\"", "\"10.0.0.0/8\"", 19, "is IPv4 but the session is IPv6");
}

TEST_CASE("files over their size limit are refused, read no further than the limit") {
    TempDir dir;
    // The settings file: at most 1 MiB.
    const auto big = dir.write("cgwd.toml", "# " + std::string(1024 * 1024, 'x') + "\n");
    auto r = load_daemon_config(big);
    REQUIRE_FALSE(r);
    CHECK(r.error().file == big);
    CHECK(r.error().message == "file is larger than 1048576 bytes");

    // An AWS file that is a FIFO fed without end: refused after 4 MiB + 1 byte, the writer
    // stopped by EPIPE long before the 64 MiB it would write.
    const auto fifo = (fs::path(dir.path()) / "aws.xml").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::size_t written = 0;
    std::thread writer([&] {
        ::signal(SIGPIPE, SIG_IGN);
        int fd = ::open(fifo.c_str(), O_WRONLY);
        if (fd < 0) return;
        const std::string chunk(65536, '<');
        while (written < 64u * 1024 * 1024) {
            auto n = ::write(fd, chunk.data(), chunk.size());
            if (n <= 0) break;
            written += static_cast<std::size_t>(n);
        }
        ::close(fd);
    });
    auto aws = import_aws_file(fifo);
    writer.join();
    REQUIRE_FALSE(aws);
    CHECK(aws.error().message == "file is larger than 4 MiB");
    CHECK(written < 8u * 1024 * 1024);  // 4 MiB + 1 read, plus what the pipe held
}
