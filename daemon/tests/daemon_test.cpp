// Status document and its rendering (golden), monitoring check codes, and reload staging:
// a bad file changes nothing; a changed connection is told apart from an unchanged one.
#include <sys/stat.h>
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cgwd/daemon/daemon.hpp"
#include "cgwd/daemon/status.hpp"

using namespace cgwd;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(CGWD_SOURCE_DIR) + "/config/tests/fixtures/";

struct Lab {
    std::string dir;
    Lab() {
        char tmpl[] = "/tmp/cgwd-daemon-test-XXXXXX";
        dir = ::mkdtemp(tmpl);
        for (auto f : {"vgw-bgp.xml", "two-connections.json", "vgw-tunnel-options.json"}) {
            fs::copy_file(kFixtures + f, dir + "/" + f);
            ::chmod((dir + "/" + f).c_str(), 0600);
        }
    }
    ~Lab() { fs::remove_all(dir); }
    std::string write_toml(const std::string& aws_file, const std::string& extra = "") const {
        std::ofstream(dir + "/cgwd.toml")
            << "[daemon]\ncontrol_socket = \"" << dir << "/s.sock\"\n[[vpn]]\nname = \"lab\"\n"
            << "aws_file = \"" << aws_file << "\"\n"
            << extra;
        ::chmod((dir + "/cgwd.toml").c_str(), 0600);  // may hold a key inline
        return dir + "/cgwd.toml";
    }
};

config::DaemonConfig load(const std::string& path) {
    auto cfg = config::load_daemon_config(path);
    if (!cfg) FAIL(cfg.error().to_string());
    return *cfg;
}

}  // namespace

TEST_CASE("cgwctl status: golden text and JSON for a fixed state") {
    Lab lab;
    auto cfg = load(lab.write_toml("vgw-bgp.xml"));
    std::map<std::string, daemon::TunnelRuntime> rt{
        {"vpn-0a1b2c3d4e5f60718/1", {"up", ""}},
        {"vpn-0a1b2c3d4e5f60718/2", {"connecting", "IKE_SA_INIT sent"}}};
    auto doc = daemon::status_json(cfg, rt, "userspace");
    CHECK(doc["tunnels_up"] == 1);
    CHECK(doc["tunnels_total"] == 2);
    CHECK(doc["connections"][0]["tunnels"][1]["state"] == "connecting");
    CHECK(doc["connections"][0]["tunnels"][0]["bgp"]["remote_asn"] == 64512);
    CHECK(doc.dump().find("Xk3_9vTq") == std::string::npos);  // no PSK in the document

    const std::string golden =
        "cgwd: 1/2 tunnels up, dataplane userspace\n"
        "\n"
        "lab  vpn-0a1b2c3d4e5f60718  VGW, BGP\n"
        "  tunnel 1  up  198.51.100.10 -> 203.0.113.11  inside 169.254.11.2/30 -> 169.254.11.1  "
        "mtu 1436 mss 1379\n"
        "           bgp AS65010 -> AS64512  idle\n"
        "  tunnel 2  connecting  198.51.100.10 -> 203.0.113.12  inside 169.254.12.6/30 -> "
        "169.254.12.5  mtu 1436 mss "
        "1379\n"
        "           bgp AS65010 -> AS64512  idle\n"
        "           IKE_SA_INIT sent\n";
    CHECK(daemon::render_status(doc, false) == golden);
    auto colored = daemon::render_status(doc, true);
    CHECK(colored.find("\033[32mup\033[0m") != std::string::npos);
    CHECK(colored.find("\033[33mconnecting\033[0m") != std::string::npos);
}

// The whole screen for a busy state: IKE and CHILD SAs with counters, DPD, a rekey, BGP up,
// a Direct Connect peer with BFD and its MSS clamp, and which path each prefix takes. The
// document is status_json's for the configuration, with the engines' fields as the daemon
// merges them (Daemon::status). Both renderings are compared with files in daemon/tests/golden
// (CGWD_UPDATE_GOLDEN=1 rewrites them; review the diff).
TEST_CASE("cgwctl status: golden text and JSON for a busy state (SAs, DPD, BGP, DX, routes)") {
    Lab lab;
    auto cfg =
        load(lab.write_toml("vgw-bgp.xml",
                            "[[direct_connect]]\nname = \"dx1\"\ninterface = \"eth1\"\nvlan = 101\n"
                            "local_address = \"169.254.100.2/30\"\nneighbor = \"169.254.100.1\"\n"
                            "md5_key = \"Dx-Md5-Key-77\"\n"));
    const json ike{{"spi_i", "8a1f00c2d93e4b71"},
                   {"spi_r", "51c0ffee00ab12cd"},
                   {"algorithms", "AES-GCM-16-256/PRF-HMAC-SHA2-256/ECP-384"},
                   {"initiator", true},
                   {"udp_encapsulation", false},
                   {"age_s", 754},
                   {"ike_rekeys", 0},
                   {"child_rekeys", 1},
                   {"next_rekey_s", 27123},
                   {"next_child_rekey_s", 2712},
                   {"last_dpd_s", 4}};
    const json child{
        {"spi_in", "c1a2b3c4"}, {"spi_out", "0d0e0f10"},   {"algorithms", "AES-GCM-16-256"},
        {"age_s", 120},         {"bytes_in", 1234567},     {"packets_in", 2049},
        {"replay_drops", 2},    {"integrity_failures", 0}, {"bytes_out", 98765},
        {"packets_out", 1999}};
    daemon::TunnelRuntime t1{"up", "established"};  // not shown: it only repeats "up"
    t1.extra = {{"interface", "cgwd1"},
                {"nat_detected", false},
                {"local_outside", "198.51.100.10"},
                {"ike", ike},
                {"child_sas", json::array({child})},
                {"child_sa_installs", 2},
                {"last_rekey_s", 120}};
    t1.bgp = {{"local_asn", 65010},       {"remote_asn", 64512},
              {"state", "Established"},   {"flaps", 0},
              {"uptime_s", 750},          {"prefixes_received", 1},
              {"prefixes_advertised", 1}, {"prefixes_installed", 0},
              {"max_prefixes_in", 1000},  {"graceful_restart_time", 120}};
    daemon::TunnelRuntime t2{"connecting", "IKE_SA_INIT sent, no answer yet"};
    t2.extra = {{"interface", "cgwd2"},
                {"nat_detected", false},
                {"child_sas", json::array()},
                {"child_sa_installs", 0}};
    const json routes = json::array(
        {{{"prefix", "10.0.0.0/16"},
          {"path", "direct connect"},
          {"via", json::array({{{"next_hop", "169.254.100.1"}, {"tunnel", "dx:dx1"}}})}}});
    auto doc = daemon::status_json(
        cfg, {{"vpn-0a1b2c3d4e5f60718/1", t1}, {"vpn-0a1b2c3d4e5f60718/2", t2}}, "kernel", routes);
    doc["config_file"] = "/etc/cgwd/cgwd.toml";  // not the test's temporary directory
    doc["fib"] = {{"installed", 1}, {"errors", 0}, {"resyncs", 0}};
    auto& dx = doc["direct_connect"][0];
    dx["bgp"] = {{"local_asn", 65010},       {"remote_asn", 64512},
                 {"state", "Established"},   {"flaps", 0},
                 {"uptime_s", 740},          {"prefixes_received", 1},
                 {"prefixes_advertised", 1}, {"prefixes_installed", 1},
                 {"max_prefixes_in", 1000},  {"graceful_restart_time", 0}};
    dx["interface"] = "eth1.101";
    dx["mss_clamp"] = 1379;
    dx["bfd"] = "up";
    dx["bfd_detail"] = {{"state", "up"}, {"tx_interval_ms", 300}, {"detect_multiplier", 3}};

    const auto text = daemon::render_status(doc, false);
    const auto dumped = doc.dump(2) + "\n";
    CHECK(dumped.find("Dx-Md5-Key-77") == std::string::npos);
    CHECK(dumped.find("Xk3_9vTq") == std::string::npos);
    const std::string dir = std::string(CGWD_SOURCE_DIR) + "/daemon/tests/golden/";
    if (std::getenv("CGWD_UPDATE_GOLDEN")) {
        std::ofstream(dir + "status-busy.txt") << text;
        std::ofstream(dir + "status-busy.json") << dumped;
    }
    auto read = [](const std::string& path) {
        std::ifstream in(path);
        REQUIRE(in.good());
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    CHECK(text == read(dir + "status-busy.txt"));
    CHECK(dumped == read(dir + "status-busy.json"));
}

TEST_CASE("cgwctl check: OK, WARNING with a tunnel of each connection up, CRITICAL otherwise") {
    Lab lab;
    auto cfg = load(lab.write_toml("two-connections.json"));
    auto status = [&](std::map<std::string, daemon::TunnelRuntime> rt) {
        return daemon::check_summary(daemon::status_json(cfg, rt, "kernel"));
    };
    const std::string a = "vpn-0a1b2c3d4e5f60718/", b = "vpn-0d0d0d0d0d0d0d0d0/";
    CHECK(status({{a + "1", {"up", ""}},
                  {a + "2", {"up", ""}},
                  {b + "1", {"up", ""}},
                  {b + "2", {"up", ""}}}) ==
          std::pair<int, std::string>{0, "CGWD OK - 4/4 tunnels up"});
    CHECK(status({{a + "1", {"up", ""}}, {b + "2", {"up", ""}}}) ==
          std::pair<int, std::string>{1, "CGWD WARNING - 2/4 tunnels up"});
    CHECK(status({{a + "1", {"up", ""}}, {a + "2", {"up", ""}}}) ==
          std::pair<int, std::string>{2, "CGWD CRITICAL - 2/4 tunnels up"});
}

TEST_CASE(
    "reload: a bad file changes nothing - a changed connection is told from an unchanged one") {
    Lab lab;
    auto path = lab.write_toml("two-connections.json");
    boost::asio::io_context io;
    daemon::Daemon d(io, path, load(path));
    auto before = d.status();

    std::ofstream(path) << "[daemon]\nbogus = 1\n";
    auto bad = json::parse(d.commands().handle(R"({"command": "reload"})"));
    CHECK(bad["result"] == 1);
    CHECK_THAT(bad["text"].get<std::string>(),
               Catch::StartsWith("reload refused, nothing changed: " + path + ":2:1"));
    CHECK(d.status() == before);
    CHECK(d.config().vpns.at(0).connections.size() == 2);

    // Override tunnel 1's PSK of one connection only: that connection changes, the other not.
    lab.write_toml(
        "two-connections.json",
        "connections = [\"vpn-0a1b2c3d4e5f60718\"]\ntunnel1_psk = \"New_Key.for_tunnel1\"\n");
    auto r = d.reload();
    REQUIRE(r.result == daemon::ResultCode::success);
    CHECK(r.arguments["changed"] == json{"vpn-0a1b2c3d4e5f60718"});
    CHECK(r.arguments["removed"] == json{"vpn-0d0d0d0d0d0d0d0d0"});
    CHECK(r.arguments["unchanged"] == json::array());
    CHECK(r.text == "reloaded: 0 unchanged, 1 changed, 0 added, 1 removed");

    auto plan = daemon::plan_reload(d.config(), d.config());
    CHECK(plan.unchanged == std::vector<std::string>{"vpn-0a1b2c3d4e5f60718"});
    CHECK(plan.changed.empty());
}

TEST_CASE(
    "reload: [bgp] advertise is applied - [[direct_connect]] is reported as not applied, and "
    "kept") {
    Lab lab;
    auto path = lab.write_toml("vgw-bgp.xml");
    boost::asio::io_context io;
    daemon::Daemon d(io, path, load(path));
    REQUIRE(d.config().advertise.empty());

    lab.write_toml("vgw-bgp.xml",
                   "[bgp]\nadvertise = [\"10.10.0.0/16\", \"2001:db8:10::/48\"]\n"
                   "[[direct_connect]]\nname = \"dx6\"\ninterface = \"eth1\"\n"
                   "neighbor = \"2001:db8:1::1\"\nmd5_key = \"Md5-Key-For-Tests\"\n");
    auto r = d.reload();
    REQUIRE(r.result == daemon::ResultCode::success);
    CHECK(r.arguments["advertised"] == json{"10.10.0.0/16", "2001:db8:10::/48"});
    CHECK(r.arguments["withdrawn"] == json::array());
    CHECK(r.arguments["not_applied"] == json{"[[direct_connect]]"});
    CHECK(r.arguments["unchanged"] == json{"vpn-0a1b2c3d4e5f60718"});
    CHECK(r.text ==
          "reloaded: 1 unchanged, 0 changed, 0 added, 0 removed; [bgp] advertise: 2 announced, 0 "
          "withdrawn; changed but not applied until cgwd restarts: [[direct_connect]]");
    // advertise took effect; the Direct Connect list keeps its running value (read at start).
    CHECK(d.config().advertise.size() == 2);
    CHECK(d.config().direct_connect.empty());

    // One prefix dropped, one added.
    lab.write_toml("vgw-bgp.xml", "[bgp]\nadvertise = [\"10.10.0.0/16\", \"10.20.0.0/16\"]\n");
    auto swap = d.reload();
    CHECK(swap.arguments["advertised"] == json{"10.20.0.0/16"});
    CHECK(swap.arguments["withdrawn"] == json{"2001:db8:10::/48"});
    CHECK(swap.arguments["not_applied"] == json::array());
    CHECK(swap.text ==
          "reloaded: 1 unchanged, 0 changed, 0 added, 0 removed; [bgp] advertise: 1 announced, 1 "
          "withdrawn");

    // A new router ID keeps all of [bgp], the advertise list with it, as the reply says.
    lab.write_toml("vgw-bgp.xml",
                   "[bgp]\nrouter_id = \"10.255.0.1\"\nadvertise = [\"10.30.0.0/16\"]\n");
    auto asn = d.reload();
    CHECK(asn.arguments["not_applied"] == json{"[bgp]"});
    CHECK(asn.arguments["advertised"] == json::array());
    CHECK(asn.text ==
          "reloaded: 1 unchanged, 0 changed, 0 added, 0 removed; changed but not applied until "
          "cgwd restarts: [bgp]");
    CHECK(d.config().advertise ==
          std::vector<config::IpPrefix>{*config::IpPrefix::parse("10.10.0.0/16"),
                                        *config::IpPrefix::parse("10.20.0.0/16")});

    // Reloading the same file again: still reported, since the running values still differ.
    auto again_plan = daemon::plan_reload(d.config(), load(path));
    CHECK(again_plan.bgp_kept);
    CHECK(again_plan.advertised.empty());
    CHECK(again_plan.withdrawn.empty());
    auto again = d.reload();
    CHECK(again.arguments["not_applied"] == json{"[bgp]"});
    // Back to the running settings: nothing left unapplied.
    lab.write_toml("vgw-bgp.xml", "[bgp]\nadvertise = [\"10.10.0.0/16\", \"10.20.0.0/16\"]\n");
    auto back = d.reload();
    CHECK(back.arguments["not_applied"] == json::array());
    CHECK(back.text == "reloaded: 1 unchanged, 0 changed, 0 added, 0 removed");
    CHECK_FALSE(daemon::plan_reload(d.config(), load(path)).bgp_kept);
}

TEST_CASE("control commands: log-level validates its arguments, version answers") {
    Lab lab;
    auto path = lab.write_toml("vgw-bgp.xml");
    boost::asio::io_context io;
    daemon::Daemon d(io, path, load(path));
    auto ok = json::parse(d.commands().handle(
        R"({"command": "log-level", "arguments": {"component": "ike", "level": "debug"}})"));
    CHECK(ok["result"] == 0);
    auto bad = json::parse(d.commands().handle(
        R"({"command": "log-level", "arguments": {"component": "ike", "level": "loud"}})"));
    CHECK(bad["result"] == 1);
    auto v = json::parse(d.commands().handle(R"({"command": "version"})"));
    CHECK(v["arguments"]["version"] == CGWD_VERSION);
}

TEST_CASE("cgwctl status renders Direct Connect peers before and after their session runs") {
    json doc{{"tunnels_up", 0},
             {"tunnels_total", 0},
             {"dataplane", "kernel"},
             {"connections", json::array()},
             {"direct_connect", json::array({{{"name", "dx1"},
                                              {"neighbor", "192.168.100.1"},
                                              {"remote_asn", 64512},
                                              {"bgp", "idle"},
                                              {"bfd", "down"}},
                                             {{"name", "dx2"},
                                              {"neighbor", "192.168.101.1"},
                                              {"remote_asn", 64512},
                                              {"interface", "eth1.101"},
                                              {"bgp",
                                               {{"state", "Established"},
                                                {"prefixes_received", 3},
                                                {"prefixes_installed", 3},
                                                {"prefixes_advertised", 1}}},
                                              {"bfd", "up"}}})}};
    auto text = daemon::render_status(doc, false);
    CHECK(text.find("direct connect dx1  neighbor 192.168.100.1 AS64512  bgp idle  bfd down\n") !=
          std::string::npos);
    CHECK(text.find("direct connect dx2  neighbor 192.168.101.1 AS64512 on eth1.101  bgp "
                    "Established  bfd up  3 received, 3 installed, 1 advertised\n") !=
          std::string::npos);
}

TEST_CASE("cgwctl status: the inbound prefix limit at work, FIB errors and resyncs") {
    json bgp{{"state", "Established"},    {"prefixes_received", 100},
             {"prefixes_installed", 100}, {"prefixes_advertised", 1},
             {"max_prefixes_in", 100},    {"prefixes_dropped_over_limit", 20},
             {"max_prefix_resets", 0}};
    json doc{{"tunnels_up", 0},
             {"tunnels_total", 0},
             {"dataplane", "kernel"},
             {"connections", json::array()},
             {"fib", {{"installed", 100}, {"errors", 2}, {"resyncs", 1}}},
             {"routes", json::array({{{"prefix", "10.200.0.0/24"},
                                      {"path", "direct connect"},
                                      {"via", json::array({{{"next_hop", "192.168.101.1"},
                                                            {"tunnel", "dx:big"}}})}}})},
             {"direct_connect", json::array({{{"name", "big"},
                                              {"neighbor", "192.168.101.1"},
                                              {"remote_asn", 64512},
                                              {"bgp", bgp},
                                              {"bfd", "off"}}})}};
    auto text = daemon::render_status(doc, false);
    CAPTURE(text);
    CHECK(text.find("100 received, 100 installed, 1 advertised, 20 dropped over the limit of "
                    "100\n") != std::string::npos);
    CHECK(text.find("(kernel refused 2 route changes; routes re-read after lost "
                    "acknowledgements 1 times)") != std::string::npos);
    doc["direct_connect"][0]["bgp"]["max_prefix_resets"] = 3;
    doc["direct_connect"][0]["bgp"]["prefixes_dropped_over_limit"] = 0;
    text = daemon::render_status(doc, false);
    CHECK(text.find("1 advertised, reset 3 times for more than 100 prefixes\n") !=
          std::string::npos);
}

TEST_CASE("cgwctl status: a long route list is counted by path and cut to 20 lines") {
    Lab lab;
    auto cfg = load(lab.write_toml("vgw-bgp.xml"));
    json routes = json::array();
    for (int i = 0; i < 25; ++i)
        routes.push_back({{"prefix", "10." + std::to_string(i) + ".0.0/16"},
                          {"path", i < 5 ? "direct connect" : "vpn"},
                          {"via", json::array({{{"next_hop", "169.254.11.1"},
                                                {"tunnel", "vpn-0a1b2c3d4e5f60718/1"}}})}});
    const auto text = daemon::render_status(daemon::status_json(cfg, {}, "kernel", routes), false);
    CHECK(text.find("\nroutes  25 installed (5 via direct connect, 20 via vpn); the first 20 "
                    "below, all with `cgwctl routes`\n") != std::string::npos);
    CHECK(text.find("  10.19.0.0/16  vpn via") != std::string::npos);
    CHECK(text.find("10.20.0.0/16") == std::string::npos);
    // 20 or fewer: listed without the count.
    routes.erase(routes.begin() + 20, routes.end());
    const auto short_text =
        daemon::render_status(daemon::status_json(cfg, {}, "kernel", routes), false);
    CHECK(short_text.find("\nroutes\n  10.0.0.0/16  direct connect via") != std::string::npos);
    CHECK(short_text.find("10.19.0.0/16") != std::string::npos);
}
