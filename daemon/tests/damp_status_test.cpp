// cgwctl status shows a BGP peer being damped (RFC 4271 section 8.1.1 idle hold).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cgwd/daemon/status.hpp"

using nlohmann::json;
using namespace cgwd;

namespace {

json doc_with_bgp(json bgp) {
    return json{
        {"tunnels_up", 1},
        {"tunnels_total", 1},
        {"dataplane", "userspace"},
        {"connections", json::array({{{"name", "lab"},
                                      {"id", "vpn-0a"},
                                      {"gateway", "vgw"},
                                      {"routing", "bgp"},
                                      {"tunnels", json::array({{{"number", 2},
                                                                {"state", "up"},
                                                                {"local_outside", "198.51.100.2"},
                                                                {"remote_outside", "203.0.113.14"},
                                                                {"local_inside", "169.254.22.6/30"},
                                                                {"remote_inside", "169.254.22.5"},
                                                                {"mtu", 1399},
                                                                {"mss", 1359},
                                                                {"bgp", std::move(bgp)}}})}}})},
        {"direct_connect", json::array()}};
}

}  // namespace

TEST_CASE("cgwctl status: a damped BGP peer shows its failures and the next attempt") {
    auto text = daemon::render_status(doc_with_bgp({{"local_asn", 65010},
                                                    {"remote_asn", 64512},
                                                    {"state", "Idle"},
                                                    {"consecutive_failures", 4},
                                                    {"idle_hold_s", 8.0},
                                                    {"next_attempt_in_s", 6.2},
                                                    {"prefixes_received", 0},
                                                    {"prefixes_installed", 0},
                                                    {"prefixes_advertised", 0}}),
                                      false);
    CHECK(text.find("bgp AS65010 -> AS64512  Idle  0 received, 0 installed, 0 advertised  "
                    "damped: 4 failures in a row, next attempt in 7 s\n") != std::string::npos);
    // Not damped (Established, a count left from earlier): nothing about it.
    auto up = daemon::render_status(doc_with_bgp({{"local_asn", 65010},
                                                  {"remote_asn", 64512},
                                                  {"state", "Established"},
                                                  {"consecutive_failures", 1},
                                                  {"uptime_s", 12}}),
                                    false);
    CHECK(up.find("bgp AS65010 -> AS64512  Established, up 12 s\n") != std::string::npos);
    CHECK(up.find("damped") == std::string::npos);
}
