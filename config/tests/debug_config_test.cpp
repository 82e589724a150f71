// The [debug] table: wireshark_keys (Wireshark key export, ike/include/cgwd/ike/keylog.hpp) is
// off by default, takes an absolute directory, and is documented with the other keys.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "cgwd/config/daemon_config.hpp"

using namespace cgwd::config;

namespace {

std::string with_vpn(const std::string& head) {
    return head + "\n[[vpn]]\nname = \"prod\"\naws_file = \"vgw-bgp.xml\"\n";
}

}  // namespace

TEST_CASE("[debug] wireshark_keys: off by default, an absolute directory when set") {
    const std::string fixtures = CGWD_TEST_DATA;
    const LoadOptions no_perm{false};
    auto off = parse_daemon_config(with_vpn("[daemon]\nlog_level = \"info\"\n"), "c.toml", fixtures,
                                   no_perm);
    if (!off) FAIL(off.error().to_string());
    CHECK(off->wireshark_keys.empty());

    auto on = parse_daemon_config(with_vpn("[debug]\nwireshark_keys = \"/var/tmp/cgwd-keys\"\n"),
                                  "c.toml", fixtures, no_perm);
    if (!on) FAIL(on.error().to_string());
    CHECK(on->wireshark_keys == "/var/tmp/cgwd-keys");
    // `cgwd --check-config` says so; without the key it says nothing about it.
    CHECK_THAT(config_summary(*on),
               Catch::Contains("WARNING (debug): the keys of every SA will be written to "
                               "/var/tmp/cgwd-keys/ikev2_decryption_table and esp_sa"));
    CHECK_THAT(config_summary(*off), !Catch::Contains("wireshark"));

    auto empty = parse_daemon_config(with_vpn("[debug]\nwireshark_keys = \"\"\n"), "c.toml",
                                     fixtures, no_perm);
    REQUIRE(empty);
    CHECK(empty->wireshark_keys.empty());

    auto relative = parse_daemon_config(with_vpn("[debug]\nwireshark_keys = \"keys\"\n"), "c.toml",
                                        fixtures, no_perm);
    REQUIRE_FALSE(relative);
    CHECK(relative.error().to_string() ==
          "c.toml:2:18: [debug] wireshark_keys: must be an absolute path (or empty: off)");

    auto typo = parse_daemon_config(with_vpn("[debug]\nwireshark_key = \"/tmp\"\n"), "c.toml",
                                    fixtures, no_perm);
    REQUIRE_FALSE(typo);
    CHECK(typo.error().to_string() == "c.toml:2:1: [debug]: unknown key 'wireshark_key'");
}

TEST_CASE("[debug] wireshark_keys is documented as a debug option") {
    const auto& docs = option_docs();
    const auto it = std::find_if(docs.begin(), docs.end(), [](const OptionDoc& d) {
        return d.table == "debug" && d.key == "wireshark_keys";
    });
    REQUIRE(it != docs.end());
    CHECK(it->default_value == "\"\"");
    CHECK_THAT(std::string(it->doc), Catch::StartsWith("DEBUG ONLY"));
}
