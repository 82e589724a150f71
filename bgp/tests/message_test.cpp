// Header, KEEPALIVE, NOTIFICATION (incl. RFC 9003) and ROUTE-REFRESH. Expected octets are
// hand-assembled from the packet diagrams of the cited RFC sections.
#include <catch2/catch.hpp>

#include "cgwd/bgp/message.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

TEST_CASE("KEEPALIVE is a bare 19-octet header", "[bgp][message]") {
    // RFC 4271 section 4.4: header only, Length 19, Type 4.
    CHECK(encode_keepalive() == hex("ffffffffffffffffffffffffffffffff 0013 04"));
}

TEST_CASE("NOTIFICATION Hold Timer Expired encodes as 4/0", "[bgp][message]") {
    // RFC 4271 section 4.5: code 4, subcode 0, no data; Length 21.
    const auto n = Notification::make(ErrorCode::HoldTimerExpired, 0);
    CHECK(encode_notification(n) == hex("ffffffffffffffffffffffffffffffff 0015 03 04 00"));
}

TEST_CASE("NOTIFICATION decode keeps code, subcode and data", "[bgp][message]") {
    auto n = decode_notification(hex("03 0b 40 02 00"));
    REQUIRE(n.has_value());
    CHECK(n->code == 3);
    CHECK(n->subcode == update_error::kMalformedAsPath);
    CHECK(n->data == hex("40 02 00"));
    CHECK_FALSE(decode_notification(hex("06")).has_value());
}

TEST_CASE("RFC 9003 shutdown communication round trip", "[bgp][message][rfc9003]") {
    const auto n = make_shutdown_notification(cease::kAdministrativeShutdown, "maintenance");
    // RFC 9003 section 2: Cease (6), subcode 2, length octet 11, then the UTF-8 text.
    CHECK(encode_notification(n) ==
          hex("ffffffffffffffffffffffffffffffff 0021 03 06 02 0b 6d61696e74656e616e6365"));
    CHECK(shutdown_communication(n) == std::optional<std::string>("maintenance"));

    const auto reset = make_shutdown_notification(cease::kAdministrativeReset, "re-key");
    CHECK(shutdown_communication(reset) == std::optional<std::string>("re-key"));
}

TEST_CASE("RFC 9003 communication longer than 255 octets is cut on a character boundary",
          "[bgp][message][rfc9003]") {
    std::string text;
    for (int i = 0; i < 200; ++i) text += "\xc3\xa9";  // U+00E9, two octets each
    const auto n = make_shutdown_notification(cease::kAdministrativeShutdown, text);
    REQUIRE(n.data.size() == 1 + 254);  // 127 whole characters; 255 would split one
    CHECK(n.data[0] == 254);
    auto got = shutdown_communication(n);
    REQUIRE(got.has_value());
    CHECK(got->size() == 254);
}

TEST_CASE("RFC 9003 malformed communications are not used", "[bgp][message][rfc9003]") {
    // Length overruns the data.
    CHECK_FALSE(shutdown_communication(Notification{6, 2, hex("05 41 42")}).has_value());
    // Invalid UTF-8 (lone continuation octet, overlong encoding of '/').
    CHECK_FALSE(shutdown_communication(Notification{6, 2, hex("01 80")}).has_value());
    CHECK_FALSE(shutdown_communication(Notification{6, 4, hex("02 c0 af")}).has_value());
    // Only Cease subcodes 2 and 4 carry a communication.
    CHECK_FALSE(shutdown_communication(Notification{6, 3, hex("01 41")}).has_value());
    CHECK_FALSE(shutdown_communication(Notification{3, 2, hex("01 41")}).has_value());
    // No communication (length 0).
    CHECK_FALSE(shutdown_communication(Notification{6, 2, hex("00")}).has_value());
}

TEST_CASE("ROUTE-REFRESH encode and decode", "[bgp][message][rfc2918]") {
    // RFC 2918 section 3: AFI 2 (IPv6), reserved 0, SAFI 1; Length 23, Type 5.
    CHECK(encode_route_refresh(RouteRefresh{2, 0, 1}) ==
          hex("ffffffffffffffffffffffffffffffff 0017 05 0002 00 01"));
    auto rr = decode_route_refresh(hex("0001 00 01"));
    REQUIRE(rr.has_value());
    CHECK(*rr == RouteRefresh{1, 0, 1});
    auto bad = decode_route_refresh(hex("0001 00"));
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == 1);
    CHECK(bad.error().subcode == header_error::kBadMessageLength);
}
